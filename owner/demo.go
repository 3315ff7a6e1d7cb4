package owner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cutover/ingest"
	"cutover/ingest/pmta"
	"cutover/ingest/postfix"
	"cutover/ingest/sim"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/ui"
)

// DemoControl is the simulated MTAs' view of what mtactl wrote: the demo
// driver's JSON file in the workspace, read again every simulated minute
// (the last good value is kept when a read fails, e.g. mid-rename on a
// filesystem without atomic rename). Moving the slider in the demo cockpit
// applies through mtactl into that file, so traffic moves between OLD and
// NEW exactly as the file says.
type DemoControl struct {
	path  string
	mu    sync.Mutex
	c     sim.Control
	steps []int
	// Start is the simulated cutover start shown in the header.
	Start time.Time
}

// Get is what the simulated MTAs do now.
func (d *DemoControl) Get() sim.Control {
	dc, err := mtactl.ReadDemoControl(d.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil {
		d.c = sim.Control{RatioNew: dc.RatioNew, PerISP: dc.PerISP, MaxPerHour: dc.MaxPerHour}
	}
	return d.c
}

// Plan implements ui.PlanProvider.
func (d *DemoControl) Plan() ui.Plan {
	c := d.Get()
	d.mu.Lock()
	defer d.mu.Unlock()
	p := ui.Plan{RatioNew: float64(c.RatioNew), Step: -1, Start: d.Start}
	for i, s := range d.steps {
		name := "baseline"
		if i > 0 {
			name = fmt.Sprintf("week %d", i)
		}
		p.Steps = append(p.Steps, ui.PlanStep{Name: name, RatioNew: float64(s)})
		if s == c.RatioNew {
			p.Step = i
		}
	}
	return p
}

// DemoProviders are the simulated providers' main domains, for mtactl.
var DemoProviders = map[string][]string{
	"google":    {"gmail.com", "googlemail.com"},
	"microsoft": {"hotmail.com", "outlook.com", "live.com", "msn.com"},
	"yahoo":     {"yahoo.com", "aol.com", "ymail.com", "rocketmail.com"},
	"apple":     {"icloud.com", "me.com"},
}

// DemoMtactl configures mtactl with its demo driver writing into the
// workspace, and applies the initial ratio when the file does not exist yet
// or --ratio was given.
func DemoMtactl(dir string, db *state.DB, ratio int, force bool) (*mtactl.Controller, *DemoControl, error) {
	file := filepath.Join(dir, "mta", "demo-control.json")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, nil, err
	}
	c, err := mtactl.New(mtactl.Config{
		Providers: DemoProviders,
		// The demo's NEW IPs are warm: throttles follow the OLD side's
		// peak hourly volume with headroom for the simulated day's swings,
		// without warm-up caps that would hold most of the mail. Basis peak:
		// a demo has hours, not weeks, of history, so the p95 hour of the
		// 14-day window would be an empty hour.
		Throttle: model.ThrottlePolicy{Warm: true, Margin: 1.5, Basis: model.BasisPeak},
		Demo:     &mtactl.DemoConfig{File: file},
	}, db)
	if err != nil {
		return nil, nil, err
	}
	_, statErr := os.Stat(file)
	if force || os.IsNotExist(statErr) {
		ch, err := c.Plan(c.Current().WithRatio(ratio, ""))
		if err != nil {
			return nil, nil, err
		}
		if !ch.Empty() || len(ch.Drift) > 0 {
			who := mtactl.CurrentWho(fmt.Sprintf("cutover demo --ratio %d", ratio))
			if _, err := c.Apply(context.Background(), ch, who, mtactl.ApplyOptions{AcceptDrift: true}); err != nil {
				return nil, nil, err
			}
		}
	}
	ctl := &DemoControl{path: file, c: sim.Control{RatioNew: ratio}}
	for _, st := range c.Steps() {
		ctl.steps = append(ctl.steps, st)
	}
	ctl.Get()
	return c, ctl, nil
}

// DemoSpecs are the demo's two sources: the old Postfix and the new PowerMTA.
func DemoSpecs(logs string, s *sim.Sim) []ingest.SourceSpec {
	return []ingest.SourceSpec{
		{Name: "old-postfix", Kind: "postfix", Side: model.SideOld, MTA: "postfix-old", Globs: []string{filepath.Join(logs, sim.OldGlob)},
			Parser: postfix.New(postfix.Options{Location: s.Location(), Now: s.Clock, IgnoreMTime: true})},
		{Name: "new-pmta", Kind: "pmta", Side: model.SideNew, MTA: "pmta-new", Globs: []string{filepath.Join(logs, sim.NewGlob)},
			Parser: pmta.New(pmta.Options{Location: s.Location()})},
	}
}
