package bounce

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Maildir processes every message in dir/new once. A processed message is
// moved to dir/cur (flagged seen) only after its events are durable; a
// message that is not a report goes to dir/failed with a <name>.reason
// file. Messages appear in new/ only complete (maildir delivery writes to
// tmp/ and renames), so there is no partial message to wait for.
func (w *Watcher) Maildir(dir string) (Stats, error) {
	var total Stats
	newDir := filepath.Join(dir, "new")
	fi, err := os.Stat(newDir)
	if err != nil {
		return total, fmt.Errorf("maildir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return total, fmt.Errorf("maildir %s: new is not a directory", dir)
	}
	curDir := filepath.Join(dir, "cur")
	if err := os.MkdirAll(curDir, 0o700); err != nil {
		return total, err
	}
	ents, err := os.ReadDir(newDir)
	if err != nil {
		return total, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	// Maildir names start with the delivery time: oldest first.
	slices.Sort(names)
	for len(names) > 0 {
		n := min(len(names), w.opt.BatchSize)
		var items []*item
		for _, name := range names[:n] {
			p := filepath.Join(newDir, name)
			raw, err := readLimited(p, w.opt.MaxMessage)
			if errors.Is(err, fs.ErrNotExist) {
				continue // taken by someone else meanwhile
			}
			it := &item{raw: raw, origin: p, name: name, err: err}
			it.post = func(it *item) error { return w.finishMaildir(dir, it) }
			items = append(items, it)
		}
		names = names[n:]
		if len(items) == 0 {
			continue
		}
		st, err := w.process(items)
		total.Add(st)
		if err != nil {
			return total, err
		}
		if err := syncDir(newDir); err != nil {
			return total, err
		}
		if err := syncDir(curDir); err != nil {
			return total, err
		}
	}
	return total, nil
}

// finishMaildir moves a message out of new/: to cur/ with the seen flag,
// or to failed/ with its reason.
func (w *Watcher) finishMaildir(dir string, it *item) error {
	src := filepath.Join(dir, "new", it.name)
	if it.err != nil {
		fdir := filepath.Join(dir, "failed")
		if err := saveFailed(fdir, it.name, nil, it.origin, it.err, w.opt.Now()); err != nil {
			return err
		}
		if err := os.Rename(src, filepath.Join(fdir, it.name)); err != nil {
			return err
		}
		return syncDir(fdir)
	}
	name := it.name
	if !strings.Contains(name, ":2,") {
		name += ":2,S"
	}
	return os.Rename(src, filepath.Join(dir, "cur", name))
}

// readLimited reads a whole file, or fails when it is larger than max.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("message larger than %d bytes", max)
	}
	return b, nil
}

// Deliver writes a message into dir/new the maildir way (tmp/, fsync,
// rename), for a pipe whose watcher cannot run now: the running watcher
// picks it up.
func Deliver(dir string, raw []byte, unique string) (string, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return "", err
		}
	}
	tmp := filepath.Join(dir, "tmp", unique)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", err
	}
	dst := filepath.Join(dir, "new", unique)
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return dst, syncDir(filepath.Join(dir, "new"))
}
