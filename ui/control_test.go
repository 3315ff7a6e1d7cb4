package ui_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
	"cutover/ui/uifake"
)

// fakeCtl is a deterministic ui.Control: one demo file whose diff shows the
// ratio, throttles of 40/h per percent for google, and a history.
type fakeCtl struct {
	mu    sync.Mutex
	cur   model.Desired
	hist  []mtactl.AuditEntry
	fail  bool // Apply fails validation
	drift bool // plans report drift
	// recompute: a plan at the applied ratio still changes the throttles
	// (recomputed from traffic), as mtactl's do.
	recompute bool
	applied   []*mtactl.Change
	delay     time.Duration
}

func newFakeCtl() *fakeCtl {
	f := &fakeCtl{cur: fakeDesired(model.Desired{RatioNew: 30})}
	f.hist = []mtactl.AuditEntry{
		fakeEntry(1, "apply", fakeDesired(model.Desired{}), fakeDesired(model.Desired{RatioNew: 15}), nil),
		fakeEntry(2, "apply", fakeDesired(model.Desired{RatioNew: 15}), fakeDesired(model.Desired{RatioNew: 50}),
			&mtactl.StepError{Driver: "postfix-front", Step: "validate", Argv: []string{"postfix", "check"},
				Output: "postfix/postfix-script: fatal: /etc/postfix/main.cf, line 12: missing '='\x1b[2J", Err: errors.New("exit status 1")}),
		fakeEntry(3, "apply", fakeDesired(model.Desired{RatioNew: 15}), fakeDesired(model.Desired{RatioNew: 30}), nil),
	}
	return f
}

func fakeDesired(d model.Desired) model.Desired {
	r := d.RatioNew
	d.Throttles = map[string]model.Throttle{
		"google": {PerHour: 40 * max(r, 1), Connections: 5, PerConnection: 50},
		"yahoo":  {PerHour: 20 * max(r, 1), Connections: 2},
	}
	return d
}

func fakeEntry(n int, action string, from, to model.Desired, fail *mtactl.StepError) mtactl.AuditEntry {
	e := mtactl.AuditEntry{ID: fmt.Sprint(n), Time: uifake.Now.Add(time.Duration(n-4) * time.Hour), Action: action,
		Who:  mtactl.Who{User: "alice", SSHClient: "192.0.2.7 50000 22", Host: "mta1", PID: 4242, Command: "cutover ratio set"},
		From: from, To: to, Snapshot: fmt.Sprint(n), Result: mtactl.ResultOK, Duration: "1.2s",
		Reloaded: []string{"postfix-front"}, Files: []mtactl.FileRecord{{Path: "/etc/postfix/main.cf", Before: "0123456789abcdef", After: "fedcba9876543210"}}}
	if fail != nil {
		e.Result, e.Step, e.Error, e.Output, e.Restored, e.Reloaded = mtactl.ResultFailed, fail.Step, fail.Error(), fail.Output, "yes", nil
		e.Notes = []string{"the previous files are back"}
	}
	return e
}

func (f *fakeCtl) Steps() model.Steps { return model.Steps{0, 5, 15, 30, 50, 75, 100} }
func (f *fakeCtl) Current() (model.Desired, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur, nil
}

func (f *fakeCtl) change(action string, to model.Desired) *mtactl.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	to = fakeDesired(to)
	if f.recompute && to.RatioNew == f.cur.RatioNew {
		g := to.Throttles["google"]
		g.PerHour = g.PerHour * 2 / 3
		to.Throttles["google"] = g
	}
	ch := &mtactl.Change{Action: action, From: f.cur, To: to}
	path := "/srv/cutover-demo/control.json"
	fc := mtactl.FileChange{Driver: "demo", Path: path, Changed: f.cur.RatioNew != to.RatioNew ||
		f.cur.Throttles["google"] != to.Throttles["google"]}
	if fc.Changed {
		fc.Diff = fmt.Sprintf("--- a%s\n+++ b%s\n@@ -1,6 +1,6 @@\n {\n-  \"RatioNew\": %d,\n+  \"RatioNew\": %d,\n   \"MaxPerHour\": {\n-    \"google\": %d\n+    \"google\": %d\n   }\n }\n",
			path, path, f.cur.RatioNew, to.RatioNew, f.cur.Throttles["google"].PerHour, to.Throttles["google"].PerHour)
	}
	ch.Files = []mtactl.FileChange{fc}
	if f.drift {
		ch.Drift = []mtactl.Drift{{Driver: "demo", Path: path, InBlock: true, Diff: "--- applied\n+++ now\n@@ -2 +2 @@\n-  \"RatioNew\": 30,\n+  \"RatioNew\": 99,\n"}}
	}
	ch.Notes = []string{"exim has no outbound rate limit: yahoo 400/h is noted, not enforced"}
	return ch
}

func (f *fakeCtl) Plan(d model.Desired) (*mtactl.Change, error) { return f.change("apply", d), nil }
func (f *fakeCtl) PlanRollback(id string) (*mtactl.Change, error) {
	ch := f.change("rollback", model.Desired{RatioNew: 15})
	ch.RollbackOf = "3"
	return ch, nil
}
func (f *fakeCtl) PlanBaseline() (*mtactl.Change, error) {
	return f.change("baseline", model.Desired{}), nil
}

func (f *fakeCtl) Apply(ctx context.Context, ch *mtactl.Change, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	time.Sleep(f.delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(ch.Drift) > 0 && !opt.AcceptDrift {
		return mtactl.AuditEntry{}, &mtactl.DriftError{Drift: ch.Drift}
	}
	f.applied = append(f.applied, ch)
	n := len(f.hist) + 1
	if f.fail {
		se := &mtactl.StepError{Driver: "exim", Step: "validate", Argv: []string{"exim", "-bV", "-C", "/etc/exim4/exim4.conf"},
			Output: "2026-11-27 14:03:22 Exim configuration error in line 812 of /etc/exim4/exim4.conf:\n  option \"max_parallel\" unknown\x1b]0;pwned\x07", Err: errors.New("exit status 1")}
		e := fakeEntry(n, ch.Action, ch.From, ch.To, se)
		f.hist = append(f.hist, e)
		return e, &mtactl.ApplyError{ID: e.ID, Step: se, Restored: true}
	}
	e := fakeEntry(n, ch.Action, ch.From, ch.To, nil)
	f.hist = append(f.hist, e)
	f.cur = ch.To
	return e, nil
}

func (f *fakeCtl) History() ([]mtactl.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mtactl.AuditEntry{}, f.hist...), nil
}

func ctlKey(s string) tea.KeyMsg {
	switch s {
	case "left":
		return tea.KeyMsg{Type: tea.KeyLeft}
	case "right":
		return tea.KeyMsg{Type: tea.KeyRight}
	case "shift+left":
		return tea.KeyMsg{Type: tea.KeyShiftLeft}
	case "shift+right":
		return tea.KeyMsg{Type: tea.KeyShiftRight}
	case "ctrl+r":
		return tea.KeyMsg{Type: tea.KeyCtrlR}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	}
	return keys(s)
}

func ctlModel(f *fakeCtl, w, h int) tea.Model {
	o := opts(asciiRenderer())
	o.Control = f
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

func ctlPress(m tea.Model, ks ...string) tea.Model {
	for _, k := range ks {
		m = send(m, ctlKey(k))
	}
	return m
}

func TestControlGolden(t *testing.T) {
	for _, v := range []struct {
		name  string
		setup func(*fakeCtl)
		keys  []string
		want  string
	}{
		{"slider", nil, []string{"t"}, "applied 30%  →  proposed 30%"},
		{"slider_step", nil, []string{"t", "right"}, "proposed 50%"},
		{"slider_fine", nil, []string{"t", "right", "shift+left", "-"}, "proposed 48%"},
		{"slider_scrolled", nil, []string{"t", "right", "pgdown"}, "RatioNew"},
		{"slider_drift", func(f *fakeCtl) { f.drift = true }, []string{"t", "right", "y"}, "Overwrite them? (y/N)"},
		{"applied", nil, []string{"t", "right", "y"}, "✓ #4"},
		{"apply_failed", func(f *fakeCtl) { f.fail = true }, []string{"t", "right", "y"}, "option \"max_parallel\" unknown"},
		{"rollback", nil, []string{"R"}, "roll back to the previous applied state: 30% new → 15% new"},
		{"baseline", nil, []string{"ctrl+r"}, "everything back to OLD"},
		{"audit", nil, []string{"a", "down"}, "missing '='"},
	} {
		t.Run(v.name, func(t *testing.T) {
			f := newFakeCtl()
			if v.setup != nil {
				v.setup(f)
			}
			m := ctlPress(ctlModel(f, 80, 24), v.keys...)
			out := m.View()
			checkScreen(t, out, 80, 24)
			if !strings.Contains(out, v.want) {
				t.Errorf("want %q on the screen:\n%s", v.want, out)
			}
			if strings.ContainsAny(out, "\x1b\x07") {
				t.Errorf("raw escape on the screen:\n%q", out)
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
}

func TestControlHelpListsKeys(t *testing.T) {
	v := ctlPress(ctlModel(newFakeCtl(), 120, 40), "?").View()
	for _, want := range []string{"slider", "-1%", "undo", "ctrl+r", "0% new", "audit"} {
		if !strings.Contains(v, want) {
			t.Errorf("help lacks %q:\n%s", want, v)
		}
	}
}

func TestControlReadOnly(t *testing.T) {
	o := opts(asciiRenderer())
	o.ReadOnly = true
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	m = send(m, ui.Changed{})
	m = ctlPress(m, "t", "R", "a", "]")
	out := m.View()
	if !strings.Contains(strings.SplitN(out, "\n", 2)[0], "read-only") {
		t.Fatalf("header should say read-only:\n%s", out)
	}
	if strings.Contains(out, "ratio to NEW") || strings.Contains(out, "audit") {
		t.Fatalf("control keys should do nothing without a Control:\n%s", out)
	}
	m = press(m, "?")
	if v := m.View(); strings.Contains(v, "slider") || strings.Contains(v, "0% new") {
		t.Fatalf("help lists disabled control keys:\n%s", v)
	}
}

func TestControlSliderKeys(t *testing.T) {
	f := newFakeCtl()
	m := ctlModel(f, 80, 24)
	for _, c := range []struct {
		key  string
		want string
	}{
		{"t", "proposed 30%"}, {"left", "proposed 15%"}, {"left", "proposed 5%"}, {"left", "proposed 0%"}, {"left", "proposed 0%"},
		{"+", "proposed 1%"}, {"=", "proposed 2%"}, {"shift+right", "proposed 3%"}, {"right", "proposed 5%"}, {"]", "proposed 5%"},
		{"n", "OLD"},
	} {
		m = ctlPress(m, c.key)
		if v := m.View(); !strings.Contains(v, c.want) {
			t.Fatalf("after %s: want %q:\n%s", c.key, c.want, v)
		}
	}
	if strings.Contains(m.View(), "ratio to NEW") || len(f.applied) != 0 {
		t.Fatalf("n should close without applying (%d applied):\n%s", len(f.applied), m.View())
	}
	// [ and ] open the slider one plan step away; esc cancels.
	m = ctlPress(m, "[")
	if v := m.View(); !strings.Contains(v, "proposed 15%") {
		t.Fatalf("[: %s", v)
	}
	m = ctlPress(m, "esc", "]")
	if v := m.View(); !strings.Contains(v, "proposed 50%") {
		t.Fatalf("]: %s", v)
	}
	// Nothing to change: y does nothing.
	m = ctlPress(m, "left", "y")
	if len(f.applied) != 0 || !strings.Contains(m.View(), "nothing to change") {
		t.Fatalf("y on an empty change applied it:\n%s", m.View())
	}
}

func TestControlDriftNeedsSecondConfirmation(t *testing.T) {
	f := newFakeCtl()
	f.drift = true
	m := ctlPress(ctlModel(f, 80, 24), "t", "right", "y", "n")
	if len(f.applied) != 0 || !strings.Contains(m.View(), "proposed 50%") {
		t.Fatalf("n at the drift question should go back to the slider:\n%s", m.View())
	}
	m = ctlPress(m, "y", "y")
	if len(f.applied) != 1 || f.cur.RatioNew != 50 {
		t.Fatalf("y y should apply with drift accepted: %d applied, cur %d", len(f.applied), f.cur.RatioNew)
	}
}

func TestControlRollbackAndBaseline(t *testing.T) {
	f := newFakeCtl()
	m := ctlPress(ctlModel(f, 80, 24), "R", "y")
	if len(f.applied) != 1 || f.applied[0].Action != "rollback" || f.cur.RatioNew != 15 {
		t.Fatalf("R y: %+v", f.applied)
	}
	m = ctlPress(m, "esc", "ctrl+r", "n")
	if len(f.applied) != 1 {
		t.Fatal("ctrl+r n applied")
	}
	ctlPress(m, "ctrl+r", "y")
	if len(f.applied) != 2 || f.applied[1].Action != "baseline" || f.cur.RatioNew != 0 {
		t.Fatalf("ctrl+r y: %+v", f.applied)
	}
}

// TestControlTeatestFlow runs the real program: open the slider, move it,
// see the preview, apply (slowly: the "applying…" state shows), see the
// result and the audit entry.
func TestControlTeatestFlow(t *testing.T) {
	f := newFakeCtl()
	f.delay = 300 * time.Millisecond
	o := ui.Options{Clock: func() time.Time { return uifake.Now }, Location: cet, Refresh: 50 * time.Millisecond, Control: f}
	tm := teatest.NewTestModel(t, ui.New(uifake.New(0), o), teatest.WithInitialTermSize(80, 24))
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	wait("google")
	tm.Type("t")
	wait("ratio to NEW")
	tm.Send(tea.KeyMsg{Type: tea.KeyRight})
	wait("+  \"RatioNew\": 50,") // the preview of the step to 50 %
	tm.Type("y")
	wait("applying")
	tm.Type("q") // ignored while applying
	wait("✓ #4")
	tm.Type("x") // any key closes the result
	tm.Type("a")
	wait("30% new -> 50% new: ok")
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	if f.cur.RatioNew != 50 || len(f.applied) != 1 {
		t.Fatalf("applied %d, current %d", len(f.applied), f.cur.RatioNew)
	}
}
