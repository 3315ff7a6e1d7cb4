package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/owner"
	"cutover/state/alerts"
)

func newAlertsCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "alerts", Short: "the monitor's alerts: list, acknowledge, test the channels",
		Example: "  cutover alerts list --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, newAlertsListCmd(o), newAlertsAckCmd(o), newAlertsTestCmd(o))
}

// loadAlerts reads every stored alert: from the database read-only, or
// from the owner holding it. now is the owner's clock when it answered.
func loadAlerts(cfg *owner.Config, command string) ([]model.Alert, time.Time, error) {
	d, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, true)
	if err == nil {
		defer d.Close()
		all, _, err := alerts.All(d)
		return all, time.Now().UTC(), err
	}
	cl, aerr := attachOwner(cfg.Database.Path, true, command, err)
	if aerr != nil {
		return nil, time.Time{}, aerr
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r owner.AlertsListReply
	if err := cl.Call(ctx, owner.OpAlertsList, struct{}{}, &r); err != nil {
		return nil, time.Time{}, err
	}
	return r.Alerts, r.Now, nil
}

func newAlertsListCmd(o cmdIO) *cobra.Command {
	var cfgPath string
	var all, asJSON bool
	c := command("list --config FILE [--all] [--json]", "fired alerts with their SLA due time (--all: resolved too)",
		"  cutover alerts list --config cutover.toml --all", func(a []string) bool { return noArgs(a) && cfgPath != "" },
		func(_ *cobra.Command, _ []string) error {
			cfg, err := owner.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			m, _ := cfg.Monitor()
			list, now, err := loadAlerts(cfg, "alerts list")
			if err != nil {
				return err
			}
			var out []model.Alert
			for _, a := range list {
				if all || a.Fired() {
					out = append(out, a)
				}
			}
			if asJSON {
				if out == nil {
					out = []model.Alert{}
				}
				return printJSON(o.out, out)
			}
			return alertsTable(o.out, out, m.Hours, now)
		})
	configFlag(c, &cfgPath, "")
	c.Flags().BoolVar(&all, "all", false, "include pending and resolved alerts")
	jsonFlag(c, &asJSON, "print the alerts as a JSON array (the stored model.Alert keys)")
	return c
}

func alertsTable(w io.Writer, list []model.Alert, oh *model.OperatingHours, now time.Time) error {
	if len(list) == 0 {
		fmt.Fprintln(w, "no alerts")
		return nil
	}
	zone := oh.Zone()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEV\tRULE\tISP\tSIDE\tSTATE\tFIRED\tSLA\tSUMMARY")
	for _, a := range list {
		fired, sla := "-", ""
		if !a.FiredAt.IsZero() {
			fired = a.FiredAt.In(zone).Format("Mon 01-02 15:04")
		}
		switch {
		case a.State == model.AlertFiring:
			sla = a.DueText(now)
		case !a.AckedAt.IsZero():
			met, _ := a.SLAMet(now)
			word := "missed"
			if met {
				word = "met"
			}
			sla = fmt.Sprintf("acked by %s after %s (%s)", sanitizeCell(a.AckedBy), model.FormatDuration(a.TimeToAck(oh)), word)
		case a.State == model.AlertResolved:
			sla = "resolved unacked"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Severity, sanitizeCell(a.Rule), sanitizeCell(a.ISP), a.Side,
			a.State, fired, sla, sanitizeCell(a.Summary))
	}
	return tw.Flush()
}

func newAlertsAckCmd(o cmdIO) *cobra.Command {
	var cfgPath, by, note string
	c := command("ack --config FILE ID --by NAME [--note TEXT]", "acknowledge a firing alert: repeats and escalation stop",
		"  cutover alerts ack --config cutover.toml 7 --by alice --note \"throttled gmail\"", func(a []string) bool { return oneArg(a) && cfgPath != "" },
		func(_ *cobra.Command, args []string) error {
			if by == "" {
				return usageError{"--by NAME is required (who answers the alert)"}
			}
			cfg, err := owner.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			m, _ := cfg.Monitor()
			var a model.Alert
			d, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
			if err == nil {
				a, err = alerts.Ack(d, args[0], by, note, time.Now())
				d.Close()
			} else {
				cl, aerr := attachOwner(cfg.Database.Path, false, "alerts ack", err)
				if aerr != nil {
					return aerr
				}
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err = cl.Call(ctx, owner.OpAlertsAck, owner.AlertsAckRequest{ID: args[0], By: by, Note: note}, &a)
			}
			if err != nil {
				return err
			}
			met, _ := a.SLAMet(a.AckedAt)
			word := "SLA missed"
			if met {
				word = "SLA met"
			}
			fmt.Fprintf(o.out, "alert %s %s %s acked by %s after %s of operating time (%s)\n", a.ID, sanitizeCell(a.Rule), sanitizeCell(a.ISP),
				sanitizeCell(a.AckedBy), model.FormatDuration(a.TimeToAck(m.Hours)), word)
			return nil
		})
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&by, "by", "", "who acknowledges (recorded, shown in the weekly report)")
	c.Flags().StringVar(&note, "note", "", "what was done")
	return c
}

func newAlertsTestCmd(o cmdIO) *cobra.Command {
	var cfgPath, rule string
	c := command("test --config FILE [--rule NAME]", "send a test notification through every [[notify]] channel",
		"  cutover alerts test --config cutover.toml", func(a []string) bool { return noArgs(a) && cfgPath != "" },
		func(_ *cobra.Command, _ []string) error {
			cfg, err := owner.LoadConfig(cfgPath)
			if err != nil {
				return err
			}
			m, err := cfg.Monitor()
			if err != nil {
				return err
			}
			if len(m.Channels) == 0 {
				return errors.New("no [[notify]] channel configured")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			failed := 0
			for _, r := range owner.SendTest(ctx, m, rule, time.Now()) {
				if r.Err != "" {
					failed++
					fmt.Fprintf(o.out, "%s: FAILED: %s\n", sanitizeCell(r.Channel), sanitizeCell(r.Err))
					continue
				}
				fmt.Fprintf(o.out, "%s: sent\n", sanitizeCell(r.Channel))
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d channels failed", failed, len(m.Channels))
			}
			return nil
		})
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&rule, "rule", "", "rule name to put in the test message")
	return c
}
