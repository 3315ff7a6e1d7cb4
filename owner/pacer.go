package owner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
)

// PacerEvery is how often the pacer evaluates committed data (wave2 §7.3).
var PacerEvery = 60 * time.Second

// immediateWindow is how far back an "immediate" rule looks for its one
// match: a few evaluations, so a match committed late still counts once.
const immediateWindow = 5 * time.Minute

// historyKeep is how long ended overlays stay listed (the weekly report
// reads them).
const historyKeep = 35 * 24 * time.Hour

// Pacer turns provider pushback on the NEW side into time-limited overlays
// (model.Overlay in the state bucket "overlays") applied through mtactl's
// transaction. It reads committed data only: the minute signature counts,
// the hourly reasons (re: rules) and the minute counters (metric rules).
type Pacer struct {
	Rules   *model.Pacing
	DB      *state.DB
	Control *mtactl.Controller // nil: suggestions only, nothing can be applied
	Now     func() time.Time
	Log     *slog.Logger
	// Thresholds for require_worse (the z-test of the health view).
	Thresholds model.Thresholds

	mu sync.Mutex // one evaluation or operator action at a time
}

// PaceList is what `pace list` and the cockpit show.
type PaceList struct {
	Mode      model.PacingMode `json:"mode"`
	Now       time.Time        `json:"now"`
	Active    []PaceItem       `json:"active"`
	Queued    []PaceItem       `json:"queued"`
	Suggested []PaceItem       `json:"suggested"`
	Dismissed []PaceItem       `json:"dismissed"`
	History   []PaceItem       `json:"history"`
}

// PaceItem is one overlay with what it does now and next.
type PaceItem struct {
	model.Overlay
	// Change is the change the overlay makes (or would make) now.
	Change string `json:"change"`
	// Next says what happens next: "75% at 11:30", "until cleared".
	Next string `json:"next,omitempty"`
}

// Items flattens the list: active, queued, suggested, dismissed, history.
func (l PaceList) Items() []PaceItem {
	return slices.Concat(l.Active, l.Queued, l.Suggested, l.Dismissed, l.History)
}

// Firing is one rule that fires for a provider (an evaluation's input).
type Firing struct {
	Rule   *model.CompiledRule
	ISP    string
	Count  int
	Sample string
	Why    string
}

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Pacer) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// canShift: postfix-front splits all mail by one randmap, so a provider
// cannot go back to OLD alone (mtactl.ErrUnsupported).
func (p *Pacer) canShift() bool {
	return p.Control == nil || p.Control.SplitsPerProvider()
}

func (p *Pacer) guard() model.PacingGuard {
	return model.PacingGuard{MinInterval: p.Rules.MinApplyInterval, MaxPerHour: p.Rules.MaxPerHour}
}

// Evaluate runs one round at the pacer's clock: find the rules that fire,
// create or extend overlays, move overlays through their restore steps and
// apply what is due and allowed by the flap guards (the rest stays queued).
// It returns the overlays it applied in this round.
func (p *Pacer) Evaluate(ctx context.Context) ([]model.Overlay, error) {
	if p.Rules == nil || p.Rules.Mode == model.PaceOff {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return nil, err
	}
	firings, err := p.firings(now, ovs)
	if err != nil {
		return nil, err
	}
	changed := map[string]bool{}
	// Steps due first (an overlay whose restore is complete ends before a
	// new trigger for its provider starts another), then the firings, then
	// what the firings changed.
	applied := p.step(ctx, ovs, now, changed)
	for _, f := range firings {
		for _, id := range p.fire(&ovs, f, now) {
			changed[id] = true
		}
	}
	applied = append(applied, p.step(ctx, ovs, now, changed)...)
	for i := range ovs {
		if changed[ovs[i].ID] {
			if err := p.DB.PutOverlay(ovs[i]); err != nil {
				return applied, err
			}
		}
	}
	p.DB.DeleteOverlaysBefore(now.Add(-historyKeep))
	return applied, nil
}

// step moves every overlay to what it wants at now: suggestions lapse,
// dismissals expire, live overlays get their due change applied when the
// flap guards allow it (queued otherwise).
func (p *Pacer) step(ctx context.Context, ovs []model.Overlay, now time.Time, changed map[string]bool) []model.Overlay {
	var applied []model.Overlay
	for i := range ovs {
		o := &ovs[i]
		switch o.State {
		case model.OverlaySuggested:
			// A suggestion nobody took lapses when its action would have ended.
			if !o.Expires.IsZero() && !now.Before(o.Expires) {
				o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "suggestion lapsed"
				changed[o.ID] = true
			}
			continue
		case model.OverlayDismissed:
			if !now.Before(o.DismissedUntil) {
				o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "dismissed"
				changed[o.ID] = true
			}
			continue
		case model.OverlayActive, model.OverlayQueued:
		default:
			continue
		}
		want, _ := o.WantPct(now, p.Rules.FloorScale)
		if want == o.AppliedPct && o.State == model.OverlayActive {
			continue
		}
		if want >= 100 && o.AppliedPct >= 100 {
			// Queued so long that its time ran out: nothing to undo.
			o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "lapsed while queued: "+o.Waiting
			changed[o.ID] = true
			continue
		}
		ok, err := p.applyLocked(ctx, o, want, now, mtactl.Who{}, ovs)
		changed[o.ID] = true
		if err != nil {
			p.log().Warn("pacer: change not applied; stays queued", "overlay", o.ID, "err", err)
		}
		if ok {
			applied = append(applied, *o)
		}
	}
	return applied
}

// fire turns one firing into a new overlay or a re-trigger of a live one.
// One overlay per provider acts at a time: a stronger rule supersedes a
// weaker one (the new one inherits the saved baseline, so its end restores
// the operator's values); a weaker one leaves it as it is. In suggest mode
// an applied overlay is only superseded when a person applies the stronger
// suggestion (Apply). It returns the overlays it changed.
func (p *Pacer) fire(ovs *[]model.Overlay, f Firing, now time.Time) []string {
	floor := p.Rules.FloorScale
	for i := range *ovs {
		o := &(*ovs)[i]
		if o.ISP != f.ISP || o.Rule != f.Rule.Name {
			continue
		}
		switch o.State {
		case model.OverlayDismissed:
			if now.Before(o.DismissedUntil) {
				return nil // n: not again for the rule's duration
			}
		case model.OverlaySuggested:
			o.Triggered = now
			if !f.Rule.Manual {
				o.Expires = now.Add(f.Rule.For)
			}
			return []string{o.ID}
		case model.OverlayActive, model.OverlayQueued:
			o.Retrigger(f.Rule, now, floor)
			o.Trigger = f.Why
			return []string{o.ID}
		}
	}
	cand := model.NewOverlay(f.Rule, f.ISP, now, floor, p.canShift())
	p.describe(&cand, f)
	newFull, _ := cand.WantPct(now, floor)
	for i := range *ovs {
		o := &(*ovs)[i]
		if o.ISP != f.ISP || (!o.Live() && o.State != model.OverlaySuggested) {
			continue
		}
		if curFull, _ := o.WantPct(o.Started, floor); newFull >= curFull {
			return nil // the overlay there is at least as strong
		}
		if o.State == model.OverlaySuggested || p.Rules.Mode == model.PaceAuto {
			inherit(&cand, o)
			o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "superseded by "+cand.ID
			id := o.ID // o points into *ovs: append may move it
			*ovs = append(*ovs, cand)
			return []string{id, cand.ID}
		}
		break // suggest mode, o applied: the stronger one is a suggestion beside it
	}
	*ovs = append(*ovs, cand)
	return []string{cand.ID}
}

// inherit gives o the baseline and applied state of old, which it replaces.
func inherit(o *model.Overlay, old *model.Overlay) {
	o.Base, o.BaseRatio, o.PrevOverride, o.PrevPerISP, o.BaseAt = old.Base, old.BaseRatio, old.PrevOverride, old.PrevPerISP, old.BaseAt
	o.AppliedPct = old.AppliedPct
}

func (p *Pacer) describe(o *model.Overlay, f Firing) {
	o.Trigger, o.Sample = f.Why, cutSample(f.Sample)
	if p.Rules.Mode == model.PaceAuto {
		o.State = model.OverlayQueued
	} else {
		o.State = model.OverlaySuggested
	}
}

func cutSample(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	return strings.ToValidUTF8(s, "?")
}

// firings finds, per provider, the first rule (priority order) that fires.
// Matches up to an overlay's last trigger are used up: the same deferrals
// never fire twice.
func (p *Pacer) firings(now time.Time, ovs []model.Overlay) ([]Firing, error) {
	consumed := map[string]time.Time{} // rule \0 isp → matches before this are used
	for _, o := range ovs {
		k := o.Rule + "\x00" + o.ISP
		// Minute counters: the trigger minute counts as used up.
		if t := o.Triggered.Truncate(time.Minute).Add(time.Minute); t.After(consumed[k]) {
			consumed[k] = t
		}
	}
	var maxW time.Duration = immediateWindow
	for _, r := range p.Rules.Rules {
		maxW = max(maxW, r.Within, r.MetricW)
	}
	sigs, err := p.DB.SigCounts(model.SideNew, "", now.Add(-maxW), now.Add(time.Minute))
	if err != nil {
		return nil, err
	}
	// Per-minute counts are needed for windows: read them per rule.
	fired := map[string]bool{}
	var out []Firing
	for _, r := range p.Rules.Rules {
		if r.IsMetric() {
			continue
		}
		win := r.Within
		if win == 0 {
			win = immediateWindow
		}
		counts := map[string]int{}
		samples := map[string]string{}
		if len(r.Sigs) > 0 {
			isps := map[string]bool{}
			for k := range sigs {
				if r.MatchesSig(k.Sig) && r.ForISP(k.ISP) {
					isps[k.ISP] = true
				}
			}
			for isp := range isps {
				from := now.Add(-win)
				if c := consumed[r.Name+"\x00"+isp]; c.After(from) {
					from = c
				}
				m, err := p.DB.SigCounts(model.SideNew, isp, from, now.Add(time.Minute))
				if err != nil {
					return nil, err
				}
				for k, n := range m {
					if r.MatchesSig(k.Sig) {
						counts[isp] += int(n)
						if samples[isp] == "" {
							samples[isp] = "sig:" + k.Sig
						}
					}
				}
			}
		}
		if len(r.Regexes) > 0 {
			// Reply texts are kept per hour (state.TopReasons): a re: rule
			// counts the matching reasons seen within its window, which
			// over-counts at most to the hour's total.
			rs, err := p.DB.TopReasons(model.SideNew, "", now.Add(-win), now.Add(time.Minute), 0)
			if err != nil {
				return nil, err
			}
			for _, rr := range rs {
				from := now.Add(-win)
				if c := consumed[r.Name+"\x00"+rr.ISP]; c.After(from) {
					from = c
				}
				if rr.Last.Before(from) || !r.ForISP(rr.ISP) || rr.ISP == "" {
					continue
				}
				for _, re := range r.Regexes {
					if re.MatchString(rr.Sample) {
						counts[rr.ISP] += int(rr.Count)
						samples[rr.ISP] = rr.Sample
						break
					}
				}
			}
		}
		for _, isp := range sortedKeys(counts) {
			if fired[isp] || !r.Fires(counts[isp]) {
				continue
			}
			fired[isp] = true
			out = append(out, Firing{Rule: r, ISP: isp, Count: counts[isp], Sample: samples[isp],
				Why: fmt.Sprintf("%d NEW match(es) in %s (trigger %s)", counts[isp], paceWin(win), r.TriggerText())})
		}
	}
	for _, r := range p.Rules.Rules {
		if !r.IsMetric() {
			continue
		}
		rows, err := p.DB.Stats(state.Query{Since: now.Add(-r.MetricW), Until: now.Add(time.Minute)})
		if err != nil {
			return nil, err
		}
		old, nw := map[string]model.Tally{}, map[string]model.Tally{}
		for _, row := range rows {
			if row.ISP == "" || !r.ForISP(row.ISP) {
				continue
			}
			m := old
			if row.Side == model.SideNew {
				m = nw
			}
			t := m[row.ISP]
			t.Add(model.Tally(row.Counts))
			m[row.ISP] = t
		}
		for _, isp := range sortedKeys(nw) {
			if fired[isp] || !r.FiresMetric(old[isp], nw[isp], p.Thresholds) {
				continue
			}
			fired[isp] = true
			t := nw[isp]
			out = append(out, Firing{Rule: r, ISP: isp, Count: int(t.Deferred),
				Why: fmt.Sprintf("NEW deferral rate %.1f%% of %d attempts over %s", 100*float64(t.Deferred)/float64(t.Attempts()), t.Attempts(), paceWin(r.MetricW))})
		}
	}
	return out, nil
}

func paceWin(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// guardApplies lists every apply the flap guards count.
func guardApplies(ovs []model.Overlay) []model.GuardApply {
	var out []model.GuardApply
	for _, o := range ovs {
		for _, a := range o.Applies {
			out = append(out, model.GuardApply{At: a.At, ISP: o.ISP})
		}
	}
	return out
}

// errGuard is a change held back by a flap guard (it stays queued).
var errGuard = errors.New("held by a flap guard")

// applyLocked brings the MTAs to want percent of o's baseline, if the flap
// guards allow; otherwise o is queued with the reason. who zero: the pacer
// (audited as pacer:<rule>).
func (p *Pacer) applyLocked(ctx context.Context, o *model.Overlay, want int, now time.Time, who mtactl.Who, all []model.Overlay) (bool, error) {
	if p.Control == nil {
		o.State = model.OverlayQueued
		o.Waiting = "no [mtactl]: nothing can be applied"
		return false, errors.New(o.Waiting)
	}
	if ok, why := p.guard().Allow(o.ISP, now, guardApplies(all)); !ok {
		if o.State != model.OverlayActive {
			o.State = model.OverlayQueued
		}
		o.Waiting = why
		return false, fmt.Errorf("%w: %s", errGuard, why)
	}
	cur := p.Control.Current()
	if o.BaseAt.IsZero() && len(o.Applies) == 0 && o.AppliedPct == 100 {
		if err := p.setBase(o, cur); err != nil {
			return false, err
		}
		// The baseline is stored before the first change: after a crash
		// between the apply and the overlay's record, the next round must
		// still restore the operator's values, not the overlaid ones.
		if err := p.DB.PutOverlay(*o); err != nil {
			return false, err
		}
	}
	d := o.DesiredAt(cur, want)
	ch, err := p.Control.Plan(d)
	if err != nil {
		o.Waiting = err.Error()
		return false, err
	}
	if who.User == "" {
		who = mtactl.CurrentWho("")
		who.User = "pacer:" + o.Rule
	}
	who.Command = fmt.Sprintf("pacer:%s %s (%s)", o.Rule, o.ChangeText(o.AppliedPct, want), o.ID)
	rec := model.OverlayApply{At: now, Who: who.User, Change: o.ChangeText(o.AppliedPct, want), Pct: want}
	if !ch.Empty() {
		entry, err := p.Control.Apply(ctx, ch, who, mtactl.ApplyOptions{})
		if err != nil {
			o.Waiting = "apply failed: " + firstLine(err.Error())
			if o.State != model.OverlayActive {
				o.State = model.OverlayQueued
			}
			return false, err
		}
		rec.AuditID = entry.ID
	}
	o.Applies = append(o.Applies, rec)
	o.AppliedPct = want
	o.Waiting = ""
	if want >= 100 {
		o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "restored"
	} else {
		o.State = model.OverlayActive
	}
	p.log().Info("pacer applied", "overlay", o.ID, "change", rec.Change, "audit", rec.AuditID)
	return true, nil
}

// setBase records, before an overlay's first apply, the provider's
// non-overlaid throttle and share and the operator's own settings that the
// end of the overlay puts back.
func (p *Pacer) setBase(o *model.Overlay, cur model.Desired) error {
	if !o.BaseAt.IsZero() || len(o.Applies) > 0 || o.AppliedPct < 100 {
		return nil
	}
	sug, err := p.Control.Suggest(cur)
	if err != nil {
		return err
	}
	o.Base, o.BaseRatio, o.BaseAt = sug.Throttles[o.ISP], cur.RatioFor(o.ISP), p.now()
	o.PrevOverride, o.PrevPerISP = nil, nil
	if t, ok := cur.Overrides[o.ISP]; ok {
		o.PrevOverride = &t
	}
	if r, ok := cur.PerISP[o.ISP]; ok {
		o.PrevPerISP = &r
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// find returns the overlay index by id.
func findOverlay(ovs []model.Overlay, id string) int {
	return slices.IndexFunc(ovs, func(o model.Overlay) bool { return o.ID == id })
}

// ErrNoOverlay is an unknown overlay id.
var ErrNoOverlay = errors.New("no such overlay (see cutover pace list)")

// Preview is the mtactl diff applying a suggestion (or a queued overlay)
// would make now.
func (p *Pacer) Preview(id string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return "", err
	}
	i := findOverlay(ovs, id)
	if i < 0 {
		return "", ErrNoOverlay
	}
	if p.Control == nil {
		return "", errors.New("no [mtactl]: nothing can be applied")
	}
	o := ovs[i]
	cur := p.Control.Current()
	if err := p.setBase(&o, cur); err != nil {
		return "", err
	}
	want, _ := o.WantPct(p.now(), p.Rules.FloorScale)
	ch, err := p.Control.Plan(o.DesiredAt(cur, want))
	if err != nil {
		return "", err
	}
	return o.ChangeText(o.AppliedPct, want) + "\n" + ch.Diff(), nil
}

// Apply applies a suggestion (y, `pace apply`): it becomes active now, with
// its full duration from now, audited as the operator; a flap guard may
// still hold it (queued, applied when allowed).
func (p *Pacer) Apply(ctx context.Context, id string, who mtactl.Who) (PaceItem, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return PaceItem{}, err
	}
	i := findOverlay(ovs, id)
	if i < 0 {
		return PaceItem{}, ErrNoOverlay
	}
	o := &ovs[i]
	switch o.State {
	case model.OverlaySuggested, model.OverlayQueued, model.OverlayDismissed:
	default:
		return PaceItem{}, fmt.Errorf("overlay %s is %s: nothing to apply", id, o.State)
	}
	if o.State != model.OverlayQueued {
		r := p.Rules.Rule(o.Rule)
		o.Started = now
		if r != nil && !r.Manual {
			o.Expires = now.Add(r.For)
		}
	}
	// A live overlay of another rule on this provider gives way, and its
	// baseline comes along.
	for j := range ovs {
		old := &ovs[j]
		if j != i && old.ISP == o.ISP && old.Live() {
			inherit(o, old)
			old.State, old.Ended, old.EndReason = model.OverlayEnded, now, "superseded by "+o.ID
			if err := p.DB.PutOverlay(*old); err != nil {
				return PaceItem{}, err
			}
		}
	}
	o.State = model.OverlayQueued
	want, _ := o.WantPct(now, p.Rules.FloorScale)
	_, aerr := p.applyLocked(ctx, o, want, now, who, ovs)
	if err := p.DB.PutOverlay(*o); err != nil {
		return PaceItem{}, err
	}
	item := p.item(*o, now)
	if aerr != nil && !errors.Is(aerr, errGuard) {
		return item, aerr
	}
	return item, nil
}

// Dismiss (n) ignores a suggestion for its rule's duration (a block-class
// one for a day: it must come back to someone's attention).
func (p *Pacer) Dismiss(id string) (PaceItem, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return PaceItem{}, err
	}
	i := findOverlay(ovs, id)
	if i < 0 {
		return PaceItem{}, ErrNoOverlay
	}
	o := &ovs[i]
	if o.State != model.OverlaySuggested {
		return PaceItem{}, fmt.Errorf("overlay %s is %s: only a suggestion can be dismissed (pace clear ends an overlay)", id, o.State)
	}
	d := 24 * time.Hour
	if r := p.Rules.Rule(o.Rule); r != nil && !r.Manual {
		d = r.For
	}
	o.State, o.DismissedUntil = model.OverlayDismissed, now.Add(d)
	if err := p.DB.PutOverlay(*o); err != nil {
		return PaceItem{}, err
	}
	return p.item(*o, now), nil
}

// Clear ends overlays now (id, or every live one of isp): restore steps are
// skipped and the plan's values come back through mtactl, audited as who.
// The flap guards do not hold a clear: it is an operator's decision.
func (p *Pacer) Clear(ctx context.Context, id, isp string, who mtactl.Who) ([]PaceItem, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return nil, err
	}
	var out []PaceItem
	var errs []error
	for i := range ovs {
		o := &ovs[i]
		if (id != "" && o.ID != id) || (isp != "" && o.ISP != isp) {
			continue
		}
		switch o.State {
		case model.OverlayEnded:
			if id != "" {
				return nil, fmt.Errorf("overlay %s has ended already", id)
			}
			continue
		case model.OverlaySuggested, model.OverlayDismissed:
			o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "cleared by "+who.String()
		default:
			if o.AppliedPct < 100 && p.Control != nil {
				d := o.DesiredAt(p.Control.Current(), 100)
				ch, err := p.Control.Plan(d)
				if err == nil && !ch.Empty() {
					who.Command = fmt.Sprintf("pace clear %s: %s", o.ID, o.ChangeText(o.AppliedPct, 100))
					var entry mtactl.AuditEntry
					entry, err = p.Control.Apply(ctx, ch, who, mtactl.ApplyOptions{})
					if err == nil {
						o.Applies = append(o.Applies, model.OverlayApply{At: now, AuditID: entry.ID, Who: who.String(), Change: o.ChangeText(o.AppliedPct, 100), Pct: 100})
					}
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", o.ID, err))
					continue
				}
			}
			o.AppliedPct = 100
			o.State, o.Ended, o.EndReason = model.OverlayEnded, now, "cleared by "+who.String()
		}
		if err := p.DB.PutOverlay(*o); err != nil {
			return out, err
		}
		out = append(out, p.item(*o, now))
	}
	if len(out) == 0 && len(errs) == 0 {
		if id != "" {
			return nil, ErrNoOverlay
		}
		return nil, fmt.Errorf("no live overlay for %s", isp)
	}
	return out, errors.Join(errs...)
}

// List sorts the stored overlays into the list's sections.
func (p *Pacer) List() (PaceList, error) {
	now := p.now()
	ovs, err := p.DB.Overlays()
	if err != nil {
		return PaceList{}, err
	}
	l := PaceList{Mode: p.Rules.Mode, Now: now}
	for _, o := range ovs {
		it := p.item(o, now)
		switch o.State {
		case model.OverlayActive:
			l.Active = append(l.Active, it)
		case model.OverlayQueued:
			l.Queued = append(l.Queued, it)
		case model.OverlaySuggested:
			l.Suggested = append(l.Suggested, it)
		case model.OverlayDismissed:
			l.Dismissed = append(l.Dismissed, it)
		default:
			l.History = append(l.History, it)
		}
	}
	return l, nil
}

func (p *Pacer) item(o model.Overlay, now time.Time) PaceItem {
	if p.Control != nil && (o.State == model.OverlaySuggested || o.State == model.OverlayQueued) {
		p.setBase(&o, p.Control.Current()) // what it would change now
	}
	it := PaceItem{Overlay: o}
	want, phase := o.WantPct(now, p.Rules.FloorScale)
	switch o.State {
	case model.OverlayEnded:
		it.Change = "ended: " + o.EndReason
		return it
	case model.OverlaySuggested, model.OverlayDismissed:
		it.Change = "would " + changeVerb(o, want)
	default:
		it.Change = changeVerb(o, o.AppliedPct)
		if (o.State == model.OverlayQueued || want != o.AppliedPct) && it.Waiting == "" {
			it.Waiting = "next evaluation"
		}
	}
	switch {
	case o.Expires.IsZero():
		it.Next = "until cleared (pace clear)"
	case phase == 0:
		if len(o.Restore) > 0 {
			it.Next = fmt.Sprintf("%d%% at %s", max(o.Restore[0].Pct, want), o.Expires.Format("15:04"))
		} else {
			it.Next = "restored at " + o.Expires.Format("15:04")
		}
	default:
		it.Next = "restored at " + o.RestoreAt().Format("15:04")
	}
	if o.Warn != "" {
		it.Next += "; WARN " + o.Warn
	}
	return it
}

func changeVerb(o model.Overlay, pct int) string {
	if o.Action.ShiftOld {
		if pct >= 100 {
			return fmt.Sprintf("%s back to its plan ratio", o.ISP)
		}
		return fmt.Sprintf("send %s to OLD (NEW ratio 0)", o.ISP)
	}
	if o.Base.IsZero() {
		return fmt.Sprintf("scale %s to %d%% of the plan's throttle", o.ISP, pct)
	}
	return fmt.Sprintf("%s %s → %s", o.ISP, o.Base, o.EffectiveThrottle(pct))
}

// pacerRunner evaluates every PacerEvery of the owner's clock.
type pacerRunner struct{ p *Pacer }

func (pacerRunner) Name() string { return "pacer" }

func (r pacerRunner) Run(ctx context.Context, o *Owner) error {
	// Ticks every second and evaluates once the pacer's clock moved
	// PacerEvery: every minute on the wall clock, every simulated minute
	// in the demo (whose clock runs faster).
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last time.Time
	for {
		if now := r.p.now(); last.IsZero() || now.Sub(last) >= PacerEvery || now.Before(last) {
			last = now
			if applied, err := r.p.Evaluate(ctx); err != nil {
				o.log.Warn("pacer", "err", err)
			} else if len(applied) > 0 {
				o.changed()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
