package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	ibase "cutover/ingest/baseline"
	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	sb "cutover/state/baseline"
	ssup "cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// The source-state audit (wave2 §4): what the OLD side sends, how healthy it
// is, and the throttles NEW starts with.

const auditExit = `0 done, 1 data gaps (days without data in the window; the report is
still written), 2 error or bad command line.`

func newAuditCmd() *cobra.Command {
	return group(&cobra.Command{Use: "audit", Short: "source-state audit: ESP statistics, report, throttle advice",
		Example:               "  cutover audit import --db cutover.db --provider mailgun metrics.json\n  cutover audit report --db cutover.db --new-ips 2 --format md",
		DisableFlagsInUseLine: true, Annotations: map[string]string{annExit: defaultExit}},
		newAuditImportCmd(), newAuditReportCmd(), newAuditRecommendCmd())
}

type auditImportFlags struct {
	db, provider, source, mapSpec, tz string
	asJSON                            bool
}

func newAuditImportCmd() *cobra.Command {
	var f auditImportFlags
	c := command("import --db FILE --provider ESP [--map N=ISP] [--tz Z] FILE...",
		"import ESP statistics per provider (a re-import adds nothing)",
		"  cutover audit import --db c.db --provider sendgrid providers.json\n  cutover audit import --db c.db --provider csv --map Seznam=seznam s.csv",
		someArgs, func(_ *cobra.Command, args []string) error { return auditImport(os.Stdout, f, args) })
	dbFlag(c, &f.db, "")
	jsonFlag(c, &f.asJSON, "print the result as JSON")
	fl := c.Flags()
	fl.StringVar(&f.provider, "provider", "", "export format: sendgrid, mailgun, ses, sparkpost, postmark or csv (required)")
	fl.StringVar(&f.source, "source", "", "name the rows are stored under (default: the provider)")
	fl.StringVar(&f.mapSpec, "map", "", "extra provider names: \"Name=isp,…\" (wins over the built-in table)")
	fl.StringVar(&f.tz, "tz", "UTC", "time zone of date-only values (the ESP account's zone)")
	c.RegisterFlagCompletionFunc("provider", fixed("sendgrid", "mailgun", "ses", "sparkpost", "postmark", "csv"))
	c.Annotations[annExit] = "0 done, 1 failed (nothing of the failing file is stored), 2 bad command line."
	return c
}

// importResult is the JSON of `audit import --json`, one per file.
type importResult struct {
	File      string         `json:"file"`
	SHA256    string         `json:"sha256"`
	Rows      int            `json:"rows"`
	Added     int            `json:"added"`
	Replaced  int            `json:"replaced"`
	Unchanged int            `json:"unchanged"`
	KnownFile bool           `json:"known_file"`
	Unknown   map[string]int `json:"unknown_providers"`
}

func auditImport(w io.Writer, f auditImportFlags, files []string) error {
	format, err := ibase.ParseFormat(f.provider)
	if err != nil {
		return usageError{err.Error()}
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return usageError{fmt.Sprintf("--tz %q: %v", f.tz, err)}
	}
	d, err := openDB(f.db, false, false)
	if err != nil {
		return err
	}
	defer d.Close()
	var out []importResult
	for _, path := range files {
		m, err := ibase.NewMapper(f.mapSpec)
		if err != nil {
			return usageError{err.Error()}
		}
		p, err := ibase.ReadFile(path, ibase.Options{Format: format, Source: f.source, Map: m, TZ: loc})
		if err != nil {
			return err
		}
		p.File.Imported = time.Now().UTC()
		res, err := sb.Put(d, p.File, p.Rows)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		r := importResult{File: path, SHA256: p.File.SHA256, Rows: len(p.Rows), Added: res.Added, Replaced: res.Replaced,
			Unchanged: res.Unchanged, KnownFile: res.KnownFile, Unknown: m.Unknown()}
		out = append(out, r)
		if !f.asJSON {
			known := ""
			if r.KnownFile {
				known = " (file imported before)"
			}
			fmt.Fprintf(w, "%s: %d rows: %d added, %d replaced, %d unchanged%s\n", sanitizeCell(path), r.Rows, r.Added, r.Replaced, r.Unchanged, known)
			for _, n := range slices.Sorted(maps.Keys(r.Unknown)) {
				fmt.Fprintf(w, "  unknown provider %q → other (%d rows); name it with --map\n", sanitizeCell(n), r.Unknown[n])
			}
		}
	}
	if f.asJSON {
		return printJSON(w, out)
	}
	return nil
}

type auditFlags struct {
	db, out     string  // local only: the owner reads its own database, the caller writes --out
	Since       string  `json:"since,omitempty"`
	Until       string  `json:"until,omitempty"`
	Side        string  `json:"side,omitempty"`
	Format      string  `json:"format,omitempty"`
	WarmupStart string  `json:"warmup_start,omitempty"`
	Basis       string  `json:"basis,omitempty"`
	Steps       string  `json:"steps,omitempty"`
	Now         string  `json:"now,omitempty"`
	Emit        string  `json:"emit,omitempty"`
	NewIPs      int     `json:"new_ips,omitempty"`
	WarmupDay   int     `json:"warmup_day,omitempty"`
	Margin      float64 `json:"margin,omitempty"`
	Warm        bool    `json:"warm,omitempty"`
	JSON        bool    `json:"json,omitempty"`
}

func (f *auditFlags) register(c *cobra.Command, report bool) {
	dbFlag(c, &f.db, "")
	fl := c.Flags()
	fl.StringVar(&f.Since, "since", "28d", "window start: a span before the newest data (28d, 12w) or RFC3339")
	fl.StringVar(&f.Until, "until", "", "window end (RFC3339, exclusive; default just after the newest data)")
	fl.StringVar(&f.Side, "side", "old", "log side the history comes from: old, new or both")
	fl.IntVar(&f.NewIPs, "new-ips", 1, "sending IPs on NEW (scales the warm-up cap)")
	fl.StringVar(&f.WarmupStart, "warmup-start", "", "first warm-up day of the NEW IPs (YYYY-MM-DD; with --now gives the day)")
	fl.IntVar(&f.WarmupDay, "warmup-day", 0, "warm-up day of the NEW IPs (1 = first; wins over --warmup-start)")
	fl.BoolVar(&f.Warm, "warm", false, "NEW IPs are already warm: no warm-up cap")
	fl.StringVar(&f.Basis, "basis", "p95", "historical hour the throttles scale: p95 or peak")
	fl.Float64Var(&f.Margin, "margin", model.DefaultMargin, "headroom over the basis share")
	fl.StringVar(&f.Steps, "steps", "", "plan steps in percent (default 5,15,30,50,75,100)")
	fl.StringVar(&f.Now, "now", "", "the report's clock (RFC3339; default now): fixes the stamp and the warm-up day")
	c.RegisterFlagCompletionFunc("basis", fixed("p95", "peak"))
	c.RegisterFlagCompletionFunc("side", fixed("old", "new", "both"))
	if report {
		fl.StringVar(&f.Format, "format", "md", "md, json or html")
		fl.StringVar(&f.out, "out", "", "write to this file (atomically) instead of stdout")
		c.RegisterFlagCompletionFunc("format", fixed("md", "json", "html"))
	} else {
		jsonFlag(c, &f.JSON, "print the recommendation as JSON")
		fl.StringVar(&f.Emit, "emit", "", "toml: print a ready [mtactl.throttle] block and per-provider overrides")
		c.RegisterFlagCompletionFunc("emit", fixed("toml"))
	}
}

func newAuditReportCmd() *cobra.Command {
	var f auditFlags
	c := command("report --db FILE [--since 28d] [--format md|json|html] …",
		"shares, p95 hours, hour-of-week, trends, pools, throttles",
		"  cutover audit report --db cutover.db --new-ips 2 --warmup-day 1\n  cutover audit report --db cutover.db --format html --out audit.html",
		noArgs, func(_ *cobra.Command, _ []string) error { return auditExit2(auditRun(os.Stdout, f, "audit report")) })
	f.register(c, true)
	c.Annotations[annExit] = auditExit
	return c
}

func newAuditRecommendCmd() *cobra.Command {
	var f auditFlags
	c := command("recommend --db FILE [--json] [--emit toml] [--new-ips N] …",
		"NEW throttles per plan step, each naming what capped it",
		"  cutover audit recommend --db cutover.db --new-ips 2 --warmup-day 5\n  cutover audit recommend --db cutover.db --emit toml >> cutover.toml",
		noArgs, func(_ *cobra.Command, _ []string) error { return auditExit2(auditRun(os.Stdout, f, "audit recommend")) })
	f.register(c, false)
	c.Annotations[annExit] = auditExit
	return c
}

// buildAudit resolves the flags, reads the database and computes the report.
func buildAudit(f auditFlags) (model.AuditReport, time.Time, error) {
	if _, _, err := buildAuditDB(nil, f); err != nil {
		return model.AuditReport{}, time.Time{}, err // a bad flag before the database
	}
	d, err := openDB(f.db, false, true)
	if err != nil {
		return model.AuditReport{}, time.Time{}, err
	}
	defer d.Close()
	return buildAuditDB(d, f)
}

// buildAuditDB computes the report on an open database (the owner's, for a
// caller it hands over to); with d nil it only checks the flags.
func buildAuditDB(d *state.DB, f auditFlags) (model.AuditReport, time.Time, error) {
	var r model.AuditReport
	now := time.Now().UTC()
	if f.Now != "" {
		t, err := time.Parse(time.RFC3339, f.Now)
		if err != nil {
			return r, now, usageError{fmt.Sprintf("--now %q: want RFC3339", f.Now)}
		}
		now = t.UTC()
	}
	if err := model.ValidBasis(f.Basis); err != nil {
		return r, now, usageError{"--" + err.Error()}
	}
	var side model.Side
	switch f.Side {
	case "old":
		side = model.SideOld
	case "new":
		side = model.SideNew
	case "both", "":
	default:
		return r, now, usageError{fmt.Sprintf("--side %q: want old, new or both", f.Side)}
	}
	steps, err := parseSteps(f.Steps)
	if err != nil {
		return r, now, usageError{err.Error()}
	}
	if f.Margin <= 0 || f.NewIPs < 1 || f.WarmupDay < 0 {
		return r, now, usageError{"--margin must be > 0, --new-ips ≥ 1, --warmup-day ≥ 0"}
	}
	pol := model.ThrottlePolicy{Margin: f.Margin, NewIPs: f.NewIPs, WarmupDay: f.WarmupDay, Warm: f.Warm, Basis: f.Basis}
	if pol.WarmupDay == 0 && f.WarmupStart != "" {
		start, err := time.Parse(time.DateOnly, f.WarmupStart)
		if err != nil {
			return r, now, usageError{fmt.Sprintf("--warmup-start %q: want YYYY-MM-DD", f.WarmupStart)}
		}
		pol.WarmupDay = max(int(now.Sub(start).Hours()/24)+1, 1)
	}
	until, err := parseTimeFlag("--until", f.Until)
	if err != nil {
		return r, now, usageError{err.Error()}
	}
	var since time.Time
	var span time.Duration
	if f.Since != "" {
		if t, err := time.Parse(time.RFC3339, f.Since); err == nil {
			since = t
		} else if span, err = parseSpan(f.Since); err != nil {
			return r, now, usageError{fmt.Sprintf("--since %q: want 28d, 12w, 48h or RFC3339", f.Since)}
		}
	}
	switch f.Format {
	case "", "md", "html", "json":
	default:
		return r, now, usageError{fmt.Sprintf("--format %q: want md, json or html", f.Format)}
	}
	if f.Emit != "" && f.Emit != "toml" {
		return r, now, usageError{fmt.Sprintf("--emit %q: want toml", f.Emit)}
	}
	if d == nil {
		return r, now, nil
	}
	_, until, err = sb.Window(d, time.Time{}, until)
	if err != nil {
		return r, now, err
	}
	if since.IsZero() {
		if span == 0 {
			span = sb.DefaultWindow
		}
		since = until.Add(-span)
	}
	since, until, err = sb.Window(d, since, until)
	if err != nil {
		return r, now, err
	}
	in, err := sb.Collect(d, since, until, side)
	if err != nil {
		return r, now, err
	}
	in.Suppression = suppressionTotals(d)
	return model.BuildAudit(in, model.AuditOptions{Policy: pol, Steps: steps}), now, nil
}

// suppressionTotals reads the canonical suppression log next to the
// database, read-only (no lock, nothing written), when there is one: the
// audit lists what NEW must inherit. nil without a log.
func suppressionTotals(d *state.DB) map[string]uint64 {
	if _, err := os.Stat(ssup.DefaultLogPath(d.Path())); err != nil {
		return nil
	}
	l, err := ssup.Open(d, "", ssup.Options{ReadOnly: true})
	if err != nil {
		return map[string]uint64{"unreadable (" + err.Error() + ")": 0}
	}
	defer l.Close()
	st, err := l.Stats()
	if err != nil {
		return nil
	}
	out := map[string]uint64{"addresses": st.Addresses, "suppressed": st.Suppressed}
	for t, c := range st.ByType {
		out["type "+t] = c.Addresses
	}
	return out
}

// parseSpan reads 28d, 12w, 48h.
func parseSpan(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, errors.New("short")
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 || n > 100000 {
		return 0, errors.New("bad number")
	}
	switch s[len(s)-1] {
	case 'h':
		return time.Duration(n) * time.Hour, nil
	case 'd':
		return time.Duration(n) * 24 * time.Hour, nil
	case 'w':
		return time.Duration(n) * 7 * 24 * time.Hour, nil
	}
	return 0, errors.New("unit")
}

func parseSteps(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "%")))
		if err != nil || v <= 0 || v > 100 {
			return nil, fmt.Errorf("--steps %q: want percentages 1-100 such as 5,15,30", s)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// auditExit2 gives report and recommend wave2 §4.2's codes: 1 is kept for
// data gaps, so a failure (no database, no data) is 2, its message printed
// here as run would.
func auditExit2(err error) error {
	var ee exitError
	var ue usageError
	if err == nil || errors.As(err, &ee) || errors.As(err, &ue) || errors.Is(err, errUsage) {
		return err
	}
	fmt.Fprintf(os.Stderr, "cutover audit: %v\n", err)
	return exitError{2}
}

// auditRun runs report or recommend on the database, or, while an owner
// holds it, in the owner (same output and exit code; --out is written here).
func auditRun(w io.Writer, f auditFlags, cmd string) error {
	if _, _, err := buildAuditDB(nil, f); err != nil {
		return err
	}
	d, err := openDB(f.db, false, true)
	if err != nil {
		var buf bytes.Buffer
		qerr := queryOwner(&buf, f.db, queryReq{Cmd: cmd, Audit: &f}, err)
		var ee exitError
		if qerr != nil && !errors.As(qerr, &ee) {
			return qerr
		}
		if f.out != "" {
			if err := writeFileAtomic(f.out, buf.Bytes(), 0o644); err != nil {
				return err
			}
		} else if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return qerr
	}
	defer d.Close()
	return auditOn(w, os.Stderr, d, f, cmd)
}

// auditOn writes report or recommend of d to w (a gap warning to ew).
func auditOn(w, ew io.Writer, d *state.DB, f auditFlags, cmd string) error {
	r, now, err := buildAuditDB(d, f)
	if err != nil {
		return err
	}
	if cmd == "audit recommend" {
		return auditRecommendTo(w, ew, r, f)
	}
	var buf bytes.Buffer
	switch f.Format {
	case "md", "":
		err = ui.AuditMarkdown(&buf, r, now)
	case "html":
		err = ui.AuditHTML(&buf, r, now)
	case "json":
		err = printJSON(&buf, r)
	default:
		return usageError{fmt.Sprintf("--format %q: want md, json or html", f.Format)}
	}
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := writeFileAtomic(f.out, buf.Bytes(), 0o644); err != nil {
			return err
		}
	} else if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	return gapsExit(ew, r)
}

// gapsExit is exit 1 when the window has days without data (the report is
// written all the same, the gaps listed in it).
func gapsExit(ew io.Writer, r model.AuditReport) error {
	if len(r.Gaps) > 0 {
		fmt.Fprintf(ew, "cutover audit: %d days without data in the window: %s\n", len(r.Gaps), strings.Join(r.Gaps, ", "))
		return exitError{1}
	}
	return nil
}

// recommendRow is one line of `audit recommend --json`.
type recommendRow struct {
	ISP   string `json:"isp"`
	Basis int    `json:"basis_hourly"`
	model.StepRecommendation
}

func auditRecommendTo(w, ew io.Writer, r model.AuditReport, f auditFlags) error {
	var rows []recommendRow
	for _, p := range r.Providers {
		for _, s := range r.Recommend.Steps {
			rows = append(rows, recommendRow{ISP: p.ISP, Basis: p.Basis, StepRecommendation: p.PerStep[strconv.Itoa(s)]})
		}
	}
	switch {
	case f.Emit == "toml":
		emitThrottleTOML(w, r)
	case f.JSON:
		if rows == nil {
			rows = []recommendRow{}
		}
		if err := printJSON(w, rows); err != nil {
			return err
		}
	default:
		rc := r.Recommend
		fmt.Fprintf(w, "basis %s, margin %s, %d new IPs, warm-up day %d (0 = warm)\n", rc.Basis, strconv.FormatFloat(rc.Margin, 'f', -1, 64), rc.NewIPs, rc.WarmupDay)
		fmt.Fprintf(w, "%-12s %8s %5s  %s\n", "PROVIDER", "BASIS/H", "STEP", "THROTTLE (capped by)")
		for _, x := range rows {
			fmt.Fprintf(w, "%-12s %8d %4d%%  %d/h (%s) conn %d (%s) msg/conn %d (%s)\n", sanitizeCell(x.ISP), x.Basis, x.Step,
				x.PerHour, x.PerHourBy, x.Connections, x.ConnectionsBy, x.PerConnection, x.PerConnectionBy)
		}
	}
	return gapsExit(ew, r)
}

// emitThrottleTOML prints the [mtactl.throttle] policy the recommendation
// used and, as comments, each provider's first-step numbers: pasting the
// policy makes mtactl compute the same throttles from the same history
// (model.ThrottlePolicy is the one computation).
func emitThrottleTOML(w io.Writer, r model.AuditReport) {
	rc := r.Recommend
	fmt.Fprintf(w, "# cutover audit recommend, window %s – %s\n", r.Window.Since.Format(time.RFC3339), r.Window.Until.Format(time.RFC3339))
	fmt.Fprintf(w, "[mtactl.throttle]\nbasis = %q\nmargin = %s\nnew_ips = %d\n", rc.Basis, strconv.FormatFloat(rc.Margin, 'f', -1, 64), rc.NewIPs)
	if rc.WarmupDay == 0 {
		fmt.Fprintf(w, "warm = true\n")
	}
	for _, p := range r.Providers {
		if len(rc.Steps) == 0 {
			break
		}
		s := p.PerStep[strconv.Itoa(rc.Steps[0])]
		fmt.Fprintf(w, "# %s: basis %d/h; at %d %%: per_hour %d (%s), connections %d, per_connection %d\n",
			ui.Sanitize(p.ISP, 60), p.Basis, s.Step, s.PerHour, s.PerHourBy, s.Connections, s.PerConnection)
	}
	for _, p := range r.Providers {
		if len(rc.Steps) == 0 {
			break
		}
		s := p.PerStep[strconv.Itoa(rc.Steps[0])]
		if !validTOMLKey(p.ISP) {
			continue
		}
		fmt.Fprintf(w, "\n[mtactl.throttle.ceilings.%s]\nconnections = %d\nper_connection = %d\n", p.ISP, s.Connections, s.PerConnection)
	}
}

func validTOMLKey(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// writeFileAtomic writes a temp file next to path and renames it over path:
// a planted symlink at path is replaced, never followed.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
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
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// auditSource is the cockpit's A view: the audit over the default window of
// the owner's database, with the throttle policy of its [mtactl] section
// (warm-up day from warmup_start), so the view shows what mtactl computes.
func auditSource(d *state.DB, mc *mtactl.Config, now func() time.Time) ui.AuditSource {
	if now == nil {
		now = time.Now
	}
	pol := model.ThrottlePolicy{}
	var steps []int
	if mc != nil {
		pol, steps = mc.Throttle, mc.Steps
		if mc.WarmupStart != "" && pol.WarmupDay == 0 {
			if start, err := time.Parse(time.DateOnly, mc.WarmupStart); err == nil {
				pol.WarmupDay = max(int(now().UTC().Sub(start).Hours()/24)+1, 1)
			}
		}
	}
	return func() (*model.AuditReport, error) {
		since, until, err := sb.Window(d, time.Time{}, time.Time{})
		if err != nil {
			return nil, err
		}
		in, err := sb.Collect(d, since, until, model.SideOld)
		if err != nil {
			return nil, err
		}
		r := model.BuildAudit(in, model.AuditOptions{Policy: pol, Steps: steps})
		return &r, nil
	}
}

// cmdAuditCockpit is the attached cockpit's A view asking the owner for the
// audit its own cockpit would show (its [mtactl] policy).
const cmdAuditCockpit = "audit cockpit"

func auditCockpitJSON(w io.Writer, o *owner.Owner) error {
	var mc *mtactl.Config
	if o.Config != nil {
		mc = o.Config.Mtactl
	}
	r, err := auditSource(o.DB, mc, o.Clock())()
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(r)
}

// attachedAudit is the A view of a cockpit attached to an owner: the owner
// computes (it holds the database), over opQuery.
func attachedAudit(cl *attach.Client) ui.AuditSource {
	return func() (*model.AuditReport, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var resp queryResp
		if err := cl.Call(ctx, opQuery, queryReq{Cmd: cmdAuditCockpit}, &resp); err != nil {
			return nil, err
		}
		if resp.Err != "" {
			return nil, errors.New(resp.Err)
		}
		var r model.AuditReport
		if err := json.Unmarshal([]byte(resp.Out), &r); err != nil {
			return nil, fmt.Errorf("owner's audit: %w", err)
		}
		return &r, nil
	}
}
