package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/pelletier/go-toml/v2"

	"cutover/ingest/suppress"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// `cutover suppress ...`: the canonical suppression log (issue 5).

const suppressUsage = `usage:
  cutover suppress import --db FILE [--log FILE] --provider sendgrid|mailgun|ses|postmark|sparkpost|csv|list
                          [--list NAME] [--scope S] [--type T] [--map email=COL,...] FILE...
  cutover suppress stats --db FILE [--log FILE] [--json]
  cutover suppress check --db FILE [--log FILE] ADDRESS
  cutover suppress rebuild-index --db FILE [--log FILE]
  cutover suppress verify-log --db FILE [--log FILE]
  cutover suppress export --format postfix|postfix-regexp|exim|pmta|csv --db FILE [--out FILE]
  cutover suppress export --config FILE [--target NAME] [--file PATH] [--yes]
  cutover suppress verify --config FILE [--target NAME] [--db FILE] [--file PATH] [--smtp HOST:PORT]
`

// SuppressConfig is the [suppress] section cutover's config is meant to
// carry (Config.Suppress, toml:"suppress"); until Config has the field,
// the section is read here on its own.
//
//	[suppress.verify]
//	smtp = "127.0.0.1:25"     # the NEW MTA's SMTP endpoint for RCPT TO probes
type SuppressConfig struct {
	Verify SuppressVerifyConfig `toml:"verify"`
}

// SuppressVerifyConfig configures `cutover suppress verify`.
type SuppressVerifyConfig struct {
	SMTP       string `toml:"smtp"`
	SMTPProbes int    `toml:"smtp_probes"`
	Probes     int    `toml:"probes"`
	MailFrom   string `toml:"mail_from"`
	HELO       string `toml:"helo"`
}

// readSuppressConfig reads [suppress] from a config file, ignoring every
// other section (LoadConfig validates those).
func readSuppressConfig(path string) (SuppressConfig, error) {
	var v struct {
		Suppress SuppressConfig `toml:"suppress"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return v.Suppress, err
	}
	err = toml.Unmarshal(b, &v)
	return v.Suppress, err
}

func cmdSuppress(args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, suppressUsage)
		return errUsage
	}
	rest := args[1:]
	switch args[0] {
	case "import":
		return supImportCmd(rest)
	case "stats":
		return supStatsCmd(rest)
	case "check":
		return supCheckCmd(rest)
	case "rebuild-index":
		return supRebuildCmd(rest)
	case "verify-log":
		return supVerifyLogCmd(rest)
	case "export":
		return supExportCmd(rest)
	case "verify":
		return supVerifyCmd(rest)
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, suppressUsage)
		return nil
	}
	fmt.Fprint(os.Stderr, suppressUsage)
	return errUsage
}

// openSuppressLog opens the database and the log; readOnly opens both
// without writing (next to a running import or serve).
func openSuppressLog(dbPath, logPath string, readOnly bool) (*state.DB, *ssup.Log, error) {
	db, err := openDB(dbPath, true, readOnly)
	if err != nil {
		return nil, nil, err
	}
	l, err := ssup.Open(db, logPath, ssup.Options{ReadOnly: readOnly})
	if err != nil {
		db.Close()
		return nil, nil, suppressOpenErr(err, dbPath, logPath)
	}
	for _, n := range l.Notices() {
		fmt.Fprintf(os.Stderr, "notice: %s\n", sanitizeCell(n))
	}
	return db, l, nil
}

func suppressOpenErr(err error, dbPath, logPath string) error {
	if errors.Is(err, ssup.ErrIndexAhead) || errors.Is(err, ssup.ErrIndexMismatch) {
		lf := ""
		if logPath != "" {
			lf = " --log " + logPath
		}
		return fmt.Errorf("%w\n  check the log: cutover suppress verify-log --db %s%s\n  restore it from a backup, or accept it as it is: cutover suppress rebuild-index --db %s%s", err, dbPath, lf, dbPath, lf)
	}
	return err
}

func supImportCmd(args []string) error {
	fs := newFlags("suppress import")
	db := fs.String("db", "", "database file (required)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	provider := fs.String("provider", "", "export format: sendgrid, mailgun, ses, postmark, sparkpost, csv or list (required)")
	list := fs.String("list", "", "the provider's list (bounces, blocks, spam_reports, invalid_emails, global_unsubscribes, group_unsubscribes, complaints, unsubscribes...); default: detected")
	scope := fs.String("scope", "", "scope of every event: group:ID, domain:D, region:R, stream:S, subaccount:N (default account)")
	typ := fs.String("type", "", "suppression type of a plain list's rows (required for list) or of csv rows without one: unsubscribe, hard_bounce, complaint, manual, block")
	mapping := fs.String("map", "", "csv column mapping: email=COL[,type=COL][,ts=COL][,reason=COL][,scope=COL]")
	source := fs.String("source", "", "source label instead of the provider name")
	tz := fs.String("tz", "", "time zone of timestamps without one (default UTC)")
	rejects := fs.String("rejects", "", "rejects file (default <log>.rejects.csv)")
	quiet := fs.Bool("quiet", false, "no progress line")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress import --db FILE [--log FILE] --provider P [--list L] [--scope S] [--type T] [--map M] FILE...")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *db == "" || *provider == "" || len(files) == 0 {
		fs.Usage()
		return errUsage
	}
	p, err := suppress.ParseProvider(*provider)
	if err != nil {
		return err
	}
	opts := suppress.ImportOptions{Provider: p, LogPath: *logPath, List: *list, Scope: *scope, Source: *source, RejectsPath: *rejects}
	if *list != "" && len(suppress.Lists[p]) > 0 && !containsStr(suppress.Lists[p], *list) {
		return fmt.Errorf("--list %q: %s has %s", *list, p, strings.Join(suppress.Lists[p], ", "))
	}
	if *typ != "" {
		t, ok := model.ParseSuppressionType(*typ)
		if !ok {
			return fmt.Errorf("--type %q: want unsubscribe, hard_bounce, complaint, manual or block", *typ)
		}
		opts.Type = t
	}
	if p == suppress.PlainList && *typ == "" {
		return fmt.Errorf("--type is required with --provider list (unsubscribe, hard_bounce, complaint, manual, block)")
	}
	if *mapping != "" {
		if opts.Map, err = suppress.ParseMap(*mapping); err != nil {
			return fmt.Errorf("--map: %v", err)
		}
	} else if p == suppress.GenericCSV {
		return fmt.Errorf("--map is required with --provider csv (e.g. --map email=Email,type=Reason,ts=Date)")
	}
	if *tz != "" {
		if opts.TZ, err = time.LoadLocation(*tz); err != nil {
			return fmt.Errorf("--tz: %v", err)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	// A serve or a cockpit holds the database: it imports on its own log.
	if cl := dialImportOwner(*db); cl != nil {
		defer cl.Close()
		req, err := ownerImportRequest(opts, *typ, *mapping, *tz, *rejects, *logPath, files)
		if err != nil {
			return err
		}
		return importViaOwner(cl, req, files, !*quiet && isatty.IsTerminal(os.Stderr.Fd()))
	}
	d, err := openDB(*db, true, false)
	if err != nil {
		return err
	}
	defer d.Close()
	opts.DB = d
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress func(suppress.Progress)
	tty := !*quiet && isatty.IsTerminal(os.Stderr.Fd())
	if tty {
		progress = func(pr suppress.Progress) {
			fmt.Fprintf(os.Stderr, "\r\x1b[K%s", sanitizeCell(pr.String()))
			if pr.Done {
				fmt.Fprintln(os.Stderr)
			}
		}
	}
	sum, err := suppress.Import(ctx, opts, files, progress)
	sum.WriteText(os.Stdout)
	if err != nil {
		return suppressOpenErr(err, *db, *logPath)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted; what was read is in the log, run the same import again to complete it")
	}
	return nil
}

func containsStr(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// suppressStatsJSON is `suppress stats --json`.
type suppressStatsJSON struct {
	Log string `json:"log"`
	ssup.Stats
	Verifications []mtactl.SuppressVerification `json:"verifications,omitempty"`
}

func supStatsCmd(args []string) error {
	fs := newFlags("suppress stats")
	db := fs.String("db", "", "database file (required)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress stats --db FILE [--log FILE] [--json]")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 || *db == "" {
		fs.Usage()
		return errUsage
	}
	d, l, err := openSuppressLog(*db, *logPath, true)
	if err != nil {
		return err
	}
	defer d.Close()
	defer l.Close()
	st, err := l.Stats()
	if err != nil {
		return err
	}
	vs, err := mtactl.SuppressVerifications(d)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(suppressStatsJSON{Log: l.Path(), Stats: st, Verifications: vs})
	}
	fmt.Printf("log %s: %d events (last seq %d), %d distinct addresses, %d suppressed\n", sanitizeCell(l.Path()), st.Events, st.LastSeq, st.Addresses, st.Suppressed)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tADDRESSES\tEVENTS")
	for _, k := range sortedCountKeys(st.ByType) {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", sanitizeCell(k), st.ByType[k].Addresses, st.ByType[k].Events)
	}
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "SOURCE\tADDRESSES\tEVENTS")
	for _, k := range sortedCountKeys(st.BySource) {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", sanitizeCell(k), st.BySource[k].Addresses, st.BySource[k].Events)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range vs {
		fmt.Println(verificationLine(&v, st.LastSeq))
	}
	return nil
}

func sortedCountKeys(m map[string]ssup.Count) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// verificationLine is one target's verification state.
func verificationLine(v *mtactl.SuppressVerification, lastSeq uint64) string {
	when := v.Time.UTC().Format("2006-01-02 15:04:05Z")
	if !v.OK {
		return fmt.Sprintf("target %s: FAILED at %s: %d missing of %d", sanitizeCell(v.Target), when, v.MissingCount, v.Count)
	}
	s := fmt.Sprintf("target %s: verified at %s with %d addresses", sanitizeCell(v.Target), when, v.Count)
	if v.LogSeq != lastSeq {
		s += fmt.Sprintf(" (stale: the log moved from seq %d to %d)", v.LogSeq, lastSeq)
	}
	return s
}

func supCheckCmd(args []string) error {
	fs := newFlags("suppress check")
	db := fs.String("db", "", "database file (required)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	asJSON := fs.Bool("json", false, "print the events as JSON Lines")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress check --db FILE [--log FILE] [--json] ADDRESS   (exit 1 when not suppressed)")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 || *db == "" {
		fs.Usage()
		return errUsage
	}
	norm, _, err := model.NormalizeAddress(pos[0])
	if err != nil {
		return err
	}
	d, l, err := openSuppressLog(*db, *logPath, true)
	if err != nil {
		return err
	}
	defer d.Close()
	defer l.Close()
	evs, err := l.Check(norm)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		fmt.Printf("%s: not in the suppression log\n", sanitizeCell(norm))
		return errNotSuppressed
	}
	if *asJSON {
		var b []byte
		for i := range evs {
			b = evs[i].AppendJSON(b[:0])
			os.Stdout.Write(append(b, '\n'))
		}
		return nil
	}
	fmt.Printf("%s: %d events\n", sanitizeCell(norm), len(evs))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTYPE\tTIME\tSOURCE\tSCOPE\tORIGIN\tREASON")
	for _, e := range evs {
		ts := "-"
		if !e.TS.IsZero() {
			ts = model.FormatSuppressionTime(e.TS)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Type, ts, sanitizeCell(e.Source), sanitizeCell(e.Scope),
			sanitizeCell(e.Origin), sanitizeCell(e.Reason))
	}
	return tw.Flush()
}

// errNotSuppressed: `suppress check` exits 1 without another message.
var errNotSuppressed = errors.New("not suppressed")

func supRebuildCmd(args []string) error {
	fs := newFlags("suppress rebuild-index")
	db := fs.String("db", "", "database file (required)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress rebuild-index --db FILE [--log FILE]")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 || *db == "" {
		fs.Usage()
		return errUsage
	}
	d, err := openDB(*db, true, false)
	if err != nil {
		return err
	}
	defer d.Close()
	path := *logPath
	if path == "" {
		path = ssup.DefaultLogPath(d.Path())
	}
	n, notices, err := ssup.RebuildIndex(d, path)
	for _, s := range notices {
		fmt.Fprintf(os.Stderr, "notice: %s\n", sanitizeCell(s))
	}
	if err != nil {
		return err
	}
	fmt.Printf("rebuilt the suppression index from %s: %d events\n", sanitizeCell(path), n)
	return nil
}

func supVerifyLogCmd(args []string) error {
	fs := newFlags("suppress verify-log")
	db := fs.String("db", "", "database file (its index anchor is checked too)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress verify-log --db FILE [--log FILE]   (exit 1 when the log is broken)")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 || (*db == "" && *logPath == "") {
		fs.Usage()
		return errUsage
	}
	var d *state.DB
	path := *logPath
	if *db != "" {
		var err error
		if d, err = openDB(*db, true, true); err != nil {
			return err
		}
		defer d.Close()
		if path == "" {
			path = ssup.DefaultLogPath(d.Path())
		}
	}
	rep, err := ssup.VerifyLog(path, d)
	if err != nil {
		return err
	}
	fmt.Println(sanitizeLines(rep.String()))
	if !rep.OK() {
		if rep.Bad != nil {
			return fmt.Errorf("%s: line %d (offset %d): %s: %s", path, rep.Bad.Line, rep.Bad.Offset, sanitizeCell(rep.Bad.Reason), sanitizeCell(rep.Bad.Text))
		}
		return fmt.Errorf("%s does not verify", path)
	}
	return nil
}

func supExportCmd(args []string) error {
	fs := newFlags("suppress export")
	db := fs.String("db", "", "database file (default: the config's)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	format := fs.String("format", "", "postfix, postfix-regexp, exim, pmta or csv (with --config: the target's)")
	cfgPath := fs.String("config", "", "config file: install into the [mtactl] target through an apply transaction")
	target := fs.String("target", "", "with --config: the driver (postfix-front, postfix-delivery, exim, pmta, demo); default the only one")
	file := fs.String("file", "", "with --config: the file to install (default in the target's config directory)")
	out := fs.String("out", "", "write to this file (atomically) instead of stdout")
	blocks := fs.Bool("include-blocks", false, "export SendGrid blocks too (not suppressions)")
	rejectText := fs.String("reject-text", "", "text after REJECT in Postfix maps")
	yes := fs.Bool("yes", false, "install without asking")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress export --format F --db FILE [--out FILE]\n       cutover suppress export --config FILE [--target NAME] [--file PATH] [--yes]")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		fs.Usage()
		return errUsage
	}
	var fmtSet ssup.Format
	if *format != "" {
		f, err := ssup.ParseFormat(*format)
		if err != nil {
			return err
		}
		fmtSet = f
	}
	if *cfgPath == "" {
		if *db == "" || fmtSet == "" {
			fs.Usage()
			return errUsage
		}
		d, l, err := openSuppressLog(*db, *logPath, true)
		if err != nil {
			return err
		}
		defer d.Close()
		defer l.Close()
		return exportToFile(l, fmtSet, *out, ssup.ExportOptions{Format: fmtSet, IncludeBlocks: *blocks, RejectText: *rejectText})
	}
	if *out != "" {
		return fmt.Errorf("--out and --config exclude each other (--config installs into the target; --file names its file)")
	}
	c, d, err := openSuppressController(*cfgPath, *db)
	if err != nil {
		return err
	}
	defer d.Close()
	l, err := ssup.Open(d, *logPath, ssup.Options{})
	if err != nil {
		return suppressOpenErr(err, d.Path(), *logPath)
	}
	defer l.Close()
	t, err := c.SuppressTarget(*target, *file)
	if err != nil {
		return err
	}
	if fmtSet != "" && fmtSet != t.Format {
		return fmt.Errorf("--format %s: target %s reads %s", fmtSet, t.Name, t.Format)
	}
	set, err := l.Set(*blocks)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "export %d suppressed addresses (log seq %d) to %s (%s, %s)\n", len(set), l.LastSeq(), sanitizeCell(t.Path), t.Name, t.Format)
	if !*yes {
		if !isatty.IsTerminal(os.Stdin.Fd()) {
			return fmt.Errorf("refusing to install without --yes: stdin is not a terminal")
		}
		fmt.Fprint(os.Stderr, "install through mtactl (validate, reload)? (y/N) ")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			return fmt.Errorf("not installed")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := c.ExportSuppressions(ctx, l, mtactl.SuppressExportOptions{Target: t.Name, Path: *file, IncludeBlocks: *blocks, RejectText: *rejectText},
		mtactl.CurrentWho("suppress export"))
	if err != nil {
		return err
	}
	if res.Unchanged {
		fmt.Printf("%s already holds these %d addresses; nothing to install\n", sanitizeCell(res.Target.Path), res.Result.Written)
		return nil
	}
	fmt.Printf("installed %d addresses into %s (change #%s; reloaded: %s)\n", res.Result.Written, sanitizeCell(res.Target.Path), res.Entry.ID, strings.Join(res.Entry.Reloaded, ", "))
	if res.Result.Regexp > 0 {
		fmt.Printf("  %d of them in %s (keys a hash map cannot hold)\n", res.Result.Regexp, sanitizeCell(res.Target.Regexp))
	}
	if res.Target.Rules != "" {
		fmt.Printf("  and %d rcpt-to rules in %s (pattern-list %s, virtual-mta %s)\n", res.Rules, sanitizeCell(res.Target.Rules), res.Target.RulesName, res.Target.RulesVMTA)
	}
	fmt.Printf("next: cutover suppress verify --config %s --target %s\n", *cfgPath, t.Name)
	return nil
}

// exportToFile writes an export to stdout, or atomically to a file.
func exportToFile(l *ssup.Log, f ssup.Format, out string, eo ssup.ExportOptions) error {
	var rx bytes.Buffer
	if f == ssup.FormatPostfix {
		eo.PostfixRegexp = &rx
	}
	var buf bytes.Buffer
	res, err := l.Export(&buf, eo)
	if err != nil {
		return err
	}
	write := func(path string, data []byte) error {
		if path == "" {
			_, err := os.Stdout.Write(data)
			return err
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		if _, err := tmp.Write(data); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		os.Chmod(tmp.Name(), 0o644)
		return os.Rename(tmp.Name(), path)
	}
	if err := write(out, buf.Bytes()); err != nil {
		return err
	}
	if res.Regexp > 0 || (out != "" && rx.Len() > 0) {
		if out == "" {
			return fmt.Errorf("%d addresses need the regexp companion map (local part starting with '#'): use --out FILE (writes FILE.regexp too)", res.Regexp)
		}
		if err := write(out+".regexp", rx.Bytes()); err != nil {
			return err
		}
	}
	if out != "" {
		fmt.Fprintf(os.Stderr, "wrote %d addresses to %s (sha256 %s, log seq %d)\n", res.Written-res.Regexp, out, res.SHA256, res.LastSeq)
		if res.Regexp > 0 {
			fmt.Fprintf(os.Stderr, "wrote %d addresses to %s.regexp\n", res.Regexp, out)
		}
	}
	return nil
}

// openSuppressController opens the config's database (or dbPath) read-write
// and mtactl over it.
func openSuppressController(cfgPath, dbPath string) (*mtactl.Controller, *state.DB, error) {
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Mtactl == nil {
		return nil, nil, fmt.Errorf("%s: no [mtactl] section: no MTA to install suppressions into", cfgPath)
	}
	if dbPath == "" {
		dbPath = cfg.Database.Path
	}
	d, err := openDB(dbPath, cfg.Database.AllowNetworkFS, false)
	if err != nil {
		return nil, nil, err
	}
	c, err := mtactl.New(*cfg.Mtactl, d)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return c, d, nil
}

func supVerifyCmd(args []string) error {
	fs := newFlags("suppress verify")
	cfgPath := fs.String("config", "", "config file with the [mtactl] target (required)")
	db := fs.String("db", "", "database file (default: the config's)")
	logPath := fs.String("log", "", "canonical log (default suppressions.jsonl next to the database)")
	target := fs.String("target", "", "the driver (postfix-front, postfix-delivery, exim, pmta, demo); default the only one")
	file := fs.String("file", "", "the installed file (default in the target's config directory)")
	smtpAddr := fs.String("smtp", "", "the NEW MTA's SMTP endpoint HOST:PORT for RCPT TO probes (default [suppress.verify] smtp)")
	probes := fs.Int("probes", 0, "addresses probed through the MTA's lookup (default 50)")
	smtpProbes := fs.Int("smtp-probes", 0, "suppressed addresses probed by RCPT TO, and as many others (default 10)")
	mailFrom := fs.String("mail-from", "", "MAIL FROM of the probes (default the null sender)")
	blocks := fs.Bool("include-blocks", false, "the export included SendGrid blocks")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover suppress verify --config FILE [--target NAME] [--db FILE] [--file PATH] [--smtp HOST:PORT]   (exit 1 when anything is missing)")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 || *cfgPath == "" {
		fs.Usage()
		return errUsage
	}
	sc, err := readSuppressConfig(*cfgPath)
	if err != nil {
		return fmt.Errorf("%s: [suppress]: %v", *cfgPath, err)
	}
	opt := mtactl.SuppressVerifyOptions{Target: *target, Path: *file, IncludeBlocks: *blocks, Probes: *probes, SMTP: *smtpAddr,
		SMTPProbes: *smtpProbes, MailFrom: *mailFrom, HELO: sc.Verify.HELO}
	if opt.SMTP == "" {
		opt.SMTP = sc.Verify.SMTP
	}
	if opt.Probes == 0 {
		opt.Probes = sc.Verify.Probes
	}
	if opt.SMTPProbes == 0 {
		opt.SMTPProbes = sc.Verify.SMTPProbes
	}
	if opt.MailFrom == "" {
		opt.MailFrom = sc.Verify.MailFrom
	}
	c, d, err := openSuppressController(*cfgPath, *db)
	if err != nil {
		return err
	}
	defer d.Close()
	l, err := ssup.Open(d, *logPath, ssup.Options{})
	if err != nil {
		return suppressOpenErr(err, d.Path(), *logPath)
	}
	defer l.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := c.VerifySuppressions(ctx, l, opt)
	if err != nil {
		return err
	}
	if err := mtactl.RecordSuppressVerification(d, v); err != nil {
		return fmt.Errorf("record the verification: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		writeVerification(os.Stdout, v)
	}
	if !v.OK {
		return fmt.Errorf("target %s is NOT verified: %s", v.Target, sanitizeCell(strings.Join(v.Problems, "; ")))
	}
	return nil
}

func writeVerification(w io.Writer, v *mtactl.SuppressVerification) {
	fmt.Fprintf(w, "target %s: %s\n", sanitizeCell(v.Target), sanitizeCell(v.Path))
	fmt.Fprintf(w, "  log: %d addresses to suppress (seq %d); target holds %d\n", v.Count, v.LogSeq, v.InTarget)
	fmt.Fprintf(w, "  missing: %d\n", v.MissingCount)
	for _, a := range v.Missing {
		fmt.Fprintf(w, "    - %s\n", sanitizeCell(a))
	}
	fmt.Fprintf(w, "  extra: %d\n", v.ExtraCount)
	for _, a := range v.Extra {
		fmt.Fprintf(w, "    + %s\n", sanitizeCell(a))
	}
	if v.Rules != "" {
		fmt.Fprintf(w, "  rule file %s: %d rules; missing %d, extra %d, duplicate %d, not cutover's %d\n", sanitizeCell(v.Rules),
			v.RulesCount, len(v.RulesMissing), len(v.RulesExtra), len(v.RulesDuplicate), len(v.RulesBad))
		for i, l := range [][]string{v.RulesMissing, v.RulesExtra, v.RulesDuplicate, v.RulesBad} {
			for _, a := range l {
				fmt.Fprintf(w, "    %c %s\n", "-+=!"[i], sanitizeCell(a))
			}
		}
	}
	if v.LookupProbes > 0 {
		fmt.Fprintf(w, "  lookup probes: %d, not found %d\n", v.LookupProbes, len(v.LookupMissing))
		for _, a := range v.LookupMissing {
			fmt.Fprintf(w, "    ? %s\n", sanitizeCell(a))
		}
	}
	if v.SMTP != "" {
		fmt.Fprintf(w, "  RCPT TO probes at %s: %d suppressed refused, %d not refused; %d others accepted, %d not accepted\n",
			sanitizeCell(v.SMTP), v.SMTPRefused, len(v.SMTPNotRefused), v.SMTPAccepted, len(v.SMTPNotAccepted))
		for _, a := range v.SMTPNotRefused {
			fmt.Fprintf(w, "    ! %s\n", sanitizeCell(a))
		}
		for _, a := range v.SMTPNotAccepted {
			fmt.Fprintf(w, "    ! %s\n", sanitizeCell(a))
		}
	} else {
		if v.SMTPSkipped != "" {
			fmt.Fprintf(w, "  RCPT TO probes: skipped: %s\n", v.SMTPSkipped)
		} else {
			fmt.Fprintln(w, "  RCPT TO probes: none (no --smtp / [suppress.verify] smtp)")
		}
	}
	if v.OK {
		fmt.Fprintf(w, "  VERIFIED at %s\n", v.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintln(w, "  FAILED")
	}
}
