package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/state"
	"cutover/ui/report/reporttest"
)

// wave2 §8.5: every per-provider number of the weekly report for the
// fixture week equals `cutover stats --json --since … --until …` summed
// over MTAs, exactly; same database, week and --now give the same bytes.
func TestReportWeeklyEqualsStats(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "cutover.db")
	d, err := state.Open(dbPath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Write(t, d)
	d.Close()
	cfg := filepath.Join(dir, "cutover.toml")
	os.WriteFile(cfg, []byte("[database]\npath = \"cutover.db\"\n[monitor]\ntimezone = \"UTC\"\nstart = \"2026-01-05\"\n"), 0o600)

	args := []string{"report", "weekly", "--config", cfg, "--week", reporttest.Week, "--format", "json", "--now", "2026-01-19T07:00:00Z"}
	code, out, errs := runIn(t, "", args...)
	if code != 0 {
		t.Fatalf("report: %d %s", code, errs)
	}
	var raw struct {
		Providers []map[string]json.RawMessage `json:"providers"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	// The real command, as a process (stats prints to the process's stdout).
	sout := runCutover(t, "stats", "--db", dbPath, "--json", "--since", "2026-01-12T00:00:00Z", "--until", "2026-01-19T00:00:00Z")
	var rows []map[string]any
	if err := json.Unmarshal(sout, &rows); err != nil {
		t.Fatal(err)
	}
	fields := []string{"delivered", "deferred", "held", "bounced", "hard_bounced", "expired", "complaints", "total"}
	want := map[string]map[string]uint64{} // side/isp → field → sum
	for _, r := range rows {
		k := r["side"].(string) + "/" + r["isp"].(string)
		if want[k] == nil {
			want[k] = map[string]uint64{}
		}
		for _, f := range fields {
			want[k][f] += uint64(r[f].(float64))
		}
	}
	if len(raw.Providers) != 3 {
		t.Fatalf("%d providers in the report", len(raw.Providers))
	}
	checked := 0
	for _, p := range raw.Providers {
		var isp string
		json.Unmarshal(p["isp"], &isp)
		for _, side := range []string{"old", "new"} {
			var got map[string]uint64
			var sideRaw map[string]json.RawMessage
			json.Unmarshal(p[side], &sideRaw)
			got = map[string]uint64{}
			for _, f := range fields {
				var v uint64
				json.Unmarshal(sideRaw[f], &v)
				got[f] = v
			}
			w := want[side+"/"+isp]
			for _, f := range fields {
				if got[f] != w[f] {
					t.Errorf("%s %s %s: report %d, stats %d", isp, side, f, got[f], w[f])
				}
				checked++
			}
			if w["total"] == 0 {
				t.Errorf("%s %s: stats has nothing", isp, side)
			}
		}
	}
	if checked != 3*2*len(fields) {
		t.Errorf("checked %d numbers", checked)
	}
	// Deterministic, and --out writes the same bytes.
	_, again, _ := runIn(t, "", args...)
	if again != out {
		t.Error("two runs differ")
	}
	outFile := filepath.Join(dir, "w03.html")
	if code, _, errs := runIn(t, "", "report", "weekly", "--config", cfg, "--week", reporttest.Week, "--format", "html", "--out", outFile, "--now", "2026-01-19T07:00:00Z"); code != 0 {
		t.Fatalf("--out: %d %s", code, errs)
	}
	_, stdout, _ := runIn(t, "", "report", "weekly", "--config", cfg, "--week", reporttest.Week, "--format", "html", "--now", "2026-01-19T07:00:00Z")
	b, err := os.ReadFile(outFile)
	if err != nil || !bytes.Equal(b, []byte(stdout)) || !strings.Contains(stdout, "<svg") {
		t.Errorf("--out file differs from stdout (%v)", err)
	}
	// A symlink planted at the output path is replaced, never written through.
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	link := filepath.Join(dir, "planted.md")
	os.Symlink(victim, link)
	if code, _, errs := runIn(t, "", "report", "weekly", "--config", cfg, "--week", reporttest.Week, "--out", link); code != 0 {
		t.Fatalf("--out over a symlink: %d %s", code, errs)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Error("report written through a planted symlink")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		t.Errorf("output path %v %v", fi, err)
	}
	if code, _, errs := runIn(t, "", "report", "weekly", "--config", cfg, "--week", "2026-W3"); code != 1 || !strings.Contains(errs, "want YYYY-Www") {
		t.Errorf("bad week: %d %q", code, errs)
	}
	code, md, _ := runIn(t, "", "report", "daily", "--config", cfg, "--day", "2026-01-14", "--now", "2026-01-19T07:00:00Z")
	if code != 0 || !strings.Contains(md, "# Daily deliverability report 2026-01-14") || !strings.Contains(md, "2026-01-14 google deferral") {
		t.Errorf("daily: %d\n%s", code, md)
	}
}
