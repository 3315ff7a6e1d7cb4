package owner

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"cutover/ingest"
	"cutover/ingest/dnsq"
	"cutover/ingest/exim"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
)

// Config is the TOML configuration file. Only owner and cli read it: each
// package below gets plain option structs, so none depends on the file format.
type Config struct {
	Database DatabaseConfig `toml:"database"`
	Timezone string         `toml:"timezone"` // for log times without a zone; default Local
	Sources  []SourceConfig `toml:"source"`
	ISP      ISPConfig      `toml:"isp"`
	// Mtactl is the MTA configuration cutover manages (mtactl/doc.go);
	// absent: the cockpit is read-only.
	Mtactl *mtactl.Config `toml:"mtactl"`
	// Control is the owner's control socket and metrics.
	Control ControlConfig `toml:"control"`
	// Suppress configures suppression verification (cutover suppress verify).
	Suppress SuppressConfig `toml:"suppress"`
	// Bounces is the DSN/ARF mailbox the owner watches (bounces.go).
	Bounces BouncesConfig `toml:"bounces"`
	// DNS is the authentication plan and check (cutover dns; ingest/dnsq).
	DNS dnsq.Config `toml:"dns"`
	// MonitorCfg, Notify and Alert are the 30-day monitoring (config_monitor.go).
	MonitorCfg MonitorConfig  `toml:"monitor"`
	Notify     []NotifyConfig `toml:"notify"`
	Alert      AlertConfig    `toml:"alert"`
	// Pacing is the pacer on provider pushback (config_pacing.go).
	Pacing model.PacingConfig `toml:"pacing"`
	path   string
}

type DatabaseConfig struct {
	Path           string `toml:"path"`
	AllowNetworkFS bool   `toml:"allow_network_fs"`
}

type SourceConfig struct {
	Name    string   `toml:"name"`
	Kind    string   `toml:"kind"` // pmta | postfix | exim
	Side    string   `toml:"side"` // default side: old | new
	MTA     string   `toml:"mta"`
	Globs   []string `toml:"globs"`
	SideMap []string `toml:"side_map"` // "pattern=side", first match wins
	Poll    string   `toml:"poll"`     // poll interval, default 250ms
}

type ISPConfig struct {
	ResolveMX bool              `toml:"resolve_mx"`
	Domains   map[string]string `toml:"domains"`
	MX        map[string]string `toml:"mx"`
}

// ExampleConfig is the commented example `cutover init` writes.
//
//go:embed cutover.example.toml
var ExampleConfig []byte

// LoadConfig reads and validates a config file; errors name the file and,
// for TOML syntax errors, the line and column.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())
		}
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("%s: %s", path, strings.TrimSpace(sm.String()))
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	c.path = path
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &c, nil
}

func (c *Config) validate() error {
	if c.Database.Path == "" {
		return fmt.Errorf("[database] path is required")
	}
	if c.Database.Path != "" && !filepath.IsAbs(c.Database.Path) && c.path != "" {
		c.Database.Path = filepath.Join(filepath.Dir(c.path), c.Database.Path)
	}
	if _, err := c.Location(); err != nil {
		return err
	}
	if c.DNS.Configured() {
		if err := c.DNS.Validate(); err != nil {
			return err
		}
		// Relative key paths are relative to the config file, like the database.
		if k := c.DNS.NewDKIMKey; k != "" && !filepath.IsAbs(k) && c.path != "" {
			c.DNS.NewDKIMKey = filepath.Join(filepath.Dir(c.path), k)
		}
	}
	if err := c.validatePacing(); err != nil {
		return err
	}
	if _, err := c.Monitor(); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, s := range c.Sources {
		where := fmt.Sprintf("[[source]] #%d (%s)", i+1, s.Name)
		if s.Name == "" {
			return fmt.Errorf("[[source]] #%d: name is required", i+1)
		}
		if names[s.Name] {
			return fmt.Errorf("%s: duplicate source name", where)
		}
		names[s.Name] = true
		if _, err := SourceKind(s.Kind); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if _, err := model.ParseSide(s.Side); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if len(s.Globs) == 0 {
			return fmt.Errorf("%s: globs is empty", where)
		}
		for _, g := range s.Globs {
			if _, err := filepath.Match(g, ""); err != nil {
				return fmt.Errorf("%s: glob %q: %v", where, g, err)
			}
		}
		if _, err := ingest.NewSideMap(s.SideMap); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if s.Poll != "" {
			if d, err := time.ParseDuration(s.Poll); err != nil || d <= 0 {
				return fmt.Errorf("%s: poll %q: want a duration like 250ms", where, s.Poll)
			}
		}
	}
	return nil
}

// Location is the zone for log times that carry none.
func (c *Config) Location() (*time.Location, error) {
	if c.Timezone == "" || c.Timezone == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %v", c.Timezone, err)
	}
	return loc, nil
}

// ISPTable builds the provider table with the config's overrides.
func (c *Config) ISPTable() *model.ISPTable {
	return model.NewISPTable(c.ISP.Domains, c.ISP.MX)
}

// Classifier is the provider classifier of an owner: the ISP table, and MX
// lookups cached in db when resolve_mx is on.
func (c *Config) Classifier(db *state.DB) *ingest.Classifier {
	cls := ingest.NewClassifier(c.ISPTable())
	if c.ISP.ResolveMX {
		cls.Lookup = ingest.DNSLookup
		cls.Cache = db
	}
	return cls
}

// SourceKind checks a source kind: pmta, postfix or exim.
func SourceKind(k string) (string, error) {
	switch k {
	case "pmta", "postfix", "exim":
		return k, nil
	}
	return "", fmt.Errorf("kind %q: want pmta, postfix or exim", k)
}

// Kinds are the log kinds a source may have.
var Kinds = []string{"pmta", "postfix", "exim"}

// NewParser returns the parser for a source kind.
func NewParser(kind string, loc *time.Location) (ingest.Parser, error) {
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

// OpenDB opens the database the way every command does: its directory
// created when writing, a missing file an error when reading, and a 2 s
// lock timeout whose error names the holder.
func OpenDB(path string, allowNetFS, readOnly bool) (*state.DB, error) {
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

// SourceSpecs turns the config's sources into pipeline specs.
func (c *Config) SourceSpecs() ([]ingest.SourceSpec, error) {
	loc, err := c.Location()
	if err != nil {
		return nil, err
	}
	var specs []ingest.SourceSpec
	for _, s := range c.Sources {
		side, _ := model.ParseSide(s.Side)
		sm, _ := ingest.NewSideMap(s.SideMap)
		parser, err := NewParser(s.Kind, loc)
		if err != nil {
			return nil, err
		}
		mta := s.MTA
		if mta == "" {
			mta = s.Name
		}
		var poll time.Duration
		if s.Poll != "" {
			poll, _ = time.ParseDuration(s.Poll)
		}
		specs = append(specs, ingest.SourceSpec{Name: s.Name, Kind: s.Kind, Side: side, MTA: mta,
			Globs: s.Globs, SideMap: sm, Parser: parser, Poll: poll})
	}
	return specs, nil
}

// ControlConfig is the [control] section: who may attach to the owner's
// socket and where metrics are served.
//
//	[control]
//	group = "mailops"                  # may attach (and apply) besides the owner's user; default: owner only
//	metrics_listen = "127.0.0.1:9810"  # default for --metrics-listen
type ControlConfig struct {
	Group         string `toml:"group"`
	MetricsListen string `toml:"metrics_listen"`
}

// SuppressConfig is the [suppress] section.
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

// ReadSuppressConfig reads [suppress] from a config file, ignoring every
// other section (LoadConfig validates those).
func ReadSuppressConfig(path string) (SuppressConfig, error) {
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
