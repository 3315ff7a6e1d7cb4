package mtactl

import (
	"errors"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"cutover/model"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// TestApplyFiles: whole files go through the transaction (audit entry,
// reload), a failing check restores the previous bytes, and the applied
// split state is left alone.
func TestApplyFiles(t *testing.T) {
	dir := t.TempDir()
	fk := newFake(t)
	conf := filepath.Join(dir, "pmta", "config")
	mustWrite(t, conf, "# operator's config\n")
	db := openDB(t, filepath.Join(dir, "cutover.db"))
	c, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", Test: fk.argv("test", "config"), Reload: fk.argv("reload")}}, db)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.SuppressTarget("", "")
	if err != nil || tg.Name != "pmta" || tg.Path != filepath.Join(dir, "pmta", "cutover-suppressed.txt") {
		t.Fatalf("target %+v, %v", tg, err)
	}
	list := tg.Path
	e, err := c.ApplyFiles(t0ctx(), "pmta", "suppress-export", []WholeFile{{Path: list, Data: []byte("a@example.com\n")}}, CurrentWho("test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Result != ResultOK || len(e.Reloaded) != 1 || mustRead(t, list) != "a@example.com\n" {
		t.Fatalf("entry %+v", e)
	}
	fk.failOn(t, "test", "error in line 3")
	_, err = c.ApplyFiles(t0ctx(), "pmta", "suppress-export", []WholeFile{{Path: list, Data: []byte("b@example.com\n")}}, CurrentWho("test"), nil)
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored {
		t.Fatalf("failing check: %v", err)
	}
	if got := mustRead(t, list); got != "a@example.com\n" {
		t.Errorf("after a failed apply the list is %q", got)
	}
	if a, _ := c.st.applied(); a != nil {
		t.Errorf("ApplyFiles changed the applied split state: %+v", a)
	}
	if _, err := c.ApplyFiles(t0ctx(), "exim", "x", nil, CurrentWho("test"), nil); err == nil {
		t.Error("an unconfigured driver was accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "pmta", LockFileName)); err == nil {
		t.Error("lock file left behind")
	}
}

// suppressLog is a canonical log with addrs suppressed (unsubscribes).
func suppressLog(t *testing.T, db *state.DB, addrs ...string) *ssup.Log {
	t.Helper()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var evs []model.SuppressionEvent
	for _, a := range addrs {
		evs = append(evs, model.SuppressionEvent{Type: model.SuppUnsubscribe, Addr: a, Source: "test:list", Scope: "account", Origin: "test"})
	}
	if n, err := l.Append(evs); err != nil || n != len(addrs) {
		t.Fatalf("append: %d, %v", n, err)
	}
	return l
}

// pmtaRulesEnv is a PowerMTA driver with the fake pmta and the rule file
// configured (PowerMTA is commercial: validate and reload are the fake's).
func pmtaRulesEnv(t *testing.T, max int) (*Controller, *fake, *state.DB, string) {
	t.Helper()
	dir := t.TempDir()
	fk := newFake(t)
	conf := filepath.Join(dir, "pmta", "config")
	mustWrite(t, conf, "# operator's config\ninclude "+filepath.Join(dir, "pmta", "cutover-suppressed.pattern")+"\n")
	db := openDB(t, filepath.Join(dir, "cutover.db"))
	c, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", Test: fk.argv("test", "config"), Reload: fk.argv("reload"),
		SuppressPatternList: filepath.Join(dir, "pmta", "cutover-suppressed.pattern"), SuppressVMTA: "blackhole", SuppressPatternMax: max}}, db)
	if err != nil {
		t.Fatal(err)
	}
	return c, fk, db, dir
}

var pmtaRuleAddrs = []string{"a.b+tag@example.com", "user@xn--bcher-kva.example", "o'brien&co@example.org", "#hash@example.com", pmtaRefused}

// pmtaRefused is not a literal address (shell and pattern syntax): never
// exported, never a rule (issue 13 point 7).
const pmtaRefused = "x{y}|z$@example.org"

// TestPMTASuppressRules: with suppress_pattern_list the export installs the
// injector list and the rule file in one apply (one pmta test config, one
// reload), escaped and anchored; verify reads the rules back and names a
// removed rule, an extra one, a duplicate and a widened pattern.
func TestPMTASuppressRules(t *testing.T) {
	c, fk, db, dir := pmtaRulesEnv(t, 0)
	l := suppressLog(t, db, pmtaRuleAddrs...)
	res, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "pmta", "cutover-suppressed.pattern")
	if res.Target.Rules != rules || res.Rules != 4 || len(res.Entry.Files) != 2 || len(res.Entry.Reloaded) != 1 ||
		!slices.Equal(res.Result.Refused, []string{pmtaRefused}) || !strings.Contains(strings.Join(res.Entry.Notes, ";"), "1 not literal addresses left out") {
		t.Fatalf("export %+v", res)
	}
	if got := strings.Join(fk.calls(t), "|"); got != "test config|reload" {
		t.Errorf("fake pmta calls %q, want one test and one reload", got)
	}
	body := mustRead(t, rules)
	for _, want := range []string{
		"\n<pattern-list cutover-suppressed>\n",
		"\nrcpt-to /^\\x23hash@example\\.com$/ virtual-mta=blackhole\n",
		"\nrcpt-to /^a\\.b\\+tag@example\\.com$/ virtual-mta=blackhole\n",
		"\nrcpt-to /^user@xn--bcher-kva\\.example$/ virtual-mta=blackhole\n",
		"\nrcpt-to /^o\\x27brien&co@example\\.org$/ virtual-mta=blackhole\n",
		"\n</pattern-list>\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("rule file lacks %q:\n%s", want, body)
		}
	}
	if got := mustRead(t, res.Target.Path); strings.Count(got, "\n") != 4 {
		t.Errorf("injector list:\n%s", got)
	}
	again, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil || !again.Unchanged {
		t.Errorf("second export: %+v, %v", again, err)
	}

	verify := func() *SuppressVerification {
		t.Helper()
		v, err := c.VerifySuppressions(t0ctx(), l, SuppressVerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verify(); !v.OK || v.Rules != rules || v.RulesCount != 4 || len(v.RulesBad)+len(v.RulesMissing)+len(v.RulesExtra) != 0 {
		t.Fatalf("verify: %+v", v)
	}
	edit := func(old, new string) {
		t.Helper()
		if !strings.Contains(body, old) {
			t.Fatalf("%q not in the rule file", old)
		}
		mustWrite(t, rules, strings.Replace(body, old, new, 1))
	}
	removed := "rcpt-to /^a\\.b\\+tag@example\\.com$/ virtual-mta=blackhole\n"
	edit(removed, "")
	if v := verify(); v.OK || !slices.Equal(v.RulesMissing, []string{"a.b+tag@example.com"}) || v.RulesCount != 3 || !strings.Contains(strings.Join(v.Problems, ";"), "have no rule") {
		t.Errorf("a removed rule: %+v", v)
	}
	edit("</pattern-list>\n", "rcpt-to /^innocent@example\\.com$/ virtual-mta=blackhole\n</pattern-list>\n")
	if v := verify(); v.OK || !slices.Equal(v.RulesExtra, []string{"innocent@example.com"}) || len(v.RulesMissing) != 0 {
		t.Errorf("an extra rule: %+v", v)
	}
	edit("</pattern-list>\n", removed+"</pattern-list>\n")
	if v := verify(); v.OK || len(v.RulesDuplicate) != 1 || !strings.Contains(v.RulesDuplicate[0], "a.b+tag@example.com") {
		t.Errorf("a duplicate rule: %+v", v)
	}
	edit(removed, "rcpt-to /^a.b\\+tag@example\\.com$/ virtual-mta=blackhole\n")
	if v := verify(); v.OK || len(v.RulesBad) != 1 || !slices.Equal(v.RulesMissing, []string{"a.b+tag@example.com"}) {
		t.Errorf("a widened pattern: %+v", v)
	}
	edit(removed, "rcpt-to /^a\\.b\\+tag@example\\.com$/ virtual-mta=vmta-new\n")
	if v := verify(); v.OK || len(v.RulesBad) != 1 || !strings.Contains(v.RulesBad[0], "not blackhole") {
		t.Errorf("a rule to another VirtualMTA: %+v", v)
	}
	os.Remove(rules)
	if v := verify(); v.OK || len(v.RulesMissing) != 4 {
		t.Errorf("no rule file: %+v", v)
	}
	if err := RecordSuppressVerification(db, verify()); err != nil {
		t.Fatal(err)
	}
}

// TestPMTASuppressRulesRollback: a failing pmta reload restores both files
// (the list's old bytes, the rule file absent as it was), and so does a
// failing pmta test config after a good export.
func TestPMTASuppressRulesRollback(t *testing.T) {
	c, fk, db, dir := pmtaRulesEnv(t, 0)
	rules := filepath.Join(dir, "pmta", "cutover-suppressed.pattern")
	list := filepath.Join(dir, "pmta", "cutover-suppressed.txt")
	mustWrite(t, list, "old@example.com\n")
	l := suppressLog(t, db, pmtaRuleAddrs[:2]...)
	fk.failOnce(t, "reload", "pmta: error in line 3 of cutover-suppressed.pattern\n")
	_, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Restored || !strings.Contains(err.Error(), "reload") {
		t.Fatalf("failing reload: %v", err)
	}
	if got := mustRead(t, list); got != "old@example.com\n" {
		t.Errorf("list after the failed reload: %q", got)
	}
	if _, err := os.Stat(rules); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rule file after the failed reload: %v", err)
	}

	if _, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	before := fileSet2(t, list, rules)
	if _, err := l.Append([]model.SuppressionEvent{{Type: model.SuppUnsubscribe, Addr: "new@example.com", Source: "test:list", Scope: "account", Origin: "test"}}); err != nil {
		t.Fatal(err)
	}
	fk.failOn(t, "test", "Error in line 2 of "+rules+": unknown directive\n")
	if _, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test")); !errors.As(err, &ae) || !ae.Restored {
		t.Fatalf("failing test config: %v", err)
	}
	if after := fileSet2(t, list, rules); !maps.Equal(before, after) {
		t.Errorf("after a failed check the files changed:\n%v\n%v", before, after)
	}
}

func fileSet2(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, p := range paths {
		m[p] = mustRead(t, p)
	}
	return m
}

// TestPMTASuppressRulesLimit: above suppress_pattern_max the export is
// refused with the count and nothing is written; the list alone (no
// suppress_pattern_list) has no limit and writes no rule file.
func TestPMTASuppressRulesLimit(t *testing.T) {
	c, fk, db, dir := pmtaRulesEnv(t, 3)
	l := suppressLog(t, db, pmtaRuleAddrs...)
	_, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err == nil || !strings.Contains(err.Error(), "4 suppressed addresses exceed suppress_pattern_max 3") {
		t.Fatalf("over the limit: %v", err)
	}
	for _, p := range []string{"cutover-suppressed.txt", "cutover-suppressed.pattern"} {
		if _, err := os.Stat(filepath.Join(dir, "pmta", p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written by a refused export", p)
		}
	}
	if calls := fk.calls(t); len(calls) != 0 {
		t.Errorf("pmta called: %q", calls)
	}

	conf := filepath.Join(dir, "pmta", "config")
	c2, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", Test: fk.argv("test", "config"), Reload: fk.argv("reload")}}, db)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c2.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil || res.Rules != 0 || res.Target.Rules != "" || len(res.Entry.Files) != 1 {
		t.Fatalf("without the key: %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pmta", "cutover-suppressed.pattern")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a rule file was written without suppress_pattern_list")
	}
	if v, err := c2.VerifySuppressions(t0ctx(), l, SuppressVerifyOptions{}); err != nil || !v.OK || v.Rules != "" {
		t.Errorf("verify without the key: %+v, %v", v, err)
	}

	if _, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", SuppressPatternList: "/x"}}, db); err == nil || !strings.Contains(err.Error(), "suppress_vmta") {
		t.Errorf("suppress_pattern_list without suppress_vmta: %v", err)
	}
	if _, err := New(Config{PMTA: &PMTAConfig{Config: conf, Split: "none", SuppressPatternList: "/x", SuppressVMTA: "a b"}}, db); err == nil {
		t.Error("a VirtualMTA name with a space was accepted")
	}
}

// RCPT TO probes against PowerMTA would fail for the wrong reason (it
// accepts every recipient and discards later): an endpoint given for a
// pmta target is skipped, with the reason, and verify still passes.
func TestPMTASuppressVerifySkipsSMTP(t *testing.T) {
	c, _, db, _ := pmtaRulesEnv(t, 0)
	l := suppressLog(t, db, pmtaRuleAddrs...)
	if _, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	// Nothing listens here: a probe would fail the verification.
	v, err := c.VerifySuppressions(t0ctx(), l, SuppressVerifyOptions{SMTP: "127.0.0.1:1", SMTPProbes: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.SMTP != "" || !strings.Contains(v.SMTPSkipped, "PowerMTA") {
		t.Fatalf("verification %+v", v)
	}
}

// expectedGroup is the group the export must give its files on this host:
// name's gid when the group exists, else the MTA config file's group.
func expectedGroup(t *testing.T, name, conf string) int {
	t.Helper()
	if g, err := user.LookupGroup(name); err == nil {
		n, _ := strconv.Atoi(g.Gid)
		return n
	}
	fi, err := os.Stat(conf)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Gid)
}

func modeGroup(t *testing.T, p string) (os.FileMode, int) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm(), int(fi.Sys().(*syscall.Stat_t).Gid)
}

// Issue 13 point 12: the exported suppression files hold personal data:
// mode 0640 with the MTA's group, also when an earlier export left them
// world-readable with the same bytes, and a failed export's restore keeps
// them private; suppress_group picks the group.
func TestSuppressExportIsPrivate(t *testing.T) {
	c, fk, db, dir := pmtaRulesEnv(t, 0)
	l := suppressLog(t, db, "a@example.com", "b@example.org")
	conf := filepath.Join(dir, "pmta", "config")
	rules := filepath.Join(dir, "pmta", "cutover-suppressed.pattern")
	list := filepath.Join(dir, "pmta", "cutover-suppressed.txt")
	res, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil {
		t.Fatal(err)
	}
	gid := expectedGroup(t, "pmta", conf)
	for _, p := range []string{list, rules} {
		if m, g := modeGroup(t, p); m != 0o640 || g != gid {
			t.Errorf("%s: mode %04o group %d, want 0640 group %d", p, m, g, gid)
		}
	}
	// an export of an older cutover left the same bytes world-readable
	for _, p := range []string{list, rules} {
		os.Chmod(p, 0o644)
	}
	again, err := c.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test"))
	if err != nil || again.Unchanged {
		t.Fatalf("a world-readable map counted as unchanged: %+v %v", again, err)
	}
	for _, p := range []string{list, rules} {
		if m, _ := modeGroup(t, p); m != 0o640 {
			t.Errorf("%s: mode %04o after re-export", p, m)
		}
	}
	// a failed export restores the old bytes, still private
	os.Chmod(list, 0o644)
	before := mustRead(t, list)
	os.MkdirAll(filepath.Join(dir, "other"), 0o755)
	l2 := suppressLog(t, openDB(t, filepath.Join(dir, "other", "other.db")), "c@example.net")
	fk.failOn(t, "test", "error in line 1")
	if _, err := c.ExportSuppressions(t0ctx(), l2, SuppressExportOptions{}, CurrentWho("test")); err == nil {
		t.Fatal("export with a failing check succeeded")
	}
	if m, _ := modeGroup(t, list); m != 0o640 || mustRead(t, list) != before {
		t.Errorf("after the failed export: mode %04o, %q", m, mustRead(t, list))
	}
	fk.clear(t, "test")
	_ = res

	// suppress_group: a named group that does not exist is an error, a
	// numeric one is used as it is
	cfg := Config{PMTA: &PMTAConfig{Config: conf, Split: "none", Test: fk.argv("test", "config"), Reload: fk.argv("reload"), SuppressGroup: "no-such-group-h13"}}
	c2, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test")); err == nil || !strings.Contains(err.Error(), "suppress_group") {
		t.Fatalf("unknown suppress_group: %v", err)
	}
	other := os.Getegid() + 1
	cfg.PMTA.SuppressGroup = strconv.Itoa(other)
	c3, err := New(cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.ExportSuppressions(t0ctx(), l, SuppressExportOptions{}, CurrentWho("test")); err != nil {
		t.Fatal(err)
	}
	if m, g := modeGroup(t, list); m != 0o640 || g != other {
		t.Errorf("suppress_group %d: mode %04o group %d", other, m, g)
	}
}
