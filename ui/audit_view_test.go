package ui_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"cutover/model"
	"cutover/model/audittest"
	"cutover/mtactl"
	"cutover/ui"
	"cutover/ui/uifake"
)

// fixtureReport is the wave2 §4.6 audit with a planted escape sequence in
// an ESP name and a reputation row.
func fixtureReport() *model.AuditReport {
	hourly := audittest.Hourly(1)
	pools := map[string]map[[2]string]model.Tally{"yahoo": {
		{"ip", audittest.IPGood}: {Delivered: 560000},
		{"ip", audittest.IPBad}:  {Delivered: 1000, Deferred: 15000},
	}}
	in := model.AuditInput{Since: audittest.Start, Hours: audittest.Hours, Hourly: hourly, Pools: pools,
		Sources:    []string{"import mailgun"},
		Reputation: []model.ReputationRecord{{Kind: model.RepPostmaster, Subject: "news.example.com", Date: "2026-01-31", SpamRate: 0.0014, HasSpam: true}}}
	r := model.BuildAudit(in, model.AuditOptions{Policy: model.ThrottlePolicy{Margin: 1.2, NewIPs: 2, WarmupDay: 5}})
	return &r
}

func auditModel(src ui.AuditSource, w, h int) tea.Model {
	o := opts(asciiRenderer())
	o.Audit = src
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

func TestAuditViewGolden(t *testing.T) {
	rep := fixtureReport()
	src := func() (*model.AuditReport, error) { return rep, nil }
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		t.Run(strings.Join([]string{"table", itoa(w)}, "-"), func(t *testing.T) {
			v := press(auditModel(src, w, h), "A").View()
			checkScreen(t, v, w, h)
			golden.RequireEqual(t, []byte(v))
		})
		t.Run(strings.Join([]string{"heatmap", itoa(w)}, "-"), func(t *testing.T) {
			v := press(auditModel(src, w, h), "A", "enter").View()
			checkScreen(t, v, w, h)
			golden.RequireEqual(t, []byte(v))
		})
	}
	v := press(auditModel(src, 160, 48), "A").View()
	for _, want := range []string{"source audit", "google", "58.99%", "10,000", "30,000 Wed 10:00", "spam 0.14% 1!", "600/h history", "192.0.2.2: deferral"} {
		if !strings.Contains(v, want) {
			t.Errorf("table lacks %q:\n%s", want, v)
		}
	}
	// The heat map under NO_COLOR: digits, Wednesday 10:00 the only 9 of Google's week.
	hm := press(auditModel(src, 100, 40), "A", "enter").View()
	if !strings.Contains(hm, "  Wed 000000006696666666111111\n") || !strings.Contains(hm, "  Sat 000000003333333333000000\n") {
		t.Errorf("heat map:\n%s", hm)
	}
	yahoo := press(auditModel(src, 100, 40), "A", "down", "down", "enter").View()
	if !strings.Contains(yahoo, "deferral     ↑ rising 2.0→8.0 % (+2.00 pt/wk)") {
		t.Errorf("yahoo detail:\n%s", yahoo)
	}
	if back := press(auditModel(src, 100, 30), "A", "enter", "esc", "esc").View(); strings.Contains(back, "source audit") {
		t.Errorf("esc esc did not return to the cockpit:\n%s", back)
	}
	// Without a source the key does nothing; a failing source says why.
	if v := press(auditModel(nil, 100, 30), "A").View(); strings.Contains(v, "source audit") {
		t.Errorf("A opened without a source")
	}
	bad := func() (*model.AuditReport, error) { return nil, errors.New("no data: \x1b[2Jbackfill first") }
	if v := press(auditModel(bad, 100, 30), "A").View(); !strings.Contains(v, "! audit: no data") || strings.Contains(v, "\x1b[2J") {
		t.Errorf("error view:\n%s", v)
	}
}

func itoa(n int) string {
	if n == 80 {
		return "80"
	}
	return "160"
}

// TestAuditViewTeatest runs the real program: A computes the audit off the
// UI loop (the source is slow) and shows it.
func TestAuditViewTeatest(t *testing.T) {
	rep := fixtureReport()
	o := ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Refresh: 50 * time.Millisecond,
		Audit: func() (*model.AuditReport, error) { time.Sleep(200 * time.Millisecond); return rep, nil }}
	tm := teatest.NewTestModel(t, ui.New(uifake.New(0), o), teatest.WithInitialTermSize(100, 30))
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("google")
	tm.Type("A")
	wait("computing the audit")
	wait("58.99%")
	tm.Send(tea.KeyMsg{Type: tea.KeyEnter})
	wait("hour of week")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}

// capsCtl is the fake control whose plans say what capped each throttle,
// as mtactl's do.
type capsCtl struct{ *fakeCtl }

func (c capsCtl) Plan(d model.Desired) (*mtactl.Change, error) {
	ch, err := c.fakeCtl.Plan(d)
	ch.Caps = map[string]model.Explained{}
	for isp, t := range ch.To.Throttles {
		ch.Caps[isp] = model.Explained{Throttle: t, PerHourBy: model.CapWarmup, ConnectionsBy: model.CapCeiling}
	}
	return ch, err
}

// The slider's preview names the cap that decided each throttle; the audit
// view shows the throttle at the applied step and the next.
func TestSliderNamesTheCapAndAuditSteps(t *testing.T) {
	o := opts(asciiRenderer())
	o.Control = capsCtl{newFakeCtl()}
	rep := fixtureReport()
	o.Audit = func() (*model.AuditReport, error) { return rep, nil }
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	m = send(m, ui.Changed{})
	v := press(m, "t", "right").View()
	if !strings.Contains(v, "(rate capped by warmup)") {
		t.Errorf("slider preview names no cap:\n%s", v)
	}
	a := press(m, "A").View()
	// applied 30 %, next step 50 %, warm-up day 5 with 2 IPs caps at 1,250/h;
	// Yahoo: ceil(2,000 × 30 % × 1.2) = 720 from history.
	if !strings.Contains(a, "30% 1,250/h warmup → 50% 1,250/h warmup") || !strings.Contains(a, "30% 720/h history → 50% 1,200/h history") {
		t.Errorf("audit view throttles:\n%s", a)
	}
}
