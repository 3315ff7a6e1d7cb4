package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"cutover/ingest"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/ingest/sim"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/ui"
)

// demoControl is the simulated MTAs' view of what mtactl wrote: the demo
// driver's JSON file in the workspace, read again every simulated minute
// (the last good value is kept when a read fails, e.g. mid-rename on a
// filesystem without atomic rename). Moving the slider in the demo cockpit
// applies through mtactl into that file, so traffic moves between OLD and
// NEW exactly as the file says.
type demoControl struct {
	path  string
	mu    sync.Mutex
	c     sim.Control
	steps []int
	start time.Time
}

func (d *demoControl) get() sim.Control {
	dc, err := mtactl.ReadDemoControl(d.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.c = sim.Control{RatioNew: dc.RatioNew, PerISP: dc.PerISP, MaxPerHour: dc.MaxPerHour}
	}
	return d.c
}

// Plan implements ui.PlanProvider.
func (d *demoControl) Plan() ui.Plan {
	c := d.get()
	d.mu.Lock()
	defer d.mu.Unlock()
	p := ui.Plan{RatioNew: float64(c.RatioNew), Step: -1, Start: d.start}
	for i, s := range d.steps {
		name := "baseline"
		if i > 0 {
			name = fmt.Sprintf("week %d", i)
		}
		p.Steps = append(p.Steps, ui.PlanStep{Name: name, RatioNew: float64(s)})
		if s == c.RatioNew {
			p.Step = i
		}
	}
	return p
}

// demoProviders are the simulated providers' main domains, for mtactl.
var demoProviders = map[string][]string{
	"google":    {"gmail.com", "googlemail.com"},
	"microsoft": {"hotmail.com", "outlook.com", "live.com", "msn.com"},
	"yahoo":     {"yahoo.com", "aol.com", "ymail.com", "rocketmail.com"},
	"apple":     {"icloud.com", "me.com"},
}

// demoMtactl configures mtactl with its demo driver writing into the
// workspace, and applies the initial ratio when the file does not exist yet
// or --ratio was given.
func demoMtactl(dir string, db *state.DB, ratio int, force bool) (*mtactl.Controller, *demoControl, error) {
	file := filepath.Join(dir, "mta", "demo-control.json")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, nil, err
	}
	c, err := mtactl.New(mtactl.Config{
		Providers: demoProviders,
		// The demo's NEW IPs are warm: throttles follow the OLD side's
		// peak hourly volume with headroom for the simulated day's swings,
		// without warm-up caps that would hold most of the mail.
		Throttle: model.ThrottlePolicy{Warm: true, Margin: 1.5},
		Demo:     &mtactl.DemoConfig{File: file},
	}, db)
	if err != nil {
		return nil, nil, err
	}
	_, statErr := os.Stat(file)
	if force || os.IsNotExist(statErr) {
		ch, err := c.Plan(c.Current().WithRatio(ratio, ""))
		if err != nil {
			return nil, nil, err
		}
		if !ch.Empty() || len(ch.Drift) > 0 {
			who := mtactl.CurrentWho(fmt.Sprintf("cutover demo --ratio %d", ratio))
			if _, err := c.Apply(context.Background(), ch, who, mtactl.ApplyOptions{AcceptDrift: true}); err != nil {
				return nil, nil, err
			}
		}
	}
	ctl := &demoControl{path: file, c: sim.Control{RatioNew: ratio}}
	for _, st := range c.Steps() {
		ctl.steps = append(ctl.steps, st)
	}
	ctl.get()
	return c, ctl, nil
}

func cmdDemo(args []string) error {
	fs := newFlags("demo")
	headless := fs.Bool("headless", false, "no terminal: run the simulation and the ingest pipeline, then print the counts")
	duration := fs.Duration("duration", 0, "stop after this much wall time (default: until q; 30s with --headless)")
	speed := fs.Float64("speed", 60, "simulated seconds per wall second (60: an hour a minute; 10080: a week a minute)")
	seed := fs.Int64("seed", 1, "simulation seed")
	ratio := fs.Int("ratio", 5, "share of traffic on the NEW side, percent")
	keep := fs.String("dir", "", "workspace directory to create and keep (default: a temporary one, removed at exit)")
	volume := fs.Int("volume", 20000, "recipients per simulated hour")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover demo [--headless --duration 30s] [--speed N] [--ratio PCT] [--dir DIR]\n\nA simulated cutover: an old Postfix and a new PowerMTA write real-format logs that the\nsame follower, parsers and database as production read.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ratio < 0 || *ratio > 100 {
		return fmt.Errorf("--ratio %d: want 0-100", *ratio)
	}
	if *headless && *duration == 0 {
		*duration = 30 * time.Second
	}
	dir := *keep
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
	ratioSet := false
	fs.Visit(func(f *flag.Flag) { ratioSet = ratioSet || f.Name == "ratio" })
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	mc, ctl, err := demoMtactl(dir, db, *ratio, ratioSet)
	if err != nil {
		return fmt.Errorf("mtactl: %w", err)
	}
	// Start in the past so that simulated time stays behind the wall clock
	// for two hours of running: the database does not trust event times far
	// in the future (a bad timestamp must not prune everything).
	back := time.Duration(*speed*7200) * time.Second
	if back > 365*24*time.Hour {
		back = 365 * 24 * time.Hour
	}
	start := time.Now().UTC().Add(-back).Truncate(time.Hour)
	s, err := sim.New(sim.Options{Dir: logs, Seed: *seed, Speed: *speed, VolumePerHour: *volume, Control: ctl.get, Start: start})
	if err != nil {
		return err
	}
	ctl.start = s.Clock()
	specs := demoSpecs(logs, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *duration > 0 {
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	simErr := make(chan error, 1)
	go func() { simErr <- s.Run(ctx) }()

	if *headless {
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
		return printDemoSummary(db, pl.Total(), ctl.start, s)
	}
	err = runCockpit(db, specs, cockpitOptions{Clock: s.Clock, Plan: ctl, Start: ctl.start,
		Control: ui.LocalControl{C: mc}, Owner: ownerOptions{Command: "demo", Control: mc}})
	cancel()
	if serr := <-simErr; err == nil && serr != nil {
		err = fmt.Errorf("simulator: %w", serr)
	}
	return err
}

// demoSpecs are the demo's two sources: the old Postfix and the new PowerMTA.
func demoSpecs(logs string, s *sim.Sim) []ingest.SourceSpec {
	return []ingest.SourceSpec{
		{Name: "old-postfix", Kind: "postfix", Side: model.SideOld, MTA: "postfix-old", Globs: []string{filepath.Join(logs, sim.OldGlob)},
			Parser: postfix.New(postfix.Options{Location: s.Location(), Now: s.Clock, IgnoreMTime: true})},
		{Name: "new-pmta", Kind: "pmta", Side: model.SideNew, MTA: "pmta-new", Globs: []string{filepath.Join(logs, sim.NewGlob)},
			Parser: pmta.New(pmta.Options{Location: s.Location()})},
	}
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
