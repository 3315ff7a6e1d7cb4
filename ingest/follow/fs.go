package follow

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FS is what the follower needs from a file system. The default is the
// operating system; tests inject faults (ENOTCONN, EIO, ESTALE) through it
// because a real sshfs mount cannot be dropped on demand.
type FS interface {
	// ReadDirNames lists the names in dir, without stat'ing them (one
	// round trip on sshfs).
	ReadDirNames(dir string) ([]string, error)
	Stat(name string) (fs.FileInfo, error)
	Open(name string) (File, error)
}

// File is an open file: positional reads only, so one descriptor can serve
// the fingerprint, the marker check and the tail without seeking.
type File interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// OS is the real file system.
type OS struct{}

// ReadDirNames implements FS.
func (OS) ReadDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// Stat implements FS.
func (OS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Open implements FS.
func (OS) Open(name string) (File, error) { return os.Open(name) }

// glob expands pattern like filepath.Glob but returns directory errors
// instead of swallowing them: a vanished sshfs directory must read as
// "stale", not as "no files".
func glob(fsys FS, pattern string) ([]string, error) {
	dir, base := filepath.Split(pattern)
	dir = cleanDir(dir)
	var dirs []string
	if hasMeta(dir) {
		ds, err := glob(fsys, dir)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if fi, err := fsys.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	} else {
		dirs = []string{dir}
	}
	var out []string
	for _, d := range dirs {
		names, err := fsys.ReadDirNames(d)
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		for _, n := range names {
			ok, err := filepath.Match(base, n)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, filepath.Join(d, n))
			}
		}
	}
	return out, nil
}

func cleanDir(dir string) string {
	switch dir {
	case "":
		return "."
	case string(filepath.Separator):
		return dir
	}
	return dir[:len(dir)-1]
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }
