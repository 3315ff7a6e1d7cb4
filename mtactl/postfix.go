package mtactl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cutover/model"
)

// Postfix: two roles, two instances (see PostfixConfig).
//
// front, main.cf block:
//
//	sender_dependent_default_transport_maps = randmap:{cutover_old:[old]:587,
//	    cutover_old:[old]:587, cutover_new:[127.0.0.1]:10026, ...}
//
// randmap picks one entry per lookup at random, so the weight of a side is
// how often it is listed (ratio and 100-ratio entries, divided by their
// greatest common divisor: 30 % is 3 NEW and 7 OLD entries, 37 % is 37 and
// 63). Every sender matches, so only transport_maps (which wins over it) can
// take mail away from the split.
//
// front, master.cf block: the OLD and NEW transports (their own syslog_name
// so the ingest side map can tell the sides apart).
//
// delivery, master.cf block: one smtp transport per provider; main.cf block:
// transport_maps and <transport>_destination_{concurrency_limit,rate_delay,
// concurrency_failed_cohort_limit,recipient_limit}; the transport map file is
// cutover's own.

// ErrUnsupported is returned for a Desired a driver cannot express.
var ErrUnsupported = errors.New("not supported by this MTA")

// postfixBase has what both roles share: running postfix/postconf/postmap and
// reading the maillog on failure.
type postfixBase struct {
	name string
	in   *PostfixInstance
	r    *runner
}

func (b *postfixBase) Name() string    { return b.name }
func (b *postfixBase) LockDir() string { return b.in.ConfigDir }

func (b *postfixBase) vars() map[string]string { return map[string]string{"dir": b.in.RemoteDir} }

// remote maps a local path under ConfigDir to the path commands see.
func (b *postfixBase) remote(p string) string {
	if rel, err := filepath.Rel(b.in.ConfigDir, p); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.Join(b.in.RemoteDir, rel)
	}
	return p
}

// runLogged runs a postfix(1) command and, on failure, adds the maillog lines
// it wrote: postfix(1) reports to stderr only when stderr is a terminal.
func (b *postfixBase) runLogged(ctx context.Context, step string, argv []string) error {
	var off int64 = -1
	if b.in.MaillogFile != "" {
		if fi, err := os.Stat(b.in.MaillogFile); err == nil {
			off = fi.Size()
		}
	}
	res := b.r.run(ctx, expand(argv, b.vars()))
	if res.Err == nil {
		return nil
	}
	se := stepErr(b.name, step, res)
	if off >= 0 {
		if logged := logSince(b.in.MaillogFile, off); logged != "" {
			se.Output = strings.TrimSpace(se.Output + "\n" + logged)
		}
	}
	return se
}

// logSince returns the fatal/error/warning/panic lines a log got after off.
func logSince(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "fatal:") || strings.Contains(l, "error:") || strings.Contains(l, "warning:") || strings.Contains(l, "panic:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func (b *postfixBase) postconf(ctx context.Context, args ...string) cmdResult {
	return b.r.run(ctx, append(expand(b.in.Postconf, b.vars()), args...))
}

func (b *postfixBase) postmap(ctx context.Context, args ...string) cmdResult {
	return b.r.run(ctx, append(expand(b.in.Postmap, b.vars()), args...))
}

func (b *postfixBase) Reload(ctx context.Context, _ []string) (bool, error) {
	if err := b.runLogged(ctx, "reload", b.in.Reload); err != nil {
		return false, err
	}
	return true, nil
}

// validateCommon runs `postfix check`, then proves that every parameter in
// cutover's main.cf block is what Postfix really uses (a later duplicate line
// would silently win), that every service in the master.cf block parses, and
// that `postconf -n` has no new warning about cutover's names.
func (b *postfixBase) validateCommon(ctx context.Context) (params map[string]string, services []string, err error) {
	if err := b.runLogged(ctx, "validate", b.in.Check); err != nil {
		return nil, nil, err
	}
	mainCF, err := os.ReadFile(b.in.MainCF)
	if err != nil {
		return nil, nil, &StepError{Driver: b.name, Step: "validate", Err: err}
	}
	params, err = blockParams(mainCF, b.in.MainCF)
	if err != nil {
		return nil, nil, &StepError{Driver: b.name, Step: "validate", Err: err}
	}
	for _, name := range sortedKeys(params) {
		res := b.postconf(ctx, "-h", name)
		if res.Err != nil {
			return nil, nil, stepErr(b.name, "validate", res)
		}
		if normSpace(res.Stdout) != normSpace(params[name]) {
			return nil, nil, &StepError{Driver: b.name, Step: "validate", Argv: res.Argv,
				Err:    fmt.Errorf("Postfix uses %s = %s, not cutover's value: another line overrides cutover's block", name, clip(strings.TrimSpace(res.Stdout), 300)),
				Output: res.Output()}
		}
	}
	masterCF, err := os.ReadFile(b.in.MasterCF)
	if err != nil {
		return nil, nil, &StepError{Driver: b.name, Step: "validate", Err: err}
	}
	services, err = blockServices(masterCF, b.in.MasterCF)
	if err != nil {
		return nil, nil, &StepError{Driver: b.name, Step: "validate", Err: err}
	}
	for _, svc := range services {
		if res := b.postconf(ctx, "-M", svc+"/unix"); res.Err != nil || !strings.HasPrefix(strings.TrimSpace(res.Stdout), svc) {
			if res.Err == nil {
				res.Err = fmt.Errorf("service %s/unix not found in master.cf", svc)
			}
			return nil, nil, stepErr(b.name, "validate", res)
		}
	}
	res := b.postconf(ctx, "-n")
	if res.Err != nil {
		return nil, nil, stepErr(b.name, "validate", res)
	}
	names := append(sortedKeys(params), services...)
	for _, l := range strings.Split(res.Stderr, "\n") {
		if !strings.Contains(l, "warning:") {
			continue
		}
		for _, n := range names {
			if strings.Contains(l, n) {
				return nil, nil, &StepError{Driver: b.name, Step: "validate", Argv: res.Argv, Err: errors.New("postconf warns about a setting of cutover's"), Output: l}
			}
		}
	}
	return params, services, nil
}

func normSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// logicalLines joins main.cf continuation lines (a line starting with
// whitespace continues the previous one); comments and blank lines end a
// logical line.
func logicalLines(lines []numberedLine) []numberedLine {
	var out []numberedLine
	for _, l := range lines {
		t := l.text
		switch {
		case strings.TrimSpace(t) == "" || strings.HasPrefix(strings.TrimLeft(t, " \t"), "#"):
			continue
		case (t[0] == ' ' || t[0] == '\t') && len(out) > 0:
			out[len(out)-1].text += " " + strings.TrimSpace(t)
		default:
			out = append(out, numberedLine{l.n, strings.TrimSpace(t)})
		}
	}
	return out
}

func paramOf(line string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(line, "=")
	return strings.TrimSpace(name), strings.TrimSpace(value), ok
}

// blockParams returns the name = value settings inside cutover's block.
func blockParams(mainCF []byte, file string) (map[string]string, error) {
	blocks, err := blockContents(mainCF, file, []string{""})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if blocks[""] == nil {
		return out, nil
	}
	var lines []numberedLine
	for i, t := range strings.Split(*blocks[""], "\n") {
		lines = append(lines, numberedLine{i + 1, t})
	}
	for _, l := range logicalLines(lines) {
		if n, v, ok := paramOf(l.text); ok {
			out[n] = v
		}
	}
	return out, nil
}

// blockServices returns the master.cf service names inside cutover's block.
func blockServices(masterCF []byte, file string) ([]string, error) {
	blocks, err := blockContents(masterCF, file, []string{""})
	if err != nil || blocks[""] == nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(*blocks[""], "\n") {
		if l == "" || l[0] == ' ' || l[0] == '\t' || l[0] == '#' {
			continue
		}
		out = append(out, strings.Fields(l)[0])
	}
	return out, nil
}

// conflictParams refuses operator lines that set a parameter cutover sets.
func conflictParams(file string, names func() []string) func([]numberedLine) error {
	return func(lines []numberedLine) error {
		own := names()
		for _, l := range logicalLines(lines) {
			if n, _, ok := paramOf(l.text); ok && slices.Contains(own, n) {
				return fmt.Errorf("%s:%d sets %s outside cutover's block; remove or comment it out (the snapshot keeps it for rollback), or configure cutover to use another parameter", file, l.n, n)
			}
		}
		return nil
	}
}

// conflictServices refuses operator master.cf services named like cutover's.
func conflictServices(file string, names func() []string) func([]numberedLine) error {
	return func(lines []numberedLine) error {
		own := names()
		for _, l := range lines {
			t := l.text
			if t == "" || t[0] == ' ' || t[0] == '\t' || t[0] == '#' {
				continue
			}
			if f := strings.Fields(t); slices.Contains(own, f[0]) {
				return fmt.Errorf("%s:%d defines service %s outside cutover's block; rename one of them", file, l.n, f[0])
			}
		}
		return nil
	}
}

// masterService renders one smtp service with -o options.
func masterService(name string, opts []string) string {
	var b strings.Builder
	pad := max(1, 10-len(name))
	fmt.Fprintf(&b, "%s%sunix  -       -       -       -       -       smtp\n", name, strings.Repeat(" ", pad))
	fmt.Fprintf(&b, "    -o syslog_name=postfix/%s\n", name)
	for _, o := range opts {
		fmt.Fprintf(&b, "    -o %s\n", o)
	}
	return b.String()
}

// wrapParam renders "name = first, second, ..." over continuation lines of
// at most ~78 columns.
func wrapParam(name, prefix string, items []string, suffix string) string {
	var b strings.Builder
	line := name + " = " + prefix
	for i, it := range items {
		tok := it
		if i < len(items)-1 {
			tok += ","
		} else {
			tok += suffix
		}
		sep := ""
		if i > 0 {
			sep = " "
		}
		if i > 0 && len(line)+len(sep)+len(tok) > 78 {
			b.WriteString(line + "\n")
			line, sep = "   ", " "
		}
		line += sep + tok
	}
	b.WriteString(line + "\n")
	return b.String()
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ---------------------------------------------------------------- front

type postfixFront struct {
	postfixBase
	cfg *PostfixFront
}

func newPostfixFront(cfg *PostfixFront, r *runner) *postfixFront {
	return &postfixFront{postfixBase{name: "postfix-front", in: &cfg.PostfixInstance, r: r}, cfg}
}

func (d *postfixFront) Files() []ManagedFile {
	return []ManagedFile{
		{Path: d.in.MainCF, Blocks: []string{""}, Append: true,
			Check: conflictParams(d.in.MainCF, func() []string { return []string{d.cfg.SplitParameter} })},
		{Path: d.in.MasterCF, Blocks: []string{""}, Append: true,
			Check: conflictServices(d.in.MasterCF, func() []string { return []string{d.cfg.OldTransport, d.cfg.NewTransport} })},
	}
}

func (d *postfixFront) entries(ratio int) []string {
	g := gcd(ratio, 100-ratio)
	oldE := d.cfg.OldTransport + ":" + d.cfg.OldNexthop
	newE := d.cfg.NewTransport + ":" + d.cfg.NewNexthop
	var out []string
	for range (100 - ratio) / g {
		out = append(out, oldE)
	}
	for range ratio / g {
		out = append(out, newE)
	}
	return out
}

func (d *postfixFront) Render(in RenderInput) (map[string]Managed, []string, error) {
	des := in.Desired
	for _, isp := range sortedKeys(des.PerISP) {
		if des.PerISP[isp] != des.RatioNew {
			return nil, nil, fmt.Errorf("%s at %d%% while the rest is at %d%%: randmap splits all mail alike, per-provider ratios are %w (use Exim or PowerMTA for the split, or one global ratio)",
				isp, des.PerISP[isp], des.RatioNew, ErrUnsupported)
		}
	}
	main := blockHeader + fmt.Sprintf("# OLD/NEW split: %d %% of mail to NEW (%s), the rest to OLD (%s).\n",
		des.RatioNew, d.cfg.NewTransport, d.cfg.OldTransport) +
		wrapParam(d.cfg.SplitParameter, "randmap:{", d.entries(des.RatioNew), "}")
	master := blockHeader + masterService(d.cfg.OldTransport, d.cfg.OldOptions) + masterService(d.cfg.NewTransport, d.cfg.NewOptions)
	var notes []string
	notes = append(notes, fmt.Sprintf("split %d%% to NEW by randmap: random per delivery attempt, a deferred message may retry on the other side", des.RatioNew))
	return map[string]Managed{
		d.in.MainCF:   {Blocks: map[string]string{"": main}},
		d.in.MasterCF: {Blocks: map[string]string{"": master}},
	}, notes, nil
}

func (d *postfixFront) Build(context.Context, []string) error { return nil }

func (d *postfixFront) Validate(ctx context.Context, _ []string) error {
	params, _, err := d.validateCommon(ctx)
	if err != nil {
		return err
	}
	// The randmap must parse and answer with one of its entries.
	if v, ok := params[d.cfg.SplitParameter]; ok {
		res := d.postmap(ctx, "-q", "cutover-probe@example.com", v)
		if res.Err != nil {
			return stepErr(d.name, "validate", res)
		}
		got := strings.TrimSpace(res.Stdout)
		if !strings.Contains(v, got) || got == "" {
			return &StepError{Driver: d.name, Step: "validate", Argv: res.Argv, Err: fmt.Errorf("the split map answered %q", got), Output: res.Output()}
		}
	}
	return nil
}

// ---------------------------------------------------------------- delivery

type postfixDelivery struct {
	postfixBase
	cfg       *PostfixDelivery
	providers map[string][]string
}

func newPostfixDelivery(cfg *PostfixDelivery, providers map[string][]string, r *runner) *postfixDelivery {
	return &postfixDelivery{postfixBase{name: "postfix-delivery", in: &cfg.PostfixInstance, r: r}, cfg, providers}
}

func (d *postfixDelivery) services() []string {
	var out []string
	for _, p := range sortedKeys(d.providers) {
		out = append(out, d.cfg.TransportPrefix+p)
	}
	return out
}

func (d *postfixDelivery) params() []string {
	out := []string{"transport_maps"}
	for _, s := range d.services() {
		for _, p := range []string{"concurrency_limit", "rate_delay", "concurrency_failed_cohort_limit", "recipient_limit"} {
			out = append(out, s+"_destination_"+p)
		}
	}
	return out
}

func (d *postfixDelivery) Files() []ManagedFile {
	return []ManagedFile{
		{Path: d.in.MainCF, Blocks: []string{""}, Append: true, Check: conflictParams(d.in.MainCF, d.params)},
		{Path: d.in.MasterCF, Blocks: []string{""}, Append: true, Check: conflictServices(d.in.MasterCF, d.services)},
		{Path: d.cfg.TransportMap, Perm: 0o644},
	}
}

func (d *postfixDelivery) mapRef() string {
	return d.cfg.MapType + ":" + d.remote(d.cfg.TransportMap)
}

func (d *postfixDelivery) Render(in RenderInput) (map[string]Managed, []string, error) {
	var notes []string
	var main, master, tmap strings.Builder
	main.WriteString(blockHeader)
	main.WriteString(wrapParam("transport_maps", "", append(slices.Clone(d.cfg.TransportMapsBefore), d.mapRef()), ""))
	master.WriteString(blockHeader)
	tmap.WriteString("# Managed by cutover: rewritten on every apply and rollback; see `cutover history`.\n")
	for _, isp := range sortedKeys(d.providers) {
		svc := d.cfg.TransportPrefix + isp
		t := in.Desired.Throttles[isp]
		fmt.Fprintf(&main, "# %s: %s\n", isp, t)
		if t.Connections > 0 {
			fmt.Fprintf(&main, "%s_destination_concurrency_limit = %d\n", svc, t.Connections)
		}
		if t.PerHour > 0 {
			delay, eff := model.RateDelay(t.PerHour)
			fmt.Fprintf(&main, "%s_destination_rate_delay = %ds\n", svc, int(delay.Seconds()))
			// With a rate delay one failed connection would otherwise
			// suspend the whole destination (postconf(5)).
			fmt.Fprintf(&main, "%s_destination_concurrency_failed_cohort_limit = 10\n", svc)
			if eff != t.PerHour {
				notes = append(notes, fmt.Sprintf("%s: %d/h becomes a %s rate delay = %d/h (whole seconds)", isp, t.PerHour, delay, eff))
			}
		}
		if d.cfg.RecipientLimit > 0 {
			fmt.Fprintf(&main, "%s_destination_recipient_limit = %d\n", svc, d.cfg.RecipientLimit)
		}
		opts := slices.Clone(d.cfg.TransportOptions)
		if t.PerConnection > 0 {
			opts = append([]string{"smtp_connection_reuse_count_limit=" + strconv.Itoa(t.PerConnection)}, opts...)
		}
		master.WriteString(masterService(svc, opts))
		for _, dom := range slices.Sorted(slices.Values(d.providers[isp])) {
			fmt.Fprintf(&tmap, "%s\t%s:%s\n", dom, svc, d.cfg.Nexthops[isp])
		}
		if len(d.providers[isp]) > 1 && t.PerHour > 0 {
			notes = append(notes, fmt.Sprintf("%s: the rate delay applies per recipient domain (%d domains)", isp, len(d.providers[isp])))
		}
	}
	return map[string]Managed{
		d.in.MainCF:        {Blocks: map[string]string{"": main.String()}},
		d.in.MasterCF:      {Blocks: map[string]string{"": master.String()}},
		d.cfg.TransportMap: {Whole: []byte(tmap.String())},
	}, notes, nil
}

// Build indexes the transport map (postmap) when it changed or its index is
// missing or older; texthash needs none. An unchanged map keeps its index
// bytes, so a failed apply leaves the directory exactly as it was.
func (d *postfixDelivery) Build(ctx context.Context, changed []string) error {
	if d.cfg.MapType == "texthash" {
		return nil
	}
	src, err := os.Stat(d.cfg.TransportMap)
	if errors.Is(err, os.ErrNotExist) {
		// Rolled back to before the map existed: drop its index too, so
		// the directory is as it was.
		for _, ext := range []string{".db", ".lmdb", ".cdb"} {
			os.Remove(d.cfg.TransportMap + ext)
		}
		return nil
	}
	if err != nil {
		return &StepError{Driver: d.name, Step: "build", Err: err}
	}
	if !slices.Contains(changed, d.cfg.TransportMap) && d.indexFresh(src) {
		return nil
	}
	if res := d.postmap(ctx, d.mapRef()); res.Err != nil {
		return stepErr(d.name, "build", res)
	}
	return nil
}

// indexFresh reports whether the map's index exists and is not older than
// the map.
func (d *postfixDelivery) indexFresh(src os.FileInfo) bool {
	ext := map[string]string{"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}[d.cfg.MapType]
	idx, err := os.Stat(d.cfg.TransportMap + ext)
	return err == nil && !idx.ModTime().Before(src.ModTime())
}

var tmapLine = regexp.MustCompile(`^(\S+)\s+(\S+)\s*$`)

func (d *postfixDelivery) Validate(ctx context.Context, _ []string) error {
	if _, _, err := d.validateCommon(ctx); err != nil {
		return err
	}
	// Every line of the transport map answers as written.
	b, err := os.ReadFile(d.cfg.TransportMap)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return &StepError{Driver: d.name, Step: "validate", Err: err}
	}
	for _, l := range strings.Split(string(b), "\n") {
		m := tmapLine.FindStringSubmatch(l)
		if m == nil || strings.HasPrefix(l, "#") {
			continue
		}
		res := d.postmap(ctx, "-q", m[1], d.mapRef())
		if res.Err != nil || strings.TrimSpace(res.Stdout) != m[2] {
			if res.Err == nil {
				res.Err = fmt.Errorf("postmap -q %s answered %q, want %q", m[1], strings.TrimSpace(res.Stdout), m[2])
			}
			return stepErr(d.name, "validate", res)
		}
	}
	return nil
}
