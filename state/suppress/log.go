package suppress

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

// Bucket names (prefixed so they never collide with package state's).
var (
	bktMeta  = []byte("suppress_meta")
	bktAddr  = []byte("suppress_addr")
	bktStats = []byte("suppress_stats")
	bktDict  = []byte("suppress_dict")
)

var (
	metaSchema = []byte("schema") // uint32
	metaSeq    = []byte("seq")    // uint64: last seq indexed
	metaOff    = []byte("off")    // uint64: log bytes indexed (just after a newline)
	metaLast   = []byte("last")   // [32]: sha256 of the last line indexed
	metaFirst  = []byte("first")  // [32]: sha256 of line 1 (which log this index belongs to)
)

const schemaVersion = 2

// DefaultLogName is the log's file name next to the database.
const DefaultLogName = "suppressions.jsonl"

// DefaultLogPath is where the canonical log lives when no path is given:
// suppressions.jsonl in the database's directory, unless another database
// there already owns that file (see claim.go): then the log is named after
// this database, <name>.suppressions.jsonl. A named log, once it exists,
// stays this database's log.
func DefaultLogPath(dbPath string) string {
	named := namedLogPath(dbPath)
	if _, err := os.Lstat(named); err == nil {
		return named
	}
	shared := filepath.Join(filepath.Dir(dbPath), DefaultLogName)
	if claimedByOther(shared, dbPath) != "" {
		return named
	}
	return shared
}

// Errors Open returns when the index and the log disagree. Both mean the
// log lost or changed lines the index had seen: cutover never guesses which
// is right. Run VerifyLog, restore the log from a backup, or RebuildIndex to
// accept the log as it is now.
var (
	ErrIndexAhead    = errors.New("suppression index is ahead of the log")
	ErrIndexMismatch = errors.New("suppression index does not match the log")
	ErrLogCorrupt    = errors.New("suppression log is corrupt")
	ErrLogLocked     = errors.New("suppression log is in use by another process")
)

// Options configure Open. The zero value gives the defaults.
type Options struct {
	// Now stamps "recorded"; default time.Now.
	Now func() time.Time
	// IndexBatch is how many appended events are held in memory before the
	// bbolt index is written (the log itself is fsynced on every Append).
	// Fewer, larger index commits make a big import faster (every commit
	// rewrites the B+tree pages it touched, and random addresses touch most
	// of them) but hold more memory: bbolt materialises every touched page.
	// Default 125,000 (a 1M-row import peaks near 120 MB RSS).
	IndexBatch int
	// Rebuild drops the index and rebuilds it from the log alone.
	Rebuild bool
	// ReadOnly opens without writing or locking anything: no torn-tail
	// repair, no index catch-up (a stale index is reported in Notices), no
	// Append. Reads see the index as committed. Use it with a database
	// opened read-only, or next to a writer (metrics, checks).
	ReadOnly bool
}

const defaultIndexBatch = 125_000

// Log is the canonical suppression log plus its bbolt index. Its methods are
// safe for concurrent use.
type Log struct {
	db   *state.DB
	path string
	f    *os.File
	opt  Options

	mu      sync.Mutex
	size    int64    // bytes of complete lines in the log
	seq     uint64   // seq of the last line
	last    [32]byte // sha256 of the last line
	first   [32]byte // sha256 of line 1 (zero while empty)
	indexed anchor   // what the bbolt index covers

	dict      *dict
	pending   pendingSet // records changed since the index was written
	pendStats statDelta
	pendN     int // events in pending

	scratch record // decode buffer
	// filter, built by the first Append, says which addresses are
	// certainly not indexed (nil: look every one up).
	filter *addrFilter

	notices []string
	broken  error // a failed write: the Log must be reopened
	buf     []byte
	closed  bool
}

// anchor is the position the index has reached in the log.
type anchor struct {
	schema uint32
	seq    uint64
	off    int64
	last   [32]byte
	first  [32]byte
}

// Open opens (creating if needed) the log at path ("" = DefaultLogPath next
// to the database) and brings the index up to date with it:
//
//   - A last line without a newline (a write cut by a crash) is moved to
//     <log>.torn-<time> and cut off, with a notice: it was never
//     acknowledged, so the import that wrote it will append it again.
//   - Lines after the position the index records (a crash between the log
//     fsync and the index commit) are read back into the index, checking
//     their chain.
//   - If the log is shorter than the index or its lines differ from what was
//     indexed, Open fails with ErrIndexAhead / ErrIndexMismatch rather than
//     hide lost events.
//
// The file is locked (flock) so a second writer fails with ErrLogLocked.
func Open(db *state.DB, path string, opt Options) (*Log, error) {
	defaulted := path == ""
	if defaulted {
		path = DefaultLogPath(db.Path())
	}
	if other := claimedByOther(path, db.Path()); other != "" {
		return nil, fmt.Errorf("%w: %s is indexed by database %s (named in %s); a log belongs to exactly one database: give %s its own log (--log), or remove %s if %s no longer uses it",
			ErrLogClaimed, path, other, ClaimPath(path), db.Path(), ClaimPath(path), other)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.IndexBatch <= 0 {
		opt.IndexBatch = defaultIndexBatch
	}
	l := &Log{db: db, path: path, opt: opt}
	l.pending.reset()

	var f *os.File
	var err error
	created := false
	if opt.ReadOnly {
		f, err = os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			f = nil
			err = nil
		}
	} else {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			created = true
		}
		// The log holds addresses (personal data): owner only. Never
		// through a planted symlink.
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND|state.NoFollow, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("open suppression log: %w", err)
	}
	if f != nil {
		fi, serr := f.Stat()
		if serr == nil && !fi.Mode().IsRegular() {
			serr = fmt.Errorf("%s is not a regular file", path)
		}
		if serr == nil {
			serr = checkIsLog(f, fi.Size(), path)
		}
		if serr != nil {
			f.Close()
			if created {
				os.Remove(path)
			}
			return nil, fmt.Errorf("open suppression log: %w", serr)
		}
	}
	l.f = f
	// A reader takes no lock: it reads the log as of Open and the index as
	// committed, so a metrics scrape or a check never waits for (or blocks)
	// the writer, which may be in this very process.
	if f != nil && !opt.ReadOnly {
		if err := lockFile(f, true); err != nil {
			f.Close()
			if errors.Is(err, errWouldBlock) {
				return nil, fmt.Errorf("%w: %s", ErrLogLocked, path)
			}
			return nil, fmt.Errorf("lock suppression log %s: %w", path, err)
		}
	}
	if created {
		// The new directory entry must survive a crash too.
		syncDir(filepath.Dir(path))
	}
	if !opt.ReadOnly {
		if err := writeClaim(path, db.Path()); err != nil {
			l.closeFile()
			return nil, err
		}
	}
	if shared := filepath.Join(filepath.Dir(path), DefaultLogName); defaulted && path != shared {
		if other := claimedByOther(shared, db.Path()); other != "" {
			l.notices = append(l.notices, fmt.Sprintf("%s belongs to database %s: this database's suppression log is %s", shared, other, path))
		}
	}
	if err := l.open(); err != nil {
		l.closeFile()
		return nil, err
	}
	return l, nil
}

func (l *Log) open() error {
	var a anchor
	var err error
	if l.opt.ReadOnly {
		// The anchor before the size: a writer fsyncs lines before it
		// commits their anchor, so the size read next is never behind it.
		if a, err = readAnchor(l.db); err != nil {
			return err
		}
	}
	if l.f != nil {
		fi, err := l.f.Stat()
		if err != nil {
			return err
		}
		l.size = fi.Size()
		if err := l.handleTornTail(); err != nil {
			return err
		}
	}
	if l.opt.Rebuild {
		if l.opt.ReadOnly {
			return errors.New("suppression index: rebuild needs a read-write open")
		}
		if err := l.dropIndex(); err != nil {
			return err
		}
		l.notices = append(l.notices, "suppression index dropped; rebuilding it from "+l.path)
	}
	if !l.opt.ReadOnly {
		if a, err = readAnchor(l.db); err != nil {
			return err
		}
	}
	if a.schema != 0 && a.schema < schemaVersion && !l.opt.ReadOnly {
		// The index is derived: an older layout is rebuilt from the log.
		if err := l.dropIndex(); err != nil {
			return err
		}
		l.notices = append(l.notices, fmt.Sprintf("suppression index layout %d is older than %d; rebuilding it from %s", a.schema, schemaVersion, l.path))
		a = anchor{}
	}
	if a.off == 0 && !l.opt.ReadOnly && !l.opt.Rebuild {
		// No anchor: whatever is in the other buckets (an interrupted
		// rebuild) is not trusted. The log is the truth.
		if err := l.dropIndex(); err != nil {
			return err
		}
		if l.size > 0 {
			l.notices = append(l.notices, "suppression index was empty; building it from "+l.path)
		}
	}
	l.indexed = a
	if l.dict, err = loadDict(l.db); err != nil {
		return err
	}
	if a.off > l.size {
		return fmt.Errorf("%w: the index holds %d events up to byte %d of %s, but the log has only %d bytes: lines were lost (log restored from an older copy, truncated or replaced). Restore the log, or rebuild the index to accept the log as it is",
			ErrIndexAhead, a.seq, a.off, l.path, l.size)
	}
	if a.off > 0 {
		if err := l.checkAnchor(a); err != nil {
			return err
		}
	}
	// Start from the indexed position and read the rest back.
	l.seq, l.last, l.first = a.seq, a.last, a.first
	if a.off == 0 {
		l.last = genesis()
	}
	if a.off < l.size {
		if l.opt.ReadOnly {
			// Not read here: a reader sees the index as committed.
			l.notices = append(l.notices, fmt.Sprintf("suppression index is behind the log by %d bytes (a writer has not committed it yet, or an import was interrupted); a read-write open catches up", l.size-a.off))
			return nil
		}
		if err := l.scanTail(a.off, true); err != nil {
			return err
		}
		if a.off > 0 {
			l.notices = append(l.notices, fmt.Sprintf("suppression index caught up with %d events the log had beyond it (an import was interrupted after its log write)", l.seq-a.seq))
		}
		if err := l.flush(); err != nil {
			return err
		}
	}
	return nil
}

func genesis() [32]byte {
	var g [32]byte // hex of zeros is model.GenesisPrev
	return g
}

func prevHex(h [32]byte) string { return hex.EncodeToString(h[:]) }

// handleTornTail cuts off bytes after the last newline.
func (l *Log) handleTornTail() error {
	if l.size == 0 {
		return nil
	}
	end, err := lastNewlineEnd(l.f, l.size)
	if err != nil {
		return err
	}
	if end == l.size {
		return nil
	}
	if l.opt.ReadOnly {
		l.notices = append(l.notices, fmt.Sprintf("suppression log %s ends with an incomplete line (%d bytes without newline: a write in progress, or an interrupted import); it is ignored", l.path, l.size-end))
		l.size = end
		return nil
	}
	if l.size-end > maxLogLine {
		// No write of cutover's leaves that much: not a torn line, damage.
		return fmt.Errorf("%w: %s ends with %d bytes without a newline after byte %d, more than any line cutover writes; run verify-log", ErrLogCorrupt, l.path, l.size-end, end)
	}
	torn := make([]byte, l.size-end)
	if _, err := l.f.ReadAt(torn, end); err != nil {
		return fmt.Errorf("read torn tail of %s: %w", l.path, err)
	}
	keep := fmt.Sprintf("%s.torn-%d", l.path, l.opt.Now().UnixNano())
	if err := writeFileSync(keep, torn); err != nil {
		return fmt.Errorf("save torn tail of %s: %w", l.path, err)
	}
	if err := l.f.Truncate(end); err != nil {
		return fmt.Errorf("cut torn tail of %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	l.notices = append(l.notices, fmt.Sprintf("suppression log %s ended with an incomplete line (%d bytes without newline: an import was interrupted mid-write); saved to %s and cut off. It was never acknowledged: rerun the import to complete it", l.path, len(torn), keep))
	l.size = end
	return nil
}

// lastNewlineEnd returns the offset just after the last '\n' in the first
// size bytes of f (0 if none).
func lastNewlineEnd(f io.ReaderAt, size int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		start := max(end-chunk, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// checkAnchor proves the log still holds, unchanged, the lines the index
// was built from: line 1 and the last indexed line hash as recorded.
func (l *Log) checkAnchor(a anchor) error {
	line, err := readLineEndingAt(l.f, a.off)
	if err != nil {
		return fmt.Errorf("%w: read the last indexed line of %s: %v", ErrIndexMismatch, l.path, err)
	}
	if sha256.Sum256(line) != a.last {
		return fmt.Errorf("%w: the line ending at byte %d of %s (seq %d) is not the one that was indexed: the log was edited or replaced. Run verify-log; restore the log, or rebuild the index to accept it as it is",
			ErrIndexMismatch, a.off, l.path, a.seq)
	}
	first, err := readLineAt(l.f, 0)
	if err != nil {
		return fmt.Errorf("%w: read line 1 of %s: %v", ErrIndexMismatch, l.path, err)
	}
	if sha256.Sum256(first) != a.first {
		return fmt.Errorf("%w: line 1 of %s is not the one that was indexed: this is another log, or it was edited. Run verify-log; restore the log, or rebuild the index to accept it as it is",
			ErrIndexMismatch, l.path)
	}
	return nil
}

// readLineEndingAt returns the line whose newline is at end-1.
func readLineEndingAt(f io.ReaderAt, end int64) ([]byte, error) {
	if end <= 0 {
		return nil, errors.New("no line")
	}
	nl := []byte{0}
	if _, err := f.ReadAt(nl, end-1); err != nil {
		return nil, err
	}
	if nl[0] != '\n' {
		return nil, fmt.Errorf("byte %d is not a newline", end-1)
	}
	start, err := lastNewlineEnd(f, end-1)
	if err != nil {
		return nil, err
	}
	line := make([]byte, end-1-start)
	_, err = f.ReadAt(line, start)
	return line, err
}

// readLineAt returns the line starting at off (without its newline).
func readLineAt(f io.ReaderAt, off int64) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	chunk := make([]byte, 4096)
	for {
		n, err := f.ReadAt(chunk, off+int64(len(buf)))
		if i := bytes.IndexByte(chunk[:n], '\n'); i >= 0 {
			return append(buf, chunk[:i]...), nil
		}
		buf = append(buf, chunk[:n]...)
		if err == io.EOF {
			return nil, fmt.Errorf("no newline after byte %d", off)
		}
		if err != nil {
			return nil, err
		}
		if len(buf) > 16<<20 {
			return nil, fmt.Errorf("line at byte %d longer than 16 MiB", off)
		}
	}
}

// scanTail reads lines [from, l.size), checks their chain and sequence and,
// when apply is set, adds them to the index (flushing every IndexBatch).
func (l *Log) scanTail(from int64, apply bool) error {
	r := bufio.NewReaderSize(io.NewSectionReader(l.f, from, l.size-from), 1<<20)
	off := from
	var long []byte
	const chunkN = 4096
	evs := make([]model.SuppressionEvent, 0, chunkN)
	offs := make([]int64, 0, chunkN)
	applyChunk := func() error {
		if !apply || len(evs) == 0 {
			return nil
		}
		err := l.db.View(func(tx *bbolt.Tx) error {
			cur := addrCursor(tx)
			for i := range evs {
				e := &evs[i]
				if _, err := l.recordFor(cur, e.Addr, &l.scratch); err != nil {
					return err
				}
				k := l.keyOf(e)
				// A log written by cutover never holds the same event twice;
				// if one does, the first is indexed.
				if !l.scratch.has(k) {
					l.scratch.add(k, whenOf(e), offs[i], &l.pendStats)
					l.pending.put(e.Addr, &l.scratch)
					if l.filter != nil {
						l.filter.add(e.Addr)
					}
					l.pendN++
				}
			}
			return nil
		})
		evs, offs = evs[:0], offs[:0]
		if err != nil {
			return err
		}
		// Flush outside the read transaction (a write would wait for it).
		if l.pendN >= l.opt.IndexBatch {
			return l.flushAt(off)
		}
		return nil
	}
	for off < l.size {
		chunk, _, tooLong, err := readLogLine(r, &long)
		if err != nil {
			return fmt.Errorf("%w: read %s at byte %d: %v", ErrLogCorrupt, l.path, off, err)
		}
		if tooLong {
			return fmt.Errorf("%w: %s line %d (byte %d) is longer than %d bytes; run verify-log", ErrLogCorrupt, l.path, l.seq+1, off, maxLogLine)
		}
		line := chunk[:len(chunk)-1]
		e, perr := model.ParseSuppressionEvent(line)
		if perr == nil && e.Seq != l.seq+1 {
			perr = fmt.Errorf("seq %d, want %d", e.Seq, l.seq+1)
		}
		if perr == nil && e.Prev != prevHex(l.last) {
			perr = fmt.Errorf("prev %.16s... does not match the sha256 of the line before (%.16s...)", e.Prev, prevHex(l.last))
		}
		if perr != nil {
			return fmt.Errorf("%w: %s line %d (byte %d): %v; run verify-log", ErrLogCorrupt, l.path, l.seq+1, off, perr)
		}
		h := sha256.Sum256(line)
		if l.seq == 0 {
			l.first = h
		}
		l.seq, l.last = e.Seq, h
		evs = append(evs, e)
		offs = append(offs, off)
		off += int64(len(chunk))
		if len(evs) == chunkN {
			if err := applyChunk(); err != nil {
				return err
			}
		}
	}
	return applyChunk()
}

// recordFor decodes into dst the record of addr: pending, else indexed
// (through cur, a cursor on suppress_addr reused across calls: Bucket.Get
// would allocate a cursor per lookup), else empty. found says whether
// there was one.
func (l *Log) recordFor(cur *bbolt.Cursor, addr string, dst *record) (found bool, err error) {
	// The filter holds every pending address too: a new address (most of a
	// first import) costs neither a map lookup nor a seek.
	if l.filter != nil && !l.filter.mayHave(addr) {
		*dst = record{events: dst.events[:0]}
		return false, nil
	}
	if b, ok := l.pending.get(addr); ok {
		return true, decodeInto(dst, b)
	}
	if cur != nil {
		if k, v := cur.Seek([]byte(addr)); k != nil && string(k) == addr {
			if err := decodeInto(dst, v); err != nil {
				return false, fmt.Errorf("%w for %q: rebuild the index", err, addr)
			}
			return true, nil
		}
	}
	*dst = record{events: dst.events[:0]}
	return false, nil
}

func addrCursor(tx *bbolt.Tx) *bbolt.Cursor {
	if b := tx.Bucket(bktAddr); b != nil {
		return b.Cursor()
	}
	return nil
}

// keyOf is e's dedupe key (the address aside); it may add the source and
// scope to the dictionary.
func (l *Log) keyOf(e *model.SuppressionEvent) key {
	k := key{typ: typeIndex(e.Type), source: l.dict.id(e.Source), scope: l.dict.id(e.Scope)}
	if !e.TS.IsZero() {
		k.hasTS, k.ts = true, stampOf(e.TS)
	}
	return k
}

func whenOf(e *model.SuppressionEvent) stamp {
	if !e.TS.IsZero() {
		return stampOf(e.TS)
	}
	return stampOf(e.Recorded)
}

// Path is the log file.
func (l *Log) Path() string { return l.path }

// Notices are things Open did or found that an operator should read (a torn
// last line cut off, an index caught up after a crash, a rebuild).
func (l *Log) Notices() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.notices)
}

// LastSeq is the seq of the last line in the log.
func (l *Log) LastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Append adds the events that are not already in the log, in order, as one
// batch: one write and one fsync of the log; the index follows in memory
// and is committed every IndexBatch events (and by Flush and Close).
//
// Each event must have a valid Type, an Addr in normal form
// (model.NormalizeAddress), a Source and a Scope; Append fills V, Seq,
// Recorded and Prev. On return evs[i].Seq is 0 for an event that was a
// duplicate: same (addr, type, scope, source, ts) as one already logged or
// earlier in evs. The same unsubscribe exported by two providers differs in
// source, so it is two events (one address in the index).
//
// After a failed write the Log refuses further appends: reopen it, which
// cuts any partial line and catches the index up.
func (l *Log) Append(evs []model.SuppressionEvent) (appended int, err error) {
	for i := range evs {
		if err := checkEvent(&evs[i]); err != nil {
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, errors.New("suppression log is closed")
	}
	if l.opt.ReadOnly {
		return 0, errors.New("suppression log opened read-only")
	}
	if l.broken != nil {
		return 0, fmt.Errorf("suppression log: an earlier write failed (%v); reopen it", l.broken)
	}
	now := l.opt.Now().UTC().Truncate(time.Second)
	// ~330 bytes a line; a buffer that fits avoids regrowing it per batch.
	buf := l.buf[:0]
	if need := len(evs) * 400; cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	seq, last, first := l.seq, l.last, l.first
	// Records go straight into pending: if anything fails after the first
	// one changed, the Log is marked broken and pending is never committed
	// (reopening rebuilds it from the log).
	rec := &l.scratch
	n := 0
	var hexBuf [64]byte
	err = l.db.View(func(tx *bbolt.Tx) error {
		if l.filter == nil || l.filter.full() {
			l.filter = buildFilter(tx, &l.pending)
		}
		cur := addrCursor(tx)
		for i := range evs {
			e := &evs[i]
			e.Seq = 0
			if _, err := l.recordFor(cur, e.Addr, rec); err != nil {
				return err
			}
			k := l.keyOf(e)
			if rec.has(k) {
				continue
			}
			seq++
			hex.Encode(hexBuf[:], last[:]) // one allocation for Prev, not two
			e.V, e.Seq, e.Recorded, e.Prev = model.SuppressionVersion, seq, now, string(hexBuf[:])
			start := len(buf)
			buf = e.AppendJSON(buf)
			last = sha256.Sum256(buf[start:])
			if seq == 1 {
				first = last
			}
			buf = append(buf, '\n')
			rec.add(k, whenOf(e), l.size+int64(start), &l.pendStats)
			l.pending.put(e.Addr, rec)
			l.filter.add(e.Addr)
			n++
		}
		return nil
	})
	if err == nil && n > 0 {
		err = l.write(buf)
	}
	if cap(buf) <= 8<<20 {
		l.buf = buf[:0]
	}
	if err != nil {
		if n > 0 {
			l.broken = err
		}
		for i := range evs {
			evs[i].Seq = 0
		}
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	l.pendN += n
	l.size += int64(len(buf))
	l.seq, l.last, l.first = seq, last, first
	if testHookAfterLogSync != nil {
		testHookAfterLogSync()
	}
	if l.pendN >= l.opt.IndexBatch {
		if err := l.flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// testHookAfterLogSync runs after a batch is durable in the log and before
// the index is written (crash tests).
var testHookAfterLogSync func()

func checkEvent(e *model.SuppressionEvent) error {
	if !e.Type.Valid() {
		return fmt.Errorf("invalid type %q", e.Type)
	}
	if n, _, err := model.NormalizeAddress(e.Addr); err != nil || n != e.Addr {
		return fmt.Errorf("address %q is not in normal form", e.Addr)
	}
	if e.Source == "" || e.Scope == "" {
		return errors.New("empty source or scope")
	}
	if !e.TS.IsZero() && (e.TS.Year() < 1 || e.TS.Year() > 9999) {
		return fmt.Errorf("ts %v out of range", e.TS)
	}
	return nil
}

// write appends buf to the log and fsyncs; on failure it tries to cut the
// log back to its previous size and marks the Log broken.
func (l *Log) write(buf []byte) error {
	_, err := l.f.Write(buf)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		if terr := l.f.Truncate(l.size); terr == nil {
			l.f.Sync()
		}
		l.broken = err
		return fmt.Errorf("write suppression log %s: %w", l.path, err)
	}
	return nil
}

// Flush commits the pending index to bbolt.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flush()
}

func (l *Log) flush() error { return l.flushAt(l.size) }

// flushAt writes the pending records, dictionary entries, statistics and
// the anchor (seq, last, first as they are now; off = the log bytes those
// cover) in one commit.
func (l *Log) flushAt(off int64) error {
	if l.opt.ReadOnly {
		return nil
	}
	if l.broken != nil {
		return fmt.Errorf("suppression log: an earlier write failed (%v); reopen it", l.broken)
	}
	if l.pending.len() == 0 && len(l.dict.pend) == 0 && l.indexed.off == off && l.indexed.seq == l.seq {
		return nil
	}
	// Each key with its record's offset: the puts then need no map lookup.
	keys := make([]pendingKey, 0, l.pending.len())
	for k, off := range l.pending.idx {
		keys = append(keys, pendingKey{prefix8(k), k, off})
	}
	// Sorted puts keep bbolt's cursor on neighbouring pages. The first
	// eight bytes as one integer decide most comparisons.
	slices.SortFunc(keys, func(a, b pendingKey) int {
		if a.pre != b.pre {
			return cmp.Compare(a.pre, b.pre)
		}
		return strings.Compare(a.addr, b.addr)
	})
	a := anchor{seq: l.seq, off: off, last: l.last, first: l.first}
	err := l.db.Update(func(tx *bbolt.Tx) error {
		db, err := tx.CreateBucketIfNotExists(bktDict)
		if err != nil {
			return err
		}
		for _, id := range l.dict.pend {
			if err := db.Put(binary.BigEndian.AppendUint32(nil, id), []byte(l.dict.names[id])); err != nil {
				return err
			}
		}
		ab, err := tx.CreateBucketIfNotExists(bktAddr)
		if err != nil {
			return err
		}
		// Fuller pages: a flush rewrites most leaves anyway, so fewer pages
		// is less to write and a smaller file to map.
		ab.FillPercent = 0.9
		for _, k := range keys {
			if err := ab.Put([]byte(k.addr), l.pending.at(k.off)); err != nil {
				return err
			}
		}
		sb, err := tx.CreateBucketIfNotExists(bktStats)
		if err != nil {
			return err
		}
		for k, d := range l.pendStats.deltas(l.dict.names) {
			kb := []byte(k)
			var cur uint64
			if v := sb.Get(kb); len(v) == 8 {
				cur = binary.BigEndian.Uint64(v)
			}
			if err := sb.Put(kb, binary.BigEndian.AppendUint64(nil, uint64(int64(cur)+d))); err != nil {
				return err
			}
		}
		return putAnchor(tx, a)
	})
	if err != nil {
		return fmt.Errorf("write suppression index: %w", err)
	}
	l.indexed = a
	l.dict.pend = l.dict.pend[:0]
	// Fresh (bbolt held the old arena until the commit), sized like the
	// last one: growing a map to 125k entries rehashed it 17 times.
	l.pending.resetSized(len(keys), len(l.pending.arena))
	l.pendStats.reset()
	l.pendN = 0
	return nil
}

// pendingSet holds encoded records in one arena: a million pending
// addresses are then a million map entries pointing at offsets, not a
// million small allocations for the garbage collector to trace.
type pendingSet struct {
	idx   map[string]uint32 // addr → offset in arena of uvarint(len) + record
	arena []byte
}

func (p *pendingSet) reset() { p.resetSized(0, 0) }

// resetSized empties the set with room for n records in arena bytes.
func (p *pendingSet) resetSized(n, arena int) {
	p.idx = make(map[string]uint32, n)
	p.arena = make([]byte, 0, arena)
}

func (p *pendingSet) len() int { return len(p.idx) }

func (p *pendingSet) get(addr string) ([]byte, bool) {
	off, ok := p.idx[addr]
	if !ok {
		return nil, false
	}
	return p.at(off), true
}

// at is the record stored at off.
func (p *pendingSet) at(off uint32) []byte {
	b := p.arena[off:]
	n, w := binary.Uvarint(b)
	return b[w : w+int(n) : w+int(n)]
}

type pendingKey struct {
	pre  uint64 // prefix8(addr)
	addr string
	off  uint32
}

// prefix8 is s's first eight bytes big-endian (zero-padded): integers in
// the order of the strings.
func prefix8(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// put stores the current encoding of r (an older one becomes garbage in the
// arena until the next flush).
func (p *pendingSet) put(addr string, r *record) {
	off := len(p.arena)
	start := off + binary.MaxVarintLen32
	b := append(p.arena, make([]byte, binary.MaxVarintLen32)...)
	b = r.appendTo(b)
	n := len(b) - start
	// write the length just before the record, then close the gap
	var lb [binary.MaxVarintLen32]byte
	w := binary.PutUvarint(lb[:], uint64(n))
	copy(b[off:], lb[:w])
	copy(b[off+w:], b[start:])
	p.arena = b[:off+w+n]
	p.idx[addr] = uint32(off)
}

func loadDict(db *state.DB) (*dict, error) {
	d := newDict()
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktDict)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(k) != 4 {
				return errors.New("corrupt suppression dictionary: rebuild the index")
			}
			id := binary.BigEndian.Uint32(k)
			for uint32(len(d.names)) <= id {
				d.names = append(d.names, "")
			}
			d.names[id] = string(v)
			d.ids[string(v)] = id
			return nil
		})
	})
	return d, err
}

func readAnchor(db *state.DB) (anchor, error) {
	var a anchor
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktMeta)
		if b == nil {
			return nil
		}
		if v := b.Get(metaSchema); len(v) == 4 {
			a.schema = binary.BigEndian.Uint32(v)
		}
		if a.schema > schemaVersion {
			return fmt.Errorf("suppression index schema %d is newer than this cutover (%d)", a.schema, schemaVersion)
		}
		if v := b.Get(metaSeq); len(v) == 8 {
			a.seq = binary.BigEndian.Uint64(v)
		}
		if v := b.Get(metaOff); len(v) == 8 {
			a.off = int64(binary.BigEndian.Uint64(v))
		}
		copy(a.last[:], b.Get(metaLast))
		copy(a.first[:], b.Get(metaFirst))
		return nil
	})
	return a, err
}

func putAnchor(tx *bbolt.Tx, a anchor) error {
	b, err := tx.CreateBucketIfNotExists(bktMeta)
	if err != nil {
		return err
	}
	var v4 [4]byte
	binary.BigEndian.PutUint32(v4[:], schemaVersion)
	var s, o [8]byte
	binary.BigEndian.PutUint64(s[:], a.seq)
	binary.BigEndian.PutUint64(o[:], uint64(a.off))
	for k, v := range map[string][]byte{string(metaSchema): v4[:], string(metaSeq): s[:], string(metaOff): o[:],
		string(metaLast): a.last[:], string(metaFirst): a.first[:]} {
		if err := b.Put([]byte(k), slices.Clone(v)); err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) dropIndex() error {
	l.filter = nil
	return l.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bktMeta, bktAddr, bktStats, bktDict} {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Close commits the pending index and releases the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	var err error
	if l.broken == nil {
		err = l.flush()
	}
	l.closed = true
	if cerr := l.closeFile(); err == nil {
		err = cerr
	}
	return err
}

func (l *Log) closeFile() error {
	if l.f == nil {
		return nil
	}
	unlockFile(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|state.NoFollow, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// RebuildIndex drops the index and rebuilds it from the log alone, then
// closes the log. It returns the number of events indexed and Open's
// notices. The log must verify (VerifyLog) up to its last complete line.
func RebuildIndex(db *state.DB, path string) (events uint64, notices []string, err error) {
	l, err := Open(db, path, Options{Rebuild: true})
	if err != nil {
		return 0, nil, err
	}
	events = l.LastSeq()
	notices = l.Notices()
	return events, notices, l.Close()
}
