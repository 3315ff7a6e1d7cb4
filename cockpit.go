package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/ingest"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	ssup "cutover/state/suppress"
	"cutover/ui"
)

// cmdUI follows the configured sources in this process and opens the
// cockpit on them.
func cmdUI(args []string) error {
	fs := newFlags("ui")
	cfgPath := fs.String("config", "", "config file (see cutover init)")
	readOnly := fs.Bool("read-only", false, "attach to the process that owns the database, without control keys")
	metricsAddr := fs.String("metrics-listen", "", "serve Prometheus metrics on ADDR while this cockpit owns the database")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover [ui] --config FILE")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		fs.Usage()
		return errUsage
	}
	cfg, err := LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if attached, err := attachIfOwned(cfg.Database.Path, *readOnly, nil); attached {
		return err
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if attached, aerr := attachIfOwned(cfg.Database.Path, *readOnly, err); err != nil && attached {
		return aerr
	}
	if err != nil {
		return err
	}
	defer db.Close()
	specs, err := cfg.SourceSpecs()
	if err != nil {
		return err
	}
	cls := cfg.Classifier(db)
	o := cockpitOptions{Classifier: cls, Thresholds: model.Thresholds{}, Bounces: cfg.Bounces, ISPTable: cfg.ISPTable(),
		Owner: ownerOptions{Command: "cockpit", ConfigPath: *cfgPath, MetricsListen: *metricsAddr}}
	if cfg.Mtactl != nil {
		c, err := mtactl.New(*cfg.Mtactl, db)
		if err != nil {
			return fmt.Errorf("[mtactl]: %w", err)
		}
		o.Control, o.Plan = ui.LocalControl{C: c}, mtactlPlan{c: c, steps: c.Steps()}
		// One controller per process: viewers' requests go to the same one.
		o.Owner.Control = c
	}
	return runCockpit(db, specs, o)
}

// SourceSpecs turns the config's sources into pipeline specs.
func (c *Config) SourceSpecs() ([]ingest.SourceSpec, error) {
	loc, err := c.Location()
	if err != nil {
		return nil, err
	}
	var specs []ingest.SourceSpec
	for _, s := range c.Sources {
		side, _ := model.ParseSide(s.Side)
		sm, _ := ingest.NewSideMap(s.SideMap)
		parser, err := newParser(s.Kind, loc)
		if err != nil {
			return nil, err
		}
		mta := s.MTA
		if mta == "" {
			mta = s.Name
		}
		var poll time.Duration
		if s.Poll != "" {
			poll, _ = time.ParseDuration(s.Poll)
		}
		specs = append(specs, ingest.SourceSpec{Name: s.Name, Kind: s.Kind, Side: side, MTA: mta,
			Globs: s.Globs, SideMap: sm, Parser: parser, Poll: poll})
	}
	return specs, nil
}

type cockpitOptions struct {
	Classifier *ingest.Classifier
	Thresholds model.Thresholds
	Clock      func() time.Time
	Plan       ui.PlanProvider
	Start      time.Time
	Owner      ownerOptions // control socket and metrics (serve.go)
	Bounces    BouncesConfig
	ISPTable   *model.ISPTable
	// Control drives mtactl from the cockpit (slider, rollbacks, audit);
	// nil: read-only.
	Control ui.Control
}

// runCockpit runs the ingest pipeline in a goroutine and the cockpit in the
// foreground; quitting the cockpit stops the pipeline after a last commit.
func runCockpit(db *state.DB, specs []ingest.SourceSpec, o cockpitOptions) error {
	var prog *tea.Program
	var progMu sync.Mutex
	var own *owner // set before the pipeline runs
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{
		Classifier: o.Classifier,
		OnCommit: func() {
			progMu.Lock()
			p := prog
			progMu.Unlock()
			if p != nil {
				// Send blocks until the UI takes it: do it off the writer
				// goroutine so a busy frame never stalls ingest.
				go p.Send(ui.Changed{})
			}
			own.notify()
		},
	})
	if err != nil {
		return err
	}
	defer pl.Close()

	var ingestErr error
	var errMu sync.Mutex
	data := ui.NewStateData(db)
	data.Plan = o.Plan
	data.CutoverStart = o.Start
	data.Suppression = &ui.SuppressionData{DB: db, LogPath: ssup.DefaultLogPath(db.Path())}
	data.Live = func() []ui.SourceView {
		errMu.Lock()
		ierr := ingestErr
		errMu.Unlock()
		return liveSources(pl, ierr)
	}
	o.Owner.Thresholds, o.Owner.Clock = o.Thresholds, o.Clock
	o.Owner.SuppressLog = pipelineLog(pl)
	o.Owner.OnChange = func() {
		progMu.Lock()
		p := prog
		progMu.Unlock()
		if p != nil {
			go p.Send(ui.Changed{})
		}
	}
	if o.Owner.Command == "" {
		o.Owner.Command = "demo"
	}
	if own, err = startOwner(db, data, o.Owner); err != nil {
		return err
	}
	defer own.Close()
	m := ui.New(data, ui.Options{Thresholds: o.Thresholds, Clock: o.Clock, Control: o.Control, ReadOnly: o.Control == nil})
	p := tea.NewProgram(m, tea.WithAltScreen())
	progMu.Lock()
	prog = p
	progMu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			// Never let an ingest bug leave the terminal in raw mode.
			if r := recover(); r != nil {
				errMu.Lock()
				ingestErr = fmt.Errorf("ingest stopped: %v", r)
				errMu.Unlock()
			}
		}()
		go func() {
			// The DSN/ARF watcher ([bounces]) shares the pipeline's log.
			if err := runOwnerBounces(ctx, db, pl, o.Bounces, o.ISPTable, func(string, ...any) {}); err != nil && ctx.Err() == nil {
				errMu.Lock()
				ingestErr = fmt.Errorf("bounce watcher: %w", err)
				errMu.Unlock()
			}
		}()
		if err := pl.Run(ctx, 250*time.Millisecond); err != nil && ctx.Err() == nil {
			errMu.Lock()
			ingestErr = err
			errMu.Unlock()
			go p.Send(ui.Changed{})
		}
	}()
	_, uerr := p.Run()
	cancel()
	wg.Wait()
	errMu.Lock()
	defer errMu.Unlock()
	if uerr != nil {
		return uerr
	}
	if ingestErr != nil {
		return ingestErr
	}
	return nil
}

// liveSources converts the followers' statuses for the cockpit.
func liveSources(pl *ingest.Pipeline, ingestErr error) []ui.SourceView {
	specs := pl.Specs()
	out := make([]ui.SourceView, 0, len(specs))
	for i, st := range pl.Statuses() {
		v := ui.SourceView{Name: st.Source, State: ui.ParseSourceState(string(st.State)), Since: st.Since, Error: st.LastError}
		if i < len(specs) {
			v.Kind, v.Side = specs[i].Kind, specs[i].Side.String()
		}
		// The current file is the newest one still being read or followed.
		for _, f := range st.Files {
			if f.State == "copy" || f.State == "done" {
				continue
			}
			v.Path, v.Offset, v.Size = f.Path, f.Offset, f.Size
		}
		if ingestErr != nil {
			v.State = ui.ParseSourceState("stale")
			v.Error = ingestErr.Error()
		}
		out = append(out, v)
	}
	return out
}

// mtactlPlan shows what mtactl last applied in the cockpit's header.
type mtactlPlan struct {
	c     *mtactl.Controller
	steps model.Steps
}

func (p mtactlPlan) Plan() ui.Plan {
	cur := p.c.Current()
	out := ui.Plan{RatioNew: float64(cur.RatioNew), Step: -1}
	for i, s := range p.steps {
		out.Steps = append(out.Steps, ui.PlanStep{Name: fmt.Sprintf("%d%%", s), RatioNew: float64(s)})
		if s == cur.RatioNew {
			out.Step = i
		}
	}
	return out
}
