package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cutover/mtactl"
	"cutover/owner"
)

// completions asks cobra's hidden __complete command, as the shell scripts
// do, and returns the values (descriptions cut off).
func completions(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errs := runIn(t, "", append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %v: exit %d %s", args, code, errs)
	}
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, ":") || l == "" { // the directive line
			continue
		}
		v, _, _ := strings.Cut(l, "\t")
		vals = append(vals, v)
	}
	return vals
}

func TestDynamicCompletion(t *testing.T) {
	e := newMtaEnv(t, "")
	// Providers: the config's [mtactl.providers] keys.
	if got := completions(t, "ratio", "set", "30", "--config", e.cfg, "--isp", ""); strings.Join(got, " ") != "google yahoo" {
		t.Errorf("--isp completes %v, want the config's google yahoo", got)
	}
	if got := completions(t, "throttle", "set", "--config", e.cfg, ""); strings.Join(got, " ") != "google yahoo" {
		t.Errorf("throttle set ISP completes %v", got)
	}
	// Change ids: the audit log's, newest first, as mtactl reads them.
	for _, args := range [][]string{{"ratio", "set", "30", "--yes"}, {"ratio", "set", "50", "--yes"}} {
		if _, err := e.run(t, "", false, args...); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := owner.LoadConfig(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db, err := owner.OpenDB(cfg.Database.Path, false, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mtactl.New(*cfg.Mtactl, db)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := c.History()
	db.Close()
	if err != nil || len(hist) < 2 {
		t.Fatalf("history %v %v", hist, err)
	}
	var want []string
	for i := len(hist) - 1; i >= 0; i-- {
		want = append(want, hist[i].ID)
	}
	if got := completions(t, "rollback", "--config", e.cfg, "--to", ""); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rollback --to completes %v, want %v", got, want)
	}
	// Without a config there is nothing to offer, and no error.
	if got := completions(t, "rollback", "--to", ""); len(got) != 0 {
		t.Errorf("rollback --to without --config: %v", got)
	}
	// Kinds and sides.
	if got := completions(t, "backfill", "--kind", ""); strings.Join(got, " ") != "pmta postfix exim" {
		t.Errorf("--kind: %v", got)
	}
	if got := completions(t, "backfill", "--side", ""); strings.Join(got, " ") != "old new" {
		t.Errorf("--side: %v", got)
	}
	if got := completions(t, "bounces", "watch", "--side", ""); strings.Join(got, " ") != "old new" {
		t.Errorf("bounces watch --side: %v", got)
	}
	// Subcommands.
	if got := completions(t, "suppress", "ver"); strings.Join(got, " ") != "verify verify-log" {
		t.Errorf("suppress ver: %v", got)
	}
}

// TestBashCompletionScript: bash loads the script and registers it for
// cutover; the script calls the binary's __complete for the values.
func TestBashCompletionScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("no bash")
	}
	code, script, errs := runIn(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(script, "__complete") {
		t.Fatalf("exit %d %s", code, errs)
	}
	path := filepath.Join(t.TempDir(), "cutover.bash")
	os.WriteFile(path, []byte(script), 0o644)
	out, err := exec.Command(bash, "-c", "source "+path+" && complete -p cutover").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cutover") {
		t.Errorf("bash: %v %s", err, out)
	}
	for _, sh := range []string{"zsh", "fish"} {
		if code, out, _ := runIn(t, "", "completion", sh); code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d", sh, code)
		}
	}
}
