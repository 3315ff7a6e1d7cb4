package suppress

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// An import reads each file twice (prepass: sha256, encoding, shape; then
// the rows), so it needs a regular file it can reopen. openSource gives one:
// the file itself when it is plain, else a private copy of its bytes —
// decompressed from gzip, extracted from a one-export zip, or drained from a
// pipe — in a temporary file that the returned cleanup removes.

// Errors of openSource.
var (
	ErrEmptyPipe  = errors.New("read 0 bytes: nothing was piped in (pass the export as a file, or pipe it: cat export.csv | cutover suppress import ... /dev/stdin)")
	ErrNotRegular = errors.New("not a regular file: a pipe or device cannot be read here (save it to a file first)")
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zipMagic  = []byte("PK\x03\x04")
	zipEmpty  = []byte("PK\x05\x06")
)

// source is one export ready to read twice.
type source struct {
	path    string // regular file to read
	packed  string // "gzip", "zip:<member>", "pipe" or ""
	cleanup func()
}

// openSource inspects path and returns a readable regular file for it. tmp is
// where copies go ("" = the system's temporary directory); they are created
// 0600 with O_EXCL (os.CreateTemp) because exports hold personal data.
// regularOnly refuses pipes and devices (an owner process must not read its
// own standard input for a client).
func openSource(path, tmp string, regularOnly bool) (src source, err error) {
	src = source{path: path, cleanup: func() {}}
	f, err := os.Open(path)
	if err != nil {
		return src, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return src, err
	}
	if st.IsDir() {
		return src, fmt.Errorf("%s is a directory", path)
	}
	if !st.Mode().IsRegular() {
		if regularOnly {
			return src, ErrNotRegular
		}
		// A pipe can be read once: copy it, then look at what it held.
		br := bufio.NewReaderSize(f, 64<<10)
		head, _ := br.Peek(4)
		if len(head) == 0 {
			return src, ErrEmptyPipe
		}
		spooled, err := spool(tmp, br, nil)
		if err != nil {
			return src, err
		}
		inner, err := openSource(spooled, tmp, true)
		if err != nil {
			os.Remove(spooled)
			return src, err
		}
		prev := inner.cleanup
		inner.cleanup = func() { prev(); os.Remove(spooled) }
		if inner.packed == "" {
			inner.packed = "pipe"
		}
		return inner, nil
	}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	switch {
	case n >= 2 && bytes.Equal(head[:2], gzipMagic):
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return src, err
		}
		zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
		if err != nil {
			return src, fmt.Errorf("gzip: %w", err)
		}
		p, err := spool(tmp, zr, func(err error) error { return fmt.Errorf("gzip: %w", err) })
		if err != nil {
			return src, err
		}
		return source{path: p, packed: "gzip", cleanup: func() { os.Remove(p) }}, nil
	case n == 4 && (bytes.Equal(head[:], zipMagic) || bytes.Equal(head[:], zipEmpty)):
		return unzipOne(f, st.Size(), tmp)
	}
	return src, nil
}

// unzipOne extracts the one export a provider's zip holds (folders and macOS
// resource forks aside). Several exports in one zip are refused by name: each
// has its own header and needs its own import.
func unzipOne(f *os.File, size int64, tmp string) (source, error) {
	src := source{cleanup: func() {}}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return src, fmt.Errorf("zip: %w", err)
	}
	var files []*zip.File
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(zf.Name), "._") {
			continue
		}
		files = append(files, zf)
	}
	switch len(files) {
	case 0:
		return src, errors.New("zip: no file in the archive")
	case 1:
	default:
		names := make([]string, 0, 5)
		for _, zf := range files[:min(len(files), 5)] {
			names = append(names, fmt.Sprintf("%q", zf.Name))
		}
		more := ""
		if len(files) > 5 {
			more = fmt.Sprintf(" and %d more", len(files)-5)
		}
		return src, fmt.Errorf("zip: %d files in the archive (%s%s): unzip it and import each export", len(files), strings.Join(names, ", "), more)
	}
	rc, err := files[0].Open()
	if err != nil {
		return src, fmt.Errorf("zip %q: %w", files[0].Name, err)
	}
	defer rc.Close()
	p, err := spool(tmp, rc, func(err error) error { return fmt.Errorf("zip %q: %w", files[0].Name, err) })
	if err != nil {
		return src, err
	}
	return source{path: p, packed: "zip:" + files[0].Name, cleanup: func() { os.Remove(p) }}, nil
}

// spool copies r into a new private temporary file and returns its name.
// wrap labels read errors (a corrupt stream) apart from write errors.
func spool(dir string, r io.Reader, wrap func(error) error) (string, error) {
	f, err := os.CreateTemp(dir, ".cutover-import-*")
	if err != nil {
		return "", fmt.Errorf("temporary copy: %w", err)
	}
	_, err = io.Copy(f, readErr{r, wrap})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// readErr wraps the read errors of r (but not io.EOF).
type readErr struct {
	r    io.Reader
	wrap func(error) error
}

func (e readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.wrap != nil {
		err = e.wrap(err)
	}
	return n, err
}
