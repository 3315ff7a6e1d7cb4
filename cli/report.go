package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
)

func newReportCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "report", Short: "the weekly and daily reports the customer reads",
		Example: "  cutover report weekly --config c.toml --week 2026-W10 --format html", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, newReportKindCmd(o, "weekly"), newReportKindCmd(o, "daily"))
}

type reportFlags struct {
	cfgPath, period, format, out, now string
}

func newReportKindCmd(o cmdIO, kind string) *cobra.Command {
	var f reportFlags
	use, short, ex, pflag, phelp := "weekly --config FILE [--week W] [--format F] [--out FILE]",
		"the ten sections of the weekly report for one ISO week",
		"  cutover report weekly --config c.toml --week 2026-W03 --format html",
		"week", "ISO week YYYY-Www in [monitor] timezone (default: the last complete week)"
	if kind == "daily" {
		use, short, ex, pflag, phelp = "daily --config FILE [--day D] [--format F] [--out FILE]",
			"the same sections for one day",
			"  cutover report daily --config cutover.toml --day 2026-01-14",
			"day", "day YYYY-MM-DD in [monitor] timezone (default: yesterday)"
	}
	c := command(use, short, ex, func(a []string) bool { return noArgs(a) && f.cfgPath != "" },
		func(_ *cobra.Command, _ []string) error { return reportRun(o, kind, f) })
	configFlag(c, &f.cfgPath, "")
	fl := c.Flags()
	fl.StringVar(&f.period, pflag, "", phelp)
	fl.StringVar(&f.format, "format", "md", "md (text charts), html (one self-contained file, inline SVG) or json")
	fl.StringVar(&f.out, "out", "", "write to this file instead of stdout")
	fl.StringVar(&f.now, "now", "", "the report's clock (RFC3339): same database, period and --now give the same bytes")
	c.RegisterFlagCompletionFunc("format", fixed("md", "html", "json"))
	return c
}

func reportRun(o cmdIO, kind string, f reportFlags) error {
	switch f.format {
	case "md", "html", "json":
	default:
		return usageError{"--format " + f.format + ": want md, html or json"}
	}
	cfg, err := owner.LoadConfig(f.cfgPath)
	if err != nil {
		return err
	}
	m, err := cfg.Monitor()
	if err != nil {
		return err
	}
	req := owner.ReportRequest{Kind: kind, Period: f.period, Format: f.format, Now: time.Now()}
	if f.now != "" {
		if req.Now, err = parseTimeFlag("--now", f.now); err != nil {
			return err
		}
	}
	var rep owner.ReportReply
	d, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, true)
	if err == nil {
		var history func() ([]mtactl.AuditEntry, error)
		if cfg.Mtactl != nil {
			if c, cerr := mtactl.New(*cfg.Mtactl, d); cerr == nil {
				history = c.History
			}
		}
		rep, err = owner.RenderReport(d, m, model.Thresholds{}, history, req)
		d.Close()
	} else {
		cl, aerr := attachOwner(cfg.Database.Path, true, "report", err)
		if aerr != nil {
			return aerr
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = cl.Call(ctx, owner.OpReport, req, &rep)
	}
	if err != nil {
		return err
	}
	if f.out != "" {
		return owner.WriteReportFile(f.out, rep.Data)
	}
	_, err = o.out.Write(rep.Data)
	return err
}
