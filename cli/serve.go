package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/ingest"
	"cutover/owner"
)

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

type serveFlags struct {
	cfgPath, logFormat, logLevel, metricsAddr string
	poll                                      time.Duration
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	c := command("serve --config FILE [--log-format text|json] [--metrics-listen ADDR]",
		"headless owner: sources, database, mtactl, <db>.sock",
		"  cutover serve --config /etc/cutover/cutover.toml --log-format json",
		func(args []string) bool { return noArgs(args) && f.cfgPath != "" },
		func(_ *cobra.Command, _ []string) error { return serve(f) })
	c.Long = `Headless owner of the database: follows the sources, commits the counts, runs
mtactl when [mtactl] is configured, and listens on <db>.sock so that
"cutover --config FILE" and "cutover status" attach to it. SIGTERM or SIGINT
commits and exits 0.`
	configFlag(c, &f.cfgPath, "config file (required)")
	fl := c.Flags()
	fl.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.StringVar(&f.metricsAddr, "metrics-listen", "", "serve Prometheus metrics on ADDR (host:port; default [control] metrics_listen)")
	fl.DurationVar(&f.poll, "poll", 250*time.Millisecond, "poll interval of the followers when idle")
	c.RegisterFlagCompletionFunc("log-format", fixed("text", "json"))
	c.RegisterFlagCompletionFunc("log-level", fixed("debug", "info", "warn", "error"))
	return c
}

func serve(f serveFlags) error {
	log, err := newLogger(os.Stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := owner.LoadConfig(f.cfgPath)
	if err != nil {
		return err
	}
	own, err := owner.Start(cfg, owner.Options{Command: "serve", MetricsListen: f.metricsAddr, Logger: log,
		SocketRequired: true, Runners: []owner.Runner{sourceLogger{}}, Ops: append([]owner.Op{queryOp()}, planOps()...)})
	if err != nil {
		return err
	}
	defer own.Close()
	log.Info("serving", "db", own.DB.Path(), "sources", len(own.Pipeline.Specs()), "socket", own.SocketPath(), "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	runErr := own.Run(ctx, f.poll) // commits what it has before returning
	sum := own.Pipeline.Total()
	if runErr != nil && ctx.Err() == nil {
		log.Error("ingest stopped", "err", runErr)
		return runErr
	}
	log.Info("stopped", "lines", sum.Lines, "events", sum.Events, "rejected", sum.Rejected)
	return nil
}

// sourceLogger logs each source's state transitions (following, idle,
// stale...), not every poll: a journal that says when a mount dropped.
type sourceLogger struct{}

func (sourceLogger) Name() string { return "source logger" }

func (sourceLogger) Run(ctx context.Context, o *owner.Owner) error {
	logSourceChanges(ctx, o.Pipeline, o.Logger())
	return nil
}

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
