package owner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"cutover/model"
	"cutover/state"
	"cutover/ui"
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

// StatusOverlay is one live pacing overlay in `status --json` ("pacing").
type StatusOverlay struct {
	ID      string    `json:"id"`
	Rule    string    `json:"rule"`
	ISP     string    `json:"isp"`
	State   string    `json:"state"` // active | queued | suggested
	Class   string    `json:"class,omitempty"`
	Change  string    `json:"change"`
	Expires time.Time `json:"expires,omitzero"` // zero: until cleared
	Warn    string    `json:"warn,omitempty"`
}

// paceStatus adds the live overlays to a status report: a block-class
// overlay is CRIT (a provider blocks NEW), any other live one or a waiting
// suggestion WARN (a provider pushes back; someone should look).
func paceStatus(db *state.DB, rep *StatusReport, add func(model.Health, string, ...any)) {
	ovs, err := db.Overlays()
	if err != nil {
		add(model.HealthWarn, "pacing: %v", err)
		return
	}
	for _, o := range ovs {
		if !o.Live() && o.State != model.OverlaySuggested {
			continue
		}
		it := (&Pacer{Rules: &model.Pacing{}}).item(o, time.Now())
		rep.Pacing = append(rep.Pacing, StatusOverlay{ID: o.ID, Rule: o.Rule, ISP: o.ISP, State: o.State, Class: o.Class,
			Change: it.Change, Expires: o.Expires, Warn: o.Warn})
		msg := ui.Sanitize(fmt.Sprintf("pacing %s %s on %s: %s", o.State, o.Rule, o.ISP, it.Change), 200)
		switch {
		case o.Class == "block" && o.State != model.OverlaySuggested:
			add(model.HealthCrit, "%s (until cleared)", msg)
		default:
			add(model.HealthWarn, "%s", msg)
		}
		if o.Warn != "" {
			add(model.HealthWarn, "pacing: %s", ui.Sanitize(o.Warn, 200))
		}
	}
}

var descOverlay = desc("pacing_overlay_active", "1 per live pacing overlay (applied or queued) by provider and rule; 2 for a block-class one.", "isp", "rule")

func describePacing(ch chan<- *prometheus.Desc) { ch <- descOverlay }

func collectPacing(db *state.DB, ch chan<- prometheus.Metric) {
	ovs, err := db.Overlays()
	if err != nil {
		return
	}
	for _, o := range ovs {
		if !o.Live() {
			continue
		}
		v := 1.0
		if o.Class == "block" {
			v = 2
		}
		ch <- prometheus.MustNewConstMetric(descOverlay, prometheus.GaugeValue, v, o.ISP, o.Rule)
	}
}
