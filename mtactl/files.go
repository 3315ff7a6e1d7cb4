package mtactl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileState is a managed file as found on disk.
type fileState struct {
	Path   string // as configured
	Real   string // symlinks resolved: the file a rename must replace
	Exists bool
	Data   []byte
	Mode   fs.FileMode // permission bits
	UID    int
	GID    int
}

// readFileState reads a managed file. A missing file is not an error (whole
// files cutover creates on first apply).
func readFileState(path string) (fileState, error) {
	st := fileState{Path: path, Real: path, UID: -1, GID: -1}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		// Writing through the link would replace the link with a file.
		st.Real = real
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	fi, err := os.Stat(st.Real)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if !fi.Mode().IsRegular() {
		return st, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := os.ReadFile(st.Real)
	if err != nil {
		return st, err
	}
	st.Exists, st.Data, st.Mode = true, data, fi.Mode().Perm()
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.UID, st.GID = int(sys.Uid), int(sys.Gid)
	}
	return st, nil
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writeAtomic replaces the file with data: a temp file in the same
// directory, the old file's mode and owner, fsync, optional precheck of the
// temp file (e.g. exim -bV -C TEMP before the live file changes), rename,
// fsync of the directory. Readers see the old or the new bytes, never half.
func writeAtomic(st fileState, data []byte, newPerm fs.FileMode, precheck func(tmp string) error) error {
	dir := filepath.Dir(st.Real)
	f, err := os.CreateTemp(dir, "."+filepath.Base(st.Real)+".cutover-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	perm := newPerm
	if st.Exists {
		perm = st.Mode
	}
	if perm == 0 {
		perm = 0o644
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	// UID/GID -1: a new file, or a part that stays the creator's.
	if (st.UID >= 0 && st.UID != os.Geteuid()) || (st.GID >= 0 && st.GID != os.Getegid()) {
		if err := f.Chown(st.UID, st.GID); err != nil {
			return fmt.Errorf("set owner %d:%d of %s: %w", st.UID, st.GID, st.Path, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if precheck != nil {
		if err := precheck(tmp); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, st.Real); err != nil {
		return err
	}
	ok = true
	syncDir(dir)
	return nil
}

// removeFile deletes a file cutover created (rollback to before it existed).
func removeFile(st fileState) error {
	err := os.Remove(st.Real)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil {
		syncDir(filepath.Dir(st.Real))
	}
	return err
}

// syncDir makes a rename durable; some filesystems (sshfs) cannot fsync a
// directory, which is not worth failing an apply for.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func dirOf(p string) string { return filepath.Dir(p) }
