package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"cutover/model"
	"cutover/owner"
	"cutover/state"
	ssup "cutover/state/suppress"
	"cutover/ui/attach"
)

// The read-only commands (stats, sources, suppress stats, suppress check)
// open the database read-only, which bbolt refuses while an owner (serve,
// a cockpit) holds it. They then ask the owner over its socket to run the
// same code on its open database (opQuery), and print what it printed:
// same flags, output and exit codes as without an owner.

const opQuery = "cli.query"

// queryReq is one read-only command for the owner; flags as the caller
// parsed them (Log absolute).
type queryReq struct {
	Cmd   string `json:"cmd"` // stats | sources | suppress stats | suppress check
	JSON  bool   `json:"json,omitempty"`
	By    string `json:"by,omitempty"`
	Since string `json:"since,omitempty"`
	Until string `json:"until,omitempty"`
	Log   string `json:"log,omitempty"`
	Addr  string `json:"addr,omitempty"` // normalized
	// Audit holds the flags of audit report|recommend (cli/audit.go).
	Audit *auditFlags `json:"audit,omitempty"`
}

type queryResp struct {
	Out           string `json:"out"`
	Err           string `json:"err,omitempty"`
	NotSuppressed bool   `json:"not_suppressed,omitempty"`
	// Exit is a command's own exit code (audit: 1 = data gaps, output
	// written all the same).
	Exit int `json:"exit,omitempty"`
}

// queryOp is the owner's side, registered by serve, the cockpit and the demo.
func queryOp() owner.Op {
	return owner.Op{Name: opQuery, New: func(o *owner.Owner) attach.Handler {
		return func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
			var r queryReq
			if err := json.Unmarshal(body, &r); err != nil {
				return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
			}
			var b bytes.Buffer
			var err error
			if r.Cmd == cmdAuditCockpit {
				err = auditCockpitJSON(&b, o)
			} else {
				err = runQuery(&b, o.DB, r)
			}
			resp := queryResp{Out: b.String()}
			var ee exitError
			if errors.As(err, &ee) {
				resp.Exit, err = ee.code, nil
			}
			if err != nil {
				resp.Err, resp.NotSuppressed = err.Error(), errors.Is(err, errNotSuppressed)
			}
			return resp, nil
		}
	}}
}

func runQuery(w io.Writer, d *state.DB, r queryReq) error {
	switch r.Cmd {
	case "audit report", "audit recommend":
		if r.Audit == nil {
			return fmt.Errorf("%s: no flags", r.Cmd)
		}
		f := *r.Audit
		f.out = "" // the caller writes --out
		return auditOn(w, io.Discard, d, f, r.Cmd)
	case "stats":
		f := statsFlags{by: r.By, since: r.Since, until: r.Until, asJSON: r.JSON}
		if f.by != "isp" && f.by != "domain" {
			return fmt.Errorf("--by %q: want isp or domain", f.by)
		}
		q := state.Query{By: f.by}
		var err error
		if q.Since, err = parseTimeFlag("--since", f.since); err != nil {
			return err
		}
		if q.Until, err = parseTimeFlag("--until", f.until); err != nil {
			return err
		}
		return statsTo(w, d, f, q)
	case "sources":
		return sourcesTo(w, d, r.JSON)
	case "suppress stats", "suppress check":
		// The owner reads its own log only: a caller must not make it
		// open (and quote) any file it can read.
		def := ssup.DefaultLogPath(d.Path())
		if r.Log != "" && !samePath(r.Log, def) {
			return fmt.Errorf("--log %s: the owner of %s keeps its suppression log in %s; it reads no other", r.Log, d.Path(), def)
		}
		l, err := ssup.Open(d, def, ssup.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer l.Close()
		if r.Cmd == "suppress stats" {
			return supStatsTo(w, d, l, r.JSON)
		}
		norm, _, err := model.NormalizeAddress(r.Addr)
		if err != nil {
			return err
		}
		return supCheckTo(w, l, r.JSON, norm)
	}
	return fmt.Errorf("%w: query %q", attach.ErrBadRequest, r.Cmd)
}

// queryOwner runs r in the owner of dbPath after openErr (our own open)
// failed because it holds the database, printing its output to w. Without
// an owner to ask, openErr stands, with why the socket did not answer.
func queryOwner(w io.Writer, dbPath string, r queryReq, openErr error) error {
	cl, err := attachOwner(dbPath, true, r.Cmd, openErr)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var resp queryResp
	if err := cl.Call(ctx, opQuery, r, &resp); err != nil {
		if errors.Is(err, attach.ErrBadRequest) {
			w := cl.Welcome()
			return fmt.Errorf("%v; the owner (%s, pid %d) is an older cutover that cannot run %q for you: %v", openErr, sanitizeCell(w.Owner.Command), w.Owner.PID, r.Cmd, err)
		}
		return fmt.Errorf("owner on %s: %w", attach.SocketPath(dbPath), err)
	}
	io.WriteString(w, resp.Out)
	switch {
	case resp.NotSuppressed:
		return errNotSuppressed
	case resp.Exit != 0:
		return exitError{resp.Exit}
	case resp.Err != "":
		return errors.New(resp.Err)
	}
	return nil
}

// absPath makes a path flag absolute for the owner (another cwd); "" stays.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ia, err1 := os.Stat(a)
	ib, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(ia, ib)
}
