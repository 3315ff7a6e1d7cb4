package owner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"cutover/ingest/suppress"
	"cutover/model"
	"cutover/state"
	ssup "cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// ImportRequest is suppress.import (attach.OpSuppressImport): the flags of `cutover suppress import`
// as the CLI parsed them, with absolute paths (the owner has its own
// working directory).
type ImportRequest struct {
	Provider string   `json:"provider"`
	List     string   `json:"list,omitempty"`
	Scope    string   `json:"scope,omitempty"`
	Type     string   `json:"type,omitempty"`
	Map      string   `json:"map,omitempty"`
	Source   string   `json:"source,omitempty"`
	TZ       string   `json:"tz,omitempty"`
	Rejects  string   `json:"rejects,omitempty"`
	Log      string   `json:"log,omitempty"` // --log: must be the owner's log
	Files    []string `json:"files"`
}

// ImportID names one import in status and cancel requests.
type ImportID struct {
	ID string `json:"id"`
}

// ImportStatus answers suppress.import.status. Summary is set once
// Done; Err is Import's error, Canceled says the import was stopped.
type ImportStatus struct {
	ID       string            `json:"id"`
	Files    []ui.ImportFile   `json:"files"`
	Done     bool              `json:"done"`
	Canceled bool              `json:"canceled,omitempty"`
	Err      string            `json:"err,omitempty"`
	Summary  *suppress.Summary `json:"summary,omitempty"`
}

const (
	keepImportFiles = 10 // finished files the view keeps showing
	keepImportRuns  = 4  // finished imports whose summary a status request can still fetch
	// importNotifyEvery spaces the pushes progress causes: every viewer
	// reloads on a push.
	importNotifyEvery = 300 * time.Millisecond
)

// imports runs suppression imports inside the owner, one at a time,
// against the owner's open database and its one canonical log (the log is
// flock'd: a second *ssup.Log in the process would be refused).
type imports struct {
	db     *state.DB
	log    func() (*ssup.Log, error) // the pipeline's log; nil: imports refused
	notify func()                    // viewers and the owner's cockpit reload
	logger *slog.Logger              // nil: discard

	mu       sync.Mutex
	cur      *importRun
	finished []*importRun    // oldest first, for status requests
	recent   []ui.ImportFile // files of the finished imports, newest import first, for the view
	lastPush time.Time
	closed   bool
	wg       sync.WaitGroup
}

type importRun struct {
	id       string
	by       string
	files    []ui.ImportFile
	cancel   context.CancelFunc
	done     bool
	canceled bool
	err      string
	sum      suppress.Summary
	fileAt   time.Time // when the running file started (its Elapsed before the summary has it)
}

// register adds the suppression ops to the owner's socket.
func (im *imports) register(srv *attach.Server, info ui.SuppressionProvider) {
	srv.Handle(attach.OpSuppressInfo, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		return info.SuppressionInfo()
	})
	srv.Handle(attach.OpSuppressImport, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		if s.ReadOnly() {
			return nil, attach.ErrReadOnly
		}
		// The owner reads the files and writes the rejects as its own
		// user: only that user (or root) may name them.
		if s.Peer.UID != uint32(os.Getuid()) && s.Peer.UID != 0 {
			return nil, fmt.Errorf("%w: an import through the owner reads and writes files as its user (uid %d); user %s may not ask for one",
				attach.ErrPermission, os.Getuid(), s.Peer.User)
		}
		var req ImportRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		return im.start(req, s.Peer.User, s.Done())
	})
	srv.Handle(attach.OpSuppressImportStatus, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		var req ImportID
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		return im.status(req.ID)
	})
	srv.Handle(attach.OpSuppressImportCancel, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		if s.ReadOnly() {
			return nil, attach.ErrReadOnly
		}
		var req ImportID
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		return struct{}{}, im.stop(req.ID)
	})
}

// options turns a request into Import's options, checking what the CLI
// checked already (another client may send anything).
func (im *imports) options(req ImportRequest) (suppress.ImportOptions, *ssup.Log, error) {
	bad := func(format string, a ...any) (suppress.ImportOptions, *ssup.Log, error) {
		return suppress.ImportOptions{}, nil, fmt.Errorf("%w: %s", attach.ErrBadRequest, fmt.Sprintf(format, a...))
	}
	p, err := suppress.ParseProvider(req.Provider)
	if err != nil {
		return bad("%v", err)
	}
	// RegularOnly: a client's /dev/stdin names the owner's own standard
	// input here (a terminal, or /dev/null that would import nothing).
	opts := suppress.ImportOptions{DB: im.db, Provider: p, List: req.List, Scope: req.Scope, Source: req.Source, RejectsPath: req.Rejects, RegularOnly: true}
	if req.Type != "" {
		t, ok := model.ParseSuppressionType(req.Type)
		if !ok {
			return bad("type %q", req.Type)
		}
		opts.Type = t
	}
	if req.Map != "" {
		if opts.Map, err = suppress.ParseMap(req.Map); err != nil {
			return bad("map: %v", err)
		}
	}
	if req.TZ != "" {
		if opts.TZ, err = time.LoadLocation(req.TZ); err != nil {
			return bad("tz: %v", err)
		}
	}
	if len(req.Files) == 0 {
		return bad("no files")
	}
	for _, f := range append([]string{req.Rejects, req.Log}, req.Files...) {
		if f != "" && !filepath.IsAbs(f) {
			return bad("%q is not an absolute path", f)
		}
	}
	for _, f := range req.Files {
		if st, err := os.Stat(f); err == nil && !st.Mode().IsRegular() {
			return bad("%s is not a regular file: the owner reads the files itself and cannot read a client's pipe or device", f)
		}
	}
	if im.log == nil {
		return suppress.ImportOptions{}, nil, errors.New("this owner does not take suppression imports")
	}
	l, err := im.log()
	if err != nil {
		return suppress.ImportOptions{}, nil, err
	}
	if req.Log != "" && !samePath(req.Log, l.Path()) {
		return bad("--log %s: the owner appends to %s, and only one log may hold the index", req.Log, l.Path())
	}
	opts.Log = l
	return opts, l, nil
}

func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// start checks the request and runs the import in the background; the
// import stops when gone is closed (the requester's session ended).
func (im *imports) start(req ImportRequest, by string, gone <-chan struct{}) (ImportID, error) {
	opts, _, err := im.options(req)
	if err != nil {
		return ImportID{}, err
	}
	files := make([]ui.ImportFile, len(req.Files))
	for i, f := range req.Files {
		st, err := os.Stat(f)
		if err != nil {
			return ImportID{}, err
		}
		files[i] = ui.ImportFile{File: f, Index: i, Files: len(req.Files), Size: st.Size(), State: ui.ImportQueued, By: by}
	}
	var b [6]byte
	rand.Read(b[:])
	run := &importRun{id: hex.EncodeToString(b[:]), by: by, files: files}
	for i := range run.files {
		run.files[i].Run = run.id
	}
	run.files[0].State, run.fileAt = ui.ImportRunning, time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel

	im.mu.Lock()
	if im.closed {
		im.mu.Unlock()
		cancel()
		return ImportID{}, errors.New("the owner is stopping")
	}
	if c := im.cur; c != nil {
		im.mu.Unlock()
		cancel()
		return ImportID{}, fmt.Errorf("an import is already running in the owner (%s, by %s, %d file(s)): wait for it, one at a time", c.id, c.by, len(c.files))
	}
	im.cur = run
	im.wg.Add(1)
	im.mu.Unlock()
	im.push(true)
	im.logf().Info("suppression import started", "import", run.id, "user", by, "provider", req.Provider, "files", len(req.Files))

	go func() {
		select {
		case <-gone:
			cancel() // the requester went away: do not import behind its back
		case <-ctx.Done():
		}
	}()
	go func() {
		defer im.wg.Done()
		defer cancel()
		sum, err := suppress.Import(ctx, opts, req.Files, func(p suppress.Progress) { im.progress(run, p) })
		// Commit the index now, not at the pipeline's next index batch:
		// the totals read it (read-only) as committed.
		if ferr := opts.Log.Flush(); ferr != nil {
			err = errors.Join(err, ferr)
		}
		canceled := ctx.Err() != nil
		im.finish(run, sum, err, canceled)
		lv := slog.LevelInfo
		if err != nil && !canceled {
			lv = slog.LevelError
		}
		im.logf().Log(context.Background(), lv, "suppression import finished", "import", run.id, "user", by, "rows", sum.Rows,
			"accepted", sum.Accepted, "duplicate", sum.Duplicate, "rejected", sum.Rejected, "canceled", canceled, "err", err)
	}()
	return ImportID{ID: run.id}, nil
}

func (im *imports) logf() *slog.Logger {
	if im.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return im.logger
}

// progress records one Progress of Import.
func (im *imports) progress(run *importRun, p suppress.Progress) {
	im.mu.Lock()
	if p.FileIndex >= 0 && p.FileIndex < len(run.files) {
		f := &run.files[p.FileIndex]
		f.Bytes, f.Rows, f.Accepted, f.Duplicate, f.Rejected, f.Rate, f.ETA = p.Bytes, p.Rows, p.Accepted, p.Duplicate, p.Rejected, p.Rate, p.ETA
		if p.Size > 0 {
			f.Size = p.Size
		}
		f.State = ui.ImportRunning
		if p.Done {
			f.State, f.ETA, f.Elapsed = ui.ImportDone, 0, time.Since(run.fileAt)
			run.fileAt = time.Now()
			if n := p.FileIndex + 1; n < len(run.files) {
				run.files[n].State = ui.ImportRunning
			}
		}
	}
	im.mu.Unlock()
	im.push(p.Done)
}

// finish records the outcome from the summary (the last word on every
// file: its error, its elapsed time), moves the run to the finished ones
// and tells the viewers.
func (im *imports) finish(run *importRun, sum suppress.Summary, err error, canceled bool) {
	im.mu.Lock()
	for i := range run.files {
		f := &run.files[i]
		if i < len(sum.Files) {
			fs := &sum.Files[i]
			f.Rows, f.Accepted, f.Duplicate, f.Rejected, f.Elapsed, f.ETA = fs.Rows, fs.Accepted, fs.Duplicate, fs.Rejected, fs.Elapsed, 0
			switch {
			case fs.Err != "" && canceled:
				f.State, f.Err = ui.ImportCanceled, fs.Err
			case fs.Err != "":
				f.State, f.Err = ui.ImportFailed, fs.Err
			default:
				f.State = ui.ImportDone
				f.Bytes = max(f.Bytes, f.Size)
			}
			continue
		}
		f.ETA = 0
		if canceled {
			f.State = ui.ImportCanceled
		} else {
			f.State, f.Err = ui.ImportFailed, "not read"
		}
	}
	run.done, run.canceled, run.sum = true, canceled, sum
	if err != nil {
		run.err = err.Error()
	}
	im.cur = nil
	im.recent = append(append([]ui.ImportFile(nil), run.files...), im.recent...)
	im.recent = im.recent[:min(len(im.recent), keepImportFiles)]
	im.finished = append(im.finished, run)
	if n := len(im.finished) - keepImportRuns; n > 0 {
		im.finished = append([]*importRun(nil), im.finished[n:]...)
	}
	im.mu.Unlock()
	im.push(true)
}

// push tells the viewers, at most every importNotifyEvery unless now.
func (im *imports) push(now bool) {
	im.mu.Lock()
	if !now && time.Since(im.lastPush) < importNotifyEvery {
		im.mu.Unlock()
		return
	}
	im.lastPush = time.Now()
	notify := im.notify
	im.mu.Unlock()
	if notify != nil {
		notify()
	}
}

func (im *imports) find(id string) *importRun {
	if im.cur != nil && im.cur.id == id {
		return im.cur
	}
	for _, r := range im.finished {
		if r.id == id {
			return r
		}
	}
	return nil
}

func (im *imports) status(id string) (ImportStatus, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	r := im.find(id)
	if r == nil {
		return ImportStatus{}, fmt.Errorf("%w: no import %q in this owner", attach.ErrNotFound, id)
	}
	st := ImportStatus{ID: r.id, Files: append([]ui.ImportFile(nil), r.files...), Done: r.done, Canceled: r.canceled, Err: r.err}
	if r.done {
		sum := r.sum
		st.Summary = &sum
	}
	return st, nil
}

func (im *imports) stop(id string) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	r := im.find(id)
	if r == nil {
		return fmt.Errorf("%w: no import %q in this owner", attach.ErrNotFound, id)
	}
	r.cancel()
	return nil
}

// Files are the files of the running import, then the last
// keepImportFiles files of the finished ones, newest import first
// (ui.SuppressionData).
func (im *imports) Files() []ui.ImportFile {
	if im == nil {
		return nil
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	var out []ui.ImportFile
	if im.cur != nil {
		out = append(out, im.cur.files...)
	}
	return append(out, im.recent...)
}

// Close stops a running import and waits for it: what it read is appended,
// and the log and the database close after it.
func (im *imports) Close() {
	if im == nil {
		return
	}
	im.mu.Lock()
	im.closed = true
	if im.cur != nil {
		im.cur.cancel()
	}
	im.mu.Unlock()
	im.wg.Wait()
}
