package owner

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/ingest/dnsq"
	"cutover/model"
	"cutover/state"
	"cutover/ui"
	"cutover/ui/attach"
)

// DNSCheckEvery is how often the owner re-checks DNS ([dns] configured).
var DNSCheckEvery = 5 * time.Minute

// dnsRunner re-checks the [dns] section on a schedule and stores each
// report; status, /metrics and the cockpit read the stored one.
type dnsRunner struct{ c dnsq.Config }

func (dnsRunner) Name() string { return "dns check" }

func (r dnsRunner) Run(ctx context.Context, o *Owner) error {
	ru := &dnsq.Runner{Client: &dnsq.Client{Server: r.c.Server}, Config: r.c, Opt: dnsq.Options{DB: o.DB}, Every: DNSCheckEvery}
	ru.Run(ctx)
	if _, err := ru.Latest(); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// StatusDNS is the dns part of `cutover status`.
type StatusDNS struct {
	State        string    `json:"state"` // OK | WARN | CRIT | UNKNOWN
	Checked      time.Time `json:"checked_at"`
	RatioBlocked bool      `json:"ratio_blocked"`
}

// dnsStatus adds the stored dns check to a status report: CRIT and WARN
// findings become reasons (UNKNOWN, a DNS failure, is a WARN).
func dnsStatus(db *state.DB, rep *StatusReport, add func(model.Health, string, ...any)) {
	dr, err := dnsq.LoadReport(db)
	if err != nil {
		add(model.HealthWarn, "dns: %v", err)
		return
	}
	if dr == nil {
		return
	}
	rep.DNS = &StatusDNS{State: dr.State, Checked: dr.Checked, RatioBlocked: dr.Blocked}
	for _, f := range dr.Findings {
		msg := ui.Sanitize(f.Check+" "+f.Name+": "+f.Message, 200)
		switch f.Severity.String() {
		case "CRIT":
			add(model.HealthCrit, "dns %s", msg)
		case "WARN", "UNKNOWN":
			add(model.HealthWarn, "dns %s", msg)
		}
	}
}

// DNSSource is the cockpit's view of the stored dns check, re-read at most
// every 5 s (the view renders often; the runner writes every 5 min).
func DNSSource(db *state.DB) ui.DNSSource {
	var mu sync.Mutex
	var at time.Time
	var cur *ui.DNSReport
	return func() *ui.DNSReport {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < 5*time.Second {
			return cur
		}
		at = time.Now()
		dr, err := dnsq.LoadReport(db)
		if err != nil {
			cur = &ui.DNSReport{State: "UNKNOWN", Err: err.Error()}
		} else if dr != nil {
			cur = &ui.DNSReport{State: dr.State, Checked: dr.Checked, Blocked: dr.Blocked, Findings: dr.Findings}
		}
		return cur
	}
}

var dnsDescs = func() map[string]*prometheus.Desc {
	m := map[string]*prometheus.Desc{}
	for name, h := range dnsq.SampleHelp {
		m[name] = desc(name, h.Help, h.Labels...)
	}
	return m
}()

func describeDNS(ch chan<- *prometheus.Desc) {
	for _, d := range dnsDescs {
		ch <- d
	}
}

// collectDNS exports the stored dns check as gauges.
func collectDNS(db *state.DB, ch chan<- prometheus.Metric) {
	dr, err := dnsq.LoadReport(db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dnsDescs["dns_check"], err)
		return
	}
	if dr == nil {
		return
	}
	for _, s := range dr.Samples() {
		if d, ok := dnsDescs[s.Name]; ok {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.Value, s.Values...)
		}
	}
}

// OpDNSStatus answers attached viewers with the stored dns check (the
// header word and D view of a cockpit that does not hold the database).
const OpDNSStatus = "dns.status"

// DNSStatusReply is OpDNSStatus's answer.
type DNSStatusReply struct {
	Configured bool          `json:"configured"`
	Report     *ui.DNSReport `json:"report,omitempty"`
}

func (o *Owner) handleDNSStatus(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
	if o.Config == nil || !o.Config.DNS.Configured() {
		return DNSStatusReply{}, nil
	}
	return DNSStatusReply{Configured: true, Report: o.dnsSource()}, nil
}
