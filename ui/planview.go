package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cutover/state/plan"
)

// The plan view (key P, wave2 §6.2): the week table, the latest gate per
// provider with its numbers, the signoff; g re-evaluates the gate, A asks
// to advance showing mtactl's diff. The header carries the plan segment.

// PlanStatus is what the header and the view show.
type PlanStatus struct {
	State    plan.State   `json:"state"`
	Blockers []string     `json:"advance_blockers"`
	Report   *plan.Report `json:"report,omitempty"` // the latest gate report
}

// PlanOps reaches the plan: the owner's Planner in its own cockpit, or the
// owner's plan.* ops from a viewer. Calls block; the view runs them in
// commands.
type PlanOps interface {
	Status() (PlanStatus, error)
	// Gate evaluates the gate now and writes a report; the text says the
	// verdict and the report's sha256.
	Gate() (string, error)
	// Advance with apply false returns the mtactl diff it would apply (or
	// why it is refused); with apply true it applies and returns the
	// change's summary.
	Advance(apply bool) (string, error)
	// CanAdvance is false for read-only viewers.
	CanAdvance() bool
}

type planState struct {
	ops     PlanOps
	st      *PlanStatus
	err     error
	at      time.Time // last status load (wall clock)
	loading bool
	scroll  int
	busy    string // "evaluating the gate…", "planning the advance…"
	confirm string // the diff of an advance waiting for y/N
	note    string // the last gate/advance answer
}

type planLoadedMsg struct {
	st  *PlanStatus
	err error
}

type planDoneMsg struct {
	what string // gate | preview | advance
	out  string
	err  error
}

// planRefresh is how often the header's plan segment is re-read.
const planRefresh = 5 * time.Second

func (m *Model) planLoad(force bool) tea.Cmd {
	if m.plan.ops == nil || m.plan.loading || (!force && time.Since(m.plan.at) < planRefresh) {
		return nil
	}
	m.plan.loading = true
	ops := m.plan.ops
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = planLoadedMsg{err: fmt.Errorf("panic in plan status: %v", r)}
			}
		}()
		st, err := ops.Status()
		if err != nil {
			return planLoadedMsg{err: err}
		}
		return planLoadedMsg{st: &st}
	}
}

func (m Model) planUpdate(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case planLoadedMsg:
		m.plan.loading, m.plan.at = false, time.Now()
		m.plan.err = msg.err
		if msg.st != nil {
			m.plan.st = msg.st
		}
	case planDoneMsg:
		m.plan.busy = ""
		out := strings.TrimSpace(msg.out)
		if msg.err != nil {
			m.plan.note = "! " + msg.err.Error()
			if out != "" && msg.what == "preview" {
				m.plan.note = out + "\n! " + msg.err.Error()
			}
			return m, m.planLoad(true)
		}
		if msg.what == "preview" {
			m.plan.confirm = out
			return m, nil
		}
		m.plan.note = out
		return m, m.planLoad(true)
	}
	return m, nil
}

func (m Model) openPlan() (tea.Model, tea.Cmd) {
	m.view, m.plan.scroll = viewPlan, 0
	return m, m.planLoad(true)
}

func (m Model) planRun(what string, fn func() (string, error)) (tea.Model, tea.Cmd) {
	m.plan.busy = map[string]string{"gate": "evaluating the gate…", "preview": "planning the advance…", "advance": "applying through mtactl…"}[what]
	m.plan.note = ""
	return m, func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = planDoneMsg{what: what, err: fmt.Errorf("panic: %v", r)}
			}
		}()
		out, err := fn()
		return planDoneMsg{what: what, out: out, err: err}
	}
}

// planKey handles the plan view's own keys; ok false passes the key on.
func (m Model) planKey(msg tea.KeyMsg) (tea.Model, tea.Cmd, bool) {
	if m.plan.busy != "" {
		return m, nil, true
	}
	if m.plan.confirm != "" {
		switch msg.String() {
		case "y", "Y":
			m.plan.confirm = ""
			mm, cmd := m.planRun("advance", func() (string, error) { return m.plan.ops.Advance(true) })
			return mm, cmd, true
		case "n", "N", "esc", "q":
			m.plan.confirm, m.plan.note = "", "advance cancelled"
			return m, nil, true
		}
		return m, nil, true
	}
	switch msg.String() {
	case "g":
		mm, cmd := m.planRun("gate", m.plan.ops.Gate)
		return mm, cmd, true
	case "A":
		if !m.plan.ops.CanAdvance() {
			m.flash("A (advance) refused: read-only viewer (attached with --read-only)")
			return m, nil, true
		}
		mm, cmd := m.planRun("preview", func() (string, error) { return m.plan.ops.Advance(false) })
		return mm, cmd, true
	case "P":
		m.view = viewCockpit
		return m, nil, true
	}
	if key.Matches(msg, m.keys.Back) {
		m.view = viewCockpit
		return m, nil, true
	}
	if key.Matches(msg, m.keys.Up, m.keys.Down, m.keys.PageUp, m.keys.PageDown, m.keys.Top, m.keys.Bottom) {
		m.plan.scroll = m.scroll(msg, m.plan.scroll, len(m.planLines()), m.bodyHeight())
		return m, nil, true
	}
	return m, nil, false
}

// planBadge is the header segment, "" without a plan.
func (m Model) planBadge() string {
	if m.plan.st == nil || m.plan.st.State.Schedule == nil {
		return ""
	}
	s := PlanHeader(m.plan.st.State, m.now, m.loc, m.ascii)
	style := m.st.OK
	if g := m.plan.st.State.Gate; g == nil || g.Verdict != "PASS" || m.plan.st.State.Hold != nil {
		style = m.st.Warn
		if g != nil && g.Verdict == "FAIL" {
			style = m.st.Crit
		}
	}
	return style.Render(s) + " "
}

// planBadgeShort is the segment for a narrow header: "plan 2/6 PASS ✓".
func (m Model) planBadgeShort() string {
	st := m.plan.st.State
	gate := "-"
	if st.Gate != nil && st.Gate.Step == st.Step {
		gate = st.Gate.Verdict
	}
	sign := "✗"
	if st.SignoffState() == "current" && st.Gate.Step == st.Step {
		sign = "✓"
	}
	if m.ascii {
		sign = map[string]string{"✓": "y", "✗": "n"}[sign]
	}
	return m.st.Dim.Render(fmt.Sprintf("plan %d/%d %s %s", st.Step, st.Steps(), gate, sign)) + " "
}

// planLines is the plan view's text. Report text is sanitized (provider
// names and reasons come from logs and config).
func (m Model) planLines() []string {
	w := max(m.width-2, 20)
	line := func(s string) string { return Sanitize(s, w) }
	if m.plan.st == nil {
		if m.plan.err != nil {
			return []string{m.st.Error.Render(line(" ! " + m.plan.err.Error()))}
		}
		return nil
	}
	st := m.plan.st.State
	if st.Schedule == nil {
		return []string{line(" no plan: run cutover plan init --config FILE --start DATE")}
	}
	var out []string
	add := func(style interface{ Render(...string) string }, s string) { out = append(out, style.Render(line(s))) }
	add(m.st.Label, " PLAN "+PlanHeader(st, m.now, m.loc, m.ascii))
	if m.plan.busy != "" {
		add(m.st.Warn, " "+m.plan.busy)
	}
	if m.plan.confirm != "" {
		add(m.st.Warn, " Advance to the next step? This change goes through mtactl (y/N):")
		for _, l := range strings.Split(m.plan.confirm, "\n") {
			add(m.st.Dim, "   "+l)
		}
		return out
	}
	for _, l := range strings.Split(m.plan.note, "\n") {
		if l != "" {
			add(m.st.Warn, " "+l)
		}
	}
	out = append(out, "", m.st.Label.Render(" step  from        NEW   dwell"))
	for i, sp := range st.Schedule.Steps {
		mark := "  "
		if st.Step == i+1 {
			mark = "▶ "
			if m.ascii {
				mark = "> "
			}
		}
		add(m.st.Dim, fmt.Sprintf(" %s%d   %s  %3d %%  %dd", mark, i+1, sp.Start.In(m.loc).Format("Mon 01-02"), sp.Ratio, int(sp.MinDwell.Hours()/24)))
	}
	out = append(out, "")
	switch s := st.SignoffState(); {
	case s == "current" && st.Gate.Step == st.Step:
		add(m.st.OK, fmt.Sprintf(" signoff ✓ %s (%s) of report %s", st.Signoff.By, st.Signoff.DKIM, plan.ShortHash(st.Signoff.Report)))
	case s == "none":
		add(m.st.Warn, " signoff ✗ none recorded")
	default:
		add(m.st.Warn, " signoff ✗ "+s+": it does not approve the latest gate report of this step")
	}
	if bs := m.plan.st.Blockers; len(bs) > 0 {
		add(m.st.Warn, " advance needs:")
		for _, b := range bs {
			add(m.st.Warn, "   - "+b)
		}
	} else {
		add(m.st.OK, " advance allowed: A")
	}
	if r := m.plan.st.Report; r != nil {
		out = append(out, "", m.st.Label.Render(line(fmt.Sprintf(" gate %s at %s, window %s", r.Verdict, r.At.In(m.loc).Format("01-02 15:04"), r.Window))))
		item := func(it plan.Item) {
			style := m.st.Dim
			switch it.Verdict {
			case "HOLD":
				style = m.st.Warn
			case "FAIL":
				style = m.st.Crit
			}
			add(style, fmt.Sprintf("   %-11s %-4s %s", it.Name, it.Verdict, it.Reason))
		}
		for _, it := range r.Common {
			item(it)
		}
		for _, pg := range r.Providers {
			add(m.st.Label, fmt.Sprintf(" %s %s  NEW %d attempts · OLD %d", pg.ISP, pg.Verdict, pg.New.Attempts(), pg.Old.Attempts()))
			for _, it := range pg.Items {
				item(it)
			}
		}
		for _, o := range r.Overrides {
			add(m.st.Crit, fmt.Sprintf(" OVERRIDE %s step %d→%d: %s", o.At.In(m.loc).Format("01-02 15:04"), o.FromStep, o.Step, o.Reason))
		}
	}
	out = append(out, "", m.st.Dim.Render(line(" g evaluate gate · A advance · esc back")))
	return out
}
