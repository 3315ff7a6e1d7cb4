package ui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"cutover/model"
)

// Options configure New. The zero value gives the defaults.
type Options struct {
	Thresholds model.Thresholds // zero fields: model.DefaultThresholds
	Window     Window           // initial window; zero: 1h
	Refresh    time.Duration    // reload period; default 1s
	// Clock is "now" for windows and the header clock (default time.Now);
	// the demo passes its simulated clock, tests a fixed one.
	Clock func() time.Time
	// Location is the "local" zone of the header clock (default time.Local).
	Location *time.Location
	// Keys replaces DefaultKeyMap.
	Keys *KeyMap
	// Control enables the ratio slider, the rollback keys and the audit view
	// (nil: none of them, see ReadOnly).
	Control Control
	// ReadOnly marks the header "read-only" (no Control: mtactl is not
	// configured).
	ReadOnly bool
	// QuitCheck, when set, is asked before q or ctrl+c quits: a non-empty
	// answer ("2 viewers attached; quit and stop following?") is asked first.
	QuitCheck QuitCheck
	// ASCII draws sparks, bars, borders and marks in ASCII, for a session
	// whose locale is not UTF-8 (LANG=C); see ASCIILocale.
	ASCII bool
	// Renderer decides the colour profile (default: lipgloss's, on stdout,
	// which honours NO_COLOR).
	Renderer *lipgloss.Renderer
	// DNS is the owner's latest dns check: the header word and the D view
	// (dnsview.go); nil without a [dns] section.
	DNS DNSSource
	// Pace is the pacer: PACE marks, the p view (pace.go); nil: none.
	Pace PaceSource
	// Plan reaches the cutover plan: the header segment and the P view
	// (planview.go); nil without one.
	Plan PlanOps
	// Audit computes the source-state audit for the A view (audit_view.go);
	// nil: no A key.
	Audit AuditSource
	// Alerts is the owner's fired alerts: the header bar and the ! view
	// (alertsview.go); nil: no bar.
	Alerts AlertSource
	// TakeOver, when set, is offered (key O) while the Data's owner is gone
	// (OwnerLink): it is called and the program quits, for the caller to
	// open the database itself.
	TakeOver func()
}

type viewID uint8

const (
	viewCockpit viewID = iota
	viewDetail
	viewSources
	viewBounces // bounces.go
	// viewSuppression is suppressview.go.
	viewSuppression
	viewDNS  // dnsview.go
	viewPace // pace.go
	viewPlan // planview.go
	// viewSourceAudit is audit_view.go (key A).
	viewSourceAudit
	viewAlerts // alertsview.go
)

// Model is the cockpit's root bubbletea model.
type Model struct {
	data  Data
	th    model.Thresholds
	clock func() time.Time
	loc   *time.Location
	every time.Duration
	keys  KeyMap
	st    Styles
	r     *lipgloss.Renderer
	help  help.Model

	width, height int
	view          viewID
	showHelp      bool
	window        Window
	now           time.Time

	// load state: one load in flight at most; requests meanwhile set pending.
	loading bool
	pending bool
	err     error

	snap  *Snapshot
	panes []*pane
	total *pane
	sel   int    // index into panes
	selID string // ISP of the selection, so a re-sort keeps it
	top   int    // first visible pane
	// snapAt and detailAt are when snap's and detail's data had settled
	// (see settled): charts draw the buckets complete by then.
	snapAt, detailAt time.Time
	// startWall and startClock are the wall clock and Clock at New.
	startWall, startClock time.Time

	detailISP    string
	detail       *Detail
	detailLines  []string
	detailScroll int

	sources       []SourceView
	sourceLines   []string
	sourcesScroll int

	lay layout

	ctl ctlState // slider, confirmations, audit (control.go)

	bounces bounceState // bounces.go

	supp suppressState // suppression view and header warning (suppressview.go)

	dns    dnsState   // dns check header word and view (dnsview.go)
	alerts alertState // alert bar and ! view (alertsview.go)

	pace paceState      // pacing marks and view (pace.go)
	plan planState      // plan header segment and view (planview.go)
	aud  auditViewState // source-state audit view (audit_view.go)

	fl         flashState // flash message and quit question (flash.go)
	ord        orderState // pane order (order.go)
	bd         breakdownOrder
	filt       filterState
	quitCheck  QuitCheck
	ascii      bool
	helpScroll int
	rateSince  time.Time // first bucket with data (span)

	own ownerState // owner.go
}

// New builds the cockpit over d. Run it with
//
//	p := tea.NewProgram(ui.New(d, opts), tea.WithAltScreen())
//
// and, from the pipeline, p.Send(ui.Changed{}) after each commit.
func New(d Data, opt Options) Model {
	m := Model{
		data:   d,
		th:     opt.Thresholds.WithDefaults(),
		clock:  opt.Clock,
		loc:    opt.Location,
		every:  opt.Refresh,
		window: opt.Window,
		st:     NewStyles(opt.Renderer),
		r:      opt.Renderer,
		help:   help.New(),

		quitCheck: opt.QuitCheck,
		ascii:     opt.ASCII,
	}
	if m.r == nil {
		m.r = lipgloss.DefaultRenderer()
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.loc == nil {
		m.loc = time.Local
	}
	if m.every <= 0 {
		m.every = time.Second
	}
	if m.window < Window15m || m.window > WindowCutover {
		m.window = Window1h
	}
	if opt.Keys != nil {
		m.keys = *opt.Keys
	} else {
		m.keys = DefaultKeyMap()
	}
	m.help.Styles = m.st.Help
	m.initControl(opt)
	m.initSuppression(d)
	m.dns.src = opt.DNS
	m.keys.DNS.SetEnabled(opt.DNS != nil)
	m.pace.src = opt.Pace
	m.keys.Pace.SetEnabled(opt.Pace != nil)
	m.plan.ops = opt.Plan
	m.keys.Plan.SetEnabled(opt.Plan != nil)
	m.aud.src, m.aud.cur, m.aud.next = opt.Audit, -1, -1
	m.keys.SourceAudit.SetEnabled(opt.Audit != nil)
	m.alerts.src = opt.Alerts
	m.keys.Alerts.SetEnabled(opt.Alerts != nil)
	m.keys.AlertAck.SetEnabled(opt.Alerts != nil)
	m.initOwner(opt)
	m.now = m.clock()
	m.startWall, m.startClock = time.Now(), m.now
	return m
}

type tickMsg time.Time

type refreshMsg struct{}

// loadedMsg carries one load's results and what they were loaded for, so a
// result for a window or provider no longer shown is dropped.
type loadedMsg struct {
	now     time.Time
	window  Window
	isp     string
	snap    *Snapshot
	detail  *Detail
	sources []SourceView
	bounces *BounceView
	err     error

	supp       *SuppressionView
	suppErr    error
	suppLoaded bool
}

// Init starts the refresh tick and the first load.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.tick(), func() tea.Msg { return refreshMsg{} }, m.planLoad(true))
}

func (m Model) tick() tea.Cmd {
	return tea.Tick(m.every, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// requestLoad starts a load unless one is in flight; then it remembers to
// load again when it lands (coalescing Changed bursts into one reload).
func (m *Model) requestLoad() tea.Cmd {
	if m.loading {
		m.pending = true
		return nil
	}
	m.loading, m.pending = true, false
	d, w, v, isp, now := m.data, m.window, m.view, m.detailISP, m.clock()
	settled := m.settled(now, time.Now())
	suppLoad := m.suppressLoad()
	return func() (msg tea.Msg) {
		res := loadedMsg{now: settled, window: w, isp: isp}
		// A panicking Data must not take the terminal down with it.
		defer func() {
			if r := recover(); r != nil {
				res.err = fmt.Errorf("panic in data load: %v", r)
				msg = res
			}
		}()
		if d == nil {
			res.err = fmt.Errorf("no data source")
			return res
		}
		res.snap, res.err = d.Snapshot(w, now)
		if res.err == nil && v == viewDetail && isp != "" {
			res.detail, res.err = d.Detail(isp, w, now)
		}
		if res.err == nil && v == viewSources {
			res.sources, res.err = d.Sources(now)
		}
		if res.err == nil && v == viewBounces {
			res.bounces, res.err = loadBounces(d, w, now)
		}
		if suppLoad != nil {
			res.supp, res.suppErr = suppLoad()
			res.suppLoaded = true
		}
		return res
	}
}

// Update handles keys, sizes, ticks and loaded data.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 0), max(msg.Height, 0)
		m.relayout()
		return m, nil
	case tickMsg:
		m.now = m.clock()
		m.expireFlash(time.Time(msg))
		return m, tea.Batch(m.tick(), m.requestLoad(), m.planLoad(false))
	case refreshMsg, Changed:
		return m, m.requestLoad()
	case loadedMsg:
		m.loading = false
		m.now = m.clock()
		m.apply(msg)
		var cmd tea.Cmd
		if m.pending {
			cmd = m.requestLoad()
		}
		return m, cmd
	case ctlMsg:
		return m.ctlUpdate(msg)
	case paceDoneMsg:
		m.pace.busy = false
		if msg.err != nil {
			m.pace.message = "apply failed: " + msg.err.Error()
		} else {
			m.pace.message = msg.msg
		}
		return m, m.requestLoad()
	case planLoadedMsg, planDoneMsg:
		return m.planUpdate(msg)
	case auditLoaded:
		m.aud.loading = false
		m.aud.err = msg.err
		if msg.err == nil {
			m.aud.rep, m.aud.cur, m.aud.next = msg.rep, msg.cur, msg.next
		}
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	case tea.MouseMsg:
		return m.mouse(msg)
	}
	return m, nil
}

func (m *Model) apply(msg loadedMsg) {
	m.applySuppression(msg.supp, msg.suppErr, msg.suppLoaded)
	m.err = msg.err
	if msg.err == nil {
		m.own.lastOK = m.own.now()
	}
	if msg.err != nil {
		return // keep showing the last good data, with the error in the footer
	}
	if msg.window != m.window {
		m.pending = true // a window switch raced this load
		return
	}
	if msg.snap != nil {
		m.snap, m.snapAt = msg.snap, msg.now
		m.buildPanes()
	}
	if msg.detail != nil && msg.isp == m.detailISP {
		m.detail, m.detailAt = msg.detail, msg.now
	}
	if msg.sources != nil {
		m.sources = msg.sources
	}
	if msg.bounces != nil {
		m.bounces.view = msg.bounces
	}
	m.relayout()
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if m.fl.ask != "" {
		return m.askKey(msg)
	}
	if m.filt.typing {
		return m.filterKey(msg)
	}
	if ok, mm, cmd := m.ownerKey(msg); ok {
		return mm, cmd
	}
	k := m.keys
	if m.ctl.mode != ctlOff {
		return m.ctlKey(msg)
	}
	if m.showHelp {
		// The overlay is a dialog: q and esc close it, only ctrl+c quits.
		switch {
		case msg.String() == "ctrl+c":
			return m.tryQuit()
		case key.Matches(msg, k.Help, k.Back, k.Quit):
			m.showHelp = false
		default:
			m.helpScroll = m.scroll(msg, m.helpScroll, len(m.helpLines(max(min(m.width-4, 100), 10))), max(m.height-5, 1))
		}
		return m, nil
	}
	if m.view == viewPlan && m.plan.ops != nil {
		if mm, cmd, ok := m.planKey(msg); ok {
			return mm, cmd
		}
	}
	if key.Matches(msg, k.Quit) {
		return m.tryQuit()
	}
	if r := m.refusal(msg); r != "" {
		m.flash(r)
		return m, nil
	}
	if m2, ok := m.openFilter(msg); ok {
		return m2, nil
	}
	if key.Matches(msg, k.Back) && m.filt.text != "" && (m.view == viewCockpit || m.view == viewDetail) {
		m.filt.text = "" // esc clears the filter before it leaves the view
		m.refilter()
		return m, nil
	}
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp, m.helpScroll = true, 0
		return m, nil
	case m.ctl.c != nil && key.Matches(msg, k.Slider, k.RatioDown, k.RatioUp, k.Rollback, k.Baseline, k.Audit):
		m, cmd, _ := m.ctlOpen(msg)
		return m, cmd
	case key.Matches(msg, k.Window):
		return m, m.setWindow(m.window.next())
	case key.Matches(msg, k.Win15m):
		return m, m.setWindow(Window15m)
	case key.Matches(msg, k.Win1h):
		return m, m.setWindow(Window1h)
	case key.Matches(msg, k.Win24h):
		return m, m.setWindow(Window24h)
	case key.Matches(msg, k.WinCutover):
		return m, m.setWindow(WindowCutover)
	case m.view == viewSourceAudit && key.Matches(msg, k.Refresh):
		return m.auditViewKey(msg)
	case key.Matches(msg, k.Refresh):
		return m, m.requestLoad()
	case m.view == viewCockpit && key.Matches(msg, k.Order):
		m.ord.by = (m.ord.by + 1) % 3
		m.ord.prev = nil
		m.refilter()
		m.flash("order: " + m.ord.by.String())
		return m, nil
	case key.Matches(msg, k.Bounces):
		return m.openBounces()
	case m.supp.p != nil && key.Matches(msg, k.Suppression):
		return m.openSuppression()
	case m.dns.src != nil && m.view != viewDNS && key.Matches(msg, k.DNS):
		return m.openDNS()
	case m.pace.src != nil && m.view != viewPace && key.Matches(msg, k.Pace):
		return m.openPace()
	case m.plan.ops != nil && m.view != viewPlan && key.Matches(msg, k.Plan):
		return m.openPlan()
	case m.aud.src != nil && m.view != viewSourceAudit && m.view != viewPlan && key.Matches(msg, k.SourceAudit):
		// P has its own A (apply the plan step): the audit opens from the other views.
		return m.openSourceAudit()
	case m.alerts.src != nil && m.view != viewAlerts && key.Matches(msg, k.Alerts):
		return m.openAlerts()
	case key.Matches(msg, k.Sources):
		if m.view != viewSources {
			m.view, m.sourcesScroll = viewSources, 0
			m.relayout()
			return m, m.requestLoad()
		}
		return m, nil
	}
	switch m.view {
	case viewCockpit:
		return m.cockpitKey(msg)
	case viewDetail:
		if key.Matches(msg, k.Back) {
			m.view = viewCockpit
			return m, nil
		}
		m.detailScroll = m.scroll(msg, m.detailScroll, max(len(m.detailLines)-detailPinned, 0), max(m.bodyHeight()-detailPinned, 1))
	case viewSources:
		if key.Matches(msg, k.Back) {
			m.view = viewCockpit
			return m, nil
		}
		m.sourcesScroll = m.scroll(msg, m.sourcesScroll, len(m.sourceLines), m.bodyHeight())
	case viewBounces:
		return m.bouncesKey(msg)
	case viewSuppression:
		return m.suppressionKey(msg)
	case viewDNS:
		return m.dnsKey(msg)
	case viewPace:
		return m.paceKey(msg)
	case viewSourceAudit:
		return m.auditViewKey(msg)
	case viewAlerts:
		return m.alertsKey(msg)
	}
	return m, nil
}

func (m *Model) setWindow(w Window) tea.Cmd {
	if w == m.window {
		return nil
	}
	m.window = w
	if m.loading {
		m.pending = true
		return nil
	}
	return m.requestLoad()
}

func (m Model) cockpitKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	n := len(m.panes)
	page := max(m.visiblePanes(), 1)
	switch {
	case key.Matches(msg, k.Up):
		m.sel--
	case key.Matches(msg, k.Down):
		m.sel++
	case key.Matches(msg, k.PageUp):
		m.sel -= page
	case key.Matches(msg, k.PageDown):
		m.sel += page
	case key.Matches(msg, k.Top):
		m.sel = 0
	case key.Matches(msg, k.Bottom):
		m.sel = n - 1
	case key.Matches(msg, k.Open):
		if n == 0 {
			return m, nil
		}
		p := m.panes[m.sel]
		if p.isp != m.detailISP {
			m.detail, m.detailLines = nil, nil
		}
		m.view, m.detailISP, m.detailScroll = viewDetail, p.isp, 0
		m.relayout()
		return m, m.requestLoad()
	default:
		return m, nil
	}
	m.sel = max(min(m.sel, n-1), 0)
	if n > 0 {
		m.selID = m.panes[m.sel].isp
	}
	m.keepVisible()
	return m, nil
}

// scroll moves a line offset for the scrolling views.
func (m Model) scroll(msg tea.KeyMsg, off, lines, height int) int {
	k := m.keys
	page := max(height-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		off--
	case key.Matches(msg, k.Down):
		off++
	case key.Matches(msg, k.PageUp):
		off -= page
	case key.Matches(msg, k.PageDown):
		off += page
	case key.Matches(msg, k.Top):
		off = 0
	case key.Matches(msg, k.Bottom):
		off = lines
	}
	return max(min(off, lines-height), 0)
}

// colour reports whether styles emit SGR at all (not under NO_COLOR).
func (m Model) colour() bool { return m.r.ColorProfile() != termenv.Ascii }

// bodyHeight is the lines between the top bar and the footer.
func (m Model) bodyHeight() int {
	return max(m.height-2, 0)
}
