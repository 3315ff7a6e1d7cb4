package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/model/audittest"
)

var updateAudit = flag.Bool("update-audit", false, "rewrite testdata/audit_report.md")

func auditJSON(t *testing.T, args ...string) model.AuditReport {
	t.Helper()
	var r model.AuditReport
	out := runCutover(t, append([]string{"audit", "report", "--format", "json"}, args...)...)
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

func provider(t *testing.T, r model.AuditReport, isp string) model.AuditProvider {
	t.Helper()
	for _, p := range r.Providers {
		if p.ISP == isp {
			return p
		}
	}
	t.Fatalf("no provider %s in %+v", isp, r.Providers)
	return model.AuditProvider{}
}

// The wave2 §4.6 fixture as Mailgun hourly metrics: the figures of the
// reference, exactly.
func TestAuditMailgunFixture(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	export := filepath.Join(dir, "metrics.json")
	f, _ := os.Create(export)
	if err := audittest.WriteMailgunHourly(f, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := runCutover(t, "audit", "import", "--db", db, "--provider", "mailgun", export)
	if !bytes.Contains(out, []byte("2688 rows: 2688 added")) || !bytes.Contains(out, []byte(`unknown provider "Seznam" → other (672 rows)`)) {
		t.Errorf("first import: %s", out)
	}
	out = runCutover(t, "audit", "import", "--db", db, "--provider", "mailgun", export)
	if !bytes.Contains(out, []byte("0 added, 0 replaced, 2688 unchanged (file imported before)")) {
		t.Errorf("second import: %s", out)
	}

	// The JSON has the keys docs/CONTRACTS.md documents (wave2 §4.4).
	raw := runCutover(t, "audit", "report", "--db", db, "--format", "json", "--new-ips", "2", "--warmup-day", "5")
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"window", "attempts", "providers", "reputation", "gaps", "sources", "recommend", "unknown_providers"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("report JSON lacks %q", k)
		}
	}
	p0 := doc["providers"].([]any)[0].(map[string]any)
	for _, k := range []string{"isp", "share", "daily_mean", "p50_hour", "p95_hour", "peak_hour", "peak_at", "peak_when", "hour_of_week", "weekly", "trend", "pools", "basis_hourly", "per_step"} {
		if _, ok := p0[k]; !ok {
			t.Errorf("provider JSON lacks %q", k)
		}
	}
	if hw, _ := p0["hour_of_week"].([]any); len(hw) != 168 {
		t.Errorf("hour_of_week has %d cells", len(hw))
	}
	s5 := p0["per_step"].(map[string]any)["5"].(map[string]any)
	for _, k := range []string{"per_hour", "connections", "per_connection", "per_hour_capped_by", "warmup_day"} {
		if _, ok := s5[k]; !ok {
			t.Errorf("per_step JSON lacks %q", k)
		}
	}
	if tr := p0["trend"].(map[string]any)["deferral"].(map[string]any); tr["flag"] == nil || tr["slope_pt_per_week"] == nil {
		t.Errorf("trend JSON %v", tr)
	}

	r := auditJSON(t, "--db", db, "--new-ips", "2", "--warmup-day", "5")
	g := provider(t, r, "google")
	if g.Attempts != 2_900_000 || g.Peak != 30000 || g.PeakWhen != "Wed 10:00" || !g.PeakAt.Equal(audittest.Blast) || g.P95 != 10000 || g.P50 != 2000 || g.Share != 0.5899 {
		t.Errorf("google %+v", g.HourProfile)
	}
	if r.Window.Hours != 672 || !r.Window.Since.Equal(audittest.Start) || len(r.Gaps) != 0 {
		t.Errorf("window %+v gaps %v", r.Window, r.Gaps)
	}
	for isp, want := range map[string]int{"google": 600, "microsoft": 240, "yahoo": 120} {
		if s := provider(t, r, isp).PerStep["5"]; s.PerHour != want || s.PerHourBy != model.CapHistory {
			t.Errorf("%s step 5 day 5: %+v, want %d/h by history", isp, s, want)
		}
	}
	y := provider(t, r, "yahoo").Trend["deferral"]
	if y.Flag != "rising" || y.First != 2 || y.Last != 8 || y.SlopePtPerWeek != 2 {
		t.Errorf("yahoo deferral %+v", y)
	}
	if r.Unknown["mailgun: Seznam"] != 672 {
		t.Errorf("unknown %v", r.Unknown)
	}
	d1 := provider(t, auditJSON(t, "--db", db, "--new-ips", "2", "--warmup-day", "1"), "google").PerStep["5"]
	if d1.PerHour != 50 || d1.PerHourBy != model.CapWarmup || d1.Connections != 5 || d1.PerConnection != 50 {
		t.Errorf("day 1: %+v", d1)
	}
	d8 := provider(t, auditJSON(t, "--db", db, "--new-ips", "2", "--warmup-day", "8"), "google").PerStep["15"]
	if d8.PerHour != 1800 || d8.PerHourBy != model.CapHistory {
		t.Errorf("step 15 day 8: %+v", d8)
	}
	w := provider(t, auditJSON(t, "--db", db, "--new-ips", "2", "--warm"), "google").PerStep["100"]
	if w.PerHour != 12000 {
		t.Errorf("step 100: %+v", w)
	}
	pk := provider(t, auditJSON(t, "--db", db, "--new-ips", "2", "--warmup-day", "5", "--basis", "peak"), "google").PerStep["5"]
	if pk.PerHour != 1250 || pk.PerHourBy != model.CapWarmup {
		t.Errorf("basis peak: %+v", pk)
	}

	// recommend --json and --emit toml
	var rec []recommendRow
	if err := json.Unmarshal(runCutover(t, "audit", "recommend", "--db", db, "--json", "--new-ips", "2", "--warmup-day", "5", "--steps", "5"), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec) != 4 || rec[0].ISP != "google" || rec[0].PerHour != 600 || rec[0].Basis != 10000 {
		t.Errorf("recommend %+v", rec)
	}
	toml := string(runCutover(t, "audit", "recommend", "--db", db, "--emit", "toml", "--new-ips", "2", "--warmup-day", "5"))
	if !strings.Contains(toml, "[mtactl.throttle]\nbasis = \"p95\"\nmargin = 1.2\nnew_ips = 2\n") || !strings.Contains(toml, "# google: basis 10000/h; at 5 %: per_hour 600 (history)") {
		t.Errorf("toml:\n%s", toml)
	}

	// md golden with a fixed --now; html self-contained
	md := runCutover(t, "audit", "report", "--db", db, "--new-ips", "2", "--warmup-day", "5", "--now", "2026-02-02T08:00:00Z")
	golden := filepath.Join("testdata", "audit_report.md")
	if *updateAudit {
		os.WriteFile(golden, md, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil || !bytes.Equal(md, want) {
		t.Errorf("md differs from %s (go test ./cli -run TestAuditMailgunFixture -update-audit):\n%s", golden, md)
	}
	htmlPath := filepath.Join(dir, "audit.html")
	runCutover(t, "audit", "report", "--db", db, "--format", "html", "--out", htmlPath, "--now", "2026-02-02T08:00:00Z")
	html, _ := os.ReadFile(htmlPath)
	if !bytes.HasPrefix(html, []byte("<!DOCTYPE html>")) || !bytes.Contains(html, []byte("Wed 10:00")) {
		t.Errorf("html: %.200s", html)
	}
	for _, ext := range []string{"http:", "https:", "//", "<script", "<link", "src="} {
		if bytes.Contains(html, []byte(ext)) {
			t.Errorf("html holds %q: not self-contained", ext)
		}
	}
}

// A gap day is exit 1 with the report still written; a bad flag is exit 2.
func TestAuditExitCodes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	csv := filepath.Join(dir, "s.csv")
	os.WriteFile(csv, []byte("date,provider,delivered\n2026-01-05,Gmail,10\n2026-01-07,Gmail,10\n"), 0o600)
	runCutover(t, "audit", "import", "--db", db, "--provider", "csv", csv)
	cmd := cutoverCmd("audit", "report", "--db", db, "--since", "3d", "--format", "json")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var ee *exec.ExitError
	if !errorsAs(err, &ee) || ee.ExitCode() != 1 || !bytes.Contains(out.Bytes(), []byte(`"2026-01-06"`)) {
		t.Errorf("gap: %v\n%s", err, out.String())
	}
	// Suppression totals come from the canonical log next to the database.
	list := filepath.Join(dir, "unsub.txt")
	os.WriteFile(list, []byte("a@example.com\nb@example.com\nA@example.com\n"), 0o600)
	runCutover(t, "suppress", "import", "--db", db, "--provider", "list", "--type", "unsubscribe", list)
	cmd = cutoverCmd("audit", "report", "--db", db, "--since", "3d", "--format", "json")
	out.Reset()
	cmd.Stdout = &out
	cmd.Run()
	var rep model.AuditReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Suppression["addresses"] != 2 || rep.Suppression["type unsubscribe"] != 2 {
		t.Errorf("suppression %v %v", rep.Suppression, err)
	}
	cmd = cutoverCmd("audit", "report", "--db", db, "--basis", "median")
	if err := cmd.Run(); !errorsAs(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("bad basis: %v", err)
	}
	cmd = cutoverCmd("audit", "report", "--db", filepath.Join(dir, "none.db"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); !errorsAs(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "cutover audit: database") {
		t.Errorf("missing database: %v %s", err, stderr.String())
	}
	cmd = cutoverCmd("audit", "import", "--db", db, "--provider", "csv", filepath.Join(dir, "missing.csv"))
	if err := cmd.Run(); !errorsAs(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("missing file: %v", err)
	}
}

// The same fixture at 1/100 as PowerMTA accounting, backfilled through the
// real parser: same shares and trend flags, percentiles at 1/100, pools
// flagged; the hour-of-week table sums to `cutover stats` over the window.
func TestAuditPMTABackfill(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.db")
	acct := filepath.Join(dir, "acct-2026-01-05-0000.csv")
	f, _ := os.Create(acct)
	if err := audittest.WritePMTA(f, 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	runCutover(t, "backfill", "--quiet", "--db", db, "--kind", "pmta", "--side", "old", "--mta", "pmta-old", acct)
	r := auditJSON(t, "--db", db, "--new-ips", "2", "--warmup-day", "5")
	full := audittest.Hourly(1)
	var tot uint64
	for _, s := range full {
		for _, x := range s {
			tot += x.Attempts()
		}
	}
	g := provider(t, r, "google")
	if g.Share != model.Share(2_900_000, tot) || g.P50 != 20 || g.P95 != 100 || g.Peak != 300 || g.PeakWhen != "Wed 10:00" {
		t.Errorf("google at 1/100: share %v %+v", g.Share, g.HourProfile)
	}
	for _, isp := range []string{"microsoft", "yahoo"} {
		p := provider(t, r, isp)
		fp := model.ProfileOf(audittest.Start, audittest.Attempts(full[isp]))
		if p.P50*100 != fp.P50 || p.P95*100 != fp.P95 || p.Peak*100 != fp.Peak {
			t.Errorf("%s: %+v, want %+v / 100", isp, p.HourProfile, fp)
		}
		var n uint64
		for _, x := range full[isp] {
			n += x.Attempts()
		}
		if p.Share != model.Share(n, tot) {
			t.Errorf("%s share %v", isp, p.Share)
		}
		// the rule, not the output: ceil(p95 × 5 % × 1.2) against the day-5 cap for 2 IPs
		want := int(math.Ceil(float64(p.P95) * 0.05 * 1.2))
		if c := model.WarmupHourly(5, 2); c < want {
			want = c
		}
		if s := p.PerStep["5"]; s.PerHour != want {
			t.Errorf("%s step 5: %+v, want %d", isp, s, want)
		}
	}
	y := provider(t, r, "yahoo")
	if tr := y.Trend["deferral"]; tr.Flag != "rising" || math.Abs(tr.SlopePtPerWeek-2) > 0.02 || math.Round(tr.First) != 2 || math.Round(tr.Last) != 8 {
		t.Errorf("yahoo deferral at 1/100: %+v", tr)
	}
	flagged := false
	for _, p := range y.Pools {
		if p.Dim == "ip" && p.Value == audittest.IPBad && p.Flagged {
			flagged = true
		}
	}
	if !flagged {
		t.Errorf("yahoo pools %+v: %s not flagged", y.Pools, audittest.IPBad)
	}
	// hour-of-week sums == cutover stats over the same window
	var rows []statsRow
	out := runCutover(t, "stats", "--db", db, "--json", "--by", "isp", "--since", r.Window.Since.Format(time.RFC3339), "--until", r.Window.Until.Format(time.RFC3339))
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		p := provider(t, r, row.ISP)
		var sum uint64
		for _, v := range p.HourOfWeek {
			sum += v
		}
		if att := row.Delivered + row.Deferred + row.Bounced + row.Expired; sum != att || sum != p.Attempts {
			t.Errorf("%s: hour-of-week sum %d, stats attempts %d", row.ISP, sum, att)
		}
	}
	if len(rows) != 4 {
		t.Errorf("stats rows %+v", rows)
	}
}

// While serve owns the database, audit report runs in the owner (same
// output and exit code), and an attached cockpit's A view gets the owner's
// audit.
func TestAuditWhileServeRuns(t *testing.T) {
	dir := t.TempDir()
	ctlFile := filepath.Join(dir, "mta", "control.json")
	os.MkdirAll(filepath.Dir(ctlFile), 0o755)
	e := newEnv(t, fmt.Sprintf(mtactlDemo, ctlFile))
	e.appendDeliveries(t, 50, 10, 1)
	startServe(t, e)
	waitDelivered(t, e, 45)
	out, errOut, code := runAs(t, nil, "audit", "report", "--db", e.db, "--format", "json", "--since", "1h")
	var r model.AuditReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Attempts != 50 {
		t.Fatalf("audit report through the owner: exit %d attempts %d\n%s%s", code, r.Attempts, out, errOut)
	}
	// a gap is exit 1 there too, the report written to --out here
	md := filepath.Join(dir, "audit.md")
	_, errOut, code = runAs(t, nil, "audit", "report", "--db", e.db, "--since", "3d", "--out", md)
	if b, _ := os.ReadFile(md); code != 1 || !bytes.Contains(b, []byte("days without data")) {
		t.Fatalf("gaps through the owner: exit %d\n%s\n%s", code, b, errOut)
	}
	if _, _, code := runAs(t, nil, "audit", "report", "--db", e.db, "--format", "pdf"); code != 2 {
		t.Errorf("bad --format: exit %d", code)
	}
	_, err := openDB(e.db, false, true)
	cl, err := attachOwner(e.db, true, "ui", err)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rep, err := attachedAudit(cl)()
	if err != nil || rep.Attempts != 50 || rep.Recommend.Steps[0] != 5 {
		t.Fatalf("attached audit: %+v %v", rep, err)
	}
}
