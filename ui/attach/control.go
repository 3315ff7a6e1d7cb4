package attach

import (
	"context"
	"errors"
	"sync"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
)

// Remote is the owner's mtactl Controller seen from a viewer, with the
// method set of the cockpit's control interface (Steps, Current, Plan,
// PlanRollback, PlanBaseline, Apply, History), so the attached cockpit's
// slider and rollback keys drive the owner unchanged. The owner plans,
// applies and audits; the viewer only asks.
type Remote struct {
	c *Client

	mu    sync.Mutex
	ids   map[*mtactl.Change]string // preview id of each plan handed out
	state ControlState              // last control.current answer
}

// Control returns the owner's controller. Calls fail with ErrNoControl when
// the owner has none and ErrReadOnly (plan, apply) on a read-only session.
func (c *Client) Control() *Remote {
	return &Remote{c: c, ids: map[*mtactl.Change]string{}}
}

func (r *Remote) current() ControlState {
	var st ControlState
	if err := r.c.call(OpControlCurrent, struct{}{}, &st); err != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.state
	}
	r.mu.Lock()
	r.state = st
	r.mu.Unlock()
	return st
}

// State is control.current with its error.
func (r *Remote) State(ctx context.Context) (ControlState, error) {
	var st ControlState
	err := r.c.Call(ctx, OpControlCurrent, struct{}{}, &st)
	return st, err
}

// Current is what the owner last applied.
func (r *Remote) Current() (model.Desired, error) {
	st, err := r.State(context.Background())
	if err == nil {
		r.mu.Lock()
		r.state = st
		r.mu.Unlock()
	}
	return st.Current, err
}

// Steps are the owner's slider stops.
func (r *Remote) Steps() model.Steps { return model.Steps(r.current().Steps) }

// Providers are the owner's configured providers.
func (r *Remote) Providers() []string { return r.current().Providers }

// History lists every change, oldest first.
func (r *Remote) History() ([]mtactl.AuditEntry, error) {
	var h []mtactl.AuditEntry
	err := r.c.call(OpControlHistory, struct{}{}, &h)
	return h, err
}

func (r *Remote) plan(req PlanReq) (*mtactl.Change, error) {
	var p Preview
	if err := r.c.call(OpControlPlan, req, &p); err != nil {
		return nil, err
	}
	ch := &mtactl.Change{Action: p.Action, From: p.From, To: p.To, RollbackOf: p.RollbackOf,
		Files: p.Files, Drift: p.Drift, Notes: p.Notes, Caps: p.Caps}
	r.mu.Lock()
	// The owner keeps only its newest previews; so do we.
	for old := range r.ids {
		if len(r.ids) < 2*maxPlans {
			break
		}
		delete(r.ids, old)
	}
	r.ids[ch] = p.ID
	r.mu.Unlock()
	return ch, nil
}

// Plan asks the owner to plan d; nothing is written.
func (r *Remote) Plan(d model.Desired) (*mtactl.Change, error) {
	return r.plan(PlanReq{Kind: PlanApply, Desired: d})
}

// PlanBaseline plans the 0 %-new state.
func (r *Remote) PlanBaseline() (*mtactl.Change, error) { return r.plan(PlanReq{Kind: PlanBaseline}) }

// PlanRollback plans restoring the files to before change id ("" = the last).
func (r *Remote) PlanRollback(id string) (*mtactl.Change, error) {
	return r.plan(PlanReq{Kind: PlanRollback, RollbackOf: id})
}

// Apply has the owner apply exactly the plan ch previewed. There is no
// "who" to pass: the owner records the identity the kernel gives for this
// connection and the SSH client from the hello.
func (r *Remote) Apply(ctx context.Context, ch *mtactl.Change, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	r.mu.Lock()
	id, ok := r.ids[ch]
	delete(r.ids, ch)
	r.mu.Unlock()
	if !ok {
		return mtactl.AuditEntry{}, errors.New("attach: Apply needs a Change planned by this Remote")
	}
	var resp ApplyResp
	if err := r.c.Call(ctx, OpControlApply, ApplyReq{ID: id, AcceptDrift: opt.AcceptDrift}, &resp); err != nil {
		return mtactl.AuditEntry{}, err
	}
	if resp.Err != "" {
		return resp.Entry, &RemoteError{Code: resp.Code, Msg: resp.Err}
	}
	return resp.Entry, nil
}

// Rollback plans and applies a rollback to before change id.
func (r *Remote) Rollback(ctx context.Context, id string, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	ch, err := r.PlanRollback(id)
	if err != nil {
		return mtactl.AuditEntry{}, err
	}
	return r.Apply(ctx, ch, opt)
}

// The attached cockpit hands a Remote to ui.Options.Control.
var _ ui.Control = (*Remote)(nil)
