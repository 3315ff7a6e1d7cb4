// Package plan holds the cutover plan's state (wave2 §6.3): the checkpoint
// log checkpoints.jsonl next to the database, and the bucket "plan" that
// anchors it.
//
// # The log
//
// One event a line, JSON, append-only, fsynced before anything else happens,
// created 0600 and never through a symlink. The chain is the suppression
// log's: seq counts lines from 1 without gaps, prev is the sha256 of the
// previous line's bytes (64 zeros on line 1), so an edited line breaks the
// chain at the next one. The bucket keeps the seq, byte offset and hash of
// the last line written, which catches what a chain cannot: the last line
// edited, or whole lines cut from the end.
//
// The plan's state (schedule, step, holds, the latest gate and signoff,
// overrides) is a fold of the events: the log is the record, the bucket a
// cache of the fold.
package plan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

// LogName is the log's file name next to the database.
const LogName = "checkpoints.jsonl"

// LogPath is the log of the database at dbPath.
func LogPath(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), LogName) }

// ReportDir is where checkpoint reports are written.
func ReportDir(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), "reports") }

var (
	bucket    = []byte("plan")
	keyAnchor = []byte("anchor")
	keyState  = []byte("state")
)

// Event types.
const (
	EvCreated  = "plan-created"
	EvGate     = "gate"
	EvSignoff  = "signoff"
	EvAdvance  = "advance"
	EvOverride = "override" // an advance with --force: gate and signoff bypassed
	EvRollback = "rollback"
	EvHold     = "hold"
	EvResume   = "resume"
)

// Event is one line of the log. Fields a type does not use stay empty.
type Event struct {
	V    int       `json:"v"`
	Seq  uint64    `json:"seq"`
	Type string    `json:"type"`
	TS   time.Time `json:"ts"`
	Who  string    `json:"who,omitempty"`

	Schedule *model.Schedule `json:"schedule,omitempty"` // plan-created

	Step     int    `json:"step"`                // the step after the event (0 = baseline)
	FromStep int    `json:"from_step,omitempty"` // advance, override, rollback
	Ratio    int    `json:"ratio"`               // the ratio after the event
	Report   string `json:"report,omitempty"`    // gate, signoff, advance: report sha256
	Verdict  string `json:"verdict,omitempty"`   // gate
	Window   string `json:"window,omitempty"`    // gate

	By         string `json:"by,omitempty"`              // signoff
	Ref        string `json:"ref,omitempty"`             // signoff
	Note       string `json:"note,omitempty"`            // signoff
	Evidence   string `json:"evidence_sha256,omitempty"` // signoff
	DKIM       string `json:"dkim,omitempty"`            // signoff: "pass d=x", "fail: ...", "unverified"
	AcceptWarn bool   `json:"accept_warn,omitempty"`     // signoff

	Signoff    string `json:"signoff,omitempty"`  // advance: hash of the signoff line
	AuditID    string `json:"audit_id,omitempty"` // advance, override, rollback: mtactl change id
	Reason     string `json:"reason,omitempty"`   // override, hold, resume, rollback
	Reconciled bool   `json:"reconciled,omitempty"`

	Prev string `json:"prev"`
}

const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// maxLine bounds a line: cutover writes lines of a few KB (a schedule).
const maxLine = 1 << 20

// anchor is what the bucket remembers of the log.
type anchor struct {
	Seq  uint64 `json:"seq"`
	Off  int64  `json:"off"`
	Hash string `json:"hash"`
}

// Errors of Open.
var (
	ErrCorrupt = errors.New("checkpoint log does not verify")
	ErrBehind  = errors.New("checkpoint log is shorter than the database remembers")
)

// BadLine is the first line that does not verify.
type BadLine struct {
	Line   int64  `json:"line"`
	Offset int64  `json:"offset"`
	Reason string `json:"reason"`
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Path     string   `json:"path"`
	Lines    int64    `json:"lines"` // complete lines that verify
	LastHash string   `json:"last_hash"`
	Bytes    int64    `json:"bytes"`
	TornTail int64    `json:"torn_tail,omitempty"` // bytes after the last newline
	Bad      *BadLine `json:"bad,omitempty"`
	// Anchor problems: lines cut from the end, the last line edited.
	AnchorErr string  `json:"anchor_error,omitempty"`
	events    []Event // the verified events
	lineHash  []string
}

// OK: every line verifies, no torn tail, the anchor matches.
func (r *VerifyReport) OK() bool { return r.Bad == nil && r.TornTail == 0 && r.AnchorErr == "" }

func (r *VerifyReport) String() string {
	s := fmt.Sprintf("%s: %d lines verified", r.Path, r.Lines)
	if r.Bad != nil {
		s += fmt.Sprintf("; LINE %d (byte %d) FAILS: %s", r.Bad.Line, r.Bad.Offset, r.Bad.Reason)
	}
	if r.TornTail > 0 {
		s += fmt.Sprintf("; TRUNCATED TAIL: %d bytes after line %d without a newline", r.TornTail, r.Lines)
	}
	if r.AnchorErr != "" {
		s += "; " + r.AnchorErr
	}
	return s
}

// Verify reads the log at path and checks every line: JSON with v = 1, seq
// = line number, prev = sha256 of the previous line. With db non-nil it also
// compares the end of the log with the anchor in the database. The error is
// for I/O only.
func Verify(path string, db *state.DB) (*VerifyReport, error) {
	rep := &VerifyReport{Path: path}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f = nil
	case err != nil:
		return nil, err
	default:
		defer f.Close()
	}
	prev := genesis
	if f != nil {
		r := bufio.NewReaderSize(f, 64<<10)
		var off int64
		for n := int64(1); ; n++ {
			line, err := readLine(r)
			if err == io.EOF {
				rep.TornTail = int64(len(line))
				break
			}
			if err != nil && !errors.Is(err, errLong) {
				return nil, err
			}
			var ev Event
			var perr error
			if err != nil {
				perr = err
			} else {
				perr = checkLine(line, n, prev, &ev)
			}
			if perr != nil {
				rep.Bad = &BadLine{Line: n, Offset: off, Reason: perr.Error()}
				break
			}
			h := sha256.Sum256(line)
			prev = hex.EncodeToString(h[:])
			off += int64(len(line)) + 1
			rep.Lines, rep.Bytes, rep.LastHash = n, off, prev
			rep.events = append(rep.events, ev)
			rep.lineHash = append(rep.lineHash, prev)
		}
	}
	if rep.LastHash == "" {
		rep.LastHash = genesis
	}
	if db != nil {
		a, err := readAnchor(db)
		if err != nil {
			return nil, err
		}
		switch {
		case a.Seq == 0:
		case rep.Bad != nil && uint64(rep.Bad.Line) <= a.Seq:
			// already reported as the bad line
		case uint64(rep.Lines) < a.Seq:
			rep.AnchorErr = fmt.Sprintf("TRUNCATED: the database recorded %d lines (%d bytes), the log holds %d complete lines (%d bytes): lines were cut from the end",
				a.Seq, a.Off, rep.Lines, rep.Bytes)
		case rep.lineHash[a.Seq-1] != a.Hash:
			rep.AnchorErr = fmt.Sprintf("LINE %d FAILS: it is not the line the database recorded (the last line was edited)", a.Seq)
		}
	}
	return rep, nil
}

var errLong = fmt.Errorf("line longer than %d bytes (not one cutover wrote)", maxLine)

// readLine returns one line without its newline; io.EOF with the bytes of
// an unterminated last line.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine+1 {
			buf = append(buf, chunk...)
		} else if err == nil {
			return nil, errLong
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return buf, io.EOF
		default:
			return nil, err
		}
	}
}

func checkLine(line []byte, n int64, prev string, ev *Event) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ev); err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	switch {
	case ev.V != 1:
		return fmt.Errorf("v %d, want 1", ev.V)
	case ev.Seq != uint64(n):
		return fmt.Errorf("seq %d where %d was expected (a line was removed, repeated or moved)", ev.Seq, n)
	case ev.Prev != prev:
		if n == 1 {
			return errors.New("broken chain: line 1 must have prev = 64 zeros")
		}
		return fmt.Errorf("broken chain: prev is not the sha256 of line %d (line %d or this line was edited)", n-1, n-1)
	case !knownType(ev.Type):
		return fmt.Errorf("unknown event type %q", ev.Type)
	}
	return nil
}

func knownType(t string) bool {
	switch t {
	case EvCreated, EvGate, EvSignoff, EvAdvance, EvOverride, EvRollback, EvHold, EvResume:
		return true
	}
	return false
}

func readAnchor(db *state.DB) (anchor, error) {
	var a anchor
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get(keyAnchor); v != nil {
			return json.Unmarshal(v, &a)
		}
		return nil
	})
	return a, err
}

// Log is the open checkpoint log with its folded state. Only the process
// that holds the database writes it (bbolt's lock makes that one process);
// within it, callers serialise Append.
type Log struct {
	db     *state.DB
	path   string
	f      *os.File
	size   int64
	seq    uint64
	last   string
	hashes []string // line hash by seq-1
	st     State
	now    func() time.Time
	// Notices say what Open repaired (a torn tail cut off).
	Notices []string
}

// Open reads and verifies the log next to db (creating it if needed when
// db is writable) and brings the bucket up to date: lines past the anchor
// (a crash between the log fsync and the bucket commit) are folded in; a
// torn last line, never acknowledged, is saved to <log>.torn-<unixnano> and
// cut off; a log that does not verify, or that is shorter than the anchor,
// is refused (ErrCorrupt, ErrBehind): cutover never guesses.
func Open(db *state.DB, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	path := LogPath(db.Path())
	l := &Log{db: db, path: path, now: now, last: genesis}
	rep, err := Verify(path, db)
	if err != nil {
		return nil, err
	}
	if rep.Bad != nil || rep.AnchorErr != "" {
		return nil, fmt.Errorf("%w: %s (cutover plan verify-log shows it; restore %s from a backup)", ErrCorrupt, rep, path)
	}
	if !db.ReadOnly() {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND|state.NoFollow, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open checkpoint log: %w", err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("open checkpoint log: %s is not a regular file", path)
		}
		l.f = f
		if rep.TornTail > 0 {
			if err := l.cutTorn(rep.Bytes, rep.TornTail); err != nil {
				f.Close()
				return nil, err
			}
		}
	} else if rep.TornTail > 0 {
		l.Notices = append(l.Notices, fmt.Sprintf("%s: incomplete last line (%d bytes) ignored", path, rep.TornTail))
	}
	l.size, l.seq, l.last, l.hashes = rep.Bytes, uint64(rep.Lines), rep.LastHash, rep.lineHash
	for i, ev := range rep.events {
		l.st.apply(ev, rep.lineHash[i])
	}
	if !db.ReadOnly() {
		if err := l.commit(); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *Log) cutTorn(size, torn int64) error {
	buf := make([]byte, torn)
	if _, err := l.f.ReadAt(buf, size); err != nil && err != io.EOF {
		return err
	}
	name := fmt.Sprintf("%s.torn-%d", l.path, l.now().UnixNano())
	if err := os.WriteFile(name, buf, 0o600); err != nil {
		return fmt.Errorf("save torn tail: %w", err)
	}
	if err := l.f.Truncate(size); err != nil {
		return fmt.Errorf("cut torn tail: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	l.Notices = append(l.Notices, fmt.Sprintf("%s: cut off an incomplete last line (%d bytes, an interrupted write; saved to %s)", l.path, torn, name))
	return nil
}

// commit writes the anchor and the folded state.
func (l *Log) commit() error {
	a, err := json.Marshal(anchor{Seq: l.seq, Off: l.size, Hash: l.last})
	if err != nil {
		return err
	}
	s, err := json.Marshal(l.st)
	if err != nil {
		return err
	}
	return l.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if err := b.Put(keyAnchor, a); err != nil {
			return err
		}
		return b.Put(keyState, s)
	})
}

// Path is the log file.
func (l *Log) Path() string { return l.path }

// State is the fold of every event so far.
func (l *Log) State() State { return l.st.clone() }

// Events reads every event back (for plan log).
func (l *Log) Events() ([]Event, error) {
	rep, err := Verify(l.path, nil)
	if err != nil {
		return nil, err
	}
	return rep.events, nil
}

// Append stamps ev (v, seq, ts when zero, prev), writes it as one line,
// fsyncs, then records the anchor and the new state. It returns the line's
// sha256, which later events use to name it (an advance names its signoff).
func (l *Log) Append(ev Event) (string, error) {
	if l.f == nil {
		return "", errors.New("checkpoint log is open read-only")
	}
	if !knownType(ev.Type) {
		return "", fmt.Errorf("unknown event type %q", ev.Type)
	}
	ev.V, ev.Seq, ev.Prev = 1, l.seq+1, l.last
	if ev.TS.IsZero() {
		ev.TS = l.now().UTC()
	}
	ev.TS = ev.TS.UTC().Truncate(time.Second)
	line, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	if len(line) > maxLine {
		return "", fmt.Errorf("event of %d bytes: over %d", len(line), maxLine)
	}
	if _, err := l.f.Write(append(line, '\n')); err != nil {
		// a partial write is a torn tail the next Open cuts off
		return "", fmt.Errorf("append to %s: %w", l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return "", fmt.Errorf("fsync %s: %w", l.path, err)
	}
	if l.seq == 0 {
		syncDir(filepath.Dir(l.path))
	}
	h := sha256.Sum256(line)
	hs := hex.EncodeToString(h[:])
	l.seq, l.last, l.size = ev.Seq, hs, l.size+int64(len(line))+1
	l.hashes = append(l.hashes, hs)
	l.st.apply(ev, hs)
	return hs, l.commit()
}

// Close closes the file.
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadState returns the state the bucket holds (zero State when no plan):
// for readers that must not open the log (metrics, the cockpit of a
// read-only database).
func ReadState(db *state.DB) (State, error) {
	var s State
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get(keyState); v != nil {
			return json.Unmarshal(v, &s)
		}
		return nil
	})
	return s, err
}

// shortHash is the 12-digit form shown in tables.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ShortHash is the 12-digit form of a hash shown in tables and headers.
func ShortHash(h string) string { return shortHash(h) }

// clean keeps user text on one line for the log's readers.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
