package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/model"
	"cutover/owner"
	"cutover/state"
	"cutover/ui"
	"cutover/ui/attach"
)

// dialOwner attaches to the process that owns the database at dbPath: the
// one way a command reaches the owner (cockpit viewers, status, imports,
// completion). An error means none answers, and the command works on the
// database itself (or says why it cannot).
func dialOwner(dbPath string, readOnly bool, command string, onChange func()) (*attach.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The cockpit watches the owner's heartbeat: a stopped owner shows
	// within 2s (issue 13 point 9).
	return attach.Dial(ctx, attach.SocketPath(dbPath), attach.ClientOptions{ReadOnly: readOnly, Command: command, OnChange: onChange,
		Watch: command == "cockpit"})
}

// shortDialErr says why nothing answered on the socket in a few words.
func shortDialErr(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "no socket"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "socket left by a process that is gone"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// attachIfOwned decides whether the cockpit becomes a viewer: when another
// process owns the database (the open failed with *state.LockedError, or
// its socket answers before we even try) or --read-only asks for it. It
// reports whether it handled the cockpit, and the cockpit's error.
func attachIfOwned(dbPath string, readOnly bool, openErr error) (bool, error) {
	var le *state.LockedError
	if openErr != nil && !errors.As(openErr, &le) {
		return false, nil
	}
	var prog progHolder
	cl, err := dialOwner(dbPath, readOnly, "cockpit", prog.changed)
	if err != nil {
		sock := attach.SocketPath(dbPath)
		switch {
		case errors.Is(err, os.ErrPermission):
			return true, fmt.Errorf("%s: %w: the owner allows its own user, root and the [control] group", sock, err)
		case openErr != nil:
			return true, fmt.Errorf("%v; attaching to it failed (%s: %s)", openErr, sock, shortDialErr(err))
		case readOnly:
			return true, fmt.Errorf("--read-only attaches to a running owner (cutover serve, or a cockpit), and none answers on %s (%s)", sock, shortDialErr(err))
		}
		return false, nil
	}
	tookOver, err := runAttachedCockpit(cl, &prog, !readOnly)
	cl.Close()
	if tookOver {
		return false, nil // the owner is gone: the caller opens the database
	}
	return true, err
}

// progHolder forwards the owner's pushes to the program once it exists.
type progHolder struct {
	mu sync.Mutex
	p  *tea.Program
}

func (h *progHolder) set(p *tea.Program) {
	h.mu.Lock()
	h.p = p
	h.mu.Unlock()
}

func (h *progHolder) changed() {
	h.mu.Lock()
	p := h.p
	h.mu.Unlock()
	if p != nil {
		go p.Send(ui.Changed{}) // Send blocks until the UI takes it
	}
}

// viewerData is the owner's data with a header note saying whose it is.
type viewerData struct {
	*attach.Client
}

func (v viewerData) Snapshot(w ui.Window, now time.Time) (*ui.Snapshot, error) {
	s, err := v.Client.Snapshot(w, now)
	if err != nil {
		return nil, err
	}
	wl := v.Welcome()
	note := fmt.Sprintf("viewer of %s pid %d", wl.Owner.Command, wl.Owner.PID)
	if wl.ReadOnly {
		note += ", read-only"
	}
	s.Warnings = append([]string{note}, s.Warnings...)
	return s, nil
}

// runAttachedCockpit is the same cockpit, on the owner's data: the owner's
// thresholds and clock, refreshed by its pushes; while the owner is gone a
// banner over greyed numbers, and (offerTakeOver) the key that quits the
// viewer to open the database here, reported as tookOver.
func runAttachedCockpit(cl *attach.Client, prog *progHolder, offerTakeOver bool) (tookOver bool, err error) {
	wl := cl.Welcome()
	// Read-only only for --read-only: a viewer of an owner without mtactl
	// is told the ratio is not managed instead.
	opt := ui.Options{Thresholds: wl.Thresholds, Clock: cl.Now, ReadOnly: wl.ReadOnly, ASCII: ui.ASCIILocale()}
	opt.DNS = attachedDNS(cl) // nil when the owner has no [dns]
	opt.Pace = attachedPace(cl)
	if ops := remotePlanOps(cl, wl.ReadOnly); planAnswers(ops) {
		opt.Plan = ops // header segment and P view; the owner refuses a read-only advance too
	}
	opt.Audit = attachedAudit(cl)
	opt.Alerts = attachedAlerts(cl)
	if wl.Control && !wl.ReadOnly {
		// The same slider and rollback keys; the owner applies and audits.
		opt.Control = cl.Control()
	}
	if offerTakeOver {
		opt.TakeOver = func() {}
	}
	m := ui.New(viewerData{cl}, opt)
	p := cockpitProgram(m)
	prog.set(p)
	fm, err := p.Run()
	if um, ok := fm.(ui.Model); ok && um.TookOver() {
		return true, err
	}
	return false, err
}

// attachedDNS is the owner's stored dns check for a viewer's header word
// and D view, asked over the socket at most every 5 s; nil when the owner
// has no [dns] section (or predates the op).
func attachedDNS(cl *attach.Client) ui.DNSSource {
	ask := func() (owner.DNSStatusReply, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		var r owner.DNSStatusReply
		err := cl.Call(ctx, owner.OpDNSStatus, struct{}{}, &r)
		return r, err
	}
	first, err := ask()
	if err != nil || !first.Configured {
		return nil
	}
	var mu sync.Mutex
	at, cur := time.Now(), first.Report
	return func() *ui.DNSReport {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) >= 5*time.Second {
			at = time.Now()
			if r, err := ask(); err == nil {
				cur = r.Report
			}
		}
		return cur
	}
}

// attachedAlerts is the owner's fired alerts for a viewer's alert bar and
// ! view, asked over the socket at most every 5 s (the header renders often);
// k acks through the owner as this viewer's user (refused when read-only).
func attachedAlerts(cl *attach.Client) ui.AlertSource {
	return owner.NewAlertSource(func() ([]model.Alert, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		var r owner.AlertsListReply
		err := cl.Call(ctx, owner.OpAlertsList, struct{}{}, &r)
		return r.Alerts, err
	}, func(id string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return cl.Call(ctx, owner.OpAlertsAck, owner.AlertsAckRequest{ID: id, By: owner.CurrentUser(), Note: "cockpit viewer"}, nil)
	}, 5*time.Second)
}
