package ui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
)

// BounceProvider is an optional interface of Data: a Data that has it gets
// the bounce view (key B).
type BounceProvider interface {
	// Bounces is the window's failures by class per side and provider and
	// the newest canonical suppression events.
	Bounces(w Window, now time.Time) (*BounceView, error)
}

// BounceView is what the bounce view shows.
type BounceView struct {
	Since, Until time.Time
	// Rows are per side and provider, any order (the view sorts).
	Rows []BounceRow
	// Suppressions are the newest events of the canonical log, newest first.
	Suppressions []SuppressionRow
	LogPath      string
	// LogError says why the log could not be read (shown, not fatal).
	LogError string
}

// BounceRow is one provider on one side.
type BounceRow struct {
	Side model.Side
	ISP  string
	// Kinds counts the non-delivered responses of the window by class
	// (model.ClassifyBounce of each response signature's text).
	Kinds [model.NumBounceKinds]uint64
	// Hard, Complaints and Delivered come from the counters.
	Hard, Complaints, Delivered uint64
}

// Failed is the sum of Kinds.
func (r *BounceRow) Failed() uint64 {
	var n uint64
	for _, c := range r.Kinds {
		n += c
	}
	return n
}

// SuppressionRow is one canonical log event (Addr, Reason, Origin are
// untrusted: the view sanitizes them).
type SuppressionRow struct {
	Time   time.Time // ts, or recorded when the source had none
	Type   string
	Addr   string
	Source string
	Origin string
}

// newestSuppressions is how many log events the view lists.
const newestSuppressions = 30

// Bounces implements BounceProvider over the database: reasons and
// counters of the window, and the tail of the canonical log next to the
// database (read without a lock: the writer may be this very process).
func (d *StateData) Bounces(w Window, now time.Time) (*BounceView, error) {
	since, until, _ := d.windowRange(w, now, false)
	v := &BounceView{Since: since, Until: until, LogPath: suppress.DefaultLogPath(d.DB.Path())}
	rows := map[[2]string]*BounceRow{}
	get := func(side model.Side, isp string) *BounceRow {
		k := [2]string{side.String(), isp}
		r := rows[k]
		if r == nil {
			r = &BounceRow{Side: side, ISP: isp}
			rows[k] = r
		}
		return r
	}
	stats, err := d.DB.Stats(state.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	for _, s := range stats {
		if s.Side != model.SideOld && s.Side != model.SideNew {
			continue
		}
		r := get(s.Side, s.ISP)
		r.Hard += s.HardBounce
		r.Complaints += s.Complaints
		r.Delivered += s.Delivered
	}
	for _, sd := range []model.Side{model.SideOld, model.SideNew} {
		rs, err := d.DB.TopReasons(sd, "", since, until, 0)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if model.IsFeedbackType(r.Sample) || model.IsFeedbackType(r.Signature) {
				continue // a complaint's "response" is its feedback type
			}
			text := r.Sample
			if text == "" {
				text = r.Signature
			}
			get(sd, r.ISP).Kinds[model.ClassifyBounce(model.BounceInput{Text: text}).Kind] += r.Count
		}
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, *r)
	}
	evs, err := suppress.Tail(v.LogPath, newestSuppressions)
	if err != nil {
		v.LogError = err.Error()
	}
	for _, e := range evs {
		t := e.TS
		if t.IsZero() {
			t = e.Recorded
		}
		v.Suppressions = append(v.Suppressions, SuppressionRow{Time: t, Type: string(e.Type), Addr: e.Addr, Source: e.Source, Origin: e.Origin})
	}
	return v, nil
}

// bounceState is the bounce view's state inside Model.
type bounceState struct {
	view   *BounceView
	lines  []string
	scroll int
}

// loadBounces runs in the load command.
func loadBounces(d Data, w Window, now time.Time) (*BounceView, error) {
	bp, ok := d.(BounceProvider)
	if !ok {
		return &BounceView{LogError: "this data source has no bounce view"}, nil
	}
	return bp.Bounces(w, now)
}

// bouncesKey handles keys while the bounce view is open.
func (m Model) bouncesKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Back, m.keys.Bounces) {
		m.view = viewCockpit
		return m, nil
	}
	m.bounces.scroll = m.scroll(msg, m.bounces.scroll, len(m.bounces.lines), m.bodyHeight())
	return m, nil
}

// openBounces switches to the bounce view and loads it.
func (m Model) openBounces() (tea.Model, tea.Cmd) {
	if m.view == viewBounces {
		m.view = viewCockpit
		return m, nil
	}
	m.view, m.bounces.scroll = viewBounces, 0
	m.relayoutBounces()
	return m, m.requestLoad()
}

// relayoutBounces renders the view's lines for the current width (on new
// data or a resize, never per frame).
func (m *Model) relayoutBounces() {
	if m.view != viewBounces || m.bounces.view == nil {
		return
	}
	m.bounces.lines = m.bouncesBody(m.width)
	m.bounces.scroll = max(min(m.bounces.scroll, len(m.bounces.lines)-m.bodyHeight()), 0)
}

// bouncesBody renders the classes table and the newest suppressions.
func (m Model) bouncesBody(w int) []string {
	v := m.bounces.view
	// 80 columns hold side, provider, nine classes, hard and complaints;
	// wider screens add the total and the complaint rate.
	wide := w >= 100
	// The provider column holds "microsoft" whole at 80 columns (the row
	// is then exactly 80 cells); wider screens give it the longest name.
	ispW := 10
	if wide {
		ispW = 14
		for _, r := range v.Rows {
			ispW = max(ispW, min(ansi.StringWidth(Sanitize(r.ISP, 40))+1, 21))
		}
	}
	kinds := []model.BounceKind{model.BounceUserUnknown, model.BounceHostUnknown, model.BounceInactive, model.BounceMailboxFull,
		model.BouncePolicy, model.BounceReputation, model.BounceAuth, model.BounceContent, model.BounceOther}
	note := " · failures by class"
	if wide {
		note = " · non-delivered responses by class (reply texts) │ hard bounces and complaints as counted"
	}
	head := m.st.Label.Render("bounces") + "  " + m.st.Label.Render("window "+m.window.String()+" "+fmtRange(v.Since, v.Until)) +
		m.st.Dim.Render(note)
	out := []string{head}
	cols := Fit("", 4) + Fit("provider", ispW)
	if wide {
		cols += FitRight("total", 7)
	}
	for _, k := range kinds {
		cols += FitRight(k.Short(), 6)
	}
	cols += " │" + FitRight("hard", 5) + FitRight("cmpl", 5)
	if wide {
		cols += FitRight("cmpl%", 7)
	}
	out = append(out, m.st.Label.Render(cols))
	rows := slices.Clone(v.Rows)
	// Busiest provider first, OLD above NEW within one, as in the cockpit.
	busy := map[string]uint64{}
	for _, r := range rows {
		busy[r.ISP] += r.Failed() + r.Delivered
	}
	slices.SortFunc(rows, func(a, b BounceRow) int {
		if a.ISP != b.ISP {
			if c := cmp.Compare(busy[b.ISP], busy[a.ISP]); c != 0 {
				return c
			}
			return strings.Compare(a.ISP, b.ISP)
		}
		return cmp.Compare(a.Side, b.Side)
	})
	var tot [3]BounceRow
	if len(rows) == 0 {
		out = append(out, m.st.Dim.Render("  no failures or complaints in this window"))
	}
	for _, r := range rows {
		if r.Failed() == 0 && r.Hard == 0 && r.Complaints == 0 {
			continue
		}
		out = append(out, m.bounceRow(r, kinds, ispW, wide))
		t := &tot[r.Side]
		for i, c := range r.Kinds {
			t.Kinds[i] += c
		}
		t.Hard += r.Hard
		t.Complaints += r.Complaints
		t.Delivered += r.Delivered
	}
	if len(rows) > 0 {
		for _, sd := range []model.Side{model.SideOld, model.SideNew} {
			t := tot[sd]
			t.Side, t.ISP = sd, "all"
			out = append(out, m.st.Label.Render(ansi.Strip(m.bounceRow(t, kinds, ispW, wide))))
		}
	}

	// The rule: the classes and "hard" count different things, so they
	// need not add up.
	out = append(out, m.st.Dim.Render(Sanitize("classes: non-delivered replies by text; hard: bad-address bounces (5.1.x, 5.2.1)", max(w, 1))))

	// Newest suppressions with their origin.
	out = append(out, "")
	title := m.st.Label.Render("newest suppressions")
	if v.LogPath != "" {
		title += m.st.Dim.Render("  " + SanitizePath(v.LogPath, max(w-24, 10)))
	}
	out = append(out, title)
	if v.LogError != "" {
		out = append(out, m.st.Error.Render("  ! "+Sanitize(v.LogError, max(w-4, 1))))
	}
	addrW, srcW := 22, 13
	if wide {
		addrW, srcW = 32, 18
	}
	out = append(out, m.st.Label.Render(Fit("when (UTC)", 15)+Fit("type", 12)+Fit("address", addrW+1)+Fit("source", srcW+1)+"origin"))
	if len(v.Suppressions) == 0 && v.LogError == "" {
		out = append(out, m.st.Dim.Render("  none yet"))
	}
	originW := max(w-15-12-addrW-1-srcW-1, 8)
	for _, s := range v.Suppressions {
		when := "--"
		if !s.Time.IsZero() {
			when = s.Time.UTC().Format("01-02 15:04:05")
		}
		line := Fit(when, 15) + Fit(Sanitize(s.Type, 11), 12) + Fit(Sanitize(s.Addr, addrW), addrW+1) +
			Fit(Sanitize(s.Source, srcW), srcW+1) + m.st.Dim.Render(SanitizePath(s.Origin, originW))
		out = append(out, line)
	}
	return out
}

// bounceRow is one side × provider line of the classes table.
func (m Model) bounceRow(r BounceRow, kinds []model.BounceKind, ispW int, wide bool) string {
	label := m.st.Old.Render("OLD ")
	if r.Side == model.SideNew {
		label = m.st.New.Render("NEW ")
	}
	count := func(n uint64) string {
		if n == 0 {
			return "·"
		}
		return fmtCount(float64(n))
	}
	s := label + Fit(Sanitize(r.ISP, ispW-1), ispW)
	if wide {
		s += FitRight(count(r.Failed()), 7)
	}
	for _, k := range kinds {
		s += FitRight(count(r.Kinds[k]), 6)
	}
	hard := FitRight(count(r.Hard), 5)
	if r.Hard > 0 {
		hard = m.st.Warn.Render(hard)
	}
	s += " │" + hard + FitRight(count(r.Complaints), 5)
	if wide {
		s += FitRight(fmtPctFine(r.Complaints, r.Delivered), 7)
	}
	return s
}

// sigLabel is a response signature with the name of the provider
// signature it matches in front ("[gmail-4.7.28-rate] 421-4.7.28 ..."),
// for the cockpit's and the detail's response lists. The sample (the full
// text) is matched when there is one.
func sigLabel(sig, sample string) string {
	text := sample
	if text == "" {
		text = sig
	}
	sigNames.Lock()
	name, ok := sigNames.m[text]
	sigNames.Unlock()
	if !ok {
		name, _ = model.NamedSignature(text)
		sigNames.Lock()
		if len(sigNames.m) > 4096 {
			clear(sigNames.m) // responses repeat; a bounded memo is enough
		}
		sigNames.m[text] = name
		sigNames.Unlock()
	}
	if name == "" {
		return sig
	}
	return fmt.Sprintf("[%s] %s", name, sig)
}

var sigNames = struct {
	sync.Mutex
	m map[string]string
}{m: map[string]string{}}
