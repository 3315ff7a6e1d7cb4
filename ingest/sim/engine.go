package sim

import (
	"math"
	"sort"
	"time"

	"cutover/model"
)

const (
	minute = int64(time.Minute)
	second = int64(time.Second)

	// Postfix defaults: minimal_backoff_time, maximal_backoff_time,
	// queue_run_delay.
	pfMinBackoff = 300 * second
	pfMaxBackoff = 4000 * second
	pfQueueRun   = 300 * second
	// PowerMTA retry-after default.
	pmRetry = 10 * minute
	// How long Postfix keeps a destination dead after a failed connect
	// (and logs "delivery temporarily suspended"), and PowerMTA waits
	// before connecting again to a queue whose MX did not answer.
	deadFor = 10 * minute

	// Reputation: growth per hour at full use (×2.2 a day) and loss per
	// hour per unit of overload.
	growPerHour = 0.03285
	dropPerHour = 0.3
)

type jobKind uint8

const (
	jTick jobKind = iota
	jOldArrive
	jOldAttempt
	jNewAttempt
	jNewExpire
	jComplaint
)

type job struct {
	at   int64
	seq  uint64
	kind jobKind
	pf   *pfMsg
	pm   *pmMsg
}

// jobHeap is a min-heap by (at, seq): equal times run in the order they
// were scheduled, which keeps the output deterministic.
type jobHeap []*job

func (h jobHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *jobHeap) push(j *job) {
	*h = append(*h, j)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a.less(i, p) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *jobHeap) pop() *job {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = nil
	a = a[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && a.less(l, m) {
			m = l
		}
		if r < n && a.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// pmHeap orders deferred new-side messages by their next attempt.
type pmHeap []*pmMsg

func (h *pmHeap) push(m *pmMsg) {
	*h = append(*h, m)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].ready <= a[i].ready {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pmHeap) pop() *pmMsg {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = nil
	a = a[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && a[l].ready < a[m].ready {
			m = l
		}
		if r < n && a[r].ready < a[m].ready {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// rep is a provider's view of one side's IPs.
type rep struct {
	allow       float64 // messages per hour it accepts
	floor, ceil float64
	rate        float64 // attempts per hour, exponentially averaged over ~1 h
	budget      float64 // acceptances left this minute
	attempts    int     // this minute
}

// minute closes a simulated minute: the averaged rate moves, reputation
// grows when the side used at least half of its allowance without going
// over, and falls in proportion to the overload (capped at 4×).
func (r *rep) minute() {
	r.rate += (float64(r.attempts)*60 - r.rate) / 60
	r.attempts = 0
	load := r.rate / r.allow
	if load > 1 {
		r.allow *= math.Exp(-dropPerHour * (math.Min(load, 4) - 1) / 60)
	} else {
		r.allow *= math.Exp(growPerHour * math.Min(load/0.5, 1) / 60)
	}
	r.allow = math.Min(math.Max(r.allow, r.floor), r.ceil)
	r.budget = math.Min(r.budget+r.allow/60, r.burst())
}

// burst is how far ahead of its hourly allowance a side may run: providers
// judge volume over tens of minutes, not per second, so a ten-minute
// burst within the hour is forgiven.
func (r *rep) burst() float64 { return math.Max(3, r.allow/6) }

// blockShare is the share of over-allowance attempts a provider rejects
// outright instead of deferring: only under heavy, sustained overload, and
// never most of them (the mail mostly piles up and expires).
func (r *rep) blockShare() float64 {
	load := r.rate / r.allow
	if load <= 2.5 {
		return 0
	}
	return math.Min(0.05, (load-2.5)/20)
}

type fate uint8

const (
	fOK fate = iota
	fUnknown
	fFull
	fGrey
)

func (s *Sim) run(j *job) {
	switch j.kind {
	case jTick:
		s.tick()
	case jOldArrive:
		s.pf.arrive(j.pf)
	case jOldAttempt:
		s.pf.attempt(j.pf)
	case jNewAttempt:
		s.pm.attempt(j.pm)
	case jNewExpire:
		s.pm.expire(j.pm)
	case jComplaint:
		s.pm.complaint(j.pm)
	}
}

// diurnal is the day's shape of the volume: peak 1.4× at 14:00, trough
// 0.6× at 02:00, mean 1.
func diurnal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 1 + 0.4*math.Cos(2*math.Pi*(h-14)/24)
}

// tick runs at the start of every simulated minute.
func (s *Sim) tick() {
	now := s.at
	end := now + minute
	s.control()
	for _, p := range s.provs {
		if now > 0 {
			p.rep[model.SideOld].minute()
			p.rep[model.SideNew].minute()
		}
		if mph := s.throttle(p); mph > 0 {
			p.tokens = math.Min(p.tokens+mph/60, math.Max(1, mph/60))
		} else {
			p.tokens = math.Inf(1)
		}
	}
	s.arrivals(now, end)
	for _, p := range s.provs {
		s.dispatch(p, now, end)
	}
	s.push(&job{at: end, kind: jTick})
}

func (s *Sim) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*s.rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (s *Sim) pickProvider() *provider {
	x := s.rng.Float64()
	for i, c := range s.cum {
		if x < c {
			return s.provs[i]
		}
	}
	return s.provs[len(s.provs)-1]
}

func (s *Sim) recipient() (string, *domain, fate) {
	p := s.pickProvider()
	d := p.pickDomain(s.rng)
	f := fOK
	switch x := s.rng.Float64(); {
	case x < p.hard:
		f = fUnknown
	case x < p.hard+p.full && p.tx.full != nil:
		f = fFull
	case x < p.hard+p.full+p.grey:
		f = fGrey
	}
	return localPart(s.rng) + "@" + d.name, d, f
}

// arrivals injects this minute's recipients: a Poisson count, each sent to
// the new side with the provider's ratio.
func (s *Sim) arrivals(now, end int64) {
	n := s.poisson(s.vol / 60 * diurnal(s.time(now)))
	times := make([]int64, n)
	for i := range times {
		times[i] = now + s.rng.Int64N(minute)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for _, t := range times {
		addr, d, f := s.recipient()
		if s.rng.IntN(100) < s.ratio(d.prov) {
			m := s.pm.newMsg(t, addr, d, f)
			d.prov.incoming = append(d.prov.incoming, m)
			s.injected[model.SideNew]++
			continue
		}
		m := s.pf.newMsg(t, addr, d, f)
		// A few messages carry more recipients (Postfix keeps them in one
		// queue file: one expiry line covers them all).
		if s.rng.IntN(40) == 0 {
			for k := 1 + s.rng.IntN(2); k > 0; k-- {
				a, d2, f2 := s.recipient()
				m.rcpts = append(m.rcpts, pfRcpt{addr: a, dom: d2, fate: f2})
			}
		}
		s.injected[model.SideOld] += int64(len(m.rcpts))
		s.push(&job{at: t, kind: jOldArrive, pf: m})
	}
}

// dispatch is the new MTA's queue for one provider this minute: due
// retries and new mail join the ready list, then as many are attempted as
// the throttle and the connection capacity allow, spread over the minute.
// The rest waits (and may expire) in the queue.
func (s *Sim) dispatch(p *provider, now, end int64) {
	var due []*pmMsg
	for len(p.retry) > 0 && p.retry[0].ready < end {
		due = append(due, p.retry.pop())
	}
	in := p.incoming
	for i, j := 0, 0; i < len(due) || j < len(in); {
		if j >= len(in) || (i < len(due) && due[i].ready <= in[j].ready) {
			p.ready = append(p.ready, due[i])
			i++
		} else {
			p.ready = append(p.ready, in[j])
			j++
		}
	}
	clear(in)
	p.incoming = in[:0]

	limit := math.Min(p.capPerMin, math.Floor(p.tokens))
	planned := int(math.Min(limit, float64(len(p.ready))))
	slot := minute
	if planned > 0 {
		slot = minute / int64(planned)
	}
	head, n := 0, 0
	for head < len(p.ready) {
		m := p.ready[head]
		at := max(m.ready, now)
		if at >= end {
			break
		}
		if at-m.queued >= s.lifetime {
			s.push(&job{at: at, kind: jNewExpire, pm: m})
			head++
			continue
		}
		if float64(n) >= limit {
			break
		}
		at = max(now+int64(n)*slot+s.rng.Int64N(slot), m.ready+s.rng.Int64N(2*second))
		if at >= end {
			break
		}
		s.push(&job{at: at, kind: jNewAttempt, pm: m})
		head++
		n++
	}
	if !math.IsInf(p.tokens, 1) {
		p.tokens -= float64(n)
	}
	// Drop the dispatched head; compact when the dead prefix is large.
	clear(p.ready[:head])
	p.ready = p.ready[head:]
	if cap(p.ready) > 4096 && len(p.ready) < cap(p.ready)/4 {
		p.ready = append([]*pmMsg(nil), p.ready...)
	}
}

// attempt is one recipient's SMTP transaction with its provider.
func (s *Sim) attempt(side model.Side, d *domain, f fate, tries int, g *gen) reply {
	p := d.prov
	if d.dead {
		return reply{kind: kConnFail}
	}
	r := &p.rep[side]
	r.attempts++
	if r.budget >= 1 {
		r.budget--
	} else {
		if b := r.blockShare(); b > 0 && s.rng.Float64() < b {
			return reply{kBounce, p.tx.block(g), p.tx.rateStage, "spam-related", whyNone}
		}
		return reply{kDefer, p.tx.rate(g), p.tx.rateStage, "policy-related", whyRate}
	}
	switch f {
	case fUnknown:
		return reply{kBounce, p.tx.unknown(g), "RCPT TO", "bad-mailbox", whyNone}
	case fFull:
		t := p.tx.full(g)
		if t[0] == '4' {
			return reply{kDefer, t, "RCPT TO", "quota-issues", whyFull}
		}
		return reply{kBounce, t, "RCPT TO", "quota-issues", whyNone}
	case fGrey:
		if tries == 0 {
			return reply{kDefer, greylist(g), "RCPT TO", "policy-related", whyGrey}
		}
	}
	if s.rng.Float64() < p.transient {
		return reply{kDefer, p.tx.transient(g), "MAIL FROM", "other", whyTransient}
	}
	return reply{kOK, p.tx.ok(g), "end of DATA", "", whyNone}
}
