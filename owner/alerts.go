package owner

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/model"
	"cutover/state"
	"cutover/state/alerts"
	"cutover/ui"
	"cutover/ui/attach"
	"cutover/ui/notify"
)

// Socket ops of the monitor (wave2 §9): the CLI's alerts commands go
// through them while an owner holds the database.
const (
	OpAlertsList = "alerts.list"
	OpAlertsAck  = "alerts.ack"
	OpAlertsTest = "alerts.test"
)

// AlertsListReply is OpAlertsList's answer: every stored alert and the
// owner's clock (due texts are computed against it).
type AlertsListReply struct {
	Now    time.Time     `json:"now"`
	Alerts []model.Alert `json:"alerts"`
}

// AlertsAckRequest acknowledges one alert.
type AlertsAckRequest struct {
	ID   string `json:"id"`
	By   string `json:"by"`
	Note string `json:"note,omitempty"`
}

// AlertsTestRequest sends a test notification through every channel.
type AlertsTestRequest struct {
	Rule string `json:"rule,omitempty"`
}

// AlertsTestReply lists each channel's result ("" = delivered).
type AlertsTestReply struct {
	Results []ChannelResult `json:"results"`
}

// ChannelResult is one channel's delivery.
type ChannelResult struct {
	Channel string `json:"channel"`
	Err     string `json:"error,omitempty"`
}

func (o *Owner) registerAlertOps() {
	o.srv.Handle(OpAlertsList, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		all, _, err := alerts.All(o.DB)
		now := time.Now().UTC()
		if c := o.Clock(); c != nil {
			now = c().UTC()
		}
		return AlertsListReply{Now: now, Alerts: all}, err
	})
	o.srv.Handle(OpAlertsAck, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		if s.ReadOnly() {
			return nil, attach.ErrReadOnly
		}
		var r AlertsAckRequest
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		m := o.Monitoring()
		if m == nil {
			return nil, fmt.Errorf("monitoring is not configured correctly")
		}
		return m.Ack(r.ID, r.By, r.Note)
	})
	o.srv.Handle(OpAlertsTest, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		if s.ReadOnly() {
			return nil, attach.ErrReadOnly
		}
		var r AlertsTestRequest
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		m := o.Monitoring()
		if m == nil {
			return nil, fmt.Errorf("monitoring is not configured correctly")
		}
		return AlertsTestReply{Results: SendTest(ctx, m.cfg, r.Rule, m.now())}, nil
	})
}

// TestMessage is the notification `alerts test` sends.
func TestMessage(rule string, now time.Time) notify.Message {
	if rule == "" {
		rule = "test"
	}
	return notify.Message{Kind: string(model.NoticeTest), ID: "test", Rule: rule, Severity: "crit", State: "test",
		FiredAt: now.UTC(), Summary: "cutover test notification (" + rule + "): no action needed"}
}

// SendTest sends a test message through every channel of m.
func SendTest(ctx context.Context, m *Monitor, rule string, now time.Time) []ChannelResult {
	var out []ChannelResult
	for _, r := range notify.Deliver(ctx, m.Channels, TestMessage(rule, now)) {
		cr := ChannelResult{Channel: r.Channel}
		if r.Err != nil {
			cr.Err = r.Err.Error()
		}
		out = append(out, cr)
	}
	return out
}

// StatusAlert is one fired alert in `status --json` ("alerts").
type StatusAlert struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	ISP      string    `json:"isp,omitempty"`
	Side     string    `json:"side,omitempty"`
	State    string    `json:"state"`
	FiredAt  time.Time `json:"fired_at"`
	DueBy    time.Time `json:"due_by"`
	AckedBy  string    `json:"acked_by,omitempty"`
	Summary  string    `json:"summary"`
}

// alertStatus adds the fired alerts to a status report: crit alerts make it
// CRIT (exit 2) while they fire, acked or not; warn alerts WARN.
func alertStatus(db *state.DB, rep *StatusReport, now time.Time, add func(model.Health, string, ...any)) {
	open, err := alerts.Open(db)
	if err != nil {
		add(model.HealthWarn, "alerts: %v", err)
		return
	}
	for _, a := range open {
		if !a.Fired() {
			continue
		}
		h := model.HealthWarn
		if a.Severity == "crit" {
			h = model.HealthCrit
		}
		rep.Alerts = append(rep.Alerts, StatusAlert{ID: a.ID, Rule: a.Rule, Severity: a.Severity, ISP: a.ISP, Side: a.Side,
			State: string(a.State), FiredAt: a.FiredAt, DueBy: a.DueBy, AckedBy: a.AckedBy, Summary: ui.Sanitize(a.Summary, 200)})
		state := string(a.State)
		if a.State == model.AlertAcked {
			state += " by " + ui.Sanitize(a.AckedBy, 20)
		} else if d := a.DueText(now); d != "" {
			state += ", " + d
		}
		// One line of at most statusLineWidth with "  CRIT: " before it:
		// the summary gets what is left.
		msg := fmt.Sprintf("alert #%s %s %s (%s)", a.ID, ui.Sanitize(a.Rule, 30), ui.Sanitize(a.ISP, 30), state)
		if room := statusLineWidth - 8 - len(msg) - 2; room >= 12 {
			msg += ": " + ui.Sanitize(a.Summary, room)
		}
		add(h, "%s", msg)
	}
}

// statusLineWidth bounds a status reason line (status output stays readable
// in an 80-100 column terminal and a monitoring plugin's one-line view).
const statusLineWidth = 100

var (
	descAlertsFiring = desc("alerts_firing", "1 for each alert firing or acked (not yet resolved), per rule, severity and provider.", "rule", "severity", "isp")
	descAckSeconds   = desc("alert_ack_seconds", "Time from firing to acknowledgement, in operating time ([monitor] operating_hours), of every acked alert.")
)

// ackBuckets: the SLA is 4 h of operating time; the buckets resolve it.
var ackBuckets = []float64{300, 900, 1800, 3600, 7200, 14400, 28800, 86400}

func describeAlerts(ch chan<- *prometheus.Desc) {
	ch <- descAlertsFiring
	ch <- descAckSeconds
}

// collectAlerts exports the fired alerts and the time-to-ack histogram.
func collectAlerts(db *state.DB, hours *model.OperatingHours, ch chan<- prometheus.Metric) {
	all, _, err := alerts.All(db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descAlertsFiring, err)
		return
	}
	firing := map[[3]string]float64{}
	counts := make(map[float64]uint64, len(ackBuckets))
	var n uint64
	var sum float64
	for _, a := range all {
		if a.Fired() {
			firing[[3]string{a.Rule, a.Severity, a.ISP}]++
		}
		if a.AckedAt.IsZero() {
			continue
		}
		s := a.TimeToAck(hours).Seconds()
		n++
		sum += s
		for _, b := range ackBuckets {
			if s <= b {
				counts[b]++
			}
		}
	}
	for k, v := range firing {
		ch <- prometheus.MustNewConstMetric(descAlertsFiring, prometheus.GaugeValue, v, k[0], k[1], k[2])
	}
	ch <- prometheus.MustNewConstHistogram(descAckSeconds, n, sum, counts)
}

// alertSource caches the fired alerts for the cockpit's header, which
// renders many times a second: re-read at most every second.
type alertSource struct {
	list  func() ([]model.Alert, error)
	ack   func(id string) error
	every time.Duration

	mu    sync.Mutex
	at    time.Time
	items []ui.AlertItem
	err   error
}

func (s *alertSource) Alerts() ([]ui.AlertItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.at.IsZero() && time.Since(s.at) < s.every {
		return s.items, s.err
	}
	s.at = time.Now()
	all, err := s.list()
	s.items, s.err = nil, err
	for _, a := range all {
		if !a.Fired() {
			continue
		}
		s.items = append(s.items, ui.AlertItem{ID: a.ID, Severity: a.Severity, Rule: a.Rule, ISP: a.ISP, Side: a.Side, State: string(a.State),
			FiredAt: a.FiredAt, DueBy: a.DueBy, AckedBy: a.AckedBy, Summary: a.Summary})
	}
	// Unacked first, then crit before warn, then by due time.
	sort.SliceStable(s.items, func(i, j int) bool {
		x, y := s.items[i], s.items[j]
		if (x.State == "firing") != (y.State == "firing") {
			return x.State == "firing"
		}
		if x.Severity != y.Severity {
			return x.Severity == "crit"
		}
		return x.DueBy.Before(y.DueBy)
	})
	return s.items, s.err
}

func (s *alertSource) Ack(id string) error {
	err := s.ack(id)
	s.mu.Lock()
	s.at = time.Time{} // show the ack at once
	s.mu.Unlock()
	return err
}

// NewAlertSource builds a cockpit alert source from a list and an ack
// function (the owner's database, or a viewer's socket), re-listing at
// most every `every`.
func NewAlertSource(list func() ([]model.Alert, error), ack func(id string) error, every time.Duration) ui.AlertSource {
	return &alertSource{list: list, ack: ack, every: every}
}

// LocalAlerts is the owner cockpit's source: its database, acks recorded
// as the owner's user at the owner's clock.
func LocalAlerts(o *Owner) ui.AlertSource {
	return NewAlertSource(func() ([]model.Alert, error) {
		all, _, err := alerts.All(o.DB)
		return all, err
	}, func(id string) error {
		m := o.Monitoring()
		if m == nil {
			return fmt.Errorf("monitoring is not configured correctly")
		}
		_, err := m.Ack(id, CurrentUser(), "cockpit")
		return err
	}, time.Second)
}
