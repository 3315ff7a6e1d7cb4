package follow

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"strings"
)

// errNoMore says a read reached the end of what is there now. For a .gz
// file still being written it replaces io.ErrUnexpectedEOF: the stream is
// cut short, not corrupt, and more will come.
var errNoMore = errors.New("no more data yet")

// errMoved says a path no longer holds the file an entry describes: it was
// renamed, replaced or removed since the listing. Not an I/O error: the
// next scan looks at the path again.
var errMoved = errors.New("another file at this path now")

// reader reads a file's (uncompressed) content by position.
type reader interface {
	// readAt fills p from position off. It returns errNoMore (possibly with
	// n > 0) at the current end of the data.
	readAt(p []byte, off int64) (int, error)
	// size is the current size for plain files; ok is false for .gz.
	size() (n int64, ok bool, err error)
	// complete reports that a .gz stream was read to its trailer.
	complete() bool
	// stat is fstat: the open file's own size (compressed for .gz),
	// mtime and identity, whatever its path holds now.
	stat() (fs.FileInfo, error)
	close() error
}

func isGz(path string) bool { return strings.HasSuffix(path, ".gz") }

func openReader(fsys FS, path string) (reader, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, err
	}
	if isGz(path) {
		return &gzReader{f: f}, nil
	}
	return &plainReader{f: f}, nil
}

type plainReader struct{ f File }

func (r *plainReader) readAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if err == io.EOF {
		err = errNoMore
	}
	return n, err
}

func (r *plainReader) size() (int64, bool, error) {
	fi, err := r.f.Stat()
	if err != nil {
		return 0, true, err
	}
	return fi.Size(), true, nil
}

func (r *plainReader) complete() bool             { return false }
func (r *plainReader) stat() (fs.FileInfo, error) { return r.f.Stat() }
func (r *plainReader) close() error               { return r.f.Close() }

// gzReader decompresses sequentially; a read at another position restarts
// the stream and discards up to it (gzip has no random access).
type gzReader struct {
	f    File
	zr   *gzip.Reader
	pos  int64 // uncompressed position of zr
	done bool  // trailer seen: the stream is complete
	bad  bool  // zr hit a cut-off stream and must be reopened
}

func (r *gzReader) reset() error {
	r.zr, r.pos, r.bad, r.done = nil, 0, false, false
	br := bufio.NewReaderSize(io.NewSectionReader(r.f, 0, 1<<62), 64<<10)
	zr, err := gzip.NewReader(br)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.bad = true // header not written yet
			return errNoMore
		}
		return err
	}
	r.zr = zr
	return nil
}

func (r *gzReader) readAt(p []byte, off int64) (int, error) {
	if r.zr == nil || r.bad || off < r.pos {
		if err := r.reset(); err != nil {
			return 0, err
		}
	}
	if off > r.pos {
		n, err := io.CopyN(io.Discard, r.zr, off-r.pos)
		r.pos += n
		if err != nil {
			return 0, r.fail(err)
		}
	}
	if r.done {
		return 0, errNoMore
	}
	n := 0
	for n < len(p) {
		m, err := r.zr.Read(p[n:])
		n += m
		r.pos += int64(m)
		if err != nil {
			return n, r.fail(err)
		}
	}
	return n, nil
}

func (r *gzReader) fail(err error) error {
	switch err {
	case io.EOF:
		r.done = true
		return errNoMore
	case io.ErrUnexpectedEOF:
		// A cut-off stream (gzip still writing): what was read is good;
		// the decompressor is stuck, so reopen next time to see more.
		r.bad = true
		return errNoMore
	}
	return err
}

func (r *gzReader) size() (int64, bool, error) { return 0, false, nil }
func (r *gzReader) complete() bool             { return r.done }
func (r *gzReader) stat() (fs.FileInfo, error) { return r.f.Stat() }
func (r *gzReader) close() error               { return r.f.Close() }
