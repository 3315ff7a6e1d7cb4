package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"cutover/state"
)

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

type statsFlags struct {
	db, by, since, until string
	asJSON               bool
}

func newStatsCmd() *cobra.Command {
	var f statsFlags
	c := command("stats --db FILE [--json] [--by isp|domain] [--since T] [--until T]",
		"counts per side, MTA and provider (or domain)",
		"  cutover stats --db cutover.db --json --since 2026-11-27T00:00:00Z", nil,
		func(_ *cobra.Command, _ []string) error { return stats(f) })
	dbFlag(c, &f.db, "")
	jsonFlag(c, &f.asJSON, "print a JSON array")
	fl := c.Flags()
	fl.StringVar(&f.by, "by", "isp", "group by isp or domain")
	fl.StringVar(&f.since, "since", "", "from this time (RFC3339), inclusive")
	fl.StringVar(&f.until, "until", "", "up to this time (RFC3339), exclusive")
	c.RegisterFlagCompletionFunc("by", fixed("isp", "domain"))
	return c
}

func stats(f statsFlags) error {
	if f.by != "isp" && f.by != "domain" {
		return fmt.Errorf("--by %q: want isp or domain", f.by)
	}
	q := state.Query{By: f.by}
	var err error
	if q.Since, err = parseTimeFlag("--since", f.since); err != nil {
		return err
	}
	if q.Until, err = parseTimeFlag("--until", f.until); err != nil {
		return err
	}
	d, err := openDB(f.db, true, true)
	if err != nil {
		return queryOwner(os.Stdout, f.db, queryReq{Cmd: "stats", JSON: f.asJSON, By: f.by, Since: f.since, Until: f.until}, err)
	}
	defer d.Close()
	return statsTo(os.Stdout, d, f, q)
}

// statsTo prints the stats of d; the owner runs it for an attached caller.
func statsTo(w io.Writer, d *state.DB, f statsFlags, q state.Query) error {
	rows, err := d.Stats(q)
	if err != nil {
		return err
	}
	out := make([]statsRow, 0, len(rows))
	for _, r := range rows {
		sr := statsRow{Side: r.Side.String(), MTA: r.MTA, ISP: r.ISP, Delivered: r.Delivered, Deferred: r.Deferred,
			Held: r.Held, Bounced: r.Bounced, HardBounced: r.HardBounce, Expired: r.Expired, Complaints: r.Complaints, Total: r.Total()}
		if f.by == "domain" {
			sr.Domain = r.Domain
			if sr.Domain == "" {
				sr.Domain = "(none)"
			}
		}
		out = append(out, sr)
	}
	if f.asJSON {
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	key := "ISP"
	if f.by == "domain" {
		key = "DOMAIN"
	}
	fmt.Fprintf(tw, "SIDE\tMTA\t%s\tDELIVERED\tDEFERRED\tHELD\tBOUNCED\tHARD\tEXPIRED\tCOMPLAINTS\t\n", key)
	for _, r := range out {
		k := r.ISP
		if f.by == "domain" {
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

func newSourcesCmd() *cobra.Command {
	var db string
	var asJSON bool
	c := command("sources --db FILE [--json]", "what each source read: files, offsets, lag, rejected lines",
		"  cutover sources --db cutover.db", nil,
		func(_ *cobra.Command, _ []string) error { return sources(db, asJSON) })
	dbFlag(c, &db, "")
	jsonFlag(c, &asJSON, "")
	return c
}

func sources(db string, asJSON bool) error {
	d, err := openDB(db, true, true)
	if err != nil {
		return queryOwner(os.Stdout, db, queryReq{Cmd: "sources", JSON: asJSON}, err)
	}
	defer d.Close()
	return sourcesTo(os.Stdout, d, asJSON)
}

// sourcesTo prints what each source of d read.
func sourcesTo(w io.Writer, d *state.DB, asJSON bool) error {
	views, err := sourceViews(d, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, views)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
		if v.Warning != "" {
			fmt.Printf("\n%s: %s\n", sanitizeCell(v.Source), sanitizeCell(v.Warning))
		}
		if v.NoDomain > 0 {
			fmt.Fprintf(w, "\n%s: %d events without a usable domain (counted in the totals, under no domain)\n", sanitizeCell(v.Source), v.NoDomain)
		}
		if v.Rejected == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: %d rejected lines; first ones:\n", sanitizeCell(v.Source), v.Rejected)
		for _, r := range v.Samples {
			// file:line as editors and grep -n take it; the byte offset
			// finds the line with tail -c or dd.
			at := fmt.Sprintf("%s: byte %d", sanitizeCell(r.Path), r.Offset)
			if r.Line > 0 {
				at = fmt.Sprintf("%s:%d (byte %d)", sanitizeCell(r.Path), r.Line, r.Offset)
			}
			fmt.Fprintf(w, "  %s: %s: %s\n", at, sanitizeCell(r.Reason), sanitizeCell(r.Text))
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
	Source   string `json:"source"`
	Kind     string `json:"kind"`
	Side     string `json:"side"`
	Lines    int64  `json:"lines"`
	Events   int64  `json:"events"`
	Rejected int64  `json:"rejected"`
	NoDomain int64  `json:"no_domain,omitempty"`
	// Warning is the source's last error or warning as the owner kept it
	// ("warning: no file matches /var/log/mail.log*").
	Warning  string         `json:"warning,omitempty"`
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
		bySource[s.Source] = &sourceView{Source: s.Source, Kind: s.Kind, Side: s.Side, Lines: s.Lines, Events: s.Events, Rejected: s.Rejected, NoDomain: s.NoDomain, LastLine: s.LastLine, Warning: s.LastError}
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
