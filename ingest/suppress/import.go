package suppress

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/model"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// ImportOptions configure Import.
type ImportOptions struct {
	// DB is the open database (required); the log's index lives in it.
	DB *state.DB
	// Log is an already open canonical log (the UI keeps one); when nil,
	// Import opens LogPath and closes it at the end.
	Log *ssup.Log
	// LogPath is the canonical log; "" = suppressions.jsonl next to the DB.
	LogPath string
	// Provider is the export format of every file (required).
	Provider Provider
	// List forces the list (bounces, blocks, spam_reports...) instead of
	// detecting it per file. For csv and list it only names the source.
	List string
	// Scope qualifies every event: "group:123", "domain:mg.example.com"
	// (Mailgun: a bare domain is enough), "region:eu-west-1" (SES),
	// "stream:outbound" (Postmark), "subaccount:12" (SparkPost). Default
	// "account". Row-level scopes (SendGrid group, Mailgun tag, SparkPost
	// type) are appended: "domain:mg.example.com/tag:news".
	Scope string
	// Type is the type of every row of a plain list (required there), and
	// of generic CSV rows when the mapping has no type column or the cell is
	// empty.
	Type model.SuppressionType
	// Map is the generic CSV column mapping (ParseMap).
	Map map[string]string
	// Source replaces the provider part of the source label:
	// "sendgrid-eu" gives "sendgrid-eu:bounces". For csv and list, the
	// source is "csv:<Source|List|import>".
	Source string
	// TZ reads timestamps that carry no zone; default UTC.
	TZ *time.Location
	// RejectsPath receives every rejected row; default <log>.rejects.csv.
	// Rows are appended (columns run, file, row, line, reason, raw).
	RejectsPath string
	// RegularOnly refuses pipes and devices as files. An owner process
	// importing for a client sets it: it must not read its own standard
	// input (a terminal, or /dev/null that would import 0 rows).
	RegularOnly bool
	// BatchSize is events per log append (one write + fsync); default 10,000.
	BatchSize int
	// IndexBatch is passed to the log when Import opens it.
	IndexBatch int
	// Now stamps "recorded" and the run; default time.Now.
	Now func() time.Time
}

// Progress is reported after every batch (at most every 100 ms) and when a
// file is done.
type Progress struct {
	File      string
	FileIndex int // 0-based
	Files     int
	Bytes     int64 // read so far
	Size      int64
	Rows      int64         // data rows read (rejected included)
	Accepted  int64         // events appended to the log
	Duplicate int64         // events already in the log
	Rejected  int64         // rows rejected
	Rate      float64       // rows per second
	ETA       time.Duration // by bytes, 0 when unknown
	Done      bool
}

// Reject is one rejected row.
type Reject struct {
	File   string
	Row    int    // CSV/text: line number; JSON: item number
	Line   int    // line where the row starts
	Reason string // why
	Raw    string // the row's text (at most 500 bytes)
}

// FileSummary is the outcome of one file.
//
//	Rows = rows that gave events + Rejected
//	Events = Accepted + Duplicate (a Mailgun unsubscribe with two tags is
//	two events; a SparkPost row for both types too)
type FileSummary struct {
	File      string
	SHA256    string
	Format    string // csv, json, text
	Encoding  string
	Provider  Provider
	List      string
	ListFrom  string // how the list was chosen
	Rows      int64
	Rejected  int64
	Events    int64
	Accepted  int64
	Duplicate int64
	Ignored   int64 // plain lists: blank and comment lines
	// ByType counts accepted events per type.
	ByType map[model.SuppressionType]int64
	// RejectReasons counts rejected rows per reason kind.
	RejectReasons map[string]int64
	// Rejects are the first rejected rows (all are in the rejects file).
	Rejects []Reject
	Notes   []string
	Err     string // the file could not be read to its end
	Elapsed time.Duration
}

// Summary is the outcome of an import.
type Summary struct {
	Files       []FileSummary
	Rows        int64
	Rejected    int64
	Events      int64
	Accepted    int64
	Duplicate   int64
	ByType      map[model.SuppressionType]int64
	LogPath     string
	RejectsPath string // "" when nothing was rejected
	FirstSeq    uint64 // first seq appended (0: none)
	LastSeq     uint64 // last seq of the log
	// Notices come from opening the log (torn line cut, index caught up).
	Notices []string
	// Notes say what the numbers mean (blocks are not hard bounces...).
	Notes   []string
	Elapsed time.Duration
}

const (
	originHex    = 16 // hex digits of a file's sha256 in each event's origin
	defaultBatch = 10_000
	maxReason    = 1000
	keepRejects  = 20
)

// ErrAllRejected is Import's error when it read rows and rejected every one.
var ErrAllRejected = errors.New("every row was rejected")

// Import reads provider export files into the canonical suppression log.
// Every row either gives events (appended, or counted as duplicates when the
// log has them) or is rejected with its file, row and reason into the
// rejects file; nothing is dropped silently. A file that cannot be read to
// its end (a JSON syntax error) is reported in its FileSummary.Err with what
// was read before it kept, and Import goes on with the next file and returns
// an error at the end. Importing the same files again appends nothing.
// On ctx cancellation the rows read so far are appended before returning.
func Import(ctx context.Context, opts ImportOptions, files []string, progress func(Progress)) (sum Summary, err error) {
	start := time.Now()
	if opts.DB == nil && opts.Log == nil {
		return sum, errors.New("suppression import: no database")
	}
	im, err := newImporter(opts)
	if err != nil {
		return sum, err
	}
	log := opts.Log
	if log == nil {
		l, err := ssup.Open(opts.DB, opts.LogPath, ssup.Options{Now: opts.Now, IndexBatch: opts.IndexBatch})
		if err != nil {
			return sum, err
		}
		log = l
		defer func() {
			if cerr := l.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		sum.Notices = l.Notices()
	}
	im.log = log
	im.appendFn = log.Append
	im.progress = progress
	sum.LogPath = log.Path()
	if im.opts.RejectsPath == "" {
		im.opts.RejectsPath = log.Path() + ".rejects.csv"
	}
	sum.ByType = map[model.SuppressionType]int64{}
	var errs []error
	for i, f := range files {
		if cerr := ctx.Err(); cerr != nil {
			errs = append(errs, cerr)
			break
		}
		fs, ferr := im.file(ctx, f, i, len(files))
		sum.Files = append(sum.Files, fs)
		sum.Rows += fs.Rows
		sum.Rejected += fs.Rejected
		sum.Events += fs.Events
		sum.Accepted += fs.Accepted
		sum.Duplicate += fs.Duplicate
		for t, n := range fs.ByType {
			sum.ByType[t] += n
		}
		if ferr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, ferr))
			if errors.Is(ferr, context.Canceled) || errors.Is(ferr, context.DeadlineExceeded) || im.fatal {
				break
			}
		}
	}
	if rerr := im.closeRejects(); rerr != nil {
		errs = append(errs, rerr)
	}
	if im.rejectsUsed {
		sum.RejectsPath = im.opts.RejectsPath
	}
	sum.FirstSeq = im.firstSeq
	sum.LastSeq = log.LastSeq()
	if n := sum.ByType[model.SuppBlock]; n > 0 {
		sum.Notes = append(sum.Notes, fmt.Sprintf("%d SendGrid block events recorded as type \"block\": blocks are reputation or temporary failures, NOT hard bounces; they are not exported to the MTA unless asked (IncludeBlocks)", n))
	}
	if sum.Rows > 0 && sum.Rejected == sum.Rows {
		// Nothing usable: the wrong --provider, a file that is not an
		// export... The command must not succeed.
		errs = append(errs, fmt.Errorf("%w: all %d rows, nothing was imported (reasons in %s)", ErrAllRejected, sum.Rows, sum.RejectsPath))
	}
	sum.Elapsed = time.Since(start)
	err = errors.Join(errs...)
	return sum, err
}

type importer struct {
	opts ImportOptions
	log  *ssup.Log
	// appendFn is log.Append; fuzz tests replace it to read files without
	// a database.
	appendFn func([]model.SuppressionEvent) (int, error)
	progress func(Progress)
	run      string

	batch    []model.SuppressionEvent
	firstSeq uint64
	fatal    bool // the log refused a write: stop
	// appending is the batch the log is appending on its own goroutine
	// while the next one is read (nil: none); spare is a batch's backing
	// array for reuse.
	appending *appendJob
	spare     []model.SuppressionEvent

	rejF        *os.File
	rejW        *csv.Writer
	rejSeen     map[[16]byte]struct{} // rows already in the rejects file
	rejectsUsed bool
}

func newImporter(opts ImportOptions) (*importer, error) {
	p, err := ParseProvider(string(opts.Provider))
	if err != nil {
		return nil, err
	}
	opts.Provider = p
	if opts.List, err = canonList(p, opts.List); err != nil {
		return nil, err
	}
	if opts.Type != "" && !opts.Type.Valid() {
		return nil, fmt.Errorf("type %q: want unsubscribe, hard_bounce, complaint, manual or block", opts.Type)
	}
	switch p {
	case PlainList:
		if opts.Type == "" {
			return nil, errors.New("a plain list needs its type (unsubscribe, hard_bounce, complaint, manual, block)")
		}
	case GenericCSV:
		if opts.Map["email"] == "" {
			return nil, errors.New("a generic CSV needs a column map with email=COLUMN")
		}
		if opts.Map["type"] == "" && opts.Type == "" {
			return nil, errors.New("a generic CSV needs a type column in the map (type=COLUMN) or a type for every row")
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TZ == nil {
		opts.TZ = time.UTC
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatch
	}
	return &importer{opts: opts, run: opts.Now().UTC().Format(time.RFC3339)}, nil
}

// fileRun holds the per-file state.
type fileRun struct {
	im       *importer
	fs       *FileSummary
	m        *fileMapper
	base     string // origin prefix
	jsonOrig bool
	cr       *countingReader
	started  time.Time
	lastProg time.Time
	idx, n   int
	size     int64 // bytes to read (uncompressed), for progress
	nt       notes
	cands    []cand
}

func (im *importer) file(ctx context.Context, path string, idx, n int) (fs FileSummary, err error) {
	started := time.Now()
	fs = FileSummary{File: path, Provider: im.opts.Provider, ByType: map[model.SuppressionType]int64{}, RejectReasons: map[string]int64{}}
	defer func() {
		fs.Elapsed = time.Since(started)
		if err != nil {
			fs.Err = err.Error()
		}
	}()
	tmp := ""
	if im.log != nil {
		tmp = filepath.Dir(im.log.Path()) // same disk as the log, not a small tmpfs
	}
	src, err := openSource(path, tmp, im.opts.RegularOnly)
	if err != nil {
		return fs, err
	}
	defer src.cleanup()
	fi, err := prepass(src.path)
	if err != nil {
		return fs, err
	}
	fs.SHA256, fs.Encoding = fi.sha256, fi.encoding
	f, err := os.Open(src.path)
	if err != nil {
		return fs, err
	}
	defer f.Close()
	fr := &fileRun{im: im, fs: &fs, idx: idx, n: n, started: started, cr: &countingReader{r: f}, size: fi.size}
	switch {
	case src.packed == "gzip":
		fr.nt.add("read through gzip")
	case strings.HasPrefix(src.packed, "zip:"):
		fr.nt.add("read " + strconv.Quote(strings.TrimPrefix(src.packed, "zip:")) + " from the zip archive")
	case src.packed == "pipe":
		fr.nt.add("read from a pipe")
	}
	fr.m = &fileMapper{p: im.opts.Provider, list: im.opts.List, scope: scopeWithPrefix(im.opts.Provider, im.opts.Scope),
		typ: im.opts.Type, notes: &fr.nt, emailKeys: emailKeys}
	if fr.m.list != "" {
		fr.m.listFrom = "--list"
	}
	if fr.m.scope == "" {
		fr.m.scope = "account"
		switch im.opts.Provider {
		case Mailgun:
			if fi.mgDomain != "" {
				fr.m.scope = "domain:" + fi.mgDomain
				fr.nt.add("scope domain:" + fi.mgDomain + " taken from the Mailgun paging URLs in the file")
			} else {
				fr.nt.add("Mailgun suppressions are per sending domain: pass --scope domain:NAME (recorded as account)")
			}
		case SES:
			fr.nt.add("SES suppression lists are per region: pass --scope region:NAME (recorded as account)")
		case Postmark:
			fr.nt.add("Postmark suppressions are per message stream: pass --scope stream:NAME (recorded as account unless rows name it)")
		}
	}
	// The first 16 hex digits (64 bits) of the file's sha256 tell its
	// exports apart; the whole digest is in the summary. On every line of
	// the log the other 48 were 13 % of its size.
	fr.base = filepath.Base(path) + " sha256:" + fi.sha256[:originHex] + ":"
	r := textReader(fr.cr, fi)
	switch {
	case im.opts.Provider == PlainList:
		fs.Format = "text"
		err = fr.readList(ctx, r)
	case fi.json:
		fs.Format = "json"
		fr.jsonOrig = true
		err = fr.readJSON(ctx, r, fi, path)
	default:
		fs.Format = "csv"
		err = fr.readCSV(ctx, r, fi, path)
	}
	if ferr := fr.flush(true); ferr != nil && err == nil {
		err = ferr
	}
	fs.List, fs.ListFrom = fr.m.list, fr.m.listFrom
	if fs.List == "bounces_or_blocks" {
		fs.List = "bounces+blocks"
	}
	fs.Notes = fr.nt.lines()
	return fs, err
}

// emitRow maps one row, normalises its address and queues its events, or
// rejects it.
func (fr *fileRun) emitRow(ctx context.Context, r *row, num, line int, raw string) error {
	fr.fs.Rows++
	cands, why := fr.m.rowCands(r, fr.cands[:0])
	fr.cands = cands
	if why != "" {
		return fr.reject(num, line, why, why, raw)
	}
	if len(cands) == 0 {
		return fr.reject(num, line, "no event", "row gives no event", raw)
	}
	addr, orig, kind, why := literalAddr(cands[0].addr)
	if kind != "" {
		return fr.reject(num, line, kind, why, raw)
	}
	origin := fr.base
	if fr.jsonOrig {
		origin += "#"
	}
	origin += strconv.Itoa(num)
	for _, c := range cands {
		ts, naive, ok := parseTime(c.ts, fr.im.opts.TZ)
		reason := c.reason
		if !ok {
			fr.nt.add("times not understood were left empty (the raw text is in the reason)")
			reason = strings.TrimSpace(reason + " (time " + strconvQuote(c.ts) + " not understood)")
		} else if naive {
			fr.nt.add("times without a zone read as " + fr.im.opts.TZ.String())
		}
		ev := model.SuppressionEvent{Type: c.typ, Addr: addr, Orig: orig, TS: ts, Source: fr.source(c.list),
			Scope: c.scope, Reason: cutReason(reason), Origin: origin}
		if ev.Scope == "" {
			ev.Scope = "account"
		}
		fr.im.batch = append(fr.im.batch, ev)
	}
	fr.fs.Events += int64(len(cands))
	return fr.flushFull(ctx)
}

// literalAddr normalises an address and refuses a pattern or shell syntax,
// which never reaches an MTA map (issue 13); else it gives the reject's
// kind and reason.
func literalAddr(a string) (addr, orig, kind, reason string) {
	addr, orig, err := model.NormalizeAddress(a)
	if err == nil {
		err = model.CheckLiteralAddress(addr)
	}
	if err != nil {
		kind = err.Error()
		var ae *model.AddressError
		if errors.As(err, &ae) {
			kind = ae.Kind.Error()
		}
		return "", "", kind, "address " + strconvQuote(a) + ": " + err.Error()
	}
	return addr, orig, "", ""
}

// flushFull flushes the batch once it holds BatchSize events.
func (fr *fileRun) flushFull(ctx context.Context) error {
	if len(fr.im.batch) < fr.im.opts.BatchSize {
		return nil
	}
	if err := fr.flush(false); err != nil {
		return err
	}
	return ctx.Err()
}

func strconvQuote(s string) string { return strconv.Quote(cut(s, 200)) }

func cutReason(s string) string {
	s = strings.TrimSpace(s)
	return cut(s, maxReason)
}

func (fr *fileRun) source(list string) string {
	o := fr.im.opts
	switch o.Provider {
	case GenericCSV, PlainList:
		name := o.Source
		if name == "" {
			name = o.List
		}
		if name == "" {
			name = "import"
		}
		return string(o.Provider) + ":" + name
	}
	p := string(o.Provider)
	if o.Source != "" {
		p = o.Source
	}
	return p + ":" + list
}

func (fr *fileRun) reject(num, line int, kind, reason, raw string) error {
	fr.fs.Rejected++
	fr.fs.RejectReasons[kind]++
	rj := Reject{File: fr.fs.File, Row: num, Line: line, Reason: reason, Raw: cut(raw, maxRaw)}
	if len(fr.fs.Rejects) < keepRejects {
		fr.fs.Rejects = append(fr.fs.Rejects, rj)
	}
	return fr.im.writeReject(rj)
}

// appendJob is one batch being appended to the log.
type appendJob struct {
	evs  []model.SuppressionEvent
	n    int
	err  error
	done chan struct{}
}

// flush hands the batch to the log and counts the outcome of the one before
// it. The log appends a batch (dedupe, encode, hash, write, fsync, index)
// on its own goroutine while this one reads, maps and normalises the next
// rows: two cores, where one did both in turn. Batches are appended in
// order, one at a time, so the log is what it was; with done, the outcome
// of the last batch is waited for.
func (fr *fileRun) flush(done bool) error {
	im := fr.im
	if err := fr.settle(); err != nil {
		return err
	}
	if len(im.batch) > 0 && !im.fatal {
		j := &appendJob{evs: im.batch, done: make(chan struct{})}
		im.appending = j
		im.batch, im.spare = im.spare[:0], nil
		go func() {
			defer close(j.done)
			j.n, j.err = im.appendFn(j.evs)
		}()
	}
	if done {
		if err := fr.settle(); err != nil {
			return err
		}
	}
	if im.progress != nil {
		now := time.Now()
		if done || now.Sub(fr.lastProg) >= 100*time.Millisecond {
			fr.lastProg = now
			im.progress(fr.progress(done))
		}
	}
	return nil
}

// settle waits for the batch being appended and counts its outcome into
// the file's summary (a batch never spans two files: a file ends with
// flush(true)).
func (fr *fileRun) settle() error {
	im := fr.im
	j := im.appending
	if j == nil {
		return nil
	}
	<-j.done
	im.appending = nil
	im.spare = j.evs[:0]
	if j.err != nil {
		im.fatal = true
		im.batch = im.batch[:0] // read after the failed write: not appended
		return j.err
	}
	for i := range j.evs {
		e := &j.evs[i]
		if e.Seq != 0 {
			if im.firstSeq == 0 {
				im.firstSeq = e.Seq
			}
			fr.fs.ByType[e.Type]++
		}
	}
	fr.fs.Accepted += int64(j.n)
	fr.fs.Duplicate += int64(len(j.evs) - j.n)
	return nil
}

func (fr *fileRun) progress(done bool) Progress {
	p := Progress{File: fr.fs.File, FileIndex: fr.idx, Files: fr.n, Bytes: fr.cr.n, Size: fr.size,
		Rows: fr.fs.Rows, Accepted: fr.fs.Accepted, Duplicate: fr.fs.Duplicate, Rejected: fr.fs.Rejected, Done: done}
	el := time.Since(fr.started)
	if s := el.Seconds(); s > 0 {
		p.Rate = float64(p.Rows) / s
	}
	if !done && p.Bytes > 0 && p.Size > p.Bytes {
		p.ETA = time.Duration(float64(el) * float64(p.Size-p.Bytes) / float64(p.Bytes))
	}
	return p
}

// ---- readers per shape ----

func (fr *fileRun) readCSV(ctx context.Context, r io.Reader, fi fileInfo, path string) error {
	cr := newCSVReader(r)
	var hdr map[string]int
	var hdrKey, hdrFirst string
	first := true
	generic := fr.m.p == GenericCSV
	for {
		rec, ok, err := cr.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if rec.blank {
			fr.fs.Rows++
			if err := fr.reject(rec.line, rec.line, "empty row", "empty row", rec.raw); err != nil {
				return err
			}
			continue
		}
		if rec.err != "" {
			fr.fs.Rows++
			if err := fr.reject(rec.line, rec.line, rec.err, rec.err, rec.raw); err != nil {
				return err
			}
			continue
		}
		if first {
			first = false
			if d := sniffDelim(rec.raw); d != ',' {
				cr.delim = d
				rec.fields = resplit(rec.raw, d)
			}
			isHeader, err := fr.header(rec.fields, &hdr)
			if err != nil {
				return err
			}
			if isHeader {
				hdrKey = foldRecord(rec.fields)
				hdrFirst = strings.TrimSpace(rec.fields[0])
				fr.m.detect(path, &row{cols: hdr}, fi)
				continue
			}
			fr.m.detect(path, &row{fields: rec.fields}, fi)
			if generic {
				fr.nt.add("no header row: columns by number")
			} else {
				fr.nt.add("no header row: the address is taken from the first column")
			}
		} else if hdrKey != "" && len(rec.fields) > 0 && strings.EqualFold(strings.TrimSpace(rec.fields[0]), hdrFirst) && foldRecord(rec.fields) == hdrKey {
			fr.fs.Rows++
			if err := fr.reject(rec.line, rec.line, "repeated header row", "repeated header row", rec.raw); err != nil {
				return err
			}
			continue
		}
		rw := row{fields: rec.fields, cols: hdr}
		if err := fr.emitRow(ctx, &rw, rec.line, rec.line, rec.raw); err != nil {
			return err
		}
	}
}

func resplit(raw string, d byte) []string {
	cr := newCSVReader(strings.NewReader(raw))
	cr.delim = d
	rec, _, _ := cr.next()
	return append([]string(nil), rec.fields...)
}

func foldRecord(fields []string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = normKey(strings.TrimSpace(f))
	}
	return strings.Join(parts, "\x00")
}

// header decides whether the first record is a header and builds the
// folded column index.
func (fr *fileRun) header(fields []string, hdr *map[string]int) (bool, error) {
	cols := map[string]int{}
	for i, f := range fields {
		k := normKey(strings.TrimSpace(f))
		if _, dup := cols[k]; !dup && k != "" {
			cols[k] = i
		}
	}
	if fr.m.p == GenericCSV {
		fr.m.mapCols = map[string]string{}
		byName := false
		for role, ref := range fr.im.opts.Map {
			if n, err := strconv.Atoi(ref); err == nil && n > 0 {
				fr.m.mapCols[role] = "#" + strconv.Itoa(n)
				continue
			}
			byName = true
			k := normKey(ref)
			if _, ok := cols[k]; !ok {
				return false, fmt.Errorf("column %q (for %s) is not in the header %q", ref, role, fields)
			}
			fr.m.mapCols[role] = k
		}
		if byName {
			*hdr = cols
			return true, nil
		}
		// all by number: a header only if the address cell is not one
		n, _ := strconv.Atoi(fr.m.mapCols["email"][1:])
		if n-1 < len(fields) && !strings.Contains(fields[n-1], "@") {
			*hdr = cols
			return true, nil
		}
		return false, nil
	}
	for _, k := range emailKeys {
		if _, ok := cols[k]; ok {
			*hdr = cols
			return true, nil
		}
	}
	if len(fields) > 0 && strings.Contains(fields[0], "@") {
		return false, nil // headerless export
	}
	return false, fmt.Errorf("%w: the first row %q has no email/address/recipient column and no address in its first cell", errNoAddressColumn, fields)
}

func (fr *fileRun) readJSON(ctx context.Context, r io.Reader, fi fileInfo, path string) error {
	js := newJSONStream(r)
	first := true
	for {
		it, ok, err := js.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if it.err != "" {
			fr.fs.Rows++
			why := it.err
			if it.detail != "" {
				why = it.detail
			}
			if err := fr.reject(it.num, it.line, it.err, why, string(it.raw)); err != nil {
				return err
			}
			continue
		}
		rw := row{str: it.str, isStr: it.isStr}
		if !it.isStr {
			rw.obj = make(map[string]any, len(it.obj))
			for k, v := range it.obj {
				rw.obj[normKey(k)] = v
			}
		}
		if first {
			first = false
			if fr.m.p == GenericCSV {
				return errors.New("a generic CSV import got a JSON file")
			}
			fr.m.detect(path, &rw, fi)
		}
		if err := fr.emitRow(ctx, &rw, it.num, it.line, string(it.raw)); err != nil {
			return err
		}
	}
}

// Postfix access actions that let mail through: such a line in a legacy
// map is an exception, not a suppression.
var passActions = map[string]bool{"OK": true, "DUNNO": true, "PERMIT": true, "RELAY": true, "ACCEPT": true, "PASS": true}

func (fr *fileRun) readList(ctx context.Context, r io.Reader) error {
	cr := newCSVReader(r)
	for {
		pl, ok, err := cr.physical()
		if err != nil {
			return err
		}
		if !ok {
			if n := fr.fs.Ignored; n > 0 {
				fr.nt.add(fmt.Sprintf("%d blank or comment lines ignored", n))
			}
			return nil
		}
		if pl.long {
			fr.fs.Rows++
			why := fmt.Sprintf("line longer than %d bytes", maxLine)
			if err := fr.reject(pl.n, pl.n, why, why, pl.text); err != nil {
				return err
			}
			continue
		}
		line := strings.TrimSpace(pl.text)
		if line == "" || line[0] == '#' {
			fr.fs.Ignored++
			continue
		}
		key, value := listKey(line)
		if v := strings.Fields(value); len(v) > 0 && passActions[strings.ToUpper(v[0])] {
			fr.fs.Rows++
			if err := fr.reject(pl.n, pl.n, "access action lets mail through", "action "+v[0]+" does not reject: not a suppression", pl.text); err != nil {
				return err
			}
			continue
		}
		c := cand{addr: key, scope: fr.m.scope, list: fr.im.opts.List, typ: fr.im.opts.Type, reason: cutReason(value)}
		if err := fr.emitCand(ctx, c, pl.n, pl.text); err != nil {
			return err
		}
	}
}

// emitCand queues a ready candidate (plain lists have no row mapping).
func (fr *fileRun) emitCand(ctx context.Context, c cand, n int, raw string) error {
	fr.fs.Rows++
	addr, orig, kind, why := literalAddr(c.addr)
	if kind != "" {
		return fr.reject(n, n, kind, why, raw)
	}
	fr.im.batch = append(fr.im.batch, model.SuppressionEvent{Type: c.typ, Addr: addr, Orig: orig, Source: fr.source(c.list),
		Scope: c.scope, Reason: c.reason, Origin: fr.base + strconv.Itoa(n)})
	fr.fs.Events++
	return fr.flushFull(ctx)
}

// listKey splits a legacy list line into its address and the rest:
// "addr", "addr REJECT text" (Postfix access), "addr: value" (Exim
// lsearch), quoted keys ("\"#a\"@b.com", "\"a:b@c\": x").
func listKey(line string) (key, value string) {
	if line[0] == '"' {
		// Exim quoted key, or a Postfix quoted local part: "local"@domain
		end := -1
		for i := 1; i < len(line); i++ {
			if line[i] == '\\' {
				i++
				continue
			}
			if line[i] == '"' {
				end = i
				break
			}
		}
		if end > 0 {
			inner := strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(line[1:end])
			rest := line[end+1:]
			if strings.HasPrefix(rest, "@") { // "local"@domain
				i := strings.IndexAny(rest, " \t")
				if i < 0 {
					return inner + rest, ""
				}
				return inner + rest[:i], strings.TrimSpace(rest[i:])
			}
			return inner, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	i := strings.IndexAny(line, " \t")
	key = line
	if i >= 0 {
		key, value = line[:i], strings.TrimSpace(line[i:])
	}
	if j := strings.IndexByte(key, ':'); j >= 0 { // "addr:" or "addr:value"
		value = strings.TrimSpace(key[j+1:] + " " + value)
		key = key[:j]
	}
	return key, value
}

// ---- rejects file ----

func (im *importer) writeReject(r Reject) error {
	if im.rejW == nil {
		// Appended, never truncated; never through a planted symlink, and
		// only to a regular file (a FIFO would block the import).
		f, err := os.OpenFile(im.opts.RejectsPath, os.O_RDWR|os.O_CREATE|os.O_APPEND|state.NoFollow, 0o600)
		if err != nil {
			return fmt.Errorf("rejects file: %w", err)
		}
		st, err := f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = fmt.Errorf("rejects file %s is not a regular file", im.opts.RejectsPath)
		}
		if err != nil {
			f.Close()
			return err
		}
		if st.Size() > 0 {
			if im.rejSeen, err = readRejectKeys(f); err != nil {
				f.Close()
				return fmt.Errorf("rejects file %s: %w", im.opts.RejectsPath, err)
			}
		}
		im.rejF, im.rejW = f, csv.NewWriter(f)
		if st.Size() == 0 {
			im.rejW.Write([]string{"run", "file", "row", "line", "reason", "raw"})
		}
		im.rejectsUsed = true
	}
	row, line := strconv.Itoa(r.Row), strconv.Itoa(r.Line)
	k := rejectKey(r.File, row, line, r.Raw)
	if _, dup := im.rejSeen[k]; dup {
		return nil // recorded by an earlier import of the same file
	}
	if im.rejSeen == nil {
		im.rejSeen = map[[16]byte]struct{}{}
	}
	im.rejSeen[k] = struct{}{}
	return im.rejW.Write([]string{im.run, r.File, row, line, r.Reason, r.Raw})
}

// rejectKey names a rejected row by its file's base name, row, line and text:
// a re-import of the same export (from another directory too) finds its rows
// there and does not write them again. The reason is left out, so a reworded
// message in a newer cutover does not repeat the row either. 16 bytes of
// sha256 keep a large rejects file's set small.
func rejectKey(file, row, line, raw string) [16]byte {
	h := sha256.New()
	for _, s := range []string{filepath.Base(file), row, line, raw} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var k [16]byte
	copy(k[:], h.Sum(nil))
	return k
}

// readRejectKeys reads the keys of the rows already in a rejects file. A row
// it cannot parse is skipped: at worst that row is written once more.
func readRejectKeys(f *os.File) (map[[16]byte]struct{}, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	cr := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	seen := map[[16]byte]struct{}{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return seen, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 6 {
			seen[rejectKey(rec[1], rec[2], rec[3], rec[5])] = struct{}{}
		}
	}
}

func (im *importer) closeRejects() error {
	if im.rejW == nil {
		return nil
	}
	im.rejW.Flush()
	err := im.rejW.Error()
	if serr := im.rejF.Sync(); err == nil {
		err = serr
	}
	if cerr := im.rejF.Close(); err == nil {
		err = cerr
	}
	im.rejW, im.rejF = nil, nil
	return err
}

// ReasonCount is a reject reason and how many rows had it.
type ReasonCount struct {
	Reason string
	N      int64
}

// ReasonCounts returns the reject reasons of a summary, most frequent first.
func (s *Summary) ReasonCounts() []ReasonCount {
	m := map[string]int64{}
	for _, f := range s.Files {
		for k, v := range f.RejectReasons {
			m[k] += v
		}
	}
	out := make([]ReasonCount, 0, len(m))
	for k, v := range m {
		out = append(out, ReasonCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Reason < out[j].Reason
	})
	return out
}

// String is a one-line progress report for a terminal.
func (p Progress) String() string {
	pct := ""
	if p.Size > 0 {
		pct = fmt.Sprintf(" %3.0f%%", 100*float64(p.Bytes)/float64(p.Size))
	}
	eta := ""
	if p.ETA > 0 {
		eta = " ETA " + p.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("[%d/%d] %s%s rows %d accepted %d duplicate %d rejected %d (%.0f rows/s)%s",
		p.FileIndex+1, p.Files, filepath.Base(p.File), pct, p.Rows, p.Accepted, p.Duplicate, p.Rejected, p.Rate, eta)
}

// WriteText writes the plain summary of an import (for a terminal or a log).
func (s *Summary) WriteText(w io.Writer) {
	for _, f := range s.Files {
		fmt.Fprintf(w, "%s: %s %s (%s, list %s from %s)\n", f.File, f.Provider, f.Format, f.Encoding, f.List, f.ListFrom)
		fmt.Fprintf(w, "  rows %d: rejected %d; events %d: accepted %d, duplicate %d", f.Rows, f.Rejected, f.Events, f.Accepted, f.Duplicate)
		if f.Ignored > 0 {
			fmt.Fprintf(w, "; %d blank/comment lines", f.Ignored)
		}
		fmt.Fprintln(w)
		for _, t := range model.SuppressionTypes {
			if n := f.ByType[t]; n > 0 {
				fmt.Fprintf(w, "  + %d %s\n", n, t)
			}
		}
		for _, r := range f.Rejects {
			fmt.Fprintf(w, "  rejected row %d (line %d): %s\n", r.Row, r.Line, r.Reason)
		}
		if int64(len(f.Rejects)) < f.Rejected {
			fmt.Fprintf(w, "  ... %d more rejected rows in the rejects file\n", f.Rejected-int64(len(f.Rejects)))
		}
		for _, n := range f.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		if f.Err != "" {
			fmt.Fprintf(w, "  ERROR: %s\n", f.Err)
		}
	}
	fmt.Fprintf(w, "total: rows %d, rejected %d, events %d: accepted %d, duplicate %d (%s)\n",
		s.Rows, s.Rejected, s.Events, s.Accepted, s.Duplicate, s.Elapsed.Round(time.Millisecond))
	for _, t := range model.SuppressionTypes {
		if n := s.ByType[t]; n > 0 {
			fmt.Fprintf(w, "  + %d %s\n", n, t)
		}
	}
	if s.FirstSeq > 0 {
		fmt.Fprintf(w, "log %s: seq %d..%d\n", s.LogPath, s.FirstSeq, s.LastSeq)
	} else {
		fmt.Fprintf(w, "log %s: nothing appended (last seq %d)\n", s.LogPath, s.LastSeq)
	}
	if s.RejectsPath != "" {
		fmt.Fprintf(w, "rejected rows: %s\n", s.RejectsPath)
		for _, rc := range s.ReasonCounts() {
			fmt.Fprintf(w, "  %6d %s\n", rc.N, rc.Reason)
		}
	}
	for _, n := range s.Notices {
		fmt.Fprintf(w, "notice: %s\n", n)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
