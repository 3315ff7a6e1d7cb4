package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pelletier/go-toml/v2"

	"cutover/ingest"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// ControlConfig is the [control] section: who may attach to the owner's
// socket and where metrics are served.
//
//	[control]
//	group = "mailops"                  # may attach (and apply) besides the owner's user; default: owner only
//	metrics_listen = "127.0.0.1:9810"  # default for --metrics-listen
type ControlConfig struct {
	Group         string `toml:"group"`
	MetricsListen string `toml:"metrics_listen"`
}

// ownerSettings are what the owner reads from the config file besides the
// sources.
type ownerSettings struct {
	Control ControlConfig  `toml:"control"`
	MTACtl  *mtactl.Config `toml:"mtactl"`
}

// readOwnerSettings decodes [control] and [mtactl] from a config file,
// ignoring everything else (LoadConfig validates that).
func readOwnerSettings(path string) (ownerSettings, error) {
	var s ownerSettings
	if path == "" {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	if err := toml.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// loadServeConfig is LoadConfig plus the owner's settings.
func loadServeConfig(path string) (*Config, ownerSettings, error) {
	c, err := LoadConfig(path)
	if err != nil {
		return nil, ownerSettings{}, err
	}
	return c, ownerSettings{Control: c.Control, MTACtl: c.Mtactl}, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opt := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opt)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opt)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func cmdServe(args []string) error {
	fs := newFlags("serve")
	cfgPath := fs.String("config", "", "config file (required)")
	logFormat := fs.String("log-format", "text", "log format on stderr: text or json")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	metricsAddr := fs.String("metrics-listen", "", "serve Prometheus metrics on ADDR (host:port; default [control] metrics_listen)")
	poll := fs.Duration("poll", 250*time.Millisecond, "poll interval of the followers when idle")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, `usage: cutover serve --config FILE [--log-format text|json] [--metrics-listen ADDR]

Headless owner of the database: follows the sources, commits the counts, runs
mtactl when [mtactl] is configured, and listens on <db>.sock so that
"cutover --config FILE" and "cutover status" attach to it. SIGTERM or SIGINT
commits and exits 0.`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	log, err := newLogger(os.Stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	cfg, settings, err := loadServeConfig(*cfgPath)
	if err != nil {
		return err
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, w := range db.Warnings() {
		log.Warn(w)
	}
	specs, err := cfg.SourceSpecs()
	if err != nil {
		return err
	}
	cls := cfg.Classifier(db)

	var own *owner // set before the pipeline runs; OnCommit only reads it
	pl, err := ingest.NewPipeline(db, specs, ingest.Options{Classifier: cls, OnCommit: func() { own.notify() }})
	if err != nil {
		return err
	}
	defer pl.Close()
	data := ui.NewStateData(db)
	data.Live = func() []ui.SourceView { return liveSources(pl, nil) }
	own, err = startOwner(db, data, ownerOptions{Command: "serve", Settings: &settings, MetricsListen: *metricsAddr,
		Logger: log, SocketRequired: true, SuppressLog: pipelineLog(pl)})
	if err != nil {
		return err
	}
	defer own.Close()
	log.Info("serving", "db", db.Path(), "sources", len(specs), "socket", own.socketPath(), "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go logSourceChanges(ctx, pl, log)
	go func() {
		// The DSN/ARF watcher shares the pipeline's suppression log; it
		// returns at once when [bounces] names no maildir or mbox.
		logf := func(f string, a ...any) { log.Info(fmt.Sprintf(f, a...)) }
		if err := runOwnerBounces(ctx, db, pl, cfg.Bounces, cfg.ISPTable(), logf); err != nil && ctx.Err() == nil {
			log.Error("bounce watcher stopped", "err", err)
		}
	}()
	runErr := pl.Run(ctx, *poll) // commits what it has before returning
	sum := pl.Total()
	if runErr != nil && ctx.Err() == nil {
		log.Error("ingest stopped", "err", runErr)
		return runErr
	}
	log.Info("stopped", "lines", sum.Lines, "events", sum.Events, "rejected", sum.Rejected)
	return nil
}

// logSourceChanges logs each source's state transitions (following, idle,
// stale...), not every poll: a journal that says when a mount dropped.
func logSourceChanges(ctx context.Context, pl *ingest.Pipeline, log *slog.Logger) {
	last := map[string]string{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, st := range pl.Statuses() {
			key := string(st.State) + "\x00" + st.LastError
			if last[st.Source] == key {
				continue
			}
			last[st.Source] = key
			lv := slog.LevelInfo
			if st.LastError != "" {
				lv = slog.LevelWarn
			}
			log.Log(ctx, lv, "source", "source", st.Source, "state", string(st.State), "err", st.LastError)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ownerOptions configure startOwner.
type ownerOptions struct {
	Command    string         // serve | cockpit | demo
	ConfigPath string         // read [control] and [mtactl] from it when Settings is nil
	Settings   *ownerSettings // already read (serve)
	// MetricsListen overrides [control] metrics_listen; "" and no setting:
	// no metrics endpoint.
	MetricsListen string
	// Control is the mtactl controller viewers' control requests go to;
	// nil: built from [mtactl] when the config has it.
	Control    attach.Controller
	Thresholds model.Thresholds
	Clock      func() time.Time // the demo's simulated clock
	Logger     *slog.Logger     // nil: discard (the cockpit owns the terminal)
	// SocketRequired makes a socket failure fatal (serve); the cockpit runs
	// on without one and says so in the header.
	SocketRequired bool
	// SuppressLog is the canonical log the owner's pipeline appends to;
	// `cutover suppress import` runs through the owner on it (owner_import.go).
	// nil: such imports are refused.
	SuppressLog func() (*suppress.Log, error)
	// OnChange makes the owner's own cockpit reload (import progress).
	OnChange func()
}

// owner is what a process that opened the database read-write offers to
// others: the control socket and the metrics endpoint.
type owner struct {
	srv     *attach.Server
	ln      *attach.Listener
	metrics *http.Server
	wg      sync.WaitGroup
	log     *slog.Logger
	imports *ownerImports
}

// startOwner starts the control socket next to db and, when asked, the
// metrics endpoint. data is the same ui.Data the owner's cockpit reads.
func startOwner(db *state.DB, data *ui.StateData, o ownerOptions) (*owner, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	settings := ownerSettings{}
	if o.Settings != nil {
		settings = *o.Settings
	} else if o.ConfigPath != "" {
		s, err := readOwnerSettings(o.ConfigPath)
		if err != nil {
			return nil, err
		}
		settings = s
	}
	ctl := o.Control
	if ctl == nil && settings.MTACtl != nil {
		c, err := mtactl.New(*settings.MTACtl, db)
		if err != nil {
			return nil, err
		}
		ctl = c
	}
	if data.Plan == nil && ctl != nil {
		data.Plan = controllerPlan{ctl}
	}
	th := o.Thresholds.WithDefaults()
	own := &owner{log: log}
	host, _ := os.Hostname()
	own.srv = &attach.Server{Data: data, Plan: data.Plan, Control: ctl, Thresholds: th, Clock: o.Clock, Logger: log,
		Owner: attach.OwnerInfo{PID: os.Getpid(), User: currentUser(), Host: host, Command: o.Command, Since: time.Now().UTC(), DB: db.Path()}}
	own.srv.Handle(opStatus, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		var req statusReq
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, err
		}
		now := time.Now()
		if o.Clock != nil {
			now = o.Clock()
		}
		return buildStatus(statusInput{DB: db, Sources: data.Sources, Control: ctl, Plan: data.Plan, Thresholds: th,
			Window: req.Window, Now: now, Owned: true})
	})
	// Suppression view for viewers, and imports run in the owner on its log.
	own.imports = &ownerImports{db: db, log: o.SuppressLog, logger: log, notify: func() {
		own.notify()
		if o.OnChange != nil {
			o.OnChange()
		}
	}}
	if data.Suppression == nil {
		data.Suppression = &ui.SuppressionData{DB: db, LogPath: suppress.DefaultLogPath(db.Path())}
	}
	if sd, ok := data.Suppression.(*ui.SuppressionData); ok && sd.Imports == nil {
		sd.Imports = own.imports.Files
	}
	own.imports.register(own.srv, data.Suppression)

	ln, err := attach.Listen(attach.SocketPath(db.Path()), attach.ListenOptions{Group: settings.Control.Group})
	if err != nil {
		if o.SocketRequired {
			return nil, err
		}
		log.Warn("no control socket: viewers cannot attach", "err", err)
	} else {
		own.ln = ln
		if w := ln.GroupWarning(); w != "" {
			log.Warn(w)
		}
		own.wg.Add(1)
		go func() {
			defer own.wg.Done()
			own.srv.Serve(ln)
		}()
	}

	addr := o.MetricsListen
	if addr == "" {
		addr = settings.Control.MetricsListen
	}
	if addr != "" {
		src := metricsSource{DB: db, Sources: data.Sources, Control: ctl, Viewers: own.srv.Viewers,
			Suppress: suppressStats(db)}
		srv, bound, err := startMetrics(addr, newMetricsRegistry(src), log)
		if err != nil {
			own.Close()
			return nil, err
		}
		own.metrics = srv
		log.Info("metrics listening", "addr", bound.String())
	}
	return own, nil
}

func (o *owner) socketPath() string {
	if o == nil || o.ln == nil {
		return ""
	}
	return o.ln.Path()
}

// notify pushes "changed" to viewers; safe on a nil owner and never blocks
// (it runs on the ingest writer's goroutine).
func (o *owner) notify() {
	if o != nil {
		o.srv.Notify()
	}
}

// Close stops the metrics endpoint and the socket, ending every session.
func (o *owner) Close() {
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
	o.srv.Close()
	o.wg.Wait()
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
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
