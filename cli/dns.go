package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/ingest/dnsq"
	"cutover/model/auth"
	"cutover/owner"
	"cutover/state"
)

const dnsExit = `0 OK, 1 WARN, 2 CRIT, 3 could not tell (DNS failure, unreadable config, bad
command line), like cutover status.`

func newDNSCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "dns", Short: "DNS authentication: SPF, DKIM, DMARC, PTR, DNSBL, TTL pre-staging",
		Example: "  cutover dns plan --config cutover.toml\n  cutover dns check --config cutover.toml --json", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}},
		newDNSPlanCmd(o), newDNSCheckCmd(o), newDNSTTLCmd(o), newDNSSPFCmd(o), newDNSDKIMCmd(o))
}

// dnsClient queries the authoritative servers (RD=0) or, with server set,
// that one server.
func dnsClient(server string) (*dnsq.Client, error) {
	if server != "" {
		if _, _, err := splitHostPort(server); err != nil {
			return nil, usageError{fmt.Sprintf("--server %q: want HOST:PORT", server)}
		}
	}
	return &dnsq.Client{Server: server}, nil
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("no port")
	}
	p, err := strconv.Atoi(s[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port")
	}
	return s[:i], p, nil
}

func loadDNSConfig(path string) (*owner.Config, error) {
	cfg, err := owner.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if !cfg.DNS.Configured() {
		return nil, fmt.Errorf("%s has no [dns] section (cutover init writes one, commented)", path)
	}
	if err := cfg.DNS.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return cfg, nil
}

// dnsDB opens the database to store TTL observations; when the owner holds
// it, the run goes on without (its observations are not stored).
func dnsDB(cfg *owner.Config, errw io.Writer) *state.DB {
	if cfg.Database.Path == "" {
		return nil
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if err != nil {
		fmt.Fprintf(errw, "cutover dns: TTL observations of this run are not stored: %v\n", err)
		return nil
	}
	return db
}

// dnsSession loads the [dns] config, makes the client and opens the
// database (nil when the owner holds it) for the commands that report with
// exit codes: a config that cannot be read is "could not tell" (3).
func dnsSession(o cmdIO, verb, cfgPath, server string) (*owner.Config, *dnsq.Client, *state.DB, error) {
	cfg, err := loadDNSConfig(cfgPath)
	if err != nil {
		fmt.Fprintf(o.err, "cutover dns %s: %v\n", verb, err)
		return nil, nil, nil, exitError{3}
	}
	cl, err := dnsClient(firstNonEmpty(server, cfg.DNS.Server))
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, cl, dnsDB(cfg, o.err), nil
}

func printJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}

func newDNSPlanCmd(o cmdIO) *cobra.Command {
	var cfgPath, phase, format, server string
	var flatten []string
	var stepdown bool
	c := command("plan --config FILE [--phase P] [--format F] [--flatten NAME,...]",
		"ordered DNS changes: lower TTLs, add NEW, retire OLD",
		"  cutover dns plan --config cutover.toml --phase dual --format zone", nil, nil)
	c.Annotations[annExit] = "0 the plan was written, 1 it could not be made, 2 bad command line."
	configFlag(c, &cfgPath, "config file with a [dns] section")
	c.Flags().StringVar(&phase, "phase", "all", "pre, dual, post or all")
	c.Flags().StringVar(&format, "format", "text", "text, json, zone (RFC 1035 lines) or nsupdate")
	c.Flags().StringSliceVar(&flatten, "flatten", nil, "replace these includes by their addresses (opt-in; the cost is stated)")
	c.Flags().BoolVar(&stepdown, "allow-dmarc-stepdown", false, "propose p=reject → p=quarantine while NEW's DKIM does not align")
	c.Flags().StringVar(&server, "server", "", "send every query to HOST:PORT instead of the authoritative servers")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if cfgPath == "" || len(args) > 0 {
			return usage(cmd)
		}
		cfg, err := loadDNSConfig(cfgPath)
		if err != nil {
			return err
		}
		cl, err := dnsClient(firstNonEmpty(server, cfg.DNS.Server))
		if err != nil {
			return err
		}
		p, err := dnsq.Plan(cmd.Context(), cl, cfg.DNS, dnsq.PlanOptions{Phase: phase, Flatten: flatten, AllowStepdown: stepdown})
		if err != nil {
			return err
		}
		if len(p.Flattened) > 0 {
			// dns check warns when a flattened include changes upstream.
			if db := dnsDB(cfg, o.err); db != nil {
				err := dnsq.RecordFlattened(db, p)
				db.Close()
				if err != nil {
					return err
				}
			}
		}
		return p.Render(o.out, format)
	}
	return c
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func newDNSCheckCmd(o cmdIO) *cobra.Command {
	var cfgPath, server string
	var asJSON bool
	var watch time.Duration
	var only []string
	c := command("check --config FILE [--json] [--watch D] [--only CHECK,...]",
		"check the published records against the [dns] plan",
		"  cutover dns check --config cutover.toml --only spf,dkim", nil, nil)
	c.Annotations[annExit] = dnsExit
	c.Annotations[annUsageExit] = "3"
	configFlag(c, &cfgPath, "config file with a [dns] section")
	c.Flags().StringVar(&server, "server", "", "send every query to HOST:PORT instead of the authoritative servers")
	jsonFlag(c, &asJSON, "print the report as JSON (docs/dns-check.md)")
	c.Flags().DurationVar(&watch, "watch", 0, "check again every D until interrupted (TTL observations are stored)")
	c.Flags().StringSliceVar(&only, "only", nil, "only these checks: spf, dkim, dmarc, ptr, ttl, dnsbl")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if cfgPath == "" || len(args) > 0 || watch < 0 {
			return usage(cmd)
		}
		cfg, cl, db, err := dnsSession(o, "check", cfgPath, server)
		if err != nil {
			return err
		}
		if db != nil {
			defer db.Close()
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		code := 3
		for {
			rep, err := dnsq.Check(ctx, cl, cfg.DNS, dnsq.Options{Only: only, DB: db})
			if err != nil {
				fmt.Fprintf(o.err, "cutover dns check: %v\n", err)
				return exitError{3}
			}
			if db != nil {
				// The latest check is what status, /metrics and the cockpit show.
				if err := dnsq.SaveReport(db, rep); err != nil {
					fmt.Fprintf(o.err, "cutover dns check: report not stored: %v\n", err)
				}
			}
			if asJSON {
				_ = printJSON(o.out, rep)
			} else {
				rep.RenderText(o.out)
			}
			code = rep.Exit
			if watch == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return exitError{code}
			case <-time.After(watch):
			}
		}
		return exitError{code}
	}
	return c
}

func newDNSTTLCmd(o cmdIO) *cobra.Command {
	var cfgPath, server string
	var asJSON bool
	c := command("ttl --config FILE [--json] [--server HOST:PORT]",
		"TTL per authoritative server, lowered_at and safe_at per record",
		"  cutover dns ttl --config cutover.toml", nil, nil)
	c.Annotations[annExit] = dnsExit
	c.Annotations[annUsageExit] = "3"
	configFlag(c, &cfgPath, "config file with a [dns] section")
	jsonFlag(c, &asJSON, "print JSON")
	c.Flags().StringVar(&server, "server", "", "send every query to HOST:PORT instead of the authoritative servers")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if cfgPath == "" || len(args) > 0 {
			return usage(cmd)
		}
		cfg, cl, db, err := dnsSession(o, "ttl", cfgPath, server)
		if err != nil {
			return err
		}
		if db != nil {
			defer db.Close()
		}
		low, _ := cfg.DNS.TTLLowDuration()
		var sts []auth.TTLStatus
		var fs auth.Findings
		for _, name := range cfg.DNS.SPFNames() {
			st, err := dnsq.ObserveTTL(cmd.Context(), cl, db, name, auth.TypeTXT, low, time.Now())
			if err != nil {
				fmt.Fprintf(o.err, "cutover dns ttl: %s: %v\n", name, err)
				fs = append(fs, auth.Finding{Severity: auth.Unknown})
				continue
			}
			sts = append(sts, st)
			fs = append(fs, st.Findings...)
		}
		if asJSON {
			_ = printJSON(o.out, sts)
		} else {
			dnsq.RenderTTL(o.out, sts)
		}
		return exitError{dnsq.ExitCode(fs.Worst())}
	}
	return c
}

func newDNSSPFCmd(o cmdIO) *cobra.Command {
	var server string
	var asJSON bool
	var ips []string
	c := command("spf DOMAIN [--ip IP ...] [--server HOST:PORT] [--json]",
		"SPF tree, RFC and strict lookup counts, per-IP evaluation",
		"  cutover dns spf example.com --ip 203.0.113.10", nil, nil)
	c.Annotations[annExit] = dnsExit
	c.Annotations[annUsageExit] = "3"
	c.Flags().StringSliceVar(&ips, "ip", nil, "evaluate these IPs as a receiver would (repeatable)")
	c.Flags().StringVar(&server, "server", "", "send every query to HOST:PORT instead of the authoritative servers")
	jsonFlag(c, &asJSON, "print JSON")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usage(cmd)
		}
		var addrs []netip.Addr
		for _, s := range ips {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return usageError{fmt.Sprintf("--ip %q is not an IP address", s)}
			}
			addrs = append(addrs, a)
		}
		cl, err := dnsClient(server)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		rep := auth.AnalyzeSPF(ctx, cl, args[0])
		rep.EvaluateIPs(ctx, cl, "", addrs, false)
		if asJSON {
			_ = printJSON(o.out, rep)
		} else {
			dnsq.RenderSPF(o.out, rep)
		}
		return exitError{dnsq.ExitCode(rep.Severity)}
	}
	return c
}

func newDNSDKIMCmd(o cmdIO) *cobra.Command {
	var domain, selector, keyPath, server string
	var asJSON bool
	c := command("dkim --domain D --selector S [--key PEM] [--json]",
		"selector record, key match and a test signature through DNS",
		"  cutover dns dkim --domain example.com --selector s1 --key s1.pem", nil, nil)
	c.Annotations[annExit] = dnsExit
	c.Annotations[annUsageExit] = "3"
	c.Flags().StringVar(&domain, "domain", "", "signing domain (d=)")
	c.Flags().StringVar(&selector, "selector", "", "selector (s=)")
	c.Flags().StringVar(&keyPath, "key", "", "the NEW MTA's private key (PEM, PKCS#1 or PKCS#8)")
	c.Flags().StringVar(&server, "server", "", "send every query to HOST:PORT instead of the authoritative servers")
	jsonFlag(c, &asJSON, "print JSON")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if domain == "" || selector == "" || len(args) > 0 {
			return usage(cmd)
		}
		cl, err := dnsClient(server)
		if err != nil {
			return err
		}
		cfg := dnsq.Config{NewDKIMKey: keyPath}
		key, err := cfg.LoadKey()
		if err != nil {
			fmt.Fprintf(o.err, "cutover dns dkim: %v\n", err)
			return exitError{3}
		}
		ctx := cmd.Context()
		var pub any
		if key != nil {
			pub = key.Public()
		}
		rep := auth.CheckDKIM(ctx, cl, domain, selector, pub, true)
		if key != nil && rep.Record != "" {
			res, err := dnsq.TestSignature(ctx, cl, auth.Canon(domain), selector, key, time.Now())
			f := auth.Finding{Severity: auth.OK, Check: "dkim", Name: rep.Name, Message: "test signature verifies through DNS"}
			if res != "pass" {
				f.Severity, f.Message = auth.Crit, fmt.Sprintf("test signature: %s: %v", res, err)
				if res == "temperror" {
					f.Severity = auth.Unknown
				}
			}
			rep.Findings = append(rep.Findings, f)
			rep.Severity = rep.Findings.Worst()
		}
		if asJSON {
			_ = printJSON(o.out, rep)
		} else {
			fmt.Fprintf(o.out, "%s  DKIM %s\n", rep.Name, dnsq.StateWord(rep.Severity))
			for _, f := range rep.Findings {
				fmt.Fprintf(o.out, "  %-7s %s\n", f.Severity, dnsq.Clean(f.Message, 300))
			}
		}
		return exitError{dnsq.ExitCode(rep.Severity)}
	}
	return c
}
