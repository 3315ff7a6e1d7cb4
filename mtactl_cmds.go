package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/mattn/go-isatty"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
)

// The commands that change the MTAs' configuration through mtactl: for
// scripts and on-call. Every change shows its diff first; without --yes it is
// confirmed with (y/N) on a terminal and refused (exit 1) anywhere else.

// mtaIO is where a command reads its confirmation and writes its output;
// tests swap it.
type mtaIO struct {
	in       *bufio.Reader
	out, err io.Writer
	tty      bool // in is a terminal: ask instead of refusing
}

func stdIO() mtaIO {
	return mtaIO{in: bufio.NewReader(os.Stdin), out: os.Stdout, err: os.Stderr,
		tty: isatty.IsTerminal(os.Stdin.Fd()) || isatty.IsCygwinTerminal(os.Stdin.Fd())}
}

func cmdRatio(args []string) error    { return runRatio(stdIO(), args) }
func cmdThrottle(args []string) error { return runThrottle(stdIO(), args) }
func cmdRollback(args []string) error { return runRollback(stdIO(), args) }
func cmdHistory(args []string) error  { return runHistory(stdIO(), args) }
func errRefused(what string) error {
	return fmt.Errorf("refusing to %s without --yes: stdin is not a terminal (the diff is above)", what)
}
func sanitizeBlock(s string) string    { return sanitizeLines(s) }
func plural(n int, s, p string) string { return map[bool]string{true: s, false: p}[n == 1] }

// parseInterleaved parses flags that may come before, between or after the
// positional arguments ("ratio set 30 --yes" and "ratio set --yes 30").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openController loads the config and opens its database and mtactl.
func openController(cfgPath string, readOnly bool) (*mtactl.Controller, *state.DB, error) {
	if cfgPath == "" {
		return nil, nil, fmt.Errorf("--config is required")
	}
	cfg, err := LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Mtactl == nil {
		return nil, nil, fmt.Errorf("%s: no [mtactl] section: cutover manages no MTA configuration", cfgPath)
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, readOnly)
	if err != nil {
		return nil, nil, err
	}
	c, err := mtactl.New(*cfg.Mtactl, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return c, db, nil
}

func runRatio(o mtaIO, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(o.err, "usage: cutover ratio show|set ...")
		return errUsage
	}
	switch args[0] {
	case "show":
		return runRatioShow(o, args[1:])
	case "set":
		return runRatioSet(o, args[1:])
	}
	fmt.Fprintln(o.err, "usage: cutover ratio show|set ...")
	return errUsage
}

func runRatioShow(o mtaIO, args []string) error {
	fs := newFlags("ratio show")
	fs.SetOutput(o.err)
	cfgPath := fs.String("config", "", "config file")
	asJSON := fs.Bool("json", false, "print the applied state as JSON")
	fs.Usage = func() {
		fmt.Fprintln(o.err, "usage: cutover ratio show --config FILE [--json]")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	c, db, err := openController(*cfgPath, false)
	if err != nil {
		return err
	}
	defer db.Close()
	cur := c.Current()
	if *asJSON {
		enc := json.NewEncoder(o.out)
		enc.SetIndent("", "  ")
		return enc.Encode(cur)
	}
	fmt.Fprintf(o.out, "ratio: %d%% new\n", cur.RatioNew)
	for _, isp := range sortedKeys(cur.PerISP) {
		fmt.Fprintf(o.out, "  %s: %d%% new\n", sanitizeCell(isp), cur.PerISP[isp])
	}
	steps := c.Steps()
	var ss []string
	for _, s := range steps {
		mark := ""
		if s == cur.RatioNew {
			mark = "*"
		}
		ss = append(ss, strconv.Itoa(s)+mark)
	}
	fmt.Fprintf(o.out, "steps: %s\n", strings.Join(ss, " "))
	if len(cur.Throttles) > 0 {
		fmt.Fprintln(o.out, "throttles (NEW side):")
		for _, isp := range sortedKeys(cur.Throttles) {
			over := ""
			if _, ok := cur.Overrides[isp]; ok {
				over = "  (override)"
			}
			fmt.Fprintf(o.out, "  %s: %s%s\n", sanitizeCell(isp), cur.Throttles[isp], over)
		}
	}
	fmt.Fprintf(o.out, "drivers: %s\n", strings.Join(c.Drivers(), ", "))
	return nil
}

func runRatioSet(o mtaIO, args []string) error {
	fs := newFlags("ratio set")
	fs.SetOutput(o.err)
	cfgPath := fs.String("config", "", "config file")
	isp := fs.String("isp", "", "set one provider's ratio instead of the global one")
	yes := fs.Bool("yes", false, "apply without asking (also overwrites drifted files)")
	fs.Usage = func() {
		fmt.Fprintln(o.err, "usage: cutover ratio set PCT [--isp NAME] [--yes] --config FILE")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	pct, err := strconv.Atoi(strings.TrimSuffix(pos[0], "%"))
	if err != nil || pct < 0 || pct > 100 {
		return fmt.Errorf("ratio %q: want a percentage 0-100", pos[0])
	}
	c, db, err := openController(*cfgPath, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if *isp != "" && !knownProvider(c, *isp) {
		return fmt.Errorf("--isp %q: not a configured provider (have %s)", *isp, strings.Join(c.Providers(), ", "))
	}
	ch, err := c.Plan(c.Current().WithRatio(pct, *isp))
	if err != nil {
		return err
	}
	cmd := "ratio set " + pos[0]
	if *isp != "" {
		cmd += " --isp " + *isp
	}
	return confirmApply(o, c, ch, cmd, *yes)
}

func runThrottle(o mtaIO, args []string) error {
	if len(args) == 0 || args[0] != "set" {
		fmt.Fprintln(o.err, "usage: cutover throttle set ISP --rate N/h --conn N [--yes] --config FILE")
		return errUsage
	}
	fs := newFlags("throttle set")
	fs.SetOutput(o.err)
	cfgPath := fs.String("config", "", "config file")
	rate := fs.String("rate", "", "messages per hour to the provider from the NEW side, e.g. 500/h")
	conn := fs.Int("conn", 0, "concurrent connections to the provider")
	perConn := fs.Int("per-conn", 0, "messages per connection")
	yes := fs.Bool("yes", false, "apply without asking (also overwrites drifted files)")
	fs.Usage = func() {
		fmt.Fprintln(o.err, "usage: cutover throttle set ISP --rate N/h --conn N [--per-conn N] [--yes] --config FILE")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	var t model.Throttle
	if *rate != "" {
		if t.PerHour, err = model.ParseRate(*rate); err != nil {
			return fmt.Errorf("--rate: %v", err)
		}
	}
	if *conn < 0 || *perConn < 0 {
		return fmt.Errorf("--conn and --per-conn must not be negative")
	}
	t.Connections, t.PerConnection = *conn, *perConn
	if t.IsZero() {
		fs.Usage()
		return errUsage
	}
	c, db, err := openController(*cfgPath, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if !knownProvider(c, pos[0]) {
		return fmt.Errorf("%q: not a configured provider (have %s)", pos[0], strings.Join(c.Providers(), ", "))
	}
	ch, err := c.Plan(c.Current().WithOverride(pos[0], t))
	if err != nil {
		return err
	}
	return confirmApply(o, c, ch, "throttle set "+pos[0]+" "+t.String(), *yes)
}

func runRollback(o mtaIO, args []string) error {
	fs := newFlags("rollback")
	fs.SetOutput(o.err)
	cfgPath := fs.String("config", "", "config file")
	to := fs.String("to", "", "restore the files as they were right before this change id (default: undo the last change)")
	yes := fs.Bool("yes", false, "apply without asking (also overwrites drifted files)")
	fs.Usage = func() {
		fmt.Fprintln(o.err, "usage: cutover rollback [--to ID] [--yes] --config FILE")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	c, db, err := openController(*cfgPath, false)
	if err != nil {
		return err
	}
	defer db.Close()
	ch, err := c.PlanRollback(*to)
	if err != nil {
		return err
	}
	cmd := "rollback"
	if *to != "" {
		cmd += " --to " + *to
	}
	return confirmApply(o, c, ch, cmd, *yes)
}

func runHistory(o mtaIO, args []string) error {
	fs := newFlags("history")
	fs.SetOutput(o.err)
	cfgPath := fs.String("config", "", "config file")
	asJSON := fs.Bool("json", false, "one JSON array of audit entries")
	fs.Usage = func() {
		fmt.Fprintln(o.err, "usage: cutover history [--json] --config FILE")
		fs.PrintDefaults()
	}
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	c, db, err := openController(*cfgPath, false)
	if err != nil {
		return err
	}
	defer db.Close()
	hist, err := c.History()
	if err != nil {
		return err
	}
	if *asJSON {
		if hist == nil {
			hist = []mtactl.AuditEntry{}
		}
		enc := json.NewEncoder(o.out)
		enc.SetIndent("", "  ")
		return enc.Encode(hist)
	}
	if len(hist) == 0 {
		fmt.Fprintln(o.out, "no changes yet")
		return nil
	}
	for _, e := range hist {
		fmt.Fprintln(o.out, sanitizeCell(e.Summary()))
		if e.Result == mtactl.ResultFailed && e.Error != "" {
			fmt.Fprintf(o.out, "    %s\n", sanitizeCell(e.Error))
		}
	}
	return nil
}

func knownProvider(c *mtactl.Controller, isp string) bool {
	for _, p := range c.Providers() {
		if p == isp {
			return true
		}
	}
	return false
}

// confirmApply prints the plan (diffs, drift, notes), asks or refuses
// without --yes, then applies it and reports the result.
func confirmApply(o mtaIO, c *mtactl.Controller, ch *mtactl.Change, command string, yes bool) error {
	fmt.Fprintf(o.out, "%s: %s -> %s\n", ch.Action, ch.From, ch.To)
	for _, n := range ch.Notes {
		fmt.Fprintf(o.out, "note: %s\n", sanitizeCell(n))
	}
	if ch.Empty() && len(ch.Drift) == 0 {
		fmt.Fprintln(o.out, "nothing to change: the files already say this")
		return nil
	}
	if d := ch.Diff(); d != "" {
		fmt.Fprint(o.out, sanitizeBlock(d))
		if !strings.HasSuffix(d, "\n") {
			fmt.Fprintln(o.out)
		}
	}
	if len(ch.Drift) > 0 {
		fmt.Fprintf(o.out, "DRIFT: %d managed %s edited behind cutover's back; applying overwrites:\n",
			len(ch.Drift), plural(len(ch.Drift), "file was", "files were"))
		for _, d := range ch.Drift {
			fmt.Fprintf(o.out, "--- drift in %s (%s)\n", sanitizeCell(d.Path), d.Driver)
			fmt.Fprint(o.out, sanitizeBlock(d.Diff))
		}
	}
	if !yes {
		if !o.tty {
			return errRefused(command)
		}
		if !ask(o, "Apply this change? (y/N) ") {
			return errors.New("cancelled")
		}
		if len(ch.Drift) > 0 && !ask(o, "Overwrite the drifted files shown above? (y/N) ") {
			return errors.New("cancelled: drift not accepted")
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	entry, err := c.Apply(ctx, ch, mtactl.CurrentWho("cutover "+command), mtactl.ApplyOptions{AcceptDrift: true})
	if err != nil {
		var ae *mtactl.ApplyError
		if errors.As(err, &ae) {
			return fmt.Errorf("apply failed: %s", sanitizeBlock(ae.Error()))
		}
		return err
	}
	fmt.Fprintln(o.out, sanitizeCell(entry.Summary()))
	return nil
}

func ask(o mtaIO, prompt string) bool {
	fmt.Fprint(o.out, prompt)
	line, _ := o.in.ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// sanitizeLines keeps newlines and tabs but strips terminal escapes from
// text that came from files or commands (diffs, checker output).
func sanitizeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = sanitizeCell(strings.ReplaceAll(l, "\t", "    "))
	}
	return strings.Join(lines, "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
