package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuppressExportVerifyPMTARules: with [mtactl.pmta]
// suppress_pattern_list, `suppress export` installs the injector list and
// the rule file and says so, `suppress verify` checks the rules and prints
// the address whose rule was removed by hand; `--format pmta` without a
// config still writes the plain list. true(1) stands in for pmta test
// config and pmta reload (PowerMTA is commercial).
func TestSuppressExportVerifyPMTARules(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cutover.db")
	pmtaConf := filepath.Join(dir, "pmta", "config")
	rules := filepath.Join(dir, "pmta", "cutover-suppressed.pattern")
	os.MkdirAll(filepath.Dir(pmtaConf), 0o755)
	writeT(t, pmtaConf, "include "+rules+"\n")
	cfg := filepath.Join(dir, "cutover.toml")
	writeT(t, cfg, "[database]\npath = \"cutover.db\"\n\n[mtactl.pmta]\nconfig = \""+pmtaConf+"\"\nsplit = \"none\"\ntest = [\"true\"]\nreload = [\"true\"]\n"+
		"suppress_pattern_list = \""+rules+"\"\nsuppress_vmta = \"blackhole\"\n")
	list := filepath.Join(dir, "list.txt")
	writeT(t, list, "a.b+c@example.com\nb@example.com\n")
	runCutover(t, "suppress", "import", "--db", db, "--provider", "list", "--type", "unsubscribe", list)

	out := string(runCutover(t, "suppress", "export", "--config", cfg, "--yes"))
	if !strings.Contains(out, "installed 2 addresses") || !strings.Contains(out, "2 rcpt-to rules in "+rules) {
		t.Fatalf("export: %s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "pmta", "cutover-suppressed.txt")); string(b) != "a.b+c@example.com\nb@example.com\n" {
		t.Errorf("injector list: %q", b)
	}
	if o := string(runCutover(t, "suppress", "verify", "--config", cfg)); !strings.Contains(o, "VERIFIED") || !strings.Contains(o, "2 rules; missing 0, extra 0") {
		t.Errorf("verify: %s", o)
	}
	b, _ := os.ReadFile(rules)
	rule := "rcpt-to /^a\\.b\\+c@example\\.com$/ virtual-mta=blackhole\n"
	if !strings.Contains(string(b), rule) {
		t.Fatalf("rule file:\n%s", b)
	}
	writeT(t, rules, strings.Replace(string(b), rule, "", 1))
	o, e := runCutoverFail(t, "suppress", "verify", "--config", cfg)
	if !strings.Contains(o, "    - a.b+c@example.com") || !strings.Contains(e, "have no rule") {
		t.Errorf("verify after a removed rule:\nstdout %s\nstderr %s", o, e)
	}

	if o := string(runCutover(t, "suppress", "export", "--db", db, "--format", "pmta")); o != "a.b+c@example.com\nb@example.com\n" {
		t.Errorf("--format pmta without a config: %q", o)
	}
}
