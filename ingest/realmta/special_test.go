//go:build realmta

package realmta

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/ingest/realmta/realmtatest"
	"cutover/model"
	"cutover/state"
)

// TestEximSpecialTargets runs a real Exim whose aliases deliver to a pipe
// that fails (the command does not exist), to :blackhole:, to a file and
// through an Exim filter's autoreply, and takes a quoted local part holding
// '@'. Exim logs the target first ("|/nonexistent/bin/tickets",
// ":blackhole:", ">news@local.example") and the recipient in <...>. A
// backfill of its main log must key every outcome by a host name, and the
// per-domain counts must equal what was sent (the injection is the
// independent count: each alias has one documented outcome).
func TestEximSpecialTargets(t *testing.T) {
	requireRealMTA(t)
	base := realmtatest.NewBase(t, "cutover-h12-exim-")
	dir := filepath.Join(base, "ex")
	spool, logDir, mail := filepath.Join(dir, "spool"), filepath.Join(dir, "log"), filepath.Join(dir, "mail")
	for _, d := range []string{spool, logDir, mail} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	realmtatest.Run(t, "chown", "Debian-exim:Debian-exim", spool, logDir)
	realmtatest.Run(t, "chown", "nobody:nogroup", mail)
	aliases := filepath.Join(dir, "aliases")
	mustWrite(t, aliases, `tickets: |/nonexistent/bin/tickets
dropped: :blackhole:
ann: `+filepath.Join(mail, "ann")+`
news: :blackhole:
`)
	port := realmtatest.FreePort(t)
	pidFile := filepath.Join(dir, "exim.pid")
	unlock := lockEximConf(t)
	t.Cleanup(unlock)
	conf := fmt.Sprintf(`# written by cutover ingest/realmta TestEximSpecialTargets
primary_hostname = new-mta.localdomain
exim_path = %[1]s
spool_directory = %[2]s
log_file_path = %[3]s/%%slog
pid_file_path = %[4]s
daemon_smtp_ports = %[5]d
local_interfaces = 127.0.0.1
disable_ipv6 = true
tls_advertise_hosts =
keep_environment =
host_lookup =
never_users = root
domainlist local_domains = local.example
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
log_selector = +smtp_confirmation +queue_time +deliver_time +received_recipients

begin acl
acl_check_rcpt:
  accept  hosts   = +relay_from_hosts
  deny    message = relay not permitted

begin routers
vacation:
  driver = redirect
  domains = +local_domains
  local_parts = away
  data = "#Exim filter\nmail to news@local.example subject Away text \"I am away.\"\nseen finish"
  allow_filter
  # the autoreply is submitted by a re-exec of exim: as exim's own user
  user = Debian-exim
  group = Debian-exim
  reply_transport = address_reply
aliases:
  driver = redirect
  domains = +local_domains
  data = ${lookup{$local_part}lsearch{%[6]s}}
  allow_filter
  allow_fail
  allow_defer
  user = nobody
  group = nogroup
  pipe_transport = address_pipe
  file_transport = address_file
  reply_transport = address_reply

begin transports
address_pipe:
  driver = pipe
  return_fail_output
address_file:
  driver = appendfile
  delivery_date_add
  envelope_to_add
  return_path_add
address_reply:
  driver = autoreply

begin retry
*   *   F,2m,10s
`, eximBin, spool, logDir, pidFile, port, aliases)
	if err := os.WriteFile(eximConf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "exim.conf"), []byte(conf), 0o644)
	realmtatest.Run(t, eximBin, "-C", eximConf, "-bV")
	if err := realmtatest.RunStart(t, filepath.Join(dir, "exim-bd.out"), eximBin, "-C", eximConf, "-bd", "-q5s"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 1 {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	realmtatest.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", port), 20*time.Second)

	// Each round: one message to every alias and one to a quoted local
	// part that holds '@' (no such alias: unrouteable).
	const rounds = 6
	rcpts := []string{"tickets@local.example", "dropped@local.example", "ann@local.example", "away@local.example", `"abc@def"@local.example`}
	c, err := smtp.Dial(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rounds; i++ {
		if i > 0 {
			// Exim queues rather than delivers after 10 messages on one
			// connection: a new one per round.
			c.Quit()
			if c, err = smtp.Dial(fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range rcpts {
			if err := c.Mail("news@local.example"); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt(r); err != nil {
				t.Fatalf("RCPT %s: %v", r, err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(w, "From: news@local.example\r\nTo: %s\r\nSubject: round %d\r\n\r\nhello\r\n", r, i)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Quit()

	// What must come of it (Exim spec: a pipe that cannot exec fails the
	// address; :blackhole: and a file deliver; a filter's "mail" sends an
	// autoreply, "seen finish" ends the delivery; an unknown local part is
	// unrouteable), and the bounces and autoreplies go to news@, a
	// blackhole: per round 3 delivered aliases + 1 autoreply + 2 bounces
	// delivered to news@, 2 failed.
	wantDelivered, wantBounced := int64(6*rounds), int64(2*rounds)
	logPath := filepath.Join(logDir, "mainlog")
	waitFor(t, "exim to finish", 2*time.Minute, 500*time.Millisecond, func() (bool, string) {
		b, _ := os.ReadFile(logPath)
		s := string(b)
		d := strings.Count(s, " => ") + strings.Count(s, " -> ")
		f := strings.Count(s, " ** ")
		return int64(d) >= wantDelivered && int64(f) >= wantBounced, fmt.Sprintf("%d delivered, %d failed", d, f)
	})
	time.Sleep(time.Second) // let the last lines land
	log := string(mustRead(t, logPath))
	for _, want := range []string{"** |/nonexistent/bin/tickets <tickets@local.example>", "=> :blackhole: <dropped@local.example>",
		"=> >news@local.example <away@local.example>", `<"abc@def"@local.example>: Unrouteable address`, "<ann@local.example> R=aliases T=address_file"} {
		if !strings.Contains(log, want) {
			t.Errorf("main log has no %q:\n%s", want, log)
		}
	}

	// Backfill through the real pipeline.
	db, err := state.Open(filepath.Join(base, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "exim-new", Kind: "exim", Side: model.SideNew, MTA: "exim",
		Globs: []string{logPath}, Parser: exim.New(exim.Options{Location: time.UTC})}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	pl.Close()
	rows, err := db.Stats(state.Query{By: "domain"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]state.Counts{}
	for _, r := range rows {
		for i := 0; i < len(r.Domain); i++ {
			if c := r.Domain[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				t.Errorf("domain key %q is not a host name", r.Domain)
				break
			}
		}
		cn := got[r.Domain]
		cn.Add(r.Counts)
		got[r.Domain] = cn
	}
	// No deferral either: every alias has a final outcome at once.
	if lc := got["local.example"]; lc.Deferred != 0 || lc.Held != 0 {
		t.Errorf("deferred %d, held %d: the log has deferrals\n%s", lc.Deferred, lc.Held, log)
	}
	if len(got) != 1 {
		t.Errorf("domain keys %v, want only local.example", keys(got))
	}
	lc := got["local.example"]
	if int64(lc.Delivered) != wantDelivered || int64(lc.Bounced) != wantBounced || lc.HardBounce != uint64(rounds) {
		t.Errorf("local.example: %+v, want %d delivered, %d bounced of which %d hard (the unrouteable quoted address; the failed pipe is not a dead mailbox)",
			lc, wantDelivered, wantBounced, rounds)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
