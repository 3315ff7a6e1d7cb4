//go:build unix

package follow

import (
	"io/fs"
	"syscall"
)

// fileID is device and inode when the file system reports them. They only
// say that a path now holds another file (rotation within the same size and
// mtime tick: sshfs has 1 s mtimes); identity always comes from content,
// since sshfs makes inode numbers up.
func fileID(fi fs.FileInfo) [2]uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	}
	return [2]uint64{}
}
