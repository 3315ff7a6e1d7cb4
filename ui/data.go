// Package ui is cutover's terminal cockpit (bubbletea v1): per-provider panes
// comparing the OLD and NEW MTA, a provider detail, a sources view and a help
// overlay. It renders what model and state computed and never reads files or
// parses logs: everything comes through the Data interface, loaded in a
// tea.Cmd, refreshed on a tick or when the pipeline sends Changed.
package ui

import (
	"time"

	"cutover/model"
)

// Window is the time range the cockpit compares over.
type Window uint8

// The zero Window is "the default" (1h) in Options.
const (
	Window15m Window = iota + 1
	Window1h
	Window24h
	// WindowCutover runs from the plan's start (Plan.Start) to now.
	WindowCutover
)

// next is the window after w, cycling.
func (w Window) next() Window { return w%WindowCutover + 1 }

func (w Window) String() string {
	switch w {
	case Window15m:
		return "15m"
	case Window1h:
		return "1h"
	case Window24h:
		return "24h"
	case WindowCutover:
		return "cutover"
	}
	return "?"
}

// Duration is the window's length, 0 for WindowCutover (open start).
func (w Window) Duration() time.Duration {
	switch w {
	case Window15m:
		return 15 * time.Minute
	case Window1h:
		return time.Hour
	case Window24h:
		return 24 * time.Hour
	}
	return 0
}

// Data is everything the UI reads. Calls come from one tea.Cmd goroutine at a
// time, never from View. An implementation over *state.DB is StateData.
type Data interface {
	// Snapshot is the cockpit: totals and every provider with traffic in the
	// window ending at now.
	Snapshot(w Window, now time.Time) (*Snapshot, error)
	// Detail is one provider over the same window, with finer series,
	// response signatures and the per IP / vmta / transport breakdown.
	Detail(isp string, w Window, now time.Time) (*Detail, error)
	// Sources lists the followed sources with their reject samples.
	Sources(now time.Time) ([]SourceView, error)
}

// PlanProvider gives the cutover plan shown in the header. The mtactl issue
// plugs the real plan in here; without one the ratio is 0 % NEW.
type PlanProvider interface {
	Plan() Plan
}

// Plan is the current ratio and the list of planned steps.
type Plan struct {
	RatioNew float64    // share of traffic routed to NEW, percent 0-100
	Step     int        // index into Steps of the current step; -1 = none
	Steps    []PlanStep // planned steps, in order
	Start    time.Time  // cutover start (WindowCutover); zero = unknown
	// Unmanaged: no plan provider (no [mtactl] section), so RatioNew is not
	// a ratio anyone set: the header shows NEW's measured share instead.
	Unmanaged bool `json:",omitempty"`
}

// PlanStep is one planned ratio.
type PlanStep struct {
	Name     string
	RatioNew float64 // percent
}

// Snapshot is what the cockpit shows for one window.
type Snapshot struct {
	Since, Until time.Time     // the window actually read
	Step         time.Duration // spacing of every Series in the snapshot
	Plan         Plan
	DBPath       string
	Old, New     SideStats       // all providers
	Providers    []ProviderStats // any order: the UI sorts (busiest first, other last)
	Sources      []SourceView    // for the header summary; samples may be empty
	Warnings     []string        // shown in the header (e.g. database on NFS)
	// DataUntil is set when the data is not live (its newest event is older
	// than LiveWithin): the window ends at it instead of now, and the
	// header says how old it is. Zero: live.
	DataUntil time.Time `json:",omitempty"`
}

// LiveWithin is how recent the newest event must be for the data to count
// as live; older, the windows end at the newest event (a backfill of last
// week's logs shows last week, not "no traffic").
const LiveWithin = 15 * time.Minute

// ProviderStats is one mailbox provider's two sides.
type ProviderStats struct {
	ISP      string
	Old, New SideStats
}

// SideStats is one side's counts over the window.
type SideStats struct {
	Counts model.Tally
	Series []model.Tally // one per Step from Since, oldest first
	Top    Reason        // most frequent non-delivered response; Count 0 = none
}

// Reason is a response signature with a count and one sample text
// (untrusted: the UI sanitizes it).
type Reason struct {
	Signature string
	Sample    string
	Count     uint64
}

// Detail is one provider in depth.
type Detail struct {
	ISP          string
	Since, Until time.Time
	Step         time.Duration
	Old, New     SideStats
	Reasons      []ReasonRow    // top signatures across both sides, busiest first
	Breakdown    []BreakdownRow // per source IP / vmta / transport
}

// ReasonRow is one signature's counts on both sides.
type ReasonRow struct {
	Signature string
	Sample    string
	Old, New  uint64
}

// BreakdownRow is the counts of one value of one dimension on one side.
type BreakdownRow struct {
	Dim    string // "ip", "vmta", "transport"
	Value  string
	Side   model.Side
	Counts model.Tally
}

// SourceState is what the follower says about a source.
type SourceState uint8

const (
	SourceUnknown SourceState = iota
	// SourceFollowing reads and is caught up or catching up.
	SourceFollowing
	// SourceStale has not been read successfully for a while (Since).
	SourceStale
	// SourceUnreachable fails to stat or read (ENOTCONN, EIO...): retrying.
	SourceUnreachable
	// SourceWaiting has no file matching its glob yet.
	SourceWaiting
	// SourceIdle is reachable and caught up, with no new lines lately.
	SourceIdle
	numSourceStates
)

func (s SourceState) String() string {
	switch s {
	case SourceFollowing:
		return "following"
	case SourceStale:
		return "stale"
	case SourceUnreachable:
		return "unreachable"
	case SourceWaiting:
		return "waiting"
	case SourceIdle:
		return "idle"
	}
	return "unknown"
}

// ParseSourceState is the inverse of String (the follower's state names:
// following, idle, waiting, stale, unreachable); anything else is unknown.
func ParseSourceState(s string) SourceState {
	for st := SourceFollowing; st < numSourceStates; st++ {
		if st.String() == s {
			return st
		}
	}
	return SourceUnknown
}

// SourceView is one followed source.
type SourceView struct {
	Name  string
	Kind  string // pmta | postfix | exim
	Side  string // old | new
	Path  string // current file
	State SourceState
	Since time.Time // when State began (stale/unreachable for now-Since)
	Error string    // last error, if any

	Offset   int64 // bytes consumed in the current file
	Size     int64 // current file size (lag = Size - Offset)
	LastLine time.Time
	Lines    int64
	Events   int64
	Rejected int64
	NoDomain int64          // events whose address had no usable domain
	Samples  []RejectSample // the first few rejected lines
}

// RejectSample is one rejected line (Text is untrusted).
type RejectSample struct {
	Path   string
	Offset int64
	Line   int64 // from 1; 0 when unknown
	Reason string
	Text   string
}

// Changed tells the cockpit that new data was committed. The pipeline may
// send it with Program.Send after each commit; the UI coalesces them, so a
// busy pipeline never floods the event loop (send it per commit, never per
// line).
type Changed struct{}
