//go:build realmta

package mtactl

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
)

// mtactlEximConf is this package's own -C config path, listed in
// /etc/exim4/trusted_configs so the daemon keeps root on re-exec; it is not
// ingest/realmta's path, so the two packages' tests can run at once.
var mtactlEximConf = filepath.Join(realmtatest.Dir, "mtactl-exim.conf")

// requireRealMTA skips without the real MTAs, except under CI=true
// (realmtatest.Require); it lists mtactlEximConf as trusted.
func requireRealMTA(t *testing.T) {
	t.Helper()
	realmtatest.Require(t, []string{"/usr/sbin/postfix", "/usr/sbin/postconf", "/usr/sbin/postmap", realmtatest.EximBin}, trustEximConf)
}

// trustEximConf lists mtactlEximConf in Exim's TRUSTED_CONFIG_LIST (the
// install script lists ingest/realmta's path only); without it Exim drops
// root on every re-exec of a -C config.
func trustEximConf() error {
	const list = "/etc/exim4/trusted_configs"
	b, err := os.ReadFile(list)
	if err != nil {
		return fmt.Errorf("%s: %v", list, err)
	}
	if bytes.Contains(b, []byte(mtactlEximConf+"\n")) {
		return nil
	}
	f, err := os.OpenFile(list, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s: %v", list, err)
	}
	defer f.Close()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		f.WriteString("\n")
	}
	_, err = f.WriteString(mtactlEximConf + "\n")
	return err
}

// newBase is a run's directory (realmtatest.NewBase).
func newBase(t *testing.T, name string) string {
	return realmtatest.NewBase(t, "cutover-mtactl-"+name+"-")
}

// runStart runs a command that leaves a daemon behind; failing fails t.
func runStart(t *testing.T, outFile, name string, args ...string) {
	t.Helper()
	if err := realmtatest.RunStart(t, outFile, name, args...); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------- sink

// sink is an SMTP server on several loopback addresses (one per next hop:
// Postfix and Exim key throttles and retry state by next hop) that accepts
// everything and records which address received which recipient.
type sink struct {
	Port int
	mu   sync.Mutex
	got  map[string][]string // listening address -> recipients delivered
	lns  []net.Listener
}

func startSink(t *testing.T, addrs ...string) *sink {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		s := &sink{Port: realmtatest.FreePort(t), got: map[string][]string{}}
		ok := true
		for _, a := range addrs {
			ln, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", a, s.Port))
			if err != nil {
				ok = false
				break
			}
			s.lns = append(s.lns, ln)
		}
		if !ok {
			for _, ln := range s.lns {
				ln.Close()
			}
			continue
		}
		for _, ln := range s.lns {
			go s.serve(ln)
		}
		t.Cleanup(func() {
			for _, ln := range s.lns {
				ln.Close()
			}
		})
		return s
	}
	t.Fatal("no free port for the sink on every address")
	return nil
}

func (s *sink) serve(ln net.Listener) {
	ip := ln.Addr().(*net.TCPAddr).IP.String()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.handle(c, ip)
	}
}

func (s *sink) handle(c net.Conn, ip string) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	say := func(l string) { w.WriteString(l + "\r\n"); w.Flush() }
	say("220 sink.test ESMTP")
	var rcpts []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		up := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(up, "EHLO"):
			say("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000")
		case strings.HasPrefix(up, "HELO"):
			say("250 sink.test")
		case strings.HasPrefix(up, "MAIL FROM:"):
			rcpts = nil
			say("250 2.1.0 Ok")
		case strings.HasPrefix(up, "RCPT TO:"):
			a := strings.Trim(strings.Fields(cmd[8:])[0], "<>")
			rcpts = append(rcpts, strings.ToLower(a))
			say("250 2.1.5 Ok")
		case up == "DATA":
			say("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
			}
			s.mu.Lock()
			s.got[ip] = append(s.got[ip], rcpts...)
			s.mu.Unlock()
			rcpts = nil
			say("250 2.0.0 Ok: queued")
		case up == "RSET":
			rcpts = nil
			say("250 2.0.0 Ok")
		case up == "NOOP":
			say("250 2.0.0 Ok")
		case up == "QUIT":
			say("221 2.0.0 Bye")
			return
		default:
			say("502 5.5.2 not implemented")
		}
	}
}

// take returns and clears what arrived, by address.
func (s *sink) take() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.got
	s.got = map[string][]string{}
	return g
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.got {
		n += len(v)
	}
	return n
}

// waitTotal waits until n recipients arrived and returns them.
func (s *sink) waitTotal(t *testing.T, n int, within time.Duration) map[string][]string {
	t.Helper()
	deadline := time.Now().Add(within)
	for s.total() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d recipients reached the sink after %s", s.total(), n, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // nothing extra may follow
	got := s.take()
	if c := count(got); c != n {
		t.Fatalf("sink got %d recipients, want %d", c, n)
	}
	return got
}

func count(m map[string][]string) int {
	n := 0
	for _, v := range m {
		n += len(v)
	}
	return n
}

// ---------------------------------------------------------------- traffic

var trafficDomains = []string{"gmail.com", "googlemail.com", "yahoo.com", "ok.example", "example.net", "ok.example", "example.org", "gmail.com", "yahoo.com", "ok.example"}

// inject sends n one-recipient messages over SMTP (10 per connection); the
// recipients are distinct, so a sticky split is still a fair sample.
func inject(t *testing.T, addr, tag string, n int) {
	t.Helper()
	var c *smtp.Client
	for i := 0; i < n; i++ {
		if c == nil {
			var err error
			if c, err = smtp.Dial(addr); err != nil {
				t.Fatalf("inject: %v", err)
			}
			if err := c.Hello("client.test"); err != nil {
				t.Fatal(err)
			}
		}
		rcpt := fmt.Sprintf("%s%04d@%s", tag, i, trafficDomains[i%len(trafficDomains)])
		if err := c.Mail("news@sender.example"); err != nil {
			t.Fatalf("MAIL: %v", err)
		}
		if err := c.Rcpt(rcpt); err != nil {
			t.Fatalf("RCPT %s: %v", rcpt, err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "From: news@sender.example\r\nTo: %s\r\nSubject: %s %d\r\n\r\nbody\r\n", rcpt, tag, i)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			c.Quit()
			c = nil
		}
	}
	if c != nil {
		c.Quit()
	}
}

// checkShare asserts that got of n is within 4 binomial standard deviations
// of the expected share p (false-failure odds ~6e-5).
func checkShare(t *testing.T, what string, got, n int, p float64) {
	t.Helper()
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	t.Logf("%s: %d of %d to NEW (%.1f%%), expected %.0f ± %.1f (4σ)", what, got, n, 100*float64(got)/float64(n), mean, 4*sd)
	if math.Abs(float64(got)-mean) > 4*sd {
		t.Errorf("%s: %d of %d to NEW is outside %.0f ± %.1f", what, got, n, mean, 4*sd)
	}
}

const absent = "\x00(absent)"

// fileSet reads files to compare before/after.
func fileSet(t *testing.T, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		out[p] = readOrAbsent(t, p)
	}
	return out
}

func sameFiles(t *testing.T, what string, want map[string]string) {
	t.Helper()
	for p, w := range want {
		if got := readOrAbsent(t, p); got != w {
			t.Errorf("%s: %s is not byte-identical:\n%s", what, p, unifiedDiff(p, []byte(w), []byte(got)))
		}
	}
}

func readOrAbsent(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return absent
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
