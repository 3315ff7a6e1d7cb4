package mtactl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// LockFileName is created next to a driver's managed files for the duration
// of an apply. The bbolt lock already keeps two processes on one database
// apart; this file also keeps apart two cutover processes with different
// databases (two operators, two machines on an sshfs mount) that manage the
// same MTA files. It is created with O_EXCL, which works on local disks, NFS
// and SFTP alike, unlike flock.
const LockFileName = ".cutover.lock"

// LockOwner is what the lock file records about its holder.
type LockOwner struct {
	PID     int       `json:"pid"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	Command string    `json:"command,omitempty"`
	Since   time.Time `json:"since"`
}

// ErrLocked matches LockedError with errors.Is.
var ErrLocked = errors.New("mtactl: managed files are locked by another cutover process")

// LockedError names who holds a lock file.
type LockedError struct {
	Path  string
	Owner *LockOwner // nil when the file is unreadable
}

func (e *LockedError) Error() string {
	if e.Owner == nil {
		return fmt.Sprintf("%s exists: another cutover process is changing these MTA files (remove the file only if none is running)", e.Path)
	}
	o := e.Owner
	return fmt.Sprintf("%s: another cutover process is changing these MTA files: pid %d, user %s on %s, since %s (remove the file only if that process is gone)",
		e.Path, o.PID, o.User, o.Host, o.Since.UTC().Format(time.RFC3339))
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// acquireLock creates path exclusively. A lock left by a dead process on this
// host is taken over; one from another host is never guessed stale.
func acquireLock(path string, who Who) (release func(), err error) {
	owner := LockOwner{PID: os.Getpid(), User: who.User, Host: who.Host, Command: who.Command, Since: time.Now().UTC()}
	data, _ := json.Marshal(owner)
	data = append(data, '\n')
	for attempt := 0; attempt < 2; attempt++ {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.Write(data)
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(path)
				return nil, errors.Join(werr, cerr)
			}
			return func() {
				// Only remove our own lock (never one taken over after us).
				if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
					os.Remove(path)
				}
			}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		b, rerr := os.ReadFile(path)
		var o LockOwner
		if rerr != nil || json.Unmarshal(bytes.TrimSpace(b), &o) != nil {
			return nil, &LockedError{Path: path}
		}
		if o.Host == who.Host && o.PID > 0 && !pidAlive(o.PID) && attempt == 0 {
			// Stale: re-check the content right before removing it, so a
			// lock just taken by someone else is not deleted.
			if b2, err := os.ReadFile(path); err == nil && bytes.Equal(b, b2) {
				os.Remove(path)
				continue
			}
		}
		return nil, &LockedError{Path: path, Owner: &o}
	}
	return nil, &LockedError{Path: path}
}

// pidAlive reports whether pid runs; a zombie (exited, not yet reaped,
// common where PID 1 is not an init) counts as gone.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) S ...": the state follows the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}
