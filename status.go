package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/ui"
	"cutover/ui/attach"
)

// opStatus is the socket op that has the owner build the status report.
const opStatus = "status"

type statusReq struct {
	Window time.Duration `json:"window"`
}

// Exit codes of `cutover status`, as monitoring plugins use them.
const (
	statusExitOK      = 0
	statusExitWarn    = 1
	statusExitCrit    = 2
	statusExitUnknown = 3 // no answer: usage error, database unreadable, owner refuses
)

// statusReport is `cutover status --json`; the keys are a contract with
// scripts. Rates are fractions (0.012 = 1.2 %).
type statusReport struct {
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
	Last      *statusChange     `json:"last_change"`
	Old       statusSide        `json:"old"`
	New       statusSide        `json:"new"`
	Providers []statusProvider  `json:"providers"`
	Sources   []statusSource    `json:"sources"`
}

type statusSide struct {
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

type statusProvider struct {
	ISP      string     `json:"isp"`
	Health   string     `json:"health"`
	NewWorse []string   `json:"new_worse,omitempty"` // metrics where NEW is worse than OLD beyond noise
	Old      statusSide `json:"old"`
	New      statusSide `json:"new"`
}

type statusSource struct {
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

type statusChange struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Result string    `json:"result"`
	Who    string    `json:"who"`
	Error  string    `json:"error,omitempty"`
}

// statusInput is what a report is built from, in the owner or directly.
type statusInput struct {
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

func sideStatus(t model.Tally, hours float64, th model.Thresholds) (statusSide, model.Verdict) {
	r := t.Rates()
	v := th.Judge(t)
	return statusSide{Counts: state.Counts(t), Attempts: r.Attempts, PerHour: float64(r.Attempts) / hours,
		Delivered: r.Delivered, Deferred: r.Deferred, Bounced: r.Bounced, HardBounce: r.HardBounce,
		Complaint: r.Complaint, Health: healthName(v.Overall)}, v
}

// buildStatus computes the report. "Worst" is the most severe of:
//   - each provider's health on each side (model.Thresholds.Judge: deferral,
//     hard-bounce and complaint rates against warn/crit levels; too little
//     traffic is no mark, not OK-or-worse);
//   - NEW worse than OLD on a provider beyond noise (Thresholds.Compare):
//     WARN, since it is a reason to hold the ratio, not yet an outage;
//   - a source that is stale or unreachable: WARN (its counts are behind);
//   - no owner following the sources: WARN (the counts stopped);
//   - the last MTA config change failed: WARN if the previous files were
//     restored, CRIT if not (the MTA may run a broken config); pending: WARN.
func buildStatus(in statusInput) (*statusReport, error) {
	th := in.Thresholds.WithDefaults()
	if in.Window <= 0 {
		in.Window = time.Hour
	}
	until := in.Now.UTC().Truncate(time.Minute).Add(time.Minute)
	since := until.Add(-in.Window)
	hours := in.Window.Hours()
	rep := &statusReport{Generated: in.Now.UTC(), Window: in.Window.String(), Since: since, Until: until,
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
		sp := statusProvider{ISP: isp}
		var vo, vn model.Verdict
		sp.Old, vo = sideStatus(p.old, hours, th)
		sp.New, vn = sideStatus(p.new, hours, th)
		h := model.Worst(vo.Overall, vn.Overall)
		name := ui.Sanitize(isp, 40)
		for _, sv := range []struct {
			side string
			v    model.Verdict
			s    statusSide
		}{{"OLD", vo, sp.Old}, {"NEW", vn, sp.New}} {
			for _, m := range []struct {
				what string
				h    model.Health
				rate float64
				lv   model.Level
			}{{"deferral", sv.v.Deferral, sv.s.Deferred, th.Deferral}, {"hard bounce", sv.v.HardBounce, sv.s.HardBounce, th.HardBounce},
				{"complaint", sv.v.Complaint, sv.s.Complaint, th.Complaint}} {
				if m.h >= model.HealthWarn {
					add(m.h, "%s %s: %s rate %s (warn %s, crit %s)", name, sv.side, m.what, pctStr(m.rate), pctStr(m.lv.Warn), pctStr(m.lv.Crit))
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
	slices.SortFunc(rep.Providers, func(a, b statusProvider) int {
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
			s := statusSource{Name: v.Name, Kind: v.Kind, Side: v.Side, State: v.State.String(), Since: v.Since,
				LagBytes: max(v.Size-v.Offset, 0), LastLine: v.LastLine, Lines: v.Lines, Rejected: v.Rejected, Error: v.Error}
			if !in.Owned {
				s.State = "not followed"
			}
			switch v.State {
			case ui.SourceStale, ui.SourceUnreachable:
				if in.Owned {
					add(model.HealthWarn, "source %s %s since %s: %s", ui.Sanitize(v.Name, 40), s.State,
						v.Since.UTC().Format("15:04:05"), ui.Sanitize(v.Error, 120))
				}
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
			rep.Last = &statusChange{ID: e.ID, Time: e.Time, Action: e.Action, From: e.From.String(), To: e.To.String(),
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

	worst := model.HealthOK
	slices.SortStableFunc(finds, func(a, b finding) int { return cmp.Compare(b.h, a.h) })
	for _, f := range finds {
		worst = model.Worst(worst, f.h)
		rep.Reasons = append(rep.Reasons, f.h.String()+": "+f.msg)
	}
	rep.Status = worst.String()
	switch worst {
	case model.HealthCrit:
		rep.ExitCode = statusExitCrit
	case model.HealthWarn:
		rep.ExitCode = statusExitWarn
	}
	return rep, nil
}

func pctStr(f float64) string {
	switch p := f * 100; {
	case p == 0:
		return "0%"
	case p < 1:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.1f%%", p)
	}
}

// cmdStatus returns the process exit code itself: 0/1/2 are the health
// marks, so errors must not reuse 1 or 2 (main's mapping would).
func cmdStatus(args []string) int {
	fs := newFlags("status")
	asJSON := fs.Bool("json", false, "print the report as JSON (keys: status, exit_code, reasons, providers, sources, ratio_new, last_change...)")
	window := fs.Duration("window", time.Hour, "compare over this window, ending now")
	cfgPath := fs.String("config", "", "config file (database path, [mtactl] for the ratio when no owner runs)")
	dbPath := fs.String("db", "", "database file (instead of --config)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, `usage: cutover status [--json] [--window 1h] [--config FILE | --db FILE]

One screen for a shell, a pager or a monitoring check: per provider OLD vs NEW
volumes, rates and health marks, the sources, the current ratio and the last
config change. Asks the running owner over <db>.sock, or reads the database
read-only when no owner runs.

Exit status: 0 all OK, 1 WARN, 2 CRIT, 3 unknown (error). The status is the
worst of: any provider's health on either side (deferral, hard-bounce and
complaint rates against the thresholds; too little traffic is no mark), NEW
worse than OLD beyond noise (WARN), a stale or unreachable source (WARN), no
owner following the sources (WARN), and a failed last config change (WARN
when the previous files were restored, CRIT when not).`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return statusExitUnknown
	}
	if (*cfgPath == "") == (*dbPath == "") || fs.NArg() > 0 || *window <= 0 {
		fs.Usage()
		return statusExitUnknown
	}
	rep, err := statusReportFor(*cfgPath, *dbPath, *window)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cutover status: %v\n", err)
		return statusExitUnknown
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return statusExitUnknown
		}
	} else if err := writeStatusText(os.Stdout, rep); err != nil {
		return statusExitUnknown
	}
	return rep.ExitCode
}

// statusReportFor asks the owner when one answers on the socket, else opens
// the database read-only.
func statusReportFor(cfgPath, dbPath string, window time.Duration) (*statusReport, error) {
	allowNet := false
	var settings ownerSettings
	if cfgPath != "" {
		cfg, st, err := loadServeConfig(cfgPath)
		if err != nil {
			return nil, err
		}
		dbPath, allowNet, settings = cfg.Database.Path, cfg.Database.AllowNetworkFS, st
	}
	sock := attach.SocketPath(dbPath)
	cl, derr := dialOwner(dbPath, true, "status", nil)
	if derr == nil {
		defer cl.Close()
		var rep statusReport
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Call(ctx, opStatus, statusReq{Window: window}, &rep); err != nil {
			return nil, fmt.Errorf("owner on %s: %w", sock, err)
		}
		w := cl.Welcome()
		rep.Attached, rep.Owner = true, &w.Owner
		return &rep, nil
	}
	if errors.Is(derr, os.ErrPermission) {
		return nil, fmt.Errorf("%s: %w (the owner allows its own user, root and the [control] group)", sock, derr)
	}
	db, err := openDB(dbPath, allowNet, true)
	if err != nil {
		var le *state.LockedError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%v (and nothing answers on %s: %v)", err, sock, shortDialErr(derr))
		}
		return nil, err
	}
	defer db.Close()
	in := statusInput{DB: db, Sources: ui.NewStateData(db).Sources, Window: window, Now: time.Now()}
	if settings.MTACtl != nil {
		if ctl, err := mtactl.New(*settings.MTACtl, db); err == nil {
			in.Control = ctl
		}
	}
	return buildStatus(in)
}

func writeStatusText(w io.Writer, r *statusReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "cutover status: %s   window %s, %s → %s UTC\n", r.Status, r.Window,
		r.Since.UTC().Format("2006-01-02 15:04"), r.Until.UTC().Format("15:04"))
	db := "db " + ui.SanitizePath(r.DB, 60)
	switch {
	case r.Owner != nil:
		db += fmt.Sprintf("  (owner: %s pid %d, user %s)", ui.Sanitize(r.Owner.Command, 12), r.Owner.PID, ui.Sanitize(r.Owner.User, 16))
	case !r.Followed:
		db += "  (no owner running)"
	}
	b.WriteString(db + "\n")
	ratio := "ratio unknown (no [mtactl] configured)"
	if r.RatioNew != nil {
		ratio = fmt.Sprintf("ratio %d%% NEW", *r.RatioNew)
	}
	if l := r.Last; l != nil {
		ratio += fmt.Sprintf(" · last change #%s %s %s %s→%s %s by %s", ui.Sanitize(l.ID, 10), l.Time.UTC().Format("2006-01-02 15:04"),
			ui.Sanitize(l.Action, 10), ui.Sanitize(l.From, 20), ui.Sanitize(l.To, 20), ui.Sanitize(l.Result, 10), ui.Sanitize(l.Who, 40))
	}
	b.WriteString(ratio + "\n\n")

	fmt.Fprintf(&b, "%-14s %-4s %8s %6s %6s %6s %6s %6s  %s\n", "PROVIDER", "SIDE", "RCPT/H", "DELIV", "DEFER", "BOUNCE", "HARD", "COMPL", "HEALTH")
	row := func(name, side string, s statusSide, mark string) {
		if s.Attempts == 0 && s.Counts.Complaints == 0 && s.Counts.Held == 0 {
			fmt.Fprintf(&b, "%-14s %-4s %8s %6s %6s %6s %6s %6s  %s\n", name, side, "-", "", "", "", "", "", mark)
			return
		}
		fmt.Fprintf(&b, "%-14s %-4s %8.0f %6s %6s %6s %6s %6s  %s\n", name, side, s.PerHour, pctStr(s.Delivered),
			pctStr(s.Deferred), pctStr(s.Bounced), pctStr(s.HardBounce), pctStr(s.Complaint), mark)
	}
	mark := func(h string) string {
		if h == "none" {
			return "--"
		}
		return h
	}
	for _, p := range r.Providers {
		name := ui.Sanitize(p.ISP, 14)
		row(name, "OLD", p.Old, mark(p.Old.Health))
		nm := mark(p.New.Health)
		if len(p.NewWorse) > 0 {
			nm += " NEW▲ " + strings.Join(p.NewWorse, ",")
		}
		row("", "NEW", p.New, nm)
	}
	if len(r.Providers) == 0 {
		b.WriteString("(no traffic in the window)\n")
	} else {
		row("all", "OLD", r.Old, "")
		row("", "NEW", r.New, "")
	}
	if len(r.Sources) > 0 {
		b.WriteString("\nSOURCES\n")
		for _, s := range r.Sources {
			last := "-"
			if !s.LastLine.IsZero() {
				last = s.LastLine.UTC().Format("01-02 15:04:05")
			}
			line := fmt.Sprintf("  %-16s %-7s %-3s %-12s lag %-9s last %s  rejected %d", ui.Sanitize(s.Name, 16), ui.Sanitize(s.Kind, 7),
				ui.Sanitize(s.Side, 3), s.State, fmtBytes(s.LagBytes), last, s.Rejected)
			b.WriteString(line + "\n")
			if s.Error != "" {
				b.WriteString("    " + ui.Sanitize(s.Error, 76) + "\n")
			}
		}
	}
	if len(r.Reasons) > 0 {
		b.WriteString("\nWHY " + r.Status + "\n")
		for _, m := range r.Reasons {
			b.WriteString("  " + ui.Sanitize(m, 200) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
