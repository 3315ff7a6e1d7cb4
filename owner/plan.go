package owner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model"
	"cutover/model/auth"
	"cutover/mtactl"
	"cutover/state"
	"cutover/state/baseline"
	"cutover/state/plan"
	"cutover/state/suppress"
	"cutover/ui"
)

// The cutover plan (wave2 §6): a schedule the data must approve. Planner
// runs every plan command over an open database, locally (the CLI holds the
// database) or in the owner (its ops): the same code either way.

// PlanControl is what the plan needs of mtactl; *mtactl.Controller has it.
type PlanControl interface {
	Current() model.Desired
	Plan(d model.Desired) (*mtactl.Change, error)
	PlanBaseline() (*mtactl.Change, error)
	Apply(ctx context.Context, ch *mtactl.Change, who mtactl.Who, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error)
	History() ([]mtactl.AuditEntry, error)
}

// Planner is the plan over one database.
type Planner struct {
	DB         *state.DB
	Config     *Config
	Control    PlanControl // nil: no [mtactl]; advance and rollback are refused
	Thresholds model.Thresholds
	// Sources are the live sources when this process follows them; nil:
	// the sources item says nothing follows them here.
	Sources func(now time.Time) ([]ui.SourceView, error)
	Now     func() time.Time
	// Markdown renders a report for its .md file (ui.PlanReportMarkdown).
	Markdown func(r *plan.Report, sha string) string
	Log      *plan.Log
	// Notices say what opening did: a torn line cut, an apply reconciled.
	Notices []string
}

// OpenPlanner opens the checkpoint log of db and reconciles it with the
// mtactl audit log: a plan change mtactl applied whose event never reached
// the log (the process died in between) is appended now, marked
// reconciled.
func OpenPlanner(db *state.DB, cfg *Config, ctl PlanControl, now func() time.Time) (*Planner, error) {
	if now == nil {
		now = time.Now
	}
	l, err := plan.Open(db, now)
	if err != nil {
		return nil, err
	}
	p := &Planner{DB: db, Config: cfg, Control: ctl, Now: now, Log: l, Notices: l.Notices,
		Thresholds: model.DefaultThresholds(), Markdown: ui.PlanReportMarkdown}
	if ctl != nil && !db.ReadOnly() {
		if err := p.reconcile(); err != nil {
			p.Notices = append(p.Notices, "could not reconcile the plan with the mtactl audit log: "+err.Error())
		}
	}
	return p, nil
}

// Close closes the log.
func (p *Planner) Close() error { return p.Log.Close() }

// State is the plan now.
func (p *Planner) State() plan.State { return p.Log.State() }

// planCmd is the audit command of a plan change; reconcile parses it back.
var planCmd = regexp.MustCompile(`^cutover plan (advance|override|rollback) step (\d+)->(\d+)(?: \(signoff ([0-9a-f]{64})\))?`)

func auditCommand(kind string, from, to int, signoff, reason string) string {
	s := fmt.Sprintf("cutover plan %s step %d->%d", kind, from, to)
	if signoff != "" {
		s += " (signoff " + signoff + ")"
	}
	if reason != "" {
		s += " reason: " + reason
	}
	return s
}

func (p *Planner) reconcile() error {
	st := p.Log.State()
	if st.Schedule == nil {
		return nil
	}
	hist, err := p.Control.History()
	if err != nil {
		return err
	}
	for _, e := range hist {
		if e.Result != mtactl.ResultOK || e.Time.Before(st.Created) || st.Audit[e.ID] != 0 {
			continue
		}
		cmd := e.Who.Command
		if i := strings.Index(cmd, "cutover plan "); i > 0 {
			cmd = cmd[i:] // "attached cutover: cutover plan ..."
		}
		m := planCmd.FindStringSubmatch(cmd)
		if m == nil {
			continue
		}
		from, _ := strconv.Atoi(m[2])
		to, _ := strconv.Atoi(m[3])
		ev := plan.Event{Type: m[1], FromStep: from, Step: to, Ratio: e.To.RatioNew, AuditID: e.ID, Signoff: m[4],
			Who: e.Who.String(), TS: e.Time, Reconciled: true}
		if m[1] == plan.EvOverride {
			_, ev.Reason, _ = strings.Cut(cmd, " reason: ")
		}
		if st.Signoff != nil && st.Signoff.Hash == m[4] {
			ev.Report = st.Signoff.Report
		}
		if _, err := p.Log.Append(ev); err != nil {
			return err
		}
		p.Notices = append(p.Notices, fmt.Sprintf("reconciled: mtactl change #%s (%s, step %d->%d) was applied but not in %s; recorded now", e.ID, m[1], from, to, plan.LogName))
		st = p.Log.State()
	}
	return nil
}

// PlanInit are the flags of plan init.
type PlanInit struct {
	Start       time.Time
	Steps       []int
	DwellDays   int
	NewIPs      int
	Schedule    string // a shipped name or a file
	DailyVolume int
	FromHistory time.Duration
	Providers   []string
	Who         string
}

// Init writes a plan-created event. The plan starts at the highest step
// at or below the ratio mtactl applied (0 = baseline).
func (p *Planner) Init(in PlanInit) (plan.State, error) {
	ws, err := LoadWarmupSchedule(in.Schedule)
	if err != nil {
		return plan.State{}, err
	}
	if in.NewIPs == 0 {
		in.NewIPs = 1
	}
	if in.DwellDays == 0 {
		in.DwellDays = model.DefaultDwellDays
	}
	start := in.Start.UTC()
	s, err := model.NewSchedule("plan-"+start.Format("2006-01-02"), start, in.Steps, in.DwellDays, ws, in.NewIPs)
	if err != nil {
		return plan.State{}, err
	}
	s.Providers = in.Providers
	now := p.Now()
	att, err := p.attemptsByISP(now.Add(-max(in.FromHistory, 28*24*time.Hour)), now)
	if err != nil {
		return plan.State{}, err
	}
	var total uint64
	for _, n := range att {
		total += n
	}
	switch {
	case in.DailyVolume > 0 && in.FromHistory > 0:
		return plan.State{}, errors.New("--daily-volume and --from-history: give one")
	case in.DailyVolume > 0:
		s.DailyVolume = in.DailyVolume
	case in.FromHistory > 0:
		h, err := p.attemptsByISP(now.Add(-in.FromHistory), now)
		if err != nil {
			return plan.State{}, err
		}
		var sum uint64
		for _, n := range h {
			sum += n
		}
		if sum == 0 {
			return plan.State{}, fmt.Errorf("--from-history %s: no traffic counted in that time; backfill the logs or give --daily-volume", in.FromHistory)
		}
		s.DailyVolume = int(float64(sum) / in.FromHistory.Hours() * 24)
	}
	if total > 0 {
		s.Shares = map[string]float64{}
		for isp, n := range att {
			s.Shares[isp] = float64(n) / float64(total)
		}
	}
	ratio, step := 0, 0
	if p.Control != nil {
		ratio = p.Control.Current().RatioNew
		for i, sp := range s.Steps {
			if sp.Ratio <= ratio {
				step = i + 1
			}
		}
	}
	if _, err := p.Log.Append(plan.Event{Type: plan.EvCreated, Schedule: &s, Step: step, Ratio: ratio, Who: in.Who}); err != nil {
		return plan.State{}, err
	}
	return p.Log.State(), nil
}

// LoadWarmupSchedule is a shipped schedule by name, or a schedule file.
func LoadWarmupSchedule(nameOrFile string) (model.WarmupSchedule, error) {
	ws, err := model.WarmupScheduleByName(nameOrFile)
	if err == nil {
		return ws, nil
	}
	if !strings.ContainsAny(nameOrFile, "/.") {
		return ws, err
	}
	f, ferr := os.Open(nameOrFile)
	if ferr != nil {
		return ws, fmt.Errorf("--schedule %s: %w", nameOrFile, ferr)
	}
	defer f.Close()
	b, ferr := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if ferr != nil {
		return ws, ferr
	}
	if len(b) > 1<<20 {
		return ws, fmt.Errorf("--schedule %s: over 1 MB", nameOrFile)
	}
	return model.ParseWarmupSchedule(nameOrFile, b)
}

func (p *Planner) attemptsByISP(since, until time.Time) (map[string]uint64, error) {
	rows, err := p.DB.Stats(state.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, r := range rows {
		out[r.ISP] += model.Tally(r.Counts).Attempts()
	}
	return out, nil
}

// WarmupDays replays the NEW side's daily deliveries per provider (each
// with ≥ 1 % of the planned volume) since the plan's start through the
// warm-up rules of §6.4: a UTC day counts when NEW delivered ≥ 90 % of
// min(wanted, cap); a 30-day gap restarts. It returns the warm-up day each
// provider runs at today. Without a daily volume nothing is wanted: nil.
func (p *Planner) WarmupDays(now time.Time) (map[string]int, error) {
	st := p.Log.State()
	s := st.Schedule
	if s == nil || s.DailyVolume <= 0 || len(s.Shares) == 0 {
		return nil, nil
	}
	evs, err := p.Log.Events()
	if err != nil {
		return nil, err
	}
	// ratioAt is the plan's ratio at the end of a day, from the events.
	ratioAt := func(t time.Time) int {
		r := 0
		for _, e := range evs {
			if e.TS.After(t) {
				break
			}
			switch e.Type {
			case plan.EvCreated, plan.EvAdvance, plan.EvOverride, plan.EvRollback:
				r = e.Ratio
			}
		}
		return r
	}
	first := s.Start.UTC().Truncate(24 * time.Hour)
	today := now.UTC().Truncate(24 * time.Hour)
	if today.Sub(first) > 400*24*time.Hour {
		first = today.Add(-400 * 24 * time.Hour)
	}
	logs := map[string][]model.WarmupDayLog{}
	for d := first; d.Before(today); d = d.Add(24 * time.Hour) {
		rows, err := p.DB.Stats(state.Query{Since: d, Until: d.Add(24 * time.Hour), Side: model.SideNew})
		if err != nil {
			return nil, err
		}
		dlv := map[string]uint64{}
		for _, r := range rows {
			dlv[r.ISP] += r.Delivered
		}
		ratio := ratioAt(d.Add(24*time.Hour - time.Second))
		for isp, sh := range s.Shares {
			if sh < model.GateShareMin {
				continue
			}
			logs[isp] = append(logs[isp], model.WarmupDayLog{Day: d, Delivered: dlv[isp],
				Wanted: model.ExpectedDaily(ratio, int(sh*float64(s.DailyVolume)+0.5))})
		}
	}
	out := map[string]int{}
	for isp, sh := range s.Shares {
		if sh >= model.GateShareMin {
			out[isp] = model.WarmupDay(logs[isp], s.WarmupSchedule, s.NewIPs)
		}
	}
	return out, nil
}

// DefaultGateWindow is §6.4's window.
const DefaultGateWindow = 72 * time.Hour

// EvaluateGate computes the checkpoint report of the current step over the
// last window (not before the step began), without writing anything.
func (p *Planner) EvaluateGate(window time.Duration) (*plan.Report, error) {
	st := p.Log.State()
	if st.Schedule == nil {
		return nil, errors.New("no plan: run cutover plan init")
	}
	if window <= 0 {
		window = DefaultGateWindow
	}
	now := p.Now().UTC()
	since := now.Add(-window)
	if st.StepSince.After(since) {
		since = st.StepSince
	}
	r := &plan.Report{Version: 1, Plan: st.Schedule.ID, At: now.Truncate(time.Second), Step: st.Step, Steps: st.Steps(),
		Ratio: st.Ratio, Day: st.Day(now), Window: window.String(), Since: since, Until: now, Overrides: st.Overrides,
		Baseline: st.Step == 0}
	rows, err := p.DB.Stats(state.Query{Since: since, Until: now})
	if err != nil {
		return nil, err
	}
	old, nw := map[string]*model.Tally{}, map[string]*model.Tally{}
	att := map[string]uint64{}
	for _, row := range rows {
		m := old
		if row.Side == model.SideNew {
			m = nw
		}
		if m[row.ISP] == nil {
			m[row.ISP] = &model.Tally{}
		}
		m[row.ISP].Add(model.Tally(row.Counts))
		att[row.ISP] += model.Tally(row.Counts).Attempts()
	}
	gated, rest := model.GatedProviders(att)
	r.Ungated = rest
	var totOld, totNew model.Tally
	for isp := range att {
		if t := old[isp]; t != nil {
			totOld.Add(*t)
		}
		if t := nw[isp]; t != nil {
			totNew.Add(*t)
		}
	}
	var minDwell time.Duration
	if st.Step > 0 {
		minDwell = st.Schedule.Steps[st.Step-1].MinDwell
	}
	atStep := now.Sub(st.StepSince)
	th := p.Thresholds.WithDefaults()
	// An active pacing overlay of class block fails its provider's
	// blocks item (§6.4 item 6).
	overlays := map[string]string{}
	if ovs, err := p.DB.Overlays(); err == nil {
		for _, o := range ovs {
			if o.Live() && o.Class == "block" {
				overlays[o.ISP] = clean(o.Rule)
			}
		}
	} else {
		return nil, err
	}
	judge := func(isp string, o, n model.Tally, blocks map[string]uint64) plan.ProviderGate {
		pg := plan.ProviderGate{ISP: isp, Old: o, New: n}
		var res model.GateResult
		if st.Step == 0 {
			res.AddItems(model.GateItem{Name: "dwell", Reason: "n/a at baseline: no NEW step yet"},
				model.GateItem{Name: "counts", Reason: "n/a at baseline: the first step is what the customer approves"})
		} else {
			res = model.EvaluateGate(model.GateInput{AtStep: atStep, MinDwell: minDwell, Old: o, New: n}, th, st.Schedule.GateRules)
			if blocks != nil {
				res.AddItems(model.GateBlocks(blocks, overlays[isp]))
			}
		}
		pg.Verdict, pg.Items = res.Verdict.String(), plan.Items(res.Items)
		pg.ComplaintRate, pg.ComplaintUpper = res.ComplaintRate, res.ComplaintUpper
		if res.AcceptWarn {
			r.AcceptWarn = true
		}
		return pg
	}
	verdict := model.GatePass
	if st.Step > 0 && len(gated) == 0 {
		verdict = model.GateHold
		r.Common = append(r.Common, plan.Item{Name: "sample", Verdict: "HOLD", Reason: "insufficient sample: no traffic counted in the window"})
	}
	for _, isp := range gated {
		var o, n model.Tally
		if t := old[isp]; t != nil {
			o = *t
		}
		if t := nw[isp]; t != nil {
			n = *t
		}
		blocks, err := p.blockCounts(isp, since, now)
		if err != nil {
			return nil, err
		}
		pg := judge(isp, o, n, blocks)
		verdict = max(verdict, parseVerdict(pg.Verdict))
		r.Providers = append(r.Providers, pg)
	}
	r.Totals = judge("all", totOld, totNew, nil)
	if r.WarmupDays, err = p.WarmupDays(now); err != nil {
		return nil, err
	}
	common := []model.GateItem{p.authItem(now), p.suppressionItem(), p.reputationItem(), p.sourcesItem(now, since)}
	for _, it := range common {
		verdict = max(verdict, it.Verdict)
	}
	r.Common = append(r.Common, plan.Items(common)...)
	r.Verdict = verdict.String()
	return r, nil
}

func parseVerdict(s string) model.GateVerdict {
	switch s {
	case "FAIL":
		return model.GateFail
	case "HOLD":
		return model.GateHold
	}
	return model.GatePass
}

// blockCounts sums NEW's non-delivered replies to isp by named signature.
func (p *Planner) blockCounts(isp string, since, until time.Time) (map[string]uint64, error) {
	rs, err := p.DB.TopReasons(model.SideNew, isp, since, until, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, r := range rs {
		if name, ok := model.NamedSignature(r.Sample); ok {
			out[name] += r.Count
		}
	}
	return out, nil
}

func (p *Planner) authItem(now time.Time) model.GateItem {
	in := model.AuthInput{Configured: p.Config != nil && p.Config.DNS.Configured()}
	if in.Configured {
		rep, err := dnsq.LoadReport(p.DB)
		if err != nil {
			return model.GateItem{Name: "auth", Verdict: model.GateHold, Reason: "stored dns check: " + err.Error()}
		}
		if rep != nil {
			in.Checked, in.State, in.Blocked = rep.Checked, rep.State, rep.Blocked
			for _, d := range rep.DKIM {
				if d.Severity >= 2 { // auth.Crit
					in.DKIM = "fail (" + d.Name + ")"
				} else if in.DKIM == "" {
					in.DKIM = "pass"
				}
			}
			for _, t := range rep.TTL {
				if t.State == "lowered" && t.SafeAt.After(now) {
					in.Pending = append(in.Pending, t.Name+" "+t.Type+" safe at "+t.SafeAt.UTC().Format(time.RFC3339))
				}
			}
		}
	}
	return model.GateAuth(in, now)
}

func (p *Planner) suppressionItem() model.GateItem {
	path := suppress.DefaultLogPath(p.DB.Path())
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return model.GateSuppression(model.SuppressionInput{})
	}
	rep, err := suppress.VerifyLog(path, p.DB)
	if err != nil {
		return model.GateSuppression(model.SuppressionInput{Exists: true, Detail: err.Error()})
	}
	return model.GateSuppression(model.SuppressionInput{Exists: true, OK: rep.OK(), Lines: rep.Valid, Detail: rep.String()})
}

// reputationItem is item 9 over what issue 17 imported (bucket
// reputation: Postmaster, SNDS, SNDS status) and the DNSBL listings of the
// latest dns check; the latest row per kind and subject counts. Nothing
// imported: n/a.
func (p *Planner) reputationItem() model.GateItem {
	recs, err := baseline.ReadReputation(p.DB)
	if err != nil {
		return model.GateItem{Name: "reputation", Verdict: model.GateHold, Reason: "stored reputation: " + err.Error()}
	}
	var newIPs []netip.Prefix
	if p.Config != nil {
		for _, s := range p.Config.DNS.NewIPs {
			if pf, err := netip.ParsePrefix(s); err == nil {
				newIPs = append(newIPs, pf)
			} else if a, err := netip.ParseAddr(s); err == nil {
				newIPs = append(newIPs, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	// An IP or range subject is NEW's when it overlaps a [dns] new_ips
	// entry; with none configured every imported IP counts (SNDS lists the
	// account's own IPs).
	isNew := func(subject string) bool {
		if len(newIPs) == 0 {
			return true
		}
		pf, err := netip.ParsePrefix(subject)
		if err != nil {
			a, aerr := netip.ParseAddr(subject)
			if aerr != nil {
				return true
			}
			pf = netip.PrefixFrom(a, a.BitLen())
		}
		for _, n := range newIPs {
			if n.Overlaps(pf) {
				return true
			}
		}
		return false
	}
	latest := map[string]model.ReputationRecord{}
	for _, r := range recs {
		k := r.Kind + "\x00" + r.Subject
		if old, ok := latest[k]; !ok || r.Date >= old.Date {
			latest[k] = r
		}
	}
	in := model.ReputationInput{Imported: len(recs) > 0, SpamUpper: -1}
	rank := map[string]int{"HIGH": 1, "MEDIUM": 2, "LOW": 3, "BAD": 4}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r := latest[k]
		switch r.Kind {
		case model.RepPostmaster:
			if r.HasSpam && r.SpamRate > in.SpamUpper {
				in.SpamUpper = r.SpamRate
			}
			if d := strings.ToUpper(r.DomainReputation); rank[d] > rank[strings.ToUpper(in.DomainRep)] {
				in.DomainRep = d
			}
		case model.RepSNDS:
			if strings.EqualFold(r.Filter, "RED") && isNew(r.Subject) {
				in.SNDSRed = append(in.SNDSRed, clean(r.Subject))
			}
		case model.RepSNDSStatus:
			if r.Blocked && isNew(r.Subject) {
				in.Listed = append(in.Listed, clean(r.Subject)+" (SNDS blocked)")
			}
		}
	}
	if rep, err := dnsq.LoadReport(p.DB); err == nil && rep != nil {
		for _, l := range rep.DNSBL {
			in.Imported = true
			switch l.Status {
			case auth.Listed:
				in.Listed = append(in.Listed, clean(l.IP)+" on "+clean(l.Zone))
			case auth.Unchecked:
				in.Unchecked = true
			}
		}
	}
	if in.Imported {
		in.Description = fmt.Sprintf("%d imported rows", len(recs))
	}
	return model.GateReputation(in)
}

func (p *Planner) sourcesItem(now, since time.Time) model.GateItem {
	if p.Sources == nil {
		return model.GateItem{Name: "sources", Verdict: model.GatePass,
			Reason: "not followed by this process (no owner running): the counts are what was ingested"}
	}
	views, err := p.Sources(now)
	if err != nil {
		return model.GateItem{Name: "sources", Verdict: model.GateHold, Reason: "sources: " + err.Error()}
	}
	var gaps []model.SourceGap
	for _, v := range views {
		if v.State != ui.SourceStale && v.State != ui.SourceUnreachable {
			continue
		}
		from := v.Since
		if from.Before(since) {
			from = since
		}
		gaps = append(gaps, model.SourceGap{Source: ui.Sanitize(v.Name, 40), Stale: now.Sub(from), Error: ui.Sanitize(v.Error, 80)})
	}
	return model.GateSources(gaps)
}

// Gate evaluates, writes the report (md + json, named by its sha256) and
// logs a gate event.
func (p *Planner) Gate(window time.Duration, who string) (*plan.Report, string, string, error) {
	r, err := p.EvaluateGate(window)
	if err != nil {
		return nil, "", "", err
	}
	_, sha, err := r.Encode()
	if err != nil {
		return nil, "", "", err
	}
	md := ""
	if p.Markdown != nil {
		md = p.Markdown(r, sha)
	}
	sha, path, err := plan.WriteReport(p.DB.Path(), r, md)
	if err != nil {
		return nil, "", "", err
	}
	if _, err := p.Log.Append(plan.Event{Type: plan.EvGate, Report: sha, Verdict: r.Verdict, Window: r.Window,
		Step: r.Step, Ratio: r.Ratio, AcceptWarn: r.AcceptWarn, Who: who}); err != nil {
		return nil, "", "", err
	}
	return r, sha, path, nil
}

// PlanSignoff are the flags of plan signoff.
type PlanSignoff struct {
	Report     string
	By         string
	Ref        string
	Evidence   string // .eml file
	Note       string
	AcceptWarn bool
	Who        string
}

// maxEvidence bounds an evidence mail.
const maxEvidence = 25 << 20

// Signoff records the customer's approval of one report. An evidence mail
// is hashed and, when DKIM-signed, verified (keys through [dns] server or
// the real DNS): "pass d=...", "fail d=...: why", or "unverified".
func (p *Planner) Signoff(ctx context.Context, in PlanSignoff) (plan.Event, string, error) {
	st := p.Log.State()
	if st.Schedule == nil {
		return plan.Event{}, "", errors.New("no plan: run cutover plan init")
	}
	addr, err := mail.ParseAddress(in.By)
	if err != nil {
		return plan.Event{}, "", fmt.Errorf("--by %q: want \"Name <email>\" (%v)", in.By, err)
	}
	_, sha, err := plan.LoadReport(p.DB.Path(), in.Report)
	if err != nil {
		return plan.Event{}, "", err
	}
	ev := plan.Event{Type: plan.EvSignoff, Report: sha, By: addr.String(), Ref: clean(in.Ref), Note: clean(in.Note),
		AcceptWarn: in.AcceptWarn, Who: in.Who, Step: st.Step, Ratio: st.Ratio}
	if in.Evidence != "" {
		b, err := readLimited(in.Evidence, maxEvidence)
		if err != nil {
			return plan.Event{}, "", fmt.Errorf("--evidence: %w", err)
		}
		ev.Evidence = sha256Hex(b)
		ev.DKIM = VerifyEvidence(ctx, &dnsq.Client{Server: p.configDNSServer(), Timeout: 3 * time.Second}, b)
	}
	h, err := p.Log.Append(ev)
	if err != nil {
		return plan.Event{}, "", err
	}
	return ev, h, nil
}

func (p *Planner) configDNSServer() string {
	if p.Config == nil {
		return ""
	}
	return p.Config.DNS.Server
}

// VerifyEvidence checks an approval mail's DKIM signatures: "pass d=D" for
// the first that verifies, else "fail d=D: why" for the first, else
// "unverified (no DKIM signature)".
func VerifyEvidence(ctx context.Context, c *dnsq.Client, msg []byte) string {
	vs, err := dnsq.Verify(ctx, c, msg)
	if err != nil {
		return "unverified (" + clean(err.Error()) + ")"
	}
	if len(vs) == 0 {
		return "unverified (no DKIM signature)"
	}
	for _, v := range vs {
		if v.Err == nil {
			return "pass d=" + clean(v.Domain)
		}
	}
	return "fail d=" + clean(vs[0].Domain) + ": " + clean(vs[0].Err.Error())
}

// AdvanceRefused lists what an advance lacks.
type AdvanceRefused struct{ Missing []string }

func (e *AdvanceRefused) Error() string {
	return "advance refused: " + strings.Join(e.Missing, "; ")
}

// PlanAdvance are the flags of plan advance; Who is the audit identity.
type PlanAdvance struct {
	Force       bool
	Reason      string
	Preview     bool // plan the change and return it, apply nothing
	AcceptDrift bool
	Who         mtactl.Who
}

func stepDesired(cur model.Desired, sp model.StepPlan) model.Desired {
	d := cur.Clone()
	d.RatioNew, d.PerISP = sp.Ratio, nil
	for isp, r := range sp.PerISP {
		if d.PerISP == nil {
			d.PerISP = map[string]int{}
		}
		d.PerISP[isp] = r
	}
	return d
}

// Advance moves to the next step through mtactl's Apply: refused (with
// what is missing) without a PASS gate under an hour old, a current
// signoff and no hold, unless Force with a Reason, which is logged as an
// override. mtactl's validation is never bypassed.
func (p *Planner) Advance(ctx context.Context, in PlanAdvance) (*mtactl.Change, mtactl.AuditEntry, error) {
	st := p.Log.State()
	if p.Control == nil {
		return nil, mtactl.AuditEntry{}, errors.New("no [mtactl] section: cutover cannot change the ratio")
	}
	if in.Force && strings.TrimSpace(in.Reason) == "" {
		return nil, mtactl.AuditEntry{}, errors.New("--force needs --reason TEXT (it is recorded as an override)")
	}
	missing := st.AdvanceBlockers(p.Now())
	if st.Schedule == nil || st.Step >= st.Steps() {
		return nil, mtactl.AuditEntry{}, &AdvanceRefused{Missing: missing}
	}
	if len(missing) > 0 && !in.Force {
		return nil, mtactl.AuditEntry{}, &AdvanceRefused{Missing: missing}
	}
	next := st.Step + 1
	sp := st.Schedule.Steps[next-1]
	ch, err := p.Control.Plan(stepDesired(p.Control.Current(), sp))
	if err != nil || in.Preview {
		return ch, mtactl.AuditEntry{}, err
	}
	kind, signoff, reason := plan.EvAdvance, "", ""
	if in.Force {
		kind, reason = plan.EvOverride, clean(in.Reason)
	} else {
		signoff = st.Signoff.Hash
	}
	who := in.Who
	who.Command = strings.TrimSpace(who.Command + " " + auditCommand(kind, st.Step, next, signoff, reason))
	entry, err := p.Control.Apply(ctx, ch, who, mtactl.ApplyOptions{AcceptDrift: in.AcceptDrift})
	if err != nil {
		return ch, entry, err
	}
	ev := plan.Event{Type: kind, FromStep: st.Step, Step: next, Ratio: sp.Ratio, AuditID: entry.ID, Signoff: signoff,
		Reason: reason, Who: who.String()}
	if st.Gate != nil {
		ev.Report = st.Gate.Report
	}
	if _, err := p.Log.Append(ev); err != nil {
		return ch, entry, fmt.Errorf("applied as change #%s, but the checkpoint log append failed (the next start reconciles it): %w", entry.ID, err)
	}
	return ch, entry, nil
}

// PlanRollback are the flags of plan rollback.
type PlanRollback struct {
	ToStep      int // -1: the previous step
	Preview     bool
	AcceptDrift bool
	Who         mtactl.Who
}

// Rollback goes back to an earlier step (default the previous one, 0 =
// the baseline): always allowed, no gate, no signoff.
func (p *Planner) Rollback(ctx context.Context, in PlanRollback) (*mtactl.Change, mtactl.AuditEntry, error) {
	st := p.Log.State()
	if p.Control == nil {
		return nil, mtactl.AuditEntry{}, errors.New("no [mtactl] section: cutover cannot change the ratio")
	}
	if st.Schedule == nil {
		return nil, mtactl.AuditEntry{}, errors.New("no plan: run cutover plan init (or use cutover rollback)")
	}
	to := in.ToStep
	if to < 0 {
		to = max(st.Step-1, 0)
	}
	if to > st.Step || to > st.Steps() {
		return nil, mtactl.AuditEntry{}, fmt.Errorf("--to-step %d: the plan is at step %d; rollback goes back", to, st.Step)
	}
	var ch *mtactl.Change
	var err error
	if to == 0 {
		ch, err = p.Control.PlanBaseline()
	} else {
		ch, err = p.Control.Plan(stepDesired(p.Control.Current(), st.Schedule.Steps[to-1]))
	}
	if err != nil || in.Preview {
		return ch, mtactl.AuditEntry{}, err
	}
	who := in.Who
	who.Command = strings.TrimSpace(who.Command + " " + auditCommand(plan.EvRollback, st.Step, to, "", ""))
	entry, err := p.Control.Apply(ctx, ch, who, mtactl.ApplyOptions{AcceptDrift: in.AcceptDrift})
	if err != nil {
		return ch, entry, err
	}
	if _, err := p.Log.Append(plan.Event{Type: plan.EvRollback, FromStep: st.Step, Step: to, Ratio: st.RatioOf(to),
		AuditID: entry.ID, Who: who.String()}); err != nil {
		return ch, entry, fmt.Errorf("applied as change #%s, but the checkpoint log append failed (the next start reconciles it): %w", entry.ID, err)
	}
	return ch, entry, nil
}

// Hold stops advances until Resume; reason is required.
func (p *Planner) Hold(hold bool, reason, who string) error {
	st := p.Log.State()
	if st.Schedule == nil {
		return errors.New("no plan: run cutover plan init")
	}
	if strings.TrimSpace(reason) == "" {
		return errors.New("--reason is required")
	}
	typ := plan.EvHold
	switch {
	case hold && st.Hold != nil:
		return fmt.Errorf("already on hold since %s: %s", st.Hold.Since.Format(time.RFC3339), st.Hold.Reason)
	case !hold && st.Hold == nil:
		return errors.New("not on hold")
	case !hold:
		typ = plan.EvResume
	}
	_, err := p.Log.Append(plan.Event{Type: typ, Reason: clean(reason), Who: who, Step: st.Step, Ratio: st.Ratio})
	return err
}

// PlanSimRow is one provider-day of plan simulate.
type PlanSimRow struct {
	ISP string `json:"isp"` // "all" for the whole volume
	model.SimDay
	Note string `json:"note,omitempty"`
}

// Simulate runs the schedule's feasibility day by day, for the whole
// volume and for each provider with a known share.
func Simulate(s *model.Schedule, days int) ([]PlanSimRow, error) {
	if s.DailyVolume <= 0 {
		return nil, errors.New("the plan has no daily volume: plan init --daily-volume N or --from-history 28d")
	}
	steps := make([]int, len(s.Steps))
	for i, sp := range s.Steps {
		steps[i] = sp.Ratio
	}
	dwell := 7
	if len(s.Steps) > 0 {
		dwell = max(int(s.Steps[0].MinDwell/(24*time.Hour)), 1)
	}
	var out []PlanSimRow
	add := func(isp string, vol int) error {
		ds, err := model.Simulate(vol, s.NewIPs, steps, dwell, s.WarmupSchedule, days)
		if err != nil {
			return err
		}
		for _, d := range ds {
			out = append(out, PlanSimRow{ISP: isp, SimDay: d, Note: d.Note()})
		}
		return nil
	}
	if err := add("all", s.DailyVolume); err != nil {
		return nil, err
	}
	isps := make([]string, 0, len(s.Shares))
	for isp := range s.Shares {
		isps = append(isps, isp)
	}
	sort.Slice(isps, func(i, j int) bool {
		if s.Shares[isps[i]] != s.Shares[isps[j]] {
			return s.Shares[isps[i]] > s.Shares[isps[j]]
		}
		return isps[i] < isps[j]
	})
	for _, isp := range isps {
		if s.Shares[isp] < model.GateShareMin {
			continue
		}
		if err := add(isp, int(s.Shares[isp]*float64(s.DailyVolume)+0.5)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func clean(s string) string {
	return ui.Sanitize(s, 500)
}

func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("%s: over %d MB", path, n>>20)
	}
	return b, nil
}
