package follow

import (
	"bytes"
	"errors"
	"io/fs"
	"sort"
	"time"

	"cutover/state"
)

// track is one file's content as the follower knows it: its cursor, and the
// listing entry and descriptor it is read through.
type track struct {
	id      int
	c       state.Cursor // Offset = end of the last consumed line
	head    []byte       // the file's first bytes (<= FPMax); nil until bound
	mark    []byte       // the <= MarkMax bytes before c.Offset
	markOK  bool         // mark is known (else only c.Marker is)
	lastKey string       // key of the cursor last delivered or loaded
	// accEv and accRej are the parser's counts Account added, logTime the
	// newest log time LogTime saw (f.mu: the pipeline accounts a chunk on
	// another goroutine than Poll's).
	accEv, accRej int64
	logTime       time.Time

	ent       *entry // listing entry it is bound to this scan
	path      string // where it was last seen
	r         reader
	orphan    bool      // rotated out of the globs: drained through r
	idleSince time.Time // orphan: last growth
	modTime   time.Time
	size      int64

	pend     []byte // bytes after c.Offset without "\n" yet
	skipping bool   // inside a line longer than MaxLineBytes starting at c.Offset
	skipLen  int64
	skipTail []byte // the MarkMax bytes before the skip position
	eof      bool   // the last read reached the end of the data
	emit     bool   // deliver the cursor even without lines

	header []byte
	hdrOK  bool

	err      error // orphan read error
	errSince time.Time
}

func (t *track) readPos() int64 {
	if t.skipping {
		return t.c.Offset + t.skipLen
	}
	return t.c.Offset + int64(len(t.pend))
}

func (t *track) closeReader() {
	if t.r != nil {
		t.r.close()
		t.r = nil
	}
	t.pend, t.skipping, t.skipLen, t.skipTail = nil, false, 0, nil
	t.eof = false
}

// unbind forgets the listing entry and closes the descriptor.
func (t *track) unbind() {
	if t.ent != nil && t.ent.track == t {
		t.ent.track = nil
	}
	t.ent = nil
	t.orphan = false
	t.closeReader()
}

func (t *track) syncFP() {
	t.c.FPLen = len(t.head)
	t.c.FPHash = fnv64(t.head)
}

func (t *track) setMark(m []byte) {
	t.mark, t.markOK = m, true
	t.c.MarkLen = len(m)
	t.c.Marker = fnv64(m)
}

// growHead extends the fingerprint with bytes read at pos.
func (t *track) growHead(pos int64, b []byte) {
	h := int64(len(t.head))
	if h >= FPMax || pos > h || pos+int64(len(b)) <= h {
		return
	}
	end := min(pos+int64(len(b)), FPMax)
	t.head = append(t.head[:h:h], b[h-pos:end-pos]...)
	t.syncFP()
}

// entry is one listed path and what the last stat and head read found.
type entry struct {
	path    string
	gz      bool
	statOK  bool
	size    int64 // on disk (compressed for .gz)
	mtime   time.Time
	id      [2]uint64 // device, inode: a change hint only
	head    []byte
	gzDone  bool // the .gz stream was complete when the head was read
	changed bool // stat differs from the previous scan
	recheck bool // reread the head at the next scan even if the stat is the same
	moved   bool // this scan: the path held another file when opened; skipped
	track   *track
	memo    map[*track]memo
	// rd is this scan's descriptor on the file the entry describes: the
	// one its head was read through, or one opened later and verified by
	// entryReader. check reads through it and bind hands it to the track,
	// so a rename between the listing and a later open of the path cannot
	// pair one file's head with another file's content. Closed at the end
	// of the scan when no track took it.
	rd       reader
	rdFor    *track           // the track whose check passed through rd (a .gz sits at its offset)
	ghost    *track           // a copy of content already read from this cursor
	shadows  []*track         // matching cursors bound to other files
	prefix   map[*entry]int64 // known prefix of these entries at their size
	copyOf   *track           // skipped this round: maybe a copy of copyOf's file
	waiting  bool             // skipped this round: maybe a copy in progress
	err      error
	errSince time.Time
	errN     int
	retryAt  time.Time
}

type verdict uint8

const (
	vNone  verdict = iota // not this cursor's file
	vFull                 // this cursor's file: resume at Offset
	vGhost                // same head but shorter than Offset: already read
	vErr
	vMoved // the path holds another file than the entry's now: skipped
)

type memo struct {
	off  int64
	v    verdict
	mark []byte
}

func (e *entry) fail(now time.Time, err error, max time.Duration) {
	if e.err == nil {
		e.errSince = now
	}
	e.err = err
	e.errN++
	e.retryAt = now.Add(backoff(e.errN, max))
	e.statOK = false
	if e.rd != nil {
		e.rd.close()
		e.rd = nil
	}
}

func (e *entry) dropReader() {
	if e.rd != nil {
		e.rd.close()
		e.rd, e.rdFor = nil, nil
	}
}

// scan lists the globs, refreshes changed entries and binds files to
// cursors. An error means the listing failed and nothing was changed.
func (f *Follower) scan(now time.Time) error {
	seen := map[string]bool{}
	var paths, unmatched []string
	for _, g := range f.opts.Globs {
		ps, err := glob(f.fs, g)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			unmatched = append(unmatched, g)
		}
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	f.unmatched = unmatched
	for p, e := range f.ents {
		if !seen[p] {
			f.dropEntry(e)
		}
	}
	for _, p := range paths {
		f.refresh(p, now)
	}

	// Tracks whose file changed are matched again (a growing file too:
	// that is where copytruncate is caught); a failing file lets its
	// cursor go and closes the descriptor (sshfs handles die).
	for _, t := range f.tracks {
		e := t.ent
		if e == nil {
			continue
		}
		switch {
		case f.ents[e.path] != e:
			t.ent = nil
		case e.err != nil:
			// Not read while failing, and not holding on to its cursor:
			// the content may show up under another name meanwhile.
			t.ent, e.track = nil, nil
			t.closeReader()
		case e.changed:
			t.ent, e.track = nil, nil
		}
	}

	f.pair(now)
	for _, e := range f.ents {
		e.dropReader() // what no track took: the path is opened again if needed
	}

	// Whatever lost its file keeps its descriptor to drain it.
	for _, t := range f.tracks {
		if t.ent == nil && t.r != nil && !t.orphan {
			t.orphan = true
			t.idleSince = now
		}
	}
	return nil
}

func (f *Follower) dropEntry(e *entry) {
	if e.track != nil {
		e.track.ent = nil
		e.track = nil
	}
	e.dropReader()
	delete(f.ents, e.path)
}

// refresh stats one listed path and rereads its head when it changed.
func (f *Follower) refresh(p string, now time.Time) {
	e := f.ents[p]
	if e == nil {
		e = &entry{path: p, gz: isGz(p)}
		f.ents[p] = e
	}
	e.changed = false
	if e.err != nil && now.Before(e.retryAt) {
		return
	}
	fi, err := f.fs.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.dropEntry(e) // gone between listing and stat
			return
		}
		e.fail(now, err, f.opts.MaxBackoff)
		return
	}
	if fi.IsDir() {
		f.dropEntry(e)
		return
	}
	id := fileID(fi)
	if e.err == nil && e.statOK && !e.recheck && fi.Size() == e.size && fi.ModTime().Equal(e.mtime) && id == e.id {
		return
	}
	e.size, e.mtime, e.id, e.statOK, e.changed = fi.Size(), fi.ModTime(), id, true, true
	e.recheck = false
	e.memo, e.prefix = nil, nil
	e.dropReader()
	if err := f.readHead(e); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.dropEntry(e) // removed since the stat: not an error
			return
		}
		e.fail(now, err, f.opts.MaxBackoff)
		e.changed = false
		return
	}
	e.err, e.errN = nil, 0
}

// readHead opens e's path and reads the head through the new descriptor,
// which the entry keeps for this scan. The size, mtime and identity are
// taken from that descriptor (fstat), not from the stat of the path just
// before: a rename in between must not describe one file by another's
// size.
func (f *Follower) readHead(e *entry) error {
	// Through the path, never a descriptor kept from before: after a
	// rename the path holds another file.
	r, err := openReader(f.fs, e.path)
	if err != nil {
		return err
	}
	fi, err := r.stat()
	if err != nil {
		r.close()
		return err
	}
	e.size, e.mtime, e.id = fi.Size(), fi.ModTime(), fileID(fi)
	n := FPMax
	if !e.gz {
		n = int(min(e.size, FPMax))
	}
	buf := make([]byte, n)
	m, err := r.readAt(buf, 0)
	if err != nil && err != errNoMore {
		r.close()
		return err
	}
	e.head = buf[:m]
	if !e.gz {
		// A NUL run at the end may still become data (NFS, sshfs show
		// the size first): only bytes that cannot change are hashed. Real
		// NULs followed by data only make this head shorter.
		e.head = e.head[:m-nulTail(e.head)]
	}
	e.gzDone = r.complete()
	e.rd, e.rdFor = r, nil
	return nil
}

// entryReader returns this scan's descriptor on e's file: the one its head
// was read through, or a new one opened through the path and verified to
// hold the same file (the same head, and a plain file no smaller). It
// fails with errMoved when the path holds another file now, or none.
func (f *Follower) entryReader(e *entry) (reader, error) {
	if e.rd != nil {
		return e.rd, nil
	}
	r, err := openReader(f.fs, e.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = errMoved
		}
		return nil, err
	}
	if err := sameFile(r, e); err != nil {
		r.close()
		return nil, err
	}
	e.rd, e.rdFor = r, nil
	return r, nil
}

// sameFile checks that r holds the file e describes.
func sameFile(r reader, e *entry) error {
	fi, err := r.stat()
	if err != nil {
		return err
	}
	if fi.Size() < e.size {
		return errMoved // cut or replaced: a file under one name only grows
	}
	h := make([]byte, len(e.head))
	n, err := r.readAt(h, 0)
	if err != nil && err != errNoMore {
		return err
	}
	if n < len(h) || !bytes.Equal(h, e.head) {
		return errMoved
	}
	return nil
}

// moved marks e as no longer what its listing said: it is skipped this
// scan and its head is read again at the next.
func (e *entry) setMoved() {
	e.moved, e.recheck = true, true
	e.dropReader()
}

type pairing struct {
	e *entry
	t *track
}

// pair binds free entries to free cursors, most specific cursor first, and
// starts new cursors for the files nothing matched.
func (f *Follower) pair(now time.Time) {
	var ents []*entry
	for _, e := range f.ents {
		e.ghost, e.shadows, e.copyOf, e.waiting, e.moved = nil, nil, nil, false, false
		if e.track == nil && e.err == nil && e.statOK && len(e.head) > 0 {
			ents = append(ents, e)
		}
	}
	if len(ents) == 0 {
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].path < ents[j].path })

	type fpKey struct {
		n int
		h uint64
	}
	idx := map[fpKey][]*track{}
	lens := map[int]bool{}
	for _, t := range f.tracks {
		if t.c.FPLen > 0 {
			idx[fpKey{t.c.FPLen, t.c.FPHash}] = append(idx[fpKey{t.c.FPLen, t.c.FPHash}], t)
			lens[t.c.FPLen] = true
		}
	}
	var ps []pairing
	for _, e := range ents {
		for n := range lens {
			if n <= len(e.head) {
				for _, t := range idx[fpKey{n, fnv64(e.head[:n])}] {
					ps = append(ps, pairing{e, t})
				}
			}
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.t.c.FPLen != b.t.c.FPLen {
			return a.t.c.FPLen > b.t.c.FPLen
		}
		if a.t.c.Offset != b.t.c.Offset {
			return a.t.c.Offset > b.t.c.Offset
		}
		if a.t != b.t {
			return a.t.id < b.t.id
		}
		if ah, bh := a.e.path == a.t.path, b.e.path == b.t.path; ah != bh {
			return ah // the file at the cursor's path wins a tie
		}
		if a.e.gz != b.e.gz {
			return !a.e.gz
		}
		return a.e.path < b.e.path
	})
	for _, p := range ps {
		if p.e.track != nil || p.e.moved || p.e.err != nil {
			continue
		}
		if p.t.ent != nil {
			p.e.shadows = append(p.e.shadows, p.t)
			continue
		}
		switch f.check(p.e, p.t, now) {
		case vFull:
			f.bind(p.e, p.t)
		case vGhost:
			if p.e.ghost == nil {
				p.e.ghost = p.t
			}
		}
	}
	// A file that matches a cursor bound to a smaller file that is a prefix
	// of it is the original of that copy (or a PowerMTA file that had only
	// its header when the cursor was made): the cursor moves to it. On
	// sshfs the smaller one is often the old name still showing the
	// rotated file from the attribute cache while the listing already has
	// its .1 or .gz: the same content, of which the rotated name has more.
	for _, e := range ents {
		if e.track != nil || e.ghost != nil || e.moved || e.err != nil {
			continue
		}
		for _, t := range e.shadows {
			b := t.ent
			if b == nil || b.gz || (!e.gz && e.size <= b.size) || f.check(e, t, now) != vFull {
				continue
			}
			ok, err := f.holds(e, b)
			if err != nil && b.moved && !e.moved {
				// b's path holds another file now (renamed, its stat
				// still cached by sshfs): t's content is at e.
				ok = true
			}
			if !ok {
				continue
			}
			b.track, t.ent = nil, nil
			f.bind(e, t)
			ents = append(ents, b)
			break
		}
	}
	// The rest is new, unless it is a copy of a bound file (copytruncate
	// or gzip in progress, the same file under two names): largest first,
	// so the original is the one read.
	sort.SliceStable(ents, func(i, j int) bool {
		if ents[i].gz != ents[j].gz {
			return !ents[i].gz
		}
		return ents[i].size > ents[j].size
	})
	for _, e := range ents {
		if e.track != nil || e.err != nil || e.ghost != nil || e.moved {
			continue
		}
		if f.copyOfBound(e) {
			continue
		}
		if f.holdsBoundCursor(e, now) {
			// e holds a bound cursor's content up to its offset, yet
			// that cursor's file could not be shown to be a prefix of e
			// (a stale name, a read that failed): read from 0 it would
			// count those lines twice. Looked at again next round.
			e.waiting, e.recheck = true, true
			continue
		}
		if e.gz && !e.gzDone && len(e.head) < FPMax {
			e.waiting = true // too little of a .gz being written to know it
			continue
		}
		// The new cursor reads through the descriptor its head came from
		// (or one verified to hold the same file): opened later through
		// the path, it could read the file renamed there since.
		if _, err := f.entryReader(e); err != nil {
			if err == errMoved {
				e.setMoved()
			} else {
				e.fail(now, err, f.opts.MaxBackoff)
			}
			continue
		}
		t := f.newTrack()
		t.c = state.Cursor{Source: f.opts.Source, Path: e.path}
		t.head = append([]byte(nil), e.head...)
		t.syncFP()
		t.setMark(nil)
		f.bind(e, t)
		if f.startEnd && !f.scanned {
			f.seekEnd(t, now)
		}
	}
}

// holdsBoundCursor reports whether e matches a cursor bound to another
// file at that cursor's offset (fingerprint and marker).
func (f *Follower) holdsBoundCursor(e *entry, now time.Time) bool {
	for _, t := range e.shadows {
		if t.ent != nil && t.ent != e && t.c.Offset > 0 && f.check(e, t, now) == vFull {
			return true
		}
	}
	return false
}

// copyOfBound: e's content is a prefix of (or equal to) a bound file's:
// skip it this round rather than read the same lines twice. When that
// cannot be told (a read failed, a file moved), e waits for the next round
// too: reading it as new could read a copy.
func (f *Follower) copyOfBound(e *entry) bool {
	for _, b := range f.ents {
		if b == e || b.track == nil || b.err != nil {
			continue
		}
		ok, err := f.prefixOf(e, b)
		if err != nil {
			e.waiting, e.recheck = true, true
			return true
		}
		if !ok {
			continue
		}
		e.copyOf = b.track
		if len(e.head) < len(b.head) {
			e.waiting = true
		}
		return true
	}
	return false
}

// prefixOf reports whether small's content is a prefix of big's: the same
// head, no larger, and the same bytes just before small's end. A .gz is
// judged by its head alone (its size is not comparable). The error says
// it could not be told (a read failed, or a file moved since the listing).
func (f *Follower) prefixOf(small, big *entry) (bool, error) {
	if !compatible(small.head, big.head) || len(small.head) > len(big.head) {
		return false, nil
	}
	if small.gz || big.gz {
		return true, nil
	}
	if small.size > big.size {
		return false, nil
	}
	if small.size <= FPMax {
		return true, nil // the head is the whole of small
	}
	if m, ok := small.prefix[big]; ok && m == big.size {
		return true, nil
	}
	a, err := f.readTail(small, small.size)
	if err != nil {
		return false, err
	}
	b, err := f.readTail(big, small.size)
	if err != nil {
		return false, err
	}
	if !bytes.Equal(a, b) {
		return false, nil
	}
	if small.prefix == nil {
		small.prefix = map[*entry]int64{}
	}
	small.prefix[big] = big.size
	return true, nil
}

// holds reports whether big's content starts with all of small's (plain)
// content, read byte for byte where the heads do not tell: a .gz is
// decompressed up to small's end, never judged by its head alone here,
// since the cursor then moves to it.
func (f *Follower) holds(big, small *entry) (bool, error) {
	if !big.gz {
		return f.prefixOf(small, big)
	}
	if small.gz || !compatible(small.head, big.head) || len(small.head) > len(big.head) {
		return false, nil
	}
	if small.size <= int64(len(small.head)) {
		return true, nil // the head is the whole of small, and big starts with it
	}
	a, err := f.readTail(small, small.size)
	if err != nil {
		return false, err
	}
	b, err := f.readTail(big, small.size)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

// readTail reads the MarkMax bytes of e's file before end.
func (f *Follower) readTail(e *entry, end int64) ([]byte, error) {
	r, err := f.entryReader(e)
	if err != nil {
		if err == errMoved {
			e.setMoved()
		}
		return nil, err
	}
	buf := make([]byte, min(end, MarkMax))
	n, err := r.readAt(buf, end-int64(len(buf)))
	if n < len(buf) {
		if err == nil || err == errNoMore {
			err = errNoMore
		}
		return nil, err
	}
	return buf, nil
}

func compatible(a, b []byte) bool {
	n := min(len(a), len(b))
	return bytes.Equal(a[:n], b[:n])
}

// check reads what is needed to decide whether e holds t's content at
// t's offset.
func (f *Follower) check(e *entry, t *track, now time.Time) verdict {
	if len(e.head) < t.c.FPLen || fnv64(e.head[:t.c.FPLen]) != t.c.FPHash {
		return vNone
	}
	if m, ok := e.memo[t]; ok && m.off == t.c.Offset {
		return m.v
	}
	v, mark := f.checkMarker(e, t)
	if v == vErr || v == vMoved {
		return v
	}
	if e.memo == nil {
		e.memo = map[*track]memo{}
	}
	e.memo[t] = memo{t.c.Offset, v, mark}
	return v
}

func (f *Follower) checkMarker(e *entry, t *track) (verdict, []byte) {
	off := t.c.Offset
	if !e.gz && e.size < off {
		return vGhost, nil
	}
	ml := int64(t.c.MarkLen)
	if t.markOK {
		ml = int64(len(t.mark))
	}
	if ml > off {
		return vNone, nil
	}
	// Through the entry's own descriptor: the path may hold another file
	// by now (logrotate shifting mail.log.1 to mail.log.2), whose bytes at
	// off would make e look like a new file.
	r, err := f.entryReader(e)
	if err == errMoved {
		e.setMoved()
		return vMoved, nil
	}
	if err != nil {
		e.fail(f.now(), err, f.opts.MaxBackoff)
		return vErr, nil
	}
	buf := make([]byte, ml)
	n, err := r.readAt(buf, off-ml)
	if err != nil && err != errNoMore {
		e.fail(f.now(), err, f.opts.MaxBackoff)
		return vErr, nil
	}
	if int64(n) < ml {
		return vGhost, nil // a .gz (or a file just cut) shorter than the offset
	}
	if fnv64(buf) != t.c.Marker {
		return vNone, nil
	}
	// The descriptor goes on to read (a .gz one sits at off, which cost
	// decompressing everything before).
	e.rdFor = t
	return vFull, buf
}

// bind attaches t to e, reusing t's descriptor when it is the same path.
func (f *Follower) bind(e *entry, t *track) {
	same := t.r != nil && !t.orphan && t.path == e.path
	if !same {
		t.closeReader() // also forgets the partial line
	}
	if e.rd != nil {
		// The entry's descriptor replaces the old one, which may be
		// another file now at the same path.
		if t.r != nil {
			t.r.close()
		}
		t.r = e.rd
		e.rd, e.rdFor = nil, nil
	}
	if t.lastKey != "" && t.c.Path != e.path {
		// Renamed (mail.log.2.gz now .3.gz): the stored cursor is
		// committed again under the path the file has now, even when
		// nothing is left to read in it, so `sources` names it.
		t.emit = true
	}
	t.orphan, t.err = false, nil
	t.ent, e.track = e, t
	t.path, t.modTime = e.path, e.mtime
	if !e.gz {
		t.size = e.size
	}
	if len(e.head) > len(t.head) {
		t.head = append([]byte(nil), e.head...)
		t.syncFP()
	}
	if m, ok := e.memo[t]; ok && m.v == vFull && !t.markOK {
		t.setMark(m.mark)
	}
}

// seekEnd starts a new track at its last complete line (StartAtEnd).
func (f *Follower) seekEnd(t *track, now time.Time) {
	r := t.r // bind gave it the entry's descriptor
	if r == nil {
		return // read from 0 then; nothing is lost
	}
	var end int64 = -1
	var mark []byte
	if size, ok, err := r.size(); ok && err == nil {
		// Plain: look backwards for the last "\n".
		const blk = 64 << 10
		for pos := size; pos > 0 && end < 0; {
			from := max(pos-blk, 0)
			buf := make([]byte, pos-from)
			n, err := r.readAt(buf, from)
			if err != nil && err != errNoMore || n < len(buf) {
				return
			}
			if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
				end = from + int64(i) + 1
			}
			pos = from
		}
		if end <= 0 {
			return
		}
		ml := min(end, MarkMax)
		mark = make([]byte, ml)
		if n, _ := r.readAt(mark, end-ml); int64(n) < ml {
			return
		}
	} else {
		// .gz: decompress to the end, remembering the last "\n".
		var pos int64
		var last []byte
		buf := make([]byte, 256<<10)
		for {
			n, err := r.readAt(buf, pos)
			if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
				end = pos + int64(i) + 1
				mark = tailBytes(last, buf[:i+1])
			}
			last = tailBytes(last, buf[:n])
			pos += int64(n)
			if err != nil || n == 0 {
				break
			}
		}
		if end <= 0 {
			return
		}
	}
	t.c.Offset = end
	t.setMark(mark)
	t.emit = true
}
