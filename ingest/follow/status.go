package follow

import (
	"sort"
	"strings"
	"time"
)

// State is a source's health as shown in the cockpit.
type State string

// Source states.
const (
	Following   State = "following"   // reading, or read lines in the last 10 s
	Idle        State = "idle"        // reachable and caught up
	Waiting     State = "waiting"     // reachable, no file matches the globs yet
	Stale       State = "stale"       // an I/O error; retrying with backoff
	Unreachable State = "unreachable" // the listing has failed for UnreachableAfter
)

// SourceStatus is a snapshot of one follower, taken at the end of each Poll.
type SourceStatus struct {
	Source    string
	State     State
	LastError string // the current error (names the path), "" when healthy
	// Warning names the globs that match no file ("no file matches
	// /var/log/mail.log*"): a typo or a missing mount reads as a warning,
	// not as a silent "waiting". "" when every glob matches.
	Warning   string
	Since     time.Time // when the current error began
	NextRetry time.Time // when a failing listing is tried again
	LastScan  time.Time // last successful listing
	LastData  time.Time // last time lines were delivered
	CaughtUp  bool
	Files     []FileStatus
}

// FileStatus is one file of a source.
type FileStatus struct {
	Path string
	// State: reading (unread complete lines), caught up, draining (rotated
	// out of the globs), done, copy (a copy of content already read or
	// being read elsewhere: skipped), waiting (copy or gzip in progress,
	// or empty), stale (I/O error).
	State    string
	Offset   int64 // cursor offset (uncompressed)
	Size     int64 // size seen (uncompressed bytes seen so far for .gz)
	Lag      int64 // Size - Offset
	Lines    int64
	Rejected int64
	Error    string
	Since    time.Time
}

// Status returns the snapshot taken at the end of the last Poll. Safe from
// any goroutine.
func (f *Follower) Status() SourceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.status
	s.Files = append([]FileStatus(nil), s.Files...)
	return s
}

// CaughtUp reports whether the last Poll listed the globs without error and
// left every matched file read to its last complete line (for backfill
// exit). Safe from any goroutine.
func (f *Follower) CaughtUp() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.caught
}

func (f *Follower) publish(now time.Time) {
	s := SourceStatus{Source: f.opts.Source, LastScan: f.lastScan, LastData: f.lastData}
	if len(f.unmatched) > 0 && f.srcErr == nil {
		s.Warning = "no file matches " + strings.Join(f.unmatched, ", ")
	}
	caught := f.scanned && f.srcErr == nil
	busy := false
	var fileErr *FileStatus
	for _, t := range f.tracks {
		if t.ent == nil && !t.orphan && t.err == nil {
			continue
		}
		f.mu.Lock()
		rej := t.c.Rejected + t.accRej
		f.mu.Unlock()
		fs := FileStatus{Path: t.path, Offset: t.c.Offset, Size: max(t.size, t.readPos()),
			Lines: t.c.Lines, Rejected: rej}
		fs.Lag = fs.Size - fs.Offset
		switch {
		case t.err != nil:
			fs.State, fs.Error, fs.Since = "stale", t.err.Error(), t.errSince
		case t.ent != nil && t.ent.err != nil:
			fs.State, fs.Error, fs.Since = "stale", t.ent.err.Error(), t.ent.errSince
		case t.orphan:
			fs.State = "draining"
		case t.c.Done:
			fs.State = "done"
		case t.eof:
			fs.State = "caught up"
		default:
			fs.State = "reading"
		}
		if fs.Error != "" {
			caught = false
			if fileErr == nil || fs.Since.Before(fileErr.Since) {
				fileErr = &fs
			}
		} else if !t.eof && !t.c.Done {
			caught, busy = false, true
		}
		s.Files = append(s.Files, fs)
	}
	for _, e := range f.ents {
		if e.track != nil {
			continue
		}
		fs := FileStatus{Path: e.path, Size: e.size}
		switch {
		case e.err != nil:
			fs.State, fs.Error, fs.Since = "stale", e.err.Error(), e.errSince
			caught = false
			if fileErr == nil || fs.Since.Before(fileErr.Since) {
				fileErr = &fs
			}
		case e.moved || e.recheck:
			// Renamed or replaced under the scan: looked at again next
			// round, and not caught up until then.
			fs.State = "waiting"
			caught = false
		case e.ghost != nil || e.copyOf != nil:
			fs.State = "copy"
		default:
			fs.State = "waiting"
		}
		s.Files = append(s.Files, fs)
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	switch {
	case f.srcErr != nil:
		s.State, s.LastError, s.Since, s.NextRetry = Stale, f.srcErr.Error(), f.errSince, f.retryAt
		if now.Sub(f.errSince) >= f.opts.UnreachableAfter {
			s.State = Unreachable
		}
	case fileErr != nil:
		s.State, s.Since = Stale, fileErr.Since
		s.LastError = fileErr.Error // *PathError text names the file
	case !f.scanned || len(f.ents) == 0 && len(s.Files) == 0:
		s.State = Waiting
	case busy || !f.lastData.IsZero() && now.Sub(f.lastData) < activeFor:
		s.State = Following
	default:
		s.State = Idle
	}
	s.CaughtUp = caught
	f.mu.Lock()
	f.status, f.caught = s, caught
	f.mu.Unlock()
}
