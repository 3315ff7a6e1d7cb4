package mtactl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exim: one runtime config with two blocks the operator places.
//
// "routers", first in the routers section (before dnslookup): a manualroute
// router that sends the OLD share to the OLD side, then one router per
// provider with its own transport.
//
//	cutover_old:
//	  driver = manualroute
//	  domains = ! +local_domains
//	  condition = ${if <{${nhash_100:${lc:$local_part@$domain}}}{${lookup{${lc:$domain}}lsearch*{SPLIT}{$value}{0}}}{false}{true}}
//	  route_list = * smtp.old.example
//	  transport = cutover_old
//	  no_more
//
// nhash of the recipient is sticky (a retry stays on its side, and raising
// the ratio only moves recipients from OLD to NEW, never back); randint
// re-rolls per attempt. The share per domain comes from the lsearch file
// SPLIT ("*" = every other domain), which Exim reads on every use: a ratio
// change needs no reload.
//
// "transports": the OLD transport and remote_<provider> smtp transports with
// max_parallel (a generic transport option, concurrent runs via the hints
// database) and connection_max_messages (smtp transport).

type eximDriver struct {
	cfg       *EximConfig
	providers map[string][]string
	r         *runner
}

func newExim(cfg *EximConfig, providers map[string][]string, r *runner) *eximDriver {
	return &eximDriver{cfg: cfg, providers: providers, r: r}
}

func (d *eximDriver) Name() string    { return "exim" }
func (d *eximDriver) LockDir() string { return filepath.Dir(d.cfg.Config) }

func (d *eximDriver) Files() []ManagedFile {
	return []ManagedFile{
		{Path: d.cfg.Config, Blocks: []string{"routers", "transports"}},
		{Path: d.cfg.SplitFile, Perm: 0o644},
	}
}

func (d *eximDriver) vars() map[string]string { return map[string]string{"config": d.cfg.RemoteConfig} }

func (d *eximDriver) Render(in RenderInput) (map[string]Managed, []string, error) {
	des := in.Desired
	var notes []string
	var routers, transports, split strings.Builder

	pick := `${nhash_100:${lc:$local_part@$domain}}`
	if d.cfg.Split == "randint" {
		pick = `${randint:100}`
		notes = append(notes, "split by randint: random per delivery attempt, a deferred message may retry on the other side")
	}
	share := fmt.Sprintf(`${lookup{${lc:$domain}}lsearch*{%s}{$value}{0}}`, d.cfg.RemoteSplitFile)

	routers.WriteString(blockHeader)
	fmt.Fprintf(&routers, "# OLD/NEW split: the share to NEW per domain is in %s.\n", d.cfg.RemoteSplitFile)
	fmt.Fprintf(&routers, "%sold:\n  driver = manualroute\n  domains = %s\n", d.cfg.RouterPrefix, d.cfg.OldDomains)
	fmt.Fprintf(&routers, "  condition = ${if <{%s}{%s}{false}{true}}\n", pick, share)
	fmt.Fprintf(&routers, "  route_list = * %s\n  transport = %sold\n", d.cfg.OldRoute, d.cfg.RouterPrefix)
	for _, o := range d.cfg.OldRouterOptions {
		fmt.Fprintf(&routers, "  %s\n", o)
	}
	routers.WriteString("  no_more\n")

	transports.WriteString(blockHeader)
	fmt.Fprintf(&transports, "%sold:\n  driver = smtp\n", d.cfg.RouterPrefix)
	for _, o := range d.cfg.OldTransportOptions {
		fmt.Fprintf(&transports, "  %s\n", o)
	}

	for _, isp := range sortedKeys(d.providers) {
		doms := slices.Sorted(slices.Values(d.providers[isp]))
		tname := d.cfg.TransportPrefix + isp
		fmt.Fprintf(&routers, "%s%s:\n", d.cfg.RouterPrefix, isp)
		if route, ok := d.cfg.Routes[isp]; ok {
			fmt.Fprintf(&routers, "  driver = manualroute\n  domains = %s\n  route_list = * %s\n", strings.Join(doms, " : "), route)
		} else {
			fmt.Fprintf(&routers, "  driver = dnslookup\n  domains = %s\n", strings.Join(doms, " : "))
		}
		fmt.Fprintf(&routers, "  transport = %s\n", tname)
		for _, o := range d.cfg.RouterOptions {
			fmt.Fprintf(&routers, "  %s\n", o)
		}
		routers.WriteString("  no_more\n")

		t := des.Throttles[isp]
		fmt.Fprintf(&transports, "%s:\n  driver = smtp\n", tname)
		if t.Connections > 0 {
			fmt.Fprintf(&transports, "  max_parallel = %d\n", t.Connections)
		}
		if t.PerConnection > 0 {
			fmt.Fprintf(&transports, "  connection_max_messages = %d\n", t.PerConnection)
		}
		if t.PerHour > 0 {
			fmt.Fprintf(&transports, "  # %d/h wanted: Exim has no outbound rate limit, only max_parallel\n", t.PerHour)
			notes = append(notes, fmt.Sprintf("%s: %d/h cannot be enforced by Exim (no outbound rate limit); max_parallel %d and connection_max_messages %d are", isp, t.PerHour, t.Connections, t.PerConnection))
		}
		for _, o := range d.cfg.TransportOptions {
			fmt.Fprintf(&transports, "  %s\n", o)
		}
	}

	split.WriteString("# Managed by cutover: share of mail (percent) to the NEW side per recipient\n")
	split.WriteString("# domain; \"*\" is every other domain. Exim reads this file on every use.\n")
	for _, isp := range sortedKeys(des.PerISP) {
		doms, ok := d.providers[isp]
		if !ok {
			return nil, nil, fmt.Errorf("ratio for unknown provider %s", isp)
		}
		for _, dom := range slices.Sorted(slices.Values(doms)) {
			fmt.Fprintf(&split, "%s: %d\n", dom, des.PerISP[isp])
		}
	}
	fmt.Fprintf(&split, "*: %d\n", des.RatioNew)

	return map[string]Managed{
		d.cfg.Config:    {Blocks: map[string]string{"routers": routers.String(), "transports": transports.String()}},
		d.cfg.SplitFile: {Whole: []byte(split.String())},
	}, notes, nil
}

// Precheck runs the validate command on the new config before it replaces
// the live one (commands run locally only: a remote Exim cannot see TEMP).
func (d *eximDriver) Precheck(ctx context.Context, path, tmp string) error {
	if path != d.cfg.Config || d.cfg.NoPrecheck || len(d.r.prefix) > 0 {
		return nil
	}
	res := d.r.run(ctx, expand(d.cfg.Validate, map[string]string{"config": tmp}))
	if res.Err != nil {
		se := d.eximErr(res)
		se.Output = strings.ReplaceAll(se.Output, tmp, path)
		return se
	}
	return nil
}

func (d *eximDriver) Build(context.Context, []string) error { return nil }

var splitLine = regexp.MustCompile(`^([^#:\s][^:\s]*):\s*(\d+)\s*$`)

// eximErr keeps exim's own error (stderr) and drops the version banner -bV
// prints on stdout.
func (d *eximDriver) eximErr(res cmdResult) *StepError {
	se := stepErr(d.Name(), "validate", res)
	if strings.TrimSpace(res.Stderr) != "" {
		se.Output = strings.TrimSpace(res.Stderr)
	}
	return se
}

// Validate: exim -bV; every split file line read back through Exim's own
// lookup (-be); a routing test (-bt) of one address per provider.
func (d *eximDriver) Validate(ctx context.Context, _ []string) error {
	if res := d.r.run(ctx, expand(d.cfg.Validate, d.vars())); res.Err != nil {
		return d.eximErr(res)
	}
	b, err := os.ReadFile(d.cfg.SplitFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return &StepError{Driver: d.Name(), Step: "validate", Err: err}
	}
	var keys, want, exprs []string
	for _, l := range strings.Split(string(b), "\n") {
		if m := splitLine.FindStringSubmatch(l); m != nil {
			keys, want = append(keys, m[1]), append(want, m[2])
			exprs = append(exprs, fmt.Sprintf(`${lookup{%s}lsearch{%s}{$value}{missing}}`, m[1], d.cfg.RemoteSplitFile))
		}
	}
	if len(exprs) > 0 {
		res := d.r.run(ctx, append(append(expand(d.cfg.Test, d.vars()), "-be"), exprs...))
		if res.Err != nil {
			return stepErr(d.Name(), "validate", res)
		}
		got := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		for i := range keys {
			if i >= len(got) || strings.TrimSpace(got[i]) != want[i] {
				return &StepError{Driver: d.Name(), Step: "validate", Argv: res.Argv,
					Err: fmt.Errorf("Exim reads %q from %s for %s, want %s", at(got, i), d.cfg.RemoteSplitFile, keys[i], want[i]), Output: res.Output()}
			}
		}
	}
	var probes []string
	for _, isp := range sortedKeys(d.providers) {
		probes = append(probes, "cutover-probe@"+slices.Min(d.providers[isp]))
	}
	if len(probes) > 0 {
		res := d.r.run(ctx, append(append(expand(d.cfg.Test, d.vars()), "-bt"), probes...))
		// exit 2 is a temporary failure (DNS), not a config error
		var ee interface{ ExitCode() int }
		if res.Err != nil && !(errors.As(res.Err, &ee) && ee.ExitCode() == 2) {
			return stepErr(d.Name(), "validate", res)
		}
	}
	return nil
}

func at(s []string, i int) string {
	if i < len(s) {
		return strings.TrimSpace(s[i])
	}
	return ""
}

// Reload: only when the config changed (the split file is read on every
// use). SIGHUP makes the daemon re-exec itself with the new config; if that
// fails the daemon is gone, so check it is still alive afterwards.
func (d *eximDriver) Reload(ctx context.Context, changed []string) (bool, error) {
	if !slices.Contains(changed, d.cfg.Config) {
		return false, nil
	}
	if d.cfg.Reload != nil {
		if res := d.r.run(ctx, expand(d.cfg.Reload, d.vars())); res.Err != nil {
			return false, stepErr(d.Name(), "reload", res)
		}
		return true, nil
	}
	pid, err := readPID(d.cfg.PIDFile)
	if err != nil {
		return false, &StepError{Driver: d.Name(), Step: "reload", Err: err}
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return false, &StepError{Driver: d.Name(), Step: "reload", Err: fmt.Errorf("SIGHUP to exim pid %d (%s): %w", pid, d.cfg.PIDFile, err)}
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return true, &StepError{Driver: d.Name(), Step: "reload", Err: ctx.Err()}
		case <-time.After(100 * time.Millisecond):
		}
		if !pidAlive(pid) {
			return true, &StepError{Driver: d.Name(), Step: "reload", Err: fmt.Errorf("exim daemon pid %d exited after SIGHUP (see its paniclog)", pid)}
		}
	}
	return true, nil
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("exim pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("exim pid file %s: %q is not a pid", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}
