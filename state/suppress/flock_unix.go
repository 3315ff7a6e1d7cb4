//go:build unix

package suppress

import (
	"errors"
	"os"
	"syscall"
)

var errWouldBlock = errors.New("lock held")

// lockFile takes a non-blocking flock: exclusive for a writer, shared for a
// reader. bbolt's lock already keeps two processes off one database; this
// one covers two databases pointed at the same log.
func lockFile(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errWouldBlock
	}
	return err
}

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
