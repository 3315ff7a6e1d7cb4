package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	ibase "cutover/ingest/baseline"
	"cutover/model"
	sb "cutover/state/baseline"
)

func newReputationCmd() *cobra.Command {
	return group(&cobra.Command{Use: "reputation", Short: "reputation baseline: Postmaster Tools, SNDS, Talos",
		Example:               "  cutover reputation import --db cutover.db --postmaster traffic_stats.json\n  cutover reputation show --db cutover.db",
		DisableFlagsInUseLine: true, Annotations: map[string]string{annExit: defaultExit}},
		newReputationImportCmd(), newReputationShowCmd())
}

type repImportFlags struct {
	db, postmaster, postmasterV2, snds, sndsStatus, talos string
}

func newReputationImportCmd() *cobra.Command {
	var f repImportFlags
	c := command("import --db FILE (--postmaster F | --snds F | --talos …)",
		"import a reputation baseline (same row again: replaced)",
		"  cutover reputation import --db c.db --snds data.csv\n  cutover reputation import --db c.db --talos 192.0.2.1=Good,192.0.2.2=Poor",
		noArgs, func(_ *cobra.Command, _ []string) error { return reputationImport(os.Stdout, f) })
	dbFlag(c, &f.db, "")
	fl := c.Flags()
	fl.StringVar(&f.postmaster, "postmaster", "", "Gmail Postmaster Tools v1 trafficStats.list JSON")
	fl.StringVar(&f.postmasterV2, "postmaster-v2", "", "Gmail Postmaster Tools v2 domainStats / compliance JSON")
	fl.StringVar(&f.snds, "snds", "", "Microsoft SNDS data CSV (data.aspx)")
	fl.StringVar(&f.sndsStatus, "snds-status", "", "Microsoft SNDS IP status CSV (ipStatus.aspx)")
	fl.StringVar(&f.talos, "talos", "", "Talos verdicts typed by hand: IP=Good|Neutral|Poor,…")
	for _, n := range []string{"postmaster", "postmaster-v2"} {
		c.MarkFlagFilename(n, "json")
	}
	for _, n := range []string{"snds", "snds-status"} {
		c.MarkFlagFilename(n, "csv")
	}
	return c
}

func reputationImport(w io.Writer, f repImportFlags) error {
	type src struct{ kind, path string }
	var srcs []src
	for _, s := range []src{{model.RepPostmaster, f.postmaster}, {model.RepPostmasterV2, f.postmasterV2}, {model.RepSNDS, f.snds}, {model.RepSNDSStatus, f.sndsStatus}} {
		if s.path != "" {
			srcs = append(srcs, s)
		}
	}
	if len(srcs) == 0 && f.talos == "" {
		return usageError{"want one of --postmaster, --postmaster-v2, --snds, --snds-status, --talos"}
	}
	var all []model.ReputationRecord
	for _, s := range srcs {
		recs, err := ibase.ReadReputationFile(s.path, s.kind)
		if err != nil {
			return err
		}
		if s.kind == model.RepSNDSStatus {
			// The status file carries no date: the import day stands for it.
			for i := range recs {
				recs[i].Date = time.Now().UTC().Format("2006-01-02")
			}
		}
		all = append(all, recs...)
	}
	if f.talos != "" {
		recs, err := ibase.ParseTalos(f.talos)
		if err != nil {
			return usageError{err.Error()}
		}
		all = append(all, recs...)
	}
	d, err := openDB(f.db, false, false)
	if err != nil {
		return err
	}
	defer d.Close()
	added, err := sb.PutReputation(d, all)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%d reputation rows: %d new, %d replaced\n", len(all), added, len(all)-added)
	return nil
}

func newReputationShowCmd() *cobra.Command {
	var db string
	var asJSON bool
	c := command("show --db FILE [--json]", "the imported reputation baseline, warning signs marked",
		"  cutover reputation show --db cutover.db --json", noArgs,
		func(_ *cobra.Command, _ []string) error { return reputationShow(os.Stdout, db, asJSON) })
	dbFlag(c, &db, "")
	jsonFlag(c, &asJSON, "print a JSON array (model.ReputationRecord)")
	return c
}

func reputationShow(w io.Writer, db string, asJSON bool) error {
	d, err := openDB(db, false, true)
	if err != nil {
		return err
	}
	defer d.Close()
	recs, err := sb.ReadReputation(d)
	if err != nil {
		return err
	}
	if asJSON {
		if recs == nil {
			recs = []model.ReputationRecord{}
		}
		return printJSON(w, recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(w, "no reputation rows: cutover reputation import --db FILE --postmaster|--snds|--talos …")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSUBJECT\tDATE\tREADING\tWARN")
	for _, r := range recs {
		warn := ""
		if r.Bad(model.Thresholds{}) {
			warn = "!"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Kind, sanitizeCell(r.Subject), r.Date, sanitizeCell(r.Summary()), warn)
	}
	return tw.Flush()
}
