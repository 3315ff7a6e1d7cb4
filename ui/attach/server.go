package attach

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
)

// Controller is what the owner needs from mtactl; *mtactl.Controller is one.
type Controller interface {
	Current() model.Desired
	Steps() model.Steps
	Providers() []string
	Plan(d model.Desired) (*mtactl.Change, error)
	PlanBaseline() (*mtactl.Change, error)
	PlanRollback(id string) (*mtactl.Change, error)
	Apply(ctx context.Context, ch *mtactl.Change, who mtactl.Who, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error)
	History() ([]mtactl.AuditEntry, error)
}

// Handler answers an extra op registered with Server.Handle.
type Handler func(ctx context.Context, s *Session, body json.RawMessage) (any, error)

// Server is the owner's side: it answers viewers from Data, Plan and
// Control, and pushes "changed" when Notify is called.
type Server struct {
	Data       ui.Data
	Plan       ui.PlanProvider // nil: Plan{Step: -1}
	Control    Controller      // nil: control requests are answered ErrNoControl
	Thresholds model.Thresholds
	Owner      OwnerInfo
	// Clock, when set, is "now" for every Data call (the demo's simulated
	// clock); nil: the viewer's now.
	Clock  func() time.Time
	Logger *slog.Logger // nil: discard
	// WriteTimeout drops a viewer that does not read for this long (a
	// stopped ssh session) instead of queueing for it; default 10s.
	WriteTimeout time.Duration
	// Heartbeat is how often every viewer gets an "alive" push, so that it
	// sees within 3 beats that this process stopped; default 500ms,
	// negative: none.
	Heartbeat time.Duration

	mu       sync.Mutex
	ln       *Listener
	sessions map[*Session]struct{}
	handlers map[string]Handler
	closed   bool
	wg       sync.WaitGroup

	applyMu sync.Mutex // one control apply at a time, whoever asks
}

// Session is one attached viewer.
type Session struct {
	srv      *Server
	conn     *net.UnixConn
	Peer     Peer
	Hello    Hello
	readOnly bool

	out     chan outFrame
	changed chan struct{}
	done    chan struct{}
	once    sync.Once

	plans map[string]pendingPlan // only touched by the session's reader
}

// outFrame is a frame for the writer; last ends the session once written
// (a refusal must reach the viewer before the connection closes).
type outFrame struct {
	f    Frame
	last bool
}

type pendingPlan struct {
	ch   *mtactl.Change
	made time.Time
}

const (
	maxRequest   = 1 << 20 // a request line; answers are not limited here
	maxPlans     = 4       // previews kept per session
	planLifetime = 10 * time.Minute
	helloTimeout = 10 * time.Second
)

// Done is closed when the session ends (the viewer went away or the server
// closed): work a handler started for this viewer can stop with it.
func (s *Session) Done() <-chan struct{} { return s.done }

// ReadOnly reports whether control requests from this session are refused.
func (s *Session) ReadOnly() bool { return s.readOnly }

// Who is the audit identity of this session: the kernel's user and pid for
// the connection, the SSH client and sudo user the viewer reported.
func (s *Session) Who(action string) mtactl.Who {
	cmd := "attached " + s.Hello.Command
	if action != "" {
		cmd += ": " + action
	}
	return mtactl.Who{User: s.Peer.User, SudoUser: s.Hello.SudoUser, SSHClient: s.Hello.SSHClient,
		Host: s.srv.Owner.Host, PID: int(s.Peer.PID), Command: cmd}
}

// Handle registers an extra op (before Serve).
func (s *Server) Handle(op string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.handlers == nil {
		s.handlers = map[string]Handler{}
	}
	s.handlers[op] = h
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Logger
}

// Serve accepts viewers on l until Close.
func (s *Server) Serve(l *Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = l
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// EMFILE and friends: wait instead of spinning.
			s.log().Warn("control socket accept", "err", err)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(l, c)
		}()
	}
}

// Notify tells every viewer that new data was committed. It never blocks:
// a viewer with a push still pending gets one push for both.
func (s *Server) Notify() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		select {
		case sess.changed <- struct{}{}:
		default:
		}
	}
}

// Viewers is the number of attached sessions.
func (s *Server) Viewers() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close stops accepting, ends every session and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	for sess := range s.sessions {
		sess.close()
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	s.wg.Wait()
	return err
}

func (s *Server) handle(l *Listener, c *net.UnixConn) {
	peer, err := peerOf(c)
	if err != nil {
		s.log().Warn("control socket: no peer credentials", "err", err)
		c.Close()
		return
	}
	if !l.allowed(peer) {
		s.log().Warn("control socket: refused peer", "uid", peer.UID, "user", peer.User, "pid", peer.PID)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		json.NewEncoder(c).Encode(Frame{Err: "permission denied: user " + peer.User + " may not attach", Code: CodePermission})
		c.Close()
		return
	}
	sess := &Session{srv: s, conn: c, Peer: peer, out: make(chan outFrame), changed: make(chan struct{}, 1),
		done: make(chan struct{}), plans: map[string]pendingPlan{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return
	}
	if s.sessions == nil {
		s.sessions = map[*Session]struct{}{}
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	defer func() {
		sess.close()
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
		if sess.Hello.Version != 0 {
			s.log().Debug("viewer detached", "user", sess.Peer.User, "pid", sess.Peer.PID, "command", sess.Hello.Command)
		}
	}()
	go sess.writer()
	sess.reader()
}

func (sess *Session) close() {
	sess.once.Do(func() {
		close(sess.done)
		sess.conn.Close()
	})
}

// writer owns the connection's write side: answers in order, pushes in
// between, each write bounded by WriteTimeout.
func (sess *Session) writer() {
	timeout := sess.srv.WriteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	bw := bufio.NewWriterSize(sess.conn, 64<<10)
	enc := json.NewEncoder(bw)
	write := func(f Frame) bool {
		sess.conn.SetWriteDeadline(time.Now().Add(timeout))
		if err := enc.Encode(f); err != nil {
			return false
		}
		return bw.Flush() == nil
	}
	var beat <-chan time.Time
	if hb := sess.srv.heartbeat(); hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		beat = t.C
	}
	for {
		var o outFrame
		select {
		case <-sess.done:
			return
		case o = <-sess.out:
		case <-sess.changed:
			o.f = Frame{Op: OpChanged}
		case <-beat:
			o.f = Frame{Op: OpAlive}
		}
		if !write(o.f) || o.last {
			// A dead or stuck viewer, or a refusal: end only this session.
			sess.close()
			return
		}
	}
}

func (sess *Session) send(f Frame) bool {
	select {
	case sess.out <- outFrame{f: f}:
		return true
	case <-sess.done:
		return false
	}
}

// fail sends a last frame and waits until the writer wrote it (or gave up).
func (sess *Session) fail(f Frame) {
	select {
	case sess.out <- outFrame{f: f, last: true}:
		<-sess.done
	case <-sess.done:
	}
}

// readLine reads one line of at most maxRequest bytes; a longer or partial
// line (a viewer killed mid-frame) ends the session.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRequest {
			return nil, errors.New("request too long")
		}
		if err == nil {
			return line, nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

func (sess *Session) reader() {
	s := sess.srv
	br := bufio.NewReaderSize(sess.conn, 64<<10)
	sess.conn.SetReadDeadline(time.Now().Add(helloTimeout))
	helloDone := false
	for {
		line, err := readLine(br)
		if err != nil {
			return
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var req Frame
		if err := json.Unmarshal(line, &req); err != nil || req.Op == "" {
			sess.fail(Frame{ID: req.ID, Err: "bad request: want one JSON frame with an op per line", Code: CodeBadRequest})
			return
		}
		if !helloDone {
			if req.Op != OpHello {
				sess.fail(Frame{ID: req.ID, Err: "bad request: hello first", Code: CodeBadRequest})
				return
			}
			w, err := sess.hello(req.Body)
			if err != nil {
				sess.fail(answer(req.ID, s.now(time.Time{}), nil, err))
				return
			}
			helloDone = true
			sess.conn.SetReadDeadline(time.Time{})
			s.log().Info("viewer attached", "user", sess.Peer.User, "uid", sess.Peer.UID, "pid", sess.Peer.PID,
				"command", sess.Hello.Command, "ssh_client", sess.Hello.SSHClient, "read_only", sess.readOnly)
			if !sess.send(answer(req.ID, s.now(time.Time{}), w, nil)) {
				return
			}
			continue
		}
		body, err := sess.dispatch(req)
		if !sess.send(answer(req.ID, s.now(time.Time{}), body, err)) {
			return
		}
	}
}

func answer(id uint64, now time.Time, body any, err error) Frame {
	f := Frame{ID: id, Now: now}
	if err != nil {
		f.Err, f.Code = err.Error(), codeOf(err)
		return f
	}
	b, merr := json.Marshal(body)
	if merr != nil {
		f.Err = "encode answer: " + merr.Error()
		return f
	}
	f.Body = b
	return f
}

func codeOf(err error) string {
	switch {
	case errors.Is(err, ErrReadOnly):
		return CodeReadOnly
	case errors.Is(err, ErrNoControl):
		return CodeNoControl
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrBadRequest):
		return CodeBadRequest
	case errors.Is(err, ErrVersion):
		return CodeVersion
	case errors.Is(err, ErrPermission):
		return CodePermission
	case errors.Is(err, mtactl.ErrDrift):
		return CodeDrift
	case errors.Is(err, mtactl.ErrStale):
		return CodeStale
	case errors.Is(err, mtactl.ErrLocked):
		return CodeLocked
	}
	return ""
}

func (s *Server) now(viewer time.Time) time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	if viewer.IsZero() {
		return time.Now()
	}
	return viewer
}

func (sess *Session) hello(raw json.RawMessage) (Welcome, error) {
	s := sess.srv
	var h Hello
	if err := decode(raw, &h); err != nil {
		return Welcome{}, err
	}
	if h.Version != Version {
		return Welcome{}, fmt.Errorf("%w: viewer speaks %d, owner %d (run the same cutover version)", ErrVersion, h.Version, Version)
	}
	// The viewer's words end up in logs and the audit: keep them short.
	h.Command, h.SSHClient, h.SudoUser = clip(h.Command), clip(h.SSHClient), clip(h.SudoUser)
	sess.Hello = h
	sess.readOnly = h.ReadOnly
	return Welcome{Version: Version, Owner: s.Owner, ReadOnly: sess.readOnly, Control: s.Control != nil,
		Peer: sess.Peer, Thresholds: s.Thresholds, HeartbeatMS: int(s.heartbeat() / time.Millisecond)}, nil
}

func (s *Server) heartbeat() time.Duration {
	switch {
	case s.Heartbeat < 0:
		return 0
	case s.Heartbeat == 0:
		return 500 * time.Millisecond
	}
	return s.Heartbeat
}

func clip(s string) string {
	const n = 200
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (sess *Session) dispatch(req Frame) (any, error) {
	s := sess.srv
	switch req.Op {
	case OpSnapshot:
		var r SnapshotReq
		if err := decode(req.Body, &r); err != nil {
			return nil, err
		}
		return s.Data.Snapshot(r.Window, s.now(r.Now))
	case OpDetail:
		var r DetailReq
		if err := decode(req.Body, &r); err != nil {
			return nil, err
		}
		return s.Data.Detail(r.ISP, r.Window, s.now(r.Now))
	case OpSources:
		var r SourcesReq
		if err := decode(req.Body, &r); err != nil {
			return nil, err
		}
		return s.Data.Sources(s.now(r.Now))
	case OpPlan:
		if s.Plan == nil {
			return ui.Plan{Step: -1}, nil
		}
		return s.Plan.Plan(), nil
	case OpControlCurrent:
		if s.Control == nil {
			return nil, ErrNoControl
		}
		st := ControlState{Current: s.Control.Current(), Steps: s.Control.Steps(), Providers: s.Control.Providers()}
		if d, ok := s.Control.(interface{ Drivers() []string }); ok {
			st.Drivers = d.Drivers()
		}
		return st, nil
	case OpControlHistory:
		if s.Control == nil {
			return nil, ErrNoControl
		}
		return s.Control.History()
	case OpControlPlan:
		return sess.plan(req.Body)
	case OpControlApply:
		return sess.apply(req.Body)
	}
	s.mu.Lock()
	h := s.handlers[req.Op]
	s.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("%w: unknown op %q", ErrBadRequest, req.Op)
	}
	return h(context.Background(), sess, req.Body)
}

// refuse logs a control request that was not allowed, with who asked.
func (sess *Session) refuse(op string, err error) error {
	sess.srv.log().Warn("control refused", "op", op, "user", sess.Peer.User, "uid", sess.Peer.UID, "pid", sess.Peer.PID,
		"ssh_client", sess.Hello.SSHClient, "err", err)
	return err
}

func (sess *Session) plan(raw json.RawMessage) (any, error) {
	s := sess.srv
	if sess.readOnly {
		return nil, sess.refuse(OpControlPlan, ErrReadOnly)
	}
	if s.Control == nil {
		return nil, ErrNoControl
	}
	var r PlanReq
	if err := decode(raw, &r); err != nil {
		return nil, err
	}
	var ch *mtactl.Change
	var err error
	switch r.Kind {
	case PlanApply:
		ch, err = s.Control.Plan(r.Desired)
	case PlanBaseline:
		ch, err = s.Control.PlanBaseline()
	case PlanRollback:
		ch, err = s.Control.PlanRollback(r.RollbackOf)
	default:
		return nil, fmt.Errorf("%w: plan kind %q: want apply, baseline or rollback", ErrBadRequest, r.Kind)
	}
	if err != nil {
		return nil, err
	}
	// Keep the newest few previews: a viewer that previews and walks away
	// must not pin memory.
	now := time.Now()
	for id, p := range sess.plans {
		if now.Sub(p.made) > planLifetime {
			delete(sess.plans, id)
		}
	}
	for len(sess.plans) >= maxPlans {
		var oldest string
		for id, p := range sess.plans {
			if oldest == "" || p.made.Before(sess.plans[oldest].made) {
				oldest = id
			}
		}
		delete(sess.plans, oldest)
	}
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	sess.plans[id] = pendingPlan{ch: ch, made: now}
	return Preview{ID: id, Action: ch.Action, From: ch.From, To: ch.To, RollbackOf: ch.RollbackOf,
		Files: ch.Files, Drift: ch.Drift, Notes: ch.Notes, Caps: ch.Caps}, nil
}

func (sess *Session) apply(raw json.RawMessage) (any, error) {
	s := sess.srv
	if sess.readOnly {
		return nil, sess.refuse(OpControlApply, ErrReadOnly)
	}
	if s.Control == nil {
		return nil, ErrNoControl
	}
	var r ApplyReq
	if err := decode(raw, &r); err != nil {
		return nil, err
	}
	p, ok := sess.plans[r.ID]
	if !ok {
		return nil, sess.refuse(OpControlApply, ErrNotFound)
	}
	// One use: a retried or duplicated apply cannot apply twice.
	delete(sess.plans, r.ID)
	who := sess.Who(fmt.Sprintf("%s %s", p.ch.Action, p.ch.To))
	s.applyMu.Lock()
	entry, err := s.Control.Apply(context.Background(), p.ch, who, mtactl.ApplyOptions{AcceptDrift: r.AcceptDrift})
	s.applyMu.Unlock()
	log := s.log().With("op", OpControlApply, "action", p.ch.Action, "from", p.ch.From.String(), "to", p.ch.To.String(),
		"user", who.User, "uid", sess.Peer.UID, "pid", who.PID, "ssh_client", who.SSHClient, "change", entry.ID)
	if err != nil {
		log.Error("control apply failed", "err", err)
		if entry.ID == "" {
			return nil, err // refused before anything was written
		}
		return ApplyResp{Entry: entry, Err: err.Error(), Code: codeOf(err)}, nil
	}
	log.Info("control applied", "result", entry.Result)
	return ApplyResp{Entry: entry}, nil
}
