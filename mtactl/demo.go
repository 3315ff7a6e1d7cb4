package mtactl

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// DemoControl is the demo driver's file: the same fields, with the same
// names, as ingest/sim.Control, so the simulator's Control function can
// json.Unmarshal the file straight into a sim.Control (mtactl cannot import
// ingest, and the simulator does not import mtactl).
type DemoControl struct {
	RatioNew   int
	PerISP     map[string]int `json:",omitempty"`
	MaxPerHour map[string]int `json:",omitempty"`
}

// ReadDemoControl reads a demo control file (for the demo's wiring and
// tests).
func ReadDemoControl(path string) (DemoControl, error) {
	var c DemoControl
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

type demoDriver struct {
	cfg *DemoConfig
	r   *runner
}

func newDemo(cfg *DemoConfig, r *runner) *demoDriver { return &demoDriver{cfg: cfg, r: r} }

func (d *demoDriver) Name() string    { return "demo" }
func (d *demoDriver) LockDir() string { return dirOf(d.cfg.File) }

func (d *demoDriver) Files() []ManagedFile {
	return []ManagedFile{{Path: d.cfg.File, Perm: 0o644}}
}

func (d *demoDriver) Render(in RenderInput) (map[string]Managed, []string, error) {
	c := DemoControl{RatioNew: in.Desired.RatioNew}
	for _, isp := range sortedKeys(in.Desired.PerISP) {
		if c.PerISP == nil {
			c.PerISP = map[string]int{}
		}
		c.PerISP[isp] = in.Desired.PerISP[isp]
	}
	for _, isp := range sortedKeys(in.Desired.Throttles) {
		if t := in.Desired.Throttles[isp]; t.PerHour > 0 {
			if c.MaxPerHour == nil {
				c.MaxPerHour = map[string]int{}
			}
			c.MaxPerHour[isp] = t.PerHour
		}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	return map[string]Managed{d.cfg.File: {Whole: append(b, '\n')}}, nil, nil
}

func (d *demoDriver) Build(context.Context, []string) error { return nil }

// Validate reads the file back as the simulator will.
func (d *demoDriver) Validate(context.Context, []string) error {
	if _, err := os.Stat(d.cfg.File); os.IsNotExist(err) {
		return nil // rolled back to before the file existed
	}
	c, err := ReadDemoControl(d.cfg.File)
	if err == nil && (c.RatioNew < 0 || c.RatioNew > 100) {
		err = fmt.Errorf("ratio %d out of range", c.RatioNew)
	}
	if err != nil {
		return &StepError{Driver: d.Name(), Step: "validate", Err: err}
	}
	return nil
}

// Reload: the simulator polls the file; a configured command runs if set.
func (d *demoDriver) Reload(ctx context.Context, changed []string) (bool, error) {
	if len(d.cfg.Reload) == 0 || !slices.Contains(changed, d.cfg.File) {
		return false, nil
	}
	if res := d.r.run(ctx, d.cfg.Reload); res.Err != nil {
		return false, stepErr(d.Name(), "reload", res)
	}
	return true, nil
}
