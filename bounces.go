package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"cutover/ingest"
	"cutover/ingest/bounce"
	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
)

// exTempFail is sendmail's EX_TEMPFAIL: an MTA piping a bounce to us keeps
// the message and retries later.
const exTempFail = 75

func bouncesUsage() {
	fmt.Fprint(os.Stderr, `usage:
  cutover bounces watch --db FILE (--maildir DIR | --mbox FILE | --stdin) [--once] [--side old|new] [--side-map SPEC]
  cutover bounces parse FILE...           print what each message says (no database)
  cutover bounces classify [--status X.Y.Z] [--bounce-cat CAT] TEXT

watch reads delivery status notifications, bounce texts, ARF feedback reports
and Microsoft JMRP reports. Hard bounces (mailbox-invalid, permanent) and
complaints go to the canonical suppression log; complaints are counted for
their provider. Soft bounces, deferrals and 5.7.x policy blocks never
suppress. A maildir message moves to cur/ once its events are durable; one
that is not a report goes to failed/ with a .reason file.
`)
}

func cmdBounces(args []string) error {
	if len(args) == 0 {
		bouncesUsage()
		return errUsage
	}
	switch args[0] {
	case "watch":
		return cmdBouncesWatch(args[1:])
	case "parse":
		return cmdBouncesParse(args[1:])
	case "classify":
		return cmdBouncesClassify(args[1:])
	case "-h", "--help", "help":
		bouncesUsage()
		return nil
	}
	bouncesUsage()
	return errUsage
}

type bouncesWatchFlags struct {
	db, config, maildir, mbox, side, sideMap, mta, failed, logPath, verp, rcptHeaders string
	stdin, once, allowNet, quiet                                                      bool
	poll                                                                              time.Duration
	batch                                                                             int
}

func cmdBouncesWatch(args []string) error {
	fs := newFlags("bounces watch")
	var f bouncesWatchFlags
	fs.StringVar(&f.db, "db", "", "database file (required unless --config names it)")
	fs.StringVar(&f.config, "config", "", "config file: database path and ISP table (optional)")
	fs.StringVar(&f.maildir, "maildir", "", "maildir whose new/ holds the reports (with --stdin: spool here when the database is busy)")
	fs.StringVar(&f.mbox, "mbox", "", "mbox file holding the reports")
	fs.BoolVar(&f.stdin, "stdin", false, "read one message from standard input (a pipe from the MTA); the default without --maildir and --mbox")
	fs.BoolVar(&f.once, "once", false, "process what is there and exit")
	fs.DurationVar(&f.poll, "poll", 5*time.Second, "how often to look for new messages")
	fs.StringVar(&f.side, "side", "", "side complaints count on when --side-map does not place them: old or new")
	fs.StringVar(&f.sideMap, "side-map", "", "map the reported message's source IP (or vmta) to a side, e.g. '198.51.100.0/24=old,203.0.113.0/24=new'")
	fs.StringVar(&f.mta, "mta", "fbl", "MTA name complaint counters carry")
	fs.StringVar(&f.failed, "failed", "", "where --stdin files messages that are not reports (default: bounces-failed next to the database)")
	fs.StringVar(&f.logPath, "suppression-log", "", "canonical suppression log (default: suppressions.jsonl next to the database)")
	fs.StringVar(&f.verp, "verp-delims", "", `VERP delimiters of the return path (default: try "+=" then "-=")`)
	fs.StringVar(&f.rcptHeaders, "recipient-header", "", "comma-separated headers of the returned message that name its recipient (e.g. X-Rcpt)")
	fs.BoolVar(&f.allowNet, "allow-network-fs", false, "allow a database on a network filesystem (risky)")
	fs.BoolVar(&f.quiet, "quiet", false, "print only errors and the final summary")
	fs.IntVar(&f.batch, "batch", 200, "messages per log append and database commit")
	fs.Usage = func() {
		bouncesUsage()
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || f.maildir != "" && f.mbox != "" || f.stdin && f.mbox != "" {
		fs.Usage()
		return errUsage
	}
	if f.maildir == "" && f.mbox == "" {
		f.stdin = true
	}
	if f.stdin && isatty.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintln(os.Stderr, "cutover bounces watch: give --maildir or --mbox, or pipe a message to standard input")
		return errUsage
	}
	if f.verp != "" && len(f.verp) != 2 {
		return fmt.Errorf("--verp-delims %q: want two characters, e.g. +=", f.verp)
	}
	if f.stdin {
		// An MTA pipe: any failure to keep the message must say "try
		// again later", never "undeliverable".
		if err := bouncesStdin(&f); err != nil {
			fmt.Fprintf(os.Stderr, "cutover bounces watch: %v\n", err)
			os.Exit(exTempFail)
		}
		return nil
	}
	return bouncesLoop(&f)
}

// bounceEnv is an open database, log and watcher.
type bounceEnv struct {
	db  *state.DB
	log *suppress.Log
	w   *bounce.Watcher
}

func (e *bounceEnv) close() {
	if e.log != nil {
		e.log.Close()
	}
	if e.db != nil {
		e.db.Close()
	}
}

func openBounceEnv(f *bouncesWatchFlags) (*bounceEnv, error) {
	var table *model.ISPTable
	if f.config != "" {
		cfg, err := LoadConfig(f.config)
		if err != nil {
			return nil, err
		}
		if f.db == "" {
			f.db = cfg.Database.Path
		}
		f.allowNet = f.allowNet || cfg.Database.AllowNetworkFS
		table = cfg.ISPTable()
	}
	if f.db == "" {
		return nil, errors.New("--db is required")
	}
	opt, err := watcherOptions(f)
	if err != nil {
		return nil, err
	}
	opt.Classifier = ingest.NewClassifier(table)
	e := &bounceEnv{}
	if e.db, err = openDB(f.db, f.allowNet, false); err != nil {
		return nil, err
	}
	if e.log, err = suppress.Open(e.db, f.logPath, suppress.Options{}); err != nil {
		e.close()
		return nil, err
	}
	opt.DB, opt.Log = e.db, e.log
	if e.w, err = bounce.New(opt); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// watcherOptions turns the flags into watcher options (no database yet).
func watcherOptions(f *bouncesWatchFlags) (bounce.Options, error) {
	var opt bounce.Options
	if f.side != "" {
		sd, err := model.ParseSide(f.side)
		if err != nil {
			return opt, err
		}
		opt.Side = sd
	}
	sm, err := ingest.ParseSideMap(f.sideMap)
	if err != nil {
		return opt, err
	}
	opt.SideMap = sm
	opt.MTA = f.mta
	opt.FailedDir = f.failed
	opt.BatchSize = f.batch
	opt.Parse.VERPDelims = f.verp
	for _, h := range strings.Split(f.rcptHeaders, ",") {
		if h = strings.TrimSpace(h); h != "" {
			opt.Parse.RecipientHeaders = append(opt.Parse.RecipientHeaders, h)
		}
	}
	return opt, nil
}

// bouncesStdin processes one piped message. When the database is held by
// the running cockpit or serve and --maildir is given, the message is
// delivered into that maildir instead: the watcher there picks it up.
func bouncesStdin(f *bouncesWatchFlags) error {
	raw, err := io.ReadAll(io.LimitReader(os.Stdin, 64<<20+1))
	if err != nil {
		return fmt.Errorf("reading the message: %w", err)
	}
	e, err := openBounceEnv(f)
	if err != nil {
		if f.maildir != "" && (errors.Is(err, state.ErrLocked) || errors.Is(err, suppress.ErrLogLocked)) {
			p, derr := bounce.Deliver(f.maildir, raw, spoolName())
			if derr != nil {
				return fmt.Errorf("%v; spooling to %s: %w", err, f.maildir, derr)
			}
			if !f.quiet {
				fmt.Fprintf(os.Stderr, "database busy: spooled to %s\n", p)
			}
			return nil
		}
		return err
	}
	defer e.close()
	st, err := e.w.Message(raw, "stdin")
	if err != nil {
		return err
	}
	if !f.quiet {
		printBounceStats(os.Stderr, st, e.log.Path())
	}
	return nil
}

// spoolName is a maildir-unique file name: time, pid, host.
func spoolName() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "_", ":", "_").Replace(host)
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%d.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), host)
}

// bouncesLoop watches a maildir or an mbox until interrupted (or once).
func bouncesLoop(f *bouncesWatchFlags) error {
	e, err := openBounceEnv(f)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	where := f.maildir
	if f.mbox != "" {
		where = f.mbox
	}
	if !f.quiet && !f.once {
		fmt.Fprintf(os.Stderr, "watching %s every %s (ctrl+c to stop)\n", where, f.poll)
	}
	var total bounce.Stats
	started := time.Now()
	for {
		var st bounce.Stats
		if f.maildir != "" {
			st, err = e.w.Maildir(f.maildir)
		} else {
			st, err = e.w.Mbox(f.mbox, f.once)
		}
		total.Add(st)
		if err != nil {
			return err
		}
		if st.Messages > 0 && !f.quiet && !f.once {
			printBounceStats(os.Stderr, st, e.log.Path())
		}
		if f.once || ctx.Err() != nil {
			break
		}
		if time.Since(started) > 24*time.Hour {
			// A fresh watcher drops markers past their TTL.
			if w, err := bounce.New(watcherOptionsOf(e, f)); err == nil {
				e.w, started = w, time.Now()
			}
		}
		t := time.NewTimer(f.poll)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	printBounceStats(os.Stdout, total, e.log.Path())
	if total.Unsided > 0 {
		fmt.Printf("  warning: %d complaints counted without a side: give --side or a --side-map that matches their source IP\n", total.Unsided)
	}
	if total.Failed > 0 {
		dir := filepath.Join(f.maildir, "failed")
		if f.mbox != "" {
			dir = f.mbox + ".failed"
		}
		fmt.Printf("  %d messages were not reports: see %s (each with a .reason file)\n", total.Failed, dir)
	}
	return nil
}

func watcherOptionsOf(e *bounceEnv, f *bouncesWatchFlags) bounce.Options {
	opt, _ := watcherOptions(f)
	opt.DB, opt.Log = e.db, e.log
	return opt
}

func printBounceStats(w io.Writer, s bounce.Stats, logPath string) {
	fmt.Fprintf(w, "bounces: %d messages, %d reports, %d hard, %d soft, %d complaints, %d already done, %d auto-replies, %d failed; %d events appended to %s\n",
		s.Messages, s.Reports, s.Hard, s.Soft, s.Complaints, s.Skipped, s.AutoReplies, s.Failed, s.Appended, logPath)
}

// parsedReport is the JSON shape of "bounces parse".
type parsedReport struct {
	File         string            `json:"file"`
	Error        string            `json:"error,omitempty"`
	Format       bounce.Format     `json:"format,omitempty"`
	FeedbackType string            `json:"feedback_type,omitempty"`
	SourceIP     string            `json:"source_ip,omitempty"`
	Complaint    bool              `json:"complaint,omitempty"`
	Redacted     int               `json:"redacted,omitempty"`
	Recipients   []parsedRecipient `json:"recipients,omitempty"`
}

type parsedRecipient struct {
	Addr       string `json:"addr"`
	From       string `json:"from"`
	Action     string `json:"action,omitempty"`
	Status     string `json:"status,omitempty"`
	Kind       string `json:"class,omitempty"`
	Hard       bool   `json:"hard"`
	Rule       string `json:"rule,omitempty"`
	Diagnostic string `json:"diagnostic,omitempty"`
}

func cmdBouncesParse(args []string) error {
	fs := newFlags("bounces parse")
	verp := fs.String("verp-delims", "", "VERP delimiters (default: try += then -=)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover bounces parse FILE...\n\nPrints, as JSON lines, what each message is and which of its recipients would be suppressed.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	enc := json.NewEncoder(os.Stdout)
	for _, p := range fs.Args() {
		out := parsedReport{File: p}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := bounce.Parse(raw, bounce.ParseOptions{VERPDelims: *verp})
		if err != nil {
			out.Error = err.Error()
		}
		if r != nil {
			out.Format, out.FeedbackType, out.SourceIP, out.Complaint, out.Redacted = r.Format, r.FeedbackType, r.SourceIP, r.Complaint(), r.Redacted
			for _, rc := range r.Recipients {
				pr := parsedRecipient{Addr: rc.Addr, From: rc.From, Action: rc.Action, Status: rc.Status, Hard: rc.Hard()}
				if rc.Action != "" {
					pr.Kind, pr.Rule, pr.Diagnostic = rc.Verdict.Kind.String(), rc.Verdict.Rule, sanitizeCell(rc.Diagnostic)
				}
				out.Recipients = append(out.Recipients, pr)
			}
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	return nil
}

func cmdBouncesClassify(args []string) error {
	fs := newFlags("bounces classify")
	status := fs.String("status", "", "enhanced status code as logged (5.1.1)")
	cat := fs.String("bounce-cat", "", "PowerMTA bounceCat")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover bounces classify [--status X.Y.Z] [--bounce-cat CAT] TEXT\n\nPrints the class of a reply: kind, hard or not, and the rule that matched.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	v := model.ClassifyBounce(model.BounceInput{Status: *status, Text: strings.Join(fs.Args(), " "), BounceCat: *cat})
	rule := v.Rule
	if rule == "" {
		rule = "(status code / category)"
	}
	fmt.Printf("class %s (%s) hard=%v temporary=%v status=%s code=%d rule=%s\n", v.Kind, v.Kind.Label(), v.Hard, v.Temporary, v.Status, v.Code, rule)
	return nil
}

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

// runOwnerBounces watches the configured maildir or mbox in the owner's
// process until ctx is done. It appends through the pipeline's log (the
// log is locked against a second opener, even in one process) and commits
// to the same database; logf reports each pass that did something.
func runOwnerBounces(ctx context.Context, db *state.DB, pl *ingest.Pipeline, c BouncesConfig, table *model.ISPTable, logf func(string, ...any)) error {
	if c.Maildir == "" && c.Mbox == "" {
		return nil
	}
	sink, err := pl.Suppressions()
	if err != nil {
		return err
	}
	f := &bouncesWatchFlags{side: c.Side, sideMap: strings.Join(c.SideMap, ","), mta: c.MTA, verp: c.VERPDelims,
		rcptHeaders: strings.Join(c.RecipientHeaders, ",")}
	if f.mta == "" {
		f.mta = "fbl"
	}
	opt, err := watcherOptions(f)
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
