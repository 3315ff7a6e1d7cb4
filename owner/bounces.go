package owner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cutover/ingest"
	"cutover/ingest/bounce"
	"cutover/model"
	"cutover/state"
)

// BouncesConfig is a [bounces] section for an owner process (serve, the
// cockpit), which holds the database and so must watch report mail itself:
//
//	[bounces]
//	maildir = "/var/mail/bounces"          # or mbox = "/var/mail/bounces.mbox"
//	side = "new"                           # complaints the side map does not place
//	side_map = ["198.51.100.0/24=old", "203.0.113.0/24=new"]
//	poll = "5s"
type BouncesConfig struct {
	Maildir          string   `toml:"maildir"`
	Mbox             string   `toml:"mbox"`
	Side             string   `toml:"side"`
	SideMap          []string `toml:"side_map"`
	MTA              string   `toml:"mta"`
	Poll             string   `toml:"poll"`
	VERPDelims       string   `toml:"verp_delims"`
	RecipientHeaders []string `toml:"recipient_headers"`
}

// BounceWatch are the bounce watcher's settings that `cutover bounces
// watch` takes as flags and [bounces] as keys.
type BounceWatch struct {
	Side, SideMap, MTA, Failed, VERPDelims string
	RecipientHeaders                       string // comma-separated
	Batch                                  int
}

// Options turns the settings into watcher options (no database yet).
func (f BounceWatch) Options() (bounce.Options, error) {
	var opt bounce.Options
	if f.Side != "" {
		sd, err := model.ParseSide(f.Side)
		if err != nil {
			return opt, err
		}
		opt.Side = sd
	}
	sm, err := ingest.ParseSideMap(f.SideMap)
	if err != nil {
		return opt, err
	}
	opt.SideMap = sm
	opt.MTA = f.MTA
	opt.FailedDir = f.Failed
	opt.BatchSize = f.Batch
	opt.Parse.VERPDelims = f.VERPDelims
	for _, h := range strings.Split(f.RecipientHeaders, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opt.Parse.RecipientHeaders = append(opt.Parse.RecipientHeaders, h)
		}
	}
	return opt, nil
}

// RunBounces watches the configured maildir or mbox in the owner's
// process until ctx is done. It appends through the pipeline's log (the
// log is locked against a second opener, even in one process) and commits
// to the same database; logf reports each pass that did something.
func RunBounces(ctx context.Context, db *state.DB, pl *ingest.Pipeline, c BouncesConfig, table *model.ISPTable, logf func(string, ...any)) error {
	if c.Maildir == "" && c.Mbox == "" {
		return nil
	}
	sink, err := pl.Suppressions()
	if err != nil {
		return err
	}
	f := BounceWatch{Side: c.Side, SideMap: strings.Join(c.SideMap, ","), MTA: c.MTA, VERPDelims: c.VERPDelims,
		RecipientHeaders: strings.Join(c.RecipientHeaders, ",")}
	if f.MTA == "" {
		f.MTA = "fbl"
	}
	opt, err := f.Options()
	if err != nil {
		return fmt.Errorf("[bounces]: %w", err)
	}
	opt.DB, opt.Log, opt.Classifier = db, sink, ingest.NewClassifier(table)
	poll := 5 * time.Second
	if c.Poll != "" {
		if poll, err = time.ParseDuration(c.Poll); err != nil || poll <= 0 {
			return fmt.Errorf("[bounces] poll %q: want a duration such as 5s", c.Poll)
		}
	}
	var w *bounce.Watcher
	var started time.Time
	for {
		if w == nil || time.Since(started) > 24*time.Hour {
			if w, err = bounce.New(opt); err != nil {
				return err
			}
			started = time.Now()
		}
		var st bounce.Stats
		if c.Maildir != "" {
			st, err = w.Maildir(c.Maildir)
		} else {
			st, err = w.Mbox(c.Mbox, false)
		}
		if err != nil {
			logf("bounces: %v", err) // a mount outage or a full disk: retry next poll
		} else if st.Messages > 0 {
			logf("bounces: %d messages, %d hard, %d complaints, %d appended, %d failed", st.Messages, st.Hard, st.Complaints, st.Appended, st.Failed)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// bouncesRunner is the DSN/ARF watcher ([bounces]) as an owner runner; it
// returns at once when [bounces] names no maildir or mbox.
type bouncesRunner struct {
	c     BouncesConfig
	table *model.ISPTable
}

func (bouncesRunner) Name() string { return "bounce watcher" }

func (r bouncesRunner) Run(ctx context.Context, o *Owner) error {
	logf := func(f string, a ...any) { o.Logger().Info(fmt.Sprintf(f, a...)) }
	return RunBounces(ctx, o.DB, o.Pipeline, r.c, r.table, logf)
}
