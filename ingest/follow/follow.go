// Package follow is the poll-mode file follower: it finds a source's files by
// glob, reads complete lines only, and says exactly where each chunk of lines
// ends, so the caller can commit the counter deltas and the cursor in one
// bbolt transaction (exactly-once). It neither parses nor writes the database.
//
// # Use
//
//	f := follow.New(follow.Options{Source: "pf", Globs: []string{"/var/log/mail.log*"}}, committed)
//	for every ~250 ms {
//		chunks, err := f.Poll() // err only for programmer errors (bad glob)
//		for _, c := range chunks {
//			if c.NewFile { parser.NewFile(c.Path, c.ModTime, c.Header) }
//			parse c.Data (complete lines, each ending in "\n"); record c.TooLong
//			batch.SetCursor(c.Cursor); if c.PrevKey != "" { delete c.PrevKey in the same batch }
//		}
//		commit the batch
//	}
//	f.Status(); f.CaughtUp(); f.Close()
//
// After a crash, New with the last committed cursors delivers the same lines
// again from the first uncommitted one: nothing is lost or read twice.
//
// # Identity
//
// sshfs and NFS have no inotify and make up inode numbers, so a file is known
// by its content: FPHash is FNV-64a of its first FPLen bytes (uncompressed
// for .gz), FPLen = min(size, 4096), extended as the file grows. Before a
// file is resumed at Offset, Marker (FNV-64a of the MarkLen <= 256 bytes just
// before Offset) must match too; otherwise the content was replaced
// (copytruncate, then rewritten) and the file starts at 0 as a new one.
//
// Each scan lists the globs, stats every file and rereads the head of those
// whose size, mtime or inode changed (the inode is only a change hint), then
// matches files to cursors, longest fingerprint first. A file matches a
// cursor when its head hashes to FPHash, its size is >= Offset and the marker
// matches; the file at the cursor's Path wins a tie. A growing file is
// matched again at every scan, which is where copytruncate is caught.
//
// What a scan learns about a file — head, size, marker check — and the
// descriptor its cursor then reads through all come from one descriptor,
// opened when the stat changed: logrotate may rename another file to the
// path between the listing and a later open (mail.log.1 shifted to
// mail.log.2 while mail.log.2 is checked), and one file's head must never
// be paired with another file's bytes. A path opened again later must show
// the same head (and, plain, be no smaller) and a cursor's head and marker;
// bytes read within the head must agree with it (rewritten in place). If
// not, the file is skipped and looked at again at the next scan.
//
// Copies must not be read twice, different files that share their first
// lines must not be skipped:
//   - a file whose content is a prefix of (or equal to) a bound file's — the
//     same head, no larger, the same bytes before its end; for a .gz the head
//     alone — is a copy (copytruncate or gzip in progress, one file under two
//     names) and is skipped this round;
//   - a file whose head matches a cursor but that is shorter than Offset is a
//     copy of what was already read (copied before the last read) and is
//     never read;
//   - a larger file of which the cursor's bound file is a prefix takes the
//     cursor over (the original of a copy, or a PowerMTA file whose cursor
//     was made while it held only its header: only that header, delivered
//     as Chunk.Header, is skipped);
//   - anything else that matches no cursor starts at 0 (backfill), or at its
//     last complete line with StartAtEnd on a first run (no cursors given).
//
// Files are read strictly oldest first (mtime, then mail.log.2 before
// mail.log.1 before mail.log), each to its end before the next, so parsers
// that correlate across rotations see lines in order.
//
// # sshfs
//
// Seen on a real mount (TestSSHFSExactlyOnce): sshfs caches a path's
// attributes (its own cache, 20 s unless dir_cache=no, then the kernel's,
// 1 s) and numbers inodes by name, so after a rotation the listing can show
// mail.log.1 (or its .gz) while mail.log still has the old file's size. A
// file that holds a bound cursor's content up to its offset is therefore
// never started at 0: it takes the cursor over when the cursor's file is a
// prefix of it or its name no longer holds it, and otherwise waits a round.
// The NUL run an NFS or sshfs client shows at a file's end before the data
// arrives is "not written yet": neither read nor fingerprinted.
//
// # Rotation
//
// Rename rotation needs nothing special: the old content is found by
// fingerprint wherever it now lives and read to its end; the new file starts
// at 0. If the rotated name is not globbed, the descriptor opened earlier is
// kept and drained ("draining" in Status) until it has been idle for
// RotateWait, then closed and its cursor delivered once more with Done set.
// copytruncate shows as size < Offset or a changed head or marker: that path
// starts again at 0, and the copy, if globbed, is recognised by fingerprint so
// only its unread tail is read. Rotated .gz files are read by decompressing;
// a file gzipped after being read matches its old cursor and only the unread
// part (usually nothing) is read. A .gz still being written (cut-off stream)
// reads as "no more data yet", never as an error or a partial line.
//
// # Lines
//
// A chunk ends just after a "\n"; a partial last line stays unread (in
// memory only) until completed. "\r" of CRLF lines is left in Data for the
// parser. Lines longer than MaxLineBytes (without the "\n") are skipped,
// reported in Chunk.TooLong with their offset, and counted in
// Cursor.Rejected and Cursor.Lines; the follower never stalls on them.
//
// # Errors
//
// A glob, stat or read error (ENOTCONN, EIO, ESTALE, the directory gone) marks
// the source and the file stale with the error text and time and retries with
// exponential backoff (250 ms doubling, capped at MaxBackoff, 5 s). When a
// directory listing fails nothing of the source is read that round and every
// descriptor is closed (sshfs handles do not survive a reconnect); when the
// files come back they are matched again by fingerprint and marker, so
// reading resumes at the committed offsets. The follower never exits the
// process and never panics on I/O.
//
// A Follower is used by one goroutine (Poll, Account, Close); Status and
// CaughtUp may be called from any goroutine.
package follow

import (
	"errors"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"cutover/state"
)

// Limits of the fingerprint and marker, and defaults.
const (
	FPMax                = 4096
	MarkMax              = 256
	DefaultMaxChunkBytes = 1 << 20
	DefaultMaxPollBytes  = 8 << 20
	DefaultMaxLineBytes  = 4 << 20
	DefaultRotateWait    = 5 * time.Second
	DefaultMaxBackoff    = 5 * time.Second
	DefaultUnreachable   = 30 * time.Second
	minBackoff           = 250 * time.Millisecond
	activeFor            = 10 * time.Second
)

// Options configure a Follower. Zero values take the defaults.
type Options struct {
	Source string   // configured source name, copied into cursors
	Globs  []string // e.g. /var/log/mail.log* or /var/log/pmta/acct-*.csv
	// MaxChunkBytes bounds a chunk's Data (1 MiB); a single line longer
	// than that is still delivered whole, up to MaxLineBytes.
	MaxChunkBytes int
	// MaxPollBytes bounds what one Poll reads (8 MiB, at least
	// MaxChunkBytes). Files are read oldest first (modification time,
	// then mail.log.2 before mail.log.1 before mail.log), each to its end
	// before the next.
	MaxPollBytes int
	// MaxLineBytes is the longest line delivered (4 MiB, without "\n").
	MaxLineBytes int
	// StartAtEnd starts files that match no cursor at the first scan at
	// their last complete line (first-time live follow of huge files).
	// Files that appear later always start at 0.
	StartAtEnd bool
	// RotateWait is how long a file rotated out of the globs must stay
	// idle at its end before its descriptor is closed (5 s).
	RotateWait time.Duration
	// MaxBackoff caps the retry delay after I/O errors (5 s).
	MaxBackoff time.Duration
	// UnreachableAfter turns a listing error that lasts this long from
	// stale into unreachable (30 s).
	UnreachableAfter time.Duration
	Now              func() time.Time // clock, time.Now by default
	FS               FS               // file system, OS{} by default
}

// Chunk is what one file yielded in one Poll.
type Chunk struct {
	Path    string    // where the file is now
	ModTime time.Time // its modification time (year inference)
	// NewFile is set when these lines come from another file than the
	// previous chunk of this Follower (the first chunk, or files that
	// interleave): call parser.NewFile(Path, ModTime, Header).
	NewFile bool
	// Header is the file's first line, without "\n" or "\r\n", when
	// NewFile is set and Data starts past offset 0 (PowerMTA needs it);
	// otherwise nil (at offset 0 the first line is in Data).
	Header []byte
	// Data is complete lines, each ending in "\n" ("\r\n" lines keep their
	// "\r"); it spans [Cursor.Offset-len(Data), Cursor.Offset) of the
	// file. It is empty when only the cursor moved (a line skipped as too
	// long, StartAtEnd, Done).
	Data []byte
	// Cursor is the cursor to commit once Data is accounted for: Offset is
	// just after Data's last line (or after the skipped line).
	Cursor state.Cursor
	// PrevKey is the key this file's cursor was last delivered (or given to
	// New) under, when the fingerprint grew and Cursor.Key() changed; delete
	// it in the same transaction. Empty otherwise.
	PrevKey string
	// TooLong is a line skipped for exceeding MaxLineBytes; such a chunk
	// has no Data, so line offsets in Data stay contiguous.
	TooLong []LongLine

	t   *track
	buf *[]byte // pooled buffer Data lies in (Release)
	// ev0 and rej0 are the cursor's counts when the chunk was made,
	// before any Account: the base Account adds its totals to.
	ev0, rej0 int64
}

// LongLine is a line skipped for length.
type LongLine struct {
	Offset int64 // where the line starts
	Length int64 // its length including "\n"
	Line   int64 // its number in the file, from 1
}

// Follower follows one source. See the package doc.
type Follower struct {
	opts     Options
	fs       FS
	now      func() time.Time
	bad      error // programmer error reported by Poll
	closed   bool
	tracks   []*track
	ents     map[string]*entry
	nextID   int
	scanned  bool // a scan has succeeded (StartAtEnd applies before it)
	startEnd bool // StartAtEnd and no cursor was given: a first run
	last     *track
	lastPath string
	pending  []Chunk // Done cursors to deliver
	// unmatched are the globs the last listing found no file for.
	unmatched []string

	srcErr   error
	errSince time.Time
	errN     int
	retryAt  time.Time
	lastScan time.Time
	lastData time.Time

	mu     sync.Mutex
	status SourceStatus
	caught bool
}

// New makes a follower for opts.Source, resuming at cursors (those of other
// sources are ignored). It opens nothing until the first Poll.
func New(opts Options, cursors []state.Cursor) *Follower {
	if opts.MaxChunkBytes <= 0 {
		opts.MaxChunkBytes = DefaultMaxChunkBytes
	}
	if opts.MaxPollBytes <= 0 {
		opts.MaxPollBytes = DefaultMaxPollBytes
	}
	if opts.MaxPollBytes < opts.MaxChunkBytes {
		opts.MaxPollBytes = opts.MaxChunkBytes
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.RotateWait <= 0 {
		opts.RotateWait = DefaultRotateWait
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.UnreachableAfter <= 0 {
		opts.UnreachableAfter = DefaultUnreachable
	}
	f := &Follower{opts: opts, fs: opts.FS, now: opts.Now, ents: map[string]*entry{}}
	if f.fs == nil {
		f.fs = OS{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if len(opts.Globs) == 0 {
		f.bad = errors.New("follow: no globs for source " + opts.Source)
	}
	for _, g := range opts.Globs {
		if _, err := filepath.Match(g, ""); err != nil {
			f.bad = errors.New("follow: bad glob " + g + ": " + err.Error())
		}
	}
	for _, c := range cursors {
		if c.Source != opts.Source || c.FPLen <= 0 {
			continue // an empty fingerprint would match every file
		}
		t := f.newTrack()
		t.c = c
		t.lastKey = c.Key()
		t.path = c.Path
		t.logTime = c.LastLine
	}
	f.startEnd = opts.StartAtEnd && len(f.tracks) == 0
	f.status = SourceStatus{Source: opts.Source, State: Waiting}
	return f
}

func (f *Follower) newTrack() *track {
	t := &track{id: f.nextID}
	f.nextID++
	f.tracks = append(f.tracks, t)
	return t
}

// Poll scans the globs (unless backing off after an error) and reads up to
// the limits. The error is only for programmer errors (bad glob, closed);
// I/O problems go to Status.
func (f *Follower) Poll() ([]Chunk, error) {
	if f.bad != nil {
		return nil, f.bad
	}
	if f.closed {
		return nil, errors.New("follow: poll after close")
	}
	now := f.now()
	out := f.pending
	f.pending = nil
	if f.srcErr == nil || !now.Before(f.retryAt) {
		if err := f.scan(now); err != nil {
			f.sourceFailed(now, err)
		} else {
			f.srcErr, f.errN = nil, 0
			f.scanned = true
			f.lastScan = now
			out = f.readAll(now, out)
		}
	}
	f.publish(now)
	return out, nil
}

func (f *Follower) sourceFailed(now time.Time, err error) {
	if f.srcErr == nil {
		f.errSince = now
	}
	f.srcErr = err
	f.errN++
	f.retryAt = now.Add(backoff(f.errN, f.opts.MaxBackoff))
	// Nothing listed can be trusted now: drop every binding and close the
	// descriptors (sshfs handles die on reconnect). When the files are back
	// they are verified again by fingerprint and marker.
	for _, t := range f.tracks {
		if !t.orphan {
			t.unbind()
		}
	}
	f.ents = map[string]*entry{}
}

func backoff(n int, max time.Duration) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// readAll reads the bound files, oldest first, within the poll budget.
func (f *Follower) readAll(now time.Time, out []Chunk) []Chunk {
	var ts []*track
	for _, t := range f.tracks {
		if t.ent != nil || t.orphan {
			ts = append(ts, t)
		}
	}
	sort.SliceStable(ts, func(i, j int) bool {
		a, b := ts[i], ts[j]
		if a.orphan != b.orphan {
			return a.orphan // rotated away: the oldest content
		}
		if !a.modTime.Equal(b.modTime) {
			return a.modTime.Before(b.modTime)
		}
		if a.path != b.path {
			return a.path > b.path // mail.log.2 before mail.log.1 before mail.log
		}
		return a.id < b.id
	})
	// Strictly in order: a newer file waits until the older ones are read
	// to their end (Postfix expiry attribution spans rotations). A file
	// that fails does not hold the others up.
	budget := f.opts.MaxPollBytes
	stop := false
	for _, t := range ts {
		if stop || budget <= 0 {
			t.eof = false
			continue
		}
		var n int
		out, n = f.readTrack(t, now, budget, out)
		budget -= n
		failed := t.ent == nil && !t.orphan // its read failed (or an orphan closed)
		if !t.eof && !failed {
			stop = true
		}
	}
	return out
}

// Account adds what the caller made of a chunk (events produced, lines
// rejected by the parser) to its cursor and to the file's running totals, so
// later cursors of that file carry them. Call it for each chunk of a file in
// the order Poll returned them; it is safe to call from another goroutine
// than Poll's (the pipeline accounts a chunk while the next is being read).
func (f *Follower) Account(c *Chunk, events, rejected int64) {
	if c.t == nil {
		c.Cursor.Events += events
		c.Cursor.Rejected += rejected
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c.t.accEv += events
	c.t.accRej += rejected
	// The file's totals as of this chunk, which is accounted after every
	// earlier one: later chunks may already have been made.
	c.Cursor.Events = c.ev0 + c.t.accEv
	c.Cursor.Rejected = c.rej0 + c.t.accRej
}

// LogTime records the newest time the caller found in c's lines (the log's
// own clock), so that the cursor's LastLine, and later cursors of the same
// file, show when the log says its last line was written, never when the
// follower read it. Call it before taking c.Cursor, in Poll's order, like
// Account; a zero ts changes nothing.
func (f *Follower) LogTime(c *Chunk, ts time.Time) {
	if c.t == nil {
		if ts.After(c.Cursor.LastLine) {
			c.Cursor.LastLine = ts
		}
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ts.After(c.t.logTime) {
		c.t.logTime = ts
	}
	if c.t.logTime.After(c.Cursor.LastLine) {
		c.Cursor.LastLine = c.t.logTime
	}
}

// Release hands the chunk's buffer back for later reads, once nothing
// refers to Data any more (the caller has parsed it and kept only copies).
// Optional: an unreleased chunk is simply collected. Safe from any
// goroutine.
func (f *Follower) Release(c *Chunk) {
	putBuf(c.buf)
	c.buf, c.Data = nil, nil
}

// Close closes every descriptor. Poll fails afterwards.
func (f *Follower) Close() error {
	var first error
	for _, t := range f.tracks {
		if t.r != nil {
			if err := t.r.close(); err != nil && first == nil {
				first = err
			}
			t.r = nil
		}
	}
	f.closed = true
	return first
}
