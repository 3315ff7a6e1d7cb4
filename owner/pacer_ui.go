package owner

import (
	"context"
	"sync"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
)

// PaceRows converts the pacer's list for the cockpit.
func PaceRows(l PaceList) *ui.PaceView {
	v := &ui.PaceView{Mode: string(l.Mode)}
	for _, it := range l.Items() {
		v.Rows = append(v.Rows, ui.PaceRow{ID: it.ID, Rule: it.Rule, ISP: it.ISP, State: it.State, Class: it.Class,
			Change: it.Change, Next: it.Next, Waiting: it.Waiting, Warn: it.Warn, Trigger: it.Trigger, Sample: it.Sample})
	}
	return v
}

// PaceCache keeps a list for a second: the cockpit asks on every render
// (a PACE mark per pane).
type PaceCache struct {
	mu   sync.Mutex
	at   time.Time
	v    *ui.PaceView
	err  error
	load func() (PaceList, error)
}

// NewPaceCache caches load.
func NewPaceCache(load func() (PaceList, error)) *PaceCache { return &PaceCache{load: load} }

// Get is the cached list, reloaded when older than a second.
func (c *PaceCache) Get() (*ui.PaceView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= time.Second {
		c.at = time.Now()
		l, err := c.load()
		c.v, c.err = PaceRows(l), err
	}
	return c.v, c.err
}

// Invalidate makes the next Get reload (after an apply or dismiss).
func (c *PaceCache) Invalidate() {
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
}

// paceUI is the owner's own cockpit's view of its pacer.
type paceUI struct {
	p     *Pacer
	cache *PaceCache
}

// UISource is the pacer for the owner's cockpit: y applies audited as this
// process's user (the person at the cockpit).
func (p *Pacer) UISource() ui.PaceSource {
	return paceUI{p: p, cache: NewPaceCache(p.List)}
}

func (s paceUI) Pace() (*ui.PaceView, error)       { return s.cache.Get() }
func (s paceUI) Preview(id string) (string, error) { return s.p.Preview(id) }
func (s paceUI) Apply(id string) (string, error) {
	defer s.cache.Invalidate()
	it, err := s.p.Apply(context.Background(), id, mtactl.CurrentWho("cockpit pace apply "+id))
	if err != nil {
		return "", err
	}
	return applyMessage(it), nil
}
func (s paceUI) Dismiss(id string) error {
	defer s.cache.Invalidate()
	_, err := s.p.Dismiss(id)
	return err
}

func applyMessage(it PaceItem) string {
	if it.State == model.OverlayQueued {
		return it.ID + " queued: " + it.Waiting
	}
	return it.ID + " " + it.State + ": " + it.Change
}

// ApplyMessage is the cockpit's line after y (for viewers, from the owner's answer).
func ApplyMessage(it PaceItem) string { return applyMessage(it) }
