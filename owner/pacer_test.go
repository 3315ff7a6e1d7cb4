package owner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
)

// Gmail's real 421-4.7.28 reply (Google answer 81126) and Yahoo's [TSS04]
// (Yahoo postmaster error codes), as PowerMTA logs them.
const (
	paceGmail = `smtp;421-4.7.28 [198.51.100.20] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp`
	paceTSS04 = `smtp;421 4.7.0 [TSS04] Messages from 198.51.100.20 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes`
	paceMS    = `smtp;451 4.7.650 The mail server [198.51.100.20] has been temporarily rate limited due to IP reputation.`
	paceRL    = `smtp;421 RL0000 Rate limited - see https://postmaster.comcast.net/smtp-error-codes.php#RL000000`
	acctHdr   = "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,bounceCat,vmta"
)

// pmtaConfig is an operator's PowerMTA config with cutover's block markers.
const pacePMTAConfig = `<virtual-mta vmta-old>
    # BEGIN cutover split
    # END cutover split
</virtual-mta>
<virtual-mta vmta-new>
    # BEGIN cutover throttles
    # END cutover throttles
</virtual-mta>
`

// paceEnv is a database fed by the real pipeline from a PowerMTA
// accounting file of the NEW side, an mtactl controller over PowerMTA (its
// check and reload are `true`: the files are what the test reads) and a
// pacer on a fake clock.
type mtactlAudit = mtactl.AuditEntry

type paceEnv struct {
	dir, acct, conf string
	db              *state.DB
	ctl             *mtactl.Controller
	p               *Pacer
	now             time.Time
	seq             int
}

var paceT0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func newPaceEnv(t *testing.T, pc model.PacingConfig, mcfg func(dir string) mtactl.Config) *paceEnv {
	t.Helper()
	e := &paceEnv{dir: t.TempDir(), now: paceT0}
	e.acct = filepath.Join(e.dir, "acct-new.csv")
	if err := os.WriteFile(e.acct, []byte(acctHdr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(e.dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	if mcfg == nil {
		mcfg = e.pmtaConfig
	}
	ctl, err := mtactl.New(mcfg(e.dir), db)
	if err != nil {
		t.Fatal(err)
	}
	e.ctl = ctl
	rules, err := model.ParsePacing(pc)
	if err != nil {
		t.Fatal(err)
	}
	e.p = &Pacer{Rules: rules, DB: db, Control: ctl, Now: func() time.Time { return e.now }, Thresholds: model.DefaultThresholds()}
	return e
}

func (e *paceEnv) pmtaConfig(dir string) mtactl.Config {
	e.conf = filepath.Join(dir, "pmta-config")
	os.WriteFile(e.conf, []byte(pacePMTAConfig), 0o644)
	return mtactl.Config{
		Providers: map[string][]string{"google": {"gmail.com"}, "yahoo": {"yahoo.com", "aol.com"},
			"microsoft": {"outlook.com"}, "comcast": {"comcast.net"}},
		PMTA: &mtactl.PMTAConfig{Config: e.conf, ColdVMTA: "vmta-new",
			DailyVolume: map[string]int{"gmail.com": 10000, "yahoo.com": 5000, "aol.com": 1000, "outlook.com": 5000, "comcast.net": 1000},
			Test:        []string{"true"}, Reload: []string{"true"}},
	}
}

// operator applies the plan's values as a person would (ratio and the
// Google throttle of §7.5).
func (e *paceEnv) operator(t *testing.T, d model.Desired) {
	t.Helper()
	ch, err := e.ctl.Plan(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ctl.Apply(context.Background(), ch, mtactl.CurrentWho("ratio set"), mtactl.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// feed appends NEW-side deferrals at the given minutes after paceT0 and
// runs the real pipeline over the file (a fresh pipeline resumes at the
// committed cursor, as a restarted owner does).
func (e *paceEnv) feed(t *testing.T, rcptDomain, reply string, at ...time.Duration) {
	t.Helper()
	f, err := os.OpenFile(e.acct, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range at {
		e.seq++
		fmt.Fprintf(f, "t,%s,news@s.example,user%d@%s,delayed,4.7.28,\"%s\",policy-related,vmta-new\n",
			paceT0.Add(d).Format("2006-01-02 15:04:05-0700"), e.seq, rcptDomain, strings.ReplaceAll(reply, `"`, `""`))
	}
	f.Close()
	parser, err := NewParser("pmta", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := ingest.NewPipeline(e.db, []ingest.SourceSpec{{Name: "new", Kind: "pmta", Side: model.SideNew, MTA: "pmta-new", Globs: []string{e.acct}, Parser: parser}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	pl.Close()
}

// at sets the fake clock to minutes after paceT0 and evaluates.
func (e *paceEnv) at(t *testing.T, d time.Duration) []model.Overlay {
	t.Helper()
	e.now = paceT0.Add(d)
	ap, err := e.p.Evaluate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

func (e *paceEnv) pacerAudit(t *testing.T) []mtactl.AuditEntry {
	t.Helper()
	h, err := e.ctl.History()
	if err != nil {
		t.Fatal(err)
	}
	var out []mtactl.AuditEntry
	for _, a := range h {
		if strings.HasPrefix(a.Who.User, "pacer:") {
			out = append(out, a)
		}
	}
	return out
}

// googleBlock is the rendered PowerMTA <domain gmail.com> throttles.
func (e *paceEnv) domainBlock(t *testing.T, dom string) string {
	t.Helper()
	b, err := os.ReadFile(e.conf)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	thr := s[strings.Index(s, "# BEGIN cutover throttles"):strings.Index(s, "# END cutover throttles")]
	i := strings.Index(thr, "<domain "+dom+">")
	if i < 0 {
		return ""
	}
	j := strings.Index(thr[i:], "</domain>")
	return strings.Join(strings.Fields(thr[i:i+j]), " ")
}

func (e *paceEnv) coldCount(t *testing.T, dom string) string {
	t.Helper()
	b, _ := os.ReadFile(e.conf)
	s := string(b)
	split := s[strings.Index(s, "# BEGIN cutover split"):strings.Index(s, "# END cutover split")]
	i := strings.Index(split, "<domain "+dom+">")
	if i < 0 {
		return ""
	}
	j := strings.Index(split[i:], "</domain>")
	return strings.Join(strings.Fields(split[i:i+j]), " ")
}

func min_(m int) time.Duration { return time.Duration(m) * time.Minute }

// TestPacerGmailCase is wave2 §7.5's Gmail case with the fake clock and
// deferrals fed through the real pipeline: Google 600/h conn 5 on NEW.
func TestPacerGmailCase(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	const base = "<domain gmail.com> max-msg-rate 600/h max-smtp-out 5 max-msg-per-connection 50"
	if got := e.domainBlock(t, "gmail.com"); got != base {
		t.Fatalf("operator's throttle: %q", got)
	}
	// Four deferrals in 10 minutes: nothing.
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(3), min_(5), min_(7))
	if ap := e.at(t, min_(8)); len(ap) != 0 {
		t.Fatalf("four deferrals applied %+v", ap)
	}
	if ovs, _ := e.db.Overlays(); len(ovs) != 0 {
		t.Fatalf("four deferrals made overlays %+v", ovs)
	}
	// The fifth within 10 minutes: one apply at the next evaluation.
	e.feed(t, "gmail.com", paceGmail, min_(9))
	ap := e.at(t, min_(9)+30*time.Second)
	if len(ap) != 1 || ap[0].Rule != "gmail-rate" || ap[0].ISP != "google" {
		t.Fatalf("fifth deferral: %+v", ap)
	}
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 300/h max-smtp-out 2 max-msg-per-connection 50" {
		t.Fatalf("after the apply: %q", got)
	}
	// A is the apply; the §7.5 times are relative to it.
	A := min_(9) + 30*time.Second
	rel := func(m int) time.Duration { return A + min_(m) }
	// The same five deferrals never fire again; evaluations in between
	// change nothing.
	for m := 1; m < 90; m += 7 {
		if ap := e.at(t, rel(m)); len(ap) != 0 {
			t.Fatalf("A+%d: applied again %+v", m, ap)
		}
	}
	e.at(t, rel(90))
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 450/h max-smtp-out 3 max-msg-per-connection 50" {
		t.Fatalf("restore step at +90: %q", got)
	}
	if n := len(e.pacerAudit(t)); n != 2 {
		t.Fatalf("%d pacer applies by +90", n)
	}
	// A fifth match at +100 (four more before it) restarts the 90 minutes
	// and skips the restore step.
	e.feed(t, "gmail.com", paceGmail, rel(92), rel(94), rel(96), rel(98), rel(100)-10*time.Second)
	ap = e.at(t, rel(100))
	if len(ap) != 1 || e.domainBlock(t, "gmail.com") != "<domain gmail.com> max-msg-rate 300/h max-smtp-out 2 max-msg-per-connection 50" {
		t.Fatalf("re-trigger at +100: %+v %q", ap, e.domainBlock(t, "gmail.com"))
	}
	for _, m := range []int{120, 150, 180, 189} {
		if ap := e.at(t, rel(m)); len(ap) != 0 {
			t.Fatalf("+%d: %+v", m, ap)
		}
	}
	e.at(t, rel(190))
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 450/h max-smtp-out 3 max-msg-per-connection 50" {
		t.Fatalf("+190: %q", got)
	}
	e.at(t, rel(220))
	if got := e.domainBlock(t, "gmail.com"); got != base {
		t.Fatalf("+220 restored: %q", got)
	}
	applies := e.pacerAudit(t)
	if len(applies) != 5 {
		t.Fatalf("%d pacer applies, want 5 (300, 450, 300, 450, 600)", len(applies))
	}
	for _, a := range applies {
		if a.Who.User != "pacer:gmail-rate" || a.Result != mtactl.ResultOK {
			t.Errorf("audit %+v", a)
		}
	}
	ovs, _ := e.db.Overlays()
	if len(ovs) != 1 || ovs[0].State != model.OverlayEnded || len(ovs[0].Applies) != 5 || e.ctl.Current().Overrides["google"] != (model.Throttle{PerHour: 600, Connections: 5}) {
		t.Fatalf("overlay at the end %+v, current %+v", ovs, e.ctl.Current())
	}
}

// TestPacerGmailNoRetrigger: without a re-trigger, 600/5 comes back at
// +120 min: three mtactl applies in total.
func TestPacerGmailNoRetrigger(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(2), min_(3), min_(4), min_(5))
	e.at(t, min_(5)+50*time.Second)
	e.at(t, min_(95)+50*time.Second)
	e.at(t, min_(119))
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 450/h max-smtp-out 3 max-msg-per-connection 50" {
		t.Fatalf("+119: %q", got)
	}
	e.at(t, min_(125)+50*time.Second)
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 600/h max-smtp-out 5 max-msg-per-connection 50" {
		t.Fatalf("+125: %q", got)
	}
	if n := len(e.pacerAudit(t)); n != 3 {
		t.Fatalf("%d applies, want 3", n)
	}
}

// TestPacerSuggestMode: nothing is applied until pace apply; the
// suggestion carries mtactl's diff; n dismisses for the rule's duration.
func TestPacerSuggestMode(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{}, nil)
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(2), min_(3), min_(4), min_(5))
	if ap := e.at(t, min_(6)); len(ap) != 0 {
		t.Fatalf("suggest mode applied %+v", ap)
	}
	l, _ := e.p.List()
	if len(l.Suggested) != 1 || len(l.Active) != 0 {
		t.Fatalf("list %+v", l)
	}
	id := l.Suggested[0].ID
	diff, err := e.p.Preview(id)
	if err != nil || !strings.Contains(diff, "-        max-msg-rate 600/h") || !strings.Contains(diff, "+        max-smtp-out 2") {
		t.Fatalf("preview %v:\n%s", err, diff)
	}
	if l.Suggested[0].Change != "would google 600/h conn 5 msg/conn 50 → 300/h conn 2 msg/conn 50" {
		t.Errorf("suggestion change %q", l.Suggested[0].Change)
	}
	it, err := e.p.Apply(context.Background(), id, mtactl.CurrentWho("pace apply"))
	if err != nil || it.State != model.OverlayActive {
		t.Fatalf("apply: %v %+v", err, it)
	}
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 300/h max-smtp-out 2 max-msg-per-connection 50" {
		t.Fatalf("after pace apply %q", got)
	}
	// The restore still happens by itself: the overlay is time-limited.
	e.at(t, min_(97))
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 450/h max-smtp-out 3 max-msg-per-connection 50" {
		t.Fatalf("+97 %q", got)
	}
	// A new suggestion dismissed with n stays away for the rule's 90 min.
	e.feed(t, "gmail.com", paceGmail, min_(200), min_(201), min_(202), min_(203), min_(204))
	e.at(t, min_(205))
	l, _ = e.p.List()
	if len(l.Suggested) != 1 {
		t.Fatalf("second suggestion: %+v", l)
	}
	if _, err := e.p.Dismiss(l.Suggested[0].ID); err != nil {
		t.Fatal(err)
	}
	e.feed(t, "gmail.com", paceGmail, min_(210), min_(211), min_(212), min_(213), min_(214))
	e.at(t, min_(215))
	if l, _ = e.p.List(); len(l.Suggested) != 0 || len(l.Dismissed) != 1 {
		t.Fatalf("dismissed came back: %+v", l)
	}
}

// TestPacerYahooTSS04 (§7.5): one [TSS04] deferral → Yahoo's NEW share 0
// for 2 h; PowerMTA's cold-VirtualMTA count shows it.
func TestPacerYahooTSS04PMTA(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30})
	if got := e.coldCount(t, "yahoo.com"); got != "<domain yahoo.com> max-cold-virtual-mta-msg 1500/day" {
		t.Fatalf("before: %q", got)
	}
	e.feed(t, "yahoo.com", paceTSS04, min_(1))
	ap := e.at(t, min_(1)+40*time.Second)
	if len(ap) != 1 || ap[0].Rule != "yahoo-tss04" {
		t.Fatalf("applied %+v", ap)
	}
	for _, dom := range []string{"yahoo.com", "aol.com"} {
		if got := e.coldCount(t, dom); got != "<domain "+dom+"> max-cold-virtual-mta-msg 0/day" {
			t.Fatalf("%s during: %q", dom, got)
		}
	}
	if got := e.coldCount(t, "gmail.com"); got != "<domain gmail.com> max-cold-virtual-mta-msg 3000/day" {
		t.Fatalf("gmail moved: %q", got)
	}
	e.at(t, min_(120))
	if got := e.coldCount(t, "yahoo.com"); !strings.Contains(got, " 0/day") {
		t.Fatalf("+120 (before 2h after the apply): %q", got)
	}
	e.at(t, min_(122))
	if got := e.coldCount(t, "yahoo.com"); got != "<domain yahoo.com> max-cold-virtual-mta-msg 1500/day" {
		t.Fatalf("after 2h: %q", got)
	}
	if a := e.pacerAudit(t); len(a) != 2 || a[0].Who.User != "pacer:yahoo-tss04" {
		t.Fatalf("audit %+v", a)
	}
}

// TestPacerFlapGuard (§7.5): 20 triggers for 4 providers within 10 min →
// at most max_applies_per_hour applies; the rest queued and listed, and
// applied later, never dropped.
func TestPacerFlapGuard(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto, MaxAppliesPerHour: 3}, nil)
	e.operator(t, model.Desired{RatioNew: 30})
	// 5 firing bursts per provider within 10 minutes (20 triggers).
	for i := 0; i < 5; i++ {
		m := 2 * i
		e.feed(t, "gmail.com", paceGmail, min_(m), min_(m), min_(m), min_(m), min_(m))
		e.feed(t, "yahoo.com", paceTSS04, min_(m))
		e.feed(t, "outlook.com", paceMS, min_(m), min_(m), min_(m), min_(m), min_(m))
		e.feed(t, "comcast.net", paceRL, min_(m), min_(m))
		e.at(t, min_(m)+30*time.Second)
	}
	if n := len(e.pacerAudit(t)); n != 3 {
		t.Fatalf("%d applies in 10 min, want max_applies_per_hour = 3", n)
	}
	l, _ := e.p.List()
	if len(l.Active) != 3 || len(l.Queued) != 1 || l.Queued[0].Waiting == "" {
		t.Fatalf("list: %d active, queued %+v", len(l.Active), l.Queued)
	}
	if !strings.Contains(l.Queued[0].Waiting, "max_applies_per_hour 3") {
		t.Errorf("queued reason %q", l.Queued[0].Waiting)
	}
	// An hour after the first applies the queued one goes through.
	e.at(t, min_(61))
	l, _ = e.p.List()
	if len(l.Queued) != 0 || len(l.Active)+len(l.History) != 4 {
		t.Fatalf("an hour later: %+v", l)
	}
}

// The commented [pacing] example of cutover init parses and overrides the
// shipped gmail-rate rule by name.
func TestPacingExampleConfig(t *testing.T) {
	s := string(ExampleConfig)
	s = s[strings.Index(s, "# [pacing]"):]
	if i := strings.Index(s, "\n\n"); i > 0 {
		s = s[:i] // the section ends at the first blank line
	}
	var toml []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimPrefix(l, "# ")
		if strings.HasPrefix(l, "[") || regexp.MustCompile(`^\w+ +=`).MatchString(l) {
			toml = append(toml, l)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[database]\npath = \"c.db\"\n"+strings.Join(toml, "\n")+"\n"), 0o644)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.PacingRules()
	if err != nil || p.Mode != model.PaceSuggest || p.Rule("gmail-rate").N != 5 || len(p.Rules) != len(model.DefaultPacingRules()) {
		t.Fatalf("%v %+v", err, p)
	}
	os.WriteFile(path, []byte("[database]\npath = \"c.db\"\n[pacing]\nmode = \"fast\"\n"), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "c.toml") || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("bad mode: %v", err)
	}
}

// fakeExim answers like `exim` for what mtactl's Exim driver asks: -bV,
// -bt, and -be of ${lookup{KEY}lsearch{FILE}{$value}{missing}}, which it
// evaluates by reading FILE (lsearch: "key: value" lines).
const fakeExim = `#!/bin/sh
be=""
while [ $# -gt 0 ]; do
  case "$1" in
    -C) shift ;;
    -bV|-bt) exit 0 ;;
    -be) be=1 ;;
    *) if [ -n "$be" ]; then
         k=${1#'${lookup{'}; k=${k%%'}'*}
         f=${1#*'lsearch{'}; f=${f%%'}'*}
         v=$(awk -v k="$k:" '$1 == k { print $2; exit }' "$f")
         echo "${v:-missing}"
       fi ;;
  esac
  shift
done
`

const eximOperatorConf = `begin routers
# BEGIN cutover routers
# END cutover routers
dnslookup:
  driver = dnslookup
  transport = remote_smtp
begin transports
# BEGIN cutover transports
# END cutover transports
remote_smtp:
  driver = smtp
`

// TestPacerYahooTSS04Exim (§7.5): on Exim the shift is the per-provider
// ratio in the split file Exim reads on every message: yahoo domains 0.
func TestPacerYahooTSS04Exim(t *testing.T) {
	var split string
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, func(dir string) mtactl.Config {
		bin := filepath.Join(dir, "exim")
		os.WriteFile(bin, []byte(fakeExim), 0o755)
		conf := filepath.Join(dir, "exim.conf")
		os.WriteFile(conf, []byte(eximOperatorConf), 0o644)
		split = filepath.Join(dir, "cutover-split")
		return mtactl.Config{
			Providers: map[string][]string{"google": {"gmail.com"}, "yahoo": {"yahoo.com", "aol.com"}},
			Exim: &mtactl.EximConfig{Config: conf, SplitFile: split, OldRoute: "smtp.old.example", NoPrecheck: true,
				Validate: []string{bin, "-bV"}, Test: []string{bin, "-C", "{config}"}, Reload: []string{"true"}},
		}
	})
	e.operator(t, model.Desired{RatioNew: 30})
	read := func() string { b, _ := os.ReadFile(split); return string(b) }
	if s := read(); strings.Contains(s, "yahoo.com") || !strings.Contains(s, "*: 30\n") {
		t.Fatalf("split before:\n%s", s)
	}
	e.feed(t, "yahoo.com", paceTSS04, min_(1))
	if ap := e.at(t, min_(2)); len(ap) != 1 {
		t.Fatalf("applied %+v", ap)
	}
	if s := read(); !strings.Contains(s, "aol.com: 0\nyahoo.com: 0\n*: 30\n") {
		t.Fatalf("split during:\n%s", s)
	}
	e.at(t, min_(122))
	if s := read(); strings.Contains(s, "yahoo.com") || !strings.Contains(s, "*: 30\n") {
		t.Fatalf("split after 2h:\n%s", s)
	}
}

// Exim has no outbound rate limit: a scale overlay acts on max_parallel of
// the provider's transport (and says the rate is not enforced).
func TestPacerGmailEximMaxParallel(t *testing.T) {
	var conf string
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, func(dir string) mtactl.Config {
		bin := filepath.Join(dir, "exim")
		os.WriteFile(bin, []byte(fakeExim), 0o755)
		conf = filepath.Join(dir, "exim.conf")
		os.WriteFile(conf, []byte(eximOperatorConf), 0o644)
		return mtactl.Config{
			Providers: map[string][]string{"google": {"gmail.com"}},
			Exim: &mtactl.EximConfig{Config: conf, SplitFile: filepath.Join(dir, "split"), OldRoute: "smtp.old.example", NoPrecheck: true,
				Validate: []string{bin, "-bV"}, Test: []string{bin, "-C", "{config}"}, Reload: []string{"true"}},
		}
	})
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 4}))
	transport := func() string {
		b, _ := os.ReadFile(conf)
		s := string(b)
		i := strings.Index(s, "remote_google:")
		return strings.Join(strings.Fields(s[i:i+strings.Index(s[i:], "# END")]), " ")
	}
	if got := transport(); !strings.HasPrefix(got, "remote_google: driver = smtp max_parallel = 4 ") {
		t.Fatalf("before: %q", got)
	}
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(2), min_(3), min_(4), min_(5))
	if ap := e.at(t, min_(6)); len(ap) != 1 {
		t.Fatalf("applied %+v", ap)
	}
	if got := transport(); !strings.HasPrefix(got, "remote_google: driver = smtp max_parallel = 2 ") || !strings.Contains(got, "# 300/h wanted: Exim has no outbound rate limit") {
		t.Fatalf("after: %q", got)
	}
}

// TestPacerTSS04PostfixFront (§7.5): a Postfix front splits all mail by one
// randmap and cannot send Yahoo alone to OLD: the overlay scales Yahoo's
// delivery transport to floor_scale instead, with a WARN.
func TestPacerTSS04PostfixFront(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{}, func(dir string) mtactl.Config {
		front, deliv := filepath.Join(dir, "front"), filepath.Join(dir, "delivery")
		for _, d := range []string{front, deliv} {
			os.MkdirAll(d, 0o755)
			os.WriteFile(filepath.Join(d, "main.cf"), []byte("compatibility_level = 3.6\n"), 0o644)
			os.WriteFile(filepath.Join(d, "master.cf"), []byte("smtp unix - - n - - smtp\n"), 0o644)
		}
		return mtactl.Config{
			Providers: map[string][]string{"google": {"gmail.com"}, "yahoo": {"yahoo.com"}},
			Throttle:  model.ThrottlePolicy{Warm: true},
			Postfix: &mtactl.PostfixConfig{
				Front:    &mtactl.PostfixFront{PostfixInstance: mtactl.PostfixInstance{ConfigDir: front}, NewNexthop: "[127.0.0.1]:10026"},
				Delivery: &mtactl.PostfixDelivery{PostfixInstance: mtactl.PostfixInstance{ConfigDir: deliv}},
			},
		}
	})
	e.feed(t, "yahoo.com", paceTSS04, min_(1))
	e.at(t, min_(2))
	l, err := e.p.List()
	if err != nil || len(l.Suggested) != 1 {
		t.Fatalf("%v %+v", err, l)
	}
	it := l.Suggested[0]
	if it.Action.ShiftOld || it.Action.Scale != 0.1 || !strings.Contains(it.Warn, "postfix-front cannot send one provider to OLD") || !strings.Contains(it.Next, "WARN") {
		t.Fatalf("suggestion %+v", it)
	}
	diff, err := e.p.Preview(it.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The delivery instance's Yahoo transport gets a tenth of the plan's
	// concurrency (floor 1); Google's stays.
	if !strings.Contains(diff, "+yahoo_destination_concurrency_limit = 1\n") || !strings.Contains(diff, "+google_destination_concurrency_limit = 5\n") ||
		!strings.HasPrefix(diff, "yahoo conn 10 msg/conn 20 → conn 1 msg/conn 20\n") {
		t.Fatalf("diff:\n%s", diff)
	}
}

// status and /metrics show live overlays: a TSS04 shift is a WARN with its
// change; a block-class overlay CRIT; the gauge carries isp and rule.
func TestPacerStatusAndMetrics(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30})
	e.feed(t, "yahoo.com", paceTSS04, min_(1))
	e.feed(t, "outlook.com", `smtp;550 5.7.1 Unfortunately, messages from [198.51.100.20] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).`, min_(1), min_(2), min_(3))
	e.at(t, min_(4))
	rep, err := BuildStatus(StatusInput{DB: e.db, Now: paceT0.Add(min_(5)), Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pacing) != 2 || rep.Status != "CRIT" {
		t.Fatalf("status %s pacing %+v reasons %q", rep.Status, rep.Pacing, rep.Reasons)
	}
	reasons := strings.Join(rep.Reasons, "\n")
	if !strings.Contains(reasons, "CRIT: pacing active block on microsoft: send microsoft to OLD (NEW ratio 0) (until cleared)") ||
		!strings.Contains(reasons, "WARN: pacing active yahoo-tss04 on yahoo: send yahoo to OLD (NEW ratio 0)") {
		t.Fatalf("reasons:\n%s", reasons)
	}
	reg := newMetricsRegistry(metricsSource{DB: e.db})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "cutover_pacing_overlay_active" {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[l["isp"]+"/"+l["rule"]] = m.GetGauge().GetValue()
		}
	}
	if len(got) != 2 || got["yahoo/yahoo-tss04"] != 1 || got["microsoft/block"] != 2 {
		t.Fatalf("metrics %v", got)
	}
	// pace clear ends the block overlay; status drops it.
	if _, err := e.p.Clear(context.Background(), "", "microsoft", mtactl.CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	rep, _ = BuildStatus(StatusInput{DB: e.db, Now: paceT0.Add(min_(6)), Window: time.Hour})
	if len(rep.Pacing) != 1 || strings.Contains(strings.Join(rep.Reasons, "\n"), "block") {
		t.Fatalf("after clear: %+v %q", rep.Pacing, rep.Reasons)
	}
	if got := e.coldCount(t, "outlook.com"); got != "<domain outlook.com> max-cold-virtual-mta-msg 1500/day" {
		t.Fatalf("outlook after clear: %q", got)
	}
}

// A crash between mtactl's apply and the overlay's record: the next round
// finds the MTAs already overlaid, records the apply, and the end still
// restores the operator's 600/h conn 5 (the baseline was stored first).
func TestPacerCrashAfterApplyKeepsBaseline(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(2), min_(3), min_(4), min_(5))
	e.at(t, min_(6))
	ovs, _ := e.db.Overlays()
	if len(ovs) != 1 || ovs[0].AppliedPct != 50 {
		t.Fatalf("%+v", ovs)
	}
	// Undo the overlay's record of the apply, as if the process died
	// right after mtactl's transaction.
	o := ovs[0]
	o.AppliedPct, o.Applies, o.State = 100, nil, model.OverlayQueued
	if err := e.db.PutOverlay(o); err != nil {
		t.Fatal(err)
	}
	e.at(t, min_(17))
	ovs, _ = e.db.Overlays()
	if ovs[0].AppliedPct != 50 || ovs[0].Base != (model.Throttle{PerHour: 600, Connections: 5, PerConnection: 50}) {
		t.Fatalf("after the crash: %+v", ovs[0])
	}
	e.at(t, min_(130))
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 600/h max-smtp-out 5 max-msg-per-connection 50" {
		t.Fatalf("restored to %q", got)
	}
}

// A stronger rule supersedes a live overlay of the same provider and
// inherits its baseline: gmail-rate (×0.5) then Gmail blocks (block class,
// shift to OLD until cleared); pace clear restores the operator's share and
// throttle, both.
func TestPacerSupersede(t *testing.T) {
	e := newPaceEnv(t, model.PacingConfig{Mode: model.PaceAuto}, nil)
	e.operator(t, model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	e.feed(t, "gmail.com", paceGmail, min_(1), min_(2), min_(3), min_(4), min_(5))
	e.at(t, min_(6))
	const block = `smtp;550-5.7.28 [198.51.100.20] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been blocked. - gsmtp`
	e.feed(t, "gmail.com", block, min_(10), min_(11), min_(12))
	e.at(t, min_(20))
	l, _ := e.p.List()
	if len(l.Active) != 1 || l.Active[0].Rule != "block" || len(l.History) != 1 || !strings.HasPrefix(l.History[0].EndReason, "superseded by google.block.") {
		t.Fatalf("list %+v", l)
	}
	if got := e.coldCount(t, "gmail.com"); got != "<domain gmail.com> max-cold-virtual-mta-msg 0/day" {
		t.Fatalf("gmail during block: %q", got)
	}
	rep, _ := BuildStatus(StatusInput{DB: e.db, Now: paceT0.Add(min_(21)), Window: time.Hour})
	if rep.Status != "CRIT" {
		t.Fatalf("status %s %q", rep.Status, rep.Reasons)
	}
	// Still there hours later: a block lasts until a person clears it.
	e.at(t, min_(600))
	if got := e.coldCount(t, "gmail.com"); !strings.Contains(got, " 0/day") {
		t.Fatalf("block lapsed: %q", got)
	}
	if _, err := e.p.Clear(context.Background(), "", "google", mtactl.CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	if got := e.coldCount(t, "gmail.com"); got != "<domain gmail.com> max-cold-virtual-mta-msg 3000/day" {
		t.Fatalf("gmail after clear: %q", got)
	}
	if got := e.domainBlock(t, "gmail.com"); got != "<domain gmail.com> max-msg-rate 600/h max-smtp-out 5 max-msg-per-connection 50" {
		t.Fatalf("throttle after clear: %q", got)
	}
}
