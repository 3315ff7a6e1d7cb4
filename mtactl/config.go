package mtactl

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"cutover/model"
)

// Config is the [mtactl] section of cutover's TOML file. Every driver section
// is optional; the drivers present are applied together, in one transaction.
//
//	[mtactl]
//	steps = [0, 5, 15, 30, 50, 75, 100]
//	warmup_start = "2026-03-01"   # first day the NEW IPs sent mail
//	ssh = ["ssh", "-o", "BatchMode=yes", "root@mta1"]   # default command prefix
//
//	[mtactl.providers]            # provider -> recipient domains cutover routes
//	google = ["gmail.com", "googlemail.com"]
//	yahoo  = ["yahoo.com", "aol.com"]
//
//	[mtactl.throttle]             # model.ThrottlePolicy
//	margin = 1.2
//	new_ips = 2
//	basis = "p95"                 # or "peak": the OLD hour the throttles scale
//
//	[mtactl.postfix.front]        # old Postfix: splits OLD/NEW
//	config_dir = "/etc/postfix"
//	old_nexthop = "[smtp.sendgrid.net]:587"
//	old_options = ["smtp_sasl_auth_enable=yes", "smtp_sasl_password_maps=hash:/etc/postfix/sasl_passwd"]
//	new_nexthop = "[127.0.0.1]:10026"
//
//	[mtactl.postfix.delivery]     # postmulti instance: per-provider transports
//	config_dir = "/etc/postfix-out"
//
//	[mtactl.exim]
//	config = "/etc/exim4/exim4.conf"
//	old_route = "smtp.old.example"
//
//	[mtactl.pmta]
//	config = "/etc/pmta/config"
//	cold_vmta = "vmta-new"
//
//	[mtactl.demo]
//	file = "/var/lib/cutover/demo-control.json"
type Config struct {
	// Providers maps a provider name (as the ISP table names it: google,
	// microsoft, yahoo...) to the recipient domains cutover routes for it.
	Providers map[string][]string `toml:"providers"`
	// Steps are the slider's stops (default model.DefaultSteps).
	Steps []int `toml:"steps"`
	// Throttle is the policy for default throttles.
	Throttle model.ThrottlePolicy `toml:"throttle"`
	// WarmupStart (YYYY-MM-DD, UTC) sets Throttle.WarmupDay from the clock.
	WarmupStart string `toml:"warmup_start"`
	// HistoryDays is the window for the OLD side's basis hour (p95 or peak, see
	// Throttle.Basis) and the
	// expected daily volume (default 14).
	HistoryDays int `toml:"history_days"`
	// SSH is the default prefix of every driver command (e.g. ["ssh", "mta1"]);
	// a driver's own ssh wins. Files are always read and written locally (a
	// remote MTA's files through an sshfs mount).
	SSH []string `toml:"ssh"`
	// Timeout bounds each command (Go duration, default "60s").
	Timeout string `toml:"timeout"`

	Postfix *PostfixConfig `toml:"postfix"`
	Exim    *EximConfig    `toml:"exim"`
	PMTA    *PMTAConfig    `toml:"pmta"`
	Demo    *DemoConfig    `toml:"demo"`

	// Pacing is the compiled [pacing] section (set by the config loader,
	// not read from [mtactl]): PowerMTA's native mode renders its rules.
	Pacing *model.Pacing `toml:"-"`
}

// PostfixConfig holds the two roles. transport_maps wins over
// sender_dependent_default_transport_maps, so the split and the per-provider
// transports cannot act on the same mail in one instance: the split runs in
// the front instance and the provider transports in the delivery instance.
type PostfixConfig struct {
	Front    *PostfixFront    `toml:"front"`
	Delivery *PostfixDelivery `toml:"delivery"`
}

// PostfixInstance is what both roles share.
type PostfixInstance struct {
	ConfigDir string `toml:"config_dir"` // local path; required
	// RemoteDir is the config dir as the commands see it ({dir}); default ConfigDir.
	RemoteDir string `toml:"remote_dir"`
	MainCF    string `toml:"main_cf"`   // default ConfigDir/main.cf
	MasterCF  string `toml:"master_cf"` // default ConfigDir/master.cf
	// MaillogFile is read on a failed check or reload: postfix(1) writes its
	// errors to stderr only on a terminal, otherwise only to the log.
	MaillogFile string   `toml:"maillog_file"`
	SSH         []string `toml:"ssh"`
	Check       []string `toml:"check"`    // default ["postfix", "-c", "{dir}", "check"]
	Reload      []string `toml:"reload"`   // default ["postfix", "-c", "{dir}", "reload"]
	Postconf    []string `toml:"postconf"` // default ["postconf", "-c", "{dir}"]
	Postmap     []string `toml:"postmap"`  // default ["postmap", "-c", "{dir}"]
	// SuppressGroup is the group of the exported suppression map (mode
	// 0640: it holds personal data; the MTA reads it through this group).
	// Default "postfix"; when no such group exists here, the group of main.cf.
	SuppressGroup string `toml:"suppress_group"`
}

// PostfixFront is the instance that splits mail between OLD and NEW.
type PostfixFront struct {
	PostfixInstance
	// SplitParameter receives the randmap (default
	// sender_dependent_default_transport_maps, which every sender matches).
	SplitParameter string `toml:"split_parameter"`
	OldTransport   string `toml:"old_transport"` // master.cf service, default cutover_old
	// OldNexthop: "[smtp.relay.example]:587" for a cloud relay or old MTA; ""
	// delivers by MX from this instance.
	OldNexthop   string   `toml:"old_nexthop"`
	OldOptions   []string `toml:"old_options"`   // -o name=value for the OLD transport (SASL, TLS...)
	NewTransport string   `toml:"new_transport"` // default cutover_new
	NewNexthop   string   `toml:"new_nexthop"`   // required: the delivery instance or NEW MTA
	NewOptions   []string `toml:"new_options"`
}

// PostfixDelivery is the instance with one transport per provider.
type PostfixDelivery struct {
	PostfixInstance
	TransportMap     string   `toml:"transport_map"`     // default ConfigDir/cutover_transport
	MapType          string   `toml:"map_type"`          // hash (default), lmdb, cdb, btree, texthash
	TransportPrefix  string   `toml:"transport_prefix"`  // service name = prefix + provider
	TransportOptions []string `toml:"transport_options"` // -o name=value for every provider transport
	// Nexthops per provider ("[10.0.0.5]:25"); default: MX of the recipient domain.
	Nexthops map[string]string `toml:"nexthops"`
	// TransportMapsBefore are the operator's tables consulted before
	// cutover's (cutover owns transport_maps in this instance).
	TransportMapsBefore []string `toml:"transport_maps_before"`
	// RecipientLimit sets <transport>_destination_recipient_limit (0: not written).
	RecipientLimit int `toml:"recipient_limit"`
}

// EximConfig drives one Exim whose runtime config holds two blocks,
// "routers" (first in the routers section, before dnslookup) and
// "transports".
type EximConfig struct {
	Config       string `toml:"config"`        // required, local path
	RemoteConfig string `toml:"remote_config"` // as commands see it ({config}); default Config
	// SplitFile is the lsearch file with the share to NEW per domain ("*" is
	// the default); changing only it needs no reload.
	SplitFile       string `toml:"split_file"`        // default dir(Config)/cutover-split
	RemoteSplitFile string `toml:"remote_split_file"` // as Exim sees it; default SplitFile
	// Split: "nhash" (default: sticky per recipient, retries stay on one
	// side) or "randint" (random per delivery attempt).
	Split               string            `toml:"split"`
	OldRoute            string            `toml:"old_route"`   // manualroute route_list hosts of the OLD side; required
	OldDomains          string            `toml:"old_domains"` // default "! +local_domains"
	OldRouterOptions    []string          `toml:"old_router_options"`
	OldTransportOptions []string          `toml:"old_transport_options"`
	RouterPrefix        string            `toml:"router_prefix"`    // default cutover_
	TransportPrefix     string            `toml:"transport_prefix"` // default remote_
	Routes              map[string]string `toml:"routes"`           // provider -> route_list hosts; default dnslookup
	RouterOptions       []string          `toml:"router_options"`
	TransportOptions    []string          `toml:"transport_options"`
	Binary              string            `toml:"binary"` // default exim
	PIDFile             string            `toml:"pid_file"`
	SSH                 []string          `toml:"ssh"`
	Validate            []string          `toml:"validate"` // default [binary, "-bV", "-C", "{config}"]
	Test                []string          `toml:"test"`     // default [binary, "-C", "{config}"]; -bt/-be appended
	// Reload defaults to SIGHUP to the pid in PIDFile (local only).
	Reload []string `toml:"reload"`
	// NoPrecheck skips "exim -bV -C TEMP" on the new file before it replaces
	// the live one (done by default when commands run locally).
	NoPrecheck bool `toml:"no_precheck"`
	// SuppressGroup is the group of the exported suppression map (mode
	// 0640: it holds personal data; the MTA reads it through this group).
	// Default "Debian-exim", else "exim"; when no such group exists here, the group of the Exim config.
	SuppressGroup string `toml:"suppress_group"`
}

// PMTAConfig drives PowerMTA. Split "cold-vmta" needs two blocks in the
// config: "split" inside the warm (OLD) <virtual-mta> and "throttles" inside
// the cold (NEW) one; "weights" writes WeightsFile for an injector that sets
// x-virtual-mta; "none" only renders throttles.
type PMTAConfig struct {
	Config      string `toml:"config"` // default /etc/pmta/config
	Split       string `toml:"split"`  // cold-vmta (default) | weights | none
	ColdVMTA    string `toml:"cold_vmta"`
	WeightsFile string `toml:"weights_file"`
	// DailyVolume per domain overrides the volume learned from history
	// (max-cold-virtual-mta-msg = share x expected daily volume).
	DailyVolume map[string]int `toml:"daily_volume"`
	SSH         []string       `toml:"ssh"`
	Test        []string       `toml:"test"`   // default ["pmta", "test", "config"]
	Reload      []string       `toml:"reload"` // default ["pmta", "reload"]
	// PacingPatterns renders the [pacing] reply rules as a managed
	// <smtp-pattern-list cutover-pacing> (block "pacing", placed by the
	// operator at the top level of the config) and per provider domain
	// smtp-pattern-list, backoff-max-msg-rate and backoff-max-smtp-out
	// (mtactl/pacing.go).
	PacingPatterns bool `toml:"pacing_patterns"`

	// SuppressPatternList (optional) is a rule file `suppress export`
	// installs together with the injector list, in the same transaction: a
	// <pattern-list SuppressPatternName> block with one anchored literal
	// "rcpt-to /^addr$/ virtual-mta=SuppressVMTA" rule per suppressed
	// address. The operator wires it in once (see mtactl/suppress.go):
	// include it, name the list in the injector's <source>, and define
	// SuppressVMTA as a discard VirtualMTA. Unset, only the list is written.
	SuppressPatternList string `toml:"suppress_pattern_list"`
	SuppressPatternName string `toml:"suppress_pattern_name"` // default cutover-suppressed
	SuppressVMTA        string `toml:"suppress_vmta"`         // required with suppress_pattern_list
	// SuppressPatternMax: PowerMTA tries the rules one by one, so the rule
	// file is for lists up to this many addresses (default 100000); a larger
	// export is refused with the count. The injector list has no limit.
	SuppressPatternMax int `toml:"suppress_pattern_max"`
	// SuppressGroup is the group of the exported suppression map (mode
	// 0640: it holds personal data; the MTA reads it through this group).
	// Default "pmta"; when no such group exists here, the group of the PowerMTA config.
	SuppressGroup string `toml:"suppress_group"`
}

// DefaultSuppressPatternMax is the default of PMTAConfig.SuppressPatternMax.
const DefaultSuppressPatternMax = 100000

// DemoConfig writes the control file the demo simulator (ingest/sim) reads.
type DemoConfig struct {
	File   string   `toml:"file"`   // required
	Reload []string `toml:"reload"` // optional; the simulator polls the file
}

var (
	providerNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,40}$`)
	domainRe       = regexp.MustCompile(`^[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	// A value cutover writes into an MTA config must stay on its line.
	badValueRe = regexp.MustCompile(`[\x00-\x1f\x7f]`)
)

// withDefaults fills defaults and validates.
func (c Config) withDefaults() (Config, error) {
	c = c.clone()
	var errs []error
	if c.HistoryDays <= 0 {
		c.HistoryDays = 14
	}
	if c.Timeout != "" {
		if d, err := time.ParseDuration(c.Timeout); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("timeout %q: want a Go duration such as 60s", c.Timeout))
		}
	}
	if err := model.ValidBasis(c.Throttle.Basis); err != nil {
		errs = append(errs, fmt.Errorf("throttle.%w", err))
	}
	if c.WarmupStart != "" {
		if _, err := time.Parse(time.DateOnly, c.WarmupStart); err != nil {
			errs = append(errs, fmt.Errorf("warmup_start %q: want YYYY-MM-DD", c.WarmupStart))
		}
	}
	seenDomain := map[string]string{}
	for _, p := range sortedKeys(c.Providers) {
		if !providerNameRe.MatchString(p) {
			errs = append(errs, fmt.Errorf("provider %q: want lower-case letters, digits, - or _", p))
		}
		if len(c.Providers[p]) == 0 {
			errs = append(errs, fmt.Errorf("provider %s: no domains", p))
		}
		for _, d := range c.Providers[p] {
			if !domainRe.MatchString(d) {
				errs = append(errs, fmt.Errorf("provider %s: domain %q: want a lower-case domain name", p, d))
			}
			if o, ok := seenDomain[d]; ok {
				errs = append(errs, fmt.Errorf("domain %s is listed for both %s and %s", d, o, p))
			}
			seenDomain[d] = p
		}
	}
	prefixes := map[string][]string{"mtactl": c.SSH}
	if p := c.Postfix; p != nil && p.Front != nil {
		prefixes["postfix.front"] = p.Front.SSH
	}
	if p := c.Postfix; p != nil && p.Delivery != nil {
		prefixes["postfix.delivery"] = p.Delivery.SSH
	}
	if c.Exim != nil {
		prefixes["exim"] = c.Exim.SSH
	}
	if c.PMTA != nil {
		prefixes["pmta"] = c.PMTA.SSH
	}
	for _, where := range sortedKeys(prefixes) {
		if sh := shellPrefix(prefixes[where]); sh != "" {
			errs = append(errs, fmt.Errorf("%s: ssh prefix %q runs commands through a shell (%s): give an argv prefix such as [\"ssh\", \"mta1\"] or [\"sudo\", \"-n\"]", where, prefixes[where], sh))
		}
	}
	if c.Postfix == nil && c.Exim == nil && c.PMTA == nil && c.Demo == nil {
		errs = append(errs, errors.New("no driver configured ([mtactl.postfix], [mtactl.exim], [mtactl.pmta] or [mtactl.demo])"))
	}
	if p := c.Postfix; p != nil {
		if p.Front == nil && p.Delivery == nil {
			errs = append(errs, errors.New("[mtactl.postfix] needs front and/or delivery"))
		}
		if f := p.Front; f != nil {
			errs = append(errs, f.PostfixInstance.defaults("postfix.front")...)
			if f.SplitParameter == "" {
				f.SplitParameter = "sender_dependent_default_transport_maps"
			}
			if f.OldTransport == "" {
				f.OldTransport = "cutover_old"
			}
			if f.NewTransport == "" {
				f.NewTransport = "cutover_new"
			}
			if f.NewNexthop == "" {
				errs = append(errs, errors.New("postfix.front: new_nexthop is required (the delivery instance or the NEW MTA)"))
			}
			for _, v := range append([]string{f.SplitParameter, f.OldTransport, f.NewTransport, f.OldNexthop, f.NewNexthop}, append(f.OldOptions, f.NewOptions...)...) {
				errs = append(errs, checkValue("postfix.front", v))
			}
			for _, o := range append(slicesClone(f.OldOptions), f.NewOptions...) {
				errs = append(errs, checkOption("postfix.front", o))
			}
		}
		if d := p.Delivery; d != nil {
			errs = append(errs, d.PostfixInstance.defaults("postfix.delivery")...)
			if d.TransportMap == "" {
				d.TransportMap = filepath.Join(d.ConfigDir, "cutover_transport")
			}
			if d.MapType == "" {
				d.MapType = "hash"
			}
			switch d.MapType {
			case "hash", "lmdb", "cdb", "btree", "texthash":
			default:
				errs = append(errs, fmt.Errorf("postfix.delivery: map_type %q: want hash, lmdb, cdb, btree or texthash", d.MapType))
			}
			for _, o := range d.TransportOptions {
				errs = append(errs, checkValue("postfix.delivery", o), checkOption("postfix.delivery", o))
			}
			for _, v := range append(slicesClone(d.TransportMapsBefore), d.TransportPrefix) {
				errs = append(errs, checkValue("postfix.delivery", v))
			}
			for _, pr := range sortedKeys(d.Nexthops) {
				if _, ok := c.Providers[pr]; !ok {
					errs = append(errs, fmt.Errorf("postfix.delivery: nexthop for unknown provider %q", pr))
				}
				errs = append(errs, checkValue("postfix.delivery", d.Nexthops[pr]))
			}
			for _, pr := range sortedKeys(c.Providers) {
				if postfixReserved[d.TransportPrefix+pr] {
					errs = append(errs, fmt.Errorf("postfix.delivery: provider %s would define the built-in service %q; set transport_prefix", pr, d.TransportPrefix+pr))
				}
			}
		}
	}
	if e := c.Exim; e != nil {
		if e.Config == "" {
			errs = append(errs, errors.New("exim: config is required"))
		}
		if e.RemoteConfig == "" {
			e.RemoteConfig = e.Config
		}
		if e.SplitFile == "" {
			e.SplitFile = filepath.Join(filepath.Dir(e.Config), "cutover-split")
		}
		if e.RemoteSplitFile == "" {
			e.RemoteSplitFile = e.SplitFile
		}
		switch e.Split {
		case "":
			e.Split = "nhash"
		case "nhash", "randint":
		default:
			errs = append(errs, fmt.Errorf("exim: split %q: want nhash or randint", e.Split))
		}
		if e.OldRoute == "" {
			errs = append(errs, errors.New("exim: old_route is required (route_list hosts of the OLD side)"))
		}
		if e.OldDomains == "" {
			e.OldDomains = "! +local_domains"
		}
		if e.RouterPrefix == "" {
			e.RouterPrefix = "cutover_"
		}
		if e.TransportPrefix == "" {
			e.TransportPrefix = "remote_"
		}
		if e.Binary == "" {
			e.Binary = "exim"
		}
		if e.Validate == nil {
			e.Validate = []string{e.Binary, "-bV", "-C", "{config}"}
		}
		if e.Test == nil {
			e.Test = []string{e.Binary, "-C", "{config}"}
		}
		if e.Reload == nil && e.PIDFile == "" {
			errs = append(errs, errors.New("exim: set pid_file (SIGHUP) or reload"))
		}
		if e.Reload == nil && (len(e.SSH) > 0 || (e.SSH == nil && len(c.SSH) > 0)) {
			// SIGHUP goes to a local pid; a remote Exim needs a command.
			errs = append(errs, errors.New("exim: commands run over ssh, so set reload (e.g. [\"/usr/sbin/service\", \"exim4\", \"reload\"])"))
		}
		all := append([]string{e.OldRoute, e.OldDomains, e.RouterPrefix, e.TransportPrefix, e.RemoteSplitFile}, e.OldRouterOptions...)
		all = append(append(append(all, e.OldTransportOptions...), e.RouterOptions...), e.TransportOptions...)
		for _, pr := range sortedKeys(e.Routes) {
			if _, ok := c.Providers[pr]; !ok {
				errs = append(errs, fmt.Errorf("exim: route for unknown provider %q", pr))
			}
			all = append(all, e.Routes[pr])
		}
		for _, v := range all {
			errs = append(errs, checkValue("exim", v))
		}
	}
	if p := c.PMTA; p != nil {
		if p.Config == "" {
			p.Config = "/etc/pmta/config"
		}
		switch p.Split {
		case "":
			p.Split = "cold-vmta"
		case "cold-vmta", "weights", "none":
		default:
			errs = append(errs, fmt.Errorf("pmta: split %q: want cold-vmta, weights or none", p.Split))
		}
		if p.Split == "cold-vmta" && p.ColdVMTA == "" {
			errs = append(errs, errors.New("pmta: cold_vmta is required with split = cold-vmta"))
		}
		if p.Split == "weights" && p.WeightsFile == "" {
			errs = append(errs, errors.New("pmta: weights_file is required with split = weights"))
		}
		errs = append(errs, checkValue("pmta", p.ColdVMTA))
		if strings.ContainsAny(p.ColdVMTA, " \t<>") {
			errs = append(errs, fmt.Errorf("pmta: cold_vmta %q: one word", p.ColdVMTA))
		}
		if p.SuppressPatternList != "" {
			if p.SuppressPatternName == "" {
				p.SuppressPatternName = "cutover-suppressed"
			}
			if p.SuppressVMTA == "" {
				errs = append(errs, errors.New("pmta: suppress_vmta (the discard VirtualMTA of suppressed recipients) is required with suppress_pattern_list"))
			}
			if p.SuppressPatternMax == 0 {
				p.SuppressPatternMax = DefaultSuppressPatternMax
			}
			if p.SuppressPatternMax < 0 {
				errs = append(errs, fmt.Errorf("pmta: suppress_pattern_max %d: want > 0", p.SuppressPatternMax))
			}
			for _, v := range []string{p.SuppressPatternName, p.SuppressVMTA} {
				errs = append(errs, checkValue("pmta", v))
				if strings.ContainsAny(v, " \t<>=#/") {
					errs = append(errs, fmt.Errorf("pmta: %q: one word (suppress_pattern_name, suppress_vmta)", v))
				}
			}
		}
		if p.Test == nil {
			p.Test = []string{"pmta", "test", "config"}
		}
		if p.Reload == nil {
			p.Reload = []string{"pmta", "reload"}
		}
	}
	if d := c.Demo; d != nil && d.File == "" {
		errs = append(errs, errors.New("demo: file is required"))
	}
	return c, errors.Join(errs...)
}

// clone copies the driver sections so that filling defaults never changes
// the caller's Config.
func (c Config) clone() Config {
	if c.Postfix != nil {
		p := *c.Postfix
		if p.Front != nil {
			f := *p.Front
			p.Front = &f
		}
		if p.Delivery != nil {
			d := *p.Delivery
			p.Delivery = &d
		}
		c.Postfix = &p
	}
	if c.Exim != nil {
		e := *c.Exim
		c.Exim = &e
	}
	if c.PMTA != nil {
		p := *c.PMTA
		c.PMTA = &p
	}
	if c.Demo != nil {
		d := *c.Demo
		c.Demo = &d
	}
	return c
}

func (p *PostfixInstance) defaults(where string) []error {
	var errs []error
	if p.ConfigDir == "" {
		errs = append(errs, fmt.Errorf("%s: config_dir is required", where))
	}
	if p.RemoteDir == "" {
		p.RemoteDir = p.ConfigDir
	}
	if p.MainCF == "" {
		p.MainCF = filepath.Join(p.ConfigDir, "main.cf")
	}
	if p.MasterCF == "" {
		p.MasterCF = filepath.Join(p.ConfigDir, "master.cf")
	}
	if p.Check == nil {
		p.Check = []string{"postfix", "-c", "{dir}", "check"}
	}
	if p.Reload == nil {
		p.Reload = []string{"postfix", "-c", "{dir}", "reload"}
	}
	if p.Postconf == nil {
		p.Postconf = []string{"postconf", "-c", "{dir}"}
	}
	if p.Postmap == nil {
		p.Postmap = []string{"postmap", "-c", "{dir}"}
	}
	return errs
}

func checkValue(where, v string) error {
	if badValueRe.MatchString(v) {
		return fmt.Errorf("%s: %q contains a control character or newline", where, v)
	}
	return nil
}

// checkOption wants master.cf -o values as name=value (Postfix 3 also takes
// "{ name = value with spaces }").
func checkOption(where, o string) error {
	if strings.HasPrefix(o, "{") && strings.HasSuffix(o, "}") && strings.Contains(o, "=") {
		return nil
	}
	name, _, ok := strings.Cut(o, "=")
	if !ok || name == "" || strings.ContainsAny(o, " \t") {
		return fmt.Errorf("%s: option %q: want name=value (or { name = value } with spaces)", where, o)
	}
	return nil
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// postfixReserved are Postfix's standard master.cf services: a provider
// transport with one of these names would replace it.
var postfixReserved = map[string]bool{
	"smtp": true, "smtpd": true, "relay": true, "local": true, "virtual": true, "lmtp": true,
	"pipe": true, "error": true, "retry": true, "discard": true, "bounce": true, "defer": true,
	"trace": true, "verify": true, "flush": true, "proxymap": true, "proxywrite": true,
	"showq": true, "anvil": true, "scache": true, "postlog": true, "pickup": true,
	"cleanup": true, "qmgr": true, "tlsmgr": true, "rewrite": true, "submission": true,
	"smtps": true, "submissions": true, "postscreen": true, "dnsblog": true, "tlsproxy": true,
	"uucp": true, "maildrop": true, "ifmail": true, "bsmtp": true, "scalemail-backend": true, "mailman": true,
}
