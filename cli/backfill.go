package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"cutover/ingest"
	"cutover/model"
	"cutover/owner"
)

type backfillFlags struct {
	db, kind, side, mta, sideMap, name, tz string
	allowNet, quiet, follow                bool
	poll                                   time.Duration
}

func newBackfillCmd() *cobra.Command {
	var f backfillFlags
	c := command("backfill --db FILE --kind KIND --side SIDE [--mta NAME] PATH...",
		"count existing log files into the database",
		"  cutover backfill --db cutover.db --kind postfix --side old /var/log/mail.log*",
		func(args []string) bool { return len(args) > 0 && f.kind != "" && f.side != "" && f.db != "" },
		func(_ *cobra.Command, args []string) error { return backfill(f, args) })
	c.Long = `Reads log files (globs and .gz files too) into the database. Running it
again over grown files adds only the new lines.`
	dbFlag(c, &f.db, "")
	fl := c.Flags()
	fl.StringVar(&f.kind, "kind", "", "log kind: pmta, postfix or exim (required)")
	fl.StringVar(&f.side, "side", "", "side of the records: old or new (required; default for records --side-map does not match)")
	fl.StringVar(&f.mta, "mta", "", "MTA name shown in stats (default: the kind)")
	fl.StringVar(&f.sideMap, "side-map", "", "map vmta/pool/transport/IP patterns to sides, e.g. 'vmta-old-*=old,198.51.100.0/24=new'")
	fl.StringVar(&f.name, "source", "", "source name the cursors are kept under (default: backfill-KIND-SIDE-MTA)")
	fl.StringVar(&f.tz, "timezone", "Local", "zone of log times that carry none")
	allowNetFlag(c, &f.allowNet)
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fl.BoolVar(&f.follow, "follow", false, "after reaching the end, keep following the files (poll mode) until interrupted")
	fl.DurationVar(&f.poll, "poll", 250*time.Millisecond, "poll interval with --follow")
	completeKinds(c, "kind")
	completeSides(c, "side")
	return c
}

func backfill(f backfillFlags, args []string) error {
	sd, err := model.ParseSide(f.side)
	if err != nil {
		return err
	}
	sm, err := ingest.ParseSideMap(f.sideMap)
	if err != nil {
		return err
	}
	loc, err := loadLocation(f.tz)
	if err != nil {
		return err
	}
	parser, err := owner.NewParser(f.kind, loc)
	if err != nil {
		return err
	}
	if f.mta == "" {
		f.mta = f.kind
	}
	if f.name == "" {
		f.name = fmt.Sprintf("backfill-%s-%s-%s", f.kind, sd, f.mta)
	}
	var globs, files []string
	var total int64
	for _, p := range args {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		matches, err := filepath.Glob(abs)
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		if len(matches) == 0 {
			return fmt.Errorf("%s: no such file", p)
		}
		// A directory, a device or a binary file is not a log: say so
		// instead of reading nothing and reporting "0 lines". A glob may
		// match one among logs (a warning); all of them is an error.
		var bad []error
		for _, m := range matches {
			if err := ingest.CheckLogFile(m); err != nil {
				bad = append(bad, err)
				continue
			}
			files = append(files, m)
			if fi, err := os.Stat(m); err == nil {
				total += fi.Size()
			}
		}
		if len(bad) == len(matches) {
			return bad[0]
		}
		for _, err := range bad {
			fmt.Fprintf(os.Stderr, "warning: %v\n", err)
		}
		globs = append(globs, abs)
	}
	d, err := openDB(f.db, f.allowNet, false)
	if err != nil {
		return err
	}
	defer d.Close()
	pl, err := ingest.NewPipeline(d, []ingest.SourceSpec{{
		Name: f.name, Kind: f.kind, Side: sd, MTA: f.mta, Globs: globs, SideMap: sm, Parser: parser,
	}}, ingest.Options{CommitEvery: time.Second, CommitEvents: 50000})
	if err != nil {
		return err
	}
	defer pl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var bar func(ingest.Summary)
	if !f.quiet && isatty.IsTerminal(os.Stderr.Fd()) {
		bar = progressBar(os.Stderr, total)
	}
	start := time.Now()
	sum, err := pl.Backfill(ctx, bar)
	if err == nil && f.follow && ctx.Err() == nil {
		if bar != nil {
			fmt.Fprintln(os.Stderr, "\ncaught up; following (ctrl+c to stop)")
		}
		err = pl.Run(ctx, f.poll)
		sum = pl.Total()
	}
	if bar != nil {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("backfill %s: %d lines, %d events, %d rejected in %s (%.0f lines/s)\n",
		f.name, sum.Lines, sum.Events, sum.Rejected, el.Round(time.Millisecond), float64(sum.Lines)/el.Seconds())
	var parts []string
	for o := model.Delivered; int(o) < model.NumOutcomes; o++ {
		parts = append(parts, fmt.Sprintf("%s %d", o, sum.Outcomes[o]))
	}
	fmt.Printf("  %s\n", strings.Join(parts, ", "))
	for _, st := range pl.Statuses() {
		if st.LastError != "" {
			fmt.Printf("  warning: %s: %s\n", st.Source, st.LastError)
		}
	}
	if sum.Rejected > 0 {
		fmt.Printf("  rejected lines are listed by: cutover sources --db %s\n", f.db)
	}
	if !f.follow && ctx.Err() == nil {
		// Lines read and nothing counted: the wrong --kind, or not a log.
		if err := ingest.BackfillVerdict(sum, f.kind, files); err != nil {
			return err
		}
	}
	if ctx.Err() != nil && !f.follow {
		return fmt.Errorf("interrupted; committed up to the last batch, run again to continue")
	}
	return nil
}

func progressBar(w io.Writer, total int64) func(ingest.Summary) {
	last := time.Time{}
	return func(s ingest.Summary) {
		if time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = float64(s.Bytes) * 100 / float64(total)
			if pct > 100 {
				pct = 100
			}
		}
		n := int(pct / 5)
		fmt.Fprintf(w, "\r[%-20s] %5.1f%% %d lines %d events", strings.Repeat("#", n), pct, s.Lines, s.Events)
	}
}

func loadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(tz)
}
