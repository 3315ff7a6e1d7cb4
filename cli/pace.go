package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
)

// cutover pace: the pacer's overlays (wave2 §7.4). list, apply and clear run
// on this process's database or, while an owner holds it, in the owner
// (pace.* socket ops); test is pure: which rule a reply fires, what it does.

func newPaceCmd(o cmdIO) *cobra.Command {
	return group(&cobra.Command{Use: "pace", Short: "pacing on provider pushback: overlays, suggestions, rule test",
		Example: "  cutover pace list --config cutover.toml", DisableFlagsInUseLine: true,
		Annotations: map[string]string{annExit: defaultExit}},
		newPaceListCmd(o), newPaceApplyCmd(o), newPaceClearCmd(o), newPaceTestCmd(o))
}

// pacer is the local *owner.Pacer or the owner's over its socket.
type pacer interface {
	List() (owner.PaceList, error)
	Preview(id string) (string, error)
	Apply(ctx context.Context, id string) (owner.PaceItem, error)
	Clear(ctx context.Context, id, isp string) ([]owner.PaceItem, error)
}

type localPacer struct{ p *owner.Pacer }

func (l localPacer) List() (owner.PaceList, error)     { return l.p.List() }
func (l localPacer) Preview(id string) (string, error) { return l.p.Preview(id) }
func (l localPacer) Apply(ctx context.Context, id string) (owner.PaceItem, error) {
	return l.p.Apply(ctx, id, mtactl.CurrentWho("cutover pace apply "+id))
}
func (l localPacer) Clear(ctx context.Context, id, isp string) ([]owner.PaceItem, error) {
	return l.p.Clear(ctx, id, isp, mtactl.CurrentWho("cutover pace clear "+id+isp))
}

type remotePacer struct {
	call func(ctx context.Context, op string, req, resp any) error
}

func (r remotePacer) do(op string, req owner.PaceRequest, resp any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return r.call(ctx, op, req, resp)
}
func (r remotePacer) List() (l owner.PaceList, err error) {
	err = r.do(owner.OpPaceList, owner.PaceRequest{}, &l)
	return
}
func (r remotePacer) Preview(id string) (string, error) {
	var p owner.PacePreviewReply
	err := r.do(owner.OpPacePreview, owner.PaceRequest{ID: id}, &p)
	return p.Diff, err
}
func (r remotePacer) Apply(_ context.Context, id string) (it owner.PaceItem, err error) {
	err = r.do(owner.OpPaceApply, owner.PaceRequest{ID: id}, &it)
	return
}
func (r remotePacer) Clear(_ context.Context, id, isp string) (its []owner.PaceItem, err error) {
	err = r.do(owner.OpPaceClear, owner.PaceRequest{ID: id, ISP: isp}, &its)
	return
}

// openPacer opens the database and mtactl of the config, or attaches to
// the owner holding it.
func openPacer(cfgPath string, readOnly bool, command string) (pacer, func(), error) {
	if cfgPath == "" {
		return nil, nil, fmt.Errorf("--config is required")
	}
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	rules, err := cfg.PacingRules()
	if err != nil {
		return nil, nil, err
	}
	db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, false)
	if err == nil {
		p := &owner.Pacer{Rules: rules, DB: db, Thresholds: model.DefaultThresholds()}
		if cfg.Mtactl != nil {
			c, err := mtactl.New(*cfg.Mtactl, db)
			if err != nil {
				db.Close()
				return nil, nil, err
			}
			p.Control = c
		}
		return localPacer{p}, func() { db.Close() }, nil
	}
	cl, err := attachOwner(cfg.Database.Path, readOnly, command, err)
	if err != nil {
		return nil, nil, err
	}
	return remotePacer{call: cl.Call}, func() { cl.Close() }, nil
}

func newPaceListCmd(o cmdIO) *cobra.Command {
	var cfgPath string
	var asJSON bool
	c := command("list --config FILE [--json]", "active, queued and suggested overlays, and their history",
		"  cutover pace list --config cutover.toml", noArgs,
		func(_ *cobra.Command, _ []string) error {
			p, done, err := openPacer(cfgPath, true, "pace list")
			if err != nil {
				return err
			}
			defer done()
			l, err := p.List()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(o.out, l)
			}
			printPaceList(o.out, l)
			return nil
		})
	configFlag(c, &cfgPath, "")
	jsonFlag(c, &asJSON, "print the list as JSON")
	return c
}

func printPaceList(w io.Writer, l owner.PaceList) {
	fmt.Fprintf(w, "pacing mode: %s\n", l.Mode)
	sec := func(name string, items []owner.PaceItem) {
		fmt.Fprintf(w, "%s: %d\n", name, len(items))
		for _, it := range items {
			fmt.Fprintf(w, "  %s  %s  %s\n", sanitizeCell(it.ID), sanitizeCell(it.Rule), sanitizeCell(it.Change))
			if it.Next != "" {
				fmt.Fprintf(w, "      next: %s\n", sanitizeCell(it.Next))
			}
			if it.Waiting != "" {
				fmt.Fprintf(w, "      waiting: %s\n", sanitizeCell(it.Waiting))
			}
			if it.Trigger != "" {
				fmt.Fprintf(w, "      trigger: %s\n", sanitizeCell(it.Trigger))
			}
			if it.Sample != "" {
				fmt.Fprintf(w, "      reply: %s\n", sanitizeCell(it.Sample))
			}
			for _, a := range it.Applies {
				fmt.Fprintf(w, "      applied %s by %s: %s (audit %s)\n", a.At.Format(time.DateTime), sanitizeCell(a.Who), sanitizeCell(a.Change), sanitizeCell(a.AuditID))
			}
		}
	}
	sec("active", l.Active)
	sec("queued", l.Queued)
	sec("suggested", l.Suggested)
	if len(l.Dismissed) > 0 {
		sec("dismissed", l.Dismissed)
	}
	sec("history", l.History)
}

func newPaceApplyCmd(o cmdIO) *cobra.Command {
	var cfgPath string
	var yes bool
	c := command("apply ID --config FILE [--yes]", "apply a suggested overlay (the diff first)",
		"  cutover pace apply google.gmail-rate.1796033160 --config cutover.toml", oneArg,
		func(_ *cobra.Command, args []string) error {
			p, done, err := openPacer(cfgPath, false, "pace apply")
			if err != nil {
				return err
			}
			defer done()
			diff, err := p.Preview(args[0])
			if err != nil {
				return err
			}
			fmt.Fprint(o.out, sanitizeBlock(diff))
			if !strings.HasSuffix(diff, "\n") {
				fmt.Fprintln(o.out)
			}
			if !yes {
				if !o.tty {
					return errRefused("pace apply")
				}
				if !ask(o, "Apply this overlay? (y/N) ") {
					return errors.New("cancelled")
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			it, err := p.Apply(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(o.out, "%s: %s\n", sanitizeCell(it.ID), sanitizeCell(it.State))
			if it.Waiting != "" {
				fmt.Fprintf(o.out, "queued: %s\n", sanitizeCell(it.Waiting))
			}
			return nil
		})
	configFlag(c, &cfgPath, "")
	yesFlag(c, &yes)
	return c
}

func newPaceClearCmd(o cmdIO) *cobra.Command {
	var cfgPath, isp string
	var yes bool
	c := command("clear (ID | --isp NAME) --config FILE [--yes]", "end overlays now (restore steps skipped)",
		"  cutover pace clear --isp yahoo --config cutover.toml",
		func(args []string) bool { return len(args) == 1 && isp == "" || len(args) == 0 && isp != "" },
		func(_ *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			p, done, err := openPacer(cfgPath, false, "pace clear")
			if err != nil {
				return err
			}
			defer done()
			l, err := p.List()
			if err != nil {
				return err
			}
			n := 0
			for _, it := range l.Items() {
				if (id != "" && it.ID == id || isp != "" && it.ISP == isp) && it.State != model.OverlayEnded {
					fmt.Fprintf(o.out, "ends: %s  %s  %s\n", sanitizeCell(it.ID), sanitizeCell(it.Rule), sanitizeCell(it.Change))
					n++
				}
			}
			if n == 0 {
				if id != "" {
					return fmt.Errorf("%s: %w", sanitizeCell(id), owner.ErrNoOverlay)
				}
				return fmt.Errorf("no live overlay for %s", sanitizeCell(isp))
			}
			if !yes {
				if !o.tty {
					return errRefused("pace clear")
				}
				if !ask(o, "End these overlays now? (y/N) ") {
					return errors.New("cancelled")
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			its, err := p.Clear(ctx, id, isp)
			for _, it := range its {
				fmt.Fprintf(o.out, "%s: %s\n", sanitizeCell(it.ID), sanitizeCell(it.Change))
			}
			return err
		})
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&isp, "isp", "", "end every live overlay of this provider")
	yesFlag(c, &yes)
	return c
}

// PaceTest is the JSON of pace test.
type paceTestOut struct {
	Reply     string          `json:"reply"`
	Signature string          `json:"signature,omitempty"`
	Matches   []paceTestMatch `json:"matches"`
	Fires     string          `json:"fires,omitempty"`
	Change    string          `json:"change,omitempty"`
	Warn      string          `json:"warn,omitempty"`
}

type paceTestMatch struct {
	Rule     string `json:"rule"`
	ISP      string `json:"isp"`
	Trigger  string `json:"trigger"`
	Action   string `json:"action"`
	Duration string `json:"duration"`
}

func newPaceTestCmd(o cmdIO) *cobra.Command {
	var cfgPath, reply, isp string
	var asJSON bool
	c := command("test --config FILE --reply TEXT [--isp NAME] [--json]", "which pacing rule a reply fires and the change it makes",
		`  cutover pace test --config c.toml --reply "421 4.7.0 [TSS04] deferred"`, noArgs,
		func(_ *cobra.Command, _ []string) error {
			if reply == "" {
				return fmt.Errorf("--reply is required")
			}
			return paceTest(o, cfgPath, reply, isp, asJSON)
		})
	configFlag(c, &cfgPath, "")
	c.Flags().StringVar(&reply, "reply", "", "the remote server's reply text")
	c.Flags().StringVar(&isp, "isp", "", "the provider that answered (default: the reply's provider signature)")
	jsonFlag(c, &asJSON, "print the result as JSON")
	return c
}

func paceTest(o cmdIO, cfgPath, reply, isp string, asJSON bool) error {
	if cfgPath == "" {
		return fmt.Errorf("--config is required")
	}
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	rules, err := cfg.PacingRules()
	if err != nil {
		return err
	}
	out := paceTestOut{Reply: reply}
	if sig, ok := model.NamedSignature(reply); ok {
		out.Signature = sig
	}
	ms := rules.MatchReply(reply, isp)
	target := isp
	for _, m := range ms {
		out.Matches = append(out.Matches, paceTestMatch{Rule: m.Rule.Name, ISP: m.Rule.ISP, Trigger: m.Rule.TriggerText(),
			Action: m.Rule.Action.String(), Duration: m.Rule.DurationText()})
		if target == "" && m.ISP != "*" {
			target = m.ISP
		}
	}
	if len(ms) > 0 {
		r := ms[0].Rule
		out.Fires = r.Name
		if target == "" {
			target = "the provider that answered"
		}
		canShift := cfg.Mtactl == nil || cfg.Mtactl.Postfix == nil || cfg.Mtactl.Postfix.Front == nil
		ov := model.NewOverlay(r, target, time.Now(), rules.FloorScale, canShift)
		out.Warn = ov.Warn
		out.Change = paceChange(cfg, ov, r)
	}
	if asJSON {
		return printJSON(o.out, out)
	}
	fmt.Fprintf(o.out, "reply: %s\n", sanitizeCell(reply))
	if out.Signature != "" {
		fmt.Fprintf(o.out, "signature: %s\n", out.Signature)
	}
	if len(ms) == 0 {
		fmt.Fprintln(o.out, "no pacing rule matches this reply")
		return nil
	}
	fmt.Fprintln(o.out, "rules that match, in priority order (the first one that fires for a provider acts):")
	for i, m := range out.Matches {
		fmt.Fprintf(o.out, "  %d. %s  isp %s  trigger %s  action %s  for %s\n", i+1, m.Rule, m.ISP, m.Trigger, m.Action, m.Duration)
	}
	fmt.Fprintf(o.out, "fires: %s\n", out.Fires)
	fmt.Fprintf(o.out, "change: %s\n", sanitizeCell(out.Change))
	if out.Warn != "" {
		fmt.Fprintf(o.out, "WARN: %s\n", sanitizeCell(out.Warn))
	}
	return nil
}

// paceChange says what the overlay does, with the applied values when the
// database can be read (the plan's throttle and share of the provider).
func paceChange(cfg *owner.Config, ov model.Overlay, r *model.CompiledRule) string {
	dur := "for " + r.DurationText()
	if r.Manual {
		dur = "until cleared (pace clear)"
	}
	var cur *model.Desired
	if cfg.Mtactl != nil {
		if db, err := openDB(cfg.Database.Path, cfg.Database.AllowNetworkFS, true); err == nil {
			if c, err := mtactl.New(*cfg.Mtactl, db); err == nil {
				d := c.Current()
				cur = &d
			}
			db.Close()
		}
	}
	if ov.Action.ShiftOld {
		if cur != nil {
			return fmt.Sprintf("%s NEW ratio %d%% → 0%% (its mail goes to OLD) %s", ov.ISP, cur.RatioFor(ov.ISP), dur)
		}
		return fmt.Sprintf("%s NEW ratio → 0%% (its mail goes to OLD) %s", ov.ISP, dur)
	}
	full, _ := ov.WantPct(ov.Started, 0)
	steps := ""
	for _, s := range r.Steps {
		steps += fmt.Sprintf(", then %d%% for %s", s.Pct, s.For)
	}
	if cur != nil {
		if t, ok := cur.Throttles[ov.ISP]; ok {
			ov.Base = t
			return fmt.Sprintf("%s %s → %s %s%s", ov.ISP, t, ov.EffectiveThrottle(full), dur, steps)
		}
	}
	return fmt.Sprintf("%s per_hour and connections × %g (floor 1) %s%s", ov.ISP, float64(full)/100, dur, steps)
}
