package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"os/exec"
	"strings"
	"time"
)

// DefaultTimeout bounds one send.
const DefaultTimeout = 10 * time.Second

// Webhook POSTs the message as JSON.
type Webhook struct {
	URL     string
	Timeout time.Duration
	Client  *http.Client // nil: a client with Timeout
}

func (w Webhook) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	to := w.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cutover-monitor")
	c := w.Client
	if c == nil {
		c = &http.Client{}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: HTTP %s", w.URL, resp.Status)
	}
	return nil
}

// SMTP mails the message through a relay (the local MTA or a smarthost;
// never one of NEW's cold IPs unless configured so). STARTTLS is used when
// the relay offers it (net/smtp does so itself).
type SMTP struct {
	Via     string // host:port
	From    string
	To      []string
	HELO    string
	Timeout time.Duration
	Now     func() time.Time // Date header; nil: time.Now
}

func (s SMTP) Send(ctx context.Context, m Message) error {
	if len(s.To) == 0 {
		return errors.New("smtp: no recipients")
	}
	to := s.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	d := net.Dialer{Timeout: to}
	conn, err := d.DialContext(ctx, "tcp", s.Via)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(to))
	host, _, _ := net.SplitHostPort(s.Via)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if s.HELO != "" {
		if err := c.Hello(s.HELO); err != nil {
			return err
		}
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !isLoopback(host) {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			return err
		}
	}
	if err := c.Mail(s.From); err != nil {
		return err
	}
	for _, r := range s.To {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(s.render(m)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// render builds the RFC 5322 message: the fields as "name: value" lines in
// the body, the subject Q-encoded when it is not ASCII.
func (s SMTP) render(m Message) []byte {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	var id [12]byte
	rand.Read(id[:])
	dom := "cutover.invalid"
	if at := strings.LastIndexByte(s.From, '@'); at >= 0 {
		dom = s.From[at+1:]
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", s.From)
	hdr("To", strings.Join(s.To, ", "))
	hdr("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject())))
	hdr("Date", now().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+dom+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "8bit")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	for _, f := range m.fields() {
		fmt.Fprintf(&b, "%s: %s\r\n", f[0], oneLine(f[1]))
	}
	return b.Bytes()
}

// oneLine keeps untrusted text (reply samples in summaries) from adding
// header or body lines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Exec runs argv with {placeholders} replaced (no shell: each argument is
// one argv element whatever it contains) and the JSON message on stdin.
type Exec struct {
	Argv    []string
	Timeout time.Duration
}

// Placeholders are the names Exec replaces, as {name}.
var Placeholders = []string{"kind", "id", "rule", "severity", "isp", "side", "state", "value", "threshold", "window", "fired_at", "due_by", "summary", "url"}

func (e Exec) Send(ctx context.Context, m Message) error {
	if len(e.Argv) == 0 {
		return errors.New("exec: empty argv")
	}
	pairs := make([]string, 0, 28)
	for _, f := range m.fields() {
		pairs = append(pairs, "{"+f[0]+"}", f[1])
	}
	rep := strings.NewReplacer(pairs...)
	args := make([]string, len(e.Argv))
	for i, a := range e.Argv {
		args[i] = rep.Replace(a)
	}
	to := e.Timeout
	if to <= 0 {
		to = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	body, _ := json.Marshal(m)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(oneLine(out.String()))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return fmt.Errorf("%s: %v: %s", args[0], err, msg)
		}
		return fmt.Errorf("%s: %v", args[0], err)
	}
	return nil
}
