package cli

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest/dnsq/dnstest"
	"cutover/model/auth"
	"cutover/owner"
	"cutover/ui"
	"cutover/ui/attach"
)

// dnsLab serves the lab domain of ingest/dnsq's plan golden file and writes a
// config whose [dns] sends every query to it.
func dnsLab(t *testing.T) (cfg string, srv *dnstest.Server) {
	t.Helper()
	keyPath, _ := filepath.Abs("../ingest/dnsq/testdata/rsa2048.pem")
	oldKey, _ := filepath.Abs("../ingest/dnsq/testdata/rsa2048b.pem")
	rec := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		k, err := auth.LoadPrivateKey(b)
		if err != nil {
			t.Fatal(err)
		}
		r, err := auth.DKIMRecord(k.Public().(crypto.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		return `"` + r[:200] + `" "` + r[200:] + `"`
	}
	srv = dnstest.Start(t, `test. 3600 IN SOA ns1.test. hostmaster.test. 1 3600 600 86400 60
example.test. 3600 IN TXT "v=spf1 include:esp.test ~all"
esp.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
_dmarc.example.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"
s1._domainkey.example.test. 300 IN TXT `+rec(oldKey)+`
in-addr.arpa. 3600 IN SOA ns1.test. hm.test. 1 3600 600 86400 60
10.113.0.203.in-addr.arpa. 300 IN PTR mta1.example.test.
mta1.example.test. 300 IN A 203.0.113.10
`)
	dir := t.TempDir()
	cfg = filepath.Join(dir, "cutover.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[database]
path = "cutover.db"

[dns]
domains = ["example.test"]
mail_from = { old = "example.test" }
helo = { new = ["mta1.example.test"] }
new_ips = ["203.0.113.10"]
old_spf = ["include:esp.test"]
new_selector = "cut2026a"
new_dkim_key = %q
old_selectors = ["s1"]
ttl_low = "300s"
server = %q
`, keyPath, srv.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, srv
}

func runExit(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := cutoverCmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if ee != nil {
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func TestDNSCommands(t *testing.T) {
	cfg, srv := dnsLab(t)
	// plan: the same bytes as ingest/dnsq's golden file for this lab.
	out, errs, code := runExit(t, "dns", "plan", "--config", cfg)
	want, err := os.ReadFile("../ingest/dnsq/testdata/plan.text.golden")
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(want) {
		t.Fatalf("dns plan exit %d (%s):\n%s\nwant:\n%s", code, errs, out, want)
	}
	if _, _, code := runExit(t, "dns", "plan", "--config", cfg, "--format", "nsupdate"); code != 0 {
		t.Fatalf("nsupdate format: exit %d", code)
	}

	// check: NEW not in SPF and no selector → CRIT, exit 2; the JSON has the documented keys.
	out, errs, code = runExit(t, "dns", "check", "--config", cfg, "--json")
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("check JSON: %v\n%s\n%s", err, out, errs)
	}
	if code != 2 || rep["state"] != "CRIT" || rep["exit"] != 2.0 || rep["ratio_blocked"] != true {
		t.Fatalf("dns check exit %d: %v %v %v", code, rep["state"], rep["exit"], rep["ratio_blocked"])
	}
	// status shows the stored check and counts it.
	out, _, code = runExit(t, "status", "--config", cfg, "--json")
	var st struct {
		DNS *struct {
			State string `json:"state"`
		} `json:"dns"`
		ExitCode int      `json:"exit_code"`
		Reasons  []string `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if st.DNS == nil || st.DNS.State != "CRIT" || st.ExitCode != 2 || code != 2 || !strings.Contains(strings.Join(st.Reasons, "\n"), "CRIT: dns spf") {
		t.Fatalf("status: exit %d %+v", code, st)
	}

	// spf: the tree and NEW's evaluation; dkim: the missing selector is CRIT.
	out, _, code = runExit(t, "dns", "spf", "example.test", "--server", srv.Addr, "--ip", "203.0.113.10", "--ip", "198.51.100.7")
	if code != 0 || !strings.Contains(out, "lookups: 1 (RFC), 1 (strict, as checkdmarc counts)") ||
		!strings.Contains(out, "203.0.113.10") || !strings.Contains(out, "softfail") || !strings.Contains(out, "198.51.100.7                            pass") {
		t.Fatalf("dns spf exit %d:\n%s", code, out)
	}
	out, _, code = runExit(t, "dns", "dkim", "--domain", "example.test", "--selector", "s1", "--server", srv.Addr)
	if code != 0 || !strings.Contains(out, "DKIM OK") {
		t.Fatalf("dns dkim s1: exit %d\n%s", code, out)
	}
	key, _ := filepath.Abs("../ingest/dnsq/testdata/rsa2048.pem")
	out, _, code = runExit(t, "dns", "dkim", "--domain", "example.test", "--selector", "s1", "--key", key, "--server", srv.Addr)
	if code != 2 || !strings.Contains(out, "does not match") {
		t.Fatalf("dns dkim with another key: exit %d\n%s", code, out)
	}
	// ttl: one authoritative answer at 3600 s, not lowered yet.
	out, _, code = runExit(t, "dns", "ttl", "--config", cfg)
	if code != 0 || !strings.Contains(out, "example.test") || !strings.Contains(out, "3600") || !strings.Contains(out, "proposed") {
		t.Fatalf("dns ttl: exit %d\n%s", code, out)
	}
	// Usage errors of check are exit 3, like status.
	if _, _, code := runExit(t, "dns", "check"); code != 3 {
		t.Fatalf("dns check without --config: exit %d", code)
	}
	if _, _, code := runExit(t, "dns", "check", "--config", cfg, "--only", "spam"); code != 3 {
		t.Fatalf("--only spam: exit %d", code)
	}
}

// TestDNSOwnerRunnerAndViewer: the owner's runner checks [dns] and stores the
// report; a viewer attached over the socket gets it for its header word.
func TestDNSOwnerRunnerAndViewer(t *testing.T) {
	cfgPath, _ := dnsLab(t)
	cfg, err := owner.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	own, err := owner.Start(cfg, owner.Options{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = own.Run(ctx, 50*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done; own.Close() }()
	var src ui.DNSSource
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		cl, err := attach.Dial(ctx, attach.SocketPath(cfg.Database.Path), attach.ClientOptions{ReadOnly: true, Command: "test"})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if src = attachedDNS(cl); src != nil {
			if r := src(); r != nil && r.State != "" {
				break
			}
		}
	}
	if src == nil || src() == nil || src().State != "CRIT" {
		t.Fatalf("viewer's dns source: %v", src)
	}
}
