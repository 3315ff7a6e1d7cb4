package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state/plan"
	"cutover/ui"
	"cutover/ui/attach"
)

// cutover plan: the cutover schedule as a runbook the data must approve
// (wave2 §6). Every subcommand runs the same code locally (this process
// opens the database) or in the owner (serve, a cockpit) over its socket:
// the plan.* ops below.

// planReq is one plan command with its flags (paths absolute).
type planReq struct {
	Cmd    string `json:"cmd"`
	Config string `json:"config,omitempty"`
	JSON   bool   `json:"json,omitempty"`
	Format string `json:"format,omitempty"`
	Days   int    `json:"days,omitempty"`
	Window string `json:"window,omitempty"`

	Start       string `json:"start,omitempty"`
	Steps       string `json:"steps,omitempty"`
	Dwell       string `json:"dwell,omitempty"`
	NewIPs      int    `json:"new_ips,omitempty"`
	Schedule    string `json:"schedule,omitempty"`
	DailyVolume int    `json:"daily_volume,omitempty"`
	FromHistory string `json:"from_history,omitempty"`
	Providers   string `json:"providers,omitempty"`

	Report     string `json:"report,omitempty"`
	By         string `json:"by,omitempty"`
	Ref        string `json:"ref,omitempty"`
	Evidence   string `json:"evidence,omitempty"`
	Note       string `json:"note,omitempty"`
	AcceptWarn bool   `json:"accept_warn,omitempty"`

	Yes    bool   `json:"yes,omitempty"`
	Force  bool   `json:"force,omitempty"`
	Reason string `json:"reason,omitempty"`
	ToStep int    `json:"to_step"`
}

type planResp struct {
	Out         string `json:"out"`
	Err         string `json:"err,omitempty"`
	NeedConfirm bool   `json:"need_confirm,omitempty"`
}

// errNeedConfirm: a preview was printed; apply only after (y/N) or --yes.
var errNeedConfirm = errors.New("confirmation needed")

// planMutating are the commands a read-only viewer may not send.
var planMutating = map[string]bool{"init": true, "gate": true, "signoff": true, "advance": true,
	"hold": true, "resume": true, "rollback": true}

// planOpName is the owner op of a command: plan.status, plan.gate,
// plan.signoff, plan.advance (wave2 §9), and one per other subcommand.
func planOpName(cmd string) string { return "plan." + cmd }

var planCmds = []string{"status", "init", "show", "simulate", "gate", "signoff", "advance", "hold", "resume", "rollback", "log", "verify-log"}

// planOps are the owner's side, registered by serve, the cockpit and the demo.
func planOps() []owner.Op {
	var ops []owner.Op
	for _, c := range planCmds {
		ops = append(ops, owner.Op{Name: planOpName(c), New: func(o *owner.Owner) attach.Handler {
			return func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
				var r planReq
				if err := json.Unmarshal(body, &r); err != nil || r.Cmd != c {
					return nil, fmt.Errorf("%w: %s: %v", attach.ErrBadRequest, planOpName(c), err)
				}
				if planMutating[r.Cmd] {
					if s.ReadOnly() {
						return nil, fmt.Errorf("%w: read-only session: plan %s refused", attach.ErrPermission, r.Cmd)
					}
					if s.Peer.UID != uint32(os.Getuid()) && s.Peer.UID != 0 {
						return nil, fmt.Errorf("%w: plan %s through the owner acts as its user (uid %d); user %s may not ask for it",
							attach.ErrPermission, r.Cmd, os.Getuid(), s.Peer.User)
					}
				}
				var b strings.Builder
				err := o.WithPlanner(func(p *owner.Planner) error {
					return runPlan(ctx, &b, p, o.Config, r, s.Who(""))
				})
				resp := planResp{Out: b.String()}
				if err != nil {
					resp.Err, resp.NeedConfirm = err.Error(), errors.Is(err, errNeedConfirm)
				}
				return resp, nil
			}
		}})
	}
	return ops
}

// planCall runs r locally, or in the owner of the database when one holds
// it, printing the output; advance and rollback preview first and ask
// (y/N) on a terminal, or refuse without --yes.
func planCall(o cmdIO, r planReq) error {
	if r.Config == "" {
		return fmt.Errorf("--config is required")
	}
	cfg, err := owner.LoadConfig(r.Config)
	if err != nil {
		return err
	}
	r.Config = absPath(r.Config)
	ask := func(run func(planReq) error) error {
		err := run(r)
		if !errors.Is(err, errNeedConfirm) {
			return err
		}
		if !o.tty {
			return fmt.Errorf("refusing to plan %s without --yes: stdin is not a terminal (the diff is above)", r.Cmd)
		}
		if !ask(o, "Apply this change? (y/N) ") {
			return errors.New("cancelled")
		}
		r.Yes = true
		return run(r)
	}
	db, openErr := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if openErr == nil {
		defer db.Close()
		var ctl owner.PlanControl
		if cfg.Mtactl != nil {
			c, err := mtactl.New(*cfg.Mtactl, db)
			if err != nil {
				return err
			}
			for _, n := range c.Notices() {
				fmt.Fprintf(o.err, "notice: %s\n", sanitizeCell(n))
			}
			ctl = c
		}
		p, err := owner.OpenPlanner(db, cfg, ctl, nil)
		if err != nil {
			return err
		}
		defer p.Close()
		for _, n := range p.Notices {
			fmt.Fprintf(o.err, "notice: %s\n", sanitizeCell(n))
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return ask(func(r planReq) error { return runPlan(ctx, o.out, p, cfg, r, mtactl.CurrentWho("")) })
	}
	cl, err := attachOwner(cfg.Database.Path, !planMutating[r.Cmd], "plan "+r.Cmd, openErr)
	if err != nil {
		return err
	}
	defer cl.Close()
	return ask(func(r planReq) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var resp planResp
		if err := cl.Call(ctx, planOpName(r.Cmd), r, &resp); err != nil {
			return fmt.Errorf("owner on %s: %w", attach.SocketPath(cfg.Database.Path), err)
		}
		io.WriteString(o.out, resp.Out)
		switch {
		case resp.NeedConfirm:
			return errNeedConfirm
		case resp.Err != "":
			return errors.New(resp.Err)
		}
		return nil
	})
}

// runPlan is every plan command over an open Planner.
func runPlan(ctx context.Context, w io.Writer, p *owner.Planner, cfg *owner.Config, r planReq, who mtactl.Who) error {
	whoS := who.String()
	switch r.Cmd {
	case "status":
		return planStatus(w, p, r.JSON)
	case "init":
		in, err := planInitOf(r, cfg)
		if err != nil {
			return err
		}
		in.Who = whoS
		st, err := p.Init(in)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "plan %s created: %d steps from %s, warm-up %s × %d IPs; now at step %d (%d %%)\n",
			st.Schedule.ID, st.Steps(), st.Schedule.Start.Format("2006-01-02"), st.Schedule.WarmupSchedule.Name, st.Schedule.NewIPs, st.Step, st.Ratio)
		return nil
	case "show":
		return planShow(w, p.State(), r)
	case "simulate":
		return planSimulate(w, p.State(), r)
	case "gate":
		win := owner.DefaultGateWindow
		if r.Window != "" {
			d, err := parseDays(r.Window)
			if err != nil || d <= 0 {
				return fmt.Errorf("--window %q: want a duration like 72h or 3d", r.Window)
			}
			win = d
		}
		rep, sha, path, err := p.Gate(win, whoS)
		if err != nil {
			return err
		}
		if r.JSON {
			return printJSON(w, struct {
				SHA256 string       `json:"sha256"`
				Path   string       `json:"path"`
				Report *plan.Report `json:"report"`
			}{sha, path, rep})
		}
		printGate(w, rep)
		fmt.Fprintf(w, "report %s\n  %s\n", sha, path)
		return nil
	case "signoff":
		ev, h, err := p.Signoff(ctx, owner.PlanSignoff{Report: r.Report, By: r.By, Ref: r.Ref, Evidence: r.Evidence,
			Note: r.Note, AcceptWarn: r.AcceptWarn, Who: whoS})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "signoff %s of report %s by %s", plan.ShortHash(h), ev.Report, sanitizeCell(ev.By))
		if ev.DKIM != "" {
			fmt.Fprintf(w, "; evidence sha256 %s: dkim=%s", ev.Evidence, sanitizeCell(ev.DKIM))
		}
		fmt.Fprintln(w)
		if s := p.State().SignoffState(); s != "current" {
			fmt.Fprintf(w, "note: this signoff is %s: a newer gate report exists\n", s)
		}
		return nil
	case "advance", "rollback":
		var ch *mtactl.Change
		var entry mtactl.AuditEntry
		var err error
		if r.Cmd == "advance" {
			ch, entry, err = p.Advance(ctx, owner.PlanAdvance{Force: r.Force, Reason: r.Reason, Preview: !r.Yes, AcceptDrift: r.Yes, Who: who})
		} else {
			ch, entry, err = p.Rollback(ctx, owner.PlanRollback{ToStep: r.ToStep, Preview: !r.Yes, AcceptDrift: r.Yes, Who: who})
		}
		if ch != nil && !r.Yes {
			printChange(w, ch)
			if err == nil {
				return errNeedConfirm
			}
		}
		if err != nil {
			var ae *mtactl.ApplyError
			if errors.As(err, &ae) {
				return fmt.Errorf("apply failed: %s", sanitizeBlock(ae.Error()))
			}
			return err
		}
		fmt.Fprintln(w, sanitizeCell(entry.Summary()))
		st := p.State()
		fmt.Fprintf(w, "plan now at step %d/%d (%d %%)\n", st.Step, st.Steps(), st.Ratio)
		return nil
	case "hold", "resume":
		if err := p.Hold(r.Cmd == "hold", r.Reason, whoS); err != nil {
			return err
		}
		fmt.Fprintf(w, "plan %s: %s\n", map[bool]string{true: "on hold", false: "resumed"}[r.Cmd == "hold"], sanitizeCell(r.Reason))
		return nil
	case "log":
		evs, err := p.Log.Events()
		if err != nil {
			return err
		}
		if r.JSON {
			if evs == nil {
				evs = []plan.Event{}
			}
			return printJSON(w, evs)
		}
		for _, e := range evs {
			fmt.Fprintln(w, sanitizeCell(eventLine(e)))
		}
		if len(evs) == 0 {
			fmt.Fprintln(w, "no plan events yet")
		}
		return nil
	case "verify-log":
		rep, err := plan.Verify(p.Log.Path(), p.DB)
		if err != nil {
			return err
		}
		fmt.Fprintln(w, sanitizeCell(rep.String()))
		if !rep.OK() {
			return exitError{1}
		}
		return nil
	}
	return fmt.Errorf("%w: plan %q", attach.ErrBadRequest, r.Cmd)
}

func printChange(w io.Writer, ch *mtactl.Change) {
	fmt.Fprintf(w, "%s: %s -> %s\n", ch.Action, ch.From, ch.To)
	for _, n := range ch.Notes {
		fmt.Fprintf(w, "note: %s\n", sanitizeCell(n))
	}
	if d := ch.Diff(); d != "" {
		fmt.Fprint(w, sanitizeBlock(d))
		if !strings.HasSuffix(d, "\n") {
			fmt.Fprintln(w)
		}
	}
	for _, d := range ch.Drift {
		fmt.Fprintf(w, "DRIFT in %s (%s): applying overwrites it\n", sanitizeCell(d.Path), d.Driver)
	}
}

// parseDays reads 72h, 7d or 28d.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		return time.Duration(v) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func planInitOf(r planReq, cfg *owner.Config) (owner.PlanInit, error) {
	var in owner.PlanInit
	if r.Start == "" {
		return in, errors.New("--start DATE is required (YYYY-MM-DD or RFC 3339)")
	}
	t, err := time.Parse("2006-01-02", r.Start)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, r.Start); err != nil {
			return in, fmt.Errorf("--start %q: want YYYY-MM-DD or RFC 3339", r.Start)
		}
	}
	in.Start = t
	if r.Steps != "" {
		for _, f := range strings.Split(r.Steps, ",") {
			v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(f), "%"))
			if err != nil {
				return in, fmt.Errorf("--steps %q: %q is not a percentage", r.Steps, f)
			}
			in.Steps = append(in.Steps, v)
		}
	}
	if r.Dwell != "" {
		d, err := parseDays(r.Dwell)
		if err != nil || d < 24*time.Hour || d%(24*time.Hour) != 0 {
			return in, fmt.Errorf("--dwell %q: want whole days, at least 1d (7d)", r.Dwell)
		}
		in.DwellDays = int(d / (24 * time.Hour))
	}
	if r.NewIPs < 0 || r.DailyVolume < 0 {
		return in, errors.New("--new-ips and --daily-volume must not be negative")
	}
	in.NewIPs, in.Schedule, in.DailyVolume = r.NewIPs, r.Schedule, r.DailyVolume
	if r.FromHistory != "" {
		d, err := parseDays(r.FromHistory)
		if err != nil || d < 24*time.Hour {
			return in, fmt.Errorf("--from-history %q: want a duration of at least 1d (28d)", r.FromHistory)
		}
		in.FromHistory = d
	}
	if r.Providers != "" {
		for _, p := range strings.Split(r.Providers, ",") {
			if p = strings.TrimSpace(p); p != "" {
				in.Providers = append(in.Providers, p)
			}
		}
	}
	return in, nil
}

func planStatus(w io.Writer, p *owner.Planner, asJSON bool) error {
	st := p.State()
	now := p.Now()
	if asJSON {
		ps := ui.PlanStatus{State: st, Blockers: nonNil(st.AdvanceBlockers(now))}
		if st.Gate != nil {
			// A report that cannot be read (moved, edited) is left out;
			// the state still names its sha256.
			ps.Report, _, _ = plan.LoadReport(p.DB.Path(), st.Gate.Report)
		}
		return printJSON(w, struct {
			ui.PlanStatus
			Header  string `json:"header"`
			Signoff string `json:"signoff_state"`
		}{ps, ui.PlanHeader(st, now, time.Local, true), st.SignoffState()})
	}
	if st.Schedule == nil {
		fmt.Fprintln(w, "no plan: run cutover plan init")
		return nil
	}
	fmt.Fprintln(w, ui.PlanHeader(st, now, time.Local, false))
	if bs := st.AdvanceBlockers(now); len(bs) > 0 {
		fmt.Fprintln(w, "advance needs:")
		for _, b := range bs {
			fmt.Fprintf(w, "  - %s\n", sanitizeCell(b))
		}
	} else {
		fmt.Fprintln(w, "advance: allowed (gate PASS, signoff current)")
	}
	for _, o := range st.Overrides {
		fmt.Fprintf(w, "OVERRIDE %s step %d->%d by %s: %s\n", o.At.Format(time.RFC3339), o.FromStep, o.Step, sanitizeCell(o.Who), sanitizeCell(o.Reason))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// planWeek is one row of plan show.
type planWeek struct {
	Step     int            `json:"step"`
	Start    time.Time      `json:"start"`
	Ratio    int            `json:"ratio"`
	MinDwell string         `json:"min_dwell"`
	NewDaily int            `json:"new_daily,omitempty"`
	PerISP   map[string]int `json:"new_daily_per_isp,omitempty"`
	Rollback string         `json:"rollback"`
	Current  bool           `json:"current,omitempty"`
}

func planWeeks(st plan.State, cfgPath string) []planWeek {
	s := st.Schedule
	var out []planWeek
	for i, sp := range s.Steps {
		wk := planWeek{Step: i + 1, Start: sp.Start, Ratio: sp.Ratio, MinDwell: fmt.Sprintf("%dd", int(sp.MinDwell.Hours()/24)),
			NewDaily: model.ExpectedDaily(sp.Ratio, s.DailyVolume), Current: st.Step == i+1,
			Rollback: fmt.Sprintf("cutover plan rollback --to-step %d --config %s --yes", i, cfgPath)}
		for isp, sh := range s.Shares {
			if sh < model.GateShareMin || s.DailyVolume == 0 {
				continue
			}
			if wk.PerISP == nil {
				wk.PerISP = map[string]int{}
			}
			r := sp.Ratio
			if v, ok := sp.PerISP[isp]; ok {
				r = v
			}
			wk.PerISP[isp] = model.ExpectedDaily(r, int(sh*float64(s.DailyVolume)+0.5))
		}
		out = append(out, wk)
	}
	return out
}

func planShow(w io.Writer, st plan.State, r planReq) error {
	if st.Schedule == nil {
		return errors.New("no plan: run cutover plan init")
	}
	weeks := planWeeks(st, r.Config)
	if r.JSON {
		return printJSON(w, struct {
			Schedule *model.Schedule `json:"schedule"`
			Step     int             `json:"step"`
			Weeks    []planWeek      `json:"weeks"`
		}{st.Schedule, st.Step, weeks})
	}
	var isps []string
	for isp, sh := range st.Schedule.Shares {
		if sh >= model.GateShareMin {
			isps = append(isps, isp)
		}
	}
	sort.Strings(isps)
	s := st.Schedule
	title := fmt.Sprintf("Plan %s: %d steps, warm-up %s × %d NEW IPs, %d/day expected", s.ID, len(s.Steps), s.WarmupSchedule.Name, s.NewIPs, s.DailyVolume)
	switch r.Format {
	case "", "md", "text":
		fmt.Fprintf(w, "# %s\n\n| step | week of | NEW | dwell | NEW/day |", sanitizeCell(title))
		for _, isp := range isps {
			fmt.Fprintf(w, " %s |", sanitizeCell(isp))
		}
		fmt.Fprint(w, " rollback |\n|---|---|---|---|---|")
		fmt.Fprint(w, strings.Repeat("---|", len(isps)))
		fmt.Fprintln(w, "---|")
		for _, wk := range weeks {
			mark := ""
			if wk.Current {
				mark = " ◀"
			}
			fmt.Fprintf(w, "| %d%s | %s | %d %% | %s | %d |", wk.Step, mark, wk.Start.Format("Mon 2006-01-02"), wk.Ratio, wk.MinDwell, wk.NewDaily)
			for _, isp := range isps {
				fmt.Fprintf(w, " %d |", wk.PerISP[isp])
			}
			fmt.Fprintf(w, " `%s` |\n", sanitizeCell(wk.Rollback))
		}
		fmt.Fprintf(w, "\nBack to 0 %% NEW (baseline) at any time: `cutover plan rollback --to-step 0 --config %s --yes`\n", sanitizeCell(r.Config))
	case "html":
		e := html.EscapeString
		fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head><body>\n<h1>%s</h1>\n<table border=\"1\">\n<tr><th>step</th><th>week of</th><th>NEW</th><th>dwell</th><th>NEW/day</th>", e(title), e(title))
		for _, isp := range isps {
			fmt.Fprintf(w, "<th>%s</th>", e(isp))
		}
		fmt.Fprintln(w, "<th>rollback</th></tr>")
		for _, wk := range weeks {
			fmt.Fprintf(w, "<tr><td>%d</td><td>%s</td><td>%d %%</td><td>%s</td><td>%d</td>", wk.Step, wk.Start.Format("Mon 2006-01-02"), wk.Ratio, wk.MinDwell, wk.NewDaily)
			for _, isp := range isps {
				fmt.Fprintf(w, "<td>%d</td>", wk.PerISP[isp])
			}
			fmt.Fprintf(w, "<td><code>%s</code></td></tr>\n", e(wk.Rollback))
		}
		fmt.Fprintln(w, "</table>\n</body></html>")
	default:
		return fmt.Errorf("--format %q: want md or html", r.Format)
	}
	return nil
}

func planSimulate(w io.Writer, st plan.State, r planReq) error {
	if st.Schedule == nil {
		return errors.New("no plan: run cutover plan init")
	}
	days := r.Days
	if days == 0 {
		days = 42
	}
	if days < 0 || days > 3650 {
		return fmt.Errorf("--days %d: want 1-3650", days)
	}
	rows, err := owner.Simulate(st.Schedule, days)
	if err != nil {
		return err
	}
	if r.JSON {
		return printJSON(w, rows)
	}
	fmt.Fprintf(w, "%-12s %4s %5s %5s %10s %10s %10s %7s  %s\n", "provider", "day", "step", "NEW", "wanted", "cap", "effective", "share", "note")
	for _, row := range rows {
		c := "-"
		if row.Cap > 0 {
			c = strconv.Itoa(row.Cap)
		}
		vol := st.Schedule.DailyVolume
		if row.ISP != "all" {
			vol = int(st.Schedule.Shares[row.ISP]*float64(vol) + 0.5)
		}
		note := row.Note
		if note != "" {
			note = row.Level.String() + " " + note
		}
		fmt.Fprintf(w, "%-12s %4d %5d %4d%% %10d %10s %10d %6.2f%%  %s\n", sanitizeCell(row.ISP), row.Day, row.Step, row.Ratio, row.Wanted, c, row.Effective, 100*row.Share(vol), note)
	}
	return nil
}

func printGate(w io.Writer, r *plan.Report) {
	fmt.Fprintf(w, "gate %s: step %d/%d at %d %%, day %d, window %s (%s → %s)\n", r.Verdict, r.Step, r.Steps, r.Ratio, r.Day, r.Window,
		r.Since.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339))
	for _, it := range r.Common {
		fmt.Fprintf(w, "  %-12s %-4s %s\n", it.Name, it.Verdict, sanitizeCell(it.Reason))
	}
	for _, pg := range r.Providers {
		fmt.Fprintf(w, "%s %s: NEW %d attempts, OLD %d\n", sanitizeCell(pg.ISP), pg.Verdict, pg.New.Attempts(), pg.Old.Attempts())
		for _, it := range pg.Items {
			fmt.Fprintf(w, "  %-12s %-4s %s\n", it.Name, it.Verdict, sanitizeCell(it.Reason))
		}
	}
	if len(r.Ungated) > 0 {
		fmt.Fprintf(w, "under 1 %% of the volume (totals only): %s\n", sanitizeCell(strings.Join(r.Ungated, ", ")))
	}
	if len(r.WarmupDays) > 0 {
		fmt.Fprintf(w, "warm-up day (full days only): %s\n", sanitizeCell(warmupList(r.WarmupDays)))
	}
	for _, o := range r.Overrides {
		fmt.Fprintf(w, "OVERRIDE %s step %d->%d by %s: %s\n", o.At.Format(time.RFC3339), o.FromStep, o.Step, sanitizeCell(o.Who), sanitizeCell(o.Reason))
	}
}

func warmupList(m map[string]int) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func eventLine(e plan.Event) string {
	s := fmt.Sprintf("%4d %s %-12s step %d %d%%", e.Seq, e.TS.Format(time.RFC3339), e.Type, e.Step, e.Ratio)
	switch e.Type {
	case plan.EvCreated:
		if e.Schedule != nil {
			s += fmt.Sprintf(" plan %s, %d steps, %s × %d IPs", e.Schedule.ID, len(e.Schedule.Steps), e.Schedule.WarmupSchedule.Name, e.Schedule.NewIPs)
		}
	case plan.EvGate:
		s += fmt.Sprintf(" %s report %s window %s", e.Verdict, e.Report, e.Window)
	case plan.EvSignoff:
		s += fmt.Sprintf(" report %s by %s", e.Report, e.By)
		if e.Ref != "" {
			s += " ref " + e.Ref
		}
		if e.DKIM != "" {
			s += " evidence " + plan.ShortHash(e.Evidence) + " dkim=" + e.DKIM
		}
	case plan.EvAdvance, plan.EvOverride, plan.EvRollback:
		s += fmt.Sprintf(" from step %d, mtactl change #%s", e.FromStep, e.AuditID)
		if e.Signoff != "" {
			s += " signoff " + e.Signoff
		}
	}
	if e.Reason != "" {
		s += " reason: " + e.Reason
	}
	if e.Who != "" {
		s += " by " + e.Who
	}
	if e.Reconciled {
		s += " (reconciled from the mtactl audit log)"
	}
	return s
}

// planUIOps is the cockpit's ui.PlanOps over a plan request runner: the
// owner's own Planner, or its plan.* ops from a viewer.
type planUIOps struct {
	call     func(r planReq) (out string, needConfirm bool, err error)
	readOnly bool
}

func (p planUIOps) Status() (ui.PlanStatus, error) {
	out, _, err := p.call(planReq{Cmd: "status", JSON: true})
	if err != nil {
		return ui.PlanStatus{}, err
	}
	var ps ui.PlanStatus
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		return ui.PlanStatus{}, fmt.Errorf("plan status: %v", err)
	}
	return ps, nil
}

func (p planUIOps) Gate() (string, error) {
	out, _, err := p.call(planReq{Cmd: "gate"})
	if err != nil {
		return "", err
	}
	// The verdict line and the report's sha256.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "report ") {
			return lines[0] + "\n" + l, nil
		}
	}
	return lines[0], nil
}

func (p planUIOps) Advance(apply bool) (string, error) {
	if p.readOnly {
		return "", errors.New("read-only viewer: advance refused")
	}
	out, need, err := p.call(planReq{Cmd: "advance", Yes: apply})
	if need {
		return out, nil // the preview: the diff to confirm
	}
	if err != nil {
		return out, err
	}
	return out, nil
}

func (p planUIOps) CanAdvance() bool { return !p.readOnly }

// ownerPlanOps runs plan requests in this process's owner (its cockpit).
func ownerPlanOps(own *owner.Owner) ui.PlanOps {
	return planUIOps{call: func(r planReq) (string, bool, error) {
		var b strings.Builder
		err := own.WithPlanner(func(p *owner.Planner) error {
			return runPlan(context.Background(), &b, p, own.Config, r, mtactl.CurrentWho("cockpit"))
		})
		return b.String(), errors.Is(err, errNeedConfirm), err
	}}
}

// remotePlanOps runs plan requests in the owner a viewer is attached to.
func remotePlanOps(cl *attach.Client, readOnly bool) ui.PlanOps {
	return planUIOps{readOnly: readOnly, call: func(r planReq) (string, bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var resp planResp
		if err := cl.Call(ctx, planOpName(r.Cmd), r, &resp); err != nil {
			return "", false, err
		}
		if resp.Err != "" {
			return resp.Out, resp.NeedConfirm, errors.New(resp.Err)
		}
		return resp.Out, false, nil
	}}
}

// planAnswers reports whether the owner has the plan ops (an owner
// started by an older cutover does not).
func planAnswers(ops ui.PlanOps) bool {
	_, err := ops.Status()
	return err == nil || !errors.Is(err, attach.ErrBadRequest)
}

// ---- commands ----

func newPlanCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "plan", Short: "the cutover schedule with health gates and customer signoff",
		Example: "  cutover plan status --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}},
		newPlanInitCmd(o), newPlanStatusCmd(o), newPlanShowCmd(o), newPlanSimulateCmd(o), newPlanGateCmd(o), newPlanSignoffCmd(o),
		newPlanAdvanceCmd(o), newPlanHoldCmd(o, "hold"), newPlanHoldCmd(o, "resume"), newPlanRollbackCmd(o), newPlanLogCmd(o), newPlanVerifyLogCmd(o))
}

func planCommand(o cmdIO, r *planReq, use, short, example string) *cobra.Command {
	c := command(use, short, example, noArgs, func(_ *cobra.Command, _ []string) error { return planCall(o, *r) })
	configFlag(c, &r.Config, "config file (required)")
	return c
}

func newPlanInitCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "init"}
	c := planCommand(o, r, "init --config FILE --start DATE [--schedule NAME|FILE] ...",
		"lay out the plan: steps, dates, warm-up schedule, expected volume",
		"  cutover plan init --config cutover.toml --start 2027-01-04 \\\n      --daily-volume 200000 --new-ips 2 --schedule sparkpost")
	f := c.Flags()
	f.StringVar(&r.Start, "start", "", "first day of step 1 (YYYY-MM-DD, UTC)")
	f.StringVar(&r.Steps, "steps", "", "NEW percentages of the steps (default 5,15,30,50,75,100)")
	f.StringVar(&r.Dwell, "dwell", "", "minimum time at each step, whole days (default 7d)")
	f.IntVar(&r.NewIPs, "new-ips", 0, "NEW IPs warming up (default 1)")
	f.StringVar(&r.Schedule, "schedule", "", "warm-up schedule: "+strings.Join(model.WarmupScheduleNames, ", ")+", or a file (default sparkpost)")
	f.IntVar(&r.DailyVolume, "daily-volume", 0, "messages per day, both sides")
	f.StringVar(&r.FromHistory, "from-history", "", "daily volume from the counted traffic of this period, e.g. 28d")
	f.StringVar(&r.Providers, "providers", "", "providers the plan names (comma-separated)")
	return c
}

func newPlanStatusCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "status"}
	c := planCommand(o, r, "status --config FILE [--json]", "the plan's step, gate, signoff and what an advance needs",
		"  cutover plan status --config cutover.toml")
	jsonFlag(c, &r.JSON, "")
	return c
}

func newPlanShowCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "show"}
	c := planCommand(o, r, "show --config FILE [--json] [--format md|html]", "the week table: dates, ratios, NEW volume, rollback commands",
		"  cutover plan show --config cutover.toml --format html > plan.html")
	jsonFlag(c, &r.JSON, "")
	c.Flags().StringVar(&r.Format, "format", "md", "md or html")
	return c
}

func newPlanSimulateCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "simulate"}
	c := planCommand(o, r, "simulate --config FILE [--days 42] [--json]", "per day and provider: wanted NEW volume, warm-up cap, effective",
		"  cutover plan simulate --config cutover.toml --days 42")
	jsonFlag(c, &r.JSON, "")
	c.Flags().IntVar(&r.Days, "days", 42, "days to simulate")
	return c
}

func newPlanGateCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "gate"}
	c := planCommand(o, r, "gate --config FILE [--json] [--window 72h]", "evaluate the health gate now and write a checkpoint report",
		"  cutover plan gate --config cutover.toml")
	c.Long = `Evaluates the ten gate items of the current step over the last window (not
before the step began), per provider with at least 1 % of the volume: dwell,
sample, health, NEW worse than OLD, complaints (rate < 0.10 % and Wilson 95 %
upper bound < 0.30 %), block signatures, DNS/auth, suppression log verified,
reputation (when imported), no stale source. The verdict is the worst item
(FAIL > HOLD > PASS). The report is written as reports/checkpoint-<sha256>.json
and .md next to the database; the customer signs off that sha256.`
	jsonFlag(c, &r.JSON, "")
	c.Flags().StringVar(&r.Window, "window", "72h", "time evaluated, e.g. 72h or 3d")
	return c
}

func newPlanSignoffCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "signoff"}
	c := planCommand(o, r, `signoff --config FILE --report SHA256 --by "Name <email>" ...`,
		"record the customer's approval of one checkpoint report",
		`  cutover plan signoff --config cutover.toml --report 3f2a9c01 \
      --by "Carol <carol@customer.example>" --evidence approval.eml`)
	f := c.Flags()
	f.StringVar(&r.Report, "report", "", "sha256 of the approved report (or 8+ leading hex digits)")
	f.StringVar(&r.By, "by", "", `who approved: "Name <email>"`)
	f.StringVar(&r.Ref, "ref", "", "ticket or reference")
	f.StringVar(&r.Evidence, "evidence", "", "the approval e-mail (.eml): hashed, and its DKIM signature verified")
	f.StringVar(&r.Note, "note", "", "free text")
	f.BoolVar(&r.AcceptWarn, "accept-warn", false, "the customer accepts NEW health at WARN")
	c.MarkFlagFilename("evidence", "eml")
	c.PreRunE = func(*cobra.Command, []string) error {
		r.Evidence = absPath(r.Evidence)
		return nil
	}
	return c
}

func newPlanAdvanceCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "advance"}
	c := planCommand(o, r, "advance --config FILE [--yes] [--force --reason TEXT]", "move to the next step (needs a fresh PASS gate and its signoff)",
		"  cutover plan advance --config cutover.toml")
	c.Long = `Moves NEW's ratio to the next step through mtactl's apply transaction
(validate, reload, audit); the audit entry names the signoff. Refused (exit 1,
naming what is missing) without a PASS gate of this step under one hour old,
without a signoff of exactly that report, or while on hold. --force --reason
bypasses gate and signoff, never mtactl's validation, and is recorded as an
override that every later report shows.`
	yesFlag(c, &r.Yes)
	c.Flags().BoolVar(&r.Force, "force", false, "bypass gate and signoff (needs --reason; recorded as an override)")
	c.Flags().StringVar(&r.Reason, "reason", "", "why --force")
	c.Annotations["env"] = envChange
	return c
}

func newPlanHoldCmd(o cmdIO, cmd string) *cobra.Command {
	r := &planReq{Cmd: cmd}
	short := map[string]string{"hold": "stop advances until resumed", "resume": "lift a hold"}[cmd]
	c := planCommand(o, r, cmd+" --config FILE --reason TEXT", short, "  cutover plan "+cmd+" --config cutover.toml --reason \"customer freeze\"")
	c.Flags().StringVar(&r.Reason, "reason", "", "why (required)")
	return c
}

func newPlanRollbackCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "rollback", ToStep: -1}
	c := planCommand(o, r, "rollback --config FILE [--to-step N] [--yes]", "go back a step (or to --to-step N, 0 = baseline): always allowed",
		"  cutover plan rollback --config cutover.toml --to-step 0 --yes")
	c.Flags().IntVar(&r.ToStep, "to-step", -1, "step to return to (default the previous one; 0 = all traffic on OLD)")
	yesFlag(c, &r.Yes)
	c.Annotations["env"] = envChange
	return c
}

func newPlanLogCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "log"}
	c := planCommand(o, r, "log --config FILE [--json]", "every plan event: gates, signoffs, advances, overrides, holds",
		"  cutover plan log --config cutover.toml")
	jsonFlag(c, &r.JSON, "")
	return c
}

func newPlanVerifyLogCmd(o cmdIO) *cobra.Command {
	r := &planReq{Cmd: "verify-log"}
	c := planCommand(o, r, "verify-log --config FILE", "check the checkpoint log's hash chain (exit 1 names the bad line)",
		"  cutover plan verify-log --config cutover.toml")
	return c
}
