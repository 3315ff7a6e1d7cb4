package dnsq

import (
	"context"
	"crypto"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"cutover/model"
	"cutover/model/auth"
	"cutover/state"
	"cutover/state/dnsobs"
)

// Config is the [dns] section (wave2 §5.2).
type Config struct {
	Domains      []string     `toml:"domains"`   // RFC5322.From domains
	MailFrom     MailFromPair `toml:"mail_from"` // RFC5321.MailFrom domains
	HELO         HELONames    `toml:"helo"`
	NewIPs       []string     `toml:"new_ips"`
	OldSPF       []string     `toml:"old_spf"` // terms that authorize OLD today, e.g. include:sendgrid.net
	NewSelector  string       `toml:"new_selector"`
	NewDKIMKey   string       `toml:"new_dkim_key"` // PEM private key the NEW MTA signs with
	OldSelectors []string     `toml:"old_selectors"`
	TTLLow       string       `toml:"ttl_low"` // pre-staging TTL, default 300s
	DNSBLZones   []string     `toml:"dnsbl_zones"`
	Server       string       `toml:"server"` // HOST:PORT: every query there (lab, internal resolver)
}

// MailFromPair is the OLD and NEW MAIL FROM domain.
type MailFromPair struct {
	Old string `toml:"old"`
	New string `toml:"new"`
}

// HELONames are NEW's HELO names.
type HELONames struct {
	New []string `toml:"new"`
}

// Configured reports whether the section says anything.
func (c Config) Configured() bool { return len(c.Domains) > 0 || len(c.NewIPs) > 0 }

// TTLLowDuration parses ttl_low (default 300 s).
func (c Config) TTLLowDuration() (time.Duration, error) {
	if c.TTLLow == "" {
		return 300 * time.Second, nil
	}
	d, err := time.ParseDuration(c.TTLLow)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("[dns] ttl_low %q: want a duration such as 300s", c.TTLLow)
	}
	return d, nil
}

// IPs parses new_ips.
func (c Config) IPs() ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range c.NewIPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("[dns] new_ips: %q is not an IP address", s)
		}
		out = append(out, ip.Unmap())
	}
	return out, nil
}

// LoadKey reads new_dkim_key (nil, nil when not configured).
func (c Config) LoadKey() (crypto.Signer, error) {
	if c.NewDKIMKey == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.NewDKIMKey)
	if err != nil {
		return nil, fmt.Errorf("[dns] new_dkim_key: %w", err)
	}
	k, err := auth.LoadPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("[dns] new_dkim_key %s: %w", c.NewDKIMKey, err)
	}
	return k, nil
}

// Validate checks the section before any query.
func (c Config) Validate() error {
	if len(c.Domains) == 0 {
		return fmt.Errorf("[dns] domains is empty")
	}
	if _, err := c.IPs(); err != nil {
		return err
	}
	if _, err := c.TTLLowDuration(); err != nil {
		return err
	}
	return nil
}

// SPFNames are the MAIL FROM names whose SPF record authorizes NEW: NEW's
// own MAIL FROM domain if any, else each From domain.
func (c Config) SPFNames() []string {
	if c.MailFrom.New != "" {
		return []string{auth.Canon(c.MailFrom.New)}
	}
	var out []string
	for _, d := range c.Domains {
		out = append(out, auth.Canon(d))
	}
	return out
}

// Checks are the groups `dns check --only` selects.
var Checks = []string{"spf", "dkim", "dmarc", "ptr", "ttl", "dnsbl"}

// Options of a check run.
type Options struct {
	Only []string  // empty: all
	DB   *state.DB // TTL observations are stored and read here (nil: this run only)
	Now  func() time.Time
}

// Report is `dns check`'s result (docs/dns-check.md documents the JSON).
type Report struct {
	Version  int                 `json:"version"`
	Checked  time.Time           `json:"checked_at"`
	State    string              `json:"state"` // OK, WARN, CRIT, UNKNOWN
	Exit     int                 `json:"exit"`  // 0 ok, 1 warn, 2 crit, 3 could not tell
	Findings auth.Findings       `json:"findings"`
	SPF      []*auth.SPFReport   `json:"spf,omitempty"`
	DKIM     []*auth.DKIMReport  `json:"dkim,omitempty"`
	DMARC    []*auth.DMARCReport `json:"dmarc,omitempty"`
	DNSBL    []auth.Listing      `json:"dnsbl,omitempty"`
	TTL      []auth.TTLStatus    `json:"ttl,omitempty"`
	// Blocked is true while the plan must keep NEW's ratio at 0 (DMARC
	// enforcement and NEW's DKIM not passing aligned).
	Blocked bool `json:"ratio_blocked"`
}

// StateWord is the one word of a severity for headers and status lines.
func StateWord(s auth.Severity) string {
	switch s {
	case auth.OK, auth.Info:
		return "OK"
	case auth.Warn:
		return "WARN"
	case auth.Crit:
		return "CRIT"
	}
	return "UNKNOWN"
}

// ExitCode maps a severity to `status`'s exit codes.
func ExitCode(s auth.Severity) int {
	switch s {
	case auth.OK, auth.Info:
		return 0
	case auth.Warn:
		return 1
	case auth.Crit:
		return 2
	}
	return 3
}

func want(only []string, c string) bool {
	if len(only) == 0 {
		return true
	}
	for _, o := range only {
		if strings.EqualFold(strings.TrimSpace(o), c) {
			return true
		}
	}
	return false
}

// Check runs every check of the [dns] section through c.
func Check(ctx context.Context, c *Client, cfg Config, opt Options) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, o := range opt.Only {
		if !want(Checks, o) {
			return nil, fmt.Errorf("--only %q: want one of %s", o, strings.Join(Checks, ", "))
		}
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	ips, _ := cfg.IPs()
	rep := &Report{Version: 1, Checked: now().UTC()}
	add := func(fs ...auth.Finding) { rep.Findings = append(rep.Findings, fs...) }

	if want(opt.Only, "spf") {
		for _, name := range cfg.SPFNames() {
			s := auth.AnalyzeSPF(ctx, c, name)
			s.EvaluateIPs(ctx, c, "postmaster@"+name, ips, true)
			rep.SPF = append(rep.SPF, s)
			add(s.Findings...)
		}
		// OLD's source IPs seen in the logs (last 7 days) must keep passing
		// for OLD's MAIL FROM while both sides send.
		if ev := oldIPEvals(ctx, c, cfg, opt.DB, now()); len(ev) > 0 {
			add(ev...)
		}
		if opt.DB != nil {
			add(flattenDrift(ctx, c, opt.DB)...)
		}
		if old := auth.Canon(cfg.MailFrom.Old); old != "" && len(cfg.OldSPF) > 0 {
			s := auth.AnalyzeSPF(ctx, c, old)
			rec, _ := auth.ParseSPF(s.Record)
			for _, term := range cfg.OldSPF {
				found := false
				for _, t := range rec.Terms {
					found = found || strings.EqualFold(strings.TrimPrefix(t.Raw, "+"), strings.TrimPrefix(term, "+"))
				}
				if !found {
					s.Findings = append(s.Findings, auth.Finding{Severity: auth.Warn, Check: "spf", Name: old, Record: s.Record,
						Message: fmt.Sprintf("old_spf term %q is not in OLD's record: what authorizes OLD today?", term)})
				}
			}
			s.Severity = s.Findings.Worst()
			rep.SPF = append(rep.SPF, s)
			add(s.Findings...)
		}
	}
	dkimPass := map[string]bool{}
	if want(opt.Only, "dkim") || want(opt.Only, "dmarc") {
		key, err := cfg.LoadKey()
		if err != nil {
			return nil, err
		}
		for _, d := range cfg.Domains {
			if cfg.NewSelector == "" {
				add(auth.Finding{Severity: auth.Warn, Check: "dkim", Name: d, Message: "[dns] new_selector is not set"})
				continue
			}
			var pub crypto.PublicKey
			if key != nil {
				pub = key.Public()
			}
			r := auth.CheckDKIM(ctx, c, d, cfg.NewSelector, pub, true)
			if key != nil && r.Severity != auth.Unknown && r.Record != "" {
				res, err := TestSignature(ctx, c, auth.Canon(d), cfg.NewSelector, key, now())
				switch {
				case res == "pass":
					dkimPass[auth.Canon(d)] = true
					r.Findings = append(r.Findings, auth.Finding{Severity: auth.OK, Check: "dkim", Name: r.Name, Message: "test signature d=" + auth.Canon(d) + " s=" + cfg.NewSelector + " verifies through DNS (aligned with From)"})
				case res == "temperror":
					r.Findings = append(r.Findings, auth.Finding{Severity: auth.Unknown, Check: "dkim", Name: r.Name, Message: fmt.Sprintf("test signature: %v", err)})
				default:
					r.Findings = append(r.Findings, auth.Finding{Severity: auth.Crit, Check: "dkim", Name: r.Name, Message: fmt.Sprintf("test signature does not verify: %v", err)})
				}
				r.Severity = r.Findings.Worst()
			} else if key == nil {
				r.Findings = append(r.Findings, auth.Finding{Severity: auth.Warn, Check: "dkim", Name: r.Name, Message: "[dns] new_dkim_key is not set: the published key cannot be compared nor a test signature made"})
				r.Severity = r.Findings.Worst()
			}
			if want(opt.Only, "dkim") {
				rep.DKIM = append(rep.DKIM, r)
				add(r.Findings...)
			}
			for _, sel := range cfg.OldSelectors {
				o := auth.CheckDKIM(ctx, c, d, sel, nil, false)
				if want(opt.Only, "dkim") {
					rep.DKIM = append(rep.DKIM, o)
					add(o.Findings...)
				}
			}
		}
	}
	if want(opt.Only, "dmarc") {
		for _, d := range cfg.Domains {
			r := auth.CheckDMARC(ctx, c, d, OrgDomain)
			if r.Record != nil {
				blocked, f, _ := auth.DMARCGate(r.Record, dkimPass[auth.Canon(d)], false)
				f.Name = r.Name
				r.Findings = append(r.Findings, f)
				rep.Blocked = rep.Blocked || blocked
				if mf := cfg.MailFrom.New; mf != "" && !auth.Aligned(mf, d, r.Record.ASPF == "s", OrgDomain) {
					r.Findings = append(r.Findings, auth.Finding{Severity: auth.Warn, Check: "dmarc", Name: r.Name,
						Message: fmt.Sprintf("NEW's MAIL FROM %s is not SPF-aligned with %s (aspf=%s): DMARC rests on DKIM alone", mf, d, r.Record.ASPF)})
				}
				r.Severity = r.Findings.Worst()
			}
			rep.DMARC = append(rep.DMARC, r)
			add(r.Findings...)
		}
	}
	if want(opt.Only, "ptr") {
		for _, ip := range ips {
			add(auth.CheckPTR(ctx, c, ip, cfg.HELO.New)...)
		}
		for _, h := range cfg.HELO.New {
			add(auth.CheckHELO(ctx, c, h, ips))
		}
	}
	if want(opt.Only, "dnsbl") {
		for _, ip := range ips {
			for _, z := range cfg.DNSBLZones {
				l := auth.CheckDNSBL(ctx, c, ip, z)
				rep.DNSBL = append(rep.DNSBL, l)
				msg := fmt.Sprintf("%s on %s: %s", l.IP, l.Zone, l.Status)
				if l.Meaning != "" {
					msg += " (" + l.Meaning + ")"
				}
				add(auth.Finding{Severity: l.Severity(), Check: "dnsbl", Name: l.Zone, Message: msg})
			}
		}
	}
	if want(opt.Only, "ttl") {
		low, _ := cfg.TTLLowDuration()
		for _, name := range cfg.SPFNames() {
			st, err := ObserveTTL(ctx, c, opt.DB, name, auth.TypeTXT, low, now())
			if err != nil {
				add(auth.Finding{Severity: auth.Unknown, Check: "ttl", Name: name, Message: err.Error()})
				continue
			}
			rep.TTL = append(rep.TTL, st)
			add(st.Findings...)
		}
	}
	sev := rep.Findings.Worst()
	rep.State, rep.Exit = StateWord(sev), ExitCode(sev)
	return rep, nil
}

// ObserveTTL takes one round of observations of name at every authoritative
// server, stores it (when db is set) and evaluates all stored rounds.
func ObserveTTL(ctx context.Context, c *Client, db *state.DB, name string, t auth.Type, low time.Duration, now time.Time) (auth.TTLStatus, error) {
	obs, err := c.Observe(ctx, name, t, now)
	if err != nil {
		return auth.TTLStatus{}, err
	}
	all := obs
	if db != nil && !db.ReadOnly() {
		if err := dnsobs.Put(db, name, t.String(), obs, c.Server != ""); err != nil {
			return auth.TTLStatus{}, err
		}
	}
	if db != nil {
		stored, _, err := dnsobs.Load(db, name, t.String())
		if err != nil {
			return auth.TTLStatus{}, err
		}
		if db.ReadOnly() {
			stored = append(stored, obs...)
		}
		all = stored
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].At.Before(all[j].At) })
	return auth.EvalTTL(name, t.String(), all, low, now), nil
}

// maxOldIPs bounds the OLD IPs evaluated per check (the busiest first).
const maxOldIPs = 20

// oldIPEvals evaluates the OLD side's source IPs from the database against
// OLD's MAIL FROM domain (or each From domain): a receiver's result per IP.
func oldIPEvals(ctx context.Context, c *Client, cfg Config, db *state.DB, now time.Time) auth.Findings {
	if db == nil {
		return nil
	}
	rows, err := db.Breakdown("", now.Add(-7*24*time.Hour), time.Time{})
	if err != nil {
		return auth.Findings{{Severity: auth.Unknown, Check: "spf", Message: "OLD source IPs: " + err.Error()}}
	}
	type ipc struct {
		ip netip.Addr
		n  uint64
	}
	var ips []ipc
	for _, r := range rows {
		if r.Side != model.SideOld || r.Dim != state.DimIP {
			continue
		}
		if ip, err := netip.ParseAddr(r.Value); err == nil {
			ips = append(ips, ipc{ip.Unmap(), r.Counts.Total()})
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].n > ips[j].n })
	if len(ips) > maxOldIPs {
		ips = ips[:maxOldIPs]
	}
	names := []string{auth.Canon(cfg.MailFrom.Old)}
	if names[0] == "" {
		names = nil
		for _, d := range cfg.Domains {
			names = append(names, auth.Canon(d))
		}
	}
	var out auth.Findings
	for _, name := range names {
		for _, x := range ips {
			ev := auth.Evaluate(ctx, c, x.ip, name, "postmaster@"+name, "")
			f := auth.Finding{Check: "spf", Name: name, Message: fmt.Sprintf("OLD IP %s (from the logs): %s using %d lookup(s)", x.ip, ev.Result, ev.Lookups)}
			switch ev.Result {
			case auth.ResPass:
				f.Severity = auth.OK
			case auth.ResTemperror:
				f.Severity = auth.Unknown
			default:
				f.Severity = auth.Warn
				f.Message += ": OLD mail from it fails SPF for " + name
			}
			out = append(out, f)
		}
	}
	return out
}

// flattenDrift re-resolves every include flattened on request and compares
// the answers with the hash recorded when the plan flattened it.
func flattenDrift(ctx context.Context, c *Client, db *state.DB) auth.Findings {
	flat, err := dnsobs.Flattened(db)
	if err != nil {
		return auth.Findings{{Severity: auth.Unknown, Check: "spf", Message: "flattened includes: " + err.Error()}}
	}
	names := make([]string, 0, len(flat))
	for n := range flat {
		names = append(names, n)
	}
	sort.Strings(names)
	var out auth.Findings
	for _, n := range names {
		_, fl, err := auth.Flatten(ctx, c, "flatten.invalid", "v=spf1 include:"+n+" -all", []string{n})
		switch {
		case err != nil:
			out = append(out, auth.Finding{Severity: auth.Unknown, Check: "spf", Name: n, Message: "flattened include: " + err.Error()})
		case fl[0].Hash != flat[n]:
			out = append(out, auth.Finding{Severity: auth.Warn, Check: "spf", Name: n,
				Message: "flattened include changed upstream since the plan flattened it: re-run cutover dns plan --flatten " + n + " and publish the new addresses"})
		default:
			out = append(out, auth.Finding{Severity: auth.OK, Check: "spf", Name: n, Message: "flattened include unchanged upstream"})
		}
	}
	return out
}

// RecordFlattened stores the hashes of a plan's flattened includes.
func RecordFlattened(db *state.DB, p *PlanReport) error {
	for _, f := range p.Flattened {
		if err := dnsobs.PutFlattened(db, f.Include, f.Hash); err != nil {
			return err
		}
	}
	return nil
}
