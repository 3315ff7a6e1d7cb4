package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	"cutover/ui"
)

// uiFlags are the cockpit's flags; the root command has them too, so that
// "cutover --config FILE" opens the cockpit.
type uiFlags struct {
	cfgPath, metricsAddr string
	readOnly             bool
}

func (f *uiFlags) register(c *cobra.Command) {
	configFlag(c, &f.cfgPath, "config file (see cutover init)")
	c.Flags().BoolVar(&f.readOnly, "read-only", false, "attach to the process that owns the database, without control keys")
	c.Flags().StringVar(&f.metricsAddr, "metrics-listen", "", "serve Prometheus metrics on ADDR while this cockpit owns the database")
	noMouseFlag(c)
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["env"] = envCockpit
}

func newUICmd() *cobra.Command {
	var f uiFlags
	c := command("ui --config FILE [--read-only] [--metrics-listen ADDR]",
		"follow the configured sources and open the cockpit",
		"  cutover ui --config cutover.toml --read-only",
		func([]string) bool { return f.cfgPath != "" },
		func(_ *cobra.Command, _ []string) error { return runUI(f) })
	c.Long = `Opens the cockpit on the configured sources. When another process owns the
database (cutover serve, or another cockpit), it attaches to that owner as a
viewer; --read-only attaches without control keys. "cutover --config FILE"
is the same command.`
	f.register(c)
	return c
}

// runUI follows the configured sources in this process and opens the
// cockpit on them, or attaches to the process that owns the database.
func runUI(f uiFlags) error {
	if f.cfgPath == "" {
		return errors.New("--config is required")
	}
	cfg, err := owner.LoadConfig(f.cfgPath)
	if err != nil {
		return err
	}
	if attached, err := attachIfOwned(cfg.Database.Path, f.readOnly, nil); attached {
		return err
	}
	metricsExposureWarning(f.metricsAddr, cfg.Control.MetricsListen)
	var prog progHolder
	start := func() (*owner.Owner, error) {
		return owner.Start(cfg, owner.Options{Command: "cockpit", MetricsListen: f.metricsAddr, OnChange: prog.changed, Ops: append([]owner.Op{queryOp()}, planOps()...)})
	}
	own, err := start()
	var le *state.LockedError
	if err != nil && errors.As(err, &le) {
		if attached, aerr := attachIfOwned(cfg.Database.Path, f.readOnly, err); attached {
			return aerr
		}
		// The viewer took ownership after the owner went away.
		own, err = start()
	}
	if err != nil {
		return err
	}
	var control ui.Control
	if own.Control != nil {
		control = ui.LocalControl{C: own.Control}
	}
	return runCockpit(own, &prog, control)
}

// noMouse is --no-mouse: the cockpit leaves the mouse to the terminal (its
// own text selection) instead of taking wheel and clicks.
var noMouse bool

func noMouseFlag(c *cobra.Command) {
	c.Flags().BoolVar(&noMouse, "no-mouse", false, "leave the mouse to the terminal (no wheel scrolling or clicks in the cockpit)")
}

// cockpitProgram is the cockpit's program: the alternate screen, and mouse
// reports (wheel, clicks) unless --no-mouse.
func cockpitProgram(m tea.Model) *tea.Program {
	opts := []tea.ProgramOption{tea.WithAltScreen()}
	if !noMouse {
		opts = append(opts, tea.WithMouseCellMotion())
	}
	return tea.NewProgram(m, opts...)
}

// runCockpit runs the owner (ingest and runners) in a goroutine and the
// cockpit in the foreground; quitting the cockpit stops the owner after a
// last commit and closes it.
func runCockpit(own *owner.Owner, prog *progHolder, control ui.Control) error {
	defer own.Close()
	// The owner is never read-only: without mtactl its ratio is "not
	// managed", which the header and the refused keys say.
	opt := ui.Options{Thresholds: own.Thresholds, Clock: own.Clock(), Control: control,
		QuitCheck: func() string {
			switch n := own.Viewers(); n {
			case 0:
				return ""
			case 1:
				return "1 viewer attached; quit and stop following?"
			default:
				return fmt.Sprintf("%d viewers attached; quit and stop following?", n)
			}
		},
		ASCII: ui.ASCIILocale()}
	if own.Config != nil && own.Config.DNS.Configured() {
		opt.DNS = owner.DNSSource(own.DB) // header word and D view
	}
	if own.Pacer != nil && own.Pacer.Rules.Mode != "off" {
		opt.Pace = own.Pacer.UISource() // PACE marks and the p view
	}
	opt.Plan = ownerPlanOps(own) // header segment and P view
	var mc *mtactl.Config
	if own.Config != nil {
		mc = own.Config.Mtactl
	}
	opt.Audit = auditSource(own.DB, mc, own.Clock()) // A view
	opt.Alerts = owner.LocalAlerts(own)              // header alert bar, ! and k
	m := ui.New(own.Data, opt)
	p := cockpitProgram(m)
	prog.set(p)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		own.Run(ctx, 250*time.Millisecond) // its failure shows in the sources and is returned below
	}()
	_, uerr := p.Run()
	cancel()
	wg.Wait()
	if uerr != nil {
		return uerr
	}
	return own.Err()
}

// metricsExposureWarning prints the owner's warning for a metrics address
// off loopback before the cockpit takes the screen (the cockpit's owner
// logs nowhere); it stays in the terminal's scrollback.
func metricsExposureWarning(flag, fromConfig string) {
	addr := flag
	if addr == "" {
		addr = fromConfig
	}
	if addr == "" {
		return
	}
	if ta, err := net.ResolveTCPAddr("tcp", addr); err == nil {
		if w := owner.MetricsExposure(ta); w != "" {
			fmt.Fprintln(os.Stderr, "cutover: warning: "+w)
		}
	}
}
