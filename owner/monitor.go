package owner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model"
	"cutover/model/auth"
	"cutover/state"
	"cutover/state/alerts"
	"cutover/state/baseline"
	"cutover/ui"
	"cutover/ui/notify"
)

// MonitorEvery is how often the alert rules are evaluated (wave2 §8.3).
var MonitorEvery = 60 * time.Second

// monitorTick is how often the runner looks at the clock: a simulated
// clock (the demo) moves faster than the wall clock, and an evaluation is
// due whenever MonitorEvery of the owner's clock has passed.
var monitorTick = time.Second

// Monitoring is the owner's alert evaluator and report scheduler.
type Monitoring struct {
	o   *Owner
	cfg *Monitor

	mu        sync.Mutex // one evaluation at a time
	last      time.Time
	staleSeen map[string]time.Time // source → first evaluation that saw it stale
	// Sent records every delivery (channel, kind, alert id, error) for the
	// log; tests read it through Deliveries.
	sent []Delivery
	// Report writes the weekly report when the schedule says so; nil until
	// the report package wires it (monitor_report.go).
	report     func(ctx context.Context, now time.Time) error
	lastWeekly string
}

// Delivery is one notification attempt.
type Delivery struct {
	At      time.Time
	Channel string
	Kind    string
	AlertID string
	Err     string
}

// Monitoring returns the owner's evaluator (nil when the config's
// monitoring sections do not parse, which LoadConfig already refused).
func (o *Owner) Monitoring() *Monitoring {
	o.monOnce.Do(func() {
		cfg, err := o.Config.Monitor()
		if err != nil {
			o.log.Error("monitor config", "err", err)
			return
		}
		o.mon = &Monitoring{o: o, cfg: cfg, staleSeen: map[string]time.Time{}}
		o.mon.scheduleReports()
	})
	return o.mon
}

// Config is the parsed monitoring configuration.
func (m *Monitoring) Config() *Monitor { return m.cfg }

func (m *Monitoring) now() time.Time {
	if c := m.o.Clock(); c != nil {
		return c().UTC()
	}
	return time.Now().UTC()
}

// Deliveries returns the notification attempts so far.
func (m *Monitoring) Deliveries() []Delivery {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Delivery(nil), m.sent...)
}

type monitorRunner struct{}

func (monitorRunner) Name() string { return "alert evaluator" }

// Run evaluates every MonitorEvery of the owner's clock until ctx ends.
// An evaluation error is logged and retried at the next tick: a monitor
// that stops on one bad read is worse than one that says so.
func (monitorRunner) Run(ctx context.Context, o *Owner) error {
	m := o.Monitoring()
	if m == nil {
		return nil
	}
	t := time.NewTicker(monitorTick)
	defer t.Stop()
	for {
		now := m.now()
		m.mu.Lock()
		due := m.last.IsZero() || now.Sub(m.last) >= MonitorEvery
		m.mu.Unlock()
		if due {
			if _, err := m.Evaluate(ctx); err != nil && ctx.Err() == nil {
				o.log.Warn("alert evaluation", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Evaluate runs one evaluation at the owner's clock on committed data:
// snapshot, state change in one transaction, then the notices go out.
// It returns the notices it sent.
func (m *Monitoring) Evaluate(ctx context.Context) ([]model.Notice, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.last = now
	snap, err := m.snapshot(now)
	if err != nil {
		return nil, err
	}
	obs := model.EvaluateAlerts(m.cfg.Rules, snap, m.o.Thresholds)
	notices, err := alerts.Step(m.o.DB, func(open map[string]*model.Alert, newID func() string) ([]*model.Alert, []model.Notice) {
		return model.StepAlerts(open, obs, m.cfg.Rules, m.cfg.Policy(), now, newID)
	})
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		m.deliverLocked(ctx, notify.FromNotice(n, m.cfg.URL), now)
	}
	if len(notices) > 0 {
		m.o.changed()
	}
	if m.report != nil {
		if err := m.report(ctx, now); err != nil {
			m.o.log.Warn("weekly report", "err", err)
		}
	}
	return notices, nil
}

func (m *Monitoring) deliverLocked(ctx context.Context, msg notify.Message, now time.Time) []notify.Result {
	rs := notify.Deliver(ctx, m.cfg.Channels, msg)
	for _, r := range rs {
		d := Delivery{At: now, Channel: r.Channel, Kind: msg.Kind, AlertID: msg.ID}
		if r.Err != nil {
			d.Err = r.Err.Error()
			m.o.log.Warn("notification failed", "channel", r.Channel, "kind", msg.Kind, "alert", msg.ID, "err", r.Err)
		}
		m.sent = append(m.sent, d)
	}
	return rs
}

// Send delivers one message now (alerts test, report announcements).
func (m *Monitoring) Send(ctx context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := m.deliverLocked(ctx, msg, m.now())
	if len(rs) == 0 {
		return errors.New("no [[notify]] channel takes this message")
	}
	return notify.Errors(rs)
}

// Ack acknowledges an alert at the owner's clock.
func (m *Monitoring) Ack(id, by, note string) (model.Alert, error) {
	a, err := alerts.Ack(m.o.DB, id, by, note, m.now())
	if err == nil {
		m.o.changed()
	}
	return a, err
}

// rateMetrics read counter windows.
var rateMetrics = map[string]bool{model.MetricComplaint: true, model.MetricHardBounce: true, model.MetricDeferral: true,
	model.MetricNewWorse: true, model.MetricVolumeDrop: true}

// snapshot reads what the rules need from committed state.
func (m *Monitoring) snapshot(now time.Time) (model.AlertSnapshot, error) {
	s := model.AlertSnapshot{Now: now, Tallies: map[time.Duration]map[model.SideISP]model.Tally{},
		Blocks: map[time.Duration]map[string]uint64{}, Stale: map[string]time.Time{}}
	db := m.o.DB
	for _, r := range m.cfg.Rules {
		if r.Disabled {
			continue
		}
		switch {
		case rateMetrics[r.Metric] && r.Window > 0:
			if _, ok := s.Tallies[r.Window]; ok {
				continue
			}
			t, err := tallies(db, now.Add(-r.Window), now, 0)
			if err != nil {
				return s, err
			}
			s.Tallies[r.Window] = t
			if r.Metric == model.MetricVolumeDrop && s.LastWeek == nil {
				lw, err := tallies(db, now.Add(-7*24*time.Hour-r.Window), now.Add(-7*24*time.Hour), model.SideNew)
				if err != nil {
					return s, err
				}
				s.LastWeek = map[string]model.Tally{}
				for k, v := range lw {
					s.LastWeek[k.ISP] = v
				}
			}
		case r.Metric == model.MetricBlock:
			if _, ok := s.Blocks[r.Window]; ok {
				continue
			}
			b, err := blockCounts(db, now.Add(-r.Window), now)
			if err != nil {
				return s, err
			}
			s.Blocks[r.Window] = b
		}
	}
	// Stale sources, timed on the owner's clock from the first evaluation
	// that saw them stale (the follower's own timestamps are wall time).
	if m.o.Pipeline != nil {
		seen := map[string]bool{}
		for _, v := range liveSources(m.o.Pipeline, m.o.Err()) {
			if v.State != ui.SourceStale && v.State != ui.SourceUnreachable {
				continue
			}
			seen[v.Name] = true
			if _, ok := m.staleSeen[v.Name]; !ok {
				m.staleSeen[v.Name] = now
			}
			s.Stale[v.Name] = m.staleSeen[v.Name]
		}
		for n := range m.staleSeen {
			if !seen[n] {
				delete(m.staleSeen, n)
			}
		}
	}
	// Postmaster Tools (bucket reputation, cutover reputation import): the
	// newest imported day per domain; none imported leaves the rule
	// inactive ("not imported").
	if recs, err := baseline.ReadReputation(db); err == nil {
		latest := map[string]model.ReputationRecord{}
		for _, r := range recs {
			if (r.Kind == model.RepPostmaster || r.Kind == model.RepPostmasterV2) && r.HasSpam && r.Date >= latest[r.Subject].Date {
				latest[r.Subject] = r
			}
		}
		if len(latest) > 0 {
			s.Postmaster = map[string]float64{}
			for d, r := range latest {
				s.Postmaster[d] = r.SpamRate
			}
		}
	}
	if rep, err := dnsq.LoadReport(db); err == nil && rep != nil {
		s.AuthKnown = true
		for _, f := range rep.Findings {
			if f.Check != "dnsbl" && f.Severity.String() == "CRIT" {
				s.AuthCrit = append(s.AuthCrit, ui.Sanitize(f.Check+" "+f.Name, 120))
			}
		}
		for _, l := range rep.DNSBL {
			s.DNSBLKnown = true
			if l.Status == auth.Listed {
				s.Listed = append(s.Listed, l.IP+" "+l.Zone)
			}
		}
	}
	return s, nil
}

// tallies sums Stats rows over MTAs per side and provider.
func tallies(db *state.DB, since, until time.Time, side model.Side) (map[model.SideISP]model.Tally, error) {
	rows, err := db.Stats(state.Query{Since: since, Until: until, Side: side})
	if err != nil {
		return nil, err
	}
	out := map[model.SideISP]model.Tally{}
	for _, r := range rows {
		k := model.SideISP{Side: r.Side, ISP: r.ISP}
		t := out[k]
		t.Add(model.Tally(r.Counts))
		out[k] = t
	}
	return out, nil
}

// blockCounts counts NEW replies of the policy/block class per provider.
// Reasons are kept per hour: the hours overlapping the window are read and
// a signature counts when its newest event falls inside the window, so a
// block burst is seen at most one hour late... never missed.
func blockCounts(db *state.DB, since, until time.Time) (map[string]uint64, error) {
	rs, err := db.TopReasons(model.SideNew, "", since, until, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, r := range rs {
		if r.Last.Before(since) {
			continue
		}
		if model.ClassifyBounce(model.BounceInput{Text: r.Sample}).Kind == model.BouncePolicy {
			out[r.ISP] += r.Count
		}
	}
	return out, nil
}

// AlertCounts is the header bar: fired alerts by severity and the nearest due.
type AlertCounts struct {
	Crit, Warn int
	NextDue    time.Time
	NextID     string
}

// CountAlerts summarises the open alerts.
func CountAlerts(open []model.Alert) AlertCounts {
	var c AlertCounts
	for _, a := range open {
		if !a.Fired() {
			continue
		}
		if a.Severity == "crit" {
			c.Crit++
		} else {
			c.Warn++
		}
		if a.State == model.AlertFiring && (c.NextDue.IsZero() || a.DueBy.Before(c.NextDue)) {
			c.NextDue, c.NextID = a.DueBy, a.ID
		}
	}
	return c
}

func (c AlertCounts) String() string {
	if c.Crit+c.Warn == 0 {
		return ""
	}
	s := fmt.Sprintf("alerts %d crit %d warn", c.Crit, c.Warn)
	if !c.NextDue.IsZero() {
		s += " · next due " + c.NextDue.Format("Mon 15:04")
	}
	return s
}
