package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/mtactl"
	"cutover/owner"
	"cutover/state"
	"cutover/ui/attach"
)

// §7.5: pace test names yahoo-tss04 (it fires) and default-reputation (it
// matches after it, KumoMTA's "Messages from IP temporarily deferred") and
// the change; on a Postfix front the shift degrades with a WARN.
func TestPaceTestTSS04(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \"c.db\"\n"), 0o644)
	const reply = "421 4.7.0 [TSS04] Messages from 203.0.113.10 temporarily deferred"
	code, out, errOut := runIn(t, "", "pace", "test", "--config", cfg, "--reply", reply)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"signature: yahoo-tss04-deferral\n",
		"  1. yahoo-tss04  isp yahoo  trigger immediate  action shift to OLD  for 2h\n",
		"  2. default-reputation  isp *  trigger immediate  action scale 0.1 conn ≤1  for 1h30m\n",
		"fires: yahoo-tss04\n",
		"change: yahoo NEW ratio → 0% (its mail goes to OLD) for 2h\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	code, out, _ = runIn(t, "", "pace", "test", "--config", cfg, "--reply", reply, "--json")
	var js paceTestOut
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js.Fires != "yahoo-tss04" || len(js.Matches) != 2 || js.Matches[1].Rule != "default-reputation" {
		t.Fatalf("json %d %s", code, out)
	}
	// A Gmail reply with --isp and no match.
	_, out, _ = runIn(t, "", "pace", "test", "--config", cfg, "--reply", "250 2.0.0 OK", "--isp", "google")
	if !strings.Contains(out, "no pacing rule matches") {
		t.Errorf("OK reply: %s", out)
	}
	// A Postfix front cannot send one provider to OLD.
	pf := filepath.Join(dir, "pf")
	os.MkdirAll(pf, 0o755)
	os.WriteFile(filepath.Join(pf, "main.cf"), nil, 0o644)
	os.WriteFile(filepath.Join(pf, "master.cf"), nil, 0o644)
	os.WriteFile(cfg, []byte("[database]\npath = \"c.db\"\n[mtactl]\nproviders = { yahoo = [\"yahoo.com\"] }\n[mtactl.postfix.front]\nconfig_dir = \""+pf+"\"\nnew_nexthop = \"[127.0.0.1]:10026\"\n"), 0o644)
	code, out, errOut = runIn(t, "", "pace", "test", "--config", cfg, "--reply", reply)
	if code != 0 || !strings.Contains(out, "WARN: postfix-front cannot send one provider to OLD: yahoo scaled to 0.1") ||
		!strings.Contains(out, "change: yahoo per_hour and connections × 0.1 (floor 1) for 2h") {
		t.Fatalf("postfix front %d %s\n%s", code, errOut, out)
	}
	if code, _, errOut := runIn(t, "", "pace", "test", "--config", cfg); code == 0 || !strings.Contains(errOut, "--reply is required") {
		t.Errorf("no --reply: %d %s", code, errOut)
	}
}

// paceSetup is a config with PowerMTA (check and reload `true`), Google at
// 600/h conn 5, and a gmail-rate suggestion made by a pacer from five
// committed NEW deferrals; the database is closed again.
func paceSetup(t *testing.T) (cfgPath, conf string) {
	t.Helper()
	dir := t.TempDir()
	conf = filepath.Join(dir, "pmta-config")
	os.WriteFile(conf, []byte("<virtual-mta vmta-old>\n# BEGIN cutover split\n# END cutover split\n</virtual-mta>\n<virtual-mta vmta-new>\n# BEGIN cutover throttles\n# END cutover throttles\n</virtual-mta>\n"), 0o644)
	cfgPath = filepath.Join(dir, "c.toml")
	os.WriteFile(cfgPath, []byte(`[database]
path = "c.db"
[mtactl]
providers = { google = ["gmail.com"] }
[mtactl.pmta]
config = "`+conf+`"
cold_vmta = "vmta-new"
daily_volume = { "gmail.com" = 1000 }
test = ["true"]
reload = ["true"]
`), 0o644)
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(cfg.Database.Path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := mtactl.New(*cfg.Mtactl, db)
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := ctl.Plan(model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	if _, err := ctl.Apply(context.Background(), ch, mtactl.CurrentWho("test"), mtactl.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	b := state.NewBatch()
	for i := range 5 {
		b.AddEvent(&model.Event{Time: now.Add(-time.Duration(i) * time.Minute), Side: model.SideNew, MTA: "pmta-new", ISP: "google",
			Domain: "gmail.com", Outcome: model.Deferred, Response: "421-4.7.28 [198.51.100.20] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp"})
	}
	if err := db.Commit(b); err != nil {
		t.Fatal(err)
	}
	rules, _ := cfg.PacingRules()
	p := &owner.Pacer{Rules: rules, DB: db, Control: ctl}
	if _, err := p.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return cfgPath, conf
}

func TestPaceListApplyClear(t *testing.T) {
	cfgPath, conf := paceSetup(t)
	paceCommands(t, cfgPath, conf)
}

// The same commands while an owner holds the database: they run in the
// owner through the pace.* ops; a viewer's cockpit source lists the same.
func TestPaceCommandsThroughOwner(t *testing.T) {
	cfgPath, conf := paceSetup(t)
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pacing.Mode = model.PaceOff // no runner: the test drives the state
	own, err := owner.Start(cfg, owner.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = own.Run(ctx, 50*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done; own.Close() }()
	cl, err := attach.Dial(ctx, attach.SocketPath(cfg.Database.Path), attach.ClientOptions{ReadOnly: true, Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	src := attachedPace(cl)
	if src == nil {
		t.Fatal("no pace source from the owner")
	}
	v, err := src.Pace()
	if err != nil || len(v.Rows) != 1 || v.Rows[0].State != "suggested" {
		t.Fatalf("viewer's list %v %+v", err, v)
	}
	if _, err := src.Apply(v.Rows[0].ID); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("a read-only viewer applied: %v", err)
	}
	paceCommands(t, cfgPath, conf)
}

func paceCommands(t *testing.T, cfgPath, conf string) {
	t.Helper()
	code, out, errOut := runIn(t, "", "pace", "list", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, "suggested: 1\n") || !strings.Contains(out, "would google 600/h conn 5 msg/conn 50 → 300/h conn 2 msg/conn 50") {
		t.Fatalf("list %d %s\n%s", code, errOut, out)
	}
	_, js, _ := runIn(t, "", "pace", "list", "--config", cfgPath, "--json")
	var l owner.PaceList
	if err := json.Unmarshal([]byte(js), &l); err != nil || len(l.Suggested) != 1 {
		t.Fatalf("json %v %s", err, js)
	}
	id := l.Suggested[0].ID
	// Without --yes and without a terminal: refused after the diff.
	code, out, errOut = runIn(t, "", "pace", "apply", id, "--config", cfgPath)
	if code != 1 || !strings.Contains(out, "+    max-msg-rate 300/h") || !strings.Contains(errOut, "without --yes") {
		t.Fatalf("apply without yes %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runIn(t, "", "pace", "apply", id, "--config", cfgPath, "--yes")
	if code != 0 || !strings.Contains(out, id+": active") {
		t.Fatalf("apply %d %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "max-msg-rate 300/h") {
		t.Fatalf("config after apply:\n%s", b)
	}
	code, out, errOut = runIn(t, "", "pace", "clear", "--isp", "google", "--config", cfgPath, "--yes")
	if code != 0 || !strings.Contains(out, "ends: "+id) || !strings.Contains(out, "ended: cleared by") {
		t.Fatalf("clear %d %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "max-msg-rate 600/h") {
		t.Fatalf("config after clear:\n%s", b)
	}
	if code, _, errOut := runIn(t, "", "pace", "clear", "--isp", "google", "--config", cfgPath, "--yes"); code == 0 || !strings.Contains(errOut, "no live overlay for google") {
		t.Errorf("second clear %d %s", code, errOut)
	}
	if code, _, _ := runIn(t, "", "pace", "clear", "--config", cfgPath); code != 2 {
		t.Errorf("clear without ID or --isp: exit %d, want usage 2", code)
	}
}
