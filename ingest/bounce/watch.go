package bounce

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/state"
)

// Sink is the canonical suppression log (*suppress.Log): Append is durable
// (fsynced) when it returns and appends nothing for an event it holds.
type Sink interface {
	Append(evs []model.SuppressionEvent) (int, error)
}

// StateSource is the parser-state and source name the watcher keeps its
// markers and mbox cursors under, in the same bbolt commits as the
// complaint counters.
const StateSource = "bounces"

// MarkerTTL is how long a processed message's marker is kept. A maildir
// message is moved out of new/ once done, an mbox cursor moves past it; the
// marker only guards against the same bytes coming back (an mbox rewritten
// by a mail client, an MTA retrying a pipe), so a month is plenty.
const MarkerTTL = 30 * 24 * time.Hour

// Options configure a Watcher.
type Options struct {
	DB  *state.DB
	Log Sink
	// Parse tunes the report parser (VERP delimiters, recipient headers).
	Parse ParseOptions
	// Side is the side complaints are counted on when SideMap does not
	// place them (by the reported message's source IP).
	Side    model.Side
	SideMap ingest.SideMap
	// MTA is the MTA name complaint counters carry; default "fbl".
	MTA        string
	Classifier *ingest.Classifier
	// FailedDir receives messages from Message (a pipe) that are not
	// reports; maildir and mbox use <maildir>/failed and <mbox>.failed.
	FailedDir string
	Now       func() time.Time
	// BatchSize is how many messages share one log append and one commit;
	// default 200.
	BatchSize int
	// MaxMessage is the largest message read; bigger ones are filed as
	// failed. Default 64 MiB.
	MaxMessage int64
}

// Stats count what a watcher did.
type Stats struct {
	Messages    int // messages looked at
	Reports     int // parsed as a DSN, bounce text, ARF or JMRP
	AutoReplies int // ignored
	Failed      int // not a report: filed under failed/ with a reason
	Skipped     int // already processed (marker present): only moved
	Hard        int // hard-bounced recipients
	Soft        int // failed or delayed recipients that do not suppress
	Complaints  int // complaint events counted
	Appended    int // lines appended to the canonical log
	Unsided     int // complaints counted without a side (no side map match, no default)
}

// Add adds o into s.
func (s *Stats) Add(o Stats) {
	s.Messages += o.Messages
	s.Reports += o.Reports
	s.AutoReplies += o.AutoReplies
	s.Failed += o.Failed
	s.Skipped += o.Skipped
	s.Hard += o.Hard
	s.Soft += o.Soft
	s.Complaints += o.Complaints
	s.Appended += o.Appended
	s.Unsided += o.Unsided
}

// Watcher turns report messages into canonical events and counters. Each
// batch follows one protocol, so a crash anywhere replays without loss or
// double counting:
//
//  1. parse; messages whose marker exists are skipped (already counted);
//  2. append the batch's hard bounces and complaints to the canonical log
//     and fsync (the log ignores an event it holds, so a replay adds none);
//  3. one bbolt commit: complaint counters, a marker per message, the mbox
//     cursor;
//  4. only then move maildir messages to cur/ (or failed/).
//
// A Watcher is not safe for concurrent use.
type Watcher struct {
	opt     Options
	seen    map[string]bool // message markers
	cursors map[string]mboxCursor
	sizes   map[string]int64 // mbox size at the previous pass
	total   Stats
}

// Crash-test hooks: run after the log append and after the commit of a
// batch.
var (
	TestHookAfterAppend func()
	TestHookAfterCommit func()
)

// New loads the markers and cursors and drops markers older than
// MarkerTTL.
func New(opt Options) (*Watcher, error) {
	if opt.DB == nil || opt.Log == nil {
		return nil, errors.New("bounce watcher: database and suppression log are required")
	}
	if opt.MTA == "" {
		opt.MTA = "fbl"
	}
	if opt.Classifier == nil {
		opt.Classifier = ingest.NewClassifier(nil)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 200
	}
	if opt.MaxMessage <= 0 {
		opt.MaxMessage = 64 << 20
	}
	w := &Watcher{opt: opt, seen: map[string]bool{}, cursors: map[string]mboxCursor{}, sizes: map[string]int64{}}
	ps, err := opt.DB.ParserState(StateSource)
	if err != nil {
		return nil, err
	}
	cut := opt.Now().Add(-MarkerTTL)
	expired := map[string][]byte{}
	for k, v := range ps {
		switch {
		case strings.HasPrefix(k, "msg:"):
			t, err := time.Parse(time.RFC3339, string(v))
			if err == nil && t.Before(cut) {
				expired[k] = nil
				continue
			}
			w.seen[k[4:]] = true
		case strings.HasPrefix(k, "mbox:"):
			if c, ok := parseMboxCursor(v); ok {
				w.cursors[k[5:]] = c
			}
		}
	}
	if len(expired) > 0 {
		b := state.NewBatch()
		b.SetParserState(StateSource, expired)
		if err := opt.DB.Commit(b); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Stats are the totals since New.
func (w *Watcher) Stats() Stats { return w.total }

// item is one message in a batch.
type item struct {
	raw    []byte
	origin string // where it was: a path, "<mbox>:<offset>", "stdin"
	name   string // a file name for failed/
	hash   string
	rep    *Report
	err    error
	skip   bool
	// pre runs before the commit (failed copies of mbox and pipe
	// messages); post after it (maildir moves).
	pre, post func(it *item) error
	pstate    map[string][]byte // extra state in the same commit (mbox cursor)
	end       int64             // mbox: offset after the message
}

func hashOf(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:16])
}

// process runs the protocol over one batch.
func (w *Watcher) process(items []*item) (Stats, error) {
	var st Stats
	now := w.opt.Now().UTC()
	var supp []model.SuppressionEvent
	for _, it := range items {
		st.Messages++
		it.hash = hashOf(it.raw)
		if it.err != nil { // unreadable or too large
			st.Failed++
			continue
		}
		if w.seen[it.hash] {
			it.skip = true
			st.Skipped++
			continue
		}
		it.rep, it.err = safeParse(it.raw, w.opt.Parse)
		if it.err != nil {
			st.Failed++
			continue
		}
		if it.rep.Format == FormatAutoReply {
			st.AutoReplies++
			continue
		}
		st.Reports++
		for i := range it.rep.Recipients {
			rc := &it.rep.Recipients[i]
			switch {
			case it.rep.Format != FormatDSN && it.rep.Format != FormatPlain:
			case rc.Hard():
				st.Hard++
			case rc.Action == "failed" || rc.Action == "delayed":
				st.Soft++
			}
		}
		supp = append(supp, it.rep.Suppressions(it.origin+" sha256:"+it.hash)...)
	}
	if len(supp) > 0 {
		n, err := w.opt.Log.Append(supp)
		if err != nil {
			return st, fmt.Errorf("suppression log: %w", err)
		}
		st.Appended = n
		if TestHookAfterAppend != nil {
			TestHookAfterAppend()
		}
	}
	for _, it := range items {
		if it.err != nil && it.pre != nil {
			if err := it.pre(it); err != nil {
				return st, err
			}
		}
	}
	b := state.NewBatch()
	markers := map[string][]byte{}
	stamp := []byte(now.Format(time.RFC3339))
	events := 0
	for _, it := range items {
		for k, v := range it.pstate {
			markers[k] = v
		}
		if it.err != nil && it.pre != nil {
			// Saved under failed/ before this commit: done with it too.
			markers["msg:"+it.hash] = stamp
		}
		if it.skip || it.err != nil || it.rep == nil {
			continue
		}
		markers["msg:"+it.hash] = stamp
		for _, ev := range it.rep.ComplaintEvents(now) {
			ev.Side = w.opt.SideMap.Side(&ev, w.opt.Side)
			if ev.Side == model.SideUnknown {
				st.Unsided++
			}
			ev.MTA = w.opt.MTA
			ev.ISP = w.opt.Classifier.ISP(ev.Domain)
			b.AddEvent(&ev)
			st.Complaints++
			events++
		}
	}
	if len(markers) > 0 {
		b.SetParserState(StateSource, markers)
	}
	b.AddSourceStat(state.SourceStat{Source: StateSource, Kind: "bounces", Lines: int64(st.Messages),
		Events: int64(events + st.Appended), Rejected: int64(st.Failed), Updated: now})
	if err := w.opt.DB.Commit(b); err != nil {
		return st, fmt.Errorf("commit to %s: %w", w.opt.DB.Path(), err)
	}
	if TestHookAfterCommit != nil {
		TestHookAfterCommit()
	}
	for k := range markers {
		if strings.HasPrefix(k, "msg:") {
			w.seen[k[4:]] = true
		}
	}
	var first error
	for _, it := range items {
		if it.post != nil {
			if err := it.post(it); err != nil && first == nil {
				first = err
			}
		}
	}
	w.total.Add(st)
	return st, first
}

// safeParse is Parse that turns a panic (a parser bug the fuzzer has not
// found) into a failed message: the watcher files it and goes on.
func safeParse(raw []byte, opt ParseOptions) (r *Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("parser panic: %v", p)
		}
	}()
	return Parse(raw, opt)
}

// Message processes one message from a pipe. A message that is not a
// report is saved under FailedDir with a reason file.
func (w *Watcher) Message(raw []byte, origin string) (Stats, error) {
	it := &item{raw: raw, origin: origin}
	if int64(len(raw)) > w.opt.MaxMessage {
		it.err = fmt.Errorf("message of %d bytes is larger than %d", len(raw), w.opt.MaxMessage)
	}
	it.pre = func(it *item) error {
		dir := w.opt.FailedDir
		if dir == "" {
			dir = filepath.Join(filepath.Dir(w.opt.DB.Path()), "bounces-failed")
		}
		name := fmt.Sprintf("%s-%s.eml", w.opt.Now().UTC().Format("20060102T150405Z"), hashOf(it.raw))
		return saveFailed(dir, name, it.raw, it.origin, it.err, w.opt.Now())
	}
	return w.process([]*item{it})
}

// saveFailed writes a copy of a message and a reason file next to it,
// durably, so a bad report is never lost.
func saveFailed(dir, name string, raw []byte, origin string, why error, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, name+".reason"), []byte(reasonText(origin, why, now))); err != nil {
		return err
	}
	if raw != nil {
		if err := writeFileSync(filepath.Join(dir, name), raw); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

func reasonText(origin string, why error, now time.Time) string {
	return fmt.Sprintf("time: %s\norigin: %s\nreason: %v\n", now.UTC().Format(time.RFC3339), origin, why)
}

// writeFileSync writes through a temporary file, fsyncs it and renames it
// into place.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// syncDir makes renames and creations in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
