package ingest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"cutover/ingest/follow"
	"cutover/model"
	"cutover/state"
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
}

// Pipeline reads every source through its follower and parser and commits
// events and cursors to state in one transaction per batch. It is single
// threaded on purpose: one writer, so the order of commits is the order of
// the lines and a crash replays from exactly the last commit.
type Pipeline struct {
	db      *state.DB
	opts    Options
	sources []*source
	batch   *state.Batch
	pending int
	last    time.Time
	evs     []model.Event
	total   Summary

	// published for other goroutines (the cockpit) after every Step
	mu        sync.Mutex
	published []follow.SourceStatus
	pubTotal  Summary
}

type source struct {
	spec     SourceSpec
	fol      *follow.Follower
	stateful Stateful
	stat     state.SourceStat
	sum      Summary
}

// Summary counts what a pipeline (or one source) consumed.
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
		s.fol = follow.New(follow.Options{Source: sp.Name, Globs: sp.Globs, StartAtEnd: sp.StartEnd}, curs)
		s.stat = state.SourceStat{Source: sp.Name, Kind: sp.Kind, Side: sp.Side.String()}
		p.sources = append(p.sources, s)
	}
	return p, nil
}

// Step polls every source once, processes what it read, and commits when
// the batch is due (or force is set). It reports whether any data was read.
func (p *Pipeline) Step(force bool) (bool, error) {
	progress := false
	for _, s := range p.sources {
		chunks, err := s.fol.Poll()
		if err != nil {
			return progress, fmt.Errorf("source %s: %w", s.spec.Name, err)
		}
		for i := range chunks {
			if len(chunks[i].Data) > 0 || chunks[i].NewFile {
				progress = true
			}
			p.process(s, &chunks[i])
		}
		if p.pending >= p.opts.CommitEvents {
			if err := p.Commit(); err != nil {
				return progress, err
			}
		}
	}
	if force || p.pending > 0 && time.Since(p.last) >= p.opts.CommitEvery {
		if err := p.Commit(); err != nil {
			return progress, err
		}
	}
	p.publish()
	return progress, nil
}

func (p *Pipeline) publish() {
	st := make([]follow.SourceStatus, 0, len(p.sources))
	for _, s := range p.sources {
		st = append(st, s.fol.Status())
	}
	p.mu.Lock()
	p.published = st
	p.pubTotal = p.total
	p.mu.Unlock()
}

func (p *Pipeline) process(s *source, c *follow.Chunk) {
	sp := &s.spec
	if c.NewFile {
		sp.Parser.NewFile(c.Path, c.ModTime, c.Header)
	}
	var sum Summary
	data := c.Data
	off := c.Cursor.Offset - int64(len(data))
	var lastTime time.Time
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			// The follower only hands out complete lines; keep the rest
			// unconsumed rather than guess.
			break
		}
		line := data[:i]
		lineOff := off
		off += int64(i + 1)
		data = data[i+1:]
		sum.Lines++
		sum.Bytes += int64(i + 1)
		line = bytes.TrimSuffix(line, []byte{'\r'})
		var err error
		p.evs, err = sp.Parser.ParseLine(line, p.evs[:0])
		if err != nil {
			sum.Rejected++
			p.batch.AddReject(state.Reject{Source: sp.Name, Path: c.Path, Offset: lineOff,
				Text: clip(line, 512), Reason: err.Error(), Seen: time.Now().UTC()})
			continue
		}
		for j := range p.evs {
			ev := &p.evs[j]
			ev.Side = sp.SideMap.Side(ev, sp.Side)
			ev.MTA = sp.MTA
			ev.Kind = sp.Kind
			if ev.Domain == "" {
				ev.Domain = model.DomainOf(ev.Recipient)
			}
			ev.ISP = p.opts.Classifier.ISP(ev.Domain)
			if ev.Class == model.ClassNone {
				ev.Class = model.ClassFor(ev.Outcome, ev.Status)
			}
			p.batch.AddEvent(ev)
			sum.Events++
			sum.Outcomes[ev.Outcome]++
			if ev.Time.After(lastTime) {
				lastTime = ev.Time
			}
		}
	}
	for _, ll := range c.TooLong {
		sum.Rejected++
		p.batch.AddReject(state.Reject{Source: sp.Name, Path: c.Path, Offset: ll.Offset,
			Text: fmt.Sprintf("(%d bytes)", ll.Length), Reason: "line too long", Seen: time.Now().UTC()})
	}
	cur := c.Cursor
	if !lastTime.IsZero() {
		cur.LastLine = lastTime
	}
	p.batch.SetCursor(cur)
	p.pending += int(sum.Events) + 1
	s.sum.add(sum)
	p.total.add(sum)
	p.batch.AddSourceStat(state.SourceStat{Source: sp.Name, Kind: sp.Kind, Side: sp.Side.String(),
		Lines: sum.Lines, Events: sum.Events, Rejected: sum.Rejected, LastLine: lastTime, Updated: time.Now().UTC()})
}

// Commit writes the pending batch (events, cursors, parser state) in one
// transaction.
func (p *Pipeline) Commit() error {
	for _, s := range p.sources {
		if s.stateful != nil {
			if d := s.stateful.TakeDelta(); len(d) > 0 {
				p.batch.SetParserState(s.spec.Name, d)
			}
		}
	}
	p.last = time.Now()
	if p.batch.Len() == 0 {
		return nil
	}
	if err := p.db.Commit(p.batch); err != nil {
		return fmt.Errorf("commit to %s: %w", p.db.Path(), err)
	}
	p.batch = state.NewBatch()
	p.pending = 0
	if p.opts.OnCommit != nil {
		p.opts.OnCommit()
	}
	return nil
}

// CaughtUp reports whether every source has been read to its last complete
// line.
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
	for {
		if err := ctx.Err(); err != nil {
			return p.total, p.Commit()
		}
		moved, err := p.Step(false)
		if err != nil {
			return p.total, err
		}
		if progress != nil {
			progress(p.total)
		}
		if !moved && p.CaughtUp() {
			return p.total, p.Commit()
		}
	}
}

// Run follows every source until ctx is done, polling every interval, and
// commits what it has before returning.
func (p *Pipeline) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return p.Commit()
		}
		moved, err := p.Step(false)
		if err != nil {
			return err
		}
		if moved {
			continue // keep reading while there is a backlog
		}
		select {
		case <-ctx.Done():
			return p.Commit()
		case <-t.C:
		}
	}
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

// Close releases the followers' files.
func (p *Pipeline) Close() error {
	var first error
	for _, s := range p.sources {
		if err := s.fol.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
