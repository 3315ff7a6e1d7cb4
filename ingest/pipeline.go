package ingest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"cutover/ingest/follow"
	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
)

// SourceSpec is one configured source: a log family of one kind.
type SourceSpec struct {
	Name     string
	Kind     string // pmta | postfix | exim
	Side     model.Side
	MTA      string
	Globs    []string
	SideMap  SideMap
	Parser   Parser
	Poll     time.Duration
	StartEnd bool // first-time live follow starts at the end of existing files
}

// Options tune the pipeline.
type Options struct {
	CommitEvery  time.Duration // default 250ms
	CommitEvents int           // commit when this many events are pending, default 20000
	Classifier   *Classifier
	// OnCommit is called after every successful commit (the cockpit redraws).
	OnCommit func()
	// Suppress receives the hard bounces and complaints (with a recipient)
	// the sources log. Nil: the canonical log next to the database
	// (suppress.DefaultLogPath) is opened when the first one is seen and
	// closed by Close. NoSuppress turns this off (benchmarks).
	Suppress   SuppressSink
	NoSuppress bool
}

// SuppressSink is the canonical suppression log as the pipeline uses it
// (*suppress.Log). Append must be durable when it returns and must append
// nothing for an event it already holds: the pipeline appends a batch's
// events before committing the cursors past their lines, so a crash in
// between replays them.
type SuppressSink interface {
	Append(evs []model.SuppressionEvent) (int, error)
}

// ForkParser is a Parser whose lines give the same results on a copy of
// it, as long as the copy is taken in the state the lines before them left
// (PowerMTA: the header). The pipeline then parses the chunks of such a
// source on their own goroutines, with a Fork each, and counts their events
// into a batch there; the reader only moves the parser with Skip and the
// writer merges one entry per counter. It must not be Stateful.
type ForkParser interface {
	Parser
	// Fork returns a parser in this one's state that is used on one other
	// goroutine only.
	Fork() Parser
	// Skip moves the state past data (whole lines) as ParseLine would.
	Skip(data []byte)
}

// TestHookAfterSuppressAppend, when set (crash tests only), runs after the
// suppression events of a batch are durable and before the batch commits.
var TestHookAfterSuppressAppend func()

// Pipeline reads every source through its follower and parser and commits
// events and cursors to state in one transaction per batch.
//
// Two stages, one per core: a reader goroutine polls the followers and
// parses chunks; the writer (the caller's goroutine) aggregates them into a
// batch and commits. The writer applies chunks in the order they were read,
// each with the cursor and the parser-state delta it produced, so whatever
// is committed is a prefix of the lines: a crash replays from exactly the
// last commit.
type Pipeline struct {
	db      *state.DB
	opts    Options
	sources []*source
	batch   *state.Batch
	pending int
	last    time.Time
	total   Summary
	// supp are the suppression events of the pending batch; ownLog is the
	// log this pipeline opened itself (logMu: Suppressions may be called
	// from another goroutine).
	supp   []model.SuppressionEvent
	logMu  sync.Mutex
	ownLog *suppress.Log
	// backfilling: the suppression index is flushed at most every
	// suppFlushEvery while a backfill runs, and at its end; suppFlushed is
	// the last flush, suppDirty says events were appended since.
	backfilling bool
	suppFlushed time.Time
	suppDirty   bool

	// published for other goroutines (the cockpit) after every round
	mu        sync.Mutex
	published []follow.SourceStatus
	pubTotal  Summary
	// noted is each source's error or warning as last given to the
	// database (SourceStat.LastError), so it is written when it changes.
	noted map[string]string
}

type source struct {
	spec     SourceSpec
	fol      *follow.Follower
	stateful Stateful
	res      []LineResult // FinishLines' scratch (writer)
}

var eventPool = sync.Pool{New: func() any {
	s := make([]model.Event, 0, 2048)
	return &s
}}

// parsed is one chunk after parsing: everything the writer needs to account
// for it.
type parsed struct {
	src      *source
	chunk    follow.Chunk // without Data
	data     []byte       // the chunk's lines
	scan     *scanAhead   // scanned ahead, for a LinesParser
	fork     *forkAhead   // parsed ahead, for a ForkParser
	finished bool         // finish has run (on the reader for a plain Parser)
	cursor   state.Cursor
	prevKey  string
	events   []model.Event
	evbuf    *[]model.Event // pooled backing of events
	rejects  []state.Reject
	sum      Summary
	lastTime time.Time
	delta    map[string][]byte
	supp     []model.SuppressionEvent
	// counted holds the events' counts when they were counted ahead (a
	// ForkParser's chunk); events is then empty.
	counted  *state.Batch
	noDomain int64
}

// round is one poll of every source.
type round struct {
	items    []parsed
	moved    bool // some source delivered data or moved a cursor
	caughtUp bool
	statuses []follow.SourceStatus
	err      error
}

// drop waits for the goroutines still parsing the chunks of a round that
// will not be applied (after an error, or when stopping), so that none
// outlives the pipeline.
func (r *round) drop() {
	for i := range r.items {
		if f := r.items[i].fork; f != nil {
			<-f.done
		}
	}
}

// Summary counts what a pipeline consumed.
type Summary struct {
	Lines    int64
	Bytes    int64
	Events   int64
	Rejected int64
	Outcomes [model.NumOutcomes]int64
}

func (s *Summary) add(o Summary) {
	s.Lines += o.Lines
	s.Bytes += o.Bytes
	s.Events += o.Events
	s.Rejected += o.Rejected
	for i := range s.Outcomes {
		s.Outcomes[i] += o.Outcomes[i]
	}
}

// NewPipeline opens followers at the committed cursors and restores parser
// state.
func NewPipeline(db *state.DB, specs []SourceSpec, opts Options) (*Pipeline, error) {
	if opts.CommitEvery <= 0 {
		opts.CommitEvery = 250 * time.Millisecond
	}
	if opts.CommitEvents <= 0 {
		opts.CommitEvents = 20000
	}
	if opts.Classifier == nil {
		opts.Classifier = NewClassifier(nil)
	}
	p := &Pipeline{db: db, opts: opts, batch: state.NewBatch(), last: time.Now()}
	for _, sp := range specs {
		if sp.Parser == nil {
			return nil, fmt.Errorf("source %s: no parser", sp.Name)
		}
		curs, err := db.Cursors(sp.Name)
		if err != nil {
			return nil, fmt.Errorf("source %s: reading cursors: %w", sp.Name, err)
		}
		s := &source{spec: sp}
		if st, ok := sp.Parser.(Stateful); ok {
			m, err := db.ParserState(sp.Name)
			if err != nil {
				return nil, fmt.Errorf("source %s: reading parser state: %w", sp.Name, err)
			}
			st.Load(m)
			s.stateful = st
		}
		// Small polls keep the two stages overlapping: the writer aggregates
		// one round while the reader parses the next.
		s.fol = follow.New(follow.Options{Source: sp.Name, Globs: sp.Globs, StartAtEnd: sp.StartEnd, MaxPollBytes: 2 << 20}, curs)
		p.sources = append(p.sources, s)
	}
	return p, nil
}

// readRound polls every source once and parses what it read. It runs on the
// reader goroutine and touches only followers and parsers.
func (p *Pipeline) readRound() round {
	var r round
	for _, s := range p.sources {
		chunks, err := s.fol.Poll()
		if err != nil {
			r.err = fmt.Errorf("source %s: %w", s.spec.Name, err)
			return r
		}
		for i := range chunks {
			c := &chunks[i]
			if len(c.Data) > 0 || c.NewFile || c.PrevKey != "" || len(c.TooLong) > 0 {
				r.moved = true
			}
			r.items = append(r.items, p.prepare(s, c))
		}
	}
	r.caughtUp = true
	for _, s := range p.sources {
		if !s.fol.CaughtUp() {
			r.caughtUp = false
		}
		r.statuses = append(r.statuses, s.fol.Status())
	}
	return r
}

func (p *Pipeline) prepare(s *source, c *follow.Chunk) parsed {
	out := parsed{src: s, chunk: *c, prevKey: c.PrevKey, data: c.Data}
	out.chunk.Data = nil
	if fp, ok := s.spec.Parser.(ForkParser); ok && s.stateful == nil {
		p.prepareFork(fp, &out, c)
		return out
	}
	lp, ok := s.spec.Parser.(LinesParser)
	switch {
	case !ok:
		// A plain Parser is used on the reader only: it parses here, so
		// that parsing overlaps the writer's aggregation and commits.
		p.finish(&out)
	case len(c.Data) > 0:
		// A LinesParser's state lives on the writer (finish); only its
		// scan runs here, on its own goroutine(s) while the reader goes on
		// reading: the reads' system time then overlaps the scanning.
		sa := &scanAhead{done: make(chan struct{})}
		data := c.Data
		go func() {
			defer close(sa.done)
			sa.scan = lp.ScanLines(data)
		}()
		out.scan = sa
	}
	return out
}

// forkAhead is a ForkParser's chunk being parsed and counted on its own
// goroutine; w is complete when done is closed.
type forkAhead struct {
	done chan struct{}
	w    parsed
}

// prepareFork moves the source's parser past the chunk (its header state)
// and starts parsing the chunk on a Fork, on a goroutine of its own: for a
// busy PowerMTA source the reader then only reads and looks for headers,
// and both cores parse while the writer merges and commits.
func (p *Pipeline) prepareFork(fp ForkParser, out *parsed, c *follow.Chunk) {
	if c.NewFile {
		fp.NewFile(c.Path, c.ModTime, c.Header)
	}
	fork := fp.Fork()
	fp.Skip(c.Data)
	fa := &forkAhead{done: make(chan struct{}), w: parsed{src: out.src, chunk: out.chunk, data: c.Data}}
	out.fork, out.data = fa, nil
	if len(c.Data) == 0 {
		close(fa.done) // nothing to parse
		return
	}
	go func() {
		defer close(fa.done)
		w := &fa.w
		w.evbuf = eventPool.Get().(*[]model.Event)
		w.events = (*w.evbuf)[:0]
		p.parseLines(w, fork)
		// Fill and count the events here too (apply does it for the
		// other parsers): the writer merges the counts.
		w.counted = state.NewBatch()
		w.noDomain = p.fillEvents(&w.src.spec, w.events, w.counted)
		*w.evbuf = w.events[:0]
		eventPool.Put(w.evbuf)
		w.evbuf, w.events = nil, nil
	}()
}

// scanAhead is a LinesParser's scan of one chunk, running while the reader
// reads the next; scan is set when done is closed.
type scanAhead struct {
	done chan struct{}
	scan LineScan
}

// finish does the part of parsing that needs the parser's state, in the
// order the chunks were read: for a LinesParser on the writer, while the
// reader reads and scans the next ones; for a plain Parser on the reader.
// Afterwards out holds events, rejects, the cursor and the parser-state
// delta.
func (p *Pipeline) finish(out *parsed) {
	s := out.src
	sp := &s.spec
	c := &out.chunk
	if out.fork != nil {
		<-out.fork.done
		w := &out.fork.w
		out.rejects, out.sum, out.lastTime, out.supp = w.rejects, w.sum, w.lastTime, w.supp
		out.counted, out.noDomain = w.counted, w.noDomain
		out.fork = nil
		p.finishChunk(out)
		return
	}
	if c.NewFile {
		sp.Parser.NewFile(c.Path, c.ModTime, c.Header)
	}
	// Event slices are recycled (apply returns them): a fresh megabyte per
	// chunk, zeroed and then collected, cost a fifth of the reader's time.
	out.evbuf = eventPool.Get().(*[]model.Event)
	out.events = (*out.evbuf)[:0]
	if out.scan != nil {
		data := out.data
		base := c.Cursor.Offset - int64(len(data))
		var lines int
		<-out.scan.done
		out.events, s.res, lines = sp.Parser.(LinesParser).FinishLines(out.scan.scan, out.events, s.res[:0])
		out.scan = nil
		out.sum.Lines += int64(lines)
		out.sum.Bytes += int64(len(data)) // complete lines only
		// The lines that gave events or errors, each with its share.
		events := out.events
		n := 0
		// Line numbers: the cursor counts the file's lines up to its offset;
		// count forward from the chunk's first line to each result's.
		lineNo, at := c.Cursor.Lines-int64(bytes.Count(data, nl)), 0
		for _, r := range s.res {
			out.events = events[:n+r.Events]
			lineNo += int64(bytes.Count(data[at:r.Off], nl))
			at = r.Off
			p.account(s, c, out, data[r.Off:r.Off+r.Len], base+int64(r.Off), lineNo+1, n, r.Err)
			n += r.Events
		}
		out.events = events[:n]
		clear(s.res)
		out.data = nil
	} else {
		p.parseLines(out, sp.Parser)
	}
	p.finishChunk(out)
}

// parseLines parses out.data line by line with parser into out.
func (p *Pipeline) parseLines(out *parsed, parser Parser) {
	s := out.src
	c := &out.chunk
	data := out.data
	off := c.Cursor.Offset - int64(len(data))
	lineNo := c.Cursor.Lines - int64(bytes.Count(data, nl))
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // the follower hands out complete lines only
		}
		line := data[:i]
		if i > 0 && line[i-1] == '\r' {
			line = line[:i-1]
		}
		lineOff := off
		off += int64(i + 1)
		lineNo++
		data = data[i+1:]
		out.sum.Lines++
		out.sum.Bytes += int64(i + 1)
		n := len(out.events)
		var err error
		out.events, err = parser.ParseLine(line, out.events)
		p.account(s, c, out, line, lineOff, lineNo, n, err)
	}
	out.data = nil
}

// finishChunk books a parsed chunk with its follower, in Poll's order:
// too-long lines, the buffer, the per-file totals and the cursor.
func (p *Pipeline) finishChunk(out *parsed) {
	s := out.src
	sp := &s.spec
	c := &out.chunk
	for _, ll := range c.TooLong {
		out.sum.Rejected++
		// A too-long line comes alone in its chunk: the cursor's count
		// ends with it.
		out.rejects = append(out.rejects, state.Reject{Source: sp.Name, Path: c.Path, Offset: ll.Offset, Line: c.Cursor.Lines,
			Text: fmt.Sprintf("(%d bytes)", ll.Length), Reason: "line too long", Seen: time.Now().UTC()})
	}
	// Nothing refers to the chunk's bytes now (events, rejects and parser
	// state hold copies): its buffer can take another read.
	s.fol.Release(c)
	// Per-file event and reject totals ride on the cursor (cutover sources).
	s.fol.Account(c, out.sum.Events, out.sum.Rejected-int64(len(c.TooLong)))
	s.fol.LogTime(c, out.lastTime) // LAST LINE is the log's clock
	out.cursor = c.Cursor
	if s.stateful != nil {
		out.delta = s.stateful.TakeDelta()
	}
	out.finished = true
}

// account books one parsed line: its reject, or the events the parser
// appended to out.events from index n on.
func (p *Pipeline) account(s *source, c *follow.Chunk, out *parsed, line []byte, lineOff, lineNo int64, n int, err error) {
	sp := &s.spec
	if err != nil {
		out.events = out.events[:n]
		out.sum.Rejected++
		out.rejects = append(out.rejects, state.Reject{Source: sp.Name, Path: c.Path, Offset: lineOff, Line: lineNo,
			Text: clip(line, 512), Reason: err.Error(), Seen: time.Now().UTC()})
		return
	}
	for j := n; j < len(out.events); j++ {
		ev := &out.events[j]
		// Side, MTA, domain and provider are filled by the writer
		// (apply): the reader is the busier stage.
		// The parsers classify with model.EventClass (status, reply
		// and bounceCat, so a 5.7.1 "blocked" never counts or
		// suppresses as a dead mailbox); a parser that left it empty
		// gets the same classifier here.
		if ev.Class == model.ClassNone && ev.Outcome != model.Delivered {
			ev.Class = model.EventClass(ev)
		}
		if se, ok := suppressionOf(ev, sp, c.Path, lineOff); ok && !p.opts.NoSuppress {
			out.supp = append(out.supp, se)
		}
		out.sum.Events++
		out.sum.Outcomes[ev.Outcome]++
		if ev.Time.After(out.lastTime) {
			out.lastTime = ev.Time
		}
	}
}

// apply adds a round to the batch, committing whenever the batch is full.
func (p *Pipeline) apply(r *round) error {
	for i := range r.items {
		it := &r.items[i]
		if !it.finished {
			p.finish(it)
		}
		sp := &it.src.spec
		noDomain := it.noDomain
		if it.counted != nil {
			p.batch.MergeEvents(it.counted)
			it.counted = nil
		} else {
			noDomain += p.fillEvents(sp, it.events, p.batch)
		}
		for _, rj := range it.rejects {
			p.batch.AddReject(rj)
		}
		if it.prevKey != "" {
			p.batch.DropCursor(it.prevKey)
		}
		p.batch.SetCursor(it.cursor)
		if len(it.delta) > 0 {
			p.batch.SetParserState(sp.Name, it.delta)
		}
		p.batch.AddSourceStat(state.SourceStat{Source: sp.Name, Kind: sp.Kind, Side: sp.Side.String(),
			Lines: it.sum.Lines, Events: it.sum.Events, Rejected: it.sum.Rejected, NoDomain: noDomain, LastLine: it.lastTime,
			Updated: time.Now().UTC(), LastError: p.noted[sp.Name]})
		p.supp = append(p.supp, it.supp...)
		if it.evbuf != nil {
			// The batch keeps no pointer into events (keys and samples are
			// strings), so the slice can be reused by the reader.
			*it.evbuf = it.events[:0]
			eventPool.Put(it.evbuf)
			it.evbuf, it.events = nil, nil
		}
		p.pending += int(it.sum.Events) + 1
		p.total.add(it.sum)
		if p.pending >= p.opts.CommitEvents {
			if err := p.commit(!p.backfilling); err != nil {
				return err
			}
		}
	}
	// A source's error or warning (a glob matching nothing) is kept with
	// its summary when it changes, for `sources` and `status` without a
	// running owner.
	for _, st := range r.statuses {
		msg := st.LastError
		if msg == "" && st.Warning != "" {
			msg = "warning: " + st.Warning
		}
		if p.noted == nil {
			p.noted = map[string]string{}
		}
		if old, ok := p.noted[st.Source]; ok && old == msg || !ok && msg == "" {
			continue
		}
		p.noted[st.Source] = msg
		for _, src := range p.sources {
			if src.spec.Name == st.Source {
				p.batch.AddSourceStat(state.SourceStat{Source: st.Source, Kind: src.spec.Kind, Side: src.spec.Side.String(),
					LastError: msg, Updated: time.Now().UTC()})
				p.pending++
			}
		}
	}
	p.mu.Lock()
	if r.statuses != nil {
		p.published = r.statuses
	}
	p.pubTotal = p.total
	p.mu.Unlock()
	return nil
}

// fillEvents sets what the source says of its events (side, MTA, kind,
// domain, provider) and counts them into b; it returns how many had a
// recipient without a usable domain.
func (p *Pipeline) fillEvents(sp *SourceSpec, evs []model.Event, b *state.Batch) (noDomain int64) {
	for j := range evs {
		ev := &evs[j]
		ev.Side = sp.SideMap.Side(ev, sp.Side)
		ev.MTA = sp.MTA
		ev.Kind = sp.Kind
		if ev.Domain == "" {
			ev.Domain = model.DomainKey(ev.Recipient)
		}
		if ev.Domain == "" && ev.Recipient != "" {
			noDomain++ // an unusable address: counted, under no domain
		}
		ev.ISP = p.opts.Classifier.ISP(ev.Domain)
		b.AddEvent(ev)
	}
	return noDomain
}

// Step polls every source once, processes what it read, and commits when
// the batch is due (or force is set), all on the caller's goroutine. It
// reports whether any data was read.
func (p *Pipeline) Step(force bool) (bool, error) {
	r := p.readRound()
	if r.err != nil {
		r.drop()
		return false, r.err
	}
	if err := p.apply(&r); err != nil {
		return r.moved, err
	}
	if force || p.pending > 0 && time.Since(p.last) >= p.opts.CommitEvery {
		return r.moved, p.Commit()
	}
	return r.moved, nil
}

// Commit writes the pending batch (events, cursors, parser state) in one
// transaction. The batch's hard bounces and complaints go to the
// suppression log first, durably: a crash after that replays the lines,
// whose events the log then recognises (same address, type, source, scope
// and time) and does not append again, so each lands exactly once.
func (p *Pipeline) Commit() error { return p.commit(true) }

// suppFlushEvery is how long a backfill lets the suppression index lag.
const suppFlushEvery = time.Second

// commit is Commit; flush false lets the suppression index wait (up to
// suppFlushEvery): a backfill commits every 50k events, and an index
// commit with each cost as much as the counters' commit.
func (p *Pipeline) commit(flush bool) error {
	p.last = time.Now()
	if p.batch.Len() == 0 && p.pending == 0 {
		return p.flushSupp(flush)
	}
	if len(p.supp) > 0 {
		sink, err := p.sink()
		if err != nil {
			return err
		}
		n, err := sink.Append(p.supp)
		if err != nil {
			return fmt.Errorf("suppression log: %w", err)
		}
		p.suppDirty = p.suppDirty || n > 0
	}
	if err := p.flushSupp(flush); err != nil {
		return err
	}
	if len(p.supp) > 0 && TestHookAfterSuppressAppend != nil {
		TestHookAfterSuppressAppend()
	}
	if err := p.db.Commit(p.batch); err != nil {
		return fmt.Errorf("commit to %s: %w", p.db.Path(), err)
	}
	p.batch = state.NewBatch()
	p.supp = p.supp[:0]
	p.pending = 0
	if p.opts.OnCommit != nil {
		p.opts.OnCommit()
	}
	return nil
}

// flushSupp commits the suppression index after appends, when flush is
// set or the last flush is suppFlushEvery old: readers (the suppression
// view, the header's warning, status) see the log through its index, and
// without this would not count the pipeline's own bounces until 125k had
// piled up. The log itself is durable before the counters commit either
// way; an index left behind is caught up by the next Open.
func (p *Pipeline) flushSupp(flush bool) error {
	if !p.suppDirty || !flush && time.Since(p.suppFlushed) < suppFlushEvery {
		return nil
	}
	sink, err := p.sink()
	if err != nil {
		return err
	}
	if f, ok := sink.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("suppression log: %w", err)
		}
	}
	p.suppDirty, p.suppFlushed = false, time.Now()
	return nil
}

// reader runs readRound in a loop and sends the rounds in order. With
// untilCaughtUp it stops (closing out) once every source is at its end;
// otherwise it sleeps idle between rounds that read nothing.
func (p *Pipeline) reader(ctx context.Context, out chan<- round, idle time.Duration, untilCaughtUp bool) {
	defer close(out)
	for ctx.Err() == nil {
		r := p.readRound()
		if untilCaughtUp && r.err == nil {
			// A backfill cannot wait for a file it may not read (or a
			// directory that fails): it would never catch up. It fails
			// at once, naming the path; what it committed stays.
			r.err = backfillBlocked(r.statuses)
		}
		// Always delivered: the followers have moved past its lines, so
		// the writer applies it even when stopping (see drive).
		out <- r
		if r.err != nil || (untilCaughtUp && !r.moved && r.caughtUp) {
			return
		}
		if !r.moved {
			t := time.NewTimer(idle)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// backfillBlocked is the first source error of a round, if any.
func backfillBlocked(sts []follow.SourceStatus) error {
	for _, st := range sts {
		if st.LastError != "" && (st.State == follow.Stale || st.State == follow.Unreachable) {
			return fmt.Errorf("source %s: %s", st.Source, st.LastError)
		}
	}
	return nil
}

// drive applies rounds from the reader until it stops or ctx is done, and
// commits when the batch is due.
func (p *Pipeline) drive(ctx context.Context, idle time.Duration, untilCaughtUp bool, progress func(Summary)) error {
	p.backfilling = untilCaughtUp
	defer func() { p.backfilling = false }()
	rctx, cancel := context.WithCancel(ctx)
	ch := make(chan round, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.reader(rctx, ch, idle, untilCaughtUp)
	}()
	defer func() {
		cancel()
		for r := range ch {
			// After an error nothing more is committed: a later run
			// reads these lines again from the committed cursors.
			r.drop()
		}
		<-done
	}()
	// stop applies what the reader has read already, so that followers,
	// parser state and batch agree if the pipeline is driven again (Run
	// stopped, then Backfill), and commits.
	stop := func() error {
		cancel()
		for r := range ch {
			if r.err != nil {
				r.drop()
				break
			}
			if err := p.apply(&r); err != nil {
				return err
			}
		}
		return p.Commit()
	}
	tick := time.NewTicker(p.opts.CommitEvery)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				return p.Commit()
			}
			if r.err != nil {
				r.drop()
				return r.err
			}
			if err := p.apply(&r); err != nil {
				return err
			}
			if progress != nil {
				progress(p.total)
			}
			if p.pending > 0 && time.Since(p.last) >= p.opts.CommitEvery {
				if err := p.commit(!untilCaughtUp); err != nil {
					return err
				}
			}
		case <-tick.C:
			if p.pending > 0 || p.suppDirty {
				if err := p.commit(!untilCaughtUp); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return stop()
		}
	}
}

// CaughtUp reports whether every source has been read to its last complete
// line. Only valid while no reader goroutine runs (after Step or Backfill).
func (p *Pipeline) CaughtUp() bool {
	for _, s := range p.sources {
		if !s.fol.CaughtUp() {
			return false
		}
	}
	return true
}

// Backfill reads every source to its end, committing as it goes, and
// returns what it consumed. progress, if set, is called after each round.
func (p *Pipeline) Backfill(ctx context.Context, progress func(Summary)) (Summary, error) {
	err := p.drive(ctx, 20*time.Millisecond, true, progress)
	return p.total, err
}

// Run follows every source until ctx is done, polling every interval when
// idle, and commits what it has before returning.
func (p *Pipeline) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	return p.drive(ctx, interval, false, nil)
}

// Statuses returns each source's follower status as of the last Step. It is
// safe to call from any goroutine.
func (p *Pipeline) Statuses() []follow.SourceStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]follow.SourceStatus(nil), p.published...)
}

// Total is what the pipeline consumed in this process, as of the last Step.
// It is safe to call from any goroutine.
func (p *Pipeline) Total() Summary {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pubTotal
}

// Specs returns the configured sources.
func (p *Pipeline) Specs() []SourceSpec {
	out := make([]SourceSpec, len(p.sources))
	for i, s := range p.sources {
		out[i] = s.spec
	}
	return out
}

// Close releases the followers' files and the suppression log the pipeline
// opened (before the database is closed: the log's index lives there).
func (p *Pipeline) Close() error {
	var first error
	for _, s := range p.sources {
		if err := s.fol.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.ownLog != nil {
		if err := p.ownLog.Close(); err != nil && first == nil {
			first = err
		}
		p.ownLog = nil
	}
	return first
}

// Suppressions is the canonical log the pipeline appends to, for other
// writers in the same process (the bounce watcher): the log is locked
// against a second opener, so they must share it. Safe for concurrent use.
func (p *Pipeline) Suppressions() (SuppressSink, error) { return p.sink() }

// sink is where suppression events go: Options.Suppress, else the log next
// to the database, opened on first use so that sources without bounces
// never create it.
func (p *Pipeline) sink() (SuppressSink, error) {
	if p.opts.Suppress != nil {
		return p.opts.Suppress, nil
	}
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if p.ownLog == nil {
		l, err := suppress.Open(p.db, "", suppress.Options{})
		if err != nil {
			return nil, fmt.Errorf("suppression log: %w", err)
		}
		p.ownLog = l
	}
	return p.ownLog, nil
}

// suppressionOf turns a hard bounce or a complaint into a canonical log
// event. Its origin is the line (file:offset); its time is the logged time,
// so a replayed line gives the same event, which the log deduplicates.
func suppressionOf(ev *model.Event, sp *SourceSpec, path string, off int64) (model.SuppressionEvent, bool) {
	var typ model.SuppressionType
	switch {
	case ev.Outcome == model.Bounced && ev.Class == model.ClassHard:
		typ = model.SuppHardBounce
	case ev.Outcome == model.Complaint && model.FeedbackComplains(ev.Response):
		typ = model.SuppComplaint
	default:
		return model.SuppressionEvent{}, false
	}
	if ev.Recipient == "" || ev.Time.IsZero() || model.RedactedAddress(ev.Recipient) {
		return model.SuppressionEvent{}, false // a redacted complaint counts, but names nobody
	}
	addr, orig, err := model.NormalizeAddress(ev.Recipient)
	if err != nil {
		return model.SuppressionEvent{}, false
	}
	reason := ev.Response
	if len(reason) > 300 {
		reason = reason[:300]
	}
	return model.SuppressionEvent{Type: typ, Addr: addr, Orig: orig, TS: ev.Time.UTC(),
		Source: sp.Kind + ":" + sp.Name, Scope: "account", Reason: reason,
		Origin: path + ":" + strconv.FormatInt(off, 10)}, true
}

func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

var nl = []byte{'\n'}
