package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/owner"
)

func newMonitorCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "monitor", Short: "the 30-day monitoring window: day N, SLA, next report",
		Example: "  cutover monitor show --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, newMonitorShowCmd(o))
}

// monitorShow is `monitor show --json`.
type monitorShow struct {
	Start          string   `json:"start,omitempty"` // YYYY-MM-DD in the zone; "" unknown
	Day            int      `json:"day"`             // 1..days within the window, 0 before/unknown
	Days           int      `json:"days"`
	Timezone       string   `json:"timezone"`
	OperatingHours string   `json:"operating_hours"`
	AckSLA         string   `json:"ack_sla"`
	EscalateAfter  string   `json:"escalate_after,omitempty"`
	Fired          int      `json:"fired"`
	Acked          int      `json:"acked"`
	SLAMet         int      `json:"sla_met"`
	SLAMissed      int      `json:"sla_missed"`
	Open           int      `json:"open"`
	NextReport     string   `json:"next_report,omitempty"`
	Channels       []string `json:"channels"`
}

func newMonitorShowCmd(o cmdIO) *cobra.Command {
	var cfgPath, nowFlag string
	var asJSON bool
	c := command("show --config FILE [--json] [--now RFC3339]", "day N of the window, alerts against the ack SLA, next report",
		"  cutover monitor show --config cutover.toml", func(a []string) bool { return noArgs(a) && cfgPath != "" },
		func(_ *cobra.Command, _ []string) error {
			cfg, err := owner.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			m, err := cfg.Monitor()
			if err != nil {
				return err
			}
			all, now, err := loadAlerts(cfg, "monitor show")
			if err != nil {
				return err
			}
			if nowFlag != "" {
				if now, err = parseTimeFlag("--now", nowFlag); err != nil {
					return err
				}
			}
			start := m.Start
			if start.IsZero() {
				if d, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, true); err == nil {
					start, _ = m.MonitorStart(d)
					d.Close()
				}
			}
			return monitorShowTo(o.out, cfg, m, all, start, now, asJSON)
		})
	configFlag(c, &cfgPath, "")
	jsonFlag(c, &asJSON, "print JSON (keys: start, day, days, fired, acked, sla_met, sla_missed, open, next_report...)")
	c.Flags().StringVar(&nowFlag, "now", "", "evaluate at this time (RFC3339) instead of the clock")
	return c
}

func monitorShowTo(w io.Writer, cfg *owner.Config, m *owner.Monitor, all []model.Alert, start, now time.Time, asJSON bool) error {
	ms := monitorShow{Days: m.Days, Timezone: m.Zone.String(), OperatingHours: cfg.MonitorCfg.OperatingHours,
		AckSLA: model.FormatDuration(m.AckSLA), Channels: []string{}}
	if ms.OperatingHours == "" {
		ms.OperatingHours = "always (no operating_hours)"
	}
	if m.EscalateAfter > 0 {
		ms.EscalateAfter = model.FormatDuration(m.EscalateAfter)
	}
	var from, to time.Time
	if !start.IsZero() {
		ms.Start = start.In(m.Zone).Format("2006-01-02")
		if d := m.WindowDay(start, now); d <= m.Days {
			ms.Day = d
		}
		from, to = start, start.AddDate(0, 0, m.Days)
	}
	sla := model.ComputeSLA(all, m.Hours, from, to, now)
	ms.Fired, ms.Acked, ms.SLAMet, ms.SLAMissed, ms.Open = sla.Fired, sla.Acked, sla.Met, sla.Missed, sla.Open
	if n := m.NextWeekly(now); !n.IsZero() {
		ms.NextReport = n.Format("Mon 2006-01-02 15:04 MST")
	}
	for _, c := range m.Channels {
		name := c.Name
		if c.Escalation {
			name += " (escalation)"
		} else if c.MinSeverity != model.SevNone {
			name += " (≥ " + c.MinSeverity.String() + ")"
		}
		ms.Channels = append(ms.Channels, name)
	}
	if asJSON {
		return printJSON(w, ms)
	}
	switch {
	case ms.Start == "":
		fmt.Fprintf(w, "monitoring: not started (NEW has not carried 100 %% yet; or set [monitor] start)\n")
	case ms.Day == 0 && now.Before(start):
		fmt.Fprintf(w, "monitoring: starts %s (%d days)\n", ms.Start, m.Days)
	case ms.Day == 0:
		fmt.Fprintf(w, "monitoring: window of %d days from %s is over\n", m.Days, ms.Start)
	default:
		fmt.Fprintf(w, "monitoring: day %d of %d (since %s, %s)\n", ms.Day, m.Days, ms.Start, ms.Timezone)
	}
	esc := ""
	if ms.EscalateAfter != "" {
		esc = ", escalate after " + ms.EscalateAfter
	}
	fmt.Fprintf(w, "operating hours: %s; ack SLA %s%s\n", sanitizeCell(ms.OperatingHours), ms.AckSLA, esc)
	fmt.Fprintf(w, "alerts in the window: %d fired, %d acked, SLA met %d, missed %d, still open %d\n", ms.Fired, ms.Acked, ms.SLAMet, ms.SLAMissed, ms.Open)
	if ms.NextReport != "" {
		fmt.Fprintf(w, "next weekly report: %s\n", ms.NextReport)
	} else {
		fmt.Fprintln(w, "next weekly report: none scheduled ([monitor] weekly_report)")
	}
	if len(ms.Channels) == 0 {
		fmt.Fprintln(w, "channels: none ([[notify]])")
	} else {
		fmt.Fprintf(w, "channels: %s\n", strings.Join(ms.Channels, ", "))
	}
	return nil
}
