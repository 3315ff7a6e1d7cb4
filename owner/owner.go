package owner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// Runner is work that lives as long as the owner: the bounce watcher
// today; the pacer, alert evaluator, report scheduler and DNS watcher next.
// Run returns when ctx is done (nil) or when it cannot go on (the error is
// logged and shown as the sources' state in the cockpit).
type Runner interface {
	Name() string
	Run(ctx context.Context, o *Owner) error
}

// Op is a socket operation a package adds to the owner: New is called once
// the owner is up and returns the handler viewers' requests go to.
type Op struct {
	Name string
	New  func(o *Owner) attach.Handler
}

// Options configure Start. The zero value is a cockpit-like owner built
// from the config alone.
type Options struct {
	Command string // serve | cockpit | demo: the socket's welcome names it
	// DB is a database already open (the demo's); nil: Start opens
	// cfg.Database. The owner closes it either way.
	DB *state.DB
	// Specs are the sources to follow; nil: the config's [[source]]s.
	Specs []ingest.SourceSpec
	// Control is the one mtactl controller of the process; nil: built from
	// [mtactl] when the config has it.
	Control *mtactl.Controller
	// Plan is shown in the header; nil: what Control applied.
	Plan       ui.PlanProvider
	Start      time.Time // the cutover's start in the header
	Thresholds model.Thresholds
	Clock      func() time.Time // the demo's simulated clock
	Logger     *slog.Logger     // nil: discard (the cockpit owns the terminal)
	// MetricsListen overrides [control] metrics_listen; "" and no setting:
	// no metrics endpoint.
	MetricsListen string
	// SocketRequired makes a socket failure fatal (serve); the cockpit runs
	// on without one and says so in the header.
	SocketRequired bool
	// OnChange is called after each commit and import progress: the
	// owner's own cockpit reloads. Viewers are told by the owner itself.
	OnChange func()
	// Runners run beside the pipeline in Run; [bounces] adds its watcher.
	Runners []Runner
	// Ops are added to the control socket besides the built-in ones.
	Ops []Op
	// NoMonitor leaves the alert evaluator out of Run (a test that calls
	// Monitoring().Evaluate itself, step by step).
	NoMonitor bool
	// CommitEvery overrides the pipeline's commit interval (tests that
	// step a simulator and wait for each commit).
	CommitEvery time.Duration
}

// Owner is the process that holds the database read-write: the ingest
// pipeline, the mtactl controller, the control socket and its ops, the
// owner-side suppression imports, the metrics endpoint and the runners.
type Owner struct {
	Config     *Config
	DB         *state.DB
	Pipeline   *ingest.Pipeline
	Data       *ui.StateData      // what the owner's cockpit and its viewers read
	Control    *mtactl.Controller // nil: no [mtactl]
	Thresholds model.Thresholds   // with defaults
	Pacer      *Pacer             // [pacing] (pacer.go)

	opts    Options
	log     *slog.Logger
	srv     *attach.Server
	ln      *attach.Listener
	metrics *http.Server
	// dnsSource reads the stored dns check for attached viewers (dns.go).
	dnsSource ui.DNSSource
	imports   *imports
	wg        sync.WaitGroup
	// mon is the alert evaluator and report scheduler (monitor.go).
	monOnce sync.Once
	mon     *Monitoring

	errMu sync.Mutex
	err   error // the pipeline's or a runner's failure: sources show stale

	plan ownerPlan // plan_owner.go
}

// Start opens the database (unless opts.DB), builds the pipeline over the
// sources, the controller and the socket server, and starts listening.
// Nothing is followed until Run. A *state.LockedError from the open is
// returned as is: another process owns the database.
func Start(cfg *Config, opts Options) (*Owner, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	o := &Owner{Config: cfg, opts: opts, log: opts.Logger, Thresholds: opts.Thresholds.WithDefaults()}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	db := opts.DB
	if db == nil {
		var err error
		if db, err = OpenDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false); err != nil {
			return nil, err
		}
		for _, w := range db.Warnings() {
			o.log.Warn(w)
		}
	}
	o.DB = db
	ok := false
	defer func() {
		if !ok {
			o.Close()
		}
	}()
	specs := opts.Specs
	if specs == nil {
		var err error
		if specs, err = cfg.SourceSpecs(); err != nil {
			return nil, err
		}
	}
	o.Control = opts.Control
	if o.Control == nil && cfg.Mtactl != nil {
		c, err := mtactl.New(*cfg.Mtactl, db)
		if err != nil {
			return nil, fmt.Errorf("[mtactl]: %w", err)
		}
		for _, n := range c.Notices() {
			o.log.Warn("mtactl: " + n) // an interrupted change left pending
		}
		o.Control = c
	}
	var cls *ingest.Classifier
	if cfg.path != "" {
		cls = cfg.Classifier(db)
	}
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{Classifier: cls, OnCommit: o.changed, CommitEvery: opts.CommitEvery})
	if err != nil {
		return nil, err
	}
	o.Pipeline = pl

	data := ui.NewStateData(db)
	data.Plan = opts.Plan
	if data.Plan == nil && o.Control != nil {
		data.Plan = controllerPlan{o.Control}
	}
	data.CutoverStart = opts.Start
	data.Suppression = &ui.SuppressionData{DB: db, LogPath: suppress.DefaultLogPath(db.Path())}
	data.Live = func() []ui.SourceView { return liveSources(pl, o.Err()) }
	o.Data = data

	var ctl attach.Controller
	if o.Control != nil {
		ctl = o.Control
	}
	host, _ := os.Hostname()
	o.srv = &attach.Server{Data: data, Plan: data.Plan, Control: ctl, Thresholds: o.Thresholds, Clock: opts.Clock, Logger: o.log,
		Owner: attach.OwnerInfo{PID: os.Getpid(), User: CurrentUser(), Host: host, Command: opts.Command, Since: time.Now().UTC(), DB: db.Path()}}
	o.srv.Handle(OpStatus, o.handleStatus)
	o.srv.Handle(OpDNSStatus, o.handleDNSStatus) // dns.go
	o.registerAlertOps()                         // alerts.go
	o.registerReportOp()                         // monitor_report.go
	o.dnsSource = DNSSource(db)
	// Suppression view for viewers, and imports run in the owner on its log.
	o.imports = &imports{db: db, log: pipelineLog(pl), logger: o.log, notify: o.changedImport}
	data.Suppression.(*ui.SuppressionData).Imports = o.imports.Files
	o.imports.register(o.srv, data.Suppression)
	if err := o.startPacer(); err != nil {
		return nil, err
	}
	for _, op := range opts.Ops {
		o.srv.Handle(op.Name, op.New(o))
	}
	o.startPlan() // plan_owner.go: reconciles the checkpoint log with mtactl's audit

	ln, err := attach.Listen(attach.SocketPath(db.Path()), attach.ListenOptions{Group: cfg.Control.Group})
	if err != nil {
		if opts.SocketRequired {
			return nil, err
		}
		o.log.Warn("no control socket: viewers cannot attach", "err", err)
	} else {
		o.ln = ln
		if w := ln.GroupWarning(); w != "" {
			o.log.Warn(w)
		}
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.srv.Serve(ln)
		}()
	}

	addr := opts.MetricsListen
	if addr == "" {
		addr = cfg.Control.MetricsListen
	}
	if addr != "" {
		src := metricsSource{DB: db, Sources: data.Sources, Control: ctl, Viewers: o.srv.Viewers, Suppress: suppressStats(db)}
		if m := o.Monitoring(); m != nil {
			src.AlertHours = m.cfg.Hours
		}
		srv, bound, err := startMetrics(addr, newMetricsRegistry(src), o.log)
		if err != nil {
			return nil, err
		}
		o.metrics = srv
		o.log.Info("metrics listening", "addr", bound.String())
	}
	ok = true
	return o, nil
}

// Clock is the owner's clock: nil for the wall clock, the demo's
// simulated one.
func (o *Owner) Clock() func() time.Time { return o.opts.Clock }

// Logger is the owner's logger (a discarding one for the cockpit).
func (o *Owner) Logger() *slog.Logger { return o.log }

// Handle adds (or replaces) a socket op; safe while serving.
func (o *Owner) Handle(op string, h attach.Handler) { o.srv.Handle(op, h) }

// SocketPath is where viewers attach; "" when the owner has no socket.
func (o *Owner) SocketPath() string {
	if o == nil || o.ln == nil {
		return ""
	}
	return o.ln.Path()
}

// Err is the pipeline's or a runner's failure, nil while all is well.
func (o *Owner) Err() error {
	o.errMu.Lock()
	defer o.errMu.Unlock()
	return o.err
}

func (o *Owner) fail(err error) {
	o.errMu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.errMu.Unlock()
	o.changed()
}

// Run follows the sources (polling every poll when idle) and runs the
// runners until ctx is done; the pipeline commits what it read before Run
// returns. The error is the pipeline's: a runner's failure is logged and
// shown, but ingest goes on without it.
func (o *Owner) Run(ctx context.Context, poll time.Duration) (err error) {
	runners := o.opts.Runners
	if b := o.Config.Bounces; b.Maildir != "" || b.Mbox != "" {
		runners = append([]Runner{bouncesRunner{c: b, table: o.Config.ISPTable()}}, runners...)
	}
	if o.Config.DNS.Configured() {
		runners = append(runners, dnsRunner{o.Config.DNS})
	}
	if !o.opts.NoMonitor {
		runners = append(runners, monitorRunner{})
	}
	runners = append(runners, o.pacerRunners()...)
	var wg sync.WaitGroup
	defer wg.Wait()
	// The runners stop with the pipeline, whatever stopped it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx, o); err != nil && ctx.Err() == nil {
				o.log.Error(r.Name()+" stopped", "err", err)
				o.fail(fmt.Errorf("%s: %w", r.Name(), err))
			}
		}()
	}
	defer func() {
		// Never let an ingest bug take the process (and a cockpit's
		// terminal, left in raw mode) down with it.
		if r := recover(); r != nil {
			err = fmt.Errorf("ingest stopped: %v", r)
			o.fail(err)
		}
	}()
	if err := o.Pipeline.Run(ctx, poll); err != nil && ctx.Err() == nil {
		o.fail(err)
		return err
	}
	return nil
}

// changed runs after each commit, on the ingest writer's goroutine: it
// must never block.
func (o *Owner) changed() {
	if o == nil {
		return
	}
	o.Notify()
	if o.opts.OnChange != nil {
		o.opts.OnChange()
	}
}

func (o *Owner) changedImport() { o.changed() }

// Viewers is the number of viewers attached to this owner (0 on a nil owner),
// for the cockpit's "quit and stop following?" question.
func (o *Owner) Viewers() int {
	if o == nil || o.srv == nil {
		return 0
	}
	return o.srv.Viewers()
}

// Notify pushes "changed" to viewers; safe on a nil owner and never blocks.
func (o *Owner) Notify() {
	if o != nil && o.srv != nil {
		o.srv.Notify()
	}
}

// Close stops a running import, the metrics endpoint and the socket
// (ending every session), then closes the pipeline and the database.
func (o *Owner) Close() {
	if o == nil {
		return
	}
	// A running import appends what it read and stops before the log and
	// the database close behind it.
	o.imports.Close()
	if o.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		o.metrics.Shutdown(ctx)
		cancel()
	}
	if o.srv != nil {
		o.srv.Close()
	}
	o.wg.Wait()
	o.closePlan()
	if o.Pipeline != nil {
		o.Pipeline.Close()
	}
	if o.DB != nil {
		o.DB.Close()
	}
}

// CurrentUser is the owner's user name (the uid when it has none).
func CurrentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// pipelineLog is the pipeline's suppression log for owner imports; errors
// when the pipeline appends elsewhere (a test's sink).
func pipelineLog(pl *ingest.Pipeline) func() (*suppress.Log, error) {
	return func() (*suppress.Log, error) {
		s, err := pl.Suppressions()
		if err != nil {
			return nil, err
		}
		l, ok := s.(*suppress.Log)
		if !ok {
			return nil, errors.New("this owner appends suppressions elsewhere than the canonical log: import with the owner stopped")
		}
		return l, nil
	}
}

// suppressStats reads the suppression index's statistics on each scrape,
// when a suppression log exists next to the database. It opens the log
// read-only for the call, so an import in another process is never blocked
// for longer than one scrape.
func suppressStats(db *state.DB) func() (suppress.Stats, error) {
	path := suppress.DefaultLogPath(db.Path())
	return func() (suppress.Stats, error) {
		if _, err := os.Stat(path); err != nil {
			return suppress.Stats{}, err
		}
		l, err := suppress.Open(db, path, suppress.Options{ReadOnly: true})
		if err != nil {
			return suppress.Stats{}, err
		}
		defer l.Close()
		return l.Stats()
	}
}

// controllerPlan shows mtactl's applied ratio and steps in the cockpit header.
type controllerPlan struct{ c attach.Controller }

func (p controllerPlan) Plan() ui.Plan {
	cur := p.c.Current()
	steps := p.c.Steps()
	pl := ui.Plan{RatioNew: float64(cur.RatioNew), Step: steps.Index(cur.RatioNew)}
	for _, s := range steps {
		pl.Steps = append(pl.Steps, ui.PlanStep{Name: fmt.Sprintf("%d%%", s), RatioNew: float64(s)})
	}
	return pl
}

// liveSources converts the followers' statuses for the cockpit.
func liveSources(pl *ingest.Pipeline, ingestErr error) []ui.SourceView {
	specs := pl.Specs()
	out := make([]ui.SourceView, 0, len(specs))
	for i, st := range pl.Statuses() {
		v := ui.SourceView{Name: st.Source, State: ui.ParseSourceState(string(st.State)), Since: st.Since, Error: st.LastError}
		if v.Error == "" && st.Warning != "" {
			// A glob matching nothing (a typo, a mount gone): said, not
			// left as a silent "waiting". The same text the pipeline keeps
			// in the database for viewers without an owner.
			v.Error = "warning: " + st.Warning
		}
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
