package bounce

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cutover/model"
)

// FuzzParse feeds arbitrary bytes (seeded with the corpus) to Parse: it
// must not panic, and whatever it returns must be safe to act on: addresses
// in normal form, hard only for failed mailbox-invalid verdicts outside
// X.7, canonical events the log accepts.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/corpus", "testdata/malformed"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822;a@b.example\nAction: failed\nStatus: 5.1.1\n--x--"))
	f.Add([]byte("Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nOriginal-Rcpt-To: a@b.example\n--b"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := Parse(raw, ParseOptions{})
		if r == nil {
			if err == nil {
				t.Fatal("nil report without error")
			}
			return
		}
		for _, rc := range r.Recipients {
			if n, _, e := model.NormalizeAddress(rc.Addr); e != nil || n != rc.Addr {
				t.Fatalf("recipient %q not in normal form", rc.Addr)
			}
			if rc.Hard() && (!rc.Verdict.Kind.MailboxInvalid() || rc.Verdict.Temporary) {
				t.Fatalf("hard %+v", rc)
			}
		}
		for _, e := range r.Suppressions("fuzz sha256:00") {
			if !e.Type.Valid() || e.Source == "" || e.Scope == "" || e.Addr == "" {
				t.Fatalf("bad event %+v", e)
			}
			if !e.TS.IsZero() && (e.TS.Year() < 1 || e.TS.Year() > 9999) {
				t.Fatalf("ts %v", e.TS)
			}
		}
		for _, e := range r.ComplaintEvents(time.Unix(0, 0)) {
			if e.Outcome != model.Complaint || e.Time.IsZero() {
				t.Fatalf("complaint event %+v", e)
			}
		}
		_ = r.String()
	})
}

// FuzzMIME checks the MIME layer alone on deep and odd structures.
func FuzzMIME(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=a\n\n--a\n--a--\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\n\nQUJD\n=\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := parseEntity(raw)
		n := 0
		e.walk(func(*entity) { n++ })
		if n > maxParts+maxDepth {
			t.Fatalf("%d entities", n)
		}
	})
}
