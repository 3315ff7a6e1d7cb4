package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq"
	"cutover/ingest/dnsq/dnstest"
	"cutover/model"
	"cutover/model/auth"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	"cutover/state/plan"
	"cutover/ui/attach"
)

// planEnv is a config with [mtactl] on the demo driver and a plan at the
// baseline (0 %), whose first step is 5 %.
func planEnv(t *testing.T) mtaEnv {
	t.Helper()
	e := newMtaEnv(t, "")
	if out, err := e.run(t, "", false, "plan", "init", "--start", time.Now().UTC().Format("2006-01-02"), "--daily-volume", "200000", "--new-ips", "2"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	return e
}

var reportRe = regexp.MustCompile(`report ([0-9a-f]{64})`)

func (e mtaEnv) gate(t *testing.T) string {
	t.Helper()
	out, err := e.run(t, "", false, "plan", "gate")
	if err != nil {
		t.Fatalf("gate: %v\n%s", err, out)
	}
	m := reportRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no report sha in:\n%s", out)
	}
	return m[1]
}

// logLines are the checkpoint log's lines and each line's sha256, read
// from the file.
func (e mtaEnv) logLines(t *testing.T) (lines []string, hashes []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, plan.LogName))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		h := sha256.Sum256([]byte(l))
		lines, hashes = append(lines, l), append(hashes, hex.EncodeToString(h[:]))
	}
	return
}

func (e mtaEnv) history(t *testing.T) []mtactl.AuditEntry {
	t.Helper()
	out, err := e.run(t, "", false, "history", "--json")
	if err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	var h []mtactl.AuditEntry
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return h
}

func (e mtaEnv) ratio(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(e.file)
	if err != nil {
		return 0
	}
	var c struct{ RatioNew int }
	json.Unmarshal(b, &c)
	return c.RatioNew
}

func TestPlanAdvanceNeedsCurrentSignoff(t *testing.T) {
	e := planEnv(t)
	r1 := e.gate(t)

	// No signoff: refused, exit 1, naming it; nothing applied.
	out, err := e.run(t, "", false, "plan", "advance", "--yes")
	if code := exitCode(cmdIO{}, err); code != 1 || !strings.Contains(err.Error()+out, "missing signoff") {
		t.Fatalf("without signoff: exit %d %v\n%s", code, err, out)
	}
	// A signoff of r1, then a newer gate: the signoff is stale.
	if out, err := e.run(t, "", false, "plan", "signoff", "--report", r1, "--by", "Carol <carol@customer.example>", "--ref", "CHG-1"); err != nil {
		t.Fatalf("signoff: %v\n%s", err, out)
	}
	time.Sleep(1100 * time.Millisecond) // a report a second later: another sha256
	r2 := e.gate(t)
	if r2 == r1 {
		t.Fatal("two gates gave one report")
	}
	out, err = e.run(t, "", false, "plan", "advance", "--yes")
	if code := exitCode(cmdIO{}, err); code != 1 || !strings.Contains(err.Error(), "stale signoff") {
		t.Fatalf("stale signoff: exit %d %v\n%s", code, err, out)
	}
	if h := e.history(t); len(h) != 0 || e.ratio(t) != 0 {
		t.Fatalf("a refused advance applied something: %d changes, ratio %d", len(h), e.ratio(t))
	}

	// A signoff of r2: exactly one apply, whose audit entry names the
	// signoff line's sha256; the demo MTA's control file carries 5 %.
	if out, err := e.run(t, "", false, "plan", "signoff", "--report", r2[:12], "--by", "Carol <carol@customer.example>"); err != nil {
		t.Fatalf("signoff: %v\n%s", err, out)
	}
	lines, hashes := e.logLines(t)
	signoff := hashes[len(hashes)-1]
	if !strings.Contains(lines[len(lines)-1], `"type":"signoff"`) || !strings.Contains(lines[len(lines)-1], r2) {
		t.Fatalf("last line is not the signoff of %s: %s", r2, lines[len(lines)-1])
	}
	if out, err := e.run(t, "", false, "plan", "advance", "--yes"); err != nil {
		t.Fatalf("advance: %v\n%s", err, out)
	}
	h := e.history(t)
	if len(h) != 1 || h[0].Result != mtactl.ResultOK || !strings.Contains(h[0].Who.Command, "signoff "+signoff) || h[0].To.RatioNew != 5 {
		t.Fatalf("want one apply naming signoff %s: %+v", signoff, h)
	}
	if e.ratio(t) != 5 {
		t.Errorf("control file ratio %d, want 5", e.ratio(t))
	}
	lines, _ = e.logLines(t)
	if last := lines[len(lines)-1]; !strings.Contains(last, `"type":"advance"`) || !strings.Contains(last, `"audit_id":"`+h[0].ID+`"`) || !strings.Contains(last, signoff) {
		t.Errorf("advance event: %s", last)
	}
	// The same signoff does not carry a second advance.
	if _, err := e.run(t, "", false, "plan", "advance", "--yes"); err == nil {
		t.Error("a second advance on one signoff went through")
	}

	// Rollback needs nothing but --yes.
	if out, err := e.run(t, "", false, "plan", "rollback", "--yes"); err != nil || e.ratio(t) != 0 {
		t.Fatalf("rollback: %v ratio %d\n%s", err, e.ratio(t), out)
	}
	if out, _ := e.run(t, "", false, "plan", "verify-log"); !strings.Contains(out, "7 lines verified") {
		t.Errorf("verify-log: %s", out)
	}
}

func TestPlanForceIsAnOverrideEveryReportShows(t *testing.T) {
	e := planEnv(t)
	if _, err := e.run(t, "", false, "plan", "advance", "--yes", "--force"); err == nil || !strings.Contains(err.Error(), "--reason") {
		t.Fatalf("--force without --reason: %v", err)
	}
	reason := "customer on holiday, approved by phone"
	if out, err := e.run(t, "", false, "plan", "advance", "--yes", "--force", "--reason", reason); err != nil {
		t.Fatalf("force: %v\n%s", err, out)
	}
	if e.ratio(t) != 5 {
		t.Fatalf("ratio %d after a forced advance", e.ratio(t))
	}
	lines, _ := e.logLines(t)
	if last := lines[len(lines)-1]; !strings.Contains(last, `"type":"override"`) || !strings.Contains(last, reason) {
		t.Fatalf("override event: %s", last)
	}
	sha := e.gate(t)
	md, err := os.ReadFile(filepath.Join(e.dir, "reports", "checkpoint-"+sha+".md"))
	if err != nil || !strings.Contains(string(md), "Overrides") || !strings.Contains(string(md), reason) {
		t.Errorf("later report does not show the override: %v\n%s", err, md)
	}
	js, _ := os.ReadFile(filepath.Join(e.dir, "reports", "checkpoint-"+sha+".json"))
	if !bytes.Contains(js, []byte(reason)) {
		t.Error("the JSON report lacks the override")
	}
	if out, _ := e.run(t, "", false, "plan", "status"); !strings.Contains(out, "OVERRIDE") {
		t.Errorf("status: %s", out)
	}
}

func TestPlanVerifyLogNamesEditedLine(t *testing.T) {
	e := planEnv(t)
	e.gate(t)
	e.gate(t)
	path := filepath.Join(e.dir, plan.LogName)
	orig, _ := os.ReadFile(path)
	if out, err := e.run(t, "", false, "plan", "verify-log"); err != nil || !strings.Contains(out, "3 lines verified") {
		t.Fatalf("clean log: %v\n%s", err, out)
	}
	// Line 2 edited: the chain breaks at line 3.
	os.WriteFile(path, bytes.Replace(orig, []byte(`"verdict":"PASS"`), []byte(`"verdict":"FAIL"`), 1), 0o600)
	out, err := e.run(t, "", false, "plan", "verify-log")
	if exitCode(cmdIO{}, err) != 1 || !strings.Contains(out, "LINE 3") {
		t.Fatalf("edited line 2: %v\n%s", err, out)
	}
	// Cut mid-line, then a whole line.
	os.WriteFile(path, orig[:len(orig)-7], 0o600)
	if out, err := e.run(t, "", false, "plan", "verify-log"); err == nil || !strings.Contains(out, "TRUNCATED") {
		t.Fatalf("cut mid-line: %v\n%s", err, out)
	}
	i := bytes.LastIndexByte(orig[:len(orig)-1], '\n')
	os.WriteFile(path, orig[:i+1], 0o600)
	if out, err := e.run(t, "", false, "plan", "verify-log"); err == nil || !strings.Contains(out, "TRUNCATED: the database recorded 3 lines") {
		t.Fatalf("last line removed: %v\n%s", err, out)
	}
}

// TestPlanReconcilesApplyWithoutLogLine: the process died after mtactl's
// apply and before the log append. The audit entry (with the plan's command
// and signoff) is there; the next start appends the event.
func TestPlanReconcilesApplyWithoutLogLine(t *testing.T) {
	e := planEnv(t)
	sha := e.gate(t)
	if out, err := e.run(t, "", false, "plan", "signoff", "--report", sha, "--by", "Carol <carol@customer.example>"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	_, hashes := e.logLines(t)
	signoff := hashes[len(hashes)-1]

	// What Advance does up to the apply, as the process that died did.
	cfg, err := owner.LoadConfig(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(e.dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := mtactl.New(*cfg.Mtactl, db)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Plan(c.Current().WithRatio(5, ""))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := c.Apply(context.Background(), ch, mtactl.CurrentWho("cutover plan advance step 0->1 (signoff "+signoff+")"), mtactl.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	lines, _ := e.logLines(t)
	n := len(lines)

	out, err := e.run(t, "", false, "plan", "log")
	if err != nil || !strings.Contains(out, "reconciled: mtactl change #"+entry.ID) || !strings.Contains(out, "(reconciled from the mtactl audit log)") {
		t.Fatalf("plan log after the crash: %v\n%s", err, out)
	}
	lines, _ = e.logLines(t)
	if len(lines) != n+1 || !strings.Contains(lines[n], `"reconciled":true`) || !strings.Contains(lines[n], `"audit_id":"`+entry.ID+`"`) {
		t.Fatalf("log: %v", lines)
	}
	// Once only.
	e.run(t, "", false, "plan", "log")
	if lines, _ = e.logLines(t); len(lines) != n+1 {
		t.Errorf("reconciled twice: %d lines", len(lines))
	}
	if out, _ := e.run(t, "", false, "plan", "status", "--json"); !strings.Contains(out, `"step": 1`) {
		t.Errorf("status after reconcile: %s", out)
	}
}

// TestPlanSignoffEvidenceDKIM: an approval mail signed with a key published
// in the in-process DNS server verifies (dkim=pass d=...); the same mail
// with its body changed fails; an unsigned one is recorded unverified.
func TestPlanSignoffEvidenceDKIM(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := auth.DKIMRecord(pub)
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t, "customer.example. 3600 IN SOA ns1.customer.example. hostmaster.customer.example. 1 3600 600 86400 60\n"+
		"sel1._domainkey.customer.example. 300 IN TXT \""+rec+"\"\n")
	e := newMtaEnv(t, "")
	b, _ := os.ReadFile(e.cfg)
	os.WriteFile(e.cfg, append(b, []byte("\n[dns]\nserver = \""+srv.Addr+"\"\n")...), 0o644)
	if out, err := e.run(t, "", false, "plan", "init", "--start", "2026-12-01", "--daily-volume", "1000"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	sha := e.gate(t)

	msg := []byte("From: Carol <carol@customer.example>\r\nTo: ops@consultant.example\r\nSubject: Re: checkpoint " + sha[:12] + "\r\n" +
		"Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <ok.1@customer.example>\r\n\r\nApproved: go to step 1.\r\n")
	signed, err := dnsq.Sign(msg, "customer.example", "sel1", priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	for _, c := range []struct{ name, want string }{
		{write("ok.eml", signed), "dkim=pass d=customer.example"},
		{write("tampered.eml", bytes.Replace(signed, []byte("step 1"), []byte("step 4"), 1)), "dkim=fail d=customer.example"},
		{write("unsigned.eml", msg), "dkim=unverified (no DKIM signature)"},
	} {
		out, err := e.run(t, "", false, "plan", "signoff", "--report", sha, "--by", "Carol <carol@customer.example>", "--evidence", c.name)
		if err != nil || !strings.Contains(out, c.want) {
			t.Errorf("%s: %v\n%s", filepath.Base(c.name), err, out)
		}
	}
	out, _ := e.run(t, "", false, "plan", "log")
	if !strings.Contains(out, "dkim=pass d=customer.example") || !strings.Contains(out, "dkim=fail") {
		t.Errorf("log: %s", out)
	}
}

// TestPlanAdvanceMovesTheDemoMTA: the demo's simulated MTAs read the
// control file mtactl writes; an advance through the plan changes what they
// read (TestDemoSliderMovesTraffic shows the traffic follows it).
func TestPlanAdvanceMovesTheDemoMTA(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "cutover.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, ctl, err := owner.DemoMtactl(dir, db, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, err := owner.OpenPlanner(db, &owner.Config{}, c, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, err := p.Init(owner.PlanInit{Start: now.Add(-8 * 24 * time.Hour), DailyVolume: 200000})
	if err != nil || st.Step != 1 {
		t.Fatalf("init at the demo's 5 %%: step %d %v", st.Step, err)
	}
	// The step began 8 days ago (the plan's own clock).
	now = now.Add(8 * 24 * time.Hour)
	_, sha, _, err := p.Gate(72*time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	// No traffic counted: the gate holds on the sample, so the customer's
	// signoff alone does not move the plan.
	if p.State().Gate.Verdict != model.GateHold.String() {
		t.Fatalf("gate without traffic: %s", p.State().Gate.Verdict)
	}
	if _, _, err := p.Signoff(context.Background(), owner.PlanSignoff{Report: sha, By: "Carol <carol@customer.example>"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Advance(context.Background(), owner.PlanAdvance{Who: mtactl.CurrentWho("")}); err == nil {
		t.Fatal("advanced on a HOLD gate")
	}
	if _, _, err := p.Advance(context.Background(), owner.PlanAdvance{Force: true, Reason: "demo", Who: mtactl.CurrentWho("")}); err != nil {
		t.Fatal(err)
	}
	if got := ctl.Get().RatioNew; got != 15 {
		t.Fatalf("demo MTA reads %d %%, want 15", got)
	}
}

// TestPlanThroughOwner: while an owner holds the database, plan commands
// run in it (plan.* ops); a read-only viewer may read the plan but not
// change it.
func TestPlanThroughOwner(t *testing.T) {
	e := planEnv(t)
	cfg, err := owner.LoadConfig(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	own, err := owner.Start(cfg, owner.Options{Command: "test", Ops: append([]owner.Op{queryOp()}, planOps()...)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = own.Run(ctx, 50*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done; own.Close() }()

	sha := e.gate(t) // through the owner: the database is locked
	ro, err := attach.Dial(ctx, attach.SocketPath(cfg.Database.Path), attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var resp planResp
	if err := ro.Call(ctx, planOpName("status"), planReq{Cmd: "status"}, &resp); err != nil || !strings.Contains(resp.Out, "step 0/6") {
		t.Fatalf("read-only status: %v %+v", err, resp)
	}
	err = ro.Call(ctx, planOpName("advance"), planReq{Cmd: "advance", Yes: true, Force: true, Reason: "x"}, &resp)
	if err == nil || !errors.Is(err, attach.ErrPermission) {
		t.Fatalf("read-only advance: %v %+v", err, resp)
	}
	if out, err := e.run(t, "", false, "plan", "signoff", "--report", sha, "--by", "Carol <carol@customer.example>"); err != nil {
		t.Fatalf("signoff through the owner: %v\n%s", err, out)
	}
	if out, err := e.run(t, "", false, "plan", "advance", "--yes"); err != nil || e.ratio(t) != 5 {
		t.Fatalf("advance through the owner: %v ratio %d\n%s", err, e.ratio(t), out)
	}
	st, err := own.PlanState()
	if err != nil || st.Step != 1 {
		t.Fatalf("owner's plan state: %+v %v", st, err)
	}
}

// TestPlanSimulateFigures: wave2 §6.5's feasibility figures through init
// and simulate (SparkPost schedule, steps 5/15/30/50/75/100 weekly).
func TestPlanSimulateFigures(t *testing.T) {
	sim := func(volume, ips string) map[int]owner.PlanSimRow {
		e := newMtaEnv(t, "")
		if out, err := e.run(t, "", false, "plan", "init", "--start", "2027-01-04", "--daily-volume", volume, "--new-ips", ips, "--schedule", "sparkpost"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		out, err := e.run(t, "", false, "plan", "simulate", "--days", "42", "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var rows []owner.PlanSimRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		days := map[int]owner.PlanSimRow{}
		for _, r := range rows {
			if r.ISP == "all" {
				days[r.Day] = r
			}
		}
		if len(days) != 42 {
			t.Fatalf("%d days", len(days))
		}
		return days
	}
	d := sim("200000", "2")
	for day, want := range map[int]int{1: 400, 2: 1000, 3: 2000, 4: 4000, 5: 10000, 6: 10000, 7: 10000, 8: 30000, 15: 60000, 22: 100000, 29: 150000, 36: 200000} {
		if d[day].Effective != want {
			t.Errorf("200k, 2 IPs, day %d: %d, want %d", day, d[day].Effective, want)
		}
	}
	d = sim("1000000", "4")
	for day, want := range map[int]int{1: 800, 6: 40000, 7: 50000, 8: 150000} {
		if d[day].Effective != want {
			t.Errorf("1M, 4 IPs, day %d: %d, want %d", day, d[day].Effective, want)
		}
	}
	if d[8].Cap != 160000 || d[1].Level != model.SimInfo || !strings.Contains(d[1].Note, "5 % would need 250 IPs on warm-up day 1") || d[7].Level == model.SimWarn {
		t.Errorf("1M, 4 IPs: day 8 cap %d, day 1 %v %q, day 7 %v", d[8].Cap, d[1].Level, d[1].Note, d[7].Level)
	}
	d = sim("1000000", "1")
	if d[7].Level != model.SimWarn || d[7].IPsNeeded != 3 || d[7].Effective != 20000 || d[7].Wanted != 50000 {
		t.Errorf("1M, 1 IP, day 7: %+v", d[7])
	}
}
