//go:build linux

package state

import "syscall"

func statfsMagic(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	// f_type is signed on some architectures; CIFS's 0xFF534D42 must not
	// sign-extend.
	return int64(uint32(st.Type)), nil
}
