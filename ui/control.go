package ui

import (
	"context"
	"errors"
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cutover/model"
	"cutover/mtactl"
)

// Control is what the cockpit's ratio slider, rollback keys and audit view
// drive. Every call runs in a tea.Cmd, never in Update or View, so an
// implementation may block (Apply validates and reloads MTAs: seconds) or
// go over the network.
//
// LocalControl implements it over an *mtactl.Controller in this process; a
// client attached to `cutover serve` implements it by asking the owning
// process, which plans and applies there (a remote Apply can send ch.Action,
// ch.To and ch.RollbackOf and let the owner re-plan and compare the diffs,
// since a Change's internal plan does not travel).
type Control interface {
	// Steps are the slider's plan stops.
	Steps() model.Steps
	// Current is the state last applied successfully.
	Current() (model.Desired, error)
	// Plan previews d: per-file diffs, drift, notes. Nothing is written.
	Plan(d model.Desired) (*mtactl.Change, error)
	// PlanRollback previews restoring the files to before change id ("" =
	// the previous applied state).
	PlanRollback(id string) (*mtactl.Change, error)
	// PlanBaseline previews the 0 %-new state.
	PlanBaseline() (*mtactl.Change, error)
	// Apply executes a previewed change; a failure is an *mtactl.ApplyError
	// (or its text, remotely) naming the step and the checker's output.
	Apply(ctx context.Context, ch *mtactl.Change, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error)
	// History lists every change, oldest first.
	History() ([]mtactl.AuditEntry, error)
}

// LocalControl is Control over a Controller in this process. Who names the
// operator in the audit log (default mtactl.CurrentWho).
type LocalControl struct {
	C   *mtactl.Controller
	Who func(command string) mtactl.Who
}

func (l LocalControl) Steps() model.Steps                           { return l.C.Steps() }
func (l LocalControl) Current() (model.Desired, error)              { return l.C.Current(), nil }
func (l LocalControl) Plan(d model.Desired) (*mtactl.Change, error) { return l.C.Plan(d) }
func (l LocalControl) PlanRollback(id string) (*mtactl.Change, error) {
	return l.C.PlanRollback(id)
}
func (l LocalControl) PlanBaseline() (*mtactl.Change, error) { return l.C.PlanBaseline() }
func (l LocalControl) History() ([]mtactl.AuditEntry, error) { return l.C.History() }

// Apply records the cockpit as the command.
func (l LocalControl) Apply(ctx context.Context, ch *mtactl.Change, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	who := l.Who
	if who == nil {
		who = mtactl.CurrentWho
	}
	return l.C.Apply(ctx, ch, who(fmt.Sprintf("cockpit %s %s", ch.Action, ch.To)), opt)
}

type ctlMode uint8

const (
	ctlOff      ctlMode = iota
	ctlSlider           // choosing a ratio, with the preview below
	ctlConfirm          // rollback or baseline preview, (y/N)
	ctlDrift            // second confirmation: overwrite drifted files
	ctlApplying         // Apply running in a tea.Cmd
	ctlResult           // what Apply said
	ctlAudit            // the history
)

// ctlState is the slider, confirmations and audit view's state inside Model.
type ctlState struct {
	c        Control
	readOnly bool
	mode     ctlMode
	back     ctlMode // the mode a drift confirmation returns to on n

	kind   string // ratio | rollback | baseline
	cur    model.Desired
	steps  model.Steps
	target int // the slider's proposed ratio

	seq      int // plan requests; a result for an older one is dropped
	planning bool
	again    bool // the target moved while a plan was in flight
	planFor  int  // target of ch
	ch       *mtactl.Change
	err      error
	scroll   int

	entry  mtactl.AuditEntry
	result error

	hist     []mtactl.AuditEntry // newest first
	histErr  error
	histSel  int
	histLoad bool
	detailSc int
	// full shows the selected audit entry alone, wrapped, not cut.
	full bool
}

// ctlMsg is every message of the control views.
type ctlMsg interface{ ctl() }

type ctlOpenedMsg struct {
	kind   string
	cur    model.Desired
	steps  model.Steps
	target func(model.Desired, model.Steps) int
	err    error
}

type ctlPlannedMsg struct {
	seq    int
	target int
	ch     *mtactl.Change
	err    error
}

type ctlAppliedMsg struct {
	entry mtactl.AuditEntry
	err   error
}

type ctlHistoryMsg struct {
	hist []mtactl.AuditEntry
	err  error
}

func (ctlOpenedMsg) ctl()  {}
func (ctlPlannedMsg) ctl() {}
func (ctlAppliedMsg) ctl() {}
func (ctlHistoryMsg) ctl() {}

// initControl enables the control keys when there is a Control.
func (m *Model) initControl(opt Options) {
	m.ctl.c, m.ctl.readOnly = opt.Control, opt.ReadOnly && opt.Control == nil
	on := opt.Control != nil
	k := &m.keys
	for _, b := range []*key.Binding{&k.Slider, &k.RatioDown, &k.RatioUp, &k.Rollback, &k.Baseline, &k.Audit,
		&k.StepDown, &k.StepUp, &k.FineDown, &k.FineUp, &k.Apply, &k.Cancel} {
		b.SetEnabled(on)
	}
}

// ctlBadge marks the header of a cockpit that cannot change the MTAs.
func (m Model) ctlBadge() string {
	if m.ctl.readOnly {
		return m.st.Dim.Render("read-only ")
	}
	return ""
}

// ctlOpen handles the keys that open a control view from any view.
func (m Model) ctlOpen(msg tea.KeyMsg) (Model, tea.Cmd, bool) {
	if m.ctl.c == nil {
		return m, nil, false
	}
	k := m.keys
	cur := func(d model.Desired, _ model.Steps) int { return d.RatioNew }
	switch {
	case key.Matches(msg, k.Slider):
		return m, m.ctlLoadOpen("ratio", cur), true
	case key.Matches(msg, k.RatioDown):
		return m, m.ctlLoadOpen("ratio", func(d model.Desired, s model.Steps) int { return s.Prev(d.RatioNew) }), true
	case key.Matches(msg, k.RatioUp):
		return m, m.ctlLoadOpen("ratio", func(d model.Desired, s model.Steps) int { return s.Next(d.RatioNew) }), true
	case key.Matches(msg, k.Rollback):
		return m, m.ctlLoadOpen("rollback", cur), true
	case key.Matches(msg, k.Baseline):
		return m, m.ctlLoadOpen("baseline", cur), true
	case key.Matches(msg, k.Audit):
		m.ctl.mode, m.ctl.histSel, m.ctl.detailSc, m.ctl.histLoad, m.ctl.full = ctlAudit, 0, 0, true, false
		return m, m.ctlLoadHistory(), true
	}
	return m, nil, false
}

func (m *Model) ctlLoadOpen(kind string, target func(model.Desired, model.Steps) int) tea.Cmd {
	c := m.ctl.c
	m.ctl = ctlState{c: c, mode: ctlSlider, kind: kind, planning: true, hist: m.ctl.hist}
	if kind != "ratio" {
		m.ctl.mode = ctlConfirm
	}
	m.ctl.seq++
	return func() tea.Msg {
		d, err := c.Current()
		return ctlOpenedMsg{kind: kind, cur: d, steps: c.Steps(), target: target, err: err}
	}
}

func (m *Model) ctlLoadHistory() tea.Cmd {
	c := m.ctl.c
	return func() tea.Msg {
		h, err := c.History()
		return ctlHistoryMsg{hist: h, err: err}
	}
}

// ctlRequestPlan previews the slider's target, or a rollback or baseline.
func (m *Model) ctlRequestPlan() tea.Cmd {
	s := &m.ctl
	if s.planning {
		s.again = true
		return nil
	}
	s.planning, s.again = true, false
	s.seq++
	c, seq, kind, target, cur := s.c, s.seq, s.kind, s.target, s.cur
	return func() (msg tea.Msg) {
		res := ctlPlannedMsg{seq: seq, target: target}
		defer func() {
			if r := recover(); r != nil {
				res.err = fmt.Errorf("panic in plan: %v", r)
				msg = res
			}
		}()
		switch kind {
		case "rollback":
			res.ch, res.err = c.PlanRollback("")
		case "baseline":
			res.ch, res.err = c.PlanBaseline()
		default:
			res.ch, res.err = c.Plan(cur.WithRatio(target, ""))
		}
		return res
	}
}

func (m Model) ctlUpdate(msg ctlMsg) (tea.Model, tea.Cmd) {
	s := &m.ctl
	switch msg := msg.(type) {
	case ctlOpenedMsg:
		if s.mode != ctlSlider && s.mode != ctlConfirm || msg.kind != s.kind {
			return m, nil
		}
		s.planning = false
		if msg.err != nil {
			s.err = msg.err
			return m, nil
		}
		s.cur, s.steps = msg.cur, msg.steps
		s.target = msg.target(msg.cur, msg.steps)
		return m, m.ctlRequestPlan()
	case ctlPlannedMsg:
		if s.mode != ctlSlider && s.mode != ctlConfirm {
			return m, nil
		}
		s.planning = false
		if msg.seq == s.seq {
			s.ch, s.err, s.planFor = msg.ch, msg.err, msg.target
			s.scroll = 0
		}
		if s.again || (s.kind == "ratio" && msg.target != s.target) {
			s.again = false
			return m, m.ctlRequestPlan()
		}
		return m, nil
	case ctlAppliedMsg:
		s.mode, s.entry, s.result, s.scroll = ctlResult, msg.entry, msg.err, 0
		if msg.err == nil {
			s.cur = msg.entry.To
		}
		return m, m.requestLoad()
	case ctlHistoryMsg:
		s.histLoad = false
		s.hist, s.histErr = nil, msg.err
		for i := len(msg.hist) - 1; i >= 0; i-- {
			s.hist = append(s.hist, msg.hist[i])
		}
		s.histSel = max(min(s.histSel, len(s.hist)-1), 0)
		return m, nil
	}
	return m, nil
}

// ready is the previewed change y would apply, or nil.
func (s *ctlState) ready() *mtactl.Change {
	if s.planning || s.err != nil || s.ch == nil {
		return nil
	}
	if s.kind == "ratio" && s.planFor != s.target {
		return nil
	}
	if s.ch.Empty() && len(s.ch.Drift) == 0 {
		return nil
	}
	return s.ch
}

// ctlKey handles every key while a control view is open. q and esc close the
// view; only ctrl+c quits, and it asks first while an apply runs.
func (m Model) ctlKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	s := &m.ctl
	if msg.String() == "ctrl+c" {
		return m.tryQuit() // asks first while an apply runs
	}
	if s.mode == ctlApplying {
		m.flash("applying: wait for the MTAs to reload (ctrl+c asks before quitting)")
		return m, nil
	}
	switch s.mode {
	case ctlAudit:
		if s.full {
			switch {
			case key.Matches(msg, k.Cancel, k.Back, k.Quit, k.Open):
				s.full, s.detailSc = false, 0
			default:
				s.detailSc = m.scroll(msg, s.detailSc, len(m.auditFull()), max(m.bodyHeight()-1, 1))
			}
			return m, nil
		}
		switch {
		case key.Matches(msg, k.Open):
			if len(s.hist) > 0 {
				s.full, s.detailSc = true, 0
			}
		case key.Matches(msg, k.Cancel, k.Back, k.Audit, k.Quit):
			s.mode = ctlOff // a dialog: q closes it, never the cockpit
		case key.Matches(msg, k.Help):
			m.flash("?: no help inside the audit view: ↑/↓ select, enter full entry, esc close")
		case key.Matches(msg, k.Refresh):
			return m, m.ctlLoadHistory()
		case key.Matches(msg, k.Up):
			s.histSel, s.detailSc = max(s.histSel-1, 0), 0
		case key.Matches(msg, k.Down):
			s.histSel, s.detailSc = max(min(s.histSel+1, len(s.hist)-1), 0), 0
		case key.Matches(msg, k.Top):
			s.histSel, s.detailSc = 0, 0
		case key.Matches(msg, k.Bottom):
			s.histSel, s.detailSc = max(len(s.hist)-1, 0), 0
		case key.Matches(msg, k.PageDown):
			s.detailSc++
		case key.Matches(msg, k.PageUp):
			s.detailSc = max(s.detailSc-1, 0)
		}
		return m, nil
	case ctlResult:
		if key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom) {
			s.scroll = m.scroll(msg, s.scroll, len(m.ctlLines()), m.ctlScrollHeight())
			return m, nil
		}
		s.mode = ctlOff
		return m, nil
	case ctlDrift:
		switch {
		case key.Matches(msg, k.Apply):
			return m, m.ctlApply(true)
		case key.Matches(msg, k.Cancel), key.Matches(msg, k.Quit):
			s.mode = s.back
		}
		return m, nil
	}
	// ctlSlider, ctlConfirm
	switch {
	case key.Matches(msg, k.Cancel, k.Quit):
		s.mode = ctlOff // q closes the dialog, never the cockpit
		return m, nil
	case key.Matches(msg, k.Apply):
		ch := s.ready()
		if ch == nil {
			return m, nil
		}
		if len(ch.Drift) > 0 {
			s.back, s.mode = s.mode, ctlDrift
			return m, nil
		}
		return m, m.ctlApply(false)
	case key.Matches(msg, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom):
		s.scroll = m.scroll(msg, s.scroll, len(m.ctlLines()), m.ctlScrollHeight())
		return m, nil
	}
	if s.mode != ctlSlider || s.steps == nil {
		return m, nil
	}
	t := s.target
	switch {
	case key.Matches(msg, k.FineDown):
		t = model.Fine(t, -1)
	case key.Matches(msg, k.FineUp):
		t = model.Fine(t, 1)
	case key.Matches(msg, k.StepDown):
		t = s.steps.Prev(t)
	case key.Matches(msg, k.StepUp):
		t = s.steps.Next(t)
	default:
		return m, nil
	}
	if t == s.target {
		return m, nil
	}
	s.target = t
	return m, m.ctlRequestPlan()
}

func (m *Model) ctlApply(acceptDrift bool) tea.Cmd {
	s := &m.ctl
	ch := s.ready()
	if ch == nil {
		return nil
	}
	s.mode = ctlApplying
	c := s.c
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = ctlAppliedMsg{err: fmt.Errorf("panic in apply: %v", r)}
			}
		}()
		e, err := c.Apply(context.Background(), ch, mtactl.ApplyOptions{AcceptDrift: acceptDrift})
		return ctlAppliedMsg{entry: e, err: err}
	}
}

// ctlShortHelp is the footer while a control view is open.
func (m Model) ctlShortHelp() []key.Binding {
	k := m.keys
	switch m.ctl.mode {
	case ctlSlider:
		return []key.Binding{k.StepDown, k.StepUp, k.FineDown, k.FineUp, k.Apply, k.Cancel, k.Down}
	case ctlConfirm, ctlDrift:
		return []key.Binding{k.Apply, k.Cancel, k.Down}
	case ctlResult:
		return []key.Binding{key.NewBinding(key.WithKeys("esc"), key.WithHelp("any key", "close")), k.Down}
	case ctlAudit:
		if m.ctl.full {
			return []key.Binding{k.Down, key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "list"))}
		}
		return []key.Binding{k.Down, key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "full entry")), k.PageDown, k.Refresh, k.Cancel}
	case ctlApplying:
		return []key.Binding{key.NewBinding(key.WithKeys(""), key.WithHelp("applying…", "wait for the MTAs"))}
	}
	return nil
}

// applyErrText is an apply failure for the screen.
func applyErrText(err error) string {
	var ae *mtactl.ApplyError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}
