package cli

import (
	"context"
	"time"

	"cutover/owner"
	"cutover/ui"
	"cutover/ui/attach"
)

// attachedPace is the owner's pacer for a viewer: the list asked over the
// socket at most every second; y and n run in the owner, audited as the
// viewer's user. nil when the owner predates the pace ops.
func attachedPace(cl *attach.Client) ui.PaceSource {
	r := remotePacer{call: cl.Call}
	if _, err := r.List(); err != nil {
		return nil
	}
	return remotePaceUI{r: r, cache: owner.NewPaceCache(r.List)}
}

type remotePaceUI struct {
	r     remotePacer
	cache *owner.PaceCache
}

func (s remotePaceUI) Pace() (*ui.PaceView, error)       { return s.cache.Get() }
func (s remotePaceUI) Preview(id string) (string, error) { return s.r.Preview(id) }
func (s remotePaceUI) Apply(id string) (string, error) {
	defer s.cache.Invalidate()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	it, err := s.r.Apply(ctx, id)
	if err != nil {
		return "", err
	}
	return owner.ApplyMessage(it), nil
}
func (s remotePaceUI) Dismiss(id string) error {
	defer s.cache.Invalidate()
	var it owner.PaceItem
	return s.r.do(owner.OpPaceDismiss, owner.PaceRequest{ID: id}, &it)
}
