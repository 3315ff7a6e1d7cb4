package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cutover/ingest"
	"cutover/ingest/sim"
	"cutover/owner"
	"cutover/state"
	"cutover/ui"
)

type demoFlags struct {
	headless      bool
	duration      time.Duration
	speed         float64
	seed          int64
	ratio, volume int
	keep          string
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	c := command("demo [--headless --duration 30s] [--speed N] [--ratio PCT] [--dir DIR]",
		"simulated cutover, no config needed",
		"  cutover demo --speed 10080 --ratio 30", nil,
		func(cmd *cobra.Command, _ []string) error { return demo(f, cmd.Flags().Changed("ratio")) })
	c.Long = `A simulated cutover: an old Postfix and a new PowerMTA write real-format logs
that the same follower, parsers and database as production read.`
	fl := c.Flags()
	fl.BoolVar(&f.headless, "headless", false, "no terminal: run the simulation and the ingest pipeline, then print the counts")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this much wall time (default: until q; 30s with --headless)")
	fl.Float64Var(&f.speed, "speed", 60, "simulated seconds per wall second (60: an hour a minute; 10080: a week a minute)")
	fl.Int64Var(&f.seed, "seed", 1, "simulation seed")
	fl.IntVar(&f.ratio, "ratio", 5, "share of traffic on the NEW side, percent")
	fl.StringVar(&f.keep, "dir", "", "workspace directory to create and keep (default: a temporary one, removed at exit)")
	fl.IntVar(&f.volume, "volume", 20000, "recipients per simulated hour")
	c.MarkFlagDirname("dir")
	noMouseFlag(c)
	c.Annotations["env"] = envCockpit
	return c
}

func demo(f demoFlags, ratioSet bool) error {
	if f.ratio < 0 || f.ratio > 100 {
		return fmt.Errorf("--ratio %d: want 0-100", f.ratio)
	}
	if f.headless && f.duration == 0 {
		f.duration = 30 * time.Second
	}
	dir := f.keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cutover-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logs := filepath.Join(dir, "logs")
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	mc, ctl, err := owner.DemoMtactl(dir, db, f.ratio, ratioSet)
	if err != nil {
		return fmt.Errorf("mtactl: %w", err)
	}
	// Start in the past so that simulated time stays behind the wall clock
	// for two hours of running: the database does not trust event times far
	// in the future (a bad timestamp must not prune everything).
	back := time.Duration(f.speed*7200) * time.Second
	if back > 365*24*time.Hour {
		back = 365 * 24 * time.Hour
	}
	start := time.Now().UTC().Add(-back).Truncate(time.Hour)
	s, err := sim.New(sim.Options{Dir: logs, Seed: f.seed, Speed: f.speed, VolumePerHour: f.volume, Control: ctl.Get, Start: start})
	if err != nil {
		return err
	}
	ctl.Start = s.Clock()
	specs := owner.DemoSpecs(logs, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if f.duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	simErr := make(chan error, 1)
	go func() { simErr <- s.Run(ctx) }()

	if f.headless {
		pl, err := ingest.NewPipeline(db, specs, ingest.Options{})
		if err != nil {
			return err
		}
		defer pl.Close()
		if err := pl.Run(ctx, 100*time.Millisecond); err != nil {
			return err
		}
		if err := <-simErr; err != nil {
			return fmt.Errorf("simulator: %w", err)
		}
		// The simulator flushed its last lines on exit: read them too.
		if _, err := pl.Backfill(context.Background(), nil); err != nil {
			return err
		}
		return printDemoSummary(db, pl.Total(), ctl.Start, s)
	}
	var prog progHolder
	own, err := owner.Start(nil, owner.Options{Command: "demo", DB: db, Specs: specs, Control: mc, Plan: ctl, Start: ctl.Start,
		Clock: s.Clock, OnChange: prog.changed, Ops: append([]owner.Op{queryOp()}, planOps()...)})
	if err == nil {
		err = runCockpit(own, &prog, ui.LocalControl{C: mc})
	}
	cancel()
	if serr := <-simErr; err == nil && serr != nil {
		err = fmt.Errorf("simulator: %w", serr)
	}
	return err
}

func printDemoSummary(db *state.DB, sum ingest.Summary, start time.Time, s *sim.Sim) error {
	rows, err := db.Stats(state.Query{})
	if err != nil {
		return err
	}
	fmt.Printf("demo: simulated %s → %s, %d lines, %d events, %d rejected\n",
		start.UTC().Format(time.RFC3339), s.Clock().UTC().Format(time.RFC3339), sum.Lines, sum.Events, sum.Rejected)
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].ISP != rows[j].ISP {
			return rows[i].ISP < rows[j].ISP
		}
		return rows[i].Side < rows[j].Side
	})
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ISP\tSIDE\tDELIVERED\tDEFERRED\tHELD\tBOUNCED\tEXPIRED\tCOMPLAINTS\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.ISP, r.Side, r.Delivered, r.Deferred, r.Held, r.Bounced, r.Expired, r.Complaints)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sum.Events == 0 {
		return fmt.Errorf("no events were counted")
	}
	return nil
}
