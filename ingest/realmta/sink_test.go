package realmta

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sinkVerdict is the sink's answer to one RCPT TO, chosen from the address:
// a domain containing "defer" gets 421 4.7.0 and the connection is closed,
// "grey" gets 451 4.7.1, "bounce" or a local part starting with "nouser" gets
// 550 5.1.1, anything else 250.
func sinkVerdict(rcpt string) (reply string, closeConn bool) {
	addr := strings.ToLower(strings.Trim(rcpt, "<>"))
	local, dom, _ := strings.Cut(addr, "@")
	switch {
	case strings.Contains(dom, "defer"):
		return "421 4.7.0 Try again later, closing connection. (sink)", true
	case strings.Contains(dom, "grey"):
		return "451 4.7.1 Greylisted, please try again later (sink)", false
	case strings.Contains(dom, "bounce") || strings.HasPrefix(local, "nouser"):
		return fmt.Sprintf("550 5.1.1 <%s>: Recipient address rejected: User unknown (sink)", addr), false
	}
	return "250 2.1.5 Ok", false
}

// sinkKey groups what the sink saw: the client's source IP, the sink address
// it connected to, and the recipient domain.
type sinkKey struct {
	Src, Dst, Domain string
}

// sink is an SMTP server listening on one port of several loopback
// addresses, one per simulated remote site, so that Postfix and Exim keep
// per-destination state (throttling, dead hosts, retry records) apart.
type sink struct {
	Port  int
	Addrs []string

	lns  []net.Listener
	wg   sync.WaitGroup
	seq  atomic.Int64
	mu   sync.Mutex
	acc  map[sinkKey]int // recipients of messages accepted after DATA
	rcpt map[sinkKey]map[string]int
	srcs map[string]map[string]bool // dst -> src IPs seen
	errs []error
}

// startSink listens on port (0: pick one that is free on every address).
func startSink(t testing.TB, addrs []string) *sink {
	t.Helper()
	s := &sink{Addrs: addrs, acc: map[sinkKey]int{}, rcpt: map[sinkKey]map[string]int{}, srcs: map[string]map[string]bool{}}
	var err error
	for try := 0; try < 20; try++ {
		if err = s.listenAll(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("sink: %v", err)
	}
	for _, ln := range s.lns {
		s.wg.Go(func() { s.serve(ln) })
	}
	t.Cleanup(s.Close)
	return s
}

func (s *sink) listenAll() error {
	first, err := net.Listen("tcp4", net.JoinHostPort(s.Addrs[0], "0"))
	if err != nil {
		return err
	}
	port := first.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{first}
	for _, a := range s.Addrs[1:] {
		ln, err := net.Listen("tcp4", net.JoinHostPort(a, fmt.Sprint(port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	s.Port, s.lns = port, lns
	return nil
}

// Close stops listening and waits for the sessions to end.
func (s *sink) Close() {
	for _, ln := range s.lns {
		ln.Close()
	}
	s.wg.Wait()
}

func (s *sink) serve(ln net.Listener) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Go(func() { s.session(c) })
	}
}

func hostOf(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func (s *sink) session(c net.Conn) {
	defer c.Close()
	src, dst := hostOf(c.RemoteAddr()), hostOf(c.LocalAddr())
	s.mu.Lock()
	if s.srcs[dst] == nil {
		s.srcs[dst] = map[string]bool{}
	}
	s.srcs[dst][src] = true
	s.mu.Unlock()

	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	out := func(line string) bool {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		w.WriteString(line + "\r\n")
		return w.Flush() == nil
	}
	if !out("220 sink.test ESMTP cutover test sink") {
		return
	}
	var rcpts []string
	for {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		up := strings.ToUpper(cmd)
		switch {
		case strings.HasPrefix(up, "EHLO"):
			out("250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 10240000")
		case strings.HasPrefix(up, "HELO"):
			out("250 sink.test")
		case strings.HasPrefix(up, "MAIL FROM:"):
			rcpts = rcpts[:0]
			out("250 2.1.0 Ok")
		case strings.HasPrefix(up, "RCPT TO:"):
			arg := strings.TrimSpace(cmd[len("RCPT TO:"):])
			if i := strings.IndexByte(arg, ' '); i >= 0 {
				arg = arg[:i] // drop ESMTP parameters
			}
			addr := strings.ToLower(strings.Trim(arg, "<>"))
			reply, closeConn := sinkVerdict(addr)
			s.noteRcpt(src, dst, addr, reply[:3])
			out(reply)
			if closeConn {
				return
			}
			if strings.HasPrefix(reply, "250") {
				rcpts = append(rcpts, addr)
			}
		case up == "DATA":
			if len(rcpts) == 0 {
				out("554 5.5.1 Error: no valid recipients")
				continue
			}
			out("354 End data with <CR><LF>.<CR><LF>")
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Minute))
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
			}
			s.mu.Lock()
			for _, a := range rcpts {
				_, dom, _ := strings.Cut(a, "@")
				s.acc[sinkKey{src, dst, dom}]++
			}
			s.mu.Unlock()
			rcpts = rcpts[:0]
			out(fmt.Sprintf("250 2.0.0 Ok: queued as SINK%06d", s.seq.Add(1)))
		case up == "RSET":
			rcpts = rcpts[:0]
			out("250 2.0.0 Ok")
		case up == "NOOP":
			out("250 2.0.0 Ok")
		case up == "QUIT":
			out("221 2.0.0 Bye")
			return
		default:
			out("502 5.5.2 Error: command not recognized")
		}
	}
}

func (s *sink) noteRcpt(src, dst, addr, code string) {
	_, dom, _ := strings.Cut(addr, "@")
	k := sinkKey{src, dst, dom}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rcpt[k] == nil {
		s.rcpt[k] = map[string]int{}
	}
	s.rcpt[k][code]++
}

// Accepted returns, per recipient domain, the recipients of messages the
// sink accepted (250 after DATA) from clients whose source IP passes keep.
func (s *sink) Accepted(keep func(src string) bool) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for k, n := range s.acc {
		if keep(k.Src) {
			m[k.Domain] += n
		}
	}
	return m
}

// Sources returns the client source IPs seen on sink address dst.
func (s *sink) Sources(dst string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for src := range s.srcs[dst] {
		out = append(out, src)
	}
	return out
}

// RcptReplies returns the count of RCPT replies by code for a domain, from
// clients whose source IP passes keep.
func (s *sink) RcptReplies(domain string, keep func(src string) bool) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for k, codes := range s.rcpt {
		if k.Domain == domain && keep(k.Src) {
			for c, n := range codes {
				m[c] += n
			}
		}
	}
	return m
}

func TestSinkVerdict(t *testing.T) {
	for _, tc := range []struct {
		rcpt, code string
		close      bool
	}{
		{"alice@gmail.com", "250", false},
		{"<Erin@Defer.Example>", "421", true},
		{"frank@grey.example", "451", false},
		{"gina@bounce.example", "550", false},
		{"NoUser7@gmail.com", "550", false},
		{"user@ok.example", "250", false},
	} {
		reply, cl := sinkVerdict(tc.rcpt)
		if reply[:3] != tc.code || cl != tc.close {
			t.Errorf("sinkVerdict(%q) = %q, %v; want %s, %v", tc.rcpt, reply, cl, tc.code, tc.close)
		}
	}
}

// TestSinkSession drives the sink with net/smtp on 127.0.0.1 (works
// everywhere, no root, no MTA).
func TestSinkSession(t *testing.T) {
	s := startSink(t, []string{"127.0.0.1"})
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port)
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@sender.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("ok1@ok.example"); err != nil {
		t.Fatal(err)
	}
	var te *textproto.Error
	if err := c.Rcpt("x@grey.example"); !errors.As(err, &te) || te.Code != 451 {
		t.Fatalf("grey: %v", err)
	}
	if err := c.Rcpt("nouser1@ok.example"); !errors.As(err, &te) || te.Code != 550 {
		t.Fatalf("nouser: %v", err)
	}
	if err := c.Rcpt("ok2@ok.example"); err != nil {
		t.Fatal(err)
	}
	wc, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(wc, "Subject: t\r\n\r\nhello\r\n")
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@sender.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("x@defer.example"); !errors.As(err, &te) || te.Code != 421 {
		t.Fatalf("defer: %v", err)
	}
	c.Close()
	if got := s.Accepted(func(string) bool { return true }); got["ok.example"] != 2 || len(got) != 1 {
		t.Fatalf("accepted = %v", got)
	}
	if got := s.RcptReplies("ok.example", func(string) bool { return true }); got["250"] != 2 || got["550"] != 1 {
		t.Fatalf("replies = %v", got)
	}
	if got := s.Sources("127.0.0.1"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Fatalf("sources = %v", got)
	}
}
