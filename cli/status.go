package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	"cutover/ui"
	"cutover/ui/attach"

	"github.com/spf13/cobra"
)

type statusFlags struct {
	cfgPath, dbPath string
	asJSON          bool
	window          time.Duration
}

func newStatusCmd() *cobra.Command {
	var f statusFlags
	c := command("status [--json] [--window 1h] [--config FILE | --db FILE]",
		"health summary for a shell or a monitoring check",
		"  cutover status --config cutover.toml --window 30m",
		func(args []string) bool { return noArgs(args) && (f.cfgPath == "") != (f.dbPath == "") && f.window > 0 },
		func(_ *cobra.Command, _ []string) error { return exitError{status(f)} })
	c.Long = `One screen for a shell, a pager or a monitoring check: per provider OLD vs NEW
volumes, rates and health marks, the sources, the current ratio and the last
config change. Asks the running owner over <db>.sock, or reads the database
read-only when no owner runs.`
	c.Annotations[annExit] = `0 all OK, 1 WARN, 2 CRIT, 3 unknown (error, bad command line). The status is
the worst of: any provider's health on either side (deferral, hard-bounce and
complaint rates against the thresholds; too little traffic is no mark), NEW
worse than OLD beyond noise (WARN), a stale or unreachable source (WARN), no
owner following the sources (WARN), and a failed last config change (WARN
when the previous files were restored, CRIT when not).`
	// 0/1/2 are the health marks: a usage error must not reuse them.
	c.Annotations[annUsageExit] = strconv.Itoa(owner.StatusExitUnknown)
	jsonFlag(c, &f.asJSON, "print the report as JSON (keys: status, exit_code, reasons, providers, sources, ratio_new, last_change...)")
	c.Flags().DurationVar(&f.window, "window", time.Hour, "compare over this window, ending now")
	configFlag(c, &f.cfgPath, "config file (database path, [mtactl] for the ratio when no owner runs)")
	dbFlag(c, &f.dbPath, "database file (instead of --config)")
	return c
}

// status prints the report and returns the exit code.
func status(f statusFlags) int {
	rep, err := statusReportFor(f.cfgPath, f.dbPath, f.window)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cutover status: %v\n", err)
		return owner.StatusExitUnknown
	}
	if f.asJSON {
		if err := printJSON(os.Stdout, rep); err != nil {
			return owner.StatusExitUnknown
		}
	} else if err := writeStatusText(os.Stdout, rep); err != nil {
		return owner.StatusExitUnknown
	}
	return rep.ExitCode
}

// statusReportFor asks the owner when one answers on the socket, else opens
// the database read-only.
func statusReportFor(cfgPath, dbPath string, window time.Duration) (*owner.StatusReport, error) {
	allowNet := false
	var mc *mtactl.Config
	if cfgPath != "" {
		cfg, err := owner.LoadConfig(cfgPath)
		if err != nil {
			return nil, err
		}
		dbPath, allowNet, mc = cfg.Database.Path, cfg.Database.AllowNetworkFS, cfg.Mtactl
	}
	sock := attach.SocketPath(dbPath)
	cl, derr := dialOwner(dbPath, true, "status", nil)
	if derr == nil {
		defer cl.Close()
		var rep owner.StatusReport
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.Call(ctx, owner.OpStatus, owner.StatusRequest{Window: window}, &rep); err != nil {
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
	in := owner.StatusInput{DB: db, Sources: ui.NewStateData(db).Sources, Window: window, Now: time.Now()}
	if mc != nil {
		// read-only: the applied ratio and the last change as recorded
		// (a pending one included); never "no [mtactl] configured"
		ctl, err := mtactl.New(*mc, db)
		if err != nil {
			return nil, fmt.Errorf("[mtactl]: %w", err)
		}
		in.Control = ctl
	}
	return owner.BuildStatus(in)
}

func writeStatusText(w io.Writer, r *owner.StatusReport) error {
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
	row := func(name, side string, s owner.StatusSide, mark string) {
		if s.Attempts == 0 && s.Counts.Complaints == 0 && s.Counts.Held == 0 {
			fmt.Fprintf(&b, "%-14s %-4s %8s %6s %6s %6s %6s %6s  %s\n", name, side, "-", "", "", "", "", "", mark)
			return
		}
		fmt.Fprintf(&b, "%-14s %-4s %8.0f %6s %6s %6s %6s %6s  %s\n", name, side, s.PerHour, owner.PctStr(s.Delivered),
			owner.PctStr(s.Deferred), owner.PctStr(s.Bounced), owner.PctStr(s.HardBounce), owner.PctStr(s.Complaint), mark)
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
