// Package report builds the weekly and daily monitoring reports (wave2
// §8.4) from state and renders them as Markdown (text charts), one
// self-contained HTML file (inline SVG, no script, no external reference)
// or JSON. Same database, same period and same Now give byte-identical
// output: every list is sorted, floats have fixed formats, no map order and
// no wall clock reach the output.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"cutover/model"
	"cutover/model/auth"
	"cutover/state"
	"cutover/state/baseline"
	"cutover/state/suppress"
)

// Input is what a report is built from; the caller (owner or cli) reads
// what lives outside state's counters (dns check, mtactl history).
type Input struct {
	DB         *state.DB
	Kind       string    // weekly | daily
	From, To   time.Time // [From, To), midnights in Zone
	Period     string    // 2026-W03 | 2026-01-12
	Zone       *time.Location
	Now        time.Time // --now: the report's clock
	Start      time.Time // monitoring start (zero: unknown)
	Days       int       // monitoring window, default 30
	Hours      *model.OperatingHours
	Thresholds model.Thresholds
	Alerts     []model.Alert
	Changes    []Change
	DNS        *DNSInfo // nil: no dns check stored
	// Pacing is false when no pacer is configured: section 8 says so.
	Pacing bool
}

// Change is one MTA config change (ratio timeline, overrides).
type Change struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Who    string    `json:"who"`
	Result string    `json:"result"`
}

// DNSInfo is the stored dns check.
type DNSInfo struct {
	State    string
	Checked  time.Time
	Findings []auth.Finding
	DNSBL    []auth.Listing
}

// Week returns [Monday 00:00, next Monday 00:00) of ISO week "2026-W03" in zone.
func Week(spec string, zone *time.Location) (from, to time.Time, err error) {
	var y, w int
	if _, err := fmt.Sscanf(spec, "%d-W%d", &y, &w); err != nil || w < 1 || w > 53 || len(spec) != 8 {
		return from, to, fmt.Errorf("--week %q: want YYYY-Www like 2026-W03", spec)
	}
	// ISO week 1 holds January 4th.
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, zone)
	mon := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	from = mon.AddDate(0, 0, 7*(w-1))
	if yy, ww := from.ISOWeek(); yy != y || ww != w {
		return from, to, fmt.Errorf("--week %q: %d has no week %d", spec, y, w)
	}
	return from, from.AddDate(0, 0, 7), nil
}

// WeekOf names the ISO week holding t in zone and returns its bounds.
func WeekOf(t time.Time, zone *time.Location) (string, time.Time, time.Time) {
	y, w := t.In(zone).ISOWeek()
	spec := fmt.Sprintf("%04d-W%02d", y, w)
	from, to, _ := Week(spec, zone)
	return spec, from, to
}

// Day returns [00:00, next 00:00) of "2026-01-12" in zone.
func Day(spec string, zone *time.Location) (from, to time.Time, err error) {
	d, err := time.ParseInLocation("2006-01-02", spec, zone)
	if err != nil {
		return from, to, fmt.Errorf("--day %q: want YYYY-MM-DD", spec)
	}
	return d, d.AddDate(0, 0, 1), nil
}

// Counts are one side of one provider: the `cutover stats --json` keys,
// summed over MTAs, and the rates the report shows.
type Counts struct {
	Delivered   uint64  `json:"delivered"`
	Deferred    uint64  `json:"deferred"`
	Held        uint64  `json:"held"`
	Bounced     uint64  `json:"bounced"`
	HardBounced uint64  `json:"hard_bounced"`
	Expired     uint64  `json:"expired"`
	Complaints  uint64  `json:"complaints"`
	Total       uint64  `json:"total"`
	Attempts    uint64  `json:"attempts"`
	DelivRate   float64 `json:"delivered_rate"`
	DeferRate   float64 `json:"deferral_rate"`
	HardRate    float64 `json:"hard_bounce_rate"`
	ComplRate   float64 `json:"complaint_rate"`
	Health      string  `json:"health"`
}

func countsOf(t model.Tally, th model.Thresholds) Counts {
	r := t.Rates()
	h := th.Judge(t).Overall
	hs := h.String()
	if h == model.HealthNone {
		hs = "none"
	}
	return Counts{Delivered: t.Delivered, Deferred: t.Deferred, Held: t.Held, Bounced: t.Bounced, HardBounced: t.HardBounce,
		Expired: t.Expired, Complaints: t.Complaints, Total: state.Counts(t).Total(), Attempts: t.Attempts(),
		DelivRate: r.Delivered, DeferRate: r.Deferred, HardRate: r.HardBounce, ComplRate: r.Complaint, Health: hs}
}

// Provider is one row of section 2.
type Provider struct {
	ISP      string   `json:"isp"`
	Old      Counts   `json:"old"`
	New      Counts   `json:"new"`
	NewWorse []string `json:"new_worse"`
	ZDefer   float64  `json:"z_deferral"`
	ZHard    float64  `json:"z_hard_bounce"`
	ZCompl   float64  `json:"z_complaint"`
	// Week-over-week change of NEW's rates in percentage points; null when
	// either week had no attempts (no delivered for the complaint rate).
	DelivPt *float64 `json:"delivered_change_pt"`
	DeferPt *float64 `json:"deferral_change_pt"`
	HardPt  *float64 `json:"hard_bounce_change_pt"`
	ComplPt *float64 `json:"complaint_change_pt"`
	// DaysSinceCrit: whole days from the last NEW day with complaints ≥
	// 0.30 % to the period's end; -1 none in the last 90 days.
	DaysSinceCrit int `json:"days_since_complaint_crit"`
}

// Report is the JSON form and what the renderers read.
type Report struct {
	Kind        string       `json:"kind"`
	Period      string       `json:"period"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Timezone    string       `json:"timezone"`
	Generated   time.Time    `json:"generated"`
	Summary     Summary      `json:"summary"`
	Providers   []Provider   `json:"providers"`
	Bounces     Bounces      `json:"bounces"`
	Complaints  []Complaint  `json:"complaints"`
	Blocklists  Blocklists   `json:"blocklists"`
	Auth        Auth         `json:"authentication"`
	Alerts      AlertSection `json:"alerts"`
	Pacing      PacingPart   `json:"pacing"`
	Anomalies   []Anomaly    `json:"anomalies"`
	Suppression Suppression  `json:"suppression"`
	Days        []time.Time  `json:"-"` // the period's day starts (charts)
}

// Summary is section 1.
type Summary struct {
	Week    int      `json:"week_of_cutover"` // 0: before the start or unknown
	Day     int      `json:"day_of_window"`   // day of the period's end within the window; 0 outside
	Days    int      `json:"window_days"`
	Start   string   `json:"start,omitempty"`
	Old     Counts   `json:"old"`
	New     Counts   `json:"new"`
	Changes []Change `json:"changes"`
}

// Bounces is section 3.
type Bounces struct {
	Classes []BounceClass `json:"classes"`
	Top     []Signature   `json:"top_signatures"`
}

// BounceClass counts failures of one kind on one side and provider.
type BounceClass struct {
	Side     string `json:"side"`
	ISP      string `json:"isp"`
	Kind     string `json:"kind"`
	Count    uint64 `json:"count"`
	Previous uint64 `json:"previous_week"`
}

// Signature is one of the top reply signatures.
type Signature struct {
	Side      string `json:"side"`
	ISP       string `json:"isp"`
	Signature string `json:"signature"`
	Kind      string `json:"kind"`
	Count     uint64 `json:"count"`
	Sample    string `json:"sample"`
}

// Complaint is section 4: NEW's daily complaint rates of one provider.
type Complaint struct {
	ISP       string    `json:"isp"`
	Daily     []float64 `json:"daily"` // per day of the period; -1: nothing delivered
	Delivered []uint64  `json:"daily_delivered"`
	Rate      float64   `json:"rate"`
	Over      int       `json:"days_over_crit"`
}

// Blocklists is section 5.
type Blocklists struct {
	Checked time.Time      `json:"checked,omitzero"`
	DNSBL   []auth.Listing `json:"dnsbl"`
	SNDS    []SNDSRow      `json:"snds"`
}

// SNDSRow is the latest SNDS data of one IP in the period.
type SNDSRow struct {
	IP            string `json:"ip"`
	Date          string `json:"date"`
	Filter        string `json:"filter"`
	ComplaintRate string `json:"complaint_rate"`
	TrapHits      int64  `json:"trap_hits"`
	Blocked       bool   `json:"blocked"`
}

// Auth is section 6.
type Auth struct {
	State      string          `json:"dns_state"`
	Checked    time.Time       `json:"checked,omitzero"`
	Findings   []auth.Finding  `json:"findings"`
	Postmaster []PostmasterRow `json:"postmaster"`
}

// PostmasterRow is the latest Postmaster day of one domain in the period.
type PostmasterRow struct {
	Domain     string             `json:"domain"`
	Date       string             `json:"date"`
	SpamRate   *float64           `json:"spam_rate"`
	Reputation string             `json:"domain_reputation,omitempty"`
	Ratios     map[string]float64 `json:"ratios,omitempty"`
	Compliance map[string]string  `json:"compliance,omitempty"`
}

// AlertSection is section 7.
type AlertSection struct {
	Fired   int        `json:"fired"`
	Acked   int        `json:"acked"`
	Met     int        `json:"sla_met"`
	Missed  int        `json:"sla_missed"`
	Open    int        `json:"still_open"`
	Pending int        `json:"sla_pending"`
	List    []AlertRow `json:"list"`
}

// AlertRow is one alert of the period.
type AlertRow struct {
	ID        string    `json:"id"`
	Rule      string    `json:"rule"`
	Severity  string    `json:"severity"`
	ISP       string    `json:"isp"`
	State     string    `json:"state"`
	FiredAt   time.Time `json:"fired_at"`
	DueBy     time.Time `json:"due_by"`
	AckedBy   string    `json:"acked_by,omitempty"`
	TimeToAck string    `json:"time_to_ack,omitempty"` // operating time
	SLA       string    `json:"sla"`                   // met | missed | pending
	Summary   string    `json:"summary"`
}

// PacingPart is section 8.
type PacingPart struct {
	Configured bool         `json:"configured"`
	Overlays   []OverlayRow `json:"overlays"`
}

// OverlayRow is one pacing overlay active in the period.
type OverlayRow struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	ISP      string    `json:"isp"`
	State    string    `json:"state"`
	Created  time.Time `json:"created"`
	Ended    time.Time `json:"ended,omitzero"`
	Duration string    `json:"duration"`
	Trigger  string    `json:"trigger"`
}

// Anomaly is one day of section 9.
type Anomaly struct {
	Day    string  `json:"day"`
	ISP    string  `json:"isp"`
	Metric string  `json:"metric"` // deferral | hard_bounce | complaint | volume
	Value  float64 `json:"value"`
	Mean   float64 `json:"mean"`
	Sigma  float64 `json:"sigma"`
	Note   string  `json:"note"`
}

// Suppression is section 10.
type Suppression struct {
	Log    string          `json:"log"`
	Events []SupEventCount `json:"events"`
	Total  int             `json:"total"`
	Chain  string          `json:"chain"` // the log's hash chain as verified now
	Verify string          `json:"last_verify"`
}

// SupEventCount counts added suppression events of one type and source.
type SupEventCount struct {
	Type   string `json:"type"`
	Source string `json:"source"`
	Count  int    `json:"count"`
}

// Build reads state for the period and computes every section.
func Build(in Input) (*Report, error) {
	if in.Zone == nil {
		in.Zone = time.UTC
	}
	if in.Days == 0 {
		in.Days = 30
	}
	th := in.Thresholds.WithDefaults()
	r := &Report{Kind: in.Kind, Period: in.Period, From: in.From.In(in.Zone), To: in.To.In(in.Zone), Timezone: in.Zone.String(),
		Generated: in.Now.UTC()}
	for d := r.From; d.Before(r.To); d = d.AddDate(0, 0, 1) {
		r.Days = append(r.Days, d)
	}
	span := in.To.Sub(in.From)
	cur, err := tallies(in.DB, in.From, in.To)
	if err != nil {
		return nil, err
	}
	prev, err := tallies(in.DB, in.From.Add(-span), in.From)
	if err != nil {
		return nil, err
	}
	// Daily NEW tallies from 28 days before the period (anomalies) to its
	// end; the days of the period are the last ones.
	hist := 28
	dayFrom := r.From.AddDate(0, 0, -hist)
	daily, err := dailyNew(in.DB, dayFrom, r.To, in.Zone)
	if err != nil {
		return nil, err
	}
	// Section 1.
	var oldSum, newSum model.Tally
	for k, t := range cur {
		if k.Side == model.SideOld {
			oldSum.Add(t)
		} else if k.Side == model.SideNew {
			newSum.Add(t)
		}
	}
	r.Summary = Summary{Days: in.Days, Old: countsOf(oldSum, th), New: countsOf(newSum, th), Changes: []Change{}}
	if !in.Start.IsZero() {
		st := in.Start.In(in.Zone)
		r.Summary.Start = st.Format("2006-01-02")
		if !r.To.Before(st) {
			r.Summary.Week = int(r.To.Add(-time.Nanosecond).Sub(st).Hours()/24)/7 + 1
			if day := int(r.To.Add(-time.Nanosecond).Sub(st).Hours()/24) + 1; day >= 1 && day <= in.Days {
				r.Summary.Day = day
			}
		}
	}
	for _, c := range in.Changes {
		if !c.At.Before(in.From) && c.At.Before(in.To) {
			c.At = c.At.UTC()
			r.Summary.Changes = append(r.Summary.Changes, c)
		}
	}
	sort.SliceStable(r.Summary.Changes, func(i, j int) bool { return r.Summary.Changes[i].At.Before(r.Summary.Changes[j].At) })

	// Section 2.
	isps := ispList(cur)
	lookback, err := dailyNew(in.DB, r.To.AddDate(0, 0, -90), r.To, in.Zone)
	if err != nil {
		return nil, err
	}
	for _, isp := range isps {
		o, n := cur[model.SideISP{Side: model.SideOld, ISP: isp}], cur[model.SideISP{Side: model.SideNew, ISP: isp}]
		w := th.Compare(o, n)
		p := Provider{ISP: isp, Old: countsOf(o, th), New: countsOf(n, th), NewWorse: []string{},
			ZDefer: round4(w.ZDeferral), ZHard: round4(w.ZHardBounce), ZCompl: round4(w.ZComplaint), DaysSinceCrit: -1}
		if w.Deferral {
			p.NewWorse = append(p.NewWorse, "deferral")
		}
		if w.HardBounce {
			p.NewWorse = append(p.NewWorse, "hard_bounce")
		}
		if w.Complaint {
			p.NewWorse = append(p.NewWorse, "complaint")
		}
		pn := prev[model.SideISP{Side: model.SideNew, ISP: isp}]
		cr, pr := n.Rates(), pn.Rates()
		if n.Attempts() > 0 && pn.Attempts() > 0 {
			p.DelivPt = pt(cr.Delivered - pr.Delivered)
			p.DeferPt = pt(cr.Deferred - pr.Deferred)
			p.HardPt = pt(cr.HardBounce - pr.HardBounce)
		}
		if n.Delivered > 0 && pn.Delivered > 0 {
			p.ComplPt = pt(cr.Complaint - pr.Complaint)
		}
		days := lookback[isp]
		for i := len(days) - 1; i >= 0; i-- {
			t := days[i]
			if t.Delivered >= th.MinSample && float64(t.Complaints) >= th.Complaint.Crit*float64(t.Delivered) && t.Complaints > 0 {
				p.DaysSinceCrit = len(days) - 1 - i
				break
			}
		}
		r.Providers = append(r.Providers, p)
	}

	// Section 3.
	if r.Bounces, err = bounces(in.DB, in.From, in.To, span); err != nil {
		return nil, err
	}

	// Section 4.
	nd := len(r.Days)
	for _, isp := range isps {
		n := cur[model.SideISP{Side: model.SideNew, ISP: isp}]
		if n.Delivered == 0 && n.Complaints == 0 {
			continue
		}
		c := Complaint{ISP: isp, Rate: round6(n.Rates().Complaint)}
		ds := daily[isp]
		for i := 0; i < nd; i++ {
			t := ds[hist+i]
			c.Delivered = append(c.Delivered, t.Delivered)
			if t.Delivered == 0 {
				c.Daily = append(c.Daily, -1)
				continue
			}
			v := round6(t.Rates().Complaint)
			c.Daily = append(c.Daily, v)
			if t.Delivered >= th.MinSample && v >= th.Complaint.Crit {
				c.Over++
			}
		}
		r.Complaints = append(r.Complaints, c)
	}

	// Sections 5, 6.
	r.Blocklists.DNSBL = []auth.Listing{}
	r.Blocklists.SNDS = []SNDSRow{}
	r.Auth = Auth{State: "not checked", Findings: []auth.Finding{}, Postmaster: []PostmasterRow{}}
	if in.DNS != nil {
		r.Blocklists.Checked = in.DNS.Checked.UTC()
		r.Blocklists.DNSBL = append(r.Blocklists.DNSBL, in.DNS.DNSBL...)
		sort.SliceStable(r.Blocklists.DNSBL, func(i, j int) bool {
			a, b := r.Blocklists.DNSBL[i], r.Blocklists.DNSBL[j]
			if a.IP != b.IP {
				return a.IP < b.IP
			}
			return a.Zone < b.Zone
		})
		r.Auth.State, r.Auth.Checked = in.DNS.State, in.DNS.Checked.UTC()
		for _, f := range in.DNS.Findings {
			if f.Check != "dnsbl" && (f.Severity.String() == "CRIT" || f.Severity.String() == "WARN") {
				r.Auth.Findings = append(r.Auth.Findings, f)
			}
		}
	}
	if err := reputation(in.DB, r); err != nil {
		return nil, err
	}

	// Section 7.
	r.Alerts = alertSection(in, r)

	// Section 8.
	r.Pacing = PacingPart{Configured: in.Pacing, Overlays: []OverlayRow{}}
	if ovs, err := in.DB.Overlays(); err == nil {
		for _, o := range ovs {
			end := o.Ended
			if o.Created.After(in.To) || (!end.IsZero() && end.Before(in.From)) {
				continue
			}
			r.Pacing.Configured = true
			row := OverlayRow{ID: o.ID, Rule: o.Rule, ISP: o.ISP, State: o.State, Created: o.Created.UTC(), Ended: end.UTC(), Trigger: o.Trigger}
			stop := end
			if stop.IsZero() || stop.After(in.To) {
				stop = in.To
			}
			row.Duration = model.FormatDuration(stop.Sub(o.Created).Truncate(time.Minute))
			r.Pacing.Overlays = append(r.Pacing.Overlays, row)
		}
		sort.SliceStable(r.Pacing.Overlays, func(i, j int) bool { return r.Pacing.Overlays[i].Created.Before(r.Pacing.Overlays[j].Created) })
	}

	// Section 9.
	r.Anomalies = anomalies(daily, r.Days, hist, th)

	// Section 10.
	r.Suppression = suppression(in.DB, in.From, in.To)
	return r, nil
}

func pt(f float64) *float64 { v := round4(f * 100); return &v }

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// tallies sums `cutover stats` rows over MTAs: the same query, so every
// per-provider number equals `stats --json --since --until`.
func tallies(db *state.DB, since, until time.Time) (map[model.SideISP]model.Tally, error) {
	rows, err := db.Stats(state.Query{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	out := map[model.SideISP]model.Tally{}
	for _, r := range rows {
		k := model.SideISP{Side: r.Side, ISP: r.ISP}
		t := out[k]
		t.Add(model.Tally(r.Counts))
		out[k] = t
	}
	return out, nil
}

func ispList(m map[model.SideISP]model.Tally) []string {
	seen := map[string]bool{}
	var out []string
	for k := range m {
		if !seen[k.ISP] {
			seen[k.ISP] = true
			out = append(out, k.ISP)
		}
	}
	sort.Strings(out)
	return out
}

// dailyNew is NEW's tally per provider per zone day in [from, to).
func dailyNew(db *state.DB, from, to time.Time, zone *time.Location) (map[string][]model.Tally, error) {
	var days []time.Time
	for d := from.In(zone); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	out := map[string][]model.Tally{}
	// One Series per day length would be wrong across DST (23 h / 25 h
	// days): an hourly series summed into zone days is right everywhere.
	series, err := db.Series(state.SeriesQuery{Since: from, Until: to, Step: time.Hour, Side: model.SideNew})
	if err != nil {
		return nil, err
	}
	keys := make([]state.SeriesKey, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ISP < keys[j].ISP })
	for _, k := range keys {
		ts := out[k.ISP]
		if ts == nil {
			ts = make([]model.Tally, len(days))
		}
		i := 0
		for _, p := range series[k] {
			for i+1 < len(days) && !p.Start.Before(days[i+1]) {
				i++
			}
			if p.Start.Before(days[0]) {
				continue
			}
			ts[i].Add(model.Tally(p.Counts))
		}
		out[k.ISP] = ts
	}
	return out, nil
}

func bounces(db *state.DB, from, to time.Time, span time.Duration) (Bounces, error) {
	b := Bounces{Classes: []BounceClass{}, Top: []Signature{}}
	cur, err := db.TopReasons(0, "", from, to, 0)
	if err != nil {
		return b, err
	}
	prev, err := db.TopReasons(0, "", from.Add(-span), from, 0)
	if err != nil {
		return b, err
	}
	kindOf := func(r state.Reason) string {
		k := model.ClassifyBounce(model.BounceInput{Text: r.Sample}).Kind
		if k == model.BounceNone {
			return model.BounceOther.String()
		}
		return k.String()
	}
	type key struct{ side, isp, kind string }
	agg := map[key]*BounceClass{}
	// Complaints carry no reply: they are not failures of a class.
	keep := func(rs []state.Reason) []state.Reason {
		var out []state.Reason
		for _, r := range rs {
			if r.Signature != "" || r.Sample != "" {
				out = append(out, r)
			}
		}
		return out
	}
	cur, prev = keep(cur), keep(prev)
	add := func(rs []state.Reason, previous bool) {
		for _, r := range rs {
			k := key{r.Side.String(), r.ISP, kindOf(r)}
			c := agg[k]
			if c == nil {
				c = &BounceClass{Side: k.side, ISP: k.isp, Kind: k.kind}
				agg[k] = c
			}
			if previous {
				c.Previous += r.Count
			} else {
				c.Count += r.Count
			}
		}
	}
	add(cur, false)
	add(prev, true)
	for _, c := range agg {
		b.Classes = append(b.Classes, *c)
	}
	sort.Slice(b.Classes, func(i, j int) bool {
		x, y := b.Classes[i], b.Classes[j]
		if x.ISP != y.ISP {
			return x.ISP < y.ISP
		}
		if x.Side != y.Side {
			return x.Side < y.Side
		}
		return x.Kind < y.Kind
	})
	for i, r := range cur {
		if i == 10 {
			break
		}
		b.Top = append(b.Top, Signature{Side: r.Side.String(), ISP: r.ISP, Signature: r.Signature, Kind: kindOf(r), Count: r.Count, Sample: r.Sample})
	}
	return b, nil
}

func reputation(db *state.DB, r *Report) error {
	recs, err := baseline.ReadReputation(db)
	if err != nil {
		return err
	}
	from, to := r.From.Format("2006-01-02"), r.To.Format("2006-01-02")
	snds := map[string]SNDSRow{}
	pm := map[string]PostmasterRow{}
	blocked := map[string]bool{}
	for _, x := range recs {
		if x.Kind == model.RepSNDSStatus && x.Blocked {
			blocked[x.Subject] = true
		}
		if x.Date == "" || x.Date < from || x.Date >= to {
			continue
		}
		switch x.Kind {
		case model.RepSNDS:
			if cur, ok := snds[x.Subject]; !ok || x.Date >= cur.Date {
				snds[x.Subject] = SNDSRow{IP: x.Subject, Date: x.Date, Filter: x.Filter, ComplaintRate: x.ComplaintRate, TrapHits: x.TrapHits}
			}
		case model.RepPostmaster, model.RepPostmasterV2:
			cur, ok := pm[x.Subject]
			if ok && x.Date < cur.Date {
				continue
			}
			if !ok || x.Date > cur.Date {
				cur = PostmasterRow{Domain: x.Subject, Date: x.Date}
			}
			if x.HasSpam {
				v := x.SpamRate
				cur.SpamRate = &v
			}
			if x.DomainReputation != "" {
				cur.Reputation = x.DomainReputation
			}
			for k, v := range x.Metrics {
				if cur.Ratios == nil {
					cur.Ratios = map[string]float64{}
				}
				cur.Ratios[k] = v
			}
			for k, v := range x.Compliance {
				if cur.Compliance == nil {
					cur.Compliance = map[string]string{}
				}
				cur.Compliance[k] = v
			}
			pm[x.Subject] = cur
		}
	}
	for ip, s := range snds {
		s.Blocked = blocked[ip]
		r.Blocklists.SNDS = append(r.Blocklists.SNDS, s)
	}
	sort.Slice(r.Blocklists.SNDS, func(i, j int) bool { return r.Blocklists.SNDS[i].IP < r.Blocklists.SNDS[j].IP })
	for _, p := range pm {
		r.Auth.Postmaster = append(r.Auth.Postmaster, p)
	}
	sort.Slice(r.Auth.Postmaster, func(i, j int) bool { return r.Auth.Postmaster[i].Domain < r.Auth.Postmaster[j].Domain })
	return nil
}

func alertSection(in Input, r *Report) AlertSection {
	var s AlertSection
	st := model.ComputeSLA(in.Alerts, in.Hours, in.From, in.To, in.Now)
	s.Fired, s.Acked, s.Met, s.Missed, s.Open, s.Pending = st.Fired, st.Acked, st.Met, st.Missed, st.Open, st.Pending
	s.List = []AlertRow{}
	for _, a := range in.Alerts {
		if a.FiredAt.IsZero() || a.FiredAt.Before(in.From) || !a.FiredAt.Before(in.To) {
			continue
		}
		row := AlertRow{ID: a.ID, Rule: a.Rule, Severity: a.Severity, ISP: a.ISP, State: string(a.State), FiredAt: a.FiredAt.UTC(),
			DueBy: a.DueBy.UTC(), AckedBy: a.AckedBy, Summary: a.Summary, SLA: "pending"}
		if !a.AckedAt.IsZero() {
			row.TimeToAck = model.FormatDuration(a.TimeToAck(in.Hours))
		}
		if met, decided := a.SLAMet(in.Now); decided {
			row.SLA = "missed"
			if met {
				row.SLA = "met"
			}
		}
		s.List = append(s.List, row)
	}
	sort.SliceStable(s.List, func(i, j int) bool { return s.List[i].FiredAt.Before(s.List[j].FiredAt) })
	return s
}

// minSigma keeps a flat history (σ = 0) from making any wobble "> 3 σ":
// 0.1 percentage point is below anything an operator would act on.
const minSigma = 0.001

// anomalies: NEW daily rates more than 3 σ from the trailing 28-day mean
// (σ of the daily rates, ≥ 7 days with MinSample attempts), and volume days
// under half of the same weekday a week before (≥ 1,000 then).
func anomalies(daily map[string][]model.Tally, days []time.Time, hist int, th model.Thresholds) []Anomaly {
	out := []Anomaly{}
	isps := make([]string, 0, len(daily))
	for k := range daily {
		isps = append(isps, k)
	}
	sort.Strings(isps)
	metrics := []struct {
		name string
		rate func(model.Tally) (float64, uint64)
	}{
		{"deferral", func(t model.Tally) (float64, uint64) { return t.Rates().Deferred, t.Attempts() }},
		{"hard_bounce", func(t model.Tally) (float64, uint64) { return t.Rates().HardBounce, t.Attempts() }},
		{"complaint", func(t model.Tally) (float64, uint64) { return t.Rates().Complaint, t.Delivered }},
	}
	for _, isp := range isps {
		ds := daily[isp]
		for i := range days {
			at := hist + i
			day := days[i].Format("2006-01-02")
			for _, m := range metrics {
				v, n := m.rate(ds[at])
				if n < th.MinSample {
					continue
				}
				var xs []float64
				for j := at - hist; j < at; j++ {
					if j < 0 {
						continue
					}
					if x, nn := m.rate(ds[j]); nn >= th.MinSample {
						xs = append(xs, x)
					}
				}
				if len(xs) < 7 {
					continue
				}
				mean, sd := meanSD(xs)
				sig := math.Max(sd, minSigma)
				if math.Abs(v-mean) > 3*sig {
					out = append(out, Anomaly{Day: day, ISP: isp, Metric: m.name, Value: round6(v), Mean: round6(mean), Sigma: round6(sd),
						Note: fmt.Sprintf("%.2f %% vs %.2f %% mean (σ %.2f pt, %.1f σ)", v*100, mean*100, sd*100, math.Abs(v-mean)/sig)})
				}
			}
			if at >= 7 {
				before := ds[at-7].Delivered
				if now := ds[at].Delivered; before >= 1000 && now*2 < before {
					out = append(out, Anomaly{Day: day, ISP: isp, Metric: "volume", Value: float64(now), Mean: float64(before),
						Note: fmt.Sprintf("%d delivered, %d on the same weekday last week", now, before)})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out
}

func meanSD(xs []float64) (float64, float64) {
	var s float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(v / float64(len(xs)))
}

// maxLogLine bounds one suppression log line read by the report.
const maxLogLine = 64 << 10

// suppression counts the canonical log's events recorded in the period
// (the log is JSON Lines, append-only; a line that does not parse is
// skipped: suppress verify-log is the tool that reports it).
func suppression(db *state.DB, from, to time.Time) Suppression {
	path := suppress.DefaultLogPath(db.Path())
	s := Suppression{Log: filepath.Base(path), Events: []SupEventCount{}, Verify: "not recorded (run cutover suppress verify)"}
	f, err := os.Open(path)
	if err != nil {
		s.Chain = "no suppression log"
		return s
	}
	defer f.Close()
	type key struct{ typ, src string }
	counts := map[key]int{}
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			var ev struct {
				Type     string    `json:"type"`
				Source   string    `json:"source"`
				Recorded time.Time `json:"recorded"`
			}
			if json.Unmarshal(line, &ev) == nil && !ev.Recorded.Before(from) && ev.Recorded.Before(to) {
				counts[key{ev.Type, ev.Source}]++
				s.Total++
			}
		}
		if err != nil {
			break
		}
	}
	for k, n := range counts {
		s.Events = append(s.Events, SupEventCount{Type: k.typ, Source: k.src, Count: n})
	}
	sort.Slice(s.Events, func(i, j int) bool {
		if s.Events[i].Type != s.Events[j].Type {
			return s.Events[i].Type < s.Events[j].Type
		}
		return s.Events[i].Source < s.Events[j].Source
	})
	if vr, err := suppress.VerifyLog(path, nil); err != nil {
		s.Chain = "unreadable: " + err.Error()
	} else if vr.OK() {
		s.Chain = "verifies"
	} else {
		s.Chain = "BROKEN: " + vr.String()
	}
	return s
}

// readLine returns one line without its newline; a line longer than
// maxLogLine is read to its end and returned empty.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLogLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, err
		}
		return bytes.TrimRight(buf, "\r\n"), err
	}
}
