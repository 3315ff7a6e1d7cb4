package attach

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ListenOptions configure Listen.
type ListenOptions struct {
	// Group, when set, may attach too: the socket becomes 0660 with this
	// group, and peers in it pass the credential check. Empty: owner only.
	Group string
}

// Listener is the owner's socket with its access rule.
type Listener struct {
	*net.UnixListener
	path  string
	uid   uint32
	gid   int // -1: no group
	group string
}

// maxSockPath is sun_path's size on Linux, less the NUL.
const maxSockPath = 107

// Listen creates the socket at path. It is bound in a fresh 0700 directory,
// given its final mode and group there, and renamed into place, so it is
// never reachable with looser permissions. A socket left by a dead owner is
// replaced; one that still answers is an error.
func Listen(path string, opt ListenOptions) (*Listener, error) {
	l := &Listener{path: path, uid: uint32(os.Geteuid()), gid: -1, group: opt.Group}
	mode := os.FileMode(0o600)
	if opt.Group != "" {
		g, err := user.LookupGroup(opt.Group)
		if err != nil {
			return nil, fmt.Errorf("control socket group %q: %w", opt.Group, err)
		}
		gid, err := strconv.Atoi(g.Gid)
		if err != nil {
			return nil, fmt.Errorf("control socket group %q: gid %q", opt.Group, g.Gid)
		}
		l.gid, mode = gid, 0o660
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another owner answers on it", path)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".cutover-sock-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	if len(tmp) > maxSockPath || len(path) > maxSockPath {
		return nil, fmt.Errorf("control socket %s: path longer than %d bytes (a unix socket limit); move the database to a shorter path", path, maxSockPath)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The file is renamed away from the bound name: Close must not unlink
	// by that name, we remove the final path ourselves.
	ul.SetUnlinkOnClose(false)
	fail := func(err error) (*Listener, error) {
		ul.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if l.gid >= 0 {
		if err := os.Chown(tmp, -1, l.gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	l.UnixListener = ul
	return l, nil
}

// Path is the socket's path.
func (l *Listener) Path() string { return l.path }

// Close stops listening and removes the socket file.
func (l *Listener) Close() error {
	err := l.UnixListener.Close()
	if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	return err
}

// GroupWarning says when the group cannot reach the socket because its
// directory is not searchable by the group, or "" when it can.
func (l *Listener) GroupWarning() string {
	if l.gid < 0 {
		return ""
	}
	fi, err := os.Stat(filepath.Dir(l.path))
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if fi.Mode().Perm()&0o001 != 0 || (fi.Mode().Perm()&0o010 != 0 && int(st.Gid) == l.gid) {
		return ""
	}
	return fmt.Sprintf("control socket group %s cannot reach %s: its directory %s is not searchable by the group (chmod g+x, or o+x)", l.group, l.path, filepath.Dir(l.path))
}

// peerOf reads the kernel's credentials of the process on the other end.
func peerOf(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	p := Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid, User: strconv.FormatUint(uint64(cred.Uid), 10)}
	if u, err := user.LookupId(p.User); err == nil {
		p.User = u.Username
	}
	return p, nil
}

// allowed is the owner-side check behind the file mode: the owner's uid,
// root, or (with a group) a member of it.
func (l *Listener) allowed(p Peer) bool {
	if p.UID == l.uid || p.UID == 0 {
		return true
	}
	if l.gid < 0 {
		return false
	}
	if int(p.GID) == l.gid {
		return true
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(p.UID), 10))
	if err != nil {
		return false
	}
	gids, err := u.GroupIds()
	return err == nil && slices.Contains(gids, strconv.Itoa(l.gid))
}
