package bounce

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Issue 13 points 2 and 3 for the report parser: nesting, part counts and
// header sizes an attacker picks must not recurse without bound or take
// memory or time out of proportion; Parse answers (a report or an error).
func TestHostileMIME(t *testing.T) {
	deepMultipart := func(n int) string {
		var b strings.Builder
		b.WriteString("From: MAILER-DAEMON@example.com\r\nSubject: Undelivered Mail\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\nx\r\n")
		return b.String()
	}
	deepRFC822 := "From: MAILER-DAEMON@example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n" +
		strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 20_000) + "Subject: x\r\n\r\nbody\r\n--B--\r\n"
	var many strings.Builder
	many.WriteString("From: MAILER-DAEMON@example.com\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n")
	for i := 0; i < 50_000; i++ {
		many.WriteString("--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\nStatus: 5.1.1\r\n")
	}
	many.WriteString("--B--\r\n")
	hugeHeader := "From: MAILER-DAEMON@example.com\r\nSubject: " + strings.Repeat("=?utf-8?b?QUFB?= ", 100_000) + "\r\n" +
		strings.Repeat("X-Folded: a\r\n b\r\n", 20_000) + "\r\nbody\r\n"
	for name, msg := range map[string]string{
		"multipart 20k deep": deepMultipart(20_000),
		"rfc822 20k deep":    deepRFC822,
		"50k parts":          many.String(),
		"huge headers":       hugeHeader,
	} {
		start := time.Now()
		r, err := Parse([]byte(msg), ParseOptions{})
		if r == nil && err == nil {
			t.Fatalf("%s: neither a report nor an error", name)
		}
		t.Logf("%s (%d bytes): %v in %s", name, len(msg), err, time.Since(start).Round(time.Millisecond))
		if r != nil && len(r.Recipients) > maxParts {
			t.Fatalf("%s: %d recipients from one message", name, len(r.Recipients))
		}
	}
}
