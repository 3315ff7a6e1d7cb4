package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	"cutover/ui/attach"
)

// The commands that change the MTAs' configuration through mtactl: for
// scripts and on-call. Every change shows its diff first; without --yes it is
// confirmed with (y/N) on a terminal and refused (exit 1) anywhere else.

func errRefused(what string) error {
	return fmt.Errorf("refusing to %s without --yes: stdin is not a terminal (the diff is above)", what)
}
func sanitizeBlock(s string) string    { return sanitizeLines(s) }
func plural(n int, s, p string) string { return map[bool]string{true: s, false: p}[n == 1] }

// control is what the mtactl commands drive: this process's own
// *mtactl.Controller, or, while another process (serve, a cockpit) owns the
// database, that owner's controller over its socket. The owner then plans,
// applies and audits, recording the caller's user (from the kernel) and SSH
// client, not its own.
type control interface {
	Current() model.Desired
	Steps() model.Steps
	Providers() []string
	Drivers() []string
	Plan(d model.Desired) (*mtactl.Change, error)
	PlanRollback(id string) (*mtactl.Change, error)
	Apply(ctx context.Context, ch *mtactl.Change, who mtactl.Who, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error)
	History() ([]mtactl.AuditEntry, error)
}

// remoteControl is the owner's controller seen through attach.Remote.
type remoteControl struct {
	r  *attach.Remote
	st attach.ControlState
}

func (c remoteControl) Current() model.Desired { return c.st.Current }
func (c remoteControl) Steps() model.Steps     { return model.Steps(c.st.Steps) }
func (c remoteControl) Providers() []string    { return c.st.Providers }
func (c remoteControl) Drivers() []string      { return c.st.Drivers }
func (c remoteControl) Plan(d model.Desired) (*mtactl.Change, error) {
	return c.r.Plan(d)
}
func (c remoteControl) PlanRollback(id string) (*mtactl.Change, error) {
	return c.r.PlanRollback(id)
}
func (c remoteControl) History() ([]mtactl.AuditEntry, error) { return c.r.History() }

// Apply ignores who: the owner records the identity of the connection.
func (c remoteControl) Apply(ctx context.Context, ch *mtactl.Change, _ mtactl.Who, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	return c.r.Apply(ctx, ch, opt)
}

// openControl opens the config's database and mtactl, or attaches to the
// owner when another process holds the database (read-only for show and
// history: such a session cannot plan or apply).
func openControl(cfgPath string, readOnly bool, command string) (control, func(), error) {
	if cfgPath == "" {
		return nil, nil, fmt.Errorf("--config is required")
	}
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Mtactl == nil {
		return nil, nil, fmt.Errorf("%s: no [mtactl] section: cutover manages no MTA configuration", cfgPath)
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if err == nil {
		c, err := mtactl.New(*cfg.Mtactl, db)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		for _, n := range c.Notices() {
			fmt.Fprintf(os.Stderr, "notice: %s\n", sanitizeCell(n))
		}
		return c, func() { db.Close() }, nil
	}
	cl, err := attachOwner(cfg.Database.Path, readOnly, command, err)
	if err != nil {
		return nil, nil, err
	}
	r := cl.Control()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := r.State(ctx)
	if err != nil {
		cl.Close()
		if errors.Is(err, attach.ErrNoControl) {
			w := cl.Welcome()
			return nil, nil, fmt.Errorf("the owner of %s (%s, pid %d) runs without an [mtactl] section: restart it with this config, or stop it", cfg.Database.Path, sanitizeCell(w.Owner.Command), w.Owner.PID)
		}
		return nil, nil, err
	}
	return remoteControl{r: r, st: st}, func() { cl.Close() }, nil
}

// attachOwner dials the owner of dbPath after openErr (the open of the
// database) failed: only a *state.LockedError means someone owns it; the
// error then says why the socket did not answer either.
func attachOwner(dbPath string, readOnly bool, command string, openErr error) (*attach.Client, error) {
	var le *state.LockedError
	if !errors.As(openErr, &le) {
		return nil, openErr
	}
	cl, err := dialOwner(dbPath, readOnly, command, nil)
	if err != nil {
		sock := attach.SocketPath(dbPath)
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%v; its socket %s: %w (the owner allows its own user, root and the [control] group)", openErr, sock, err)
		}
		return nil, fmt.Errorf("%v (and nothing answers on %s: %s)", openErr, sock, shortDialErr(err))
	}
	return cl, nil
}

func newRatioCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "ratio", Short: "show or set the share of traffic on the NEW side",
		Example: "  cutover ratio show --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, newRatioShowCmd(o), newRatioSetCmd(o))
}

func newRatioShowCmd(o cmdIO) *cobra.Command {
	var cfgPath string
	var asJSON bool
	c := command("show --config FILE [--json]", "the applied OLD/NEW split and throttles",
		"  cutover ratio show --config cutover.toml", noArgs,
		func(_ *cobra.Command, _ []string) error { return ratioShow(o, cfgPath, asJSON) })
	configFlag(c, &cfgPath, "")
	jsonFlag(c, &asJSON, "print the applied state as JSON")
	return c
}

func ratioShow(o cmdIO, cfgPath string, asJSON bool) error {
	c, done, err := openControl(cfgPath, true, "ratio show")
	if err != nil {
		return err
	}
	defer done()
	cur := c.Current()
	if asJSON {
		return printJSON(o.out, cur)
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

func newRatioSetCmd(o cmdIO) *cobra.Command {
	var cfgPath, isp string
	var yes bool
	c := command("set PCT [--isp NAME] [--yes] --config FILE", "route PCT percent of the traffic to NEW",
		"  cutover ratio set 30 --isp google --config cutover.toml", oneArg,
		func(_ *cobra.Command, args []string) error { return ratioSet(o, cfgPath, args[0], isp, yes) })
	c.Long = `Shows the diff of the MTA configuration, asks (y/N) on a terminal and
applies it through mtactl: validate, reload, audit. Without --yes and
without a terminal it refuses (exit 1).`
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&isp, "isp", "", "set one provider's ratio instead of the global one")
	yesFlag(c, &yes)
	c.RegisterFlagCompletionFunc("isp", completeProviders)
	c.Annotations["env"] = envChange
	return c
}

func ratioSet(o cmdIO, cfgPath, arg, isp string, yes bool) error {
	pct, err := strconv.Atoi(strings.TrimSuffix(arg, "%"))
	if err != nil || pct < 0 || pct > 100 {
		return fmt.Errorf("ratio %q: want a percentage 0-100", arg)
	}
	c, done, err := openControl(cfgPath, false, "ratio set")
	if err != nil {
		return err
	}
	defer done()
	if isp != "" && !knownProvider(c, isp) {
		return fmt.Errorf("--isp %q: not a configured provider (have %s)", isp, strings.Join(c.Providers(), ", "))
	}
	ch, err := c.Plan(c.Current().WithRatio(pct, isp))
	if err != nil {
		return err
	}
	cmd := "ratio set " + arg
	if isp != "" {
		cmd += " --isp " + isp
	}
	return confirmApply(o, c, ch, cmd, yes)
}

func newThrottleCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "throttle", Short: "limit what the NEW side sends to one provider",
		Example: "  cutover throttle set yahoo --rate 400/h --conn 3 --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}}, newThrottleSetCmd(o))
}

type throttleFlags struct {
	cfgPath, rate string
	conn, perConn int
	yes           bool
}

func newThrottleSetCmd(o cmdIO) *cobra.Command {
	var f throttleFlags
	c := command("set ISP --rate N/h --conn N [--per-conn N] --config FILE",
		"set a provider's rate and connection limits on the NEW side",
		"  cutover throttle set yahoo --rate 400/h --conn 3 --config cutover.toml", oneArg,
		func(cmd *cobra.Command, args []string) error { return throttleSet(o, cmd, f, args[0]) })
	configFlag(c, &f.cfgPath, "")
	fl := c.Flags()
	fl.StringVar(&f.rate, "rate", "", "messages per hour to the provider from the NEW side, e.g. 500/h")
	fl.IntVar(&f.conn, "conn", 0, "concurrent connections to the provider")
	fl.IntVar(&f.perConn, "per-conn", 0, "messages per connection")
	yesFlag(c, &f.yes)
	c.ValidArgsFunction = completeProviders
	c.Annotations["env"] = envChange
	return c
}

func throttleSet(o cmdIO, cmd *cobra.Command, f throttleFlags, isp string) error {
	var t model.Throttle
	var err error
	if f.rate != "" {
		if t.PerHour, err = model.ParseRate(f.rate); err != nil {
			return fmt.Errorf("--rate: %v", err)
		}
	}
	if f.conn < 0 || f.perConn < 0 {
		return fmt.Errorf("--conn and --per-conn must not be negative")
	}
	t.Connections, t.PerConnection = f.conn, f.perConn
	if t.IsZero() {
		return usage(cmd)
	}
	c, done, err := openControl(f.cfgPath, false, "throttle set")
	if err != nil {
		return err
	}
	defer done()
	if !knownProvider(c, isp) {
		return fmt.Errorf("%q: not a configured provider (have %s)", isp, strings.Join(c.Providers(), ", "))
	}
	ch, err := c.Plan(c.Current().WithOverride(isp, t))
	if err != nil {
		return err
	}
	return confirmApply(o, c, ch, "throttle set "+isp+" "+t.String(), f.yes)
}

func newRollbackCmd(o cmdIO) *cobra.Command {
	var cfgPath, to string
	var yes bool
	c := command("rollback [--to ID] [--yes] --config FILE", "undo the last change (or restore the files before ID)",
		"  cutover rollback --to 7 --config cutover.toml", noArgs,
		func(_ *cobra.Command, _ []string) error { return rollback(o, cfgPath, to, yes) })
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&to, "to", "", "restore the files as they were right before this change id (default: undo the last change)")
	yesFlag(c, &yes)
	c.RegisterFlagCompletionFunc("to", completeAuditIDs)
	c.Annotations["env"] = envChange
	return c
}

func rollback(o cmdIO, cfgPath, to string, yes bool) error {
	c, done, err := openControl(cfgPath, false, "rollback")
	if err != nil {
		return err
	}
	defer done()
	ch, err := c.PlanRollback(to)
	if err != nil {
		return err
	}
	line := "rollback"
	if to != "" {
		line += " --to " + to
	}
	return confirmApply(o, c, ch, line, yes)
}

func newHistoryCmd(o cmdIO) *cobra.Command {
	var cfgPath string
	var asJSON bool
	c := command("history [--json] --config FILE", "every change mtactl made, with its result",
		"  cutover history --json --config cutover.toml", noArgs,
		func(_ *cobra.Command, _ []string) error { return printHistory(o, cfgPath, asJSON) })
	configFlag(c, &cfgPath, "")
	jsonFlag(c, &asJSON, "one JSON array of audit entries")
	return c
}

func printHistory(o cmdIO, cfgPath string, asJSON bool) error {
	c, done, err := openControl(cfgPath, true, "history")
	if err != nil {
		return err
	}
	defer done()
	hist, err := c.History()
	if err != nil {
		return err
	}
	if asJSON {
		if hist == nil {
			hist = []mtactl.AuditEntry{}
		}
		return printJSON(o.out, hist)
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

func knownProvider(c control, isp string) bool {
	for _, p := range c.Providers() {
		if p == isp {
			return true
		}
	}
	return false
}

// confirmApply prints the plan (diffs, drift, notes), asks or refuses
// without --yes, then applies it and reports the result.
func confirmApply(o cmdIO, c control, ch *mtactl.Change, command string, yes bool) error {
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
		var re *attach.RemoteError
		if errors.As(err, &re) && entry.ID != "" {
			// the owner's *mtactl.ApplyError: the change was recorded
			return fmt.Errorf("apply failed: %s", sanitizeBlock(re.Msg))
		}
		return err
	}
	fmt.Fprintln(o.out, sanitizeCell(entry.Summary()))
	return nil
}

func ask(o cmdIO, prompt string) bool {
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
