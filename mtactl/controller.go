package mtactl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aymanbagabas/go-udiff"

	"cutover/model"
	"cutover/state"
)

// Controller is the one way cutover changes MTA configuration: it plans a
// Desired state into per-file diffs, and applies a plan as one transaction
// (snapshot, atomic write, validate, reload, audit; restore on any failure).
type Controller struct {
	cfg     Config
	db      *state.DB
	st      store
	drivers []Driver
	steps   model.Steps

	mu    sync.Mutex   // one Apply at a time in this process
	curMu sync.RWMutex // guards cur
	cur   model.Desired

	now     func() time.Time
	notices []string
	// mutate lets tests inject a fault into the rendered files (a broken
	// template) after splicing.
	mutate func(path string, b []byte) []byte
}

// New builds the drivers of cfg over db (which holds snapshots and the audit
// log). db must be open read-write for Apply.
func New(cfg Config, db *state.DB) (*Controller, error) {
	if db == nil {
		return nil, errors.New("mtactl: a database is required (snapshots and audit log)")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("mtactl config: %w", err)
	}
	steps, err := model.NewSteps(cfg.Steps)
	if err != nil {
		return nil, fmt.Errorf("mtactl config: %w", err)
	}
	timeout := 60 * time.Second
	if cfg.Timeout != "" {
		timeout, _ = time.ParseDuration(cfg.Timeout)
	}
	mk := func(ssh []string) *runner {
		if ssh == nil {
			ssh = cfg.SSH
		}
		return &runner{prefix: ssh, timeout: timeout}
	}
	c := &Controller{cfg: cfg, db: db, st: store{db}, steps: steps, now: time.Now}
	if p := cfg.Postfix; p != nil {
		if p.Front != nil {
			c.drivers = append(c.drivers, newPostfixFront(p.Front, mk(p.Front.SSH)))
		}
		if p.Delivery != nil {
			c.drivers = append(c.drivers, newPostfixDelivery(p.Delivery, cfg.Providers, mk(p.Delivery.SSH)))
		}
	}
	if e := cfg.Exim; e != nil {
		c.drivers = append(c.drivers, newExim(e, cfg.Providers, mk(e.SSH)))
	}
	if p := cfg.PMTA; p != nil {
		c.drivers = append(c.drivers, newPMTA(p, mk(p.SSH)))
	}
	if d := cfg.Demo; d != nil {
		c.drivers = append(c.drivers, newDemo(d, mk(nil)))
	}
	seen := map[string]string{}
	for _, d := range c.drivers {
		for _, f := range d.Files() {
			abs, _ := filepath.Abs(f.Path)
			if o, ok := seen[abs]; ok {
				return nil, fmt.Errorf("mtactl config: %s is managed by both %s and %s", f.Path, o, d.Name())
			}
			seen[abs] = d.Name()
		}
	}
	if err := c.st.init(); err != nil && !errors.Is(err, state.ErrReadOnly) {
		return nil, fmt.Errorf("mtactl: %w", err)
	}
	if !db.ReadOnly() {
		// A change a dead process left pending is settled before anything
		// else reads Current or plans from the files.
		if err := c.reconcile(context.Background()); err != nil {
			c.notices = append(c.notices, "could not settle an interrupted change (it stays pending; see cutover history): "+err.Error())
		}
	}
	a, err := c.st.applied()
	if err != nil {
		return nil, fmt.Errorf("mtactl: read applied state: %w", err)
	}
	if a != nil {
		c.cur = a.Desired
	}
	return c, nil
}

// Notices say what New did on its own (an interrupted change settled) or
// could not do (one it could not settle), for the caller to show.
func (c *Controller) Notices() []string { return slices.Clone(c.notices) }

// Drivers names the configured drivers in apply order.
func (c *Controller) Drivers() []string {
	var out []string
	for _, d := range c.drivers {
		out = append(out, d.Name())
	}
	return out
}

// Steps are the slider's stops.
func (c *Controller) Steps() model.Steps { return c.steps }

// Providers lists the configured providers, sorted.
func (c *Controller) Providers() []string { return sortedKeys(c.cfg.Providers) }

// Domains lists one provider's configured domains.
func (c *Controller) Domains(isp string) []string { return slices.Clone(c.cfg.Providers[isp]) }

// Current is what cutover last applied successfully (the zero Desired, i.e.
// the 0 %-new baseline, before the first apply).
func (c *Controller) Current() model.Desired {
	c.curMu.RLock()
	defer c.curMu.RUnlock()
	return c.cur.Clone()
}

// Policy is the throttle policy in force now (warm-up day from warmup_start).
func (c *Controller) Policy() model.ThrottlePolicy {
	p := c.cfg.Throttle
	if c.cfg.WarmupStart != "" && p.WarmupDay == 0 {
		start, _ := time.Parse(time.DateOnly, c.cfg.WarmupStart)
		p.WarmupDay = int(c.now().UTC().Sub(start).Hours()/24) + 1
	}
	return p
}

// Suggest returns d with Throttles filled: for every configured provider the
// default from the OLD side's basis hour (p95 by default, or peak) × ratio ×
// margin, capped by the warm-up and the ceilings, then the operator's
// Overrides.
func (c *Controller) Suggest(d model.Desired) (model.Desired, error) {
	basis, err := c.basisHourlyOld()
	if err != nil {
		return d, err
	}
	return model.ResolveThrottles(d, c.Providers(), basis, c.Policy()), nil
}

// Explain is Suggest's throttles with what capped each number (the slider's
// preview names it).
func (c *Controller) Explain(d model.Desired) (map[string]model.Explained, error) {
	basis, err := c.basisHourlyOld()
	if err != nil {
		return nil, err
	}
	return model.ExplainThrottles(d, c.Providers(), basis, c.Policy()), nil
}

// historyEnd anchors history windows at the newest event, not the wall
// clock, so a backfill of old logs still gives a history.
func (c *Controller) historyEnd() time.Time {
	if n := c.db.Newest(); !n.IsZero() {
		return n
	}
	return c.now()
}

// basisHourlyOld is, per provider on the OLD side over HistoryDays, the hour
// the policy scales (attempts: delivered, deferred, bounced, expired): the
// 95th percentile hour of every hour of the window, zero hours included, or
// the peak hour (wave2 §4.5, the same profile as `cutover audit`).
func (c *Controller) basisHourlyOld() (map[string]int, error) {
	end := c.historyEnd().Truncate(time.Hour).Add(time.Hour)
	since := end.Add(-time.Duration(c.cfg.HistoryDays) * 24 * time.Hour)
	series, err := c.db.Series(state.SeriesQuery{Since: since, Until: end, Step: time.Hour, Side: model.SideOld})
	if err != nil {
		return nil, fmt.Errorf("mtactl: history: %w", err)
	}
	pol := c.Policy()
	out := map[string]int{}
	for k, pts := range series {
		hourly := make([]uint64, len(pts))
		for i, p := range pts {
			hourly[i] = model.Tally(p.Counts).Attempts()
		}
		out[k.ISP] = pol.BasisHourly(model.ProfileOf(since, hourly))
	}
	return out, nil
}

// dailyVolume is the expected messages per day per recipient domain (both
// sides, final outcomes) over the last 7 days, overridden by the config.
func (c *Controller) dailyVolume() (map[string]int, error) {
	out := map[string]int{}
	if c.cfg.PMTA == nil || c.cfg.PMTA.Split != "cold-vmta" {
		return out, nil
	}
	end := c.historyEnd()
	rows, err := c.db.Stats(state.Query{Since: end.Add(-7 * 24 * time.Hour), Until: end, By: "domain"})
	if err != nil {
		return nil, fmt.Errorf("mtactl: history: %w", err)
	}
	for _, r := range rows {
		out[r.Domain] += int(r.Delivered + r.Bounced + r.Expired)
	}
	for d, v := range out {
		out[d] = (v + 6) / 7
	}
	for d, v := range c.cfg.PMTA.DailyVolume {
		out[d] = v
	}
	return out, nil
}

// Change is a planned transaction: what every managed file will look like,
// as unified diffs, and any drift found. Apply executes exactly this plan.
type Change struct {
	Action     string // apply | baseline | rollback
	From, To   model.Desired
	RollbackOf string // snapshot id a rollback restores
	Files      []FileChange
	Drift      []Drift
	Notes      []string
	// Caps names, per provider, what decided each throttle number of To
	// (history, warmup, ceiling, override): the slider's preview shows it.
	// Nil for a rollback or the baseline (files restored, not computed).
	Caps map[string]model.Explained

	ctl     *Controller
	planned []plannedFile
	// files: a whole-file change (ApplyFiles) that leaves the applied
	// split state, Current and drift detection alone.
	files bool
}

// FileChange is one managed file in a plan.
type FileChange struct {
	Driver  string
	Path    string
	Changed bool
	Create  bool
	Delete  bool
	Diff    string // unified diff, "" when unchanged
}

// Drift is a managed file whose bytes differ from what cutover last wrote:
// someone edited it behind cutover's back.
type Drift struct {
	Driver string
	Path   string
	Diff   string // last applied -> now
	// InBlock: the edits touch cutover's blocks (or a whole managed file),
	// so applying overwrites them. Edits outside the blocks survive.
	InBlock bool
}

type plannedFile struct {
	driver Driver
	mf     ManagedFile
	cur    fileState
	data   []byte
	remove bool
}

func (p plannedFile) changed() bool {
	if p.remove {
		return p.cur.Exists
	}
	return !p.cur.Exists || !bytes.Equal(p.cur.Data, p.data) || p.privacyChanged()
}

// privacyChanged: a private file exists with another mode or group.
func (p plannedFile) privacyChanged() bool {
	return p.mf.Private && p.cur.Exists && (p.cur.Mode != p.mf.Perm || (p.mf.SetGID && p.cur.GID != p.mf.GID))
}

// target is the file state a write must produce: a private file's mode
// and group replace whatever the file had.
func (p plannedFile) target() fileState {
	st := p.cur
	if p.mf.Private {
		if st.Exists {
			st.Mode = p.mf.Perm
		}
		if p.mf.SetGID {
			st.GID = p.mf.GID
		}
	}
	return st
}

// Empty reports whether no file changes.
func (ch *Change) Empty() bool {
	for _, f := range ch.Files {
		if f.Changed {
			return false
		}
	}
	return true
}

// Diff is every file's diff, for a preview or `--yes`-less refusal.
func (ch *Change) Diff() string {
	var b strings.Builder
	for _, f := range ch.Files {
		b.WriteString(f.Diff)
	}
	return b.String()
}

// Plan renders d (throttles resolved by Suggest) into per-file diffs. Nothing
// is written.
func (c *Controller) Plan(d model.Desired) (*Change, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	for isp := range d.PerISP {
		if _, ok := c.cfg.Providers[isp]; !ok {
			return nil, fmt.Errorf("ratio for %s: not a configured provider (%s)", isp, strings.Join(c.Providers(), ", "))
		}
	}
	for isp := range d.Overrides {
		if _, ok := c.cfg.Providers[isp]; !ok {
			return nil, fmt.Errorf("throttle for %s: not a configured provider (%s)", isp, strings.Join(c.Providers(), ", "))
		}
	}
	basis, err := c.basisHourlyOld()
	if err != nil {
		return nil, err
	}
	caps := model.ExplainThrottles(d, c.Providers(), basis, c.Policy())
	to := model.ResolveThrottles(d, c.Providers(), basis, c.Policy())
	daily, err := c.dailyVolume()
	if err != nil {
		return nil, err
	}
	in := RenderInput{Desired: to, Providers: c.cfg.Providers, DailyVolume: daily, Pacing: c.pacingRules()}
	ch := &Change{Action: "apply", From: c.Current(), To: to, Caps: caps, ctl: c}
	for _, drv := range c.drivers {
		rendered, notes, err := drv.Render(in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", drv.Name(), err)
		}
		for _, n := range notes {
			ch.Notes = append(ch.Notes, drv.Name()+": "+n)
		}
		for _, mf := range drv.Files() {
			m, ok := rendered[mf.Path]
			if !ok {
				return nil, fmt.Errorf("%s: rendered nothing for %s", drv.Name(), mf.Path)
			}
			cur, err := readFileState(mf.Path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", drv.Name(), err)
			}
			var data []byte
			if len(mf.Blocks) == 0 {
				data = m.Whole
			} else {
				if !cur.Exists {
					return nil, fmt.Errorf("%s: %s does not exist (cutover only edits its blocks in the operator's file)", drv.Name(), mf.Path)
				}
				blocks := map[string]*string{}
				for _, name := range mf.Blocks {
					s := m.Blocks[name]
					blocks[name] = &s
				}
				if data, err = spliceIndented(cur.Data, mf.Path, blocks, mf.Append, mf.Indent); err != nil {
					return nil, fmt.Errorf("%s: %w", drv.Name(), err)
				}
			}
			if mf.Check != nil {
				lines, err := outsideLines(data, mf.Path)
				if err == nil {
					err = mf.Check(lines)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %w", drv.Name(), err)
				}
			}
			if c.mutate != nil {
				data = c.mutate(mf.Path, data)
			}
			ch.planned = append(ch.planned, plannedFile{driver: drv, mf: mf, cur: cur, data: data})
		}
	}
	if err := c.finishPlan(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// PlanBaseline plans the 0 %-new state: everything back to OLD.
func (c *Controller) PlanBaseline() (*Change, error) {
	ch, err := c.Plan(model.Baseline(c.Current()))
	if err != nil {
		return nil, err
	}
	ch.Action = "baseline"
	return ch, nil
}

// PlanRollback plans restoring the files to how they were right before
// change id ("" = before the last successful change). cutover's blocks get
// the snapshot's content; when the operator's lines are unchanged since, the
// file becomes byte-identical to the snapshot, otherwise the operator's
// later edits are kept and a note says so.
func (c *Controller) PlanRollback(id string) (*Change, error) {
	if id == "" {
		a, err := c.st.applied()
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, errors.New("nothing to roll back: no change applied yet")
		}
		id = a.AuditID
	}
	snap, err := c.st.snapshot(id)
	if err != nil {
		return nil, err
	}
	byPath := map[string]SnapFile{}
	for _, f := range snap.Files {
		byPath[f.Path] = f
	}
	ch := &Change{Action: "rollback", From: c.Current(), To: snap.Desired, RollbackOf: id, ctl: c}
	for _, drv := range c.drivers {
		for _, mf := range drv.Files() {
			cur, err := readFileState(mf.Path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", drv.Name(), err)
			}
			pf := plannedFile{driver: drv, mf: mf, cur: cur, data: cur.Data, remove: !cur.Exists}
			sf, ok := byPath[mf.Path]
			// What cutover had confirmed live before change id: the
			// snapshot may hold bytes nobody confirmed (a change that
			// died after its write), and a rollback must not bring
			// those back under the name of the previous ratio.
			live, haveLive := snap.Live[mf.Path]
			unconfirmed := fmt.Sprintf("%s: %s held bytes cutover never confirmed live before change %s (an interrupted change or an edit of cutover's part); restoring cutover's last confirmed content", drv.Name(), mf.Path, id)
			switch {
			case !ok:
				ch.Notes = append(ch.Notes, fmt.Sprintf("%s: %s was not managed at change %s; left as it is", drv.Name(), mf.Path, id))
			case len(mf.Blocks) == 0:
				pf.data, pf.remove = sf.Data, !sf.Exists
				if haveLive && (live.Exists != sf.Exists || live.SHA256 != sumOf(sf.Exists, sf.Data)) {
					pf.data, pf.remove = live.Data, !live.Exists
					ch.Notes = append(ch.Notes, unconfirmed)
				}
			case !cur.Exists:
				return nil, fmt.Errorf("%s: %s does not exist", drv.Name(), mf.Path)
			default:
				regions := map[string]*string{}
				for _, n := range mf.Blocks {
					regions[n] = nil
				}
				var snapOut, liveOut []byte
				if sf.Exists {
					if regions, err = blockContents(sf.Data, mf.Path+" (snapshot "+id+")", mf.Blocks); err != nil {
						return nil, err
					}
					snapOut, _ = outside(sf.Data, mf.Path, mf.Blocks)
				}
				fromLive := false
				if haveLive && live.Exists && live.SHA256 != sumOf(sf.Exists, sf.Data) {
					if lr, err := blockContents(live.Data, mf.Path+" (confirmed before "+id+")", mf.Blocks); err == nil && !sameRegions(lr, regions) {
						regions, fromLive = lr, true
						liveOut, _ = outside(live.Data, mf.Path, mf.Blocks)
						ch.Notes = append(ch.Notes, unconfirmed)
					}
				}
				curOut, err := outside(cur.Data, mf.Path, mf.Blocks)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", drv.Name(), err)
				}
				switch {
				case sf.Exists && !fromLive && bytes.Equal(curOut, snapOut):
					pf.data = sf.Data
				case fromLive && bytes.Equal(curOut, liveOut):
					pf.data = live.Data
				default:
					// Snapshot regions carry their indentation already.
					if pf.data, err = spliceBlocks(cur.Data, mf.Path, regions, false); err != nil {
						return nil, fmt.Errorf("%s: %w", drv.Name(), err)
					}
					if !sf.Exists || !bytes.Equal(curOut, snapOut) {
						ch.Notes = append(ch.Notes, fmt.Sprintf("%s: %s: the operator's lines changed since change %s and are kept; only cutover's blocks are restored", drv.Name(), mf.Path, id))
					}
				}
			}
			ch.planned = append(ch.planned, pf)
		}
	}
	if err := c.finishPlan(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// finishPlan computes the diffs and the drift of a plan.
func (c *Controller) finishPlan(ch *Change) error {
	a, err := c.st.applied()
	if err != nil {
		return err
	}
	for _, p := range ch.planned {
		fc := FileChange{Driver: p.driver.Name(), Path: p.mf.Path, Changed: p.changed()}
		if fc.Changed {
			fc.Create = !p.cur.Exists
			fc.Delete = p.remove
			newData := p.data
			if p.remove {
				newData = nil
			}
			fc.Diff = unifiedDiff(p.mf.Path, p.cur.Data, newData)
		}
		ch.Files = append(ch.Files, fc)
		if a == nil {
			continue
		}
		last, ok := a.Files[p.mf.Path]
		if !ok || (last.Exists == p.cur.Exists && last.SHA256 == hashOf(p.cur.Data)) {
			continue
		}
		dr := Drift{Driver: p.driver.Name(), Path: p.mf.Path, Diff: unifiedDiff(p.mf.Path, last.Data, p.cur.Data), InBlock: true}
		if len(p.mf.Blocks) > 0 && last.Exists && p.cur.Exists {
			lb, err1 := blockContents(last.Data, p.mf.Path, p.mf.Blocks)
			cb, err2 := blockContents(p.cur.Data, p.mf.Path, p.mf.Blocks)
			dr.InBlock = err1 != nil || err2 != nil || !sameRegions(lb, cb)
		}
		ch.Drift = append(ch.Drift, dr)
	}
	return nil
}

func sameRegions(a, b map[string]*string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || (va == nil) != (vb == nil) || (va != nil && *va != *vb) {
			return false
		}
	}
	return true
}

func unifiedDiff(path string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	return udiff.Unified("a"+path, "b"+path, string(a), string(b))
}

// ApplyOptions are the caller's explicit consents.
type ApplyOptions struct {
	// AcceptDrift overwrites files edited behind cutover's back (listed in
	// Change.Drift, with their diffs). Without it Apply refuses.
	AcceptDrift bool
}

// Errors of Apply before anything is written.
var (
	ErrDrift = errors.New("managed files were edited behind cutover's back")
	ErrStale = errors.New("a managed file changed since the preview; preview again")
)

// DriftError lists drifted files; errors.Is(err, ErrDrift).
type DriftError struct{ Drift []Drift }

func (e *DriftError) Error() string {
	var paths []string
	for _, d := range e.Drift {
		paths = append(paths, d.Path)
	}
	return fmt.Sprintf("%v: %s (review the diff and confirm to overwrite)", ErrDrift, strings.Join(paths, ", "))
}

func (e *DriftError) Is(t error) bool { return t == ErrDrift }

// ApplyError is a failed apply: the failing step with the checker's output,
// and whether the previous files are back.
type ApplyError struct {
	ID            string // audit entry / snapshot id
	Step          *StepError
	Restored      bool     // the previous bytes of every file are back
	RestoreErr    error    // why not
	ReloadedAgain []string // drivers reloaded after the restore
	ReloadErr     error    // a reload after the restore failed too
	// Conflicts are files someone changed after cutover's write: left as
	// they are, their drivers not reloaded (Restored is false).
	Conflicts []Conflict
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Step.Error())
	switch {
	case !e.Restored && len(e.Conflicts) > 0:
		fmt.Fprintf(&b, "\nNOT RESTORED: %v", e.RestoreErr)
	case !e.Restored:
		fmt.Fprintf(&b, "\nRESTORE FAILED, the MTA files may be broken: %v", e.RestoreErr)
	case e.ReloadErr != nil:
		fmt.Fprintf(&b, "\nprevious files restored, but reloading them failed too: %v", e.ReloadErr)
	case len(e.ReloadedAgain) > 0:
		fmt.Fprintf(&b, "\nprevious files restored and reloaded (%s)", strings.Join(e.ReloadedAgain, ", "))
	default:
		b.WriteString("\nprevious files restored; nothing was reloaded")
	}
	fmt.Fprintf(&b, " (change %s in cutover history)", e.ID)
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Step }

// Apply executes ch as one transaction: lock, check nothing moved since the
// preview, refuse unconfirmed drift, snapshot every managed file, write the
// changed ones atomically (mode and owner kept), build, validate, reload,
// record. Any failure restores the snapshot (and reloads again if a reload
// had started) and returns an *ApplyError naming the step and the checker's
// output.
func (c *Controller) Apply(ctx context.Context, ch *Change, who Who, opt ApplyOptions) (AuditEntry, error) {
	if ch == nil || ch.ctl != c {
		return AuditEntry{}, errors.New("mtactl: Apply needs a Change planned by this Controller")
	}
	if who.User == "" {
		who = CurrentWho(who.Command)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.now()

	var drivers []Driver // drivers with changed files, in config order
	changed := map[string][]string{}
	for _, p := range ch.planned {
		if p.changed() {
			n := p.driver.Name()
			if changed[n] == nil {
				drivers = append(drivers, p.driver)
			}
			changed[n] = append(changed[n], p.mf.Path)
		}
	}
	lockDirs := map[string]bool{}
	for _, d := range drivers {
		lockDirs[d.LockDir()] = true
	}
	for _, dir := range sortedKeys(lockDirs) {
		release, err := acquireLock(filepath.Join(dir, LockFileName), who)
		if err != nil {
			return AuditEntry{}, err
		}
		defer release()
	}

	// The files must be exactly what the preview showed.
	snap := Snapshot{Time: start.UTC(), Desired: c.Current()}
	if a, err := c.st.applied(); err != nil {
		return AuditEntry{}, fmt.Errorf("mtactl: read applied state: %w", err)
	} else if a != nil {
		snap.Live = a.Files
	}
	for i, p := range ch.planned {
		now, err := readFileState(p.mf.Path)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("%s: %w", p.driver.Name(), err)
		}
		if now.Exists != p.cur.Exists || !bytes.Equal(now.Data, p.cur.Data) {
			return AuditEntry{}, fmt.Errorf("%w: %s", ErrStale, p.mf.Path)
		}
		ch.planned[i].cur = now // fresh mode and owner
		snap.Files = append(snap.Files, SnapFile{Path: p.mf.Path, Exists: now.Exists, Data: now.Data,
			Mode: now.Mode, UID: now.UID, GID: now.GID, SHA256: sumIf(now)})
	}
	if len(ch.Drift) > 0 && !opt.AcceptDrift {
		return AuditEntry{}, &DriftError{Drift: ch.Drift}
	}

	entry := AuditEntry{Time: start.UTC(), Who: who, Action: ch.Action, From: ch.From, To: ch.To,
		RollbackOf: ch.RollbackOf, Result: ResultPending, Notes: ch.Notes}
	for _, d := range ch.Drift {
		entry.Drift = append(entry.Drift, d.Path)
	}
	for _, p := range ch.planned {
		if p.changed() {
			after := ""
			if !p.remove {
				after = hashOf(p.data)
			}
			fr := FileRecord{Path: p.mf.Path, Before: sumIf(p.cur), After: after, Driver: p.driver.Name()}
			if fd, ok := p.driver.(*fileDriver); ok {
				for _, f := range fd.files {
					if f.Path == p.mf.Path {
						fr.Table = f.Table
					}
				}
			}
			entry.Files = append(entry.Files, fr)
		}
	}
	if err := c.st.begin(&snap, &entry); err != nil {
		return AuditEntry{}, fmt.Errorf("mtactl: record snapshot: %w", err)
	}
	inProgress.Store(c.db.Path()+"#"+entry.ID, true)
	defer inProgress.Delete(c.db.Path() + "#" + entry.ID)

	tx := &txn{c: c, ch: ch, entry: &entry, changed: changed, drivers: drivers}
	if serr := tx.run(ctx); serr != nil {
		return tx.fail(ctx, serr, start)
	}

	entry.Result = ResultOK
	entry.Duration = c.now().Sub(start).Round(time.Millisecond).String()
	if ch.files {
		if err := c.st.finish(&entry, nil); err != nil {
			return tx.fail(ctx, &StepError{Driver: "mtactl", Step: "record", Err: err}, start)
		}
		return entry, nil
	}
	a := &applied{Desired: ch.To, AuditID: entry.ID, Time: start.UTC(), Files: map[string]appliedFile{}}
	for _, p := range ch.planned {
		st, err := readFileState(p.mf.Path)
		if err != nil {
			return tx.fail(ctx, &StepError{Driver: p.driver.Name(), Step: "record", Err: err}, start)
		}
		a.Files[p.mf.Path] = appliedFile{Exists: st.Exists, SHA256: sumIf(st), Data: st.Data}
	}
	if err := c.st.finish(&entry, a); err != nil {
		return tx.fail(ctx, &StepError{Driver: "mtactl", Step: "record", Err: err}, start)
	}
	c.curMu.Lock()
	c.cur = ch.To.Clone()
	c.curMu.Unlock()
	return entry, nil
}

// Rollback plans and applies a rollback to before change id ("" = the last
// change).
func (c *Controller) Rollback(ctx context.Context, id string, who Who, opt ApplyOptions) (AuditEntry, error) {
	ch, err := c.PlanRollback(id)
	if err != nil {
		return AuditEntry{}, err
	}
	return c.Apply(ctx, ch, who, opt)
}

// History lists every change, oldest first.
func (c *Controller) History() ([]AuditEntry, error) { return c.st.history() }

// Entry returns one change.
func (c *Controller) Entry(id string) (AuditEntry, error) { return c.st.entry(id) }

// Snapshot returns the files as they were before change id.
func (c *Controller) Snapshot(id string) (*Snapshot, error) { return c.st.snapshot(id) }

func sumOf(exists bool, data []byte) string {
	if !exists {
		return ""
	}
	return hashOf(data)
}

func sumIf(st fileState) string {
	if !st.Exists {
		return ""
	}
	return hashOf(st.Data)
}

// txn is one Apply in progress.
type txn struct {
	c        *Controller
	ch       *Change
	entry    *AuditEntry
	changed  map[string][]string
	drivers  []Driver
	written  []plannedFile
	reloaded []Driver
	failedAt Driver // driver whose reload failed
	step     string
}

func (t *txn) run(ctx context.Context) *StepError {
	t.step = "write"
	for _, p := range t.ch.planned {
		if !p.changed() {
			continue
		}
		var err error
		if p.remove {
			err = removeFile(p.cur)
		} else {
			var pre func(string) error
			if pc, ok := p.driver.(Prechecker); ok {
				pre = func(tmp string) error { return pc.Precheck(ctx, p.mf.Path, tmp) }
			}
			err = writeAtomic(p.target(), p.data, p.mf.Perm, pre)
		}
		if err != nil {
			var se *StepError
			if errors.As(err, &se) {
				return se
			}
			return &StepError{Driver: p.driver.Name(), Step: "write", Err: fmt.Errorf("%s: %w", p.mf.Path, err)}
		}
		t.written = append(t.written, p)
	}
	for _, step := range []string{"build", "validate", "reload"} {
		t.step = step
		for _, d := range t.drivers {
			var err error
			switch step {
			case "build":
				err = d.Build(ctx, t.changed[d.Name()])
			case "validate":
				err = d.Validate(ctx, t.changed[d.Name()])
			case "reload":
				var did bool
				did, err = d.Reload(ctx, t.changed[d.Name()])
				if err != nil {
					t.failedAt = d
				} else if did {
					t.reloaded = append(t.reloaded, d)
					t.entry.Reloaded = append(t.entry.Reloaded, d.Name())
				}
			}
			if err != nil {
				var se *StepError
				if !errors.As(err, &se) {
					se = &StepError{Driver: d.Name(), Step: step, Err: err}
				}
				return se
			}
		}
	}
	return nil
}

// fail restores every written file from the snapshot, rebuilds, reloads the
// drivers whose reload had started, and records the failure.
func conflicted(cs []Conflict, driver string) bool {
	return slices.ContainsFunc(cs, func(c Conflict) bool { return c.Driver == driver })
}

func (t *txn) fail(ctx context.Context, serr *StepError, start time.Time) (AuditEntry, error) {
	// The caller's context may be what failed; the restore must still run.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	ae := &ApplyError{ID: t.entry.ID, Step: serr, Restored: true}
	var items []restoreItem
	for _, p := range t.written {
		// a private file goes back with its private mode and group
		prev := p.target()
		prev.Data = p.cur.Data
		it := restoreItem{driver: p.driver, path: p.mf.Path, prev: prev, haveData: true}
		if !p.remove {
			it.wrote, it.wroteData = hashOf(p.data), p.data
		}
		items = append(items, it)
	}
	res := restoreWritten(items)
	errs := res.errs
	for _, d := range t.drivers {
		if res.restored[d.Name()] {
			if err := d.Build(rctx, t.changed[d.Name()]); err != nil {
				errs = append(errs, fmt.Errorf("rebuild after restore: %w", err))
			}
		}
	}
	// Reload again only where a reload started: a config that failed its
	// check was never reloaded, and must not be now. A driver whose files
	// someone changed since cutover's write is left on its current config.
	var again []Driver
	for _, d := range t.reloaded {
		if !conflicted(res.conflicts, d.Name()) {
			again = append(again, d)
		}
	}
	if t.failedAt != nil && !conflicted(res.conflicts, t.failedAt.Name()) {
		again = append(again, t.failedAt)
	}
	if len(res.conflicts) > 0 {
		ae.Conflicts = res.conflicts
		errs = append([]error{&ConflictError{Conflicts: res.conflicts}}, errs...)
	}
	if len(errs) > 0 {
		ae.Restored, ae.RestoreErr = false, errors.Join(errs...)
	}
	var rerrs []error
	for _, d := range again {
		if _, err := d.Reload(rctx, t.changed[d.Name()]); err != nil {
			rerrs = append(rerrs, err)
		} else {
			ae.ReloadedAgain = append(ae.ReloadedAgain, d.Name())
		}
	}
	ae.ReloadErr = errors.Join(rerrs...)
	e := t.entry
	e.Result = ResultFailed
	e.Step = serr.Driver + " " + serr.Step
	e.Error = ae.Error()
	e.Output = clip(serr.Output, 16000)
	switch {
	case !ae.Restored:
		e.Restored = ae.RestoreErr.Error()
	case ae.ReloadErr != nil:
		e.Restored = "files yes; reload failed: " + ae.ReloadErr.Error()
	default:
		e.Restored = "yes"
	}
	e.Duration = t.c.now().Sub(start).Round(time.Millisecond).String()
	if err := t.c.st.finish(e, nil); err != nil {
		return *e, errors.Join(ae, fmt.Errorf("record the failure: %w", err))
	}
	return *e, ae
}
