package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
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

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
	"cutover/ui"
)

// errUsage is returned after a flag error was already printed.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if err == errUsage {
		return 2
	}
	return 1
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("cutover "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage // -h included: the usage is printed already
	}
	return nil
}

// newParser returns the parser for a source kind.
func newParser(kind string, loc *time.Location) (ingest.Parser, error) {
	switch kind {
	case "pmta":
		return pmta.New(pmta.Options{Location: loc}), nil
	case "postfix":
		return postfix.New(postfix.Options{Location: loc}), nil
	case "exim":
		return exim.New(exim.Options{Location: loc}), nil
	}
	return nil, fmt.Errorf("kind %q: want pmta, postfix or exim", kind)
}

func openDB(path string, allowNetFS, readOnly bool) (*state.DB, error) {
	if path == "" {
		return nil, fmt.Errorf("--db is required")
	}
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return state.Open(path, state.Options{AllowNetFS: allowNetFS, ReadOnly: readOnly, Timeout: 2 * time.Second})
}

func cmdInit(args []string) error {
	fs := newFlags("init")
	force := fs.Bool("force", false, "overwrite an existing file")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover init [--force] [FILE]   (default cutover.toml; - for stdout)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := "cutover.toml"
	if fs.NArg() > 0 {
		path = fs.Arg(0)
	}
	if path == "-" {
		_, err := os.Stdout.Write(exampleConfig)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if *force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return fmt.Errorf("%s exists; use --force to overwrite", path)
		}
		return err
	}
	if _, err := f.Write(exampleConfig); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s: edit [database] path and the [[source]] globs, then run: cutover --config %s\n", path, path)
	return nil
}

func cmdBackfill(args []string) error {
	fs := newFlags("backfill")
	db := fs.String("db", "", "database file (required)")
	kind := fs.String("kind", "", "log kind: pmta, postfix or exim (required)")
	side := fs.String("side", "", "side of the records: old or new (required; default for records --side-map does not match)")
	mta := fs.String("mta", "", "MTA name shown in stats (default: the kind)")
	sideMap := fs.String("side-map", "", "map vmta/pool/transport/IP patterns to sides, e.g. 'vmta-old-*=old,198.51.100.0/24=new'")
	name := fs.String("source", "", "source name the cursors are kept under (default: backfill-KIND-SIDE-MTA)")
	tz := fs.String("timezone", "Local", "zone of log times that carry none")
	allowNet := fs.Bool("allow-network-fs", false, "allow a database on a network filesystem (risky)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	follow := fs.Bool("follow", false, "after reaching the end, keep following the files (poll mode) until interrupted")
	poll := fs.Duration("poll", 250*time.Millisecond, "poll interval with --follow")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover backfill --db FILE --kind pmta|postfix|exim --side old|new [--mta NAME] [--side-map SPEC] PATH...\n\nPATHs may be globs and .gz files. Running it again over grown files adds only the new lines.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *kind == "" || *side == "" || *db == "" {
		fs.Usage()
		return errUsage
	}
	sd, err := model.ParseSide(*side)
	if err != nil {
		return err
	}
	sm, err := ingest.ParseSideMap(*sideMap)
	if err != nil {
		return err
	}
	loc, err := loadLocation(*tz)
	if err != nil {
		return err
	}
	parser, err := newParser(*kind, loc)
	if err != nil {
		return err
	}
	if *mta == "" {
		*mta = *kind
	}
	if *name == "" {
		*name = fmt.Sprintf("backfill-%s-%s-%s", *kind, sd, *mta)
	}
	var globs []string
	var total int64
	for _, p := range fs.Args() {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		matches, err := filepath.Glob(abs)
		if err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		if len(matches) == 0 {
			return fmt.Errorf("%s: no such file", p)
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil {
				total += fi.Size()
			}
		}
		globs = append(globs, abs)
	}
	d, err := openDB(*db, *allowNet, false)
	if err != nil {
		return err
	}
	defer d.Close()
	pl, err := ingest.NewPipeline(d, []ingest.SourceSpec{{
		Name: *name, Kind: *kind, Side: sd, MTA: *mta, Globs: globs, SideMap: sm, Parser: parser,
	}}, ingest.Options{CommitEvery: time.Second, CommitEvents: 50000})
	if err != nil {
		return err
	}
	defer pl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var bar func(ingest.Summary)
	if !*quiet && isatty.IsTerminal(os.Stderr.Fd()) {
		bar = progressBar(os.Stderr, total)
	}
	start := time.Now()
	sum, err := pl.Backfill(ctx, bar)
	if err == nil && *follow && ctx.Err() == nil {
		if bar != nil {
			fmt.Fprintln(os.Stderr, "\ncaught up; following (ctrl+c to stop)")
		}
		err = pl.Run(ctx, *poll)
		sum = pl.Total()
	}
	if bar != nil {
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("backfill %s: %d lines, %d events, %d rejected in %s (%.0f lines/s)\n",
		*name, sum.Lines, sum.Events, sum.Rejected, el.Round(time.Millisecond), float64(sum.Lines)/el.Seconds())
	var parts []string
	for o := model.Delivered; int(o) < model.NumOutcomes; o++ {
		parts = append(parts, fmt.Sprintf("%s %d", o, sum.Outcomes[o]))
	}
	fmt.Printf("  %s\n", strings.Join(parts, ", "))
	for _, st := range pl.Statuses() {
		if st.LastError != "" {
			fmt.Printf("  warning: %s: %s\n", st.Source, st.LastError)
		}
	}
	if sum.Rejected > 0 {
		fmt.Printf("  rejected lines are listed by: cutover sources --db %s\n", *db)
	}
	if ctx.Err() != nil && !*follow {
		return fmt.Errorf("interrupted; committed up to the last batch, run again to continue")
	}
	return nil
}

func progressBar(w io.Writer, total int64) func(ingest.Summary) {
	last := time.Time{}
	return func(s ingest.Summary) {
		if time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = float64(s.Bytes) * 100 / float64(total)
			if pct > 100 {
				pct = 100
			}
		}
		n := int(pct / 5)
		fmt.Fprintf(w, "\r[%-20s] %5.1f%% %d lines %d events", strings.Repeat("#", n), pct, s.Lines, s.Events)
	}
}

func loadLocation(tz string) (*time.Location, error) {
	if tz == "" || tz == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(tz)
}

// statsRow is the JSON shape of `cutover stats --json`; the keys are a
// contract with scripts.
type statsRow struct {
	Side        string `json:"side"`
	MTA         string `json:"mta"`
	ISP         string `json:"isp"`
	Domain      string `json:"domain,omitempty"`
	Delivered   uint64 `json:"delivered"`
	Deferred    uint64 `json:"deferred"`
	Held        uint64 `json:"held"`
	Bounced     uint64 `json:"bounced"`
	HardBounced uint64 `json:"hard_bounced"`
	Expired     uint64 `json:"expired"`
	Complaints  uint64 `json:"complaints"`
	Total       uint64 `json:"total"`
}

func cmdStats(args []string) error {
	fs := newFlags("stats")
	db := fs.String("db", "", "database file (required)")
	asJSON := fs.Bool("json", false, "print a JSON array")
	by := fs.String("by", "isp", "group by isp or domain")
	since := fs.String("since", "", "from this time (RFC3339), inclusive")
	until := fs.String("until", "", "up to this time (RFC3339), exclusive")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover stats --db FILE [--json] [--by isp|domain] [--since RFC3339] [--until RFC3339]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *by != "isp" && *by != "domain" {
		return fmt.Errorf("--by %q: want isp or domain", *by)
	}
	q := state.Query{By: *by}
	var err error
	if q.Since, err = parseTimeFlag("--since", *since); err != nil {
		return err
	}
	if q.Until, err = parseTimeFlag("--until", *until); err != nil {
		return err
	}
	d, err := openDB(*db, true, true)
	if err != nil {
		return err
	}
	defer d.Close()
	rows, err := d.Stats(q)
	if err != nil {
		return err
	}
	out := make([]statsRow, 0, len(rows))
	for _, r := range rows {
		sr := statsRow{Side: r.Side.String(), MTA: r.MTA, ISP: r.ISP, Delivered: r.Delivered, Deferred: r.Deferred,
			Held: r.Held, Bounced: r.Bounced, HardBounced: r.HardBounce, Expired: r.Expired, Complaints: r.Complaints, Total: r.Total()}
		if *by == "domain" {
			sr.Domain = r.Domain
			if sr.Domain == "" {
				sr.Domain = "(none)"
			}
		}
		out = append(out, sr)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	key := "ISP"
	if *by == "domain" {
		key = "DOMAIN"
	}
	fmt.Fprintf(tw, "SIDE\tMTA\t%s\tDELIVERED\tDEFERRED\tHELD\tBOUNCED\tHARD\tEXPIRED\tCOMPLAINTS\t\n", key)
	for _, r := range out {
		k := r.ISP
		if *by == "domain" {
			k = r.Domain
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Side, sanitizeCell(r.MTA), sanitizeCell(k),
			r.Delivered, r.Deferred, r.Held, r.Bounced, r.HardBounced, r.Expired, r.Complaints)
	}
	return tw.Flush()
}

func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want RFC3339 like 2026-11-27T03:00:00Z", name, v)
	}
	return t, nil
}

func cmdSources(args []string) error {
	fs := newFlags("sources")
	db := fs.String("db", "", "database file (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cutover sources --db FILE [--json]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, err := openDB(*db, true, true)
	if err != nil {
		return err
	}
	defer d.Close()
	views, err := sourceViews(d, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tFILE\tOFFSET\tLAG\tLAST LINE\tSTATE\tREJECTED")
	for _, v := range views {
		for _, f := range v.Files {
			last := "-"
			if !f.LastLine.IsZero() {
				last = f.LastLine.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%d\n", sanitizeCell(v.Source), sanitizeCell(f.Path), f.Offset, f.Lag, last, f.State, f.Rejected)
		}
		if len(v.Files) == 0 {
			fmt.Fprintf(tw, "%s\t(no files read)\t\t\t\t\t%d\n", sanitizeCell(v.Source), v.Rejected)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, v := range views {
		if v.Rejected == 0 {
			continue
		}
		fmt.Printf("\n%s: %d rejected lines; first ones:\n", sanitizeCell(v.Source), v.Rejected)
		for _, r := range v.Samples {
			fmt.Printf("  %s:%d: %s: %s\n", sanitizeCell(r.Path), r.Offset, sanitizeCell(r.Reason), sanitizeCell(r.Text))
		}
	}
	return nil
}

// fileView and sourceView are the JSON shape of `cutover sources --json`.
type fileView struct {
	Path     string    `json:"path"`
	Offset   int64     `json:"offset"`
	Size     int64     `json:"size"`
	Lag      int64     `json:"lag_bytes"`
	LastLine time.Time `json:"last_line"`
	State    string    `json:"state"`
	Lines    int64     `json:"lines"`
	Events   int64     `json:"events"`
	Rejected int64     `json:"rejected"`
}

type sourceView struct {
	Source   string         `json:"source"`
	Kind     string         `json:"kind"`
	Side     string         `json:"side"`
	Lines    int64          `json:"lines"`
	Events   int64          `json:"events"`
	Rejected int64          `json:"rejected"`
	LastLine time.Time      `json:"last_line"`
	Files    []fileView     `json:"files"`
	Samples  []state.Reject `json:"rejected_samples"`
}

func sourceViews(d *state.DB, now time.Time) ([]sourceView, error) {
	stats, err := d.Sources()
	if err != nil {
		return nil, err
	}
	curs, err := d.Cursors("")
	if err != nil {
		return nil, err
	}
	bySource := map[string]*sourceView{}
	var order []string
	for _, s := range stats {
		bySource[s.Source] = &sourceView{Source: s.Source, Kind: s.Kind, Side: s.Side, Lines: s.Lines, Events: s.Events, Rejected: s.Rejected, LastLine: s.LastLine}
		order = append(order, s.Source)
	}
	for _, c := range curs {
		v := bySource[c.Source]
		if v == nil {
			v = &sourceView{Source: c.Source}
			bySource[c.Source] = v
			order = append(order, c.Source)
		}
		f := fileView{Path: c.Path, Offset: c.Offset, Size: c.Size, LastLine: c.LastLine, Lines: c.Lines, Events: c.Events, Rejected: c.Rejected}
		// State from a fresh stat: the database alone cannot know whether a
		// file is still there, and a view that lies about it is worse than none.
		fi, err := os.Stat(c.Path)
		switch {
		case c.Done:
			f.State = "rotated, drained"
		case err != nil:
			f.State = "unreachable: " + shortErr(err)
		default:
			f.Size = fi.Size()
			f.Lag = fi.Size() - c.Offset
			if f.Lag < 0 {
				f.State = "truncated"
				f.Lag = 0
			} else if f.Lag == 0 {
				f.State = "caught up"
			} else {
				f.State = "behind"
			}
		}
		v.Files = append(v.Files, f)
	}
	sort.Strings(order)
	out := make([]sourceView, 0, len(order))
	for _, name := range order {
		v := bySource[name]
		rs, err := d.Rejects(name)
		if err != nil {
			return nil, err
		}
		v.Samples = rs
		sort.Slice(v.Files, func(i, j int) bool { return v.Files[i].Path < v.Files[j].Path })
		out = append(out, *v)
	}
	_ = now
	return out, nil
}

func shortErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sanitizeCell makes untrusted text (paths, domains, reply texts) safe for a
// terminal before it is printed.
func sanitizeCell(s string) string { return ui.Sanitize(s, 300) }
