package plan

import (
	"fmt"
	"slices"
	"time"

	"cutover/model"
)

// State is the plan as the events left it.
type State struct {
	Schedule  *model.Schedule `json:"schedule,omitempty"` // nil: no plan yet
	Created   time.Time       `json:"created,omitzero"`
	Step      int             `json:"step"` // 0 = baseline, 1..len(Steps)
	Ratio     int             `json:"ratio"`
	StepSince time.Time       `json:"step_since,omitzero"`
	Hold      *Hold           `json:"hold,omitempty"`
	Gate      *GateRef        `json:"gate,omitempty"`    // the latest gate
	Signoff   *SignoffRef     `json:"signoff,omitempty"` // the latest signoff
	Overrides []Override      `json:"overrides,omitempty"`
	// Audit maps mtactl change ids the log names to their event seq: the
	// reconciliation after a crash looks here.
	Audit map[string]uint64 `json:"audit,omitempty"`
	Seq   uint64            `json:"seq"`
}

// Hold is an operator's stop.
type Hold struct {
	Reason string    `json:"reason"`
	Who    string    `json:"who"`
	Since  time.Time `json:"since"`
}

// GateRef is a gate event.
type GateRef struct {
	Report  string    `json:"report"`
	Verdict string    `json:"verdict"`
	Step    int       `json:"step"`
	At      time.Time `json:"at"`
	Seq     uint64    `json:"seq"`
	// NeedsAcceptWarn: NEW's health is WARN; the signoff must accept it.
	NeedsAcceptWarn bool `json:"needs_accept_warn,omitempty"`
}

// SignoffRef is a signoff event; Hash is its line's sha256.
type SignoffRef struct {
	Report     string    `json:"report"`
	By         string    `json:"by"`
	Ref        string    `json:"ref,omitempty"`
	DKIM       string    `json:"dkim,omitempty"`
	AcceptWarn bool      `json:"accept_warn,omitempty"`
	At         time.Time `json:"at"`
	Hash       string    `json:"hash"`
	Seq        uint64    `json:"seq"`
}

// Override is an advance that bypassed gate and signoff.
type Override struct {
	At       time.Time `json:"at"`
	Who      string    `json:"who"`
	Reason   string    `json:"reason"`
	FromStep int       `json:"from_step"`
	Step     int       `json:"step"`
	AuditID  string    `json:"audit_id"`
	Seq      uint64    `json:"seq"`
}

func (s *State) apply(ev Event, hash string) {
	s.Seq = ev.Seq
	record := func() {
		if ev.AuditID != "" {
			if s.Audit == nil {
				s.Audit = map[string]uint64{}
			}
			s.Audit[ev.AuditID] = ev.Seq
		}
	}
	move := func() {
		if ev.Step != s.Step {
			s.StepSince = ev.TS
		}
		s.Step, s.Ratio = ev.Step, ev.Ratio
	}
	switch ev.Type {
	case EvCreated:
		sc := *ev.Schedule
		s.Schedule, s.Created = &sc, ev.TS
		s.Step, s.Ratio, s.StepSince = ev.Step, ev.Ratio, ev.TS
		s.Hold, s.Gate, s.Signoff, s.Overrides = nil, nil, nil, nil
	case EvGate:
		s.Gate = &GateRef{Report: ev.Report, Verdict: ev.Verdict, Step: ev.Step, At: ev.TS, Seq: ev.Seq, NeedsAcceptWarn: ev.AcceptWarn}
	case EvSignoff:
		s.Signoff = &SignoffRef{Report: ev.Report, By: ev.By, Ref: ev.Ref, DKIM: ev.DKIM, AcceptWarn: ev.AcceptWarn,
			At: ev.TS, Hash: hash, Seq: ev.Seq}
	case EvAdvance, EvRollback:
		move()
		record()
	case EvOverride:
		s.Overrides = append(s.Overrides, Override{At: ev.TS, Who: ev.Who, Reason: ev.Reason, FromStep: ev.FromStep,
			Step: ev.Step, AuditID: ev.AuditID, Seq: ev.Seq})
		move()
		record()
	case EvHold:
		s.Hold = &Hold{Reason: ev.Reason, Who: ev.Who, Since: ev.TS}
	case EvResume:
		s.Hold = nil
	}
}

func (s State) clone() State {
	c := s
	if s.Schedule != nil {
		sc := *s.Schedule
		c.Schedule = &sc
	}
	c.Overrides = slices.Clone(s.Overrides)
	if s.Audit != nil {
		c.Audit = make(map[string]uint64, len(s.Audit))
		for k, v := range s.Audit {
			c.Audit[k] = v
		}
	}
	return c
}

// Steps is the number of plan steps (0 without a plan).
func (s State) Steps() int {
	if s.Schedule == nil {
		return 0
	}
	return len(s.Schedule.Steps)
}

// RatioOf is step i's ratio (0 = baseline).
func (s State) RatioOf(i int) int {
	if s.Schedule == nil || i <= 0 {
		return 0
	}
	return s.Schedule.Steps[min(i, len(s.Schedule.Steps))-1].Ratio
}

// Day is the plan day at now (1 on the start date), 0 before the start.
func (s State) Day(now time.Time) int {
	if s.Schedule == nil || now.Before(s.Schedule.Start) {
		return 0
	}
	return int(now.Sub(s.Schedule.Start)/(24*time.Hour)) + 1
}

// NextCheckpoint is when the current step's dwell ends (zero without a
// plan or at the last step).
func (s State) NextCheckpoint() time.Time {
	if s.Schedule == nil || s.Step >= len(s.Schedule.Steps) {
		return time.Time{}
	}
	if s.Step == 0 {
		return s.Schedule.Start
	}
	sp := s.Schedule.Steps[s.Step-1]
	due := s.StepSince.Add(sp.MinDwell)
	if next := s.Schedule.Steps[s.Step].Start; next.After(due) {
		return next
	}
	return due
}

// SignoffState says whether the latest signoff approves the latest gate
// report: "current", "stale" (it names an older report), or "none".
func (s State) SignoffState() string {
	switch {
	case s.Signoff == nil:
		return "none"
	case s.Gate == nil || s.Signoff.Report != s.Gate.Report:
		return "stale"
	}
	return "current"
}

// GateMaxAge is how old a PASS gate may be for an advance.
const GateMaxAge = time.Hour

// AdvanceBlockers lists what stops an advance without --force, empty when
// it may go: a plan, a next step, no hold, a PASS gate of this step under an
// hour old, and a signoff of exactly that report.
func (s State) AdvanceBlockers(now time.Time) []string {
	var out []string
	if s.Schedule == nil {
		return []string{"no plan: run cutover plan init"}
	}
	if s.Step >= len(s.Schedule.Steps) {
		return []string{fmt.Sprintf("already at the last step (%d/%d, %d %%)", s.Step, len(s.Schedule.Steps), s.Ratio)}
	}
	if s.Hold != nil {
		out = append(out, fmt.Sprintf("plan is on hold since %s: %s (cutover plan resume)", s.Hold.Since.Format(time.RFC3339), s.Hold.Reason))
	}
	switch {
	case s.Gate == nil:
		out = append(out, "no gate evaluated: run cutover plan gate")
	case s.Gate.Step != s.Step:
		out = append(out, fmt.Sprintf("the latest gate was evaluated at step %d, the plan is at step %d: run cutover plan gate", s.Gate.Step, s.Step))
	case s.Gate.Verdict != model.GatePass.String():
		out = append(out, fmt.Sprintf("the latest gate (report %s) is %s, not PASS", shortHash(s.Gate.Report), s.Gate.Verdict))
	case now.Sub(s.Gate.At) > GateMaxAge:
		out = append(out, fmt.Sprintf("the PASS gate is %s old (max %s): run cutover plan gate", now.Sub(s.Gate.At).Round(time.Minute), GateMaxAge))
	}
	switch s.SignoffState() {
	case "none":
		out = append(out, "missing signoff: no customer signoff recorded (cutover plan signoff --report SHA256 --by ...)")
	case "current":
		if s.Gate.NeedsAcceptWarn && !s.Signoff.AcceptWarn {
			out = append(out, "the gate report shows NEW health WARN: the signoff must accept it (--accept-warn)")
		}
	case "stale":
		if s.Gate != nil {
			out = append(out, fmt.Sprintf("stale signoff: it approves report %s, the latest gate report is %s", shortHash(s.Signoff.Report), shortHash(s.Gate.Report)))
		}
	}
	return out
}
