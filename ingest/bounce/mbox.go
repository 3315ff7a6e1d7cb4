package bounce

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// mboxCursor is how far an mbox has been processed. It is committed with
// the batch that processed the messages before it, so a crash replays from
// the last commit. head and mark (hashes of the first bytes and of the
// bytes just before off) notice a file a mail client rewrote or truncated:
// then the watcher starts over and the markers and the log's dedupe keep
// what was already done from counting twice.
type mboxCursor struct {
	Off  int64  `json:"off"`
	Head string `json:"head"`
	Mark string `json:"mark"`
}

func parseMboxCursor(b []byte) (mboxCursor, bool) {
	var c mboxCursor
	return c, json.Unmarshal(b, &c) == nil && c.Off >= 0
}

const (
	headLen = 1024
	markLen = 256
	// mboxWindow is how much of an mbox is read per pass step.
	mboxWindow = 64 << 20
)

func hashRange(f io.ReaderAt, from, to int64) (string, error) {
	if to <= from {
		return "", nil
	}
	b := make([]byte, to-from)
	if _, err := f.ReadAt(b, from); err != nil && err != io.EOF {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}

// Mbox processes the complete messages of an mbox file after its cursor.
// The last message is complete when final is set (--once: the file is
// what there is) or when the file ends with a newline and has not grown
// since the previous pass (the MDA appends a message in one go, under a
// lock, but a poll may land in the middle).
func (w *Watcher) Mbox(path string, final bool) (Stats, error) {
	var total Stats
	abs, err := filepath.Abs(path)
	if err != nil {
		return total, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return total, fmt.Errorf("mbox: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return total, err
	}
	size := fi.Size()
	stable := w.sizes[abs] == size
	w.sizes[abs] = size
	cur := w.cursors[abs]
	if ok, err := w.cursorValid(f, cur, size); err != nil {
		return total, err
	} else if !ok {
		cur = mboxCursor{}
	}
	failedDir := abs + ".failed"
	for cur.Off < size {
		end := min(size, cur.Off+mboxWindow)
		buf := make([]byte, end-cur.Off)
		if _, err := f.ReadAt(buf, cur.Off); err != nil && err != io.EOF {
			return total, err
		}
		starts := mboxStarts(buf)
		if len(starts) == 0 || starts[0] != 0 {
			// Bytes before the first "From " line: not an mbox message.
			if len(starts) == 0 && end < size {
				return total, fmt.Errorf("mbox %s: no message start in %d bytes at offset %d", abs, len(buf), cur.Off)
			}
			if len(starts) == 0 {
				starts = []int{0} // treat the rest as one (failed) message
			} else {
				starts = append([]int{0}, starts...)
			}
		}
		// Message i spans [starts[i], starts[i+1]); the last one ends at
		// len(buf) and is complete only at the end of the file.
		lastComplete := end == size && (final || stable && bytes.HasSuffix(buf, []byte("\n")))
		n := len(starts)
		if !lastComplete {
			n--
		}
		if n <= 0 {
			if end < size {
				return total, fmt.Errorf("mbox %s: message at offset %d larger than %d bytes", abs, cur.Off, mboxWindow)
			}
			break
		}
		var items []*item
		for i := 0; i < n; i++ {
			from := starts[i]
			to := len(buf)
			if i+1 < len(starts) {
				to = starts[i+1]
			}
			off := cur.Off + int64(from)
			raw := unescapeFrom(stripFromLine(buf[from:to]))
			it := &item{raw: raw, origin: abs + ":" + strconv.FormatInt(off, 10), name: fmt.Sprintf("%s-%d.eml", filepath.Base(abs), off),
				end: cur.Off + int64(to)}
			it.pre = func(it *item) error {
				return saveFailed(failedDir, it.name, it.raw, it.origin, it.err, w.opt.Now())
			}
			items = append(items, it)
		}
		// Cut into batches; each carries the cursor past its last message.
		next := cur
		for len(items) > 0 {
			k := min(len(items), w.opt.BatchSize)
			batch := items[:k]
			items = items[k:]
			last := batch[k-1]
			next.Off = last.end
			if next.Head, err = hashRange(f, 0, min(next.Off, headLen)); err != nil {
				return total, err
			}
			if next.Mark, err = hashRange(f, max(0, next.Off-markLen), next.Off); err != nil {
				return total, err
			}
			cb, _ := json.Marshal(next)
			last.pstate = map[string][]byte{"mbox:" + abs: cb}
			st, err := w.process(batch)
			total.Add(st)
			if err != nil {
				return total, err
			}
			w.cursors[abs] = next
		}
		cur = next
		if !lastComplete && end == size {
			break
		}
	}
	return total, nil
}

// cursorValid checks that the file still holds what the cursor passed.
func (w *Watcher) cursorValid(f io.ReaderAt, c mboxCursor, size int64) (bool, error) {
	if c.Off == 0 {
		return true, nil
	}
	if c.Off > size {
		return false, nil
	}
	h, err := hashRange(f, 0, min(c.Off, headLen))
	if err != nil || h != c.Head {
		return false, err
	}
	m, err := hashRange(f, max(0, c.Off-markLen), c.Off)
	if err != nil || m != c.Mark {
		return false, err
	}
	if c.Off < size {
		b := make([]byte, 5)
		if _, err := f.ReadAt(b, c.Off); err != nil && err != io.EOF {
			return false, err
		}
		return string(b) == "From ", nil
	}
	return true, nil
}

// mboxStarts returns the offsets of the "From " lines that start messages:
// at the start of buf or after an empty line.
func mboxStarts(buf []byte) []int {
	var out []int
	if bytes.HasPrefix(buf, []byte("From ")) {
		out = append(out, 0)
	}
	for i := 0; ; {
		j := bytes.Index(buf[i:], []byte("\n\nFrom "))
		if j < 0 {
			break
		}
		out = append(out, i+j+2)
		i += j + 2
	}
	return out
}

// stripFromLine drops the mbox "From sender date" line.
func stripFromLine(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[i+1:]
		}
		return nil
	}
	return b
}

// unescapeFrom undoes mboxrd quoting: ">From " → "From ", ">>From " →
// ">From ".
func unescapeFrom(b []byte) []byte {
	if !bytes.Contains(b, []byte(">From ")) {
		return b
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	for i, l := range lines {
		k := 0
		for k < len(l) && l[k] == '>' {
			k++
		}
		if k > 0 && bytes.HasPrefix(l[k:], []byte("From ")) {
			lines[i] = l[1:]
		}
	}
	return bytes.Join(lines, nil)
}
