package owner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"cutover/ui/attach"
)

// Socket ops of the pacer (wave2 §9): list for everyone; apply, dismiss and
// clear change MTA config and are refused to read-only viewers.
const (
	OpPaceList    = "pace.list"
	OpPaceApply   = "pace.apply"
	OpPaceClear   = "pace.clear"
	OpPaceDismiss = "pace.dismiss"
	OpPacePreview = "pace.preview"
)

// PaceRequest is the body of the pace ops.
type PaceRequest struct {
	ID  string `json:"id,omitempty"`
	ISP string `json:"isp,omitempty"`
}

// PacePreviewReply is pace.preview's answer: the change and mtactl's diff.
type PacePreviewReply struct {
	Diff string `json:"diff"`
}

// startPacer builds the pacer from [pacing] (the config was validated).
func (o *Owner) startPacer() error {
	rules, err := o.Config.PacingRules()
	if err != nil {
		return fmt.Errorf("[pacing]: %w", err)
	}
	o.Pacer = &Pacer{Rules: rules, DB: o.DB, Control: o.Control, Now: o.opts.Clock, Log: o.log, Thresholds: o.Thresholds}
	for _, op := range []string{OpPaceList, OpPaceApply, OpPaceClear, OpPaceDismiss, OpPacePreview} {
		o.srv.Handle(op, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
			return o.handlePace(ctx, op, s, body)
		})
	}
	return nil
}

// pacerRunners is the pacer runner when it has something to do.
func (o *Owner) pacerRunners() []Runner {
	if o.Pacer == nil || o.Control == nil || o.Pacer.Rules.Mode == "off" {
		return nil
	}
	return []Runner{pacerRunner{o.Pacer}}
}

var errReadOnlyViewer = errors.New("this viewer is read-only: pacing changes are refused")

func (o *Owner) handlePace(ctx context.Context, op string, s *attach.Session, body json.RawMessage) (any, error) {
	var req PaceRequest
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("pace: bad request: %v", err)
		}
	}
	p := o.Pacer
	if op != OpPaceList && op != OpPacePreview && s.ReadOnly() {
		return nil, errReadOnlyViewer
	}
	var res any
	var err error
	switch op {
	case OpPaceList:
		return p.List()
	case OpPacePreview:
		d, err := p.Preview(req.ID)
		return PacePreviewReply{Diff: d}, err
	case OpPaceApply:
		res, err = p.Apply(ctx, req.ID, s.Who("pace apply "+req.ID))
	case OpPaceDismiss:
		res, err = p.Dismiss(req.ID)
	case OpPaceClear:
		res, err = p.Clear(ctx, req.ID, req.ISP, s.Who("pace clear "+req.ID+req.ISP))
	default:
		return nil, fmt.Errorf("pace: unknown op %q", op)
	}
	o.changed()
	return res, err
}
