//go:build realmta

package realmta

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func isPostfixSrc(src string) bool {
	return src == pfSrcDefault || src == pfSrcGmail || src == pfSrcYahoo
}
func isEximSrc(src string) bool { return src == exSrcDefault || src == exSrcGmail }

func sum[M ~map[string]V, V int | int64](m M) int64 {
	var n int64
	for _, v := range m {
		n += int64(v)
	}
	return n
}

func unionKeys[A, B any](a map[string]A, b map[string]B) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// checkReportsAgainstSink checks the harness itself: pflogsumm and
// eximstats agree with what the sink really accepted and with what the
// injector sent. If this fails, the reference is wrong, not cutover.
func checkReportsAgainstSink(t *testing.T, r *realRun) {
	pf, err := parsePflogsumm(r.pflogsumm)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := parseEximstats(r.exsum)
	if err != nil {
		t.Fatal(err)
	}
	sinkPF, sinkEX := r.sink.Accepted(isPostfixSrc), r.sink.Accepted(isEximSrc)

	// Postfix: pflogsumm "sent cnt" == recipients the sink accepted from Postfix
	for _, dom := range unionKeys(pf.Domains, sinkPF) {
		if int64(sinkPF[dom]) != pf.Domains[dom].Sent {
			t.Errorf("postfix %s: pflogsumm sent cnt %d, sink accepted %d", dom, pf.Domains[dom].Sent, sinkPF[dom])
		}
	}
	for dom, n := range r.pfIn.Deliver {
		if sinkPF[dom] != n {
			t.Errorf("postfix %s: injected %d deliverable recipients, sink accepted %d", dom, n, sinkPF[dom])
		}
	}
	if pf.Bounced != sum(r.pfIn.Bounce) {
		t.Errorf("postfix: pflogsumm bounced %d, injected %d bouncing recipients", pf.Bounced, sum(r.pfIn.Bounce))
	}
	if n := countLines(t, r.pf.Log, "status=expired, returned to sender"); n != r.pfIn.ExpireMsgs {
		t.Errorf("postfix: %d messages expired, want %d", n, r.pfIn.ExpireMsgs)
	}
	for dom := range r.pfIn.Expire {
		if pf.Domains[dom].Defers == 0 {
			t.Errorf("postfix %s: pflogsumm shows no defers", dom)
		}
	}
	if pf.Received != int64(r.pfIn.Messages) || pf.Rejected != int64(r.pfIn.Rejected) {
		t.Errorf("postfix: pflogsumm received %d rejected %d, injected %d rejected %d",
			pf.Received, pf.Rejected, r.pfIn.Messages, r.pfIn.Rejected)
	}

	// Exim: eximstats edomain "Addresses" == recipients the sink accepted from Exim
	for _, dom := range unionKeys(ex.ByEdomain, sinkEX) {
		if int64(sinkEX[dom]) != ex.ByEdomain[dom].Addresses {
			t.Errorf("exim %s: eximstats addresses %d, sink accepted %d", dom, ex.ByEdomain[dom].Addresses, sinkEX[dom])
		}
	}
	for dom, n := range r.exIn.Deliver {
		if sinkEX[dom] != n {
			t.Errorf("exim %s: injected %d deliverable recipients, sink accepted %d", dom, n, sinkEX[dom])
		}
	}
	errs := ex.ErrorsByDomain()
	for _, dom := range unionKeys(errs, r.exIn.Rcpts) {
		if want := int64(r.exIn.Bounce[dom] + r.exIn.Expire[dom]); errs[dom] != want {
			t.Errorf("exim %s: eximstats errors %d, injected %d bouncing/expiring recipients", dom, errs[dom], want)
		}
	}
	if ex.ErrorsTotal != sum(errs) {
		t.Errorf("exim: errors encountered %d, error list sums to %d", ex.ErrorsTotal, sum(errs))
	}
	if ex.DeliveredAddresses != sum(sinkEX) {
		t.Errorf("exim: eximstats delivered addresses %d, sink accepted %d", ex.DeliveredAddresses, sum(sinkEX))
	}
}

// statsRow mirrors the JSON contract of `cutover stats --json`.
type statsRow struct {
	Side, MTA, ISP, Domain                                  string
	Delivered, Deferred, Held, Bounced, Expired, Complaints int64
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env GOMOD: %v %s", err, out)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// buildCutover builds the real binary the way a user would.
func buildCutover(t *testing.T, dir string) string {
	t.Helper()
	root := moduleRoot(t)
	if _, err := os.Stat(filepath.Join(root, "main.go")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no cutover command to test: %v", err)
		}
		t.Skip("the cutover command (main.go) is not in this tree")
	}
	bin := filepath.Join(dir, "cutover")
	cmd := exec.Command("go", "build", "-o", bin, "cutover")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -o %s cutover: %v\n%s", bin, err, out)
	}
	return bin
}

func cutoverCmd(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cutover %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	t.Logf("cutover %s\n%s%s", strings.Join(args, " "), firstLines(string(out), 4), stderr.String())
	return out
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		return strings.Join(lines[:n], "") + "...\n"
	}
	return s
}

// backfillStats runs cutover backfill on one log into a fresh database and
// returns `cutover stats --json --by domain` summed per domain.
func backfillStats(t *testing.T, bin, db, kind, side, log string) map[string]statsRow {
	t.Helper()
	cutoverCmd(t, bin, "backfill", "--db", db, "--kind", kind, "--side", side, log)
	out := cutoverCmd(t, bin, "stats", "--db", db, "--json", "--by", "domain")
	os.WriteFile(db+".stats.json", out, 0o644)
	var rows []statsRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("cutover stats --json: %v\n%s", err, out)
	}
	if len(rows) == 0 {
		t.Fatalf("cutover stats --json --by domain printed no rows for %s", log)
	}
	byDom := map[string]statsRow{}
	for _, row := range rows {
		if row.Side != side || row.MTA != kind {
			t.Errorf("row %+v: want side %q mta %q", row, side, kind)
		}
		d := byDom[row.Domain]
		d.Side, d.MTA, d.ISP, d.Domain = row.Side, row.MTA, row.ISP, row.Domain
		d.Delivered += row.Delivered
		d.Deferred += row.Deferred
		d.Held += row.Held
		d.Bounced += row.Bounced
		d.Expired += row.Expired
		d.Complaints += row.Complaints
		byDom[row.Domain] = d
	}
	return byDom
}

// checkCutover is the acceptance test proper: cutover's counts from the
// real logs equal pflogsumm's and eximstats' domain by domain.
func checkCutover(t *testing.T, r *realRun) {
	pf, err := parsePflogsumm(r.pflogsumm)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := parseEximstats(r.exsum)
	if err != nil {
		t.Fatal(err)
	}
	bin := buildCutover(t, r.base)

	t.Run("postfix-vs-pflogsumm", func(t *testing.T) {
		c := backfillStats(t, bin, filepath.Join(r.base, "old.db"), "postfix", "old", r.pf.Log)
		var tot statsRow
		for _, dom := range unionKeys(c, pf.Domains) {
			got, want := c[dom], pf.Domains[dom]
			if got.Delivered != want.Sent {
				t.Errorf("%s: cutover delivered %d, pflogsumm sent cnt %d", dom, got.Delivered, want.Sent)
			}
			if got.Deferred+got.Held != want.Defers {
				t.Errorf("%s: cutover deferred+held %d+%d, pflogsumm defers %d", dom, got.Deferred, got.Held, want.Defers)
			}
			if got.Bounced != int64(r.pfIn.Bounce[dom]) {
				t.Errorf("%s: cutover bounced %d, injected %d bouncing recipients", dom, got.Bounced, r.pfIn.Bounce[dom])
			}
			// pflogsumm does not count expiry; the injector knows it
			if got.Expired != int64(r.pfIn.Expire[dom]) {
				t.Errorf("%s: cutover expired %d, injected %d expiring recipients", dom, got.Expired, r.pfIn.Expire[dom])
			}
			tot.Delivered += got.Delivered
			tot.Deferred += got.Deferred
			tot.Held += got.Held
			tot.Bounced += got.Bounced
			tot.Expired += got.Expired
		}
		if tot.Delivered != pf.Delivered {
			t.Errorf("total: cutover delivered %d, pflogsumm delivered %d", tot.Delivered, pf.Delivered)
		}
		if tot.Deferred+tot.Held != pf.Deferrals {
			t.Errorf("total: cutover deferred+held %d, pflogsumm deferrals %d", tot.Deferred+tot.Held, pf.Deferrals)
		}
		if tot.Bounced != pf.Bounced {
			t.Errorf("total: cutover bounced %d, pflogsumm bounced %d", tot.Bounced, pf.Bounced)
		}
		if n := int64(countLines(t, r.pf.Log, "status=deferred (delivery temporarily suspended")); tot.Held != n {
			t.Errorf("total: cutover held %d, \"delivery temporarily suspended\" lines %d", tot.Held, n)
		}
		t.Logf("postfix totals: cutover %+v; pflogsumm delivered %d deferrals %d bounced %d",
			tot, pf.Delivered, pf.Deferrals, pf.Bounced)
	})

	t.Run("exim-vs-eximstats", func(t *testing.T) {
		c := backfillStats(t, bin, filepath.Join(r.base, "new.db"), "exim", "new", r.ex.Log)
		errs := ex.ErrorsByDomain()
		log := string(mustRead(t, r.ex.Log))
		defers, held, timeouts := exRawCounts(log)
		var tot statsRow
		for _, dom := range unionKeys(c, ex.ByEdomain) {
			got := c[dom]
			if got.Delivered != ex.ByEdomain[dom].Addresses {
				t.Errorf("%s: cutover delivered %d, eximstats addresses %d", dom, got.Delivered, ex.ByEdomain[dom].Addresses)
			}
			if got.Bounced+got.Expired != errs[dom] {
				t.Errorf("%s: cutover bounced+expired %d+%d, eximstats errors %d", dom, got.Bounced, got.Expired, errs[dom])
			}
			// eximstats has no per-line deferral count: these two are
			// checked against plain counts of the log's == lines
			if got.Deferred+got.Held != int64(defers[dom]) {
				t.Errorf("%s: cutover deferred+held %d+%d, == lines %d", dom, got.Deferred, got.Held, defers[dom])
			}
			if got.Held != int64(held[dom]) {
				t.Errorf("%s: cutover held %d, \"== ... retry time not reached\" lines %d", dom, got.Held, held[dom])
			}
			if got.Expired != int64(timeouts[dom]) {
				t.Errorf("%s: cutover expired %d, \"** ... retry timeout exceeded\" lines %d", dom, got.Expired, timeouts[dom])
			}
			tot.Delivered += got.Delivered
			tot.Deferred += got.Deferred
			tot.Held += got.Held
			tot.Bounced += got.Bounced
			tot.Expired += got.Expired
		}
		if tot.Delivered != ex.DeliveredAddresses {
			t.Errorf("total: cutover delivered %d, eximstats delivered addresses %d", tot.Delivered, ex.DeliveredAddresses)
		}
		if tot.Bounced+tot.Expired != ex.ErrorsTotal {
			t.Errorf("total: cutover bounced+expired %d, eximstats errors encountered %d", tot.Bounced+tot.Expired, ex.ErrorsTotal)
		}
		t.Logf("exim totals: cutover %+v; eximstats delivered addresses %d errors %d",
			tot, ex.DeliveredAddresses, ex.ErrorsTotal)
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exRawCounts counts, per recipient domain, the == lines, the == lines
// saying "retry time not reached", and the ** lines saying "retry timeout
// exceeded" or "have been failing for a long time" (CONTRACTS.md: those are
// deferred, held and expired).
func exRawCounts(log string) (defers, held, timeouts map[string]int) {
	defers, held, timeouts = map[string]int{}, map[string]int{}, map[string]int{}
	for line := range strings.SplitSeq(log, "\n") {
		f := strings.SplitN(line, " ", 6)
		if len(f) < 5 {
			continue
		}
		dom := domainOf(f[4])
		switch f[3] {
		case "==":
			defers[dom]++
			if strings.Contains(line, "retry time not reached") {
				held[dom]++
			}
		case "**":
			if strings.Contains(line, "retry timeout exceeded") || strings.Contains(line, "have been failing for a long time") {
				timeouts[dom]++
			}
		}
	}
	return
}
