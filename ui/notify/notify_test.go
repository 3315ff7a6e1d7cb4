package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/model"
)

func sample() Message {
	return Message{Kind: "firing", ID: "7", Rule: "complaint-crit", Severity: "crit", ISP: "google", Side: "new", State: "firing",
		Value: 0.004, Threshold: 0.003, Window: "24h", FiredAt: time.Date(2026, 3, 10, 9, 1, 0, 0, time.UTC),
		DueBy: time.Date(2026, 3, 10, 13, 1, 0, 0, time.UTC), Summary: "google NEW complaint 0.40 % $(touch /tmp/x) `id`\nBcc: evil@x"}
}

// The webhook body has exactly the keys docs/CONTRACTS.md documents.
func TestWebhookBody(t *testing.T) {
	var got []map[string]any
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Error(err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer srv.Close()
	if err := (Webhook{URL: srv.URL}).Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d posts", len(got))
	}
	want := []string{"kind", "id", "rule", "severity", "isp", "side", "state", "value", "threshold", "window", "fired_at", "due_by", "summary"}
	for _, k := range want {
		if _, ok := got[0][k]; !ok {
			t.Errorf("key %s missing: %v", k, got[0])
		}
	}
	if len(got[0]) != len(want) { // url omitted when empty
		t.Errorf("keys %v", got[0])
	}
	if got[0]["fired_at"] != "2026-03-10T09:01:00Z" || got[0]["value"] != 0.004 || got[0]["id"] != "7" {
		t.Errorf("body %v", got[0])
	}
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 503) }))
	defer fail.Close()
	if err := (Webhook{URL: fail.URL}).Send(context.Background(), sample()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503 not reported: %v", err)
	}
}

// sink is a minimal in-process SMTP server (RFC 5321 happy path) that keeps
// what it received.
type sink struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	from string
	to   []string
	data string
}

func newSink(t *testing.T) *sink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(l string) { io.WriteString(c, l+"\r\n") }
	say("220 sink ESMTP")
	var m sinkMsg
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-sink")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = sinkMsg{from: strings.Fields(line[10:])[0]}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = append(m.to, strings.TrimSpace(line[8:]))
			say("250 ok")
		case cmd == "DATA":
			say("354 go")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func TestSMTPDeliversTheFields(t *testing.T) {
	sk := newSink(t)
	s := SMTP{Via: sk.ln.Addr().String(), From: "cutover@ops.example", To: []string{"oncall@customer.example"},
		Now: func() time.Time { return time.Date(2026, 3, 10, 9, 1, 0, 0, time.UTC) }}
	if err := s.Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if len(sk.msgs) != 1 {
		t.Fatalf("%d messages", len(sk.msgs))
	}
	m := sk.msgs[0]
	if m.from != "<cutover@ops.example>" || len(m.to) != 1 || m.to[0] != "<oncall@customer.example>" {
		t.Errorf("envelope %q %q", m.from, m.to)
	}
	head, body, ok := strings.Cut(m.data, "\r\n\r\n")
	if !ok {
		t.Fatalf("no header/body split: %q", m.data)
	}
	if !strings.Contains(head, "Subject: [cutover] CRIT firing complaint-crit google new\r\n") {
		t.Errorf("header %q", head)
	}
	if strings.Contains(head, "Bcc:") || strings.Contains(body, "\nBcc:") {
		t.Errorf("summary's newline made a line: %q", m.data)
	}
	for _, f := range []string{"id: 7", "rule: complaint-crit", "severity: crit", "isp: google", "side: new", "value: 0.004",
		"threshold: 0.003", "window: 24h", "fired_at: 2026-03-10T09:01:00Z", "due_by: 2026-03-10T13:01:00Z", "summary: google NEW"} {
		if !strings.Contains(body, "\r\n"+f) && !strings.HasPrefix(body, f) {
			t.Errorf("body lacks %q:\n%s", f, body)
		}
	}
}

// Exec: placeholders are replaced inside single argv elements; shell
// syntax in a value stays text because no shell runs.
func TestExecArgvNoShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	// A tiny program that writes its argv, one per line: the test binary's
	// own helper mode (no shell involved in cutover's call).
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := Exec{Argv: []string{exe, "-test.run=TestHelperArgs", "--", out, "{severity}", "{summary}", "sev={severity} isp={isp}"}}
	t.Setenv("NOTIFY_HELPER", "1")
	if err := e.Send(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	json.Unmarshal(b, &got)
	want := []string{"crit", sample().Summary, "sev=crit isp=google"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("argv %q, want %q", got, want)
	}
	if _, err := os.Stat("/tmp/x"); err == nil {
		t.Log("note: /tmp/x exists (not created by this test's exec: no shell ran)")
	}
	if err := (Exec{Argv: []string{filepath.Join(dir, "missing")}}).Send(context.Background(), sample()); err == nil {
		t.Error("missing program not reported")
	}
}

func TestHelperArgs(t *testing.T) {
	if os.Getenv("NOTIFY_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	var stdin map[string]any
	json.NewDecoder(os.Stdin).Decode(&stdin)
	if stdin["rule"] != "complaint-crit" {
		os.Exit(3)
	}
	b, _ := json.Marshal(args[1:])
	os.WriteFile(args[0], b, 0o600)
	os.Exit(0)
}

type rec struct {
	mu  sync.Mutex
	got []string
}

func (r *rec) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m.Kind+"/"+m.Severity)
	return nil
}

func TestRouting(t *testing.T) {
	all, crit, esc := &rec{}, &rec{}, &rec{}
	chans := []Channel{{Name: "all", Sender: all}, {Name: "crit", MinSeverity: model.SevCrit, Sender: crit}, {Name: "esc", Escalation: true, Sender: esc}}
	for _, m := range []Message{{Kind: "firing", Severity: "warn"}, {Kind: "firing", Severity: "crit"}, {Kind: "escalation", Severity: "crit"},
		{Kind: "resolved", Severity: "crit"}, {Kind: "test"}, {Kind: "report"}} {
		Deliver(context.Background(), chans, m)
	}
	eq := func(name string, r *rec, want string) {
		if g := strings.Join(r.got, " "); g != want {
			t.Errorf("%s got %q, want %q", name, g, want)
		}
	}
	eq("all", all, "firing/warn firing/crit resolved/crit test/ report/")
	eq("crit", crit, "firing/crit resolved/crit test/ report/")
	eq("esc", esc, "escalation/crit test/")
}
