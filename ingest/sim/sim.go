// Package sim is the simulated cutover behind `cutover demo`: an old,
// warm Postfix and a new, cold PowerMTA delivering one newsletter's
// recipients to mailbox providers that defer or block IPs sent faster than
// their reputation allows.
//
// The simulator only writes log files in the real formats, into Dir:
//
//	old/postfix.log      classic syslog lines (renamed to .1 … .7 at midnight)
//	new/acct-YYYY-MM-DD-NNNN.csv  PowerMTA accounting CSV (d, b, t, tq, f)
//
// The cockpit learns about it the way it learns about production: through
// the follower, the pmta and postfix parsers and state (globs OldGlob and
// NewGlob). Nothing is handed over through a side door; Totals exists so
// tests can check that what the parsers count is what was written.
//
// The model, per provider and side: an allowance of messages per hour the
// provider accepts from that side's IPs. Within the allowance recipients
// meet their fate (delivered; unknown mailbox; mailbox full; greylisted; a
// dead MX; rare transient errors; complaints later on the new side). Beyond
// it they get the provider's real rate-limit deferral (Gmail 421-4.7.28,
// Microsoft 451 4.7.650, Yahoo 421 4.7.0 [TSS04], Apple 421 4.7.1, …) and,
// when overloaded several times over, its 5xx block. The allowance grows
// (about ×2.2 a day) while the side sends at least half of it and does
// not exceed it, and shrinks while it is exceeded. The old IPs start warm;
// the new ones start at a small share of the provider's volume (Gmail 10 %),
// so that 5 % on day one delivers and 100 % on day one is a disaster, and a
// careful ramp reaches 100 % in about five days. Allowances scale with
// VolumePerHour so the story is the same at any volume.
//
// Deferred mail is retried (Postfix: backoff 300-4000 s at queue runs;
// PowerMTA: every 10 minutes) and expires after QueueLifetime. Mail over a
// new-side throttle waits in the PowerMTA queue.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"cutover/model"
)

// Control is what the operator decides, read again every simulated minute.
// Provider names are the model's ISP names (see Providers).
type Control struct {
	// RatioNew is the share of recipients, in percent (0-100), that go
	// through the new MTA.
	RatioNew int
	// PerISP overrides RatioNew for some providers.
	PerISP map[string]int
	// MaxPerHour throttles the new MTA per provider (messages per hour);
	// 0 or absent means no throttle. Mail over it waits in the queue.
	MaxPerHour map[string]int
}

// Fixed returns a Control function that always answers c.
func Fixed(c Control) func() Control { return func() Control { return c } }

// Options configure a Sim. Zero values take the defaults.
type Options struct {
	// Dir receives old/ and new/; both must be empty or absent.
	Dir  string
	Seed int64
	// Start is the simulated time at which the run begins; its location is
	// the MTAs' local time (syslog has no zone: give the Postfix parser
	// Location()). Default: the wall clock's current hour, UTC.
	Start time.Time
	// Speed is simulated seconds per wall second for Run (default 60).
	Speed float64
	// VolumePerHour is recipients injected per simulated hour on average,
	// both sides together (default 20000); the day has a peak in the
	// afternoon and a trough at night.
	VolumePerHour int
	// QueueLifetime is Postfix's maximal_queue_lifetime and PowerMTA's
	// bounce-after (default 24h, common for bulk mail).
	QueueLifetime time.Duration
	// Control gives the split and throttles (default: all on the old side).
	// It is called once per simulated minute with the Sim's lock held: it
	// may call Clock, not Totals or Step.
	Control func() Control
	// Now is the wall clock for Run (default time.Now).
	Now func() time.Time
}

// Globs of the files the simulator writes, relative to Dir.
const (
	OldGlob = "old/postfix.log*"
	NewGlob = "new/acct-*.csv"
)

// Names the logs carry, for the lead's side map and source config.
const (
	OldHost = "mta-old"  // Postfix syslog host name
	NewPool = "pool-new" // PowerMTA vmta pool of the new IPs
	Sender  = "newsletter@news.example.com"
)

// Key selects one side and provider in Totals.
type Key struct {
	Side model.Side
	ISP  string
}

// Totals is what the simulator wrote, counted as the project's parsers
// count it (CONTRACTS.md outcome mapping), per side and provider (the
// provider the pipeline's classifier gives the recipient domain).
type Totals struct {
	Counts map[Key]model.Tally
	// Lines written per side, every kind of line (header, noise) included.
	Lines map[model.Side]int64
}

// Side sums one side over providers.
func (t Totals) Side(s model.Side) model.Tally {
	var sum model.Tally
	for k, v := range t.Counts {
		if k.Side == s {
			sum.Add(v)
		}
	}
	return sum
}

// Sim is one simulated cutover. Clock and Totals may be called from any
// goroutine; Run and Step from one at a time.
type Sim struct {
	opts     Options
	start    time.Time
	loc      *time.Location
	vol      float64
	lifetime int64
	dir      string

	clock   atomic.Int64 // simulated ns since start, published for Clock
	running atomic.Bool

	mu     sync.Mutex // held while stepping; guards everything below
	at     int64
	rng    *rand.Rand
	frng   *rand.Rand // partial flushes only, so wall timing never changes content
	jobs   jobHeap
	seq    uint64
	provs  []*provider
	byName map[string]*provider
	cum    []float64
	ctl    Control
	pf     *pfWriter
	pm     *pmWriter
	totals map[Key]*model.Tally
	lines  map[model.Side]int64
	ndrISP string
	// injected counts recipients per side (tests check none is lost).
	injected [3]int64
	// complaintX multiplies complaint rates (tests need a few).
	complaintX float64
	err        error
	closed     bool
}

// New prepares a simulation; nothing is written before Step or Run.
func New(opts Options) (*Sim, error) {
	if opts.Dir == "" {
		return nil, errors.New("sim: no Dir")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Start.IsZero() {
		opts.Start = opts.Now().UTC().Truncate(time.Hour)
	}
	if opts.Speed <= 0 {
		opts.Speed = 60
	}
	if opts.VolumePerHour <= 0 {
		opts.VolumePerHour = 20000
	}
	if opts.QueueLifetime <= 0 {
		opts.QueueLifetime = 24 * time.Hour
	}
	if opts.Control == nil {
		opts.Control = Fixed(Control{})
	}
	for _, sub := range []string{"old", "new"} {
		d := filepath.Join(opts.Dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		if ents, err := os.ReadDir(d); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		} else if len(ents) > 0 {
			return nil, fmt.Errorf("sim: %s is not empty (a simulation writes into a fresh directory)", d)
		}
	}
	s := &Sim{
		opts:       opts,
		start:      opts.Start,
		loc:        opts.Start.Location(),
		vol:        float64(opts.VolumePerHour),
		lifetime:   int64(opts.QueueLifetime),
		dir:        opts.Dir,
		rng:        rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed_c0ffee)),
		frng:       rand.New(rand.NewPCG(uint64(opts.Seed), 0xf1054)),
		byName:     map[string]*provider{},
		complaintX: 1,
		totals:     map[Key]*model.Tally{},
		lines:      map[model.Side]int64{},
	}
	table := model.DefaultISPTable()
	s.provs = buildProviders(table)
	if isp, ok := table.ByDomain(model.DomainOf(Sender)); ok {
		s.ndrISP = isp
	} else {
		s.ndrISP = model.ISPOther
	}
	total := 0.0
	for _, p := range s.provs {
		total += p.share
	}
	sum := 0.0
	for _, p := range s.provs {
		p.share /= total
		sum += p.share
		s.cum = append(s.cum, sum)
		s.byName[p.name] = p
		full := p.share * s.vol // the provider's hourly volume at 100 %
		warm := rep{allow: 3 * full, floor: 3 * full, ceil: 3 * full}
		cold := rep{allow: p.cold * full, floor: 0.3 * p.cold * full, ceil: 3 * full}
		warm.budget, cold.budget = warm.burst(), cold.burst()
		p.rep[model.SideOld], p.rep[model.SideNew] = warm, cold
		p.capPerMin = math.Max(20, 3*full/60)
	}
	s.pf = newPFWriter(s)
	s.pm = newPMWriter(s)
	t0 := s.time(0)
	day := t0.Year()*10000 + int(t0.Month())*100 + t0.Day()
	s.pf.rotate(day)
	s.pm.newFile(day, 0)
	if s.err != nil {
		return nil, s.err
	}
	s.push(&job{at: 0, kind: jTick})
	return s, nil
}

// Clock returns the simulated now: every line up to it has been written
// (or is pending the next flush).
func (s *Sim) Clock() time.Time { return s.start.Add(time.Duration(s.clock.Load())) }

// Location is the MTAs' local time zone (the Postfix log has no zone).
func (s *Sim) Location() *time.Location { return s.loc }

// Dir is where the logs are.
func (s *Sim) Dir() string { return s.dir }

// Totals returns a copy of what was written so far.
func (s *Sim) Totals() Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Totals{Counts: make(map[Key]model.Tally, len(s.totals)), Lines: map[model.Side]int64{}}
	for k, v := range s.totals {
		t.Counts[k] = *v
	}
	for k, v := range s.lines {
		t.Lines[k] = v
	}
	return t
}

// Step advances simulated time by d, writes every line up to the new clock
// and flushes whole lines. It is for tests and tools; Run is the live mode.
func (s *Sim) Step(d time.Duration) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sim: Step while Run or another Step is running")
	}
	defer s.running.Store(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.advance(int64(d)); err != nil {
		return err
	}
	return s.flush(false)
}

// flushEvery is how often Run writes (the brief: at least every 250 ms).
const flushEvery = 100 * time.Millisecond

// Run advances simulated time at Speed against the wall clock, writing as
// it goes, until ctx is done; then it flushes, closes the files and returns
// nil. It returns early only on a write error.
func (s *Sim) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sim: Run while Step or another Run is running")
	}
	defer s.running.Store(false)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	last := s.opts.Now()
	for {
		select {
		case <-ctx.Done():
			return s.Close()
		case <-t.C:
		}
		now := s.opts.Now()
		el := now.Sub(last)
		last = now
		// Never try to catch up more than a second of wall time at once:
		// a machine too slow for Speed runs the simulation slower instead
		// of stalling on an ever larger backlog.
		el = min(max(el, 0), time.Second)
		s.mu.Lock()
		err := s.advance(int64(float64(el) * s.opts.Speed))
		if err == nil {
			err = s.flush(true)
		}
		s.mu.Unlock()
		if err != nil {
			s.Close()
			return err
		}
	}
}

// Close flushes everything and closes the files. Further Steps fail.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.err
	}
	s.closed = true
	err := s.pf.out.close()
	if e := s.pm.out.close(); err == nil {
		err = e
	}
	if s.err == nil {
		s.err = err
	}
	return err
}

func (s *Sim) flush(partial bool) error {
	var r *rand.Rand
	if partial {
		r = s.frng
	}
	if err := s.pf.out.flush(r); err != nil {
		return err
	}
	return s.pm.out.flush(r)
}

// advance processes every job before at+d, in time order.
func (s *Sim) advance(d int64) error {
	if s.closed {
		return errors.New("sim: closed")
	}
	if s.err != nil {
		return s.err
	}
	end := s.at + d
	for len(s.jobs) > 0 && s.jobs[0].at < end {
		j := s.jobs.pop()
		s.at = j.at
		s.run(j)
		if s.err != nil {
			return s.err
		}
	}
	s.at = end
	s.clock.Store(end)
	return nil
}

func (s *Sim) time(at int64) time.Time { return s.start.Add(time.Duration(at)).In(s.loc) }

func (s *Sim) push(j *job) {
	s.seq++
	j.seq = s.seq
	s.jobs.push(j)
}

func (s *Sim) count(side model.Side, isp string, o model.Outcome, hard bool) {
	k := Key{side, isp}
	t := s.totals[k]
	if t == nil {
		t = &model.Tally{}
		s.totals[k] = t
	}
	switch o {
	case model.Delivered:
		t.Delivered++
	case model.Deferred:
		t.Deferred++
	case model.Held:
		t.Held++
	case model.Bounced:
		t.Bounced++
		if hard {
			t.HardBounce++
		}
	case model.Expired:
		t.Expired++
	case model.Complaint:
		t.Complaints++
	}
}

func (s *Sim) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// control reads and sanitises the operator's Control.
func (s *Sim) control() {
	c := s.opts.Control()
	c.RatioNew = clampPct(c.RatioNew)
	s.ctl = c
}

func clampPct(v int) int { return min(max(v, 0), 100) }

func (s *Sim) ratio(p *provider) int {
	if v, ok := s.ctl.PerISP[p.name]; ok {
		return clampPct(v)
	}
	return s.ctl.RatioNew
}

func (s *Sim) throttle(p *provider) float64 {
	return float64(max(s.ctl.MaxPerHour[p.name], 0))
}
