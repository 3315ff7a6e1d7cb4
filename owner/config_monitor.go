package owner

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"cutover/model"
	"cutover/state"
	"cutover/ui/notify"
)

// MonitorConfig is the [monitor] section (wave2 §8.2): the 30-day window
// after 100 %, the operating-hours clock of the ack SLA, escalation, and
// when the weekly report is written.
//
//	[monitor]
//	start = "2026-03-09"                 # or "auto"/"" (the first day NEW reached 100 %, else the first alert)
//	days = 30
//	timezone = "Europe/Berlin"
//	operating_hours = "Mon-Fri 08:00-18:00"
//	holidays = ["2026-04-03", "2026-04-06"]
//	ack_sla = "4h"
//	escalate_after = "2h"
//	weekly_report = "Mon 07:00"
//	reports_dir = "reports"              # relative to the config file
//	url = "https://cockpit.example/alerts"
type MonitorConfig struct {
	Start          string   `toml:"start"`
	Days           int      `toml:"days"`
	Timezone       string   `toml:"timezone"`
	OperatingHours string   `toml:"operating_hours"`
	Holidays       []string `toml:"holidays"`
	AckSLA         string   `toml:"ack_sla"`
	EscalateAfter  string   `toml:"escalate_after"`
	WeeklyReport   string   `toml:"weekly_report"`
	ReportsDir     string   `toml:"reports_dir"`
	ReportFormat   string   `toml:"report_format"`
	URL            string   `toml:"url"`
}

// NotifyConfig is one [[notify]] channel.
//
//	[[notify]]
//	kind = "webhook"   # webhook | smtp | exec
//	url = "https://hooks.example/…"
//	min_severity = "warn"
//	escalation = false # true: escalation notices only
//	[[notify]]
//	kind = "smtp"
//	via = "127.0.0.1:25"
//	from = "cutover@ops.example"
//	to = ["oncall@customer.example"]
//	[[notify]]
//	kind = "exec"
//	argv = ["/usr/local/bin/page", "{severity}", "{summary}"]
type NotifyConfig struct {
	Name        string   `toml:"name"`
	Kind        string   `toml:"kind"`
	URL         string   `toml:"url"`
	Via         string   `toml:"via"`
	From        string   `toml:"from"`
	To          []string `toml:"to"`
	HELO        string   `toml:"helo"`
	Argv        []string `toml:"argv"`
	MinSeverity string   `toml:"min_severity"`
	Escalation  bool     `toml:"escalation"`
	Timeout     string   `toml:"timeout"`
}

// AlertConfig is [alert] with its [[alert.rule]] overrides by name.
type AlertConfig struct {
	Rules []model.AlertRuleOverride `toml:"rule"`
}

// Monitor is the parsed [monitor] + [[notify]] + [[alert.rule]].
type Monitor struct {
	Start         time.Time // zero: auto
	Days          int
	Zone          *time.Location
	Hours         *model.OperatingHours
	AckSLA        time.Duration
	EscalateAfter time.Duration
	WeeklyDay     time.Weekday
	WeeklyAt      int // minutes after midnight in Zone; -1: no weekly report
	ReportsDir    string
	ReportFormat  string
	URL           string
	Rules         []model.AlertRule
	Channels      []notify.Channel
	// Pacing: [pacing] is configured and on (the report's section 8).
	Pacing bool
}

// Policy is the state machine's part.
func (m *Monitor) Policy() model.AlertPolicy {
	return model.AlertPolicy{Hours: m.Hours, AckSLA: m.AckSLA, EscalateAfter: m.EscalateAfter}
}

// Monitor parses the monitoring sections; errors name the section and key.
func (c *Config) Monitor() (*Monitor, error) {
	mc := c.MonitorCfg
	m := &Monitor{Days: mc.Days, AckSLA: 4 * time.Hour, WeeklyAt: -1, ReportFormat: "md", URL: mc.URL,
		Pacing: c.Pacing.Mode != "" && c.Pacing.Mode != model.PaceOff}
	if m.Days == 0 {
		m.Days = 30
	}
	if m.Days < 0 {
		return nil, fmt.Errorf("[monitor] days %d: want > 0", mc.Days)
	}
	m.Zone = time.UTC
	if mc.Timezone != "" {
		loc, err := time.LoadLocation(mc.Timezone)
		if err != nil {
			return nil, fmt.Errorf("[monitor] timezone %q: %v", mc.Timezone, err)
		}
		m.Zone = loc
	}
	if s := strings.TrimSpace(mc.Start); s != "" && s != "auto" {
		t, err := time.ParseInLocation("2006-01-02", s, m.Zone)
		if err != nil {
			return nil, fmt.Errorf("[monitor] start %q: want YYYY-MM-DD or \"auto\"", mc.Start)
		}
		m.Start = t
	}
	if mc.OperatingHours != "" || len(mc.Holidays) > 0 {
		spec := mc.OperatingHours
		if spec == "" {
			spec = "Mon-Sun 00:00-24:00"
		}
		oh, err := model.ParseOperatingHours(spec, m.Zone, mc.Holidays)
		if err != nil {
			return nil, fmt.Errorf("[monitor] %v", err)
		}
		m.Hours = oh
	} else {
		oh, _ := model.ParseOperatingHours("Mon-Sun 00:00-24:00", m.Zone, nil)
		m.Hours = oh
	}
	for _, d := range []struct {
		key, v string
		dst    *time.Duration
	}{{"ack_sla", mc.AckSLA, &m.AckSLA}, {"escalate_after", mc.EscalateAfter, &m.EscalateAfter}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("[monitor] %s %q: want a duration like 4h", d.key, d.v)
		}
		*d.dst = v
	}
	if mc.WeeklyReport != "" {
		day, clock, ok := strings.Cut(strings.TrimSpace(mc.WeeklyReport), " ")
		wd, okd := weekdayByName(day)
		hm, err := time.Parse("15:04", strings.TrimSpace(clock))
		if !ok || !okd || err != nil {
			return nil, fmt.Errorf("[monitor] weekly_report %q: want \"Mon 07:00\"", mc.WeeklyReport)
		}
		m.WeeklyDay, m.WeeklyAt = wd, hm.Hour()*60+hm.Minute()
	}
	switch mc.ReportFormat {
	case "", "md":
	case "html", "json":
		m.ReportFormat = mc.ReportFormat
	default:
		return nil, fmt.Errorf("[monitor] report_format %q: want md, html or json", mc.ReportFormat)
	}
	m.ReportsDir = mc.ReportsDir
	if m.ReportsDir == "" {
		m.ReportsDir = "reports"
	}
	if !filepath.IsAbs(m.ReportsDir) {
		base := filepath.Dir(c.Database.Path)
		if c.path != "" {
			base = filepath.Dir(c.path)
		}
		m.ReportsDir = filepath.Join(base, m.ReportsDir)
	}
	rules, err := model.MergeAlertRules(model.DefaultAlertRules(), c.Alert.Rules)
	if err != nil {
		return nil, err
	}
	m.Rules = rules
	for i, n := range c.Notify {
		ch, err := n.channel(i)
		if err != nil {
			return nil, err
		}
		m.Channels = append(m.Channels, ch)
	}
	return m, nil
}

func weekdayByName(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()[:3]) || strings.EqualFold(s, d.String()) {
			return d, true
		}
	}
	return 0, false
}

func (n NotifyConfig) channel(i int) (notify.Channel, error) {
	where := fmt.Sprintf("[[notify]] #%d", i+1)
	name := n.Name
	if name == "" {
		name = fmt.Sprintf("%s#%d", n.Kind, i+1)
	}
	sev, err := model.ParseSeverity(n.MinSeverity)
	if err != nil {
		return notify.Channel{}, fmt.Errorf("%s: min_severity: %v", where, err)
	}
	var to time.Duration
	if n.Timeout != "" {
		if to, err = time.ParseDuration(n.Timeout); err != nil || to <= 0 {
			return notify.Channel{}, fmt.Errorf("%s: timeout %q: want a duration like 10s", where, n.Timeout)
		}
	}
	ch := notify.Channel{Name: name, MinSeverity: sev, Escalation: n.Escalation}
	switch n.Kind {
	case "webhook":
		u, err := url.Parse(n.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ch, fmt.Errorf("%s: url %q: want http(s)://host/…", where, n.URL)
		}
		ch.Sender = notify.Webhook{URL: n.URL, Timeout: to}
	case "smtp":
		if _, _, err := net.SplitHostPort(n.Via); err != nil {
			return ch, fmt.Errorf("%s: via %q: want host:port of the relay", where, n.Via)
		}
		if len(n.To) == 0 {
			return ch, fmt.Errorf("%s: to is empty", where)
		}
		from := n.From
		if from == "" {
			from = "cutover@localhost"
		}
		ch.Sender = notify.SMTP{Via: n.Via, From: from, To: n.To, HELO: n.HELO, Timeout: to}
	case "exec":
		if len(n.Argv) == 0 || !filepath.IsAbs(n.Argv[0]) {
			return ch, fmt.Errorf("%s: argv: want an absolute program path first (no shell runs it)", where)
		}
		ch.Sender = notify.Exec{Argv: n.Argv, Timeout: to}
	default:
		return ch, fmt.Errorf("%s: kind %q: want webhook, smtp or exec", where, n.Kind)
	}
	return ch, nil
}

// NextWeekly is the first weekly-report time after now ("Mon 07:00" in the
// zone); zero when no weekly report is configured.
func (m *Monitor) NextWeekly(now time.Time) time.Time {
	if m.WeeklyAt < 0 {
		return time.Time{}
	}
	t := now.In(m.Zone)
	for i := 0; i <= 7; i++ {
		d := t.AddDate(0, 0, i)
		at := time.Date(d.Year(), d.Month(), d.Day(), m.WeeklyAt/60, m.WeeklyAt%60, 0, 0, m.Zone)
		if d.Weekday() == m.WeeklyDay && at.After(now) {
			return at
		}
	}
	return time.Time{}
}

// WindowDay is the monitoring day of now (1 = the start day) in the zone;
// 0 before the start or when the start is unknown.
func (m *Monitor) WindowDay(start, now time.Time) int {
	if start.IsZero() {
		return 0
	}
	s := start.In(m.Zone)
	n := now.In(m.Zone)
	a := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
	b := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	if b.Before(a) {
		return 0
	}
	return int(b.Sub(a).Hours()/24) + 1
}

// MonitorStart is [monitor] start, or with "auto" the first day (in the
// zone) on which NEW carried at least 99 % of the attempts: the day the
// plan reached 100 % as the counters show it. Zero when that never happened.
func (m *Monitor) MonitorStart(db *state.DB) (time.Time, error) {
	if !m.Start.IsZero() {
		return m.Start, nil
	}
	newest := db.Newest()
	if newest.IsZero() {
		return time.Time{}, nil
	}
	until := newest.Truncate(24 * time.Hour).Add(24 * time.Hour)
	series, err := db.Series(state.SeriesQuery{Since: until.Add(-400 * 24 * time.Hour), Until: until, Step: 24 * time.Hour})
	if err != nil {
		return time.Time{}, err
	}
	var n int
	for _, pts := range series {
		n = len(pts)
		break
	}
	for i := 0; i < n; i++ {
		var o, nw uint64
		var day time.Time
		for k, pts := range series {
			day = pts[i].Start
			a := model.Tally(pts[i].Counts).Attempts()
			if k.Side == model.SideOld {
				o += a
			} else if k.Side == model.SideNew {
				nw += a
			}
		}
		if nw > 0 && o*99 <= nw {
			d := day.In(m.Zone)
			return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, m.Zone), nil
		}
	}
	return time.Time{}, nil
}
