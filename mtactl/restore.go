package mtactl

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Restoring after a failure, in-process (txn.fail) or on the next start
// after the process died mid-apply (reconcile), follows one rule: cutover
// only takes back the bytes it wrote. A file that changed since cutover's
// write was edited by someone (an operator fixing things while a reload
// stalled); putting the snapshot back would silently discard that edit, so
// such a file is left as it is, reported with a diff, and its driver is
// neither rebuilt nor reloaded: the MTA stays on its current config.

// ErrConflict: a file changed since cutover wrote it; it was not restored.
var ErrConflict = errors.New("changed since cutover wrote it; not restored")

// Conflict is a file cutover would have restored but that someone changed
// after cutover's write.
type Conflict struct {
	Driver string
	Path   string
	Diff   string // what cutover wrote (or, after a crash, the snapshot) -> what is there now
}

// ConflictError lists the files left alone; errors.Is(err, ErrConflict).
type ConflictError struct{ Conflicts []Conflict }

func (e *ConflictError) Error() string {
	var b strings.Builder
	var drivers []string
	for _, c := range e.Conflicts {
		if !slices.Contains(drivers, c.Driver) {
			drivers = append(drivers, c.Driver)
		}
	}
	fmt.Fprintf(&b, "%d %s %v; left as %s, and %s not reloaded (the MTA stays on its current config):",
		len(e.Conflicts), plural(len(e.Conflicts), "file", "files"), ErrConflict,
		plural(len(e.Conflicts), "it is", "they are"), strings.Join(drivers, ", "))
	for _, c := range e.Conflicts {
		fmt.Fprintf(&b, "\n--- %s (%s)\n%s", c.Path, c.Driver, strings.TrimRight(clip(c.Diff, 4000), "\n"))
	}
	return b.String()
}

func (e *ConflictError) Is(t error) bool { return t == ErrConflict }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// restoreItem is one file to take back: what cutover wrote there and what
// was there before.
type restoreItem struct {
	driver Driver
	path   string
	// wrote is the sha256 of what cutover wrote ("" = cutover removed the
	// file); wroteData the bytes when known (for the conflict diff).
	wrote     string
	wroteData []byte
	haveData  bool
	prev      fileState // the snapshot: Exists, Data, Mode, UID, GID
}

// restoreResult is what restoreWritten did.
type restoreResult struct {
	restored  map[string]bool // driver names whose files are all back
	conflicts []Conflict
	errs      []error
}

// restoreWritten puts prev back into every file that still holds exactly
// what cutover wrote. A driver with any file changed since keeps all its
// files as they are (restoring half of a driver's files could leave a
// main.cf naming transports its master.cf no longer has).
func restoreWritten(items []restoreItem) restoreResult {
	res := restoreResult{restored: map[string]bool{}}
	byDriver := map[string][]restoreItem{}
	var order []string
	for _, it := range items {
		n := it.driver.Name()
		if _, ok := byDriver[n]; !ok {
			order = append(order, n)
		}
		byDriver[n] = append(byDriver[n], it)
	}
	for _, n := range order {
		group := byDriver[n]
		var conflicts []Conflict
		nows := make([]fileState, len(group))
		for i, it := range group {
			now, err := readFileState(it.path)
			if err != nil {
				res.errs = append(res.errs, fmt.Errorf("restore %s: %w", it.path, err))
				conflicts = append(conflicts, Conflict{Driver: n, Path: it.path, Diff: err.Error()})
				continue
			}
			nows[i] = now
			if sumIf(now) == it.wrote {
				continue
			}
			from, label := it.wroteData, "cutover's write"
			if !it.haveData {
				from, label = it.prev.Data, "the snapshot"
			}
			d := unifiedDiff(it.path, from, now.Data)
			if !now.Exists {
				d = "(removed since " + label + ")\n"
			}
			conflicts = append(conflicts, Conflict{Driver: n, Path: it.path, Diff: d})
		}
		if len(conflicts) > 0 {
			res.conflicts = append(res.conflicts, conflicts...)
			continue
		}
		ok := true
		for i := len(group) - 1; i >= 0; i-- {
			it, now := group[i], nows[i]
			var err error
			if it.prev.Exists {
				now.Mode, now.UID, now.GID, now.Exists = it.prev.Mode, it.prev.UID, it.prev.GID, true
				err = writeAtomic(now, it.prev.Data, it.prev.Mode, nil)
			} else {
				err = removeFile(now)
			}
			if err != nil {
				ok = false
				res.errs = append(res.errs, fmt.Errorf("restore %s: %w", it.path, err))
			}
		}
		if ok {
			res.restored[n] = true
		}
	}
	return res
}

// reconcile settles the audit entries a dead process left pending: the
// apply was interrupted somewhere between its snapshot and its record, so
// nobody knows whether the MTA loaded the new files, and they were never
// confirmed. Files that still hold exactly what the interrupted change
// wrote get the snapshot back, are rebuilt, and their driver reloaded, so
// that what runs is the last state cutover confirmed live; files that match
// neither were edited since and are left alone (reported as conflicts).
// The entry is closed as failed with what was found and done.
func (c *Controller) reconcile(ctx context.Context) error {
	hist, err := c.st.history()
	if err != nil {
		return err
	}
	me := CurrentWho("reconcile")
	for i := range hist {
		e := hist[i]
		// Only this process can be applying on this database (bbolt's
		// lock), so a pending entry not in progress here is a dead apply
		// (not judged by pid: a container gives the next run the same).
		if e.Result != ResultPending || applying(c.db.Path(), e.ID) {
			continue
		}
		if err := c.reconcileEntry(ctx, &e, me); err != nil {
			return fmt.Errorf("change %s: %w", e.ID, err)
		}
		n := fmt.Sprintf("change #%s (%s, left pending by pid %d) settled: %s", e.ID, e.To, e.Who.PID, e.Notes[len(e.Notes)-1])
		if e.Restored != "yes" {
			n += "; NOT all restored: " + clip(e.Restored, 2000)
		}
		c.notices = append(c.notices, n)
	}
	return nil
}

// inProgress holds "<db path>#<id>" of the applies running in this process.
var inProgress sync.Map

func applying(db, id string) bool {
	_, ok := inProgress.Load(db + "#" + id)
	return ok
}

func (c *Controller) reconcileEntry(ctx context.Context, e *AuditEntry, me Who) error {
	snap, err := c.st.snapshot(e.ID)
	if err != nil {
		return err
	}
	before := map[string]SnapFile{}
	for _, f := range snap.Files {
		before[f.Path] = f
	}
	var items []restoreItem
	var written, untouched []string
	var errs []error
	lockDirs := map[string]bool{}
	for _, fr := range e.Files {
		sf, ok := before[fr.Path]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not in snapshot %s", fr.Path, e.ID))
			continue
		}
		drv := c.driverFor(fr)
		if drv == nil {
			errs = append(errs, fmt.Errorf("%s: no configured driver manages it any more", fr.Path))
			continue
		}
		lockDirs[drv.LockDir()] = true
		now, err := readFileState(fr.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch h := sumIf(now); {
		case h == fr.Before:
			untouched = append(untouched, fr.Path)
			continue
		case h == fr.After:
			written = append(written, fr.Path)
		}
		items = append(items, restoreItem{driver: drv, path: fr.Path, wrote: fr.After,
			prev: fileState{Path: fr.Path, Exists: sf.Exists, Data: sf.Data, Mode: sf.Mode, UID: sf.UID, GID: sf.GID}})
	}
	for _, dir := range sortedKeys(lockDirs) {
		release, err := acquireLock(filepath.Join(dir, LockFileName), me)
		if err != nil {
			return err // someone is applying right now: settle it next time
		}
		defer release()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	res := restoreWritten(items)
	errs = append(errs, res.errs...)
	var rebuilt, reloaded []string
	var rerrs []error
	for _, d := range c.reconcileDrivers(items) {
		if !res.restored[d.Name()] {
			continue
		}
		paths := pathsOf(items, d.Name())
		if err := d.Build(rctx, paths); err != nil {
			errs = append(errs, fmt.Errorf("rebuild after restore: %w", err))
			continue
		}
		rebuilt = append(rebuilt, d.Name())
		// Whether the dead process reloaded is unknown: reload, so the
		// MTA surely runs the restored (last confirmed) files.
		if did, err := d.Reload(rctx, paths); err != nil {
			rerrs = append(rerrs, err)
		} else if did {
			reloaded = append(reloaded, d.Name())
		}
	}
	e.Result = ResultFailed
	e.Step = "interrupted"
	e.Error = fmt.Sprintf("the process (pid %d on %s) stopped during this change, before recording its result", e.Who.PID, e.Who.Host)
	note := fmt.Sprintf("settled on %s by %s (pid %d): ", c.now().UTC().Format(time.RFC3339), me.User, me.PID)
	switch {
	case len(items) == 0:
		note += "no file held this change's bytes; the files are as before it"
	default:
		note += fmt.Sprintf("%d of %d files held this change's bytes, never confirmed live", len(written), len(e.Files))
		if len(rebuilt) > 0 {
			note += "; restored the snapshot (" + strings.Join(rebuilt, ", ") + ")"
		}
		if len(reloaded) > 0 {
			note += " and reloaded " + strings.Join(reloaded, ", ")
		}
	}
	e.Notes = append(e.Notes, note)
	var parts []string
	if len(res.conflicts) > 0 {
		ce := &ConflictError{Conflicts: res.conflicts}
		parts = append(parts, ce.Error())
		e.Output = clip(ce.Error(), 16000)
	}
	if len(errs) > 0 {
		parts = append(parts, errors.Join(errs...).Error())
	}
	switch {
	case len(parts) > 0:
		e.Restored = strings.Join(parts, "\n")
	case len(rerrs) > 0:
		e.Restored = "files yes; reload failed: " + errors.Join(rerrs...).Error()
	default:
		e.Restored = "yes"
	}
	return c.st.finish(e, nil)
}

// driverFor finds the driver of a file an entry touched: the recorded
// driver, or the one managing the path, or (a whole file such as the
// suppression map of an older entry) the one whose config directory holds it.
func (c *Controller) driverFor(fr FileRecord) Driver {
	for _, d := range c.drivers {
		if fr.Driver != "" && d.Name() == fr.Driver {
			if fr.Table != "" || !managesPath(d, fr.Path) {
				return &fileDriver{base: d, files: []WholeFile{{Path: fr.Path, Table: fr.Table}}}
			}
			return d
		}
	}
	for _, d := range c.drivers {
		if managesPath(d, fr.Path) {
			return d
		}
	}
	for _, d := range c.drivers {
		if filepath.Dir(fr.Path) == filepath.Clean(d.LockDir()) {
			return &fileDriver{base: d, files: []WholeFile{{Path: fr.Path}}}
		}
	}
	return nil
}

func managesPath(d Driver, p string) bool {
	for _, f := range d.Files() {
		if f.Path == p {
			return true
		}
	}
	return false
}

// reconcileDrivers lists the drivers of items once each, in config order.
func (c *Controller) reconcileDrivers(items []restoreItem) []Driver {
	var out []Driver
	seen := map[string]bool{}
	for _, d := range c.drivers {
		for _, it := range items {
			if it.driver.Name() == d.Name() && !seen[d.Name()] {
				seen[d.Name()] = true
				out = append(out, mergeFileDrivers(items, d.Name()))
			}
		}
	}
	return out
}

// mergeFileDrivers returns the driver for name's items; whole-file items
// (fileDriver) are merged into one so that Build sees every table.
func mergeFileDrivers(items []restoreItem, name string) Driver {
	var fd *fileDriver
	var plain Driver
	for _, it := range items {
		if it.driver.Name() != name {
			continue
		}
		if f, ok := it.driver.(*fileDriver); ok {
			if fd == nil {
				fd = &fileDriver{base: f.base}
			}
			fd.files = append(fd.files, f.files...)
		} else {
			plain = it.driver
		}
	}
	if plain != nil {
		return plain
	}
	return fd
}

func pathsOf(items []restoreItem, driver string) []string {
	var out []string
	for _, it := range items {
		if it.driver.Name() == driver {
			out = append(out, it.path)
		}
	}
	return out
}
