//go:build unix

package state

import "syscall"

// NoFollow is O_NOFOLLOW where the system has it: files cutover creates or
// appends to next to the database are opened with it, so a symlink planted
// in that directory never redirects a write to another file.
const NoFollow = syscall.O_NOFOLLOW
