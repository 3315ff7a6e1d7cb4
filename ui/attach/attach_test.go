package attach

import (
	"context"
	"errors"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/ui"
)

// fakeData counts calls and returns a snapshot whose totals are the counter.
type fakeData struct {
	n atomic.Int64
}

func (d *fakeData) Snapshot(w ui.Window, now time.Time) (*ui.Snapshot, error) {
	n := uint64(d.n.Add(1))
	return &ui.Snapshot{Until: now, DBPath: "/x.db", Old: ui.SideStats{Counts: model.Tally{Delivered: 100}},
		New:       ui.SideStats{Counts: model.Tally{Delivered: 7, Deferred: n}},
		Providers: []ui.ProviderStats{{ISP: "google"}}, Plan: ui.Plan{RatioNew: 15, Step: 2}}, nil
}

func (d *fakeData) Detail(isp string, w ui.Window, now time.Time) (*ui.Detail, error) {
	return &ui.Detail{ISP: isp, Reasons: []ui.ReasonRow{{Signature: "4.7.28", New: 3}}}, nil
}

func (d *fakeData) Sources(now time.Time) ([]ui.SourceView, error) {
	return []ui.SourceView{{Name: "new-pmta", State: ui.SourceFollowing, Offset: 10, Size: 20}}, nil
}

// fakeControl records applies.
type fakeControl struct {
	mu      sync.Mutex
	cur     model.Desired
	applied []mtactl.Who
}

func (f *fakeControl) Current() model.Desired { f.mu.Lock(); defer f.mu.Unlock(); return f.cur }
func (f *fakeControl) Steps() model.Steps     { return model.Steps{0, 5, 100} }
func (f *fakeControl) Providers() []string    { return []string{"google"} }
func (f *fakeControl) Plan(d model.Desired) (*mtactl.Change, error) {
	return &mtactl.Change{Action: "apply", From: f.Current(), To: d, Files: []mtactl.FileChange{{Path: "/etc/x", Changed: true, Diff: "+x\n"}}}, nil
}
func (f *fakeControl) PlanBaseline() (*mtactl.Change, error) { return f.Plan(model.Desired{}) }
func (f *fakeControl) PlanRollback(id string) (*mtactl.Change, error) {
	return nil, mtactl.ErrNotFound
}
func (f *fakeControl) Apply(ctx context.Context, ch *mtactl.Change, who mtactl.Who, opt mtactl.ApplyOptions) (mtactl.AuditEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = ch.To
	f.applied = append(f.applied, who)
	return mtactl.AuditEntry{ID: "1", Who: who, Action: ch.Action, To: ch.To, Result: "ok"}, nil
}
func (f *fakeControl) History() ([]mtactl.AuditEntry, error) { return nil, nil }

func startServer(t *testing.T, path string, srv *Server) *Server {
	t.Helper()
	l, err := Listen(path, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv
}

func sockPath(t *testing.T) string {
	// Short: sun_path holds 107 bytes and t.TempDir can be long.
	dir, err := os.MkdirTemp("", "att")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "c.db.sock")
}

func dial(t *testing.T, path string, opt ClientOptions) *Client {
	t.Helper()
	c, err := Dial(context.Background(), path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTwoViewersSameDataAndPush(t *testing.T) {
	path := sockPath(t)
	srv := startServer(t, path, &Server{Data: &fakeData{}, Owner: OwnerInfo{PID: 1, Command: "serve"}})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want socket 0600", fi.Mode())
	}
	var pushes [2]atomic.Int64
	a := dial(t, path, ClientOptions{Command: "a", OnChange: func() { pushes[0].Add(1) }})
	b := dial(t, path, ClientOptions{Command: "b", OnChange: func() { pushes[1].Add(1) }})
	if a.Welcome().Owner.Command != "serve" || a.Welcome().Peer.UID != uint32(os.Geteuid()) {
		t.Fatalf("welcome %+v", a.Welcome())
	}
	sa, err := a.Snapshot(ui.Window1h, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Snapshot(ui.Window1h, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sa.Old.Counts != sb.Old.Counts || sa.Providers[0].ISP != "google" || sb.Plan.RatioNew != 15 {
		t.Fatalf("snapshots differ: %+v %+v", sa, sb)
	}
	if p := a.Plan(); p.Step != -1 { // no PlanProvider on the server
		t.Fatalf("plan %+v", p)
	}
	if d, err := a.Detail("google", ui.Window1h, time.Now()); err != nil || d.Reasons[0].Signature != "4.7.28" {
		t.Fatalf("detail %+v %v", d, err)
	}
	if s, err := b.Sources(time.Now()); err != nil || s[0].Name != "new-pmta" || s[0].State != ui.SourceFollowing {
		t.Fatalf("sources %+v %v", s, err)
	}
	waitFor(t, func() bool { return srv.Viewers() == 2 })
	for i := 0; i < 50; i++ {
		srv.Notify() // coalesced: never blocks, at least one push arrives
	}
	waitFor(t, func() bool { return pushes[0].Load() > 0 && pushes[1].Load() > 0 })
	if _, err := a.Control().History(); !errors.Is(err, ErrNoControl) {
		t.Fatalf("history without control: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestControlAppliedOnceWithViewerIdentity(t *testing.T) {
	path := sockPath(t)
	ctl := &fakeControl{}
	startServer(t, path, &Server{Data: &fakeData{}, Control: ctl, Owner: OwnerInfo{Host: "mx1"}})
	env := map[string]string{"SSH_CONNECTION": "192.0.2.7 50122 198.51.100.1 22", "SUDO_USER": "alice"}
	c := dial(t, path, ClientOptions{Command: "cockpit", Getenv: func(k string) string { return env[k] }})
	rem := c.Control()
	cur, err := rem.Current()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := rem.Plan(cur.WithRatio(30, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Files) != 1 || ch.To.RatioNew != 30 {
		t.Fatalf("preview %+v", ch)
	}
	e, err := rem.Apply(context.Background(), ch, mtactl.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	me, _ := user.Current()
	if e.Who.User != me.Username || e.Who.SSHClient != "192.0.2.7 50122 22" || e.Who.SudoUser != "alice" ||
		e.Who.PID != os.Getpid() || e.Who.Host != "mx1" {
		t.Fatalf("who %+v", e.Who)
	}
	// The same preview cannot be applied twice, even by a hand-made request.
	if _, err := rem.Apply(context.Background(), ch, mtactl.ApplyOptions{}); err == nil {
		t.Fatal("second apply of one Change accepted")
	}
	if err := c.Call(context.Background(), OpControlApply, ApplyReq{ID: "0000"}, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("apply of an unknown id: %v", err)
	}
	if cur, _ := rem.Current(); len(ctl.applied) != 1 || cur.RatioNew != 30 {
		t.Fatalf("applied %d times, current %+v", len(ctl.applied), cur)
	}

	ro := dial(t, path, ClientOptions{ReadOnly: true})
	if !ro.Welcome().ReadOnly {
		t.Fatal("welcome not read-only")
	}
	if _, err := ro.Control().Plan(model.Desired{RatioNew: 100}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only plan: %v", err)
	}
	if err := ro.Call(context.Background(), OpControlApply, ApplyReq{ID: "x"}, nil); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only apply: %v", err)
	}
	if cur, _ := ro.Control().Current(); cur.RatioNew != 30 || len(ctl.applied) != 1 {
		got := cur.RatioNew
		t.Fatalf("read-only session changed something: %d applies, ratio %d", len(ctl.applied), got)
	}
}

func TestPartialFramesAndGarbageLeaveServerHealthy(t *testing.T) {
	path := sockPath(t)
	srv := startServer(t, path, &Server{Data: &fakeData{}})
	for _, junk := range []string{
		`{"id":1,"op":"hel`, // cut mid-frame
		`{"id":1,"op":"hello","body":{"version":1}}` + "\n" + `{"id":2,"op":"snap`, // cut after hello
		"not json\n",
		`{"id":1,"op":"snapshot"}` + "\n", // no hello
		`{"id":1,"op":"hello","body":{"version":99}}` + "\n",
	} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(junk))
		c.Close()
	}
	// A viewer that asks and never reads: many pushes, then it dies.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(`{"id":1,"op":"hello","body":{"version":1}}` + "\n"))
	for i := 0; i < 200; i++ {
		c.Write([]byte(`{"id":2,"op":"snapshot","body":{"window":2}}` + "\n"))
		srv.Notify()
	}
	c.Close()
	v := dial(t, path, ClientOptions{})
	if _, err := v.Snapshot(ui.Window15m, time.Now()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.Viewers() == 1 })
	if _, err := Dial(context.Background(), path, ClientOptions{Getenv: func(string) string { return "" }}); err != nil {
		t.Fatal(err)
	}
}

func TestVersionMismatchRefused(t *testing.T) {
	path := sockPath(t)
	startServer(t, path, &Server{Data: &fakeData{}})
	c := &Client{path: path, hello: Hello{Version: 99}, pending: map[uint64]chan result{}}
	if _, _, _, err := c.connect(context.Background()); !errors.Is(err, ErrVersion) {
		t.Fatalf("got %v", err)
	}
}

func TestReconnectAfterOwnerRestart(t *testing.T) {
	path := sockPath(t)
	l, err := Listen(path, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv1 := &Server{Data: &fakeData{}}
	go srv1.Serve(l)
	var changes atomic.Int64
	c := dial(t, path, ClientOptions{MaxBackoff: 100 * time.Millisecond, OnChange: func() { changes.Add(1) }})
	if _, err := c.Snapshot(ui.Window1h, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv1.Close()
	waitFor(t, func() bool { ok, _ := c.Connected(); return !ok })
	_, err = c.Snapshot(ui.Window1h, time.Now())
	if !errors.Is(err, ErrOwnerGone) {
		t.Fatalf("while gone: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left behind after Close: %v", err)
	}
	before := changes.Load()
	srv2 := &Server{Data: &fakeData{}, Owner: OwnerInfo{PID: 2}}
	startServer(t, path, srv2)
	waitFor(t, func() bool { ok, _ := c.Connected(); return ok })
	if _, err := c.Snapshot(ui.Window1h, time.Now()); err != nil {
		t.Fatal(err)
	}
	if c.Welcome().Owner.PID != 2 || changes.Load() == before {
		t.Fatalf("welcome %+v, changes %d→%d", c.Welcome(), before, changes.Load())
	}
}

func TestListenReplacesDeadSocketRefusesLiveOne(t *testing.T) {
	path := sockPath(t)
	// A socket file nobody listens on: what a SIGKILLed owner leaves.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	l, err := Listen(path, ListenOptions{})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	defer l.Close()
	go (&Server{Data: &fakeData{}}).Serve(l)
	if _, err := Listen(path, ListenOptions{}); err == nil {
		t.Fatal("second listener on a live socket")
	}
	if _, err := Listen(path, ListenOptions{Group: "no-such-group-xyz"}); err == nil {
		t.Fatal("unknown group accepted")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Fatalf("left %s behind", e.Name())
		}
	}
}

func TestSSHClientFromEnv(t *testing.T) {
	for _, tc := range []struct{ client, conn, want string }{
		{"192.0.2.1 1234 22", "", "192.0.2.1 1234 22"},
		{"", "2001:db8::1 5555 2001:db8::2 2222", "2001:db8::1 5555 2222"},
		{"", "", ""},
	} {
		env := map[string]string{"SSH_CLIENT": tc.client, "SSH_CONNECTION": tc.conn}
		if got := sshClient(func(k string) string { return env[k] }); got != tc.want {
			t.Errorf("%+v: got %q", tc, got)
		}
	}
}
