package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/owner"
	"cutover/state"
)

// seed commits counts for one provider: n outcomes of each kind per side,
// ten minutes ago (inside the default 1h window).
type seedSide struct {
	delivered, deferred, hard, complaints int
}

func seedDB(t *testing.T, path string, isp string, old, new seedSide) {
	t.Helper()
	db, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := state.NewBatch()
	at := time.Now().Add(-10 * time.Minute)
	for _, s := range []struct {
		side model.Side
		mta  string
		c    seedSide
	}{{model.SideOld, "postfix-old", old}, {model.SideNew, "pmta-new", new}} {
		add := func(n int, o model.Outcome, class model.BounceClass) {
			for i := 0; i < n; i++ {
				b.AddEvent(&model.Event{Time: at, Side: s.side, MTA: s.mta, ISP: isp, Domain: isp + ".example",
					Outcome: o, Class: class, Response: "421 4.7.28 \x1b[31mred\x1b[0m"})
			}
		}
		add(s.c.delivered, model.Delivered, 0)
		add(s.c.deferred, model.Deferred, 0)
		add(s.c.hard, model.Bounced, model.ClassHard)
		add(s.c.complaints, model.Complaint, 0)
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
}

// TestStatusExitCodesFollowHealth seeds counters and checks the exit code,
// the JSON marks and the text, directly on the database and attached to a
// serve process over the same database.
func TestStatusExitCodesFollowHealth(t *testing.T) {
	cases := []struct {
		name     string
		old, new seedSide
		code     int
		newMark  string
		worse    string
	}{
		{"ok", seedSide{delivered: 1000, deferred: 20}, seedSide{delivered: 500, deferred: 10}, owner.StatusExitOK, "OK", ""},
		{"too little traffic is no mark", seedSide{delivered: 1000}, seedSide{delivered: 10, deferred: 2}, owner.StatusExitOK, "none", ""},
		{"deferral warn and NEW worse", seedSide{delivered: 1000, deferred: 20}, seedSide{delivered: 850, deferred: 150}, owner.StatusExitWarn, "WARN", "deferral"},
		{"NEW worse only", seedSide{delivered: 1000, deferred: 10}, seedSide{delivered: 930, deferred: 70}, owner.StatusExitWarn, "OK", "deferral"},
		{"complaint crit", seedSide{delivered: 1000}, seedSide{delivered: 1000, complaints: 6}, owner.StatusExitCrit, "CRIT", "complaint"},
		{"hard bounce crit", seedSide{delivered: 1000}, seedSide{delivered: 900, hard: 100}, owner.StatusExitCrit, "CRIT", "hard_bounce"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "c.db")
			seedDB(t, db, "google", tc.old, tc.new)
			rep, code := statusJSON(t, "--db", db)
			if code != tc.code || rep.ExitCode != tc.code || rep.Attached {
				t.Fatalf("exit %d (report %d), want %d; reasons %v", code, rep.ExitCode, tc.code, rep.Reasons)
			}
			if len(rep.Providers) != 1 || rep.Providers[0].New.Health != tc.newMark {
				t.Fatalf("providers %+v", rep.Providers)
			}
			if got := strings.Join(rep.Providers[0].NewWorse, ","); got != tc.worse {
				t.Fatalf("new_worse %q, want %q", got, tc.worse)
			}
			if (tc.code == owner.StatusExitOK) != (len(rep.Reasons) == 0) {
				t.Fatalf("reasons %v for exit %d", rep.Reasons, tc.code)
			}
			if rep.Providers[0].New.Counts.Delivered != uint64(tc.new.delivered) || rep.New.Counts.Complaints != uint64(tc.new.complaints) {
				t.Fatalf("counts %+v", rep.Providers[0].New.Counts)
			}

			// The same database owned by serve: the same answer, attached.
			cfg := filepath.Join(dir, "c.toml")
			e := &env{dir: dir, cfg: cfg, db: db}
			writeFile(t, cfg, "[database]\npath = \""+db+"\"\n")
			p := startServe(t, e)
			arep, acode := statusJSON(t, "--config", cfg)
			if !arep.Attached || acode != tc.code || arep.Providers[0].New.Health != tc.newMark {
				t.Fatalf("attached: exit %d, attached %v, %+v", acode, arep.Attached, arep.Providers)
			}
			var out bytes.Buffer
			cmd := cutoverCmd("status", "--config", cfg, "--window", "30m")
			cmd.Stdout = &out
			err := cmd.Run()
			var ee *exec.ExitError
			if got := 0; errors.As(err, &ee) {
				got = ee.ExitCode()
				if got != tc.code {
					t.Fatalf("text exit %d", got)
				}
			}
			text := out.String()
			wantStatus := map[int]string{0: "OK", 1: "WARN", 2: "CRIT"}[tc.code]
			if !strings.HasPrefix(text, "cutover status: "+wantStatus) || !strings.Contains(text, "google") ||
				!strings.Contains(text, "window 30m0s") || strings.Contains(text, "\x1b") {
				t.Fatalf("text:\n%s", text)
			}
			if tc.worse != "" && !strings.Contains(text, "NEW▲") {
				t.Fatalf("no NEW▲ mark:\n%s", text)
			}
			for _, l := range strings.Split(text, "\n") {
				if len([]rune(l)) > 100 {
					t.Errorf("long line (%d): %s", len([]rune(l)), l)
				}
			}
			p.stop(t)
		})
	}
}

func TestStatusUnknownExits(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--db", filepath.Join(dir, "missing.db")}, // no database
		{},                               // neither --db nor --config
		{"--db", "x", "--config", "y"},   // both
		{"--window", "-1h", "--db", "x"}, // bad window
		{"--bogus"},
	} {
		cmd := cutoverCmd(append([]string{"status"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != owner.StatusExitUnknown {
			t.Errorf("status %v: %v, want exit 3\n%s", args, err, stderr.String())
		}
	}
}

func TestStatusSourcesAndNoOwner(t *testing.T) {
	e := newEnv(t, "")
	p := startServe(t, e)
	e.appendDeliveries(t, 100, 0, 1)
	rep := waitDelivered(t, e, 100)
	if rep.ExitCode != owner.StatusExitOK || len(rep.Sources) != 1 || rep.Sources[0].State == "not followed" || rep.Sources[0].Lines != 100 {
		t.Fatalf("owned: %+v %+v", rep.Sources, rep.Reasons)
	}
	p.stop(t)
	rep, code := statusJSON(t, "--config", e.cfg)
	if code != owner.StatusExitWarn || rep.Sources[0].State != "not followed" || !strings.Contains(strings.Join(rep.Reasons, "\n"), "no owner is running") {
		t.Fatalf("no owner: exit %d %+v %v", code, rep.Sources, rep.Reasons)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
