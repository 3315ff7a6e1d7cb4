package ui

import (
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cutover/model"
)

// paneOrder is how the cockpit orders the provider panes (`o` cycles).
type paneOrder uint8

const (
	orderVolume paneOrder = iota // busiest first, with hysteresis
	orderHealth                  // worst first (CRIT, WARN, NEW▲), then volume
	orderName
)

func (o paneOrder) String() string {
	switch o {
	case orderHealth:
		return "health"
	case orderName:
		return "name"
	}
	return "volume"
}

// Hysteresis of the volume order: two neighbours swap only when the lower
// one is busier by more than reorderGap, or when the order is older than
// reorderAfter; otherwise close counts made panes swap on every refresh.
const (
	reorderGap   = 0.10
	reorderAfter = 30 * time.Second
)

// orderState keeps the last volume order so a refresh can keep it.
type orderState struct {
	by   paneOrder
	prev []string  // ISPs in the order last shown
	at   time.Time // when prev was last fully re-sorted (Clock time)
}

// sortPanes orders panes in place: "other" last, the rest by m.ord.by.
func (m *Model) sortPanes(panes []*pane) {
	byName := func(a, b *pane) int { return strings.Compare(a.isp, b.isp) }
	otherLast := func(a, b *pane) int {
		ao, bo := a.isp == model.ISPOther, b.isp == model.ISPOther
		switch {
		case ao == bo:
			return 0
		case ao:
			return 1
		}
		return -1
	}
	byVolume := func(a, b *pane) int {
		switch {
		case a.volume > b.volume:
			return -1
		case a.volume < b.volume:
			return 1
		}
		return 0
	}
	full := func(cmps ...func(a, b *pane) int) { slices.SortStableFunc(panes, chain(cmps...)) }
	switch m.ord.by {
	case orderName:
		full(otherLast, byName)
		return
	case orderHealth:
		full(otherLast, func(a, b *pane) int { return healthRank(b) - healthRank(a) }, byVolume, byName)
		return
	}
	keepOrder(panes, &m.ord.prev, &m.ord.at, m.now, false, func(p *pane) string { return p.isp },
		otherLast, chain(otherLast, byVolume, byName), clearlyBusier)
}

// keepOrder is the hysteresis of the panes and of the detail's breakdown
// rows: a full sort (by full) when there is no previous order, when it is
// reorderAfter old, when the clock went back or when reset; otherwise the
// order last shown (prev, by key) within group, items not in it after (by
// full), then an item passes its upper neighbour only if passes says so.
// prev and at are updated.
func keepOrder[T any](items []T, prev *[]string, at *time.Time, now time.Time, reset bool,
	key func(T) string, group, full func(a, b T) int, passes func(a, b T) bool) {
	if reset || len(*prev) == 0 || now.Sub(*at) >= reorderAfter || now.Before(*at) {
		slices.SortStableFunc(items, full)
		*at = now
	} else {
		pos := make(map[string]int, len(*prev))
		for i, k := range *prev {
			pos[k] = i
		}
		slices.SortStableFunc(items, func(a, b T) int {
			if c := group(a, b); c != 0 {
				return c
			}
			pa, oka := pos[key(a)]
			pb, okb := pos[key(b)]
			switch {
			case oka && okb:
				return pa - pb
			case oka:
				return -1
			case okb:
				return 1
			}
			return full(a, b)
		})
		for i := 1; i < len(items); i++ {
			for j := i; j > 0 && passes(items[j], items[j-1]); j-- {
				items[j], items[j-1] = items[j-1], items[j]
			}
		}
	}
	*prev = (*prev)[:0]
	for _, it := range items {
		*prev = append(*prev, key(it))
	}
}

// chain chains comparisons: the first that tells a from b decides.
func chain[T any](cmps ...func(a, b T) int) func(a, b T) int {
	return func(a, b T) int {
		for _, c := range cmps {
			if r := c(a, b); r != 0 {
				return r
			}
		}
		return 0
	}
}

// clearlyBusier: a may pass b (neither is "other", which stays last).
func clearlyBusier(a, b *pane) bool {
	if a.isp == model.ISPOther || b.isp == model.ISPOther {
		return false
	}
	return float64(a.volume) > float64(b.volume)*(1+reorderGap)
}

// healthRank: CRIT > WARN > NEW▲ > OK > too little traffic.
func healthRank(p *pane) int {
	r := 0
	switch p.health {
	case model.HealthCrit:
		r = 4
	case model.HealthWarn:
		r = 3
	case model.HealthOK:
		r = 1
	}
	if p.worse.Any() && r < 3 {
		r = 2
	}
	return r
}

// filterState is the `/` filter: providers by name in the cockpit, the
// responses by text in the detail.
type filterState struct {
	typing bool   // the footer is the input line
	text   string // applied as it is typed; esc clears
}

// matches reports whether s contains the filter (case-insensitive).
func (f filterState) matches(s ...string) bool {
	if f.text == "" {
		return true
	}
	q := strings.ToLower(f.text)
	for _, x := range s {
		if strings.Contains(strings.ToLower(x), q) {
			return true
		}
	}
	return false
}

// filterKey edits the filter while it is being typed: enter keeps it, esc
// clears it, backspace deletes, printable runes add.
func (m Model) filterKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	f := &m.filt
	switch msg.Type {
	case tea.KeyEnter:
		f.typing = false
	case tea.KeyEsc:
		f.typing, f.text = false, ""
	case tea.KeyBackspace:
		if r := []rune(f.text); len(r) > 0 {
			f.text = string(r[:len(r)-1])
		}
	case tea.KeyRunes, tea.KeySpace:
		if len([]rune(f.text)) < 40 {
			f.text += Sanitize(string(msg.Runes), 40)
		}
	case tea.KeyCtrlC:
		return m.tryQuit()
	}
	m.refilter()
	return m, nil
}

// openFilter starts typing a filter in the cockpit or the detail.
func (m Model) openFilter(msg tea.KeyMsg) (Model, bool) {
	if !key.Matches(msg, m.keys.Filter) || (m.view != viewCockpit && m.view != viewDetail) {
		return m, false
	}
	m.filt.typing = true
	return m, true
}

// refilter redraws what the filter selects.
func (m *Model) refilter() {
	if m.snap != nil {
		m.buildPanes()
	}
	m.relayout()
}

// orderBreakdown orders the detail's per IP / vmta / transport rows in
// place, busiest first within a dimension, with the panes' hysteresis: rows
// keep their places unless one is clearly busier or the order is 30 s old.
func (m *Model) orderBreakdown() {
	if m.detail == nil {
		return
	}
	rows := m.detail.Breakdown
	key := func(r BreakdownRow) string { return r.Dim + "\x00" + r.Side.String() + "\x00" + r.Value }
	busier := func(a, b BreakdownRow, gap float64) bool {
		return a.Dim == b.Dim && float64(a.Counts.Attempts()) > float64(b.Counts.Attempts())*(1+gap)
	}
	group := func(a, b BreakdownRow) int {
		if ra, rb := dimRank(a.Dim), dimRank(b.Dim); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Dim, b.Dim)
	}
	full := func(a, b BreakdownRow) int {
		if c := group(a, b); c != 0 {
			return c
		}
		aa, ba := a.Counts.Attempts(), b.Counts.Attempts()
		switch {
		case aa > ba:
			return -1
		case aa < ba:
			return 1
		}
		return strings.Compare(key(a), key(b))
	}
	keepOrder(rows, &m.bd.prev, &m.bd.at, m.now, m.bd.isp != m.detailISP, key, group, full,
		func(a, b BreakdownRow) bool { return busier(a, b, reorderGap) })
	m.bd.isp = m.detailISP
}

// dimRank orders the breakdown's dimensions: ip, vmta, transport, others.
func dimRank(d string) int {
	switch d {
	case "ip":
		return 0
	case "vmta":
		return 1
	case "transport":
		return 2
	}
	return 3
}

// breakdownOrder is orderBreakdown's memory.
type breakdownOrder struct {
	isp  string
	prev []string
	at   time.Time
}
