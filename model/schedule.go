package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Schedule is the cutover plan as a runbook (wave2 §6.3): the steps with
// their dates and minimum dwell, the NEW IPs' warm-up schedule, and what the
// gate requires. mtactl's Plan already means a previewed config change, hence
// the name.
type Schedule struct {
	ID             string         `json:"id"`
	Start          time.Time      `json:"start"`
	Steps          []StepPlan     `json:"steps"`
	WarmupSchedule WarmupSchedule `json:"warmup_schedule"`
	NewIPs         int            `json:"new_ips"`
	Providers      []string       `json:"providers,omitempty"`
	GateRules      GateRules      `json:"gate_rules"`
	// DailyVolume is the whole daily volume the plan expects (both sides);
	// Shares each provider's fraction of it, from history (empty: unknown).
	DailyVolume int                `json:"daily_volume,omitempty"`
	Shares      map[string]float64 `json:"shares,omitempty"`
}

// StepPlan is one stop of the plan: the share to NEW from Start on, held at
// least MinDwell before the gate may pass.
type StepPlan struct {
	Ratio    int            `json:"ratio"`
	Start    time.Time      `json:"start"`
	MinDwell time.Duration  `json:"min_dwell"`
	PerISP   map[string]int `json:"per_isp,omitempty"`
}

// DefaultDwellDays is the seed's weekly cadence (§6.4).
const DefaultDwellDays = 7

// NewSchedule lays out steps (ratios > 0; nil gives DefaultSteps) back to
// back from start, dwellDays each.
func NewSchedule(id string, start time.Time, steps []int, dwellDays int, ws WarmupSchedule, newIPs int) (Schedule, error) {
	if dwellDays < 1 {
		return Schedule{}, fmt.Errorf("dwell %d days: want at least 1", dwellDays)
	}
	if newIPs < 1 {
		return Schedule{}, fmt.Errorf("new IPs %d: want at least 1", newIPs)
	}
	if err := ws.Validate(); err != nil {
		return Schedule{}, err
	}
	ratios, err := planRatios(steps)
	if err != nil {
		return Schedule{}, err
	}
	s := Schedule{ID: id, Start: start, WarmupSchedule: ws, NewIPs: newIPs, GateRules: DefaultGateRules()}
	dwell := time.Duration(dwellDays) * 24 * time.Hour
	for i, r := range ratios {
		s.Steps = append(s.Steps, StepPlan{Ratio: r, Start: start.Add(time.Duration(i) * dwell), MinDwell: dwell})
	}
	return s, nil
}

// planRatios keeps the sending steps: the baseline 0 is not a step of the
// plan (it is where rollback goes).
func planRatios(steps []int) ([]int, error) {
	if len(steps) == 0 {
		steps = DefaultSteps
	}
	var out []int
	prev := 0
	for _, v := range steps {
		if v < 0 || v > 100 {
			return nil, fmt.Errorf("plan step %d%%: want 0-100", v)
		}
		if v == 0 {
			continue
		}
		if v < prev {
			return nil, fmt.Errorf("plan step %d%% after %d%%: steps must not decrease", v, prev)
		}
		out = append(out, v)
		prev = v
	}
	if len(out) == 0 {
		return nil, errors.New("plan has no step above 0%")
	}
	return out, nil
}

// WarmupSchedule is a per-IP warm-up volume by warm-up day. Exactly one of
// Daily and Hourly is set; an hourly schedule's day is Hourly ×
// SendingHours.
type WarmupSchedule struct {
	Name         string `json:"name"`
	Daily        []int  `json:"daily,omitempty"`  // per IP, warm-up day 1..len
	Hourly       []int  `json:"hourly,omitempty"` // per IP, warm-up day 1..len
	SendingHours int    `json:"sending_hours,omitempty"`
	Source       string `json:"source,omitempty"`
}

// SparkPostSchedule is SparkPost's published per-IP daily schedule, the one
// WarmupDaily holds (not copied: the same slice).
func SparkPostSchedule() WarmupSchedule {
	return WarmupSchedule{Name: "sparkpost", Daily: WarmupDaily,
		Source: "SparkPost ip-warm-up-overview (suppression-bounce-isp.md §5.4)"}
}

// sendGridHourly is SendGrid's automated warm-up hourly limit per IP for
// warm-up age day 0..41 (wave2.md, twilio docs "View the Automated IP warmup
// hourly send schedule"); our day 1 is their day 0.
var sendGridHourly = []int{20, 28, 39, 55, 77, 108, 151, 211, 295, 413, 579, 810, 1000, 1587,
	2222, 3111, 4356, 6098, 8583, 11953, 16734, 23427, 32798, 45917, 64284, 89998, 125997,
	176395, 246953, 345735, 484029, 677640, 948696, 1328175, 1859444, 2603222, 3644511,
	5102316, 7143242, 10000539, 14000754, 19601056}

// SendGridSchedule is SendGrid's hourly schedule; daily = hourly ×
// WarmupWindowHours unless SendingHours is changed.
func SendGridSchedule() WarmupSchedule {
	return WarmupSchedule{Name: "sendgrid", Hourly: sendGridHourly, SendingHours: WarmupWindowHours,
		Source: "SendGrid automated IP warm-up hourly schedule (wave2.md)"}
}

// The KumoMTA presets, per-source daily limits by warm-up day
// (KumoCorp/kumomta assets/policy-extras/warmup.toml, commit bedf004).
var (
	kumoConservative = []int{50, 100, 200, 400, 800, 1500, 3000, 5000, 7500, 10000, 12500, 15000,
		20000, 25000, 30000, 35000, 40000, 45000, 50000, 55000, 60000, 70000, 80000, 90000, 100000,
		110000, 120000, 135000, 150000, 175000}
	kumoAggressive = []int{200, 500, 1000, 2500, 5000, 10000, 20000, 35000, 50000, 75000, 100000,
		150000, 200000, 300000}
	kumoTransactional = []int{100, 250, 500, 1000, 2000, 4000, 8000, 12000, 18000, 25000, 35000,
		45000, 60000, 80000, 100000, 125000, 150000, 175000, 200000, 250000, 300000}
)

const kumoSource = "KumoMTA policy-extras/warmup.toml (commit bedf004)"

// WarmupScheduleNames are the shipped schedules, for help and errors.
var WarmupScheduleNames = []string{"sparkpost", "sendgrid", "kumo-conservative", "kumo-aggressive", "kumo-transactional"}

// WarmupScheduleByName returns a shipped schedule.
func WarmupScheduleByName(name string) (WarmupSchedule, error) {
	switch name {
	case "", "sparkpost":
		return SparkPostSchedule(), nil
	case "sendgrid":
		return SendGridSchedule(), nil
	case "kumo-conservative":
		return WarmupSchedule{Name: name, Daily: kumoConservative, Source: kumoSource}, nil
	case "kumo-aggressive":
		return WarmupSchedule{Name: name, Daily: kumoAggressive, Source: kumoSource}, nil
	case "kumo-transactional":
		return WarmupSchedule{Name: name, Daily: kumoTransactional, Source: kumoSource}, nil
	}
	return WarmupSchedule{}, fmt.Errorf("warm-up schedule %q: want one of %s, or a file", name, strings.Join(WarmupScheduleNames, ", "))
}

// maxScheduleDays bounds a schedule read from a file.
const maxScheduleDays = 3650

// ParseWarmupSchedule reads a schedule file: either the JSON form of
// WarmupSchedule ({"name":..., "daily":[...]} or "hourly" with
// "sending_hours"), or text with one per-IP daily volume per line (day 1
// first; blank lines and # comments ignored). Errors name the line.
func ParseWarmupSchedule(name string, data []byte) (WarmupSchedule, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var ws WarmupSchedule
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ws); err != nil {
			return WarmupSchedule{}, fmt.Errorf("%s: %v", name, err)
		}
		if ws.Name == "" {
			ws.Name = name
		}
		if len(ws.Daily)+len(ws.Hourly) > maxScheduleDays {
			return WarmupSchedule{}, fmt.Errorf("%s: more than %d days", name, maxScheduleDays)
		}
		ws.Source = name
		return ws, ws.Validate()
	}
	ws := WarmupSchedule{Name: name, Source: name}
	for i, line := range strings.Split(string(data), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		v, err := strconv.Atoi(strings.ReplaceAll(line, ",", ""))
		if err != nil || v <= 0 {
			return WarmupSchedule{}, fmt.Errorf("%s line %d: %q is not a positive daily volume", name, i+1, clipText(line, 40))
		}
		if len(ws.Daily) >= maxScheduleDays {
			return WarmupSchedule{}, fmt.Errorf("%s line %d: more than %d days", name, i+1, maxScheduleDays)
		}
		ws.Daily = append(ws.Daily, v)
	}
	return ws, ws.Validate()
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Validate checks that the schedule has exactly one non-empty table of
// positive values.
func (w WarmupSchedule) Validate() error {
	if (len(w.Daily) == 0) == (len(w.Hourly) == 0) {
		return fmt.Errorf("warm-up schedule %q: want either a daily or an hourly table", w.Name)
	}
	for i, v := range append(append([]int(nil), w.Daily...), w.Hourly...) {
		if v <= 0 {
			return fmt.Errorf("warm-up schedule %q day %d: %d, want > 0", w.Name, i+1, v)
		}
	}
	if w.SendingHours < 0 || w.SendingHours > 24 {
		return fmt.Errorf("warm-up schedule %q: sending hours %d, want 1-24", w.Name, w.SendingHours)
	}
	return nil
}

// PerIPDaily is one IP's volume on warm-up day day (1-based; < 1 counts as
// 1); 0 means past the table: warmed up, no cap.
func (w WarmupSchedule) PerIPDaily(day int) int {
	day = max(day, 1)
	if len(w.Hourly) > 0 {
		if day > len(w.Hourly) {
			return 0
		}
		h := w.SendingHours
		if h <= 0 {
			h = WarmupWindowHours
		}
		return w.Hourly[day-1] * h
	}
	if day > len(w.Daily) {
		return 0
	}
	return w.Daily[day-1]
}

// SimLevel marks a simulated day that cannot carry its step.
type SimLevel uint8

const (
	SimOK   SimLevel = iota
	SimInfo          // below the wanted volume: expected while a step ramps
	SimWarn          // a checkpoint day under half the step
)

func (l SimLevel) String() string {
	switch l {
	case SimInfo:
		return "INFO"
	case SimWarn:
		return "WARN"
	}
	return "OK"
}

// SimDay is one day of the feasibility simulation (§6.4).
type SimDay struct {
	Day        int      `json:"day"` // 1-based plan day
	Step       int      `json:"step"`
	Ratio      int      `json:"ratio"`
	WarmupDay  int      `json:"warmup_day"`
	Wanted     int      `json:"wanted"`
	Cap        int      `json:"cap"` // 0 = no cap (warmed up)
	Effective  int      `json:"effective"`
	Checkpoint bool     `json:"checkpoint"`
	Level      SimLevel `json:"level"`
	IPsNeeded  int      `json:"ips_needed,omitempty"` // ceil(wanted / per-IP day); 0 when uncapped
}

// Share is the effective NEW volume as a fraction of the whole daily volume.
func (d SimDay) Share(dailyVolume int) float64 {
	if dailyVolume <= 0 {
		return 0
	}
	return float64(d.Effective) / float64(dailyVolume)
}

// Note is the line shown for INFO/WARN days, "" otherwise.
func (d SimDay) Note() string {
	switch d.Level {
	case SimInfo:
		return fmt.Sprintf("%d %% would need %d IPs on warm-up day %d", d.Ratio, d.IPsNeeded, d.WarmupDay)
	case SimWarn:
		return fmt.Sprintf("checkpoint day %d: %d < 0.5 × %d at %d %%, needs %d IPs", d.Day, d.Effective, d.Wanted, d.Ratio, d.IPsNeeded)
	}
	return ""
}

// Simulate runs the plan day by day: wanted = step share × dailyVolume, cap
// = the schedule's per-IP day × newIPs, effective = min(wanted, cap). It
// assumes every day delivers its effective volume, so the warm-up day is the
// plan day (the ≥ 90 % rule of §6.4 never holds it back here). The last day
// of each step is its checkpoint: WARN there when effective < 0.5 × wanted;
// any other shortfall is INFO. Both carry ips_needed = ceil(wanted / per-IP
// day). steps and dwellDays as for NewSchedule; after the last step the plan
// stays at it.
func Simulate(dailyVolume, newIPs int, steps []int, dwellDays int, ws WarmupSchedule, days int) ([]SimDay, error) {
	if dailyVolume < 0 {
		return nil, fmt.Errorf("daily volume %d: want ≥ 0", dailyVolume)
	}
	if days < 0 {
		return nil, fmt.Errorf("days %d: want ≥ 0", days)
	}
	s, err := NewSchedule("", time.Time{}, steps, dwellDays, ws, newIPs)
	if err != nil {
		return nil, err
	}
	out := make([]SimDay, 0, days)
	for d := 1; d <= days; d++ {
		step := min((d-1)/dwellDays, len(s.Steps)-1)
		r := s.Steps[step].Ratio
		sd := SimDay{Day: d, Step: step + 1, Ratio: r, WarmupDay: d,
			Wanted:     ExpectedDaily(r, dailyVolume),
			Checkpoint: d == (step+1)*dwellDays}
		perIP := ws.PerIPDaily(d)
		sd.Effective = sd.Wanted
		if perIP > 0 {
			sd.Cap = perIP * newIPs
			sd.Effective = min(sd.Wanted, sd.Cap)
			sd.IPsNeeded = (sd.Wanted + perIP - 1) / perIP
		}
		if sd.Effective < sd.Wanted {
			sd.Level = SimInfo
			if sd.Checkpoint && 2*sd.Effective < sd.Wanted {
				sd.Level = SimWarn
			}
		}
		out = append(out, sd)
	}
	return out, nil
}

// GateRules are the gate's own limits (§6.4); the health and NEW-worse
// limits come from Thresholds.
type GateRules struct {
	MinAttempts  uint64  `json:"min_attempts"`  // NEW attempts, at least max(this, Thresholds.MinSample)
	MinDelivered uint64  `json:"min_delivered"` // 900 bounds a zero-complaint rate < 0.30 % at 95 %
	MaxComplaint float64 `json:"max_complaint"` // point estimate must be below
	MaxUpper     float64 `json:"max_upper"`     // Wilson 95 % upper bound must be below
}

// DefaultGateRules are §6.4's numbers.
func DefaultGateRules() GateRules {
	return GateRules{MinAttempts: 1000, MinDelivered: 900, MaxComplaint: 0.001, MaxUpper: 0.003}
}

func (g GateRules) withDefaults() GateRules {
	d := DefaultGateRules()
	if g.MinAttempts == 0 {
		g.MinAttempts = d.MinAttempts
	}
	if g.MinDelivered == 0 {
		g.MinDelivered = d.MinDelivered
	}
	if g.MaxComplaint <= 0 {
		g.MaxComplaint = d.MaxComplaint
	}
	if g.MaxUpper <= 0 {
		g.MaxUpper = d.MaxUpper
	}
	return g
}

// GateVerdict orders PASS < HOLD < FAIL so the worst item wins.
type GateVerdict uint8

const (
	GatePass GateVerdict = iota
	GateHold
	GateFail
)

func (v GateVerdict) String() string {
	switch v {
	case GateHold:
		return "HOLD"
	case GateFail:
		return "FAIL"
	}
	return "PASS"
}

// GateItem is one gate check with the reason the report shows.
type GateItem struct {
	Name    string      `json:"name"`
	Verdict GateVerdict `json:"verdict"`
	Reason  string      `json:"reason"`
}

// GateInput is what the count-based gate items need: the time at the
// current step and both sides' counts over the window.
type GateInput struct {
	AtStep   time.Duration
	MinDwell time.Duration
	Old, New Tally
}

// GateResult is the verdict (worst item) with every item, plus the numbers
// behind the complaint item.
type GateResult struct {
	Verdict        GateVerdict `json:"verdict"`
	Items          []GateItem  `json:"items"`
	ComplaintRate  float64     `json:"complaint_rate"`
	ComplaintUpper float64     `json:"complaint_upper"`
	AcceptWarn     bool        `json:"accept_warn"` // health WARN: the signoff must accept it
}

// WilsonZ95 is the one-sided 95 % normal quantile.
const WilsonZ95 = 1.645

// WilsonUpper is the upper bound of the Wilson score interval for x events
// in n trials at normal quantile z; 0 for n == 0 (nothing to bound: the
// sample item holds such a gate first).
func WilsonUpper(x, n uint64, z float64) float64 {
	if n == 0 {
		return 0
	}
	nf := float64(n)
	p := min(float64(x)/nf, 1)
	z2 := z * z
	return (p + z2/(2*nf) + z*math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))) / (1 + z2/nf)
}

// EvaluateGate runs the count-based gate items of §6.4 — dwell, sample,
// health, worse, complaints — in that order. Blocks, auth, suppression,
// reputation and sources need state this package does not hold; callers add
// them and take the worst.
func EvaluateGate(in GateInput, th Thresholds, g GateRules) GateResult {
	th = th.WithDefaults()
	g = g.withDefaults()
	var res GateResult
	add := func(name string, v GateVerdict, reason string) {
		res.Items = append(res.Items, GateItem{Name: name, Verdict: v, Reason: reason})
		res.Verdict = max(res.Verdict, v)
	}

	if in.AtStep >= in.MinDwell {
		add("dwell", GatePass, fmt.Sprintf("%s at step ≥ %s", days(in.AtStep), days(in.MinDwell)))
	} else {
		add("dwell", GateHold, fmt.Sprintf("%s at step < min dwell %s", days(in.AtStep), days(in.MinDwell)))
	}

	n := in.New
	minAtt := max(g.MinAttempts, th.MinSample)
	res.ComplaintRate = ratio(n.Complaints, n.Delivered)
	res.ComplaintUpper = WilsonUpper(n.Complaints, n.Delivered, WilsonZ95)
	if a := n.Attempts(); a < minAtt || n.Delivered < g.MinDelivered {
		add("sample", GateHold, fmt.Sprintf("insufficient sample: %d attempts (need %d), %d delivered (need %d); complaint upper bound %.2f %%",
			a, minAtt, n.Delivered, g.MinDelivered, 100*res.ComplaintUpper))
	} else {
		add("sample", GatePass, fmt.Sprintf("%d attempts, %d delivered", a, n.Delivered))
	}

	v := th.Judge(n)
	switch v.Overall {
	case HealthCrit:
		add("health", GateFail, fmt.Sprintf("NEW critical: deferral %s, hard bounce %s, complaint %s", v.Deferral, v.HardBounce, v.Complaint))
	case HealthWarn:
		res.AcceptWarn = true
		add("health", GatePass, fmt.Sprintf("NEW warn (signoff must accept): deferral %s, hard bounce %s, complaint %s", v.Deferral, v.HardBounce, v.Complaint))
	default:
		add("health", GatePass, fmt.Sprintf("NEW %s", v.Overall))
	}

	w := th.Compare(in.Old, n)
	if w.Any() {
		add("worse", GateFail, fmt.Sprintf("NEW worse than OLD: deferral %v (z %.2f), hard bounce %v (z %.2f), complaint %v (z %.2f)",
			w.Deferral, w.ZDeferral, w.HardBounce, w.ZHardBounce, w.Complaint, w.ZComplaint))
	} else {
		add("worse", GatePass, fmt.Sprintf("not worse: z deferral %.2f, hard bounce %.2f, complaint %.2f", w.ZDeferral, w.ZHardBounce, w.ZComplaint))
	}

	reason := fmt.Sprintf("complaints %d/%d = %.3f %% (limit %.2f %%), 95 %% upper %.3f %% (limit %.2f %%)",
		n.Complaints, n.Delivered, 100*res.ComplaintRate, 100*g.MaxComplaint, 100*res.ComplaintUpper, 100*g.MaxUpper)
	switch {
	case n.Delivered < g.MinDelivered:
		// A small sample's upper bound is wide by construction: that is the
		// sample item's HOLD, not a complaint FAIL, unless the point estimate
		// itself is over the limit.
		if res.ComplaintRate >= g.MaxComplaint && n.Complaints >= th.MinEvents {
			add("complaints", GateFail, reason)
		} else {
			add("complaints", GateHold, "not judged, insufficient sample: "+reason)
		}
	case res.ComplaintRate < g.MaxComplaint && res.ComplaintUpper < g.MaxUpper:
		add("complaints", GatePass, reason)
	default:
		add("complaints", GateFail, reason)
	}
	return res
}

func days(d time.Duration) string { return fmt.Sprintf("%.1fd", d.Hours()/24) }
