//go:build sshfs

// Package sshfstest runs a real OpenSSH sshd on 127.0.0.1 with a throw-away
// key and mounts the directory it serves with `sshfs -o reconnect`, for the
// tests that follow logs through a real sshfs mount (build tag sshfs). It
// needs root, /dev/fuse, sshd, sshfs, fusermount3 and pgrep
// (scripts/ci-deps.sh installs them); under CI=true their absence fails the
// test instead of skipping it. Ports come from 22100-22199.
package sshfstest

import (
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Mount is a served directory and its mount.
type Mount struct {
	t      testing.TB
	tmp    string // keys, config, pid file
	Remote string // the directory sshd serves (where the MTA writes)
	Mnt    string // its sshfs mount (where the follower reads)
	port   int
	opts   string // sshfs -o options besides the key's
}

// Require skips t (fails it under CI=true) when a real sshfs mount cannot
// be made here.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, f := range []string{"/usr/sbin/sshd", "/dev/fuse"} {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	for _, c := range []string{"sshfs", "fusermount3", "ssh-keygen", "pgrep"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "sshfs test needs (bash scripts/ci-deps.sh): " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// port picks a free port in 22100-22199 (the range this test owns).
func port(t testing.TB) int {
	t.Helper()
	start := 22100 + rand.Intn(100)
	for i := range 100 {
		p := 22100 + (start-22100+i)%100
		ln, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free port in 22100-22199")
	return 0
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// New starts sshd on a free port and mounts the directory it serves
// (m.Remote) at m.Mnt with the sshfs -o options opts; both are stopped and
// removed when t ends (kept when it failed).
func New(t testing.TB, opts string) *Mount {
	t.Helper()
	Require(t)
	tmp, err := os.MkdirTemp("", "h11-sshfs-")
	if err != nil {
		t.Fatal(err)
	}
	m := &Mount{t: t, tmp: tmp, Remote: filepath.Join(tmp, "logs"), Mnt: filepath.Join(tmp, "mnt"), port: port(t), opts: opts}
	for _, d := range []string{m.Remote, m.Mnt, "/run/sshd"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(tmp, "host"))
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(tmp, "user"))
	pub, err := os.ReadFile(filepath.Join(tmp, "user.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ak"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host
AuthorizedKeysFile %s/ak
PasswordAuthentication no
PermitRootLogin prohibit-password
StrictModes no
Subsystem sftp internal-sftp
PidFile %s/sshd.pid
`, m.port, tmp, tmp, tmp)
	if err := os.WriteFile(filepath.Join(tmp, "sshd_config"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Unmount()
		m.StopSSHD()
		if t.Failed() || os.Getenv("CUTOVER_SSHFS_KEEP") != "" {
			t.Logf("kept %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	})
	m.StartSSHD()
	m.Mount()
	return m
}

// StartSSHD starts sshd (again).
func (m *Mount) StartSSHD() {
	m.t.Helper()
	os.Remove(filepath.Join(m.tmp, "sshd.pid"))
	run(m.t, "/usr/sbin/sshd", "-f", filepath.Join(m.tmp, "sshd_config"), "-E", filepath.Join(m.tmp, "sshd.log"))
	for range 100 {
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", m.port))
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatal("sshd did not listen")
}

// StopSSHD kills the listening sshd and the session processes serving the
// mount (their pids are the listener's children), like a server going away.
func (m *Mount) StopSSHD() {
	b, err := os.ReadFile(filepath.Join(m.tmp, "sshd.pid"))
	if err != nil {
		return
	}
	pid := strings.TrimSpace(string(b))
	kids, _ := exec.Command("pgrep", "-P", pid).Output()
	exec.Command("kill", pid).Run()
	for _, k := range strings.Fields(string(kids)) {
		exec.Command("kill", k).Run()
	}
	os.Remove(filepath.Join(m.tmp, "sshd.pid"))
}

// Mount mounts m.Remote at m.Mnt (again).
func (m *Mount) Mount() {
	m.t.Helper()
	opts := "IdentityFile=" + filepath.Join(m.tmp, "user") + ",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null," + m.opts
	run(m.t, "sshfs", "-p", fmt.Sprint(m.port), "-o", opts, "root@127.0.0.1:"+m.Remote, m.Mnt)
}

// Unmount unmounts lazily (open files stay readable until closed).
func (m *Mount) Unmount() {
	exec.Command("fusermount3", "-u", "-z", m.Mnt).Run()
}
