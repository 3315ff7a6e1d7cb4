package attach

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"cutover/ui"
)

// ClientOptions configure Dial.
type ClientOptions struct {
	ReadOnly bool   // ask for a session that cannot apply anything
	Command  string // what this viewer is, for the owner's log and audit ("cockpit", "status")
	// OnChange is called, from the client's reader goroutine, when the owner
	// pushes "changed" and after every reconnect. It must not block (the
	// cockpit does `go p.Send(ui.Changed{})`).
	OnChange func()
	// CallTimeout bounds every request; default 15s (a Detail over a big
	// database can take a while, a dead owner must not hang the cockpit).
	CallTimeout time.Duration
	// MaxBackoff caps the wait between reconnect attempts; default 5s.
	MaxBackoff time.Duration
	// Getenv reads SSH_CLIENT, SSH_CONNECTION and SUDO_USER for the hello;
	// default os.Getenv.
	Getenv func(string) string
	// Watch treats 3 missed owner heartbeats as the owner gone (a stopped
	// owner keeps its socket open): for a viewer a person watches. A
	// one-shot command waits for its answer (CallTimeout) instead, so a
	// busy machine cannot fail it.
	Watch bool
}

// Client is the viewer's side: a ui.Data and ui.PlanProvider over the
// socket, which reconnects by itself when the owner restarts.
type Client struct {
	path  string
	opt   ClientOptions
	hello Hello

	wmu sync.Mutex // serialises writes on conn

	mu       sync.Mutex
	conn     net.Conn // nil while disconnected
	pending  map[uint64]chan result
	nextID   uint64
	welcome  Welcome
	offset   time.Duration // owner's clock minus ours
	down     error         // why we are disconnected
	downAt   time.Time     // since when (zero while attached)
	closed   bool
	lastPlan ui.Plan

	done chan struct{}
	wg   sync.WaitGroup
}

type result struct {
	f   Frame
	err error
}

// Dial attaches to the owner listening at path. The first connection must
// succeed (so a caller can fall back to opening the database itself);
// later losses are retried in the background.
func Dial(ctx context.Context, path string, opt ClientOptions) (*Client, error) {
	if opt.CallTimeout <= 0 {
		opt.CallTimeout = 15 * time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Second
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	c := &Client{path: path, opt: opt, pending: map[uint64]chan result{}, nextID: 1, done: make(chan struct{}),
		lastPlan: ui.Plan{Step: -1}}
	c.hello = Hello{Version: Version, ReadOnly: opt.ReadOnly, Command: opt.Command,
		SSHClient: sshClient(opt.Getenv), SudoUser: opt.Getenv("SUDO_USER")}
	conn, br, w, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.install(conn, w)
	c.wg.Add(1)
	go c.loop(conn, br)
	return c, nil
}

// sshClient is $SSH_CLIENT, or the same three fields from $SSH_CONNECTION
// ("client_ip client_port server_ip server_port").
func sshClient(getenv func(string) string) string {
	if s := strings.TrimSpace(getenv("SSH_CLIENT")); s != "" {
		return s
	}
	f := strings.Fields(getenv("SSH_CONNECTION"))
	if len(f) == 4 {
		return f[0] + " " + f[1] + " " + f[3]
	}
	return ""
}

// connect dials and does the hello exchange synchronously.
func (c *Client) connect(ctx context.Context) (net.Conn, *bufio.Reader, Welcome, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "unix", c.path)
	if err != nil {
		return nil, nil, Welcome{}, err
	}
	fail := func(err error) (net.Conn, *bufio.Reader, Welcome, error) {
		conn.Close()
		return nil, nil, Welcome{}, err
	}
	body, _ := json.Marshal(c.hello)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(conn).Encode(Frame{ID: 0, Op: OpHello, Body: body}); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(conn, 256<<10)
	var f Frame
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return fail(fmt.Errorf("attach %s: %w", c.path, err))
		}
		if err := json.Unmarshal(line, &f); err != nil {
			return fail(fmt.Errorf("attach %s: %w", c.path, err))
		}
		if f.Op == "" { // skip a push that raced the answer
			break
		}
	}
	if f.Err != "" {
		return fail(&RemoteError{Code: f.Code, Msg: f.Err})
	}
	var w Welcome
	if err := json.Unmarshal(f.Body, &w); err != nil {
		return fail(fmt.Errorf("attach %s: welcome: %w", c.path, err))
	}
	conn.SetDeadline(time.Time{})
	c.mu.Lock()
	if !f.Now.IsZero() {
		c.offset = time.Until(f.Now)
	}
	c.mu.Unlock()
	return conn, br, w, nil
}

func (c *Client) install(conn net.Conn, w Welcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn, c.welcome, c.down, c.downAt = conn, w, nil, time.Time{}
}

// loop reads answers and pushes; when the connection drops it fails the
// calls in flight and reconnects with backoff until Close.
func (c *Client) loop(conn net.Conn, br *bufio.Reader) {
	defer c.wg.Done()
	for {
		err := c.read(conn, br)
		c.mu.Lock()
		c.conn = nil
		if c.downAt.IsZero() {
			c.downAt = time.Now()
		}
		for id, ch := range c.pending {
			ch <- result{err: fmt.Errorf("%w: %v", ErrOwnerGone, err)}
			delete(c.pending, id)
		}
		closed := c.closed
		if !closed {
			c.down = fmt.Errorf("%w (%v)", ErrOwnerGone, err)
		}
		c.mu.Unlock()
		conn.Close()
		if closed {
			return
		}
		c.changed() // the cockpit shows "owner gone" at once
		var w Welcome
		conn, br, w = c.reconnect()
		if conn == nil {
			return
		}
		c.install(conn, w)
		c.changed() // reload everything from the new owner
	}
}

func (c *Client) read(conn net.Conn, br *bufio.Reader) error {
	c.mu.Lock()
	hb := time.Duration(c.welcome.HeartbeatMS) * time.Millisecond
	c.mu.Unlock()
	if !c.opt.Watch {
		hb = 0
	}
	for {
		if hb > 0 {
			// Any frame proves the owner runs; 3 beats of silence mean it
			// stopped (SIGSTOP, a wedged host) with its socket still open.
			conn.SetReadDeadline(time.Now().Add(3 * hb))
		}
		line, err := br.ReadBytes('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no word from the owner for %s", 3*hb)
			}
			return err
		}
		var f Frame
		if err := json.Unmarshal(line, &f); err != nil {
			return fmt.Errorf("bad frame from owner: %w", err)
		}
		if f.Op == OpChanged {
			c.changed()
			continue
		}
		if f.Op == OpAlive {
			continue
		}
		c.mu.Lock()
		ch := c.pending[f.ID]
		delete(c.pending, f.ID)
		if !f.Now.IsZero() {
			c.offset = time.Until(f.Now)
		}
		c.mu.Unlock()
		if ch != nil {
			ch <- result{f: f}
		}
	}
}

func (c *Client) changed() {
	if c.opt.OnChange != nil {
		c.opt.OnChange()
	}
}

// reconnect retries with exponential backoff (200ms doubling to MaxBackoff)
// until it attaches again or the client is closed (nil conn).
func (c *Client) reconnect() (net.Conn, *bufio.Reader, Welcome) {
	wait := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		select {
		case <-c.done:
			return nil, nil, Welcome{}
		case <-time.After(wait):
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-c.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		conn, br, w, err := c.connect(ctx)
		cancel()
		if err == nil {
			return conn, br, w
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			if conn != nil {
				conn.Close()
			}
			return nil, nil, Welcome{}
		}
		c.down = fmt.Errorf("%w (attempt %d: %v)", ErrOwnerGone, attempt, shortNetErr(err))
		c.mu.Unlock()
		c.changed()
		wait = min(2*wait, c.opt.MaxBackoff)
	}
}

func shortNetErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}

// Close detaches.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	c.wg.Wait()
	return nil
}

// Welcome is the owner's answer to the last hello.
func (c *Client) Welcome() Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// OwnerDown implements ui.OwnerLink: since when the owner has been
// unreachable (zero while attached) and why.
func (c *Client) OwnerDown() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil || c.closed {
		return time.Time{}, nil
	}
	return c.downAt, c.down
}

// Connected reports whether the client is attached now, and why not.
func (c *Client) Connected() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil, c.down
}

// Now is the owner's clock as of the last answer (the demo's simulated
// time; the wall clock otherwise): the viewer's cockpit shows the same
// windows as the owner's.
func (c *Client) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Call sends one request and decodes the answer into resp (nil: ignore).
// While disconnected it fails at once with ErrOwnerGone.
func (c *Client) Call(ctx context.Context, op string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ch := make(chan result, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("attach: client closed")
	}
	conn := c.conn
	if conn == nil {
		err := c.down
		c.mu.Unlock()
		if err == nil {
			err = ErrOwnerGone
		}
		return err
	}
	id := c.nextID
	c.nextID++
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	line, _ := json.Marshal(Frame{ID: id, Op: op, Body: body})
	c.wmu.Lock()
	conn.SetWriteDeadline(time.Now().Add(c.opt.CallTimeout))
	_, err = conn.Write(append(line, '\n'))
	c.wmu.Unlock()
	if err != nil {
		forget()
		conn.Close() // the reader notices and reconnects
		return fmt.Errorf("%w: %v", ErrOwnerGone, shortNetErr(err))
	}
	timer := time.NewTimer(c.opt.CallTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		forget()
		return ctx.Err()
	case <-timer.C:
		forget()
		// Answers come in order: a lost one would shift every later
		// answer, so start over on a fresh connection.
		conn.Close()
		return fmt.Errorf("%s: owner did not answer in %s", op, c.opt.CallTimeout)
	}
	if r.err != nil {
		return r.err
	}
	if r.f.Err != "" {
		return &RemoteError{Code: r.f.Code, Msg: r.f.Err}
	}
	if resp == nil || len(r.f.Body) == 0 {
		return nil
	}
	return json.Unmarshal(r.f.Body, resp)
}

func (c *Client) call(op string, req, resp any) error {
	return c.Call(context.Background(), op, req, resp)
}

// Snapshot implements ui.Data.
func (c *Client) Snapshot(w ui.Window, now time.Time) (*ui.Snapshot, error) {
	var s ui.Snapshot
	if err := c.call(OpSnapshot, SnapshotReq{Window: w, Now: now}, &s); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.lastPlan = s.Plan
	c.mu.Unlock()
	return &s, nil
}

// Detail implements ui.Data.
func (c *Client) Detail(isp string, w ui.Window, now time.Time) (*ui.Detail, error) {
	var d ui.Detail
	if err := c.call(OpDetail, DetailReq{ISP: isp, Window: w, Now: now}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Sources implements ui.Data.
func (c *Client) Sources(now time.Time) ([]ui.SourceView, error) {
	var s []ui.SourceView
	if err := c.call(OpSources, SourcesReq{Now: now}, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// Plan implements ui.PlanProvider: the owner's plan, or the last one seen
// while the owner is away.
func (c *Client) Plan() ui.Plan {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var p ui.Plan
	if err := c.Call(ctx, OpPlan, struct{}{}, &p); err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lastPlan
	}
	c.mu.Lock()
	c.lastPlan = p
	c.mu.Unlock()
	return p
}

// SuppressionInfo implements ui.SuppressionProvider: the owner's
// suppression totals, verifications and imports, so an attached cockpit has
// the suppression view and header warning too.
func (c *Client) SuppressionInfo() (*ui.SuppressionView, error) {
	var v ui.SuppressionView
	if err := c.call(OpSuppressInfo, struct{}{}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

var (
	_ ui.Data                = (*Client)(nil)
	_ ui.PlanProvider        = (*Client)(nil)
	_ ui.SuppressionProvider = (*Client)(nil)
)
