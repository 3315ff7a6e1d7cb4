package owner

import (
	"sync"
	"time"

	"cutover/state/plan"
	"cutover/ui"
)

// ownerPlan is the owner's one Planner: the checkpoint log has one writer.
type ownerPlan struct {
	mu sync.Mutex
	p  *Planner
}

func (o *Owner) startPlan() {
	o.plan.mu.Lock()
	defer o.plan.mu.Unlock()
	if _, err := o.plannerLocked(); err != nil {
		o.log.Warn("cutover plan: " + err.Error())
	}
}

func (o *Owner) plannerLocked() (*Planner, error) {
	if o.plan.p != nil {
		return o.plan.p, nil
	}
	var ctl PlanControl
	if o.Control != nil {
		ctl = o.Control
	}
	now := time.Now
	if o.opts.Clock != nil {
		now = o.opts.Clock
	}
	p, err := OpenPlanner(o.DB, o.Config, ctl, now)
	if err != nil {
		return nil, err
	}
	p.Thresholds = o.Thresholds
	pl := o.Pipeline
	p.Sources = func(time.Time) ([]ui.SourceView, error) { return liveSources(pl, o.Err()), nil }
	for _, n := range p.Notices {
		o.log.Warn("cutover plan: " + n)
	}
	o.plan.p = p
	return p, nil
}

// WithPlanner runs fn with the owner's Planner, one caller at a time.
func (o *Owner) WithPlanner(fn func(p *Planner) error) error {
	o.plan.mu.Lock()
	defer o.plan.mu.Unlock()
	p, err := o.plannerLocked()
	if err != nil {
		return err
	}
	return fn(p)
}

// PlanState is the plan as the bucket holds it (for status, metrics and
// the header), without taking the planner's lock.
func (o *Owner) PlanState() (plan.State, error) { return plan.ReadState(o.DB) }

func (o *Owner) closePlan() {
	o.plan.mu.Lock()
	defer o.plan.mu.Unlock()
	if o.plan.p != nil {
		o.plan.p.Close()
		o.plan.p = nil
	}
}
