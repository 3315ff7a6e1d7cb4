//go:build realmta

// Package realmtatest holds what the real-MTA tests of ingest/realmta and
// mtactl share: where scripts/real-mta.sh installs Exim, the skip-or-fail
// check, run directories, and starting daemons and waiting for their ports.
package realmtatest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Paths set up by scripts/real-mta.sh install (keep in sync with it).
var (
	Dir     = envOr("CUTOVER_REALMTA_DIR", "/opt/cutover-realmta")
	EximBin = Dir + "/exim-root/usr/sbin/exim4"
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// Require skips the test when the real MTAs cannot run here — not root, one
// of files missing, or a check failing (checks run only once the rest is
// there: they may set things up) — except under CI=true, where a missing
// install is a failure, not a skip.
func Require(t *testing.T, files []string, checks ...func() error) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (Postfix and Exim instances are started as root)")
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	for _, c := range checks {
		if len(missing) > 0 {
			break
		}
		if err := c(); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "real MTAs not available (run `sudo bash scripts/real-mta.sh install`); missing: " + strings.Join(missing, ", ")
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// NewBase makes the directory for one run, named after prefix. Postfix and
// Exim daemons drop root, so it must be traversable by others (t.TempDir
// is 0700). It is kept when the test fails or CUTOVER_REALMTA_KEEP is set.
func NewBase(t *testing.T, prefix string) string {
	t.Helper()
	base, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CUTOVER_REALMTA_KEEP") != "" {
			t.Logf("kept %s for inspection", base)
			return
		}
		os.RemoveAll(base)
	})
	return base
}

// FreePort is a loopback TCP port nothing listens on now.
func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Run runs a command to its end and returns its output; failing fails t.
func Run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// RunStart runs a command that leaves a daemon behind. Its output goes to
// a file, not a pipe: CombinedOutput would wait until the daemon, which
// inherits the pipe, closes it.
func RunStart(t *testing.T, outFile, name string, args ...string) error {
	t.Helper()
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(outFile)
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// WaitPort waits until addr accepts connections; not within the time fails
// t.
func WaitPort(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %s: %v", addr, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
