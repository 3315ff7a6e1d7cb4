package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
	"cutover/state/plan"
)

// The gate scenarios of wave2 §6.5, counted through the real pipeline:
// PowerMTA accounting files (the manual's CSV with a header line) for the
// OLD and NEW side, read by `cutover backfill`, then `cutover plan gate`.
// Expected figures are the reference's (computed there from the counts),
// not what cutover prints.

const acctHeader = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,vmta,feedbackType"

// acctWriter writes one acct file with records spread over the 48 h
// before now (inside any 72 h window).
type acctWriter struct {
	w    *bufio.Writer
	f    *os.File
	n    int
	base time.Time
}

func newAcct(t *testing.T, path string, now time.Time) *acctWriter {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &acctWriter{w: bufio.NewWriterSize(f, 1<<20), f: f, base: now.Add(-48 * time.Hour)}
	fmt.Fprintln(a.w, acctHeader)
	return a
}

func (a *acctWriter) ts() string {
	a.n++
	return a.base.Add(time.Duration(a.n%170000) * time.Second).Format("2006-01-02 15:04:05-0700")
}

func (a *acctWriter) add(typ string, n int) {
	for i := 0; i < n; i++ {
		rcpt := fmt.Sprintf("u%d@gmail.com", a.n)
		switch typ {
		case "d":
			fmt.Fprintf(a.w, "d,%s,news@sender.example,%s,relayed,2.0.0 (success),smtp;250 2.0.0 OK - gsmtp,vmta1,\n", a.ts(), rcpt)
		case "t":
			fmt.Fprintf(a.w, "t,%s,news@sender.example,%s,delayed,4.7.28 (other),\"smtp;421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address - gsmtp\",vmta1,\n", a.ts(), rcpt)
		case "hard":
			fmt.Fprintf(a.w, "b,%s,news@sender.example,%s,failed,5.1.1 (bad destination mailbox address),\"smtp;550-5.1.1 The email account that you tried to reach does not exist - gsmtp\",vmta1,\n", a.ts(), rcpt)
		case "soft":
			fmt.Fprintf(a.w, "b,%s,news@sender.example,%s,failed,5.2.2 (mailbox full),\"smtp;552-5.2.2 The email account that you tried to reach is over quota - gsmtp\",vmta1,\n", a.ts(), rcpt)
		case "f":
			fmt.Fprintf(a.w, "f,%s,,%s,,,,,abuse\n", a.ts(), rcpt)
		}
	}
}

func (a *acctWriter) close(t *testing.T) {
	t.Helper()
	if err := a.w.Flush(); err != nil {
		t.Fatal(err)
	}
	a.f.Close()
}

type gateScenario struct {
	name                               string
	delivered, deferred, hard, soft, f int
	daysAtStep                         int
}

// runGateScenario builds a database with OLD (170,000 attempts, 1,700
// deferred, 51 complaints) and the scenario's NEW counts, a plan at step 1 for
// daysAtStep days, and returns the gate's JSON.
func runGateScenario(t *testing.T, sc gateScenario) (plan.Report, string) {
	t.Helper()
	now := time.Now().UTC()
	dir := t.TempDir()
	oldAcctPath := filepath.Join(dir, "acct-old.csv")
	{
		a := newAcct(t, oldAcctPath, now)
		a.add("d", 168300)
		a.add("t", 1700)
		// The reference gives OLD's deferrals only. OLD complains at about
		// NEW's PASS rate (51/168,300 = 0.030 %): with none, the 9 NEW
		// complaints would be NEW worse than OLD by item 4's z-test (effect
		// 0.031 pt ≥ 0.25 × the 0.1 % warn level).
		a.add("f", 51)
		a.close(t)
	}
	newPath := filepath.Join(dir, "acct-new.csv")
	a := newAcct(t, newPath, now)
	a.add("d", sc.delivered)
	a.add("t", sc.deferred)
	a.add("hard", sc.hard)
	a.add("soft", sc.soft)
	a.add("f", sc.f)
	a.close(t)
	db := filepath.Join(dir, "cutover.db")
	cfg := filepath.Join(dir, "cutover.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \""+db+"\"\n"), 0o644)
	for _, src := range []struct{ side, path string }{{"old", oldAcctPath}, {"new", newPath}} {
		var out, errb bytes.Buffer
		o := cmdIO{in: bufio.NewReader(strings.NewReader("")), out: &out, err: &errb}
		if err := run(o, []string{"backfill", "--db", db, "--kind", "pmta", "--side", src.side, "--quiet", src.path}); err != nil {
			t.Fatalf("backfill %s: %v\n%s%s", src.side, err, out.String(), errb.String())
		}
	}
	// The plan: created and at step 1 (5 %) since daysAtStep days ago.
	d, err := state.Open(db, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	since := now.Add(-time.Duration(sc.daysAtStep) * 24 * time.Hour)
	l, err := plan.Open(d, func() time.Time { return since })
	if err != nil {
		t.Fatal(err)
	}
	s, err := model.NewSchedule("p", since, nil, 7, model.SparkPostSchedule(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(plan.Event{Type: plan.EvCreated, Schedule: &s, Step: 1, Ratio: 5}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	d.Close()

	var out, errb bytes.Buffer
	o := cmdIO{in: bufio.NewReader(strings.NewReader("")), out: &out, err: &errb}
	if err := run(o, []string{"plan", "gate", "--config", cfg, "--json"}); err != nil {
		t.Fatalf("plan gate: %v\n%s%s", err, out.String(), errb.String())
	}
	var res struct {
		SHA256 string      `json:"sha256"`
		Report plan.Report `json:"report"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return res.Report, db
}

func google(t *testing.T, r plan.Report) plan.ProviderGate {
	t.Helper()
	for _, p := range r.Providers {
		if p.ISP == "google" {
			return p
		}
	}
	t.Fatalf("no google in %+v", r.Providers)
	return plan.ProviderGate{}
}

func item(pg plan.ProviderGate, name string) plan.Item {
	for _, it := range pg.Items {
		if it.Name == name {
			return it
		}
	}
	return plan.Item{Name: name, Verdict: "missing"}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestPlanGateScenarios(t *testing.T) {
	pass := gateScenario{delivered: 29400, deferred: 450, hard: 60, soft: 90, f: 9, daysAtStep: 8}

	t.Run("pass", func(t *testing.T) {
		r, _ := runGateScenario(t, pass)
		g := google(t, r)
		if g.Old.Attempts() != 170000 || g.Old.Deferred != 1700 || g.New.Attempts() != 30000 || g.New.HardBounce != 60 || g.New.Complaints != 9 {
			t.Fatalf("counts through the pipeline: OLD %+v NEW %+v", g.Old, g.New)
		}
		if r.Verdict != "PASS" || g.Verdict != "PASS" {
			t.Fatalf("verdict %s / google %s: %+v", r.Verdict, g.Verdict, g.Items)
		}
		// z 7.74 but an effect of 0.5 pt < 2.5 pt: not NEW▲.
		if w := item(g, "worse"); w.Verdict != "PASS" || !strings.Contains(w.Reason, "z deferral 7.74") {
			t.Errorf("worse: %+v", w)
		}
		if !near(g.ComplaintRate, 9.0/29400, 1e-9) || !near(100*g.ComplaintUpper, 0.053, 0.0005) {
			t.Errorf("complaints %.4f %%, upper %.4f %%; want 0.031 %%, 0.053 %%", 100*g.ComplaintRate, 100*g.ComplaintUpper)
		}
	})
	t.Run("fail-worse", func(t *testing.T) {
		r, _ := runGateScenario(t, gateScenario{delivered: 28050, deferred: 1800, hard: 60, soft: 90, daysAtStep: 8})
		g := google(t, r)
		w := item(g, "worse")
		var z float64
		if m := regexp.MustCompile(`deferral true \(z ([0-9.]+)\)`).FindStringSubmatch(w.Reason); m != nil {
			z, _ = strconv.ParseFloat(m[1], 64)
		}
		if r.Verdict != "FAIL" || w.Verdict != "FAIL" || !near(z, 60.9, 0.05) {
			t.Errorf("verdict %s, worse %+v (z %v, want 60.9)", r.Verdict, w, z)
		}
	})
	t.Run("fail-complaints", func(t *testing.T) {
		sc := pass
		sc.f = 45
		r, _ := runGateScenario(t, sc)
		g := google(t, r)
		c := item(g, "complaints")
		if r.Verdict != "FAIL" || c.Verdict != "FAIL" || !near(100*g.ComplaintRate, 0.153, 0.0005) || !near(100*g.ComplaintUpper, 0.195, 0.0005) {
			t.Errorf("verdict %s, complaints %+v, rate %.4f %% upper %.4f %%", r.Verdict, c, 100*g.ComplaintRate, 100*g.ComplaintUpper)
		}
	})
	t.Run("hold-sample", func(t *testing.T) {
		r, _ := runGateScenario(t, gateScenario{delivered: 392, deferred: 8, daysAtStep: 8})
		g := google(t, r)
		s := item(g, "sample")
		if r.Verdict != "HOLD" || s.Verdict != "HOLD" || !strings.Contains(s.Reason, "insufficient sample") || !near(100*g.ComplaintUpper, 0.69, 0.005) {
			t.Errorf("verdict %s, sample %+v, upper %.3f %%", r.Verdict, s, 100*g.ComplaintUpper)
		}
	})
	t.Run("hold-dwell", func(t *testing.T) {
		sc := pass
		sc.daysAtStep = 6
		r, _ := runGateScenario(t, sc)
		g := google(t, r)
		if d := item(g, "dwell"); r.Verdict != "HOLD" || d.Verdict != "HOLD" || item(g, "worse").Verdict != "PASS" {
			t.Errorf("verdict %s, dwell %+v", r.Verdict, d)
		}
	})
}
