package cli

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
	"github.com/spf13/cobra"

	"cutover/ingest"
	"cutover/ingest/bounce"
	"cutover/model"
	"cutover/owner"
	"cutover/state"
	"cutover/state/suppress"
)

// exTempFail is sendmail's EX_TEMPFAIL: an MTA piping a bounce to us keeps
// the message and retries later.
const exTempFail = 75

const bouncesLong = `watch reads delivery status notifications, bounce texts, ARF feedback reports
and Microsoft JMRP reports. Hard bounces (mailbox-invalid, permanent) and
complaints go to the canonical suppression log; complaints are counted for
their provider. Soft bounces, deferrals and 5.7.x policy blocks never
suppress. A maildir message moves to cur/ once its events are durable; one
that is not a report goes to failed/ with a .reason file.`

func newBouncesCmd() *cobra.Command {
	return group(&cobra.Command{Use: "bounces", Short: "DSN/ARF/JMRP reports → suppression log",
		Long: bouncesLong, Example: "  cutover bounces watch --db cutover.db --maildir /var/mail/bounces",
		DisableFlagsInUseLine: true, Annotations: map[string]string{annExit: defaultExit}},
		newBouncesWatchCmd(), newBouncesParseCmd(), newBouncesClassifyCmd())
}

type bouncesWatchFlags struct {
	owner.BounceWatch
	db, config, maildir, mbox, logPath string
	stdin, once, allowNet, quiet       bool
	poll                               time.Duration
}

func newBouncesWatchCmd() *cobra.Command {
	var f bouncesWatchFlags
	c := command("watch --db FILE (--maildir DIR | --mbox FILE | --stdin)",
		"read reports from a maildir, an mbox or a pipe",
		"  cutover bounces watch --db cutover.db --maildir /var/mail/bounces --side new",
		func(args []string) bool {
			return noArgs(args) && !(f.maildir != "" && f.mbox != "" || f.stdin && f.mbox != "")
		},
		func(_ *cobra.Command, _ []string) error { return bouncesWatch(&f) })
	c.Long = bouncesLong
	c.Annotations[annExit] = `0 done, 1 failed, 2 bad command line. With --stdin (a pipe from the MTA):
0 when the message is durable or spooled into --maildir, 75 (EX_TEMPFAIL,
the MTA retries later) otherwise.`
	dbFlag(c, &f.db, "database file (required unless --config names it)")
	configFlag(c, &f.config, "config file: database path and ISP table (optional)")
	fl := c.Flags()
	fl.StringVar(&f.maildir, "maildir", "", "maildir whose new/ holds the reports (with --stdin: spool here when the database is busy)")
	fl.StringVar(&f.mbox, "mbox", "", "mbox file holding the reports")
	fl.BoolVar(&f.stdin, "stdin", false, "read one message from standard input (a pipe from the MTA); the default without --maildir and --mbox")
	fl.BoolVar(&f.once, "once", false, "process what is there and exit")
	fl.DurationVar(&f.poll, "poll", 5*time.Second, "how often to look for new messages")
	fl.StringVar(&f.Side, "side", "", "side complaints count on when --side-map does not place them: old or new")
	fl.StringVar(&f.SideMap, "side-map", "", "map the reported message's source IP (or vmta) to a side, e.g. '198.51.100.0/24=old,203.0.113.0/24=new'")
	fl.StringVar(&f.MTA, "mta", "fbl", "MTA name complaint counters carry")
	fl.StringVar(&f.Failed, "failed", "", "where --stdin files messages that are not reports (default: bounces-failed next to the database)")
	fl.StringVar(&f.logPath, "suppression-log", "", "canonical suppression log (default: suppressions.jsonl next to the database)")
	fl.StringVar(&f.VERPDelims, "verp-delims", "", `VERP delimiters of the return path (default: try "+=" then "-=")`)
	fl.StringVar(&f.RecipientHeaders, "recipient-header", "", "comma-separated headers of the returned message that name its recipient (e.g. X-Rcpt)")
	allowNetFlag(c, &f.allowNet)
	fl.BoolVar(&f.quiet, "quiet", false, "print only errors and the final summary")
	fl.IntVar(&f.Batch, "batch", 200, "messages per log append and database commit")
	c.MarkFlagDirname("maildir")
	completeSides(c, "side")
	return c
}

func bouncesWatch(f *bouncesWatchFlags) error {
	if f.maildir == "" && f.mbox == "" {
		f.stdin = true
	}
	if f.stdin && isatty.IsTerminal(os.Stdin.Fd()) {
		fmt.Fprintln(os.Stderr, "cutover bounces watch: give --maildir or --mbox, or pipe a message to standard input")
		return errUsage
	}
	if f.VERPDelims != "" && len(f.VERPDelims) != 2 {
		return fmt.Errorf("--verp-delims %q: want two characters, e.g. +=", f.VERPDelims)
	}
	if f.stdin {
		// An MTA pipe: any failure to keep the message must say "try
		// again later", never "undeliverable".
		if err := bouncesStdin(f); err != nil {
			fmt.Fprintf(os.Stderr, "cutover bounces watch: %v\n", err)
			return exitError{exTempFail}
		}
		return nil
	}
	return bouncesLoop(f)
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
		cfg, err := owner.LoadConfig(f.config)
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
	opt, err := f.Options()
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
	opt, _ := f.Options()
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

func newBouncesParseCmd() *cobra.Command {
	var verp string
	c := command("parse FILE...", "print what each message says (no database)",
		"  cutover bounces parse /var/mail/bounces/new/*", someArgs,
		func(_ *cobra.Command, args []string) error { return bouncesParse(verp, args) })
	c.Long = "Prints, as JSON lines, what each message is and which of its recipients would\nbe suppressed."
	c.Flags().StringVar(&verp, "verp-delims", "", "VERP delimiters (default: try += then -=)")
	return c
}

func bouncesParse(verp string, args []string) error {
	enc := json.NewEncoder(os.Stdout)
	for _, p := range args {
		out := parsedReport{File: p}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := bounce.Parse(raw, bounce.ParseOptions{VERPDelims: verp})
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

func newBouncesClassifyCmd() *cobra.Command {
	var status, cat string
	c := command("classify [--status X.Y.Z] [--bounce-cat CAT] TEXT", "the class of a reply text",
		"  cutover bounces classify --status 5.1.1 '550 5.1.1 user unknown'", someArgs,
		func(_ *cobra.Command, args []string) error { return bouncesClassify(status, cat, args) })
	c.Long = "Prints the class of a reply: kind, hard or not, and the rule that matched."
	c.Flags().StringVar(&status, "status", "", "enhanced status code as logged (5.1.1)")
	c.Flags().StringVar(&cat, "bounce-cat", "", "PowerMTA bounceCat")
	return c
}

func bouncesClassify(status, cat string, args []string) error {
	{
		v := model.ClassifyBounce(model.BounceInput{Status: status, Text: strings.Join(args, " "), BounceCat: cat})
		rule := v.Rule
		if rule == "" {
			rule = "(status code / category)"
		}
		fmt.Printf("class %s (%s) hard=%v temporary=%v status=%s code=%d rule=%s\n", v.Kind, v.Kind.Label(), v.Hard, v.Temporary, v.Status, v.Code, rule)
		return nil
	}
}
