package owner

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/ui"
	"cutover/ui/attach"
)

// OpStatus is the socket op that has the owner build the status report.
const OpStatus = "status"

type StatusRequest struct {
	Window time.Duration `json:"window"`
}

// Exit codes of `cutover status`, as monitoring plugins use them.
const (
	StatusExitOK      = 0
	StatusExitWarn    = 1
	StatusExitCrit    = 2
	StatusExitUnknown = 3 // no answer: usage error, database unreadable, owner refuses
)

// StatusReport is `cutover status --json`; the keys are a contract with
// scripts. Rates are fractions (0.012 = 1.2 %).
type StatusReport struct {
	Status    string            `json:"status"` // OK | WARN | CRIT: the worst below
	ExitCode  int               `json:"exit_code"`
	Reasons   []string          `json:"reasons"` // every WARN/CRIT finding, worst first
	Generated time.Time         `json:"generated"`
	Window    string            `json:"window"`
	Since     time.Time         `json:"since"`
	Until     time.Time         `json:"until"`
	DB        string            `json:"db"`
	Attached  bool              `json:"attached"` // answered by the owner over its socket
	Owner     *attach.OwnerInfo `json:"owner,omitempty"`
	Followed  bool              `json:"followed"`  // a running owner follows the sources
	RatioNew  *int              `json:"ratio_new"` // percent to NEW; null when unknown
	PerISP    map[string]int    `json:"ratio_per_isp,omitempty"`
	Throttles map[string]string `json:"throttles,omitempty"`
	Last      *StatusChange     `json:"last_change"`
	Old       StatusSide        `json:"old"`
	New       StatusSide        `json:"new"`
	Providers []StatusProvider  `json:"providers"`
	Sources   []StatusSource    `json:"sources"`
	DNS       *StatusDNS        `json:"dns,omitempty"`    // the owner's latest dns check (dns.go)
	Pacing    []StatusOverlay   `json:"pacing,omitempty"` // live pacing overlays (pacer_ops.go)
	Plan      *StatusPlan       `json:"plan,omitempty"`   // the cutover plan (plan_status.go)
	Alerts    []StatusAlert     `json:"alerts,omitempty"` // fired alerts, acked or not (alerts.go)
}

type StatusSide struct {
	Counts     state.Counts `json:"counts"`
	Attempts   uint64       `json:"attempts"`
	PerHour    float64      `json:"per_hour"` // attempts per hour over the window
	Delivered  float64      `json:"delivered_rate"`
	Deferred   float64      `json:"deferred_rate"`
	Bounced    float64      `json:"bounced_rate"`
	HardBounce float64      `json:"hard_bounce_rate"`
	Complaint  float64      `json:"complaint_rate"` // per delivered
	Health     string       `json:"health"`         // OK | WARN | CRIT | none (too little traffic)
}

type StatusProvider struct {
	ISP      string     `json:"isp"`
	Health   string     `json:"health"`
	NewWorse []string   `json:"new_worse,omitempty"` // metrics where NEW is worse than OLD beyond noise
	Old      StatusSide `json:"old"`
	New      StatusSide `json:"new"`
}

type StatusSource struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	Side     string    `json:"side"`
	State    string    `json:"state"` // following | idle | waiting | stale | unreachable | not followed
	Since    time.Time `json:"since,omitzero"`
	LagBytes int64     `json:"lag_bytes"`
	LastLine time.Time `json:"last_line,omitzero"`
	Lines    int64     `json:"lines"`
	Rejected int64     `json:"rejected"`
	Error    string    `json:"error,omitempty"`
}

type StatusChange struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Result string    `json:"result"`
	Who    string    `json:"who"`
	Error  string    `json:"error,omitempty"`
}

// StatusInput is what a report is built from, in the owner or directly.
type StatusInput struct {
	DB         *state.DB
	Sources    func(now time.Time) ([]ui.SourceView, error)
	Control    attach.Controller // nil: ratio from Plan, no last change
	Plan       ui.PlanProvider
	Thresholds model.Thresholds
	Window     time.Duration
	Now        time.Time
	Owned      bool // built by the process that follows the sources
}

func healthName(h model.Health) string {
	if h == model.HealthNone {
		return "none"
	}
	return h.String()
}

// finding is one reason for a mark; the report lists them worst first.
type finding struct {
	h   model.Health
	msg string
}

func sideStatus(t model.Tally, hours float64, th model.Thresholds) (StatusSide, model.Verdict) {
	r := t.Rates()
	v := th.Judge(t)
	return StatusSide{Counts: state.Counts(t), Attempts: r.Attempts, PerHour: float64(r.Attempts) / hours,
		Delivered: r.Delivered, Deferred: r.Deferred, Bounced: r.Bounced, HardBounce: r.HardBounce,
		Complaint: r.Complaint, Health: healthName(v.Overall)}, v
}

// BuildStatus computes the report. "Worst" is the most severe of:
//   - each provider's health on each side (model.Thresholds.Judge: deferral,
//     hard-bounce and complaint rates against warn/crit levels; too little
//     traffic is no mark, not OK-or-worse);
//   - NEW worse than OLD on a provider beyond noise (Thresholds.Compare):
//     WARN, since it is a reason to hold the ratio, not yet an outage;
//   - a source that is stale or unreachable: WARN (its counts are behind);
//   - no owner following the sources: WARN (the counts stopped);
//   - the last MTA config change failed: WARN if the previous files were
//     restored, CRIT if not (the MTA may run a broken config); pending: WARN.
func BuildStatus(in StatusInput) (*StatusReport, error) {
	th := in.Thresholds.WithDefaults()
	if in.Window <= 0 {
		in.Window = time.Hour
	}
	until := in.Now.UTC().Truncate(time.Minute).Add(time.Minute)
	since := until.Add(-in.Window)
	hours := in.Window.Hours()
	rep := &StatusReport{Generated: in.Now.UTC(), Window: in.Window.String(), Since: since, Until: until,
		DB: in.DB.Path(), Followed: in.Owned, Reasons: []string{}}
	var finds []finding
	add := func(h model.Health, format string, a ...any) {
		finds = append(finds, finding{h, fmt.Sprintf(format, a...)})
	}

	rows, err := in.DB.Stats(state.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	type pair struct{ old, new model.Tally }
	byISP := map[string]*pair{}
	for _, r := range rows {
		p := byISP[r.ISP]
		if p == nil {
			p = &pair{}
			byISP[r.ISP] = p
		}
		switch r.Side {
		case model.SideOld:
			p.old.Add(model.Tally(r.Counts))
		case model.SideNew:
			p.new.Add(model.Tally(r.Counts))
		}
	}
	var totOld, totNew model.Tally
	for isp, p := range byISP {
		if p.old == (model.Tally{}) && p.new == (model.Tally{}) {
			continue
		}
		totOld.Add(p.old)
		totNew.Add(p.new)
		sp := StatusProvider{ISP: isp}
		var vo, vn model.Verdict
		sp.Old, vo = sideStatus(p.old, hours, th)
		sp.New, vn = sideStatus(p.new, hours, th)
		h := model.Worst(vo.Overall, vn.Overall)
		name := ui.Sanitize(isp, 40)
		for _, sv := range []struct {
			side string
			v    model.Verdict
			s    StatusSide
		}{{"OLD", vo, sp.Old}, {"NEW", vn, sp.New}} {
			for _, m := range []struct {
				what string
				h    model.Health
				rate float64
				lv   model.Level
			}{{"deferral", sv.v.Deferral, sv.s.Deferred, th.Deferral}, {"hard bounce", sv.v.HardBounce, sv.s.HardBounce, th.HardBounce},
				{"complaint", sv.v.Complaint, sv.s.Complaint, th.Complaint}} {
				if m.h >= model.HealthWarn {
					add(m.h, "%s %s: %s rate %s (warn %s, crit %s)", name, sv.side, m.what, PctStr(m.rate), PctStr(m.lv.Warn), PctStr(m.lv.Crit))
				}
			}
		}
		w := th.Compare(p.old, p.new)
		for _, m := range []struct {
			what string
			on   bool
			z    float64
		}{{"deferral", w.Deferral, w.ZDeferral}, {"hard_bounce", w.HardBounce, w.ZHardBounce}, {"complaint", w.Complaint, w.ZComplaint}} {
			if m.on {
				sp.NewWorse = append(sp.NewWorse, m.what)
				add(model.HealthWarn, "%s: NEW %s rate worse than OLD beyond noise (z %.1f)", name, strings.ReplaceAll(m.what, "_", " "), m.z)
			}
		}
		if w.Any() {
			h = model.Worst(h, model.HealthWarn)
		}
		sp.Health = healthName(h)
		rep.Providers = append(rep.Providers, sp)
	}
	rep.Old, _ = sideStatus(totOld, hours, th)
	rep.New, _ = sideStatus(totNew, hours, th)
	// Busiest first, "other" last: the order of the cockpit's panes.
	slices.SortFunc(rep.Providers, func(a, b StatusProvider) int {
		if (a.ISP == "other") != (b.ISP == "other") {
			if a.ISP == "other" {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(b.Old.Attempts+b.New.Attempts, a.Old.Attempts+a.New.Attempts); c != 0 {
			return c
		}
		return cmp.Compare(a.ISP, b.ISP)
	})

	if in.Sources != nil {
		srcs, err := in.Sources(in.Now)
		if err != nil {
			return nil, err
		}
		for _, v := range srcs {
			s := StatusSource{Name: v.Name, Kind: v.Kind, Side: v.Side, State: v.State.String(), Since: v.Since,
				LagBytes: max(v.Size-v.Offset, 0), LastLine: v.LastLine, Lines: v.Lines, Rejected: v.Rejected, Error: v.Error}
			if !in.Owned {
				s.State = "not followed"
			}
			switch {
			case v.State == ui.SourceStale || v.State == ui.SourceUnreachable:
				if in.Owned {
					add(model.HealthWarn, "source %s %s since %s: %s", ui.Sanitize(v.Name, 40), s.State,
						v.Since.UTC().Format("15:04:05"), ui.Sanitize(v.Error, 120))
				}
			case strings.HasPrefix(v.Error, "warning: "):
				// "warning: no file matches GLOB"
				add(model.HealthWarn, "source %s: %s", ui.Sanitize(v.Name, 40), ui.Sanitize(strings.TrimPrefix(v.Error, "warning: "), 160))
			}
			rep.Sources = append(rep.Sources, s)
		}
		if !in.Owned && len(srcs) > 0 {
			newest := "nothing committed yet"
			if n := in.DB.Newest(); !n.IsZero() {
				newest = "newest event " + n.UTC().Format(time.RFC3339)
			}
			add(model.HealthWarn, "no owner is running: nothing follows the sources (%s); start cutover serve", newest)
		}
	}

	switch {
	case in.Control != nil:
		cur := in.Control.Current()
		rep.RatioNew = &cur.RatioNew
		rep.PerISP = cur.PerISP
		for isp, t := range cur.Throttles {
			if rep.Throttles == nil {
				rep.Throttles = map[string]string{}
			}
			rep.Throttles[isp] = t.String()
		}
		hist, err := in.Control.History()
		if err != nil {
			return nil, err
		}
		if len(hist) > 0 {
			e := hist[len(hist)-1]
			rep.Last = &StatusChange{ID: e.ID, Time: e.Time, Action: e.Action, From: e.From.String(), To: e.To.String(),
				Result: e.Result, Who: e.Who.String(), Error: e.Error}
			switch {
			case e.Result == mtactl.ResultPending:
				add(model.HealthWarn, "last change #%s is pending: an apply in progress, or one that died midway (see cutover history)", e.ID)
			case e.Result != "ok" && e.Restored == "yes":
				add(model.HealthWarn, "last change #%s failed at %s; the previous files were restored", e.ID, e.Step)
			case e.Result != "ok":
				add(model.HealthCrit, "last change #%s failed at %s and the previous files were NOT restored: %s", e.ID, e.Step, ui.Sanitize(e.Restored, 120))
			}
		}
	case in.Plan != nil:
		r := int(in.Plan.Plan().RatioNew + 0.5)
		rep.RatioNew = &r
	}

	dnsStatus(in.DB, rep, add)
	paceStatus(in.DB, rep, add)
	planStatus(in.DB, rep, in.Now, add)
	alertStatus(in.DB, rep, in.Now, add)
	worst := model.HealthOK
	slices.SortStableFunc(finds, func(a, b finding) int { return cmp.Compare(b.h, a.h) })
	for _, f := range finds {
		worst = model.Worst(worst, f.h)
		rep.Reasons = append(rep.Reasons, f.h.String()+": "+f.msg)
	}
	rep.Status = worst.String()
	switch worst {
	case model.HealthCrit:
		rep.ExitCode = StatusExitCrit
	case model.HealthWarn:
		rep.ExitCode = StatusExitWarn
	}
	return rep, nil
}

func PctStr(f float64) string {
	switch p := f * 100; {
	case p == 0:
		return "0%"
	case p < 1:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.1f%%", p)
	}
}

// handleStatus is OpStatus: the report built by the owner, with its
// sources' live states.
func (o *Owner) handleStatus(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
	var req StatusRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	now := time.Now()
	if o.opts.Clock != nil {
		now = o.opts.Clock()
	}
	var ctl attach.Controller
	if o.Control != nil {
		ctl = o.Control
	}
	return BuildStatus(StatusInput{DB: o.DB, Sources: o.Data.Sources, Control: ctl, Plan: o.Data.Plan, Thresholds: o.Thresholds,
		Window: req.Window, Now: now, Owned: true})
}
