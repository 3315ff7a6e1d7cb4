package mtactl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// Suppression export and verification (issue 5, points 4 and 5): the
// canonical suppression log (state/suppress) becomes a whole file the NEW
// MTA reads, installed by ApplyFiles with the same transaction as a ratio
// change (lock, snapshot, temp+fsync+rename, build, validate, reload,
// audit; restore on failure), and VerifySuppressions proves the installed
// file holds every address of the log.
//
// The operator wires the file into the MTA once:
//
//	Postfix   smtpd_recipient_restrictions = check_recipient_access hash:/etc/postfix/cutover_suppressed,
//	              check_recipient_access regexp:/etc/postfix/cutover_suppressed.regexp, ...
//	Exim      deny recipients = lsearch;/etc/exim4/cutover-suppressed   (in acl_check_rcpt)
//	PowerMTA  the list is for the injector (PowerMTA has no suppression store);
//	          with suppress_pattern_list also a rule file, wired in as
//	              include /etc/pmta/cutover-suppressed.pattern
//	              <virtual-mta blackhole>            (suppress_vmta)
//	                  <domain *>
//	                      type discard
//	                  </domain>
//	              </virtual-mta>
//	              <source 127.0.0.1>                 (the injector's source)
//	                  pattern-list cutover-suppressed   (suppress_pattern_name)
//	              </source>
//
// The rule file holds "<pattern-list NAME>" and one "rcpt-to /^addr$/
// virtual-mta=VMTA" per address. PowerMTA applies the first match's
// VirtualMTA to the whole message, so a message with several recipients and
// one suppressed one is discarded whole: the injector must still drop
// suppressed recipients from its list (this file is the safety net), and
// send one recipient per message where that matters. PowerMTA is
// commercial: the tests validate and reload with the fake pmta command of
// this package's tests (helpers_test.go), not a real PowerMTA, and the
// wiring above (include, <source> pattern-list, type discard) follows the v5
// User's Guide, not a run.

// WholeFile is one whole file ApplyFiles installs.
type WholeFile struct {
	Path string
	Data []byte
	// Perm is the mode of a file cutover creates (default 0644); an
	// existing file keeps its mode and owner.
	Perm fs.FileMode
	// Table is how the MTA reads the file: "hash" (a postmap source; built
	// after writing and after a restore), "regexp" (a Postfix regexp
	// table), "lsearch" (Exim), "" (a plain file nothing looks up).
	Table string
	// Probes are keys that must be found in the file once built (postmap
	// -q, Exim ${lookup}); a file that builds but does not answer is not
	// left installed.
	Probes []string
	// Private: Perm and (GID >= 0) the group are forced on the file even
	// when it exists (see ManagedFile.Private).
	Private bool
	GID     int
}

// ApplyFiles installs whole files for one configured driver (target: its
// Name, e.g. "postfix-delivery") through the apply transaction: lock of
// the driver's config directory, snapshot and pending audit entry, atomic
// writes, build (postmap), validate (postfix check / exim -bV / pmta test
// config, then the probes), reload (postfix reload, pmta reload; Exim reads
// lsearch files on every use), audit; any failure restores the previous
// bytes and rebuilds. The applied split state (Current, drift) is left
// alone. action names the change in the audit log ("suppress-export").
func (c *Controller) ApplyFiles(ctx context.Context, target, action string, files []WholeFile, who Who, notes []string) (AuditEntry, error) {
	fd, err := c.fileDriver(target, files)
	if err != nil {
		return AuditEntry{}, err
	}
	cur := c.Current()
	ch := &Change{Action: action, From: cur, To: cur, Notes: notes, ctl: c, files: true}
	for _, f := range files {
		st, err := readFileState(f.Path)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("%s: %w", target, err)
		}
		perm := f.Perm
		if perm == 0 {
			perm = 0o644
		}
		mf := ManagedFile{Path: f.Path, Perm: perm, Private: f.Private}
		if f.Private && f.GID >= 0 {
			mf.SetGID, mf.GID = true, f.GID
		}
		pf := plannedFile{driver: fd, mf: mf, cur: st, data: f.Data}
		ch.planned = append(ch.planned, pf)
		ch.Files = append(ch.Files, FileChange{Driver: target, Path: f.Path, Changed: pf.changed(), Create: !st.Exists})
	}
	return c.Apply(ctx, ch, who, ApplyOptions{})
}

// fileDriver runs the build, validate and reload steps of whole files with
// the commands of a configured driver.
type fileDriver struct {
	base  Driver
	files []WholeFile
}

func (c *Controller) fileDriver(target string, files []WholeFile) (*fileDriver, error) {
	for _, d := range c.drivers {
		if d.Name() == target {
			return &fileDriver{base: d, files: files}, nil
		}
	}
	return nil, fmt.Errorf("mtactl: no driver %q configured (configured: %s)", target, strings.Join(c.Drivers(), ", "))
}

func (d *fileDriver) Name() string         { return d.base.Name() }
func (d *fileDriver) LockDir() string      { return d.base.LockDir() }
func (d *fileDriver) Files() []ManagedFile { return nil }
func (d *fileDriver) Render(RenderInput) (map[string]Managed, []string, error) {
	return nil, nil, ErrUnsupported
}

func (d *fileDriver) postfix() *postfixBase {
	switch b := d.base.(type) {
	case *postfixFront:
		return &b.postfixBase
	case *postfixDelivery:
		return &b.postfixBase
	}
	return nil
}

// remote maps a local path to the path the driver's commands see.
func (d *fileDriver) remote(p string) string {
	if pb := d.postfix(); pb != nil {
		return pb.remote(p)
	}
	if e, ok := d.base.(*eximDriver); ok {
		dir, rdir := filepath.Dir(e.cfg.Config), filepath.Dir(e.cfg.RemoteConfig)
		if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(rdir, rel)
		}
	}
	return p
}

func (d *fileDriver) Build(ctx context.Context, changed []string) error {
	pb := d.postfix()
	if pb == nil {
		return nil
	}
	for _, f := range d.files {
		if f.Table != "hash" || !slices.Contains(changed, f.Path) {
			continue
		}
		if _, err := os.Stat(f.Path); errors.Is(err, fs.ErrNotExist) {
			// restored to absent: the compiled map goes too
			os.Remove(f.Path + ".db")
			continue
		}
		if res := pb.postmap(ctx, "hash:"+pb.remote(f.Path)); res.Err != nil {
			return stepErr(d.Name(), "build", res)
		}
		if f.Private {
			// postmap gives a new .db the source's mode, but keeps an
			// existing one's: an older world-readable map stays so
			if err := privatize(f.Path+".db", f.Perm, f.GID); err != nil {
				return &StepError{Driver: d.Name(), Step: "build", Err: err}
			}
		}
	}
	return nil
}

func (d *fileDriver) Validate(ctx context.Context, _ []string) error {
	switch b := d.base.(type) {
	case *postfixFront, *postfixDelivery:
		pb := d.postfix()
		if err := pb.runLogged(ctx, "validate", pb.in.Check); err != nil {
			return err
		}
	case *eximDriver:
		if res := b.r.run(ctx, expand(b.cfg.Validate, b.vars())); res.Err != nil {
			return b.eximErr(res)
		}
	case *pmtaDriver:
		if res := b.r.run(ctx, b.cfg.Test); res.Err != nil || strings.Contains(strings.ToLower(res.Stdout+res.Stderr), "error in line") {
			return stepErr(d.Name(), "validate", res)
		}
	}
	for _, f := range d.files {
		if f.Table == "" || len(f.Probes) == 0 {
			continue
		}
		missing, argv, err := d.lookup(ctx, f.Table, f.Path, f.Probes)
		if err != nil {
			return &StepError{Driver: d.Name(), Step: "validate", Argv: argv, Err: err}
		}
		if len(missing) > 0 {
			return &StepError{Driver: d.Name(), Step: "validate", Argv: argv,
				Err: fmt.Errorf("%s does not answer for %d of %d probed keys, first %q", f.Path, len(missing), len(f.Probes), missing[0])}
		}
	}
	return nil
}

func (d *fileDriver) Reload(ctx context.Context, _ []string) (bool, error) {
	switch b := d.base.(type) {
	case *postfixFront, *postfixDelivery:
		return d.postfix().Reload(ctx, nil)
	case *pmtaDriver:
		if res := b.r.run(ctx, b.cfg.Reload); res.Err != nil {
			return false, stepErr(d.Name(), "reload", res)
		}
		return true, nil
	}
	return false, nil // Exim reads lsearch files on every lookup; demo polls
}

// eximProbeSafe: keys that can go into a -be expansion as they are.
func eximProbeSafe(k string) bool { return !strings.ContainsAny(k, "{}$\\\"' \t") }

// lookup asks the MTA's own lookup code for each key of a table and
// returns the keys it did not find, with the last command run.
func (d *fileDriver) lookup(ctx context.Context, table, path string, keys []string) (missing, argv []string, err error) {
	if pb := d.postfix(); pb != nil && (table == "hash" || table == "regexp") {
		for _, k := range keys {
			res := pb.postmap(ctx, "-q", k, table+":"+pb.remote(path))
			argv = res.Argv
			var ee interface{ ExitCode() int }
			switch {
			case res.Err == nil && strings.TrimSpace(res.Stdout) != "":
			case res.Err != nil && errors.As(res.Err, &ee) && ee.ExitCode() == 1 && strings.TrimSpace(res.Stderr) == "":
				missing = append(missing, k)
			case res.Err == nil:
				missing = append(missing, k)
			default:
				return nil, argv, fmt.Errorf("%v: %s", res.Err, res.Output())
			}
		}
		return missing, argv, nil
	}
	if e, ok := d.base.(*eximDriver); ok && table == "lsearch" {
		var probe, exprs []string
		for _, k := range keys {
			if eximProbeSafe(k) {
				probe = append(probe, k)
				exprs = append(exprs, fmt.Sprintf("${lookup{%s}lsearch{%s}{found}{missing}}", k, d.remote(path)))
			}
		}
		if len(exprs) == 0 {
			return nil, nil, nil
		}
		res := e.r.run(ctx, append(append(expand(e.cfg.Test, e.vars()), "-be"), exprs...))
		if res.Err != nil {
			return nil, res.Argv, fmt.Errorf("%v: %s", res.Err, res.Output())
		}
		got := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		for i, k := range probe {
			if at(got, i) != "found" {
				missing = append(missing, k)
			}
		}
		return missing, res.Argv, nil
	}
	return nil, nil, nil // a plain list: nothing looks it up
}

// SuppressTarget is where the suppression list goes for one driver.
type SuppressTarget struct {
	Name   string      // the driver: postfix-front, postfix-delivery, exim, pmta, demo
	Format ssup.Format // postfix, exim or pmta
	Path   string      // the file (local path)
	// Regexp is the Postfix companion regexp table for addresses a hash
	// map cannot hold (local part starting with '#'); "" for other formats.
	Regexp string
	// Rules is the PowerMTA pattern-list rule file (suppress_pattern_list),
	// "" when not configured; RulesName, RulesVMTA and RulesMax are its
	// list name, VirtualMTA and size limit.
	Rules     string
	RulesName string
	RulesVMTA string
	RulesMax  int
}

// SuppressTarget resolves a target: name "" is the only configured driver;
// path "" is the default file in the driver's config directory
// (cutover_suppressed for Postfix, cutover-suppressed for Exim,
// cutover-suppressed.txt for PowerMTA and the demo).
func (c *Controller) SuppressTarget(name, path string) (SuppressTarget, error) {
	if name == "" {
		if len(c.drivers) != 1 {
			return SuppressTarget{}, fmt.Errorf("several MTA drivers are configured (%s): name the target", strings.Join(c.Drivers(), ", "))
		}
		name = c.drivers[0].Name()
	}
	var drv Driver
	for _, d := range c.drivers {
		if d.Name() == name {
			drv = d
		}
	}
	if drv == nil {
		return SuppressTarget{}, fmt.Errorf("no MTA driver %q configured (configured: %s)", name, strings.Join(c.Drivers(), ", "))
	}
	t := SuppressTarget{Name: name}
	var def string
	switch d := drv.(type) {
	case *postfixFront, *postfixDelivery:
		t.Format, def = ssup.FormatPostfix, filepath.Join(d.LockDir(), "cutover_suppressed")
	case *eximDriver:
		t.Format, def = ssup.FormatExim, filepath.Join(filepath.Dir(d.cfg.Config), "cutover-suppressed")
	case *pmtaDriver:
		t.Format, def = ssup.FormatPMTA, filepath.Join(filepath.Dir(d.cfg.Config), "cutover-suppressed.txt")
		if d.cfg.SuppressPatternList != "" {
			t.Rules, t.RulesName, t.RulesVMTA, t.RulesMax = d.cfg.SuppressPatternList, d.cfg.SuppressPatternName, d.cfg.SuppressVMTA, d.cfg.SuppressPatternMax
		}
	case *demoDriver:
		t.Format, def = ssup.FormatPMTA, filepath.Join(filepath.Dir(d.cfg.File), "cutover-suppressed.txt")
	default:
		return SuppressTarget{}, fmt.Errorf("%s: %w", name, ErrUnsupported)
	}
	t.Path = path
	if t.Path == "" {
		t.Path = def
	}
	if t.Format == ssup.FormatPostfix {
		t.Regexp = t.Path + ".regexp"
	}
	return t, nil
}

// SuppressPerm is the mode of the exported suppression files: they hold
// personal data (issue 13 point 12).
const SuppressPerm fs.FileMode = 0o640

// suppressGroup resolves the group the target MTA reads its suppression
// map through: the configured suppress_group (which must exist), else the
// MTA's usual group, else the group of the MTA's own config file (the MTA
// reads that one). -1 = leave the creator's group (the demo).
func (c *Controller) suppressGroup(target string) (gid int, note string, err error) {
	var conf, setting string
	var defaults []string
	for _, d := range c.drivers {
		if d.Name() != target {
			continue
		}
		switch d := d.(type) {
		case *postfixFront:
			conf, setting, defaults = d.in.MainCF, d.in.SuppressGroup, []string{"postfix"}
		case *postfixDelivery:
			conf, setting, defaults = d.in.MainCF, d.in.SuppressGroup, []string{"postfix"}
		case *eximDriver:
			conf, setting, defaults = d.cfg.Config, d.cfg.SuppressGroup, []string{"Debian-exim", "exim"}
		case *pmtaDriver:
			conf, setting, defaults = d.cfg.Config, d.cfg.SuppressGroup, []string{"pmta"}
		default:
			return -1, "", nil
		}
	}
	if setting != "" {
		g, err := lookupGroup(setting)
		if err != nil {
			return -1, "", fmt.Errorf("%s: suppress_group %q: %w", target, setting, err)
		}
		return g, fmt.Sprintf(", group %s", setting), nil
	}
	for _, name := range defaults {
		if g, err := lookupGroup(name); err == nil {
			return g, fmt.Sprintf(", group %s", name), nil
		}
	}
	fi, err := os.Stat(conf)
	if err != nil {
		return -1, "", fmt.Errorf("%s: no group %s here and %v; set suppress_group (the MTA's group: the map is mode 0640)", target, strings.Join(defaults, " or "), err)
	}
	g := -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		g = int(st.Gid)
	}
	return g, fmt.Sprintf(", group %d of %s (no group %s here; set suppress_group)", g, conf, strings.Join(defaults, " or ")), nil
}

// privatize sets a built file's mode and group (gid -1: keep).
func privatize(p string, perm fs.FileMode, gid int) error {
	if err := os.Chown(p, -1, gid); err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(g.Gid)
}

// SuppressExportOptions configure ExportSuppressions.
type SuppressExportOptions struct {
	Target        string // driver name ("" = the only one)
	Path          string // "" = the default file of the target
	IncludeBlocks bool
	RejectText    string
	Probes        int    // keys probed through the MTA's lookup after the build (default 20)
	Seed          uint64 // probe sample; 0 = from the clock
}

// SuppressExport is the outcome of ExportSuppressions.
type SuppressExport struct {
	Target    SuppressTarget
	Result    ssup.ExportResult
	Entry     AuditEntry // zero when Unchanged
	Unchanged bool       // the installed files already held these bytes
	Rules     int        // rcpt-to rules written to Target.Rules (PowerMTA)
}

// ExportSuppressions writes the log's suppressed addresses in the target's
// format and installs them with ApplyFiles (a probe sample of the keys must
// be found by the MTA's own lookup before the change is kept).
func (c *Controller) ExportSuppressions(ctx context.Context, log *ssup.Log, opt SuppressExportOptions, who Who) (SuppressExport, error) {
	t, err := c.SuppressTarget(opt.Target, opt.Path)
	if err != nil {
		return SuppressExport{}, err
	}
	out := SuppressExport{Target: t}
	var main, rx bytes.Buffer
	eo := ssup.ExportOptions{Format: t.Format, IncludeBlocks: opt.IncludeBlocks, RejectText: opt.RejectText}
	if t.Format == ssup.FormatPostfix {
		eo.PostfixRegexp = &rx
	}
	if out.Result, err = log.Export(&main, eo); err != nil {
		return out, err
	}
	n := opt.Probes
	if n <= 0 {
		n = 20
	}
	seed := opt.Seed
	if seed == 0 {
		seed = uint64(c.now().UnixNano())
	}
	sample := ssup.Sample(out.Result.Addresses, n, seed)
	gid, gnote, err := c.suppressGroup(t.Name)
	if err != nil {
		return out, err
	}
	// Personal data: never world-readable; the MTA reads it by group.
	files := []WholeFile{{Path: t.Path, Data: main.Bytes(), Perm: SuppressPerm, Private: true, GID: gid}}
	switch t.Format {
	case ssup.FormatPostfix:
		files[0].Table = "hash"
		var rxProbes []string
		for _, a := range sample {
			if k := ssup.PostfixKey(a); strings.HasPrefix(k, "#") {
				rxProbes = append(rxProbes, a)
			} else {
				files[0].Probes = append(files[0].Probes, k)
			}
		}
		files = append(files, WholeFile{Path: t.Regexp, Data: rx.Bytes(), Perm: SuppressPerm, Private: true, GID: gid, Table: "regexp", Probes: rxProbes})
	case ssup.FormatExim:
		files[0].Table, files[0].Probes = "lsearch", sample
	}
	if t.Rules != "" {
		// in the same ApplyFiles: a failed pmta test config or reload
		// restores the list and the rules together
		if n := len(out.Result.Addresses); n > t.RulesMax {
			return out, fmt.Errorf("pmta: %d suppressed addresses exceed suppress_pattern_max %d for the rule file %s (PowerMTA tries its rules one by one); nothing was installed, not even the injector list: raise suppress_pattern_max, or unset suppress_pattern_list and rely on the injector list, which has no limit", n, t.RulesMax, t.Rules)
		}
		var rb bytes.Buffer
		if err := ssup.WritePMTAPatternList(&rb, out.Result.Addresses, ssup.PMTAPatternOptions{Name: t.RulesName, VMTA: t.RulesVMTA, LogSeq: out.Result.LastSeq}); err != nil {
			return out, err
		}
		files = append(files, WholeFile{Path: t.Rules, Data: rb.Bytes(), Perm: SuppressPerm, Private: true, GID: gid})
		out.Rules = len(out.Result.Addresses)
	}
	unchanged := true
	for _, f := range files {
		st, err := readFileState(f.Path)
		if err != nil {
			return out, err
		}
		if !st.Exists || !bytes.Equal(st.Data, f.Data) || st.Mode != f.Perm || (f.GID >= 0 && st.GID != f.GID) {
			unchanged = false
		}
	}
	if t.Format == ssup.FormatPostfix && unchanged {
		// the compiled map must be at least as new as its source
		src, err1 := os.Stat(t.Path)
		db, err2 := os.Stat(t.Path + ".db")
		unchanged = err1 == nil && err2 == nil && !db.ModTime().Before(src.ModTime())
		if !unchanged {
			// rewrite the same bytes: the transaction rebuilds the map
			fd, err := c.fileDriver(t.Name, files)
			if err != nil {
				return out, err
			}
			if err := fd.Build(ctx, []string{t.Path}); err != nil {
				return out, err
			}
			unchanged = true
		}
	}
	if unchanged {
		out.Unchanged = true
		return out, nil
	}
	note := fmt.Sprintf("suppression export: %d addresses (log seq %d) to %s, sha256 %s, mode %04o%s", out.Result.Written, out.Result.LastSeq, t.Path, out.Result.SHA256, SuppressPerm, gnote)
	if n := len(out.Result.Refused); n > 0 {
		note += fmt.Sprintf("; %d not literal addresses left out (shell or pattern syntax), first %q", n, out.Result.Refused[0])
	}
	if t.Rules != "" {
		note += fmt.Sprintf("; %d rcpt-to rules to %s", out.Rules, t.Rules)
	}
	out.Entry, err = c.ApplyFiles(ctx, t.Name, "suppress-export", files, who, []string{note})
	return out, err
}

// SuppressVerifyOptions configure VerifySuppressions.
type SuppressVerifyOptions struct {
	Target        string
	Path          string
	IncludeBlocks bool
	// Probes is the sample of addresses looked up through the MTA's own
	// lookup code (postmap -q, Exim ${lookup}); default 50.
	Probes int
	// SMTP is the NEW MTA's SMTP endpoint (host:port); "" = no RCPT TO
	// probes. SMTPProbes suppressed addresses must be refused (5xx) and as
	// many made-up addresses next to them accepted; default 10.
	SMTP       string
	SMTPProbes int
	HELO       string // default "cutover-verify.invalid"
	MailFrom   string // default "" (the null sender)
	Seed       uint64
	Timeout    time.Duration // per SMTP connection; default 30s
}

// SuppressVerification is the outcome of VerifySuppressions, kept per
// target in the suppress_verify bucket for the cockpit.
type SuppressVerification struct {
	Target string    `json:"target"`
	Path   string    `json:"path"`
	Time   time.Time `json:"time"`
	LogSeq uint64    `json:"log_seq"` // log position verified
	Count  int       `json:"count"`   // addresses the log says must be suppressed
	// InTarget is how many addresses the installed file holds.
	InTarget     int      `json:"in_target"`
	MissingCount int      `json:"missing_count"`
	Missing      []string `json:"missing,omitempty"` // stored clipped to 100
	ExtraCount   int      `json:"extra_count"`
	Extra        []string `json:"extra,omitempty"`
	// Lookup probes through the MTA's lookup code.
	LookupProbes  int      `json:"lookup_probes"`
	LookupMissing []string `json:"lookup_missing,omitempty"`
	// RCPT TO probes.
	SMTP            string   `json:"smtp,omitempty"`
	SMTPRefused     int      `json:"smtp_refused"`               // suppressed addresses refused, as they must be
	SMTPNotRefused  []string `json:"smtp_not_refused,omitempty"` // suppressed addresses the MTA did not refuse: "addr: 250 ..."
	SMTPAccepted    int      `json:"smtp_accepted"`              // other addresses accepted, as they must be
	SMTPNotAccepted []string `json:"smtp_not_accepted,omitempty"`
	SMTPSkipped     string   `json:"smtp_skipped,omitempty"` // why no probes ran although an endpoint was given
	// The PowerMTA rule file (suppress_pattern_list), read back: every
	// suppressed address needs exactly one anchored literal rule to the
	// configured VirtualMTA, and no other address may have one (PowerMTA
	// would discard its mail).
	Rules          string   `json:"rules,omitempty"`
	RulesCount     int      `json:"rules_count,omitempty"` // rules that are anchored literal addresses
	RulesMissing   []string `json:"rules_missing,omitempty"`
	RulesExtra     []string `json:"rules_extra,omitempty"`
	RulesDuplicate []string `json:"rules_duplicate,omitempty"`
	RulesBad       []string `json:"rules_bad,omitempty"` // lines that are no such rule, another list name or VirtualMTA
	Problems       []string `json:"problems,omitempty"`
	// Refused are log addresses with shell or pattern syntax, never
	// exported to an MTA (model.CheckLiteralAddress); not in Count.
	Refused []string `json:"refused,omitempty"`
	OK      bool     `json:"ok"`
}

// Stale reports whether a verification no longer proves the log: new
// suppressions were logged since, or it is older than maxAge.
func (v *SuppressVerification) Stale(lastSeq uint64, now time.Time, maxAge time.Duration) bool {
	return v.LogSeq != lastSeq || (maxAge > 0 && now.Sub(v.Time) > maxAge)
}

// VerifySuppressions proves that the target suppresses every address of
// the log: the full set of the installed file (read as the MTA reads it)
// against the log's set, lookups of a sample through the MTA's own lookup
// code, and, with an SMTP endpoint, RCPT TO probes (MAIL, RCPT, RSET; never
// DATA). It returns an error only when it could not check; a failed check
// is a result with OK false.
func (c *Controller) VerifySuppressions(ctx context.Context, log *ssup.Log, opt SuppressVerifyOptions) (*SuppressVerification, error) {
	t, err := c.SuppressTarget(opt.Target, opt.Path)
	if err != nil {
		return nil, err
	}
	skipped := ""
	if t.Format == ssup.FormatPMTA && opt.SMTP != "" {
		// PowerMTA has no suppression store: it accepts RCPT TO for every
		// recipient and the rule file (if any) discards after the fact, so
		// a probe would report a failure that is not one.
		opt.SMTP = ""
		skipped = "PowerMTA accepts RCPT TO for suppressed recipients (the injector filters; the rule file routes them to a discard VirtualMTA), so RCPT probes prove nothing here"
	}
	v := &SuppressVerification{Target: t.Name, Path: t.Path, Time: c.now().UTC(), SMTP: opt.SMTP, SMTPSkipped: skipped}
	want, err := log.Set(opt.IncludeBlocks)
	if err != nil {
		return nil, err
	}
	// Not literal addresses are never exported (ExportResult.Refused):
	// neither expected in the file nor looked up or probed.
	want = slices.DeleteFunc(want, func(a string) bool {
		if model.CheckLiteralAddress(a) != nil {
			v.Refused = append(v.Refused, a)
			return true
		}
		return false
	})
	v.LogSeq, v.Count = log.LastSeq(), len(want)
	have, err := readTarget(t.Format, t.Path)
	if err != nil {
		return nil, err
	}
	if t.Regexp != "" {
		rx, err := readTarget(ssup.FormatPostfixRegexp, t.Regexp)
		if err != nil {
			return nil, err
		}
		have = append(have, rx...)
	}
	v.InTarget = len(have)
	v.Missing, v.Extra = ssup.Verify(want, have)
	v.MissingCount, v.ExtraCount = len(v.Missing), len(v.Extra)
	if v.MissingCount > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d addresses of the log are missing from %s, first %s", v.MissingCount, t.Path, v.Missing[0]))
	}
	if t.Rules != "" {
		if err := verifyRules(t, want, v); err != nil {
			return nil, err
		}
	}

	seed := opt.Seed
	if seed == 0 {
		seed = uint64(c.now().UnixNano())
	}
	n := opt.Probes
	if n <= 0 {
		n = 50
	}
	fd, err := c.fileDriver(t.Name, nil)
	if err != nil {
		return nil, err
	}
	sample := ssup.Sample(want, n, seed)
	var hashKeys, rxKeys []string
	for _, a := range sample {
		switch k := ssup.PostfixKey(a); {
		case t.Format != ssup.FormatPostfix:
			hashKeys = append(hashKeys, a)
		case strings.HasPrefix(k, "#"):
			rxKeys = append(rxKeys, a)
		default:
			hashKeys = append(hashKeys, k)
		}
	}
	table := map[ssup.Format]string{ssup.FormatPostfix: "hash", ssup.FormatExim: "lsearch"}[t.Format]
	if table != "" {
		for _, p := range []struct {
			table, path string
			keys        []string
		}{{table, t.Path, hashKeys}, {"regexp", t.Regexp, rxKeys}} {
			if len(p.keys) == 0 || p.path == "" {
				continue
			}
			missing, _, err := fd.lookup(ctx, p.table, p.path, p.keys)
			if err != nil {
				v.Problems = append(v.Problems, fmt.Sprintf("lookup probe: %v", err))
				continue
			}
			v.LookupProbes += len(p.keys)
			v.LookupMissing = append(v.LookupMissing, missing...)
		}
		if len(v.LookupMissing) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("the MTA's lookup does not find %d of %d probed addresses, first %s", len(v.LookupMissing), v.LookupProbes, v.LookupMissing[0]))
		}
	}

	if opt.SMTP != "" {
		m := opt.SMTPProbes
		if m <= 0 {
			m = 10
		}
		bad := ssup.Sample(want, m, seed+1)
		var good []string
		for i, a := range bad {
			_, dom, _ := strings.Cut(a, "@")
			good = append(good, fmt.Sprintf("cutover-probe-%x-%d@%s", seed&0xffffffff, i, dom))
		}
		if len(good) == 0 {
			good = []string{fmt.Sprintf("cutover-probe-%x@example.com", seed&0xffffffff)}
		}
		slices.Sort(good)
		good = slices.DeleteFunc(good, func(a string) bool { _, in := slices.BinarySearch(want, a); return in })
		if err := rcptProbes(ctx, opt, bad, good, v); err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("SMTP probes to %s: %v", opt.SMTP, err))
		}
		if len(v.SMTPNotRefused) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("%d suppressed addresses were not refused at RCPT TO by %s, first %s", len(v.SMTPNotRefused), opt.SMTP, v.SMTPNotRefused[0]))
		}
		if len(v.SMTPNotAccepted) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("%d addresses that are not suppressed were not accepted by %s (the probe proves nothing), first %s", len(v.SMTPNotAccepted), opt.SMTP, v.SMTPNotAccepted[0]))
		}
	}
	v.OK = len(v.Problems) == 0
	return v, nil
}

// verifyRules checks the PowerMTA rule file against the log's set.
func verifyRules(t SuppressTarget, want []string, v *SuppressVerification) error {
	v.Rules = t.Rules
	var pl ssup.PMTAPatternList
	switch fh, err := os.Open(t.Rules); {
	case errors.Is(err, fs.ErrNotExist):
		v.RulesBad = append(v.RulesBad, "the file does not exist")
	case err != nil:
		return err
	default:
		pl, err = ssup.ParsePMTAPatternList(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", t.Rules, err)
		}
	}
	v.RulesBad = append(v.RulesBad, pl.Bad...)
	if len(pl.Names) == 1 && pl.Names[0] != t.RulesName || len(pl.Names) > 1 {
		v.RulesBad = append(v.RulesBad, fmt.Sprintf("pattern lists %q, want one named %q (suppress_pattern_name, as the <source> names it)", pl.Names, t.RulesName))
	}
	var have []string
	seen := map[string]bool{}
	for _, r := range pl.Rules {
		if r.VMTA != t.RulesVMTA {
			v.RulesBad = append(v.RulesBad, fmt.Sprintf("line %d: %s goes to virtual-mta %s, not %s", r.Line, r.Addr, r.VMTA, t.RulesVMTA))
			continue
		}
		if seen[r.Addr] {
			v.RulesDuplicate = append(v.RulesDuplicate, fmt.Sprintf("line %d: %s", r.Line, r.Addr))
			continue
		}
		seen[r.Addr] = true
		have = append(have, r.Addr)
	}
	v.RulesCount = len(have)
	v.RulesMissing, v.RulesExtra = ssup.Verify(want, have)
	if n := len(v.RulesMissing); n > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d addresses of the log have no rule in %s, first %s", n, t.Rules, v.RulesMissing[0]))
	}
	if n := len(v.RulesExtra); n > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d rules in %s discard addresses the log does not suppress, first %s", n, t.Rules, v.RulesExtra[0]))
	}
	if n := len(v.RulesDuplicate); n > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d duplicate rules in %s, first %s", n, t.Rules, v.RulesDuplicate[0]))
	}
	if n := len(v.RulesBad); n > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d lines of %s are not cutover's rules, first %s", n, t.Rules, v.RulesBad[0]))
	}
	return nil
}

func readTarget(f ssup.Format, path string) ([]string, error) {
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // nothing installed: every address is missing
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ssup.ParseTarget(f, fh)
}

// rcptProbes opens one SMTP session and, per address, sends MAIL FROM,
// RCPT TO and RSET (never DATA).
func rcptProbes(ctx context.Context, opt SuppressVerifyOptions, suppressed, other []string, v *SuppressVerification) error {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dl := net.Dialer{Timeout: timeout}
	conn, err := dl.DialContext(ctx, "tcp", opt.SMTP)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	host, _, _ := net.SplitHostPort(opt.SMTP)
	cl, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	helo := opt.HELO
	if helo == "" {
		helo = "cutover-verify.invalid"
	}
	if err := cl.Hello(helo); err != nil {
		return err
	}
	probe := func(addr string) (code int, msg string, err error) {
		if err := cl.Mail(opt.MailFrom); err != nil {
			return 0, "", fmt.Errorf("MAIL FROM:<%s>: %w", opt.MailFrom, err)
		}
		rerr := cl.Rcpt(addr)
		if err := cl.Reset(); err != nil {
			return 0, "", fmt.Errorf("RSET: %w", err)
		}
		if rerr == nil {
			return 250, "accepted", nil
		}
		var te *textproto.Error
		if errors.As(rerr, &te) {
			return te.Code, te.Msg, nil
		}
		return 0, "", rerr
	}
	for _, a := range suppressed {
		code, msg, err := probe(a)
		if err != nil {
			return err
		}
		if code >= 500 {
			v.SMTPRefused++
		} else {
			v.SMTPNotRefused = append(v.SMTPNotRefused, fmt.Sprintf("%s: %d %s", a, code, msg))
		}
	}
	for _, a := range other {
		code, msg, err := probe(a)
		if err != nil {
			return err
		}
		if code >= 200 && code < 300 {
			v.SMTPAccepted++
		} else {
			v.SMTPNotAccepted = append(v.SMTPNotAccepted, fmt.Sprintf("%s: %d %s", a, code, msg))
		}
	}
	cl.Quit()
	return nil
}

// bucketSuppressVerify holds the last verification per target (JSON).
var bucketSuppressVerify = []byte("suppress_verify")

// RecordSuppressVerification keeps v as its target's verification state
// (the address lists clipped to 100).
func RecordSuppressVerification(db *state.DB, v *SuppressVerification) error {
	r := *v
	clip := func(s []string) []string {
		if len(s) > 100 {
			return s[:100]
		}
		return s
	}
	r.Missing, r.Extra, r.LookupMissing = clip(r.Missing), clip(r.Extra), clip(r.LookupMissing)
	r.SMTPNotRefused, r.SMTPNotAccepted = clip(r.SMTPNotRefused), clip(r.SMTPNotAccepted)
	r.RulesMissing, r.RulesExtra, r.RulesDuplicate, r.RulesBad = clip(r.RulesMissing), clip(r.RulesExtra), clip(r.RulesDuplicate), clip(r.RulesBad)
	b, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bucketSuppressVerify)
		if err != nil {
			return err
		}
		return bk.Put([]byte(r.Target), b)
	})
}

// SuppressVerifications returns the last verification of every target,
// sorted by target.
func SuppressVerifications(db *state.DB) ([]SuppressVerification, error) {
	var out []SuppressVerification
	err := db.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bucketSuppressVerify)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, val []byte) error {
			var v SuppressVerification
			if err := json.Unmarshal(val, &v); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}
