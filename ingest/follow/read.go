package follow

import (
	"bytes"
	"errors"
	"io/fs"
	"sync"
	"time"
)

// readTrack reads what t's file has past its position, up to about budget
// bytes, and appends the resulting chunks to out. It returns the bytes read.
func (f *Follower) readTrack(t *track, now time.Time, budget int, out []Chunk) ([]Chunk, int) {
	e := t.ent
	if e != nil && e.err != nil {
		t.eof = false
		return out, 0
	}
	if t.r == nil {
		// Bound without a descriptor (or its descriptor closed since):
		// the path is opened again, and must still hold the content
		// read so far: a rename since the scan puts another file there.
		r, err := openReader(f.fs, t.path)
		if err != nil {
			if e != nil && errors.Is(err, fs.ErrNotExist) {
				f.lostFile(t)
				return out, 0
			}
			f.readFailed(t, now, err)
			return out, 0
		}
		t.r = r
		if e != nil && !f.sameContent(t) {
			f.lostFile(t)
			return out, 0
		}
	}
	size, plain, err := t.r.size()
	if err != nil {
		f.readFailed(t, now, err)
		return out, 0
	}
	if plain {
		t.size = size
		if size < t.readPos() {
			// Cut below what was buffered. A bound file passed the
			// marker check at Offset, so only the partial line is
			// stale; an orphan was truncated under its old name.
			if t.orphan || size < t.c.Offset {
				f.closeOrphan(t, now, &out)
				return out, 0
			}
			t.pend, t.skipping, t.skipLen, t.skipTail = nil, false, 0, nil
		}
		if size == t.readPos() {
			t.eof = true
			if t.orphan && now.Sub(t.idleSince) >= f.opts.RotateWait {
				f.closeOrphan(t, now, &out)
			}
			return f.flushEmpty(t, now, out), 0
		}
		if t.orphan {
			if !f.sameContent(t) {
				f.closeOrphan(t, now, &out)
				return out, 0
			}
			t.idleSince = now
		}
	} else if t.eof && (t.r.complete() || t.orphan || !t.ent.changed) {
		// A .gz read to its end (or to where its writer has got, and
		// unchanged since): decompressing again would find nothing.
		if t.r.complete() {
			f.gzFinished(t, now, &out)
		}
		if t.orphan && (t.r.complete() || now.Sub(t.idleSince) >= f.opts.RotateWait) {
			f.closeOrphan(t, now, &out)
		}
		return f.flushEmpty(t, now, out), 0
	}

	var cb builder
	read := 0
	for {
		if read >= budget && (cb.progress || t.skipping) {
			t.eof = false
			break
		}
		pos := t.readPos()
		// A long partial line doubles the read, so assembling it costs
		// O(n), not O(n²) copies.
		want := max(f.opts.MaxChunkBytes, len(t.pend))
		if plain {
			want = int(min(int64(want), max(size-pos, 4096)))
		}
		var buf []byte
		var n int
		bp := getBuf(len(t.pend) + want)
		if t.skipping {
			buf = (*bp)[:want]
			n, err = t.r.readAt(buf, pos)
			buf = buf[:n]
		} else {
			buf = (*bp)[:len(t.pend)+want]
			copy(buf, t.pend)
			n, err = t.r.readAt(buf[len(t.pend):], pos)
			buf = buf[:len(t.pend)+n]
		}
		if plain && (err == errNoMore || pos+int64(n) >= size) {
			// NULs at the end are bytes the client has the size of but
			// not the data yet (NFS, sshfs): read again next time.
			k := nulTail(buf[len(buf)-n:])
			n -= k
			buf = buf[:len(buf)-k]
		}
		if !headAgrees(t.head, pos, buf[len(buf)-n:]) {
			putBuf(bp)
			// The file was rewritten in place (copytruncate, then new
			// lines) since its head was read: these bytes are not the
			// content the cursor stands for. What came before is; the
			// next scan matches the file again.
			cb.flush(f, t, now, &out)
			if t.orphan {
				f.closeOrphan(t, now, &out) // no path to look at again
			} else {
				f.lostFile(t)
			}
			return out, read
		}
		t.growHead(pos, buf[len(buf)-n:])
		read += n
		if !plain {
			t.size = max(t.size, pos+int64(n))
		}
		if len(cb.data) > 0 && len(cb.data)+len(buf) > f.opts.MaxChunkBytes {
			cb.flush(f, t, now, &out) // keep chunks within MaxChunkBytes
		}
		before := len(out)
		f.consume(t, buf, &cb, now, &out)
		switch {
		case len(out) > before:
			// A too-long line split this read into chunks that may
			// share buf: left to the collector.
		case cb.own == nil && len(cb.data) > 0 && len(buf) > 0 && &cb.data[0] == &buf[0]:
			// (buf is empty when a read at the end found nothing, after
			// a skipped line left lines in cb: issue 13.1's panic.)
			cb.own = bp // the pending chunk's Data starts this buffer
		default:
			putBuf(bp) // copied out (partial line, appended to data) or unused
		}
		if err != nil || n == 0 {
			if err != nil && err != errNoMore {
				cb.flush(f, t, now, &out)
				f.readFailed(t, now, err)
				return out, read
			}
			t.eof = true
			break
		}
	}
	cb.flush(f, t, now, &out)
	if !plain && t.eof && t.r.complete() {
		f.gzFinished(t, now, &out)
	}
	return f.flushEmpty(t, now, out), read
}

// nulTail is the length of the run of NUL bytes that ends b.
func nulTail(b []byte) int {
	i := len(b)
	for i > 0 && b[i-1] == 0 {
		i--
	}
	return len(b) - i
}

// headAgrees reports whether b, read at pos, agrees with the part of head
// it overlaps.
func headAgrees(head []byte, pos int64, b []byte) bool {
	h := int64(len(head))
	if pos >= h {
		return true
	}
	n := min(int64(len(b)), h-pos)
	return bytes.Equal(b[:n], head[pos:pos+n])
}

// builder collects consecutive complete lines into one chunk.
type builder struct {
	data     []byte
	own      *[]byte // the pooled buffer data lies in, if it does
	progress bool
}

func (b *builder) add(seg []byte) {
	if b.data == nil {
		b.data = seg[:len(seg):len(seg)] // own buffer: no copy, no aliasing on append
	} else {
		b.data = append(b.data, seg...) // a new array: the first buffer is free
		if b.own != nil {
			putBuf(b.own)
			b.own = nil
		}
	}
	b.progress = true
}

func (b *builder) flush(f *Follower, t *track, now time.Time, out *[]Chunk) {
	if len(b.data) == 0 {
		return
	}
	ch := f.chunk(t, now, b.data, nil)
	ch.buf = b.own
	*out = append(*out, ch)
	b.data, b.own = nil, nil
}

// Read buffers are recycled (Release): allocating and zeroing a fresh
// megabyte per read was a tenth of a backfill's time, most of its garbage.
var bufPool sync.Pool

func getBuf(n int) *[]byte {
	if bp, ok := bufPool.Get().(*[]byte); ok && cap(*bp) >= n {
		return bp
	}
	b := make([]byte, n)
	return &b
}

func putBuf(bp *[]byte) {
	if bp != nil && cap(*bp) <= 8<<20 { // keep no giant long-line buffers
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// consume splits buf (starting at t.readPos() before the read, that is at
// c.Offset unless skipping) into complete lines, too-long lines and the
// partial rest.
func (f *Follower) consume(t *track, buf []byte, cb *builder, now time.Time, out *[]Chunk) {
	max := f.opts.MaxLineBytes
	if t.skipping {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			t.skipLen += int64(len(buf))
			t.skipTail = tailBytes(t.skipTail, buf)
			return
		}
		start, n := t.c.Offset, t.skipLen+int64(i+1)
		f.skipped(t, tailBytes(t.skipTail, buf[:i+1]), start, n, cb, now, out)
		buf = buf[i+1:]
	}
	for {
		nl := bytes.LastIndexByte(buf, '\n')
		if nl < 0 {
			break
		}
		complete := buf[:nl+1]
		cut, long := len(complete), 0
		if len(complete) > max+1 {
			// Some line may be too long: find the first one.
			for s := 0; s < len(complete); {
				l := bytes.IndexByte(complete[s:], '\n') + 1
				if l-1 > max {
					cut, long = s, l
					break
				}
				s += l
			}
		}
		if cut > 0 {
			seg := buf[:cut]
			cb.add(seg)
			t.setMark(tailBytes(t.mark, seg))
			t.c.Offset += int64(cut)
			t.c.Lines += int64(bytes.Count(seg, nl1))
		}
		if long == 0 {
			buf = buf[nl+1:]
			break
		}
		f.skipped(t, tailBytes(t.mark, buf[cut:cut+long]), t.c.Offset, int64(long), cb, now, out)
		buf = buf[cut+long:]
	}
	if len(buf) > max {
		t.skipping, t.skipLen, t.skipTail, t.pend = true, int64(len(buf)), tailBytes(t.mark, buf), nil
		return
	}
	t.pend = append(t.pend[:0:0], buf...)
}

var nl1 = []byte{'\n'}

// skipped moves the cursor past a too-long line and delivers it as its own
// chunk, after the lines before it.
func (f *Follower) skipped(t *track, mark []byte, start, n int64, cb *builder, now time.Time, out *[]Chunk) {
	cb.flush(f, t, now, out)
	t.skipping, t.skipLen, t.skipTail, t.pend = false, 0, nil, nil
	t.c.Offset = start + n
	t.setMark(mark)
	t.c.Lines++
	t.c.Rejected++
	cb.progress = true
	*out = append(*out, f.chunk(t, now, nil, []LongLine{{Offset: start, Length: n, Line: t.c.Lines}}))
}

// chunk makes a chunk of t's current cursor.
func (f *Follower) chunk(t *track, now time.Time, data []byte, long []LongLine) Chunk {
	start := t.c.Offset - int64(len(data))
	if len(long) > 0 {
		start = long[0].Offset
	}
	ch := Chunk{Path: t.path, ModTime: t.modTime, Data: data, TooLong: long, t: t}
	if f.last != t || f.lastPath != t.path {
		ch.NewFile = true
		if start > 0 {
			ch.Header = f.header(t)
		}
	}
	f.last, f.lastPath = t, t.path
	if len(data) > 0 {
		t.c.Done = false // found again and still growing
		f.lastData = now
	}
	t.c.Source, t.c.Path = f.opts.Source, t.path
	t.c.Size = max(t.size, t.readPos())
	t.c.Updated = now
	ch.Cursor = t.c
	ch.ev0, ch.rej0 = t.c.Events, t.c.Rejected
	f.mu.Lock()
	ch.Cursor.Events += t.accEv
	ch.Cursor.Rejected += t.accRej
	ch.Cursor.LastLine = t.logTime
	f.mu.Unlock()
	if k := t.c.Key(); k != t.lastKey {
		ch.PrevKey = t.lastKey
		t.lastKey = k
	}
	t.emit = false
	return ch
}

// flushEmpty delivers the cursor alone when it must be committed although
// no line moved it (StartAtEnd, Done).
func (f *Follower) flushEmpty(t *track, now time.Time, out []Chunk) []Chunk {
	if t.emit {
		out = append(out, f.chunk(t, now, nil, nil))
	}
	return out
}

// header returns the file's first line without its terminator, or nil.
func (f *Follower) header(t *track) []byte {
	if t.hdrOK {
		return t.header
	}
	var line []byte
	if i := bytes.IndexByte(t.head, '\n'); i >= 0 {
		line = t.head[:i]
	} else {
		// Through the track's descriptor: the path may hold another file.
		r := t.r
		if r == nil {
			return nil // retried with the next NewFile
		}
		var acc []byte
		buf := make([]byte, 64<<10)
		for len(acc) <= f.opts.MaxLineBytes {
			n, err := r.readAt(buf, int64(len(acc)))
			if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
				line = append(acc, buf[:i]...)
				break
			}
			acc = append(acc, buf[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
	}
	if line != nil {
		line = bytes.TrimSuffix(line, []byte{'\r'})
		t.header = append([]byte(nil), line...)
	}
	t.hdrOK = true
	return t.header
}

func (f *Follower) gzFinished(t *track, now time.Time, out *[]Chunk) {
	if !t.c.Done && len(t.pend) == 0 && !t.skipping {
		t.c.Done = true
		t.emit = true
	}
}

// closeOrphan ends draining a file rotated out of the globs.
func (f *Follower) closeOrphan(t *track, now time.Time, out *[]Chunk) {
	if !t.orphan {
		// A bound file cut below its offset between scan and read: the
		// next scan decides what it is.
		t.closeReader()
		return
	}
	t.closeReader()
	t.orphan = false
	if !t.c.Done {
		t.c.Done = true
		t.emit = true
	}
}

// sameContent checks, before reading an orphan's new bytes, that its
// descriptor still holds the content read so far (not copytruncated and
// rewritten under the old name).
func (f *Follower) sameContent(t *track) bool {
	h := make([]byte, len(t.head))
	if n, _ := t.r.readAt(h, 0); n < len(h) || !bytes.Equal(h, t.head) {
		return false
	}
	if !t.markOK {
		return true
	}
	m := make([]byte, len(t.mark))
	n, _ := t.r.readAt(m, t.c.Offset-int64(len(m)))
	return n == len(m) && bytes.Equal(m, t.mark)
}

// lostFile lets t go of an entry whose path no longer holds t's file; the
// next scan reads the path's head again and finds t's file wherever it is.
// A cursor made this scan that has delivered nothing is forgotten: it
// stood for a head the path no longer has.
func (f *Follower) lostFile(t *track) {
	t.closeReader()
	if e := t.ent; e != nil {
		e.track = nil
		e.recheck = true
	}
	t.ent = nil
	t.eof = false
	if t.lastKey == "" && t.c.Offset == 0 && !t.emit {
		for i, x := range f.tracks {
			if x == t {
				f.tracks = append(f.tracks[:i], f.tracks[i+1:]...)
				break
			}
		}
	}
}

func (f *Follower) readFailed(t *track, now time.Time, err error) {
	t.closeReader()
	t.eof = false
	if e := t.ent; e != nil {
		e.fail(now, err, f.opts.MaxBackoff)
		t.ent, e.track = nil, nil
		return
	}
	// An orphan has no path to retry: what it still held is gone unless
	// the file shows up again in the globs.
	if t.err == nil {
		t.errSince = now
	}
	t.err = err
	t.orphan = false
}

// tailBytes returns a new slice with the last MarkMax bytes of a+b.
func tailBytes(a, b []byte) []byte {
	if len(b) >= MarkMax {
		return append([]byte(nil), b[len(b)-MarkMax:]...)
	}
	keep := min(len(a), MarkMax-len(b))
	out := make([]byte, 0, keep+len(b))
	out = append(out, a[len(a)-keep:]...)
	return append(out, b...)
}

// fnv64 is FNV-1a 64: stable across processes and versions, unlike
// hash/maphash, because fingerprints are persisted.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
