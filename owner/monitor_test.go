package owner

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/ingest/sim"
	"cutover/model"
	"cutover/state"
	"cutover/state/alerts"
)

// hook is a webhook receiver on 127.0.0.1 that keeps every POST body.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&m) != nil {
			t.Errorf("bad request %s", r.Method)
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, m)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.bodies {
		out = append(out, fmt.Sprintf("%s %s", b["kind"], b["rule"]))
	}
	return out
}

// smtpSink is an in-process SMTP server keeping each message's data.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func newSMTPSink(t *testing.T) *smtpSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				say := func(l string) { io.WriteString(c, l+"\r\n") }
				say("220 sink")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
					case cmd == "DATA":
						say("354 go")
						var b strings.Builder
						for {
							l, err := r.ReadString('\n')
							if err != nil || l == ".\r\n" {
								break
							}
							b.WriteString(l)
						}
						s.mu.Lock()
						s.msgs = append(s.msgs, b.String())
						s.mu.Unlock()
						say("250 queued")
					case cmd == "QUIT":
						say("221 bye")
						return
					default:
						say("250 ok")
					}
				}
			}()
		}
	}()
	return s
}

// fblHeader is PowerMTA's accounting header with the f-record fields.
const fblHeader = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,repSourceIp,feedbackType,format,userAgent,reportingMta,reportedDomain"

// injectComplaints writes n feedback (f) records for gmail.com recipients
// at t, in a PowerMTA accounting file of its own: the way an FBL processor
// feeding PowerMTA logs them. The simulator has no Gmail FBL (Gmail sends
// none), so the test supplies the complaints the issue asks for.
func injectComplaints(t *testing.T, dir string, at time.Time, n int) {
	var b strings.Builder
	b.WriteString(fblHeader + "\r\n")
	for i := 0; i < n; i++ {
		f := make([]string, 29)
		f[0], f[1] = "f", at.Format("2006-01-02 15:04:05-0700")
		f[3], f[4] = sim.Sender, fmt.Sprintf("complainer%d@gmail.com", i)
		f[14], f[23], f[24], f[25] = "203.0.113.10", "209.85.220.41", "abuse", "arf"
		f[28] = "news.example.com"
		b.WriteString(strings.Join(f, ",") + "\r\n")
	}
	path := filepath.Join(dir, "new", "acct-"+at.Format("2006-01-02")+"-0900.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func googleNew(t *testing.T, db *state.DB, since, until time.Time) model.Tally {
	tl, err := tallies(db, since, until, model.SideNew)
	if err != nil {
		t.Fatal(err)
	}
	return tl[model.SideISP{Side: model.SideNew, ISP: "google"}]
}

// wave2 §8.5: with the demo simulator in the owner (fake clock, fixed seed)
// and Google NEW complaints pushed over 0.30 %: complaint-crit fires at the
// first evaluation after the crossing commit; the webhook gets exactly one
// POST, a second at +4 h unacked; escalation at +2 h of operating time goes
// only to the escalation channel; the ack stops repeats; the resolve sends
// one `resolved` POST; the SMTP channel delivers a message with the fields.
func TestMonitorDemoComplaintCrit(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates two days")
	}
	dir := t.TempDir()
	main, esc, sink := newHook(t), newHook(t), newSMTPSink(t)
	cfgPath := filepath.Join(dir, "cutover.toml")
	// Only the complaint rules: the cold NEW side of the simulator trips the
	// deferral rules too, which this test is not about.
	var rules strings.Builder
	for _, r := range model.DefaultAlertRules() {
		if !strings.HasPrefix(r.Name, "complaint-") {
			fmt.Fprintf(&rules, "[[alert.rule]]\nname = %q\ndisabled = true\n", r.Name)
		}
	}
	cfg := fmt.Sprintf(`[database]
path = "cutover.db"
[monitor]
timezone = "UTC"
operating_hours = "Mon-Fri 08:00-18:00"
ack_sla = "4h"
escalate_after = "2h"
[[notify]]
kind = "webhook"
url = %q
min_severity = "crit"
[[notify]]
kind = "webhook"
url = %q
min_severity = "crit"
escalation = true
[[notify]]
kind = "smtp"
via = %q
from = "cutover@ops.example"
to = ["oncall@customer.example"]
min_severity = "crit"
%s`, main.srv.URL, esc.srv.URL, sink.ln.Addr().String(), rules.String())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "logs")
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) // a Tuesday, in the past: event times are trusted
	s, err := sim.New(sim.Options{Dir: logs, Seed: 7, VolumePerHour: 8000, Start: start,
		Control: sim.Fixed(sim.Control{RatioNew: 10})})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	specs := DemoSpecs(logs, s)
	for i := range specs {
		specs[i].Poll = 5 * time.Millisecond
	}
	own, err := Start(c, Options{DB: db, Specs: specs, Clock: s.Clock, NoMonitor: true, CommitEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- own.Run(ctx, 5*time.Millisecond) }()
	defer func() { cancel(); <-runDone }()
	mon := own.Monitoring()
	injected := uint64(0)
	// caughtUp waits until the pipeline has committed every event the
	// simulator (and the injection) wrote: evaluations then see exactly the
	// data up to the simulated now.
	caughtUp := func() {
		var want uint64
		for _, tl := range s.Totals().Counts {
			want += tl.Delivered + tl.Deferred + tl.Held + tl.Bounced + tl.Expired + tl.Complaints
		}
		want += injected
		deadline := time.Now().Add(60 * time.Second)
		for {
			rows, err := db.Stats(state.Query{})
			if err != nil {
				t.Fatal(err)
			}
			var got uint64
			for _, r := range rows {
				got += r.Total()
			}
			if got == want {
				return
			}
			if got > want || time.Now().After(deadline) {
				t.Fatalf("pipeline at %d events, simulator wrote %d", got, want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	step := func(d time.Duration) []model.Notice {
		t.Helper()
		if err := s.Step(d); err != nil {
			t.Fatal(err)
		}
		caughtUp()
		ns, err := mon.Evaluate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	// until steps (10 min at most) to exactly target.
	until := func(target time.Time) {
		t.Helper()
		for s.Clock().Before(target) {
			step(min(10*time.Minute, target.Sub(s.Clock())))
		}
	}
	// Traffic until 09:00 Tuesday: Google NEW has its 24 h sample.
	for s.Clock().Before(start.Add(9 * time.Hour)) {
		if ns := step(10 * time.Minute); len(ns) != 0 {
			t.Fatalf("notices before any complaint: %+v", ns)
		}
	}
	now := s.Clock()
	g := googleNew(t, db, now.Add(-24*time.Hour), now)
	if g.Delivered < 1000 {
		t.Fatalf("Google NEW delivered %d in 24 h: below complaint-crit's minimum sample", g.Delivered)
	}
	// Just under the line first: 0.30 % not reached, nothing fires crit.
	under := int(float64(g.Delivered)*0.003) - 1
	injectComplaints(t, logs, now.Add(-time.Minute), under)
	injected += uint64(under)
	caughtUp()
	ns, err := mon.Evaluate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.Alert.Rule == "complaint-crit" {
			t.Fatalf("complaint-crit at %d/%d (under 0.30 %%)", under, g.Delivered)
		}
	}
	// The crossing commit: enough more that the rate is over 0.30 % even
	// with the next minute's deliveries.
	more := int(float64(g.Delivered)*0.0035) - under + 2
	injectComplaints(t, filepath.Join(logs), now.Add(-30*time.Second), more)
	injected += uint64(more)
	ns = step(time.Minute)
	firedAt := s.Clock().UTC()
	var fired *model.Alert
	for _, n := range ns {
		if n.Kind == model.NoticeFiring && n.Alert.Rule == "complaint-crit" {
			a := n.Alert
			fired = &a
		}
	}
	if fired == nil {
		t.Fatalf("complaint-crit did not fire at the first evaluation after the crossing commit: %+v", ns)
	}
	if got := main.kinds(); len(got) != 1 || got[0] != "firing complaint-crit" {
		t.Fatalf("main webhook got %v, want one firing POST", got)
	}
	body := main.bodies[0]
	for _, k := range []string{"id", "rule", "severity", "isp", "side", "value", "threshold", "window", "fired_at", "due_by", "summary"} {
		if _, ok := body[k]; !ok {
			t.Errorf("webhook body lacks %s: %v", k, body)
		}
	}
	if body["isp"] != "google" || body["side"] != "new" || body["severity"] != "crit" || body["threshold"] != 0.003 ||
		body["fired_at"] != firedAt.Format(time.RFC3339) || body["due_by"] != firedAt.Add(4*time.Hour).Format(time.RFC3339) {
		t.Errorf("webhook body %v (fired %s)", body, firedAt)
	}
	if v, _ := body["value"].(float64); v < 0.003 {
		t.Errorf("value %v under the threshold", body["value"])
	}
	if len(esc.kinds()) != 0 {
		t.Errorf("escalation channel got %v at firing", esc.kinds())
	}
	sink.mu.Lock()
	if len(sink.msgs) != 1 || !strings.Contains(sink.msgs[0], "rule: complaint-crit\r\n") || !strings.Contains(sink.msgs[0], "isp: google\r\n") ||
		!strings.Contains(sink.msgs[0], "fired_at: "+firedAt.Format(time.RFC3339)) {
		t.Errorf("smtp sink got %q", sink.msgs)
	}
	sink.mu.Unlock()
	checkStatus(t, db, s.Clock(), 2, "alert #"+fired.ID+" complaint-crit google")
	checkMetrics(t, db, mon.Config().Hours, 1, 0)

	// Unacked: escalation at +2 h of operating time (09:01 Tue → 11:01),
	// only on the escalation channel; a repeat at +4 h on the main one.
	until(firedAt.Add(2*time.Hour - time.Minute))
	if len(esc.kinds()) != 0 || len(main.kinds()) != 1 {
		t.Fatalf("before +2h: esc %v main %v", esc.kinds(), main.kinds())
	}
	until(firedAt.Add(2 * time.Hour))
	if got := esc.kinds(); len(got) != 1 || got[0] != "escalation complaint-crit" {
		t.Fatalf("escalation channel %v at +2h", got)
	}
	until(firedAt.Add(4*time.Hour - time.Minute))
	if len(main.kinds()) != 1 {
		t.Fatalf("main webhook %v before +4h", main.kinds())
	}
	until(firedAt.Add(4 * time.Hour))
	if got := main.kinds(); len(got) != 2 || got[1] != "repeat complaint-crit" {
		t.Fatalf("main webhook %v at +4h, want a repeat", got)
	}
	// Ack (as `alerts ack` does through the owner), then no more repeats.
	a, err := mon.Ack(fired.ID, "alice", "")
	if err != nil || a.State != model.AlertAcked {
		t.Fatalf("ack: %+v %v", a, err)
	}
	until(firedAt.Add(9 * time.Hour))
	if got := main.kinds(); len(got) != 2 {
		t.Fatalf("after ack: %v", got)
	}
	// The complaints leave the 24 h window; 30 min later: one resolved POST.
	resolveAt := now.Add(-30 * time.Second).Add(24*time.Hour + 30*time.Minute)
	until(resolveAt.Add(20 * time.Minute))
	got := main.kinds()
	if len(got) != 3 || got[2] != "resolved complaint-crit" {
		t.Fatalf("after resolve: %v", got)
	}
	if len(esc.kinds()) != 1 {
		t.Errorf("escalation channel %v", esc.kinds())
	}
	checkStatus(t, db, s.Clock(), -1, "")
	checkMetrics(t, db, mon.Config().Hours, 0, 1)
	all, _, err := alerts.All(db)
	if err != nil {
		t.Fatal(err)
	}
	var stored *model.Alert
	for i := range all {
		if all[i].ID == fired.ID {
			stored = &all[i]
		}
	}
	if stored == nil || stored.State != model.AlertResolved || stored.AckedBy != "alice" || stored.TimeToAck(mon.Config().Hours) != 4*time.Hour {
		t.Errorf("stored alert %+v", stored)
	}
}

// checkStatus: `cutover status` exits want (2 while a crit alert fires,
// acked or not) and lists the alert; want -1: no alert line at all.
func checkStatus(t *testing.T, db *state.DB, now time.Time, want int, line string) {
	t.Helper()
	rep, err := BuildStatus(StatusInput{DB: db, Now: now, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range rep.Reasons {
		if strings.Contains(r, "alert #") {
			lines = append(lines, r)
		}
	}
	if want < 0 {
		if len(lines) != 0 || len(rep.Alerts) != 0 {
			t.Errorf("status still lists alerts: %v", lines)
		}
		return
	}
	if rep.ExitCode != want || len(lines) == 0 || !strings.Contains(lines[0], line) || !strings.HasPrefix(lines[0], "CRIT: ") {
		t.Errorf("status exit %d, alert lines %q; want exit %d and %q", rep.ExitCode, lines, want, line)
	}
}

// checkMetrics: cutover_alerts_firing{rule="complaint-crit",severity="crit",isp="google"}
// and the time-to-ack histogram (4 h of operating time for the acked one).
func checkMetrics(t *testing.T, db *state.DB, hours *model.OperatingHours, firing float64, acked uint64) {
	t.Helper()
	fams, err := newMetricsRegistry(metricsSource{DB: db, AlertHours: hours}).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var gotFiring float64
	var hist bool
	for _, f := range fams {
		switch f.GetName() {
		case "cutover_alerts_firing":
			for _, m := range f.Metric {
				l := map[string]string{}
				for _, p := range m.Label {
					l[p.GetName()] = p.GetValue()
				}
				if l["rule"] == "complaint-crit" && l["severity"] == "crit" && l["isp"] == "google" {
					gotFiring = m.GetGauge().GetValue()
				}
			}
		case "cutover_alert_ack_seconds":
			h := f.Metric[0].GetHistogram()
			hist = true
			if h.GetSampleCount() != acked || (acked == 1 && h.GetSampleSum() != 4*3600) {
				t.Errorf("ack histogram count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
			}
		}
	}
	if gotFiring != firing || !hist {
		t.Errorf("alerts_firing %v (want %v), histogram present %v", gotFiring, firing, hist)
	}
}
