package cli

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/spf13/cobra"

	"cutover/ingest/suppress"
	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// `cutover suppress ...`: the canonical suppression log (issue 5).

func newSuppressCmd() *cobra.Command {
	return group(&cobra.Command{Use: "suppress", Short: "the canonical suppression log: import, check, export, verify",
		Example: "  cutover suppress check --db cutover.db user@example.com", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}},
		newSupImportCmd(), newSupStatsCmd(), newSupCheckCmd(), newSupRebuildCmd(), newSupVerifyLogCmd(),
		newSupExportCmd(), newSupVerifyCmd())
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

type supImportFlags struct {
	db, logPath, provider, list, scope, typ, mapping, source, tz, rejects string
	quiet                                                                 bool
}

func newSupImportCmd() *cobra.Command {
	var f supImportFlags
	c := command("import --db FILE --provider P [--list L] [--type T] FILE...",
		"append a provider's suppression export to the log",
		"  cutover suppress import --db cutover.db --provider sendgrid bounces.csv",
		func(args []string) bool { return someArgs(args) && f.db != "" && f.provider != "" },
		func(_ *cobra.Command, files []string) error { return supImport(f, files) })
	c.Long = `Appends the suppressions of provider exports to the canonical log (deduplicated;
importing the same file again adds nothing). When a serve or a cockpit holds
the database, the import runs in that process, on its log.`
	dbFlag(c, &f.db, "")
	logFlag(c, &f.logPath)
	fl := c.Flags()
	fl.StringVar(&f.provider, "provider", "", "export format: sendgrid, mailgun, ses, postmark, sparkpost, csv or list (required)")
	fl.StringVar(&f.list, "list", "", "the provider's list (bounces, blocks, spam_reports, invalid_emails, global_unsubscribes, group_unsubscribes, complaints, unsubscribes...); default: detected")
	fl.StringVar(&f.scope, "scope", "", "scope of every event: group:ID, domain:D, region:R, stream:S, subaccount:N (default account)")
	fl.StringVar(&f.typ, "type", "", "suppression type of a plain list's rows (required for list) or of csv rows without one: unsubscribe, hard_bounce, complaint, manual, block")
	fl.StringVar(&f.mapping, "map", "", "csv column mapping: email=COL[,type=COL][,ts=COL][,reason=COL][,scope=COL]")
	fl.StringVar(&f.source, "source", "", "source label instead of the provider name")
	fl.StringVar(&f.tz, "tz", "", "time zone of timestamps without one (default UTC)")
	fl.StringVar(&f.rejects, "rejects", "", "rejects file (default <log>.rejects.csv)")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress line")
	c.RegisterFlagCompletionFunc("provider", fixed("sendgrid", "mailgun", "ses", "postmark", "sparkpost", "csv", "list"))
	c.RegisterFlagCompletionFunc("type", fixed("unsubscribe", "hard_bounce", "complaint", "manual", "block"))
	return c
}

func supImport(f supImportFlags, files []string) error {
	p, err := suppress.ParseProvider(f.provider)
	if err != nil {
		return err
	}
	opts := suppress.ImportOptions{Provider: p, LogPath: f.logPath, List: f.list, Scope: f.scope, Source: f.source, RejectsPath: f.rejects}
	if f.list != "" && len(suppress.Lists[p]) > 0 && !containsStr(suppress.Lists[p], f.list) {
		return fmt.Errorf("--list %q: %s has %s", f.list, p, strings.Join(suppress.Lists[p], ", "))
	}
	if f.typ != "" {
		t, ok := model.ParseSuppressionType(f.typ)
		if !ok {
			return fmt.Errorf("--type %q: want unsubscribe, hard_bounce, complaint, manual or block", f.typ)
		}
		opts.Type = t
	}
	if p == suppress.PlainList && f.typ == "" {
		return fmt.Errorf("--type is required with --provider list (unsubscribe, hard_bounce, complaint, manual, block)")
	}
	if f.mapping != "" {
		if opts.Map, err = suppress.ParseMap(f.mapping); err != nil {
			return fmt.Errorf("--map: %v", err)
		}
	} else if p == suppress.GenericCSV {
		return fmt.Errorf("--map is required with --provider csv (e.g. --map email=Email,type=Reason,ts=Date)")
	}
	if f.tz != "" {
		if opts.TZ, err = time.LoadLocation(f.tz); err != nil {
			return fmt.Errorf("--tz: %v", err)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	// A serve or a cockpit holds the database: it imports on its own log.
	if cl := dialImportOwner(f.db); cl != nil {
		defer cl.Close()
		// The owner opens the files itself: a pipe (/dev/stdin) of this
		// process is not one it can read.
		for _, name := range files {
			if st, err := os.Stat(name); err == nil && !st.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file (a pipe?): the process that holds the database reads the files itself and cannot read this one; save it to a file and import that", name)
			}
		}
		req, err := ownerImportRequest(opts, f.typ, f.mapping, f.tz, f.rejects, f.logPath, files)
		if err != nil {
			return err
		}
		return importViaOwner(cl, req, files, !f.quiet && isatty.IsTerminal(os.Stderr.Fd()))
	}
	d, err := openDB(f.db, true, false)
	if err != nil {
		return err
	}
	defer d.Close()
	opts.DB = d
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress func(suppress.Progress)
	tty := !f.quiet && isatty.IsTerminal(os.Stderr.Fd())
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
		return suppressOpenErr(err, f.db, f.logPath)
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

func newSupStatsCmd() *cobra.Command {
	var db, logPath string
	var asJSON bool
	c := command("stats --db FILE [--log FILE] [--json]", "events and addresses per type and source",
		"  cutover suppress stats --db cutover.db --json",
		func(args []string) bool { return noArgs(args) && db != "" },
		func(_ *cobra.Command, _ []string) error { return supStats(db, logPath, asJSON) })
	dbFlag(c, &db, "")
	logFlag(c, &logPath)
	jsonFlag(c, &asJSON, "")
	return c
}

func supStats(db, logPath string, asJSON bool) error {
	d, l, err := openSuppressLog(db, logPath, true)
	if err != nil {
		return queryOwner(os.Stdout, db, queryReq{Cmd: "suppress stats", JSON: asJSON, Log: absPath(logPath)}, err)
	}
	defer d.Close()
	defer l.Close()
	return supStatsTo(os.Stdout, d, l, asJSON)
}

// supStatsTo prints the statistics of log l of d.
func supStatsTo(w io.Writer, d *state.DB, l *ssup.Log, asJSON bool) error {
	st, err := l.Stats()
	if err != nil {
		return err
	}
	vs, err := mtactl.SuppressVerifications(d)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, suppressStatsJSON{Log: l.Path(), Stats: st, Verifications: vs})
	}
	fmt.Fprintf(w, "log %s: %d events (last seq %d), %d distinct addresses, %d suppressed\n", sanitizeCell(l.Path()), st.Events, st.LastSeq, st.Addresses, st.Suppressed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
		fmt.Fprintln(w, verificationLine(&v, st.LastSeq))
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

func newSupCheckCmd() *cobra.Command {
	var db, logPath string
	var asJSON bool
	c := command("check --db FILE [--log FILE] [--json] ADDRESS", "the events that suppress an address",
		"  cutover suppress check --db cutover.db User@Example.com",
		func(args []string) bool { return oneArg(args) && db != "" },
		func(_ *cobra.Command, args []string) error { return supCheck(db, logPath, asJSON, args[0]) })
	c.Annotations[annExit] = "0 suppressed, 1 not suppressed or failed, 2 bad command line."
	dbFlag(c, &db, "")
	logFlag(c, &logPath)
	jsonFlag(c, &asJSON, "print the events as JSON Lines")
	return c
}

func supCheck(db, logPath string, asJSON bool, addr string) error {
	norm, _, err := model.NormalizeAddress(addr)
	if err != nil {
		return err
	}
	d, l, err := openSuppressLog(db, logPath, true)
	if err != nil {
		return queryOwner(os.Stdout, db, queryReq{Cmd: "suppress check", JSON: asJSON, Log: absPath(logPath), Addr: norm}, err)
	}
	defer d.Close()
	defer l.Close()
	return supCheckTo(os.Stdout, l, asJSON, norm)
}

// supCheckTo prints the events of l that suppress the normalized address.
func supCheckTo(w io.Writer, l *ssup.Log, asJSON bool, norm string) error {
	evs, err := l.Check(norm)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		fmt.Fprintf(w, "%s: not in the suppression log\n", sanitizeCell(norm))
		return errNotSuppressed
	}
	if asJSON {
		var b []byte
		for i := range evs {
			b = evs[i].AppendJSON(b[:0])
			w.Write(append(b, '\n'))
		}
		return nil
	}
	fmt.Fprintf(w, "%s: %d events\n", sanitizeCell(norm), len(evs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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

func newSupRebuildCmd() *cobra.Command {
	var db, logPath string
	c := command("rebuild-index --db FILE [--log FILE]", "rebuild the database's index from the log",
		"  cutover suppress rebuild-index --db cutover.db",
		func(args []string) bool { return noArgs(args) && db != "" },
		func(_ *cobra.Command, _ []string) error { return supRebuild(db, logPath) })
	dbFlag(c, &db, "")
	logFlag(c, &logPath)
	return c
}

func supRebuild(db, logPath string) error {
	d, err := openDB(db, true, false)
	if err != nil {
		return err
	}
	defer d.Close()
	path := logPath
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

func newSupVerifyLogCmd() *cobra.Command {
	var db, logPath string
	c := command("verify-log --db FILE [--log FILE]", "check the log's hash chain and the index anchor",
		"  cutover suppress verify-log --db cutover.db",
		func(args []string) bool { return noArgs(args) && (db != "" || logPath != "") },
		func(_ *cobra.Command, _ []string) error { return supVerifyLog(db, logPath) })
	c.Annotations[annExit] = "0 the log verifies, 1 it is broken (the message names the line),\n2 bad command line."
	dbFlag(c, &db, "database file (its index anchor is checked too)")
	logFlag(c, &logPath)
	return c
}

func supVerifyLog(db, logPath string) error {
	var d *state.DB
	path := logPath
	if db != "" {
		var err error
		if d, err = openDB(db, true, true); err != nil {
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

type supExportFlags struct {
	db, logPath, format, cfgPath, target, file, out, rejectText string
	blocks, yes                                                 bool
}

func newSupExportCmd() *cobra.Command {
	var f supExportFlags
	c := command("export (--format F --db FILE | --config FILE) [--out FILE]",
		"write suppressed addresses in an MTA's format, or install them",
		"  cutover suppress export --format postfix --db cutover.db --out suppressed",
		noArgs,
		func(cmd *cobra.Command, _ []string) error { return supExport(cmd, f) })
	c.Long = `Writes the suppressed addresses as a Postfix, Exim or PowerMTA lookup file (or
CSV) to stdout or --out; with --config, installs them into the [mtactl]
target through an apply transaction (validate, reload, audit).`
	dbFlag(c, &f.db, "database file (default: the config's)")
	logFlag(c, &f.logPath)
	fl := c.Flags()
	fl.StringVar(&f.format, "format", "", "postfix, postfix-regexp, exim, pmta or csv (with --config: the target's)")
	configFlag(c, &f.cfgPath, "config file: install into the [mtactl] target through an apply transaction")
	fl.StringVar(&f.target, "target", "", "with --config: the driver (postfix-front, postfix-delivery, exim, pmta, demo); default the only one")
	fl.StringVar(&f.file, "file", "", "with --config: the file to install (default in the target's config directory)")
	fl.StringVar(&f.out, "out", "", "write to this file (atomically) instead of stdout")
	fl.BoolVar(&f.blocks, "include-blocks", false, "export SendGrid blocks too (not suppressions)")
	fl.StringVar(&f.rejectText, "reject-text", "", "text after REJECT in Postfix maps")
	fl.BoolVar(&f.yes, "yes", false, "install without asking")
	c.RegisterFlagCompletionFunc("format", fixed("postfix", "postfix-regexp", "exim", "pmta", "csv"))
	c.RegisterFlagCompletionFunc("target", fixed("postfix-front", "postfix-delivery", "exim", "pmta", "demo"))
	c.Annotations["env"] = envChange
	return c
}

func supExport(cmd *cobra.Command, f supExportFlags) error {
	var fmtSet ssup.Format
	if f.format != "" {
		v, err := ssup.ParseFormat(f.format)
		if err != nil {
			return err
		}
		fmtSet = v
	}
	if f.cfgPath == "" {
		if f.db == "" || fmtSet == "" {
			return usage(cmd)
		}
		d, l, err := openSuppressLog(f.db, f.logPath, true)
		if err != nil {
			return err
		}
		defer d.Close()
		defer l.Close()
		return exportToFile(l, fmtSet, f.out, ssup.ExportOptions{Format: fmtSet, IncludeBlocks: f.blocks, RejectText: f.rejectText})
	}
	if f.out != "" {
		return fmt.Errorf("--out and --config exclude each other (--config installs into the target; --file names its file)")
	}
	c, d, l, err := openSuppressTarget(f.cfgPath, f.db, f.logPath)
	if err != nil {
		return err
	}
	defer d.Close()
	defer l.Close()
	t, err := c.SuppressTarget(f.target, f.file)
	if err != nil {
		return err
	}
	if fmtSet != "" && fmtSet != t.Format {
		return fmt.Errorf("--format %s: target %s reads %s", fmtSet, t.Name, t.Format)
	}
	set, err := l.Set(f.blocks)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "export %d suppressed addresses (log seq %d) to %s (%s, %s)\n", len(set), l.LastSeq(), sanitizeCell(t.Path), t.Name, t.Format)
	if !f.yes {
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
	res, err := c.ExportSuppressions(ctx, l, mtactl.SuppressExportOptions{Target: t.Name, Path: f.file, IncludeBlocks: f.blocks, RejectText: f.rejectText},
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
	fmt.Printf("next: cutover suppress verify --config %s --target %s\n", f.cfgPath, t.Name)
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
	cfg, err := owner.LoadConfig(cfgPath)
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

type supVerifyFlags struct {
	cfgPath, db, logPath, target, file, smtpAddr, mailFrom string
	probes, smtpProbes                                     int
	blocks, asJSON                                         bool
}

func newSupVerifyCmd() *cobra.Command {
	var f supVerifyFlags
	c := command("verify --config FILE [--target T] [--file PATH] [--smtp H:P]",
		"check that the MTA holds every suppressed address",
		"  cutover suppress verify --config cutover.toml --smtp 127.0.0.1:25",
		func(args []string) bool { return noArgs(args) && f.cfgPath != "" },
		func(_ *cobra.Command, _ []string) error { return supVerify(f) })
	c.Annotations[annExit] = "0 verified, 1 something is missing or failed, 2 bad command line."
	configFlag(c, &f.cfgPath, "config file with the [mtactl] target (required)")
	dbFlag(c, &f.db, "database file (default: the config's)")
	logFlag(c, &f.logPath)
	fl := c.Flags()
	fl.StringVar(&f.target, "target", "", "the driver (postfix-front, postfix-delivery, exim, pmta, demo); default the only one")
	fl.StringVar(&f.file, "file", "", "the installed file (default in the target's config directory)")
	fl.StringVar(&f.smtpAddr, "smtp", "", "the NEW MTA's SMTP endpoint HOST:PORT for RCPT TO probes (default [suppress.verify] smtp)")
	fl.IntVar(&f.probes, "probes", 0, "addresses probed through the MTA's lookup (default 50)")
	fl.IntVar(&f.smtpProbes, "smtp-probes", 0, "suppressed addresses probed by RCPT TO, and as many others (default 10)")
	fl.StringVar(&f.mailFrom, "mail-from", "", "MAIL FROM of the probes (default the null sender)")
	fl.BoolVar(&f.blocks, "include-blocks", false, "the export included SendGrid blocks")
	jsonFlag(c, &f.asJSON, "print the result as JSON")
	c.RegisterFlagCompletionFunc("target", fixed("postfix-front", "postfix-delivery", "exim", "pmta", "demo"))
	return c
}

// openSuppressTarget opens mtactl over the config's database (or dbPath)
// and the canonical log, read-write, for an export or a verification.
func openSuppressTarget(cfgPath, dbPath, logPath string) (*mtactl.Controller, *state.DB, *ssup.Log, error) {
	c, d, err := openSuppressController(cfgPath, dbPath)
	if err != nil {
		return nil, nil, nil, err
	}
	l, err := ssup.Open(d, logPath, ssup.Options{})
	if err != nil {
		d.Close()
		return nil, nil, nil, suppressOpenErr(err, d.Path(), logPath)
	}
	return c, d, l, nil
}

func supVerify(f supVerifyFlags) error {
	sc, err := owner.ReadSuppressConfig(f.cfgPath)
	if err != nil {
		return fmt.Errorf("%s: [suppress]: %v", f.cfgPath, err)
	}
	opt := mtactl.SuppressVerifyOptions{Target: f.target, Path: f.file, IncludeBlocks: f.blocks, Probes: f.probes, SMTP: f.smtpAddr,
		SMTPProbes: f.smtpProbes, MailFrom: f.mailFrom, HELO: sc.Verify.HELO}
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
	c, d, l, err := openSuppressTarget(f.cfgPath, f.db, f.logPath)
	if err != nil {
		return err
	}
	defer d.Close()
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
	if f.asJSON {
		if err := printJSON(os.Stdout, v); err != nil {
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
