package owner

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"

	"cutover/model"
)

// deploy/alerts.yml passes `promtool check rules` and its unit tests
// (deploy/alerts_test.yml), and has one alert per default rule of
// model.DefaultAlertRules, with the same severity.
func TestDeployAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool missing (Debian prometheus; scripts/ci-deps.sh installs it)")
		}
		t.Skip("promtool not installed")
	}
	dir := filepath.Join("..", "deploy")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	re := regexp.MustCompile(`(?m)^\s+severity: (\w+)\n\s+rule: ([\w-]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		got[m[2]] = m[1]
	}
	var missing []string
	for _, r := range model.DefaultAlertRules() {
		if got[r.Name] != r.Severity.String() {
			missing = append(missing, r.Name+"="+r.Severity.String())
		}
		delete(got, r.Name)
	}
	sort.Strings(missing)
	if len(missing) > 0 || len(got) > 0 {
		t.Errorf("deploy/alerts.yml: default rules missing or with another severity %v; extra %v", missing, got)
	}
}
