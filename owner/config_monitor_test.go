package owner

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cutover/model"
)

// The example's monitoring block, uncommented, is a valid config.
func TestMonitorExampleParses(t *testing.T) {
	ex := string(ExampleConfig)
	i := strings.Index(ex, "# [monitor]")
	if i < 0 {
		t.Fatal("example has no [monitor]")
	}
	block := regexp.MustCompile(`(?m)^# ?`).ReplaceAllString(ex[i:], "")
	// Keep key lines and headers only (the prose lines are not TOML).
	var keep []string
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, "[") || strings.Contains(l, " = ") {
			keep = append(keep, l)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "c.toml")
	os.WriteFile(p, []byte("[database]\npath = \"x.db\"\n"+strings.Join(keep, "\n")+"\n"), 0o600)
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Monitor()
	if err != nil {
		t.Fatal(err)
	}
	if m.Zone.String() != "Europe/Berlin" || m.AckSLA != 4*time.Hour || m.EscalateAfter != 2*time.Hour || m.WeeklyDay != time.Monday || m.WeeklyAt != 7*60 {
		t.Errorf("monitor %+v", m)
	}
	if len(m.Channels) != 4 || !m.Channels[3].Escalation || m.Channels[1].MinSeverity != model.SevCrit {
		t.Errorf("channels %+v", m.Channels)
	}
	if m.ReportsDir != filepath.Join(dir, "reports") {
		t.Errorf("reports dir %s", m.ReportsDir)
	}
	due := m.Hours.DueBy(time.Date(2026, 3, 13, 17, 0, 0, 0, m.Zone), m.AckSLA) // Fri 17:00 → Mon 11:00 Berlin
	if due.Format("Mon 15:04") != "Mon 11:00" {
		t.Errorf("due %s", due)
	}
}

func TestMonitorConfigErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[monitor]\ntimezone = \"Mars/Base\"", "[monitor] timezone"},
		{"[monitor]\nack_sla = \"soon\"", "ack_sla \"soon\""},
		{"[monitor]\noperating_hours = \"Mon-Fri 8-18\"", "operating_hours"},
		{"[monitor]\nweekly_report = \"Someday 07:00\"", "weekly_report"},
		{"[[notify]]\nkind = \"pager\"", "[[notify]] #1: kind \"pager\""},
		{"[[notify]]\nkind = \"webhook\"\nurl = \"file:///etc/passwd\"", "url"},
		{"[[notify]]\nkind = \"exec\"\nargv = [\"page\"]", "absolute program path"},
		{"[[notify]]\nkind = \"smtp\"\nvia = \"127.0.0.1\"\nto = [\"a@b\"]", "via"},
		{"[[notify]]\nkind = \"webhook\"\nurl = \"http://x/\"\nmin_severity = \"loud\"", "min_severity"},
		{"[[alert.rule]]\nname = \"complaint-crit\"\nwindow = \"a day\"", "[[alert.rule]] #1 complaint-crit: window"},
	} {
		p := filepath.Join(t.TempDir(), "c.toml")
		os.WriteFile(p, []byte("[database]\npath = \"x.db\"\n"+c.body+"\n"), 0o600)
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: err %v, want %q with the file", c.body, err, c.want)
		}
	}
}
