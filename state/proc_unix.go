//go:build unix

package state

import "syscall"

// processAlive reports whether pid exists (EPERM: exists, not ours).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
