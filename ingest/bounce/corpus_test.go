package bounce

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cutover/model"
)

// rcpt is what a corpus sample must give for one recipient.
type rcpt struct {
	addr string
	kind model.BounceKind // DSN/plain only
	hard bool
	from string // where the address was found; "" = do not check
	rule string // named signature; "" = do not check
}

// corpus lists every sample in testdata/corpus with its expected format,
// recipients and classes. The samples are hand-made from RFC 3464 and RFC
// 5965 and from the documented formats of the MTAs and providers (Postfix,
// PowerMTA, Exim, qmail, Sendmail, Gmail, Exchange Online, Outlook.com,
// Yahoo/AOL CFL, Validity UFBL, Amazon SES, Microsoft JMRP) and their
// known deviations (Version 0.1, no Original-Rcpt-To, redaction, missing
// Final-Recipient, base64 parts, CRLF, truncated and broken boundaries).
var corpus = []struct {
	file      string
	format    Format
	complaint bool
	redacted  int
	rcpts     []rcpt
}{
	{"01-postfix-user-unknown.eml", FormatDSN, false, 0, []rcpt{{"nobody@corp.example", model.BounceUserUnknown, true, "original-recipient", ""}}},
	{"02-postfix-mailbox-full.eml", FormatDSN, false, 0, []rcpt{{"hoarder@corp.example", model.BounceMailboxFull, false, "", ""}}},
	{"03-postfix-policy-spamhaus.eml", FormatDSN, false, 0, []rcpt{{"buyer@shop.example", model.BouncePolicy, false, "", ""}}},
	{"04-postfix-delayed.eml", FormatDSN, false, 0, []rcpt{{"slow@corp.example", model.BounceOther, false, "", ""}}},
	{"05-postfix-two-recipients.eml", FormatDSN, false, 0, []rcpt{
		{"first.gone@corp.example", model.BounceUserUnknown, true, "original-recipient", ""},
		{"someone@nonexistent-domain.example", model.BounceHostUnknown, true, "", ""}}},
	{"06-postfix-alias-original-recipient.eml", FormatDSN, false, 0, []rcpt{{"john@corp.example", model.BounceUserUnknown, true, "original-recipient", ""}}},
	// The DSN's own Final-Recipient wins over the VERP return path (the
	// forwarded-to address is what failed; VERP only fills in for reports
	// that name nobody).
	{"07-postfix-verp.eml", FormatDSN, false, 0, []rcpt{{"alice.forward@elsewhere.example", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"08-postfix-expired.eml", FormatDSN, false, 0, []rcpt{{"patient@slow.example", model.BounceOther, false, "", ""}}},
	{"09-pmta-bad-mailbox.eml", FormatDSN, false, 0, []rcpt{{"kijitora@example.jp", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"10-pmta-outlook-s3150.eml", FormatDSN, false, 0, []rcpt{{"someone@outlook.com", model.BouncePolicy, false, "", "ms-s3150-blocklist"}}},
	{"11-pmta-inactive.eml", FormatDSN, false, 0, []rcpt{{"sleeper@example.net", model.BounceInactive, true, "", ""}}},
	{"12-pmta-quota.eml", FormatDSN, false, 0, []rcpt{{"packed@example.net", model.BounceMailboxFull, false, "", ""}}},
	{"13-pmta-bad-domain.eml", FormatDSN, false, 0, []rcpt{{"user@no-such-domain.example", model.BounceHostUnknown, true, "", ""}}},
	{"14-exim-dsn-gmail-nouser.eml", FormatDSN, false, 0, []rcpt{{"no.such.person@gmail.com", model.BounceUserUnknown, true, "final-recipient", "gmail-5.1.1-nouser"}}},
	{"15-exim-plain.eml", FormatPlain, false, 0, []rcpt{{"ghost@example.org", model.BounceUserUnknown, true, "bounce-text", ""}}},
	{"16-exim-plain-retry-timeout.eml", FormatPlain, false, 0, []rcpt{{"patient@dead-site.example", model.BounceOther, false, "", ""}}},
	{"17-qmail.eml", FormatPlain, false, 0, []rcpt{{"olduser@example.net", model.BounceUserUnknown, true, "bounce-text", ""}}},
	{"18-sendmail-dsn.eml", FormatDSN, false, 0, []rcpt{{"lost@example.org", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"19-gmail-dsn-nouser.eml", FormatDSN, false, 0, []rcpt{{"nosuchuser@gmail.com", model.BounceUserUnknown, true, "", "gmail-5.1.1-nouser"}}},
	{"20-postfix-gmail-4.7.28-expired.eml", FormatDSN, false, 0, []rcpt{{"fan@gmail.com", model.BounceReputation, false, "", "gmail-4.7.28-rate"}}},
	{"21-postfix-gmail-5.7.26.eml", FormatDSN, false, 0, []rcpt{{"reader@gmail.com", model.BounceAuth, false, "", "gmail-5.7.26-unauth"}}},
	{"22-exchange-online-recipnotfound.eml", FormatDSN, false, 0, []rcpt{{"ghost@contoso.example", model.BounceUserUnknown, true, "", "ms-5.1.1-recipnotfound"}}},
	{"23-postfix-outlook-s3140.eml", FormatDSN, false, 0, []rcpt{{"pat@hotmail.com", model.BouncePolicy, false, "", "ms-s3140-blocklist"}}},
	{"24-postfix-outlook-5.5.0.eml", FormatDSN, false, 0, []rcpt{{"nobody.here@outlook.com", model.BounceUserUnknown, true, "", "ms-5.5.0-mailbox-unavailable"}}},
	{"25-yahoo-plain-dd.eml", FormatPlain, false, 0, []rcpt{{"gone.away@yahoo.com", model.BounceUserUnknown, true, "bounce-text", "yahoo-dd-nouser"}}},
	{"26-postfix-yahoo-tss04-expired.eml", FormatDSN, false, 0, []rcpt{{"loyal@yahoo.com", model.BounceReputation, false, "", "yahoo-tss04-deferral"}}},
	{"27-aol-plain-disabled.eml", FormatPlain, false, 0, []rcpt{{"neko@aol.jp", model.BounceInactive, true, "", "yahoo-554.30-disabled"}}},
	{"28-postfix-icloud-inactive.eml", FormatDSN, false, 0, []rcpt{{"mac.user@icloud.com", model.BounceInactive, true, "", "apple-inactive"}}},
	{"29-postfix-icloud-hme1.eml", FormatDSN, false, 0, []rcpt{{"fan@me.com", model.BounceAuth, false, "", "apple-hme1-auth"}}},
	{"30-pmta-comcast-not-our-customer.eml", FormatDSN, false, 0, []rcpt{{"moved.on@comcast.net", model.BounceUserUnknown, true, "", "comcast-not-our-customer"}}},
	{"31-pmta-orange-dmarc.eml", FormatDSN, false, 0, []rcpt{{"client@orange.fr", model.BounceAuth, false, "", "orange-dmarc"}}},
	{"32-pmta-gmx-policy.eml", FormatDSN, false, 0, []rcpt{{"leser@gmx.de", model.BouncePolicy, false, "", "gmx-policy"}}},
	{"33-pmta-webde-quota.eml", FormatDSN, false, 0, []rcpt{{"voll@web.de", model.BounceMailboxFull, false, "", "webde-quota"}}},
	{"34-pmta-mailru-invalid.eml", FormatDSN, false, 0, []rcpt{{"ivan@mail.ru", model.BounceUserUnknown, true, "", "mailru-invalid-mailbox"}}},
	{"35-dsn-no-recipient-verp.eml", FormatDSN, false, 0, []rcpt{{"bob@partner.example", model.BounceUserUnknown, true, "verp", ""}}},
	{"36-dsn-no-recipient-returned-headers.eml", FormatDSN, false, 0, []rcpt{{"carol@partner.example", model.BounceUserUnknown, true, "returned-to", ""}}},
	{"37-dsn-base64-status.eml", FormatDSN, false, 0, []rcpt{{"dave@b64.example", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"38-dsn-crlf-truncated.eml", FormatDSN, false, 0, []rcpt{{"erin@crlf.example", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"39-dsn-broken-boundary.eml", FormatDSN, false, 0, []rcpt{{"frank@broken.example", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"40-ses-dsn.eml", FormatDSN, false, 0, []rcpt{{"grace@ses-dest.example", model.BounceUserUnknown, true, "final-recipient", ""}}},
	{"41-arf-rfc5965.eml", FormatARF, true, 0, []rcpt{{addr: "user@isp.example", from: "original-rcpt-to"}}},
	{"42-arf-yahoo-cfl.eml", FormatARF, true, 0, []rcpt{{addr: "yuki@yahoo.com", from: "verp"}}},
	{"43-arf-aol.eml", FormatARF, true, 0, []rcpt{{addr: "tom.cat@aol.com", from: "original-rcpt-to"}}},
	{"44-arf-validity-ufbl.eml", FormatARF, true, 0, []rcpt{{addr: "swiss.user@bluewin.ch", from: "returned-to"}}},
	{"45-arf-redacted.eml", FormatARF, true, 1, nil},
	{"46-arf-not-spam.eml", FormatARF, false, 0, []rcpt{{addr: "happy@isp.example"}}},
	{"47-arf-auth-failure.eml", FormatARF, false, 0, []rcpt{{addr: "someone@receiver.example"}}},
	{"48-arf-rfc822-headers.eml", FormatARF, true, 0, []rcpt{{addr: "heidi@isp2.example", from: "returned-x-rcpt-to"}}},
	{"49-arf-ses-complaint.eml", FormatARF, true, 0, []rcpt{{addr: "ivy@ses-dest.example", from: "original-rcpt-to"}}},
	{"50-jmrp-microsoft.eml", FormatJMRP, true, 0, []rcpt{{addr: "kijitora@outlook.com", from: "returned-x-hmxmroriginalrecipient"}}},
	{"51-jmrp-verp.eml", FormatJMRP, true, 0, []rcpt{{addr: "mia@live.com", from: "verp"}}},
	{"52-auto-reply.eml", FormatAutoReply, false, 0, nil},
	{"53-postfix-local-unknown-user.eml", FormatDSN, false, 0, []rcpt{{"treasurer@smallorg.example", model.BounceUserUnknown, true, "", ""}}},
	{"54-postfix-greylist-expired.eml", FormatDSN, false, 0, []rcpt{{"cautious@filtered.example", model.BounceReputation, false, "", ""}}},
	{"55-pmta-comcast-bl.eml", FormatDSN, false, 0, []rcpt{{"someone@comcast.net", model.BouncePolicy, false, "", "comcast-bl-blocklist"}}},
	{"56-arf-plain-text.eml", FormatARF, true, 0, []rcpt{{addr: "kim@smallisp.example", from: "original-rcpt-to"}}},
}

func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/corpus/*.eml")
	if len(files) != len(corpus) {
		t.Errorf("%d files in testdata/corpus, %d in the table", len(files), len(corpus))
	}
	if len(corpus) < 40 {
		t.Errorf("corpus has %d samples, want at least 40", len(corpus))
	}
	formats := map[Format]int{}
	right := 0
	for _, c := range corpus {
		raw, err := os.ReadFile(filepath.Join("testdata/corpus", c.file))
		if err != nil {
			t.Error(err)
			continue
		}
		r, err := Parse(raw, ParseOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		ok := true
		fail := func(format string, args ...any) {
			ok = false
			t.Errorf(c.file+": "+format, args...)
		}
		if r.Format != c.format {
			fail("format %s, want %s", r.Format, c.format)
		}
		if r.Complaint() != c.complaint || r.Redacted != c.redacted {
			fail("complaint %v redacted %d, want %v %d (%s)", r.Complaint(), r.Redacted, c.complaint, c.redacted, r.FeedbackType)
		}
		if len(r.Recipients) != len(c.rcpts) {
			fail("%d recipients, want %d: %s", len(r.Recipients), len(c.rcpts), r)
		} else {
			for i, w := range c.rcpts {
				g := r.Recipients[i]
				if g.Addr != w.addr || (w.from != "" && g.From != w.from) {
					fail("recipient %d: %s from %s, want %s from %s", i, g.Addr, g.From, w.addr, w.from)
				}
				if c.format == FormatDSN || c.format == FormatPlain {
					if g.Verdict.Kind != w.kind || g.Hard() != w.hard || (w.rule != "" && g.Verdict.Rule != w.rule) {
						fail("recipient %s: %v hard=%v rule=%s (action %s status %q diag %q), want %v hard=%v rule=%s",
							g.Addr, g.Verdict.Kind, g.Hard(), g.Verdict.Rule, g.Action, g.Status, g.Diagnostic, w.kind, w.hard, w.rule)
					}
					if g.Time.IsZero() {
						fail("recipient %s: no time", g.Addr)
					}
				}
			}
		}
		// The canonical events follow from the verdicts: soft bounces,
		// deferrals and X.7 blocks never give one.
		sup := r.Suppressions("test")
		wantSup := 0
		for _, w := range c.rcpts {
			if w.hard || c.complaint {
				wantSup++
			}
		}
		if len(sup) != wantSup {
			fail("%d suppression events, want %d", len(sup), wantSup)
		}
		for _, e := range sup {
			if e.Type == model.SuppHardBounce && strings.Contains(e.Reason, "5.7.") {
				fail("hard bounce from an X.7 reply: %+v", e)
			}
		}
		if ok {
			right++
		}
		formats[r.Format]++
	}
	t.Logf("%d/%d samples right; formats %v", right, len(corpus), formats)
}

func TestMalformed(t *testing.T) {
	want := map[string]error{
		"not-a-report.eml":     ErrNotReport,
		"empty.eml":            ErrEmpty,
		"dsn-no-recipient.eml": ErrNoRecipient,
		"binary-garbage.eml":   nil, // any error: it must just not be taken for a report
	}
	for name, werr := range want {
		raw, err := os.ReadFile(filepath.Join("testdata/malformed", name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Parse(raw, ParseOptions{})
		if err == nil || (werr != nil && !errors.Is(err, werr)) {
			t.Errorf("%s: error %v, want %v", name, err, werr)
		}
	}
}

func TestVERP(t *testing.T) {
	for in, want := range map[string]string{
		"bounces+alice=example.com@news.example.com":     "alice@example.com",
		"bounces+first.last=sub.example.co.uk@b.example": "first.last@sub.example.co.uk",
		"bounce-bob=example.org@lists.example":           "bob@example.org",
		"bounces@news.example.com":                       "",
		"bounces+nodomain=x@news.example.com":            "",
		"b+j=@x.example":                                 "",
		"bounces+weird+tag=example.com@news.example.com": "weird+tag@example.com",
		"bounces+UPPER=Example.COM@news.example.com":     "upper@example.com",
		"":                           "",
		"@":                          "",
		"bounces+alice=example.com@": "",
		"prefix+user=dom.example=x.example@host.example": "user=dom.example@x.example",
	} {
		if got := decodeVERP(in, ""); got != want {
			t.Errorf("decodeVERP(%q) = %q, want %q", in, got, want)
		}
	}
	if got := decodeVERP("bounces-alice#example.com@news.example.com", "-#"); got != "alice@example.com" {
		t.Errorf("custom delimiters: %q", got)
	}
}

func TestRedacted(t *testing.T) {
	for a, want := range map[string]bool{
		"xxxxxxxx@comcast.net": true, "redacted@yahoo.com": true, "****@icloud.com": true, "@example.com": true,
		"max@example.com": false, "xavier@example.com": false, "x@example.com": false,
	} {
		if redacted(a) != want {
			t.Errorf("redacted(%q) = %v", a, !want)
		}
	}
}

func TestComplaintEvents(t *testing.T) {
	raw, _ := os.ReadFile("testdata/corpus/45-arf-redacted.eml")
	r, err := Parse(raw, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := r.ComplaintEvents(r.Date)
	if len(evs) != 1 || evs[0].Recipient != "" || evs[0].Domain != "validity.com" || evs[0].SourceIP != "203.0.113.11" || evs[0].Outcome != model.Complaint {
		t.Errorf("redacted complaint events %+v", evs)
	}
	raw, _ = os.ReadFile("testdata/corpus/42-arf-yahoo-cfl.eml")
	r, _ = Parse(raw, ParseOptions{})
	evs = r.ComplaintEvents(r.Date)
	if len(evs) != 1 || evs[0].Domain != "yahoo.com" || evs[0].Time.IsZero() || evs[0].Response != "abuse" {
		t.Errorf("yahoo complaint events %+v", evs)
	}
	if d := reporterDomain("feedback@arf.mail.yahoo.com"); d != "yahoo.com" {
		t.Errorf("reporterDomain: %s", d)
	}
	if d := reporterDomain("fbl@mail.example.co.uk"); d != "example.co.uk" {
		t.Errorf("reporterDomain: %s", d)
	}
}

// TestSoftNeverSuppresses: soft bounces, deferrals (Action: delayed, 4xx)
// and 5.7.x policy blocks never give a canonical event, whatever else the
// reply says.
func TestSoftNeverSuppresses(t *testing.T) {
	type c struct{ status, diag string }
	soft := []c{
		{"5.2.2", "552 5.2.2 Mailbox full"},
		{"4.2.2", "452 4.2.2 The recipient's inbox is out of storage space. - gsmtp"},
		{"4.7.28", "421-4.7.28 unusual rate of unsolicited mail - gsmtp"},
		{"5.7.1", "550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. (S3150)"},
		{"5.7.606", "550 5.7.606 Access denied, banned sending IP [203.0.113.9]"},
		{"5.7.26", "550-5.7.26 This mail has been blocked because the sender is unauthenticated. - gsmtp"},
		{"5.7.1", "554 5.7.1 user does not exist (policy)"},
		{"5.7.1", "554 5.7.1 <x@corp.example>: Recipient address rejected: Access denied"},
		{"5.1.8", "553 5.1.8 <b@news.example.com>: Sender address rejected: Domain not found"},
		{"4.7.0", "421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred"},
		{"5.7.2", "553 5.7.2 [TSS09] All messages from 203.0.113.9 will be permanently deferred"},
		{"4.1.1", "450 4.1.1 <x@corp.example>: Recipient address rejected: User unknown in local recipient table"},
		{"4.4.1", "connect to mx.corp.example[198.51.100.7]:25: Connection timed out"},
		{"5.3.4", "552 5.3.4 Message size exceeds fixed maximum message size"},
		{"5.0.0", "550 Requested action not taken: mailbox unavailable / Reject due to policy restrictions"},
	}
	// X.7.1 and X.7.13 are weighed by the words (model/bounce.go's rule).
	hard := []c{{"5.1.1", "550 5.1.1 user unknown"},
		{"5.7.1", "550 5.7.1 <x@corp.example>: Recipient address rejected: user unknown"},
		{"5.7.13", "550 5.7.13 User account disabled"}}
	for _, action := range []string{"failed", "delayed"} {
		for i, x := range append(soft, hard...) {
			raw := fmt.Sprintf("From: MAILER-DAEMON@mx.example\nTo: bounces@news.example.com\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n"+
				"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n"+
				"Reporting-MTA: dns; mx.example\n\nFinal-Recipient: rfc822; r%d@corp.example\nAction: %s\nStatus: %s\nDiagnostic-Code: smtp; %s\n--b--\n",
				i, action, x.status, x.diag)
			r, err := Parse([]byte(raw), ParseOptions{})
			if err != nil {
				t.Fatalf("%s: %v", x.diag, err)
			}
			got := len(r.Suppressions("t"))
			want := 0
			if i >= len(soft) && action == "failed" {
				want = 1 // the control: a failed 5.1.1 does suppress
			}
			if got != want {
				t.Errorf("%s %s %q: %d suppression events, want %d (%+v)", action, x.status, x.diag, got, want, r.Recipients[0].Verdict)
			}
		}
	}
}

// A quoted local part keeps its quotes wherever the report names it: the
// canonical address is the mailbox RCPT TO carried.
func TestQuotedLocalPart(t *testing.T) {
	raw := "From: MAILER-DAEMON@mx.example\nTo: bounces@news.example.com\nX-Failed-Recipients: \"neko..nyaan\"@example.org\nDate: Mon, 2 Nov 2026 10:00:00 +0000\nSubject: Undelivered Mail Returned to Sender\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nfailed\n\n--b\nContent-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mx.example\n\n%s--b--\n"
	for _, group := range []string{
		"Final-Recipient: rfc822; \"neko..nyaan\"@example.org\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 <\"neko..nyaan\"@example.org>: Recipient address rejected: User unknown\n",
		"", // only X-Failed-Recipients names it
	} {
		r, err := Parse([]byte(fmt.Sprintf(raw, group)), ParseOptions{})
		if err != nil || len(r.Recipients) != 1 || r.Recipients[0].Addr != `"neko..nyaan"@example.org` {
			t.Fatalf("%v %s", err, r)
		}
	}
}

// A quoted header line of the returned message is never a recipient, even
// when the bounce puts no marker before it (issue 12: "Message-ID:<...@host>"
// was taken as the failed address).
func TestHeaderLinesNotRecipients(t *testing.T) {
	raw := "From: MAILER-DAEMON@mx.example.net\nTo: bounces@news.example.com\nSubject: failure notice\nDate: Mon, 2 Nov 2026 10:00:00 +0000\n\n" +
		"I could not deliver your message.\n\n<gone@example.net>:\n550 5.1.1 <gone@example.net>: user unknown\n\n" +
		"Message-ID:<20261102.abc@host.example>\nFrom: news@news.example.com\nReturn-Path: <bounces@news.example.com>\nTo: gone@example.net\nReply-To: <desk@news.example.com>\nX-Mailer-Recipient: other@example.org\n"
	r, err := Parse([]byte(raw), ParseOptions{})
	if err != nil || len(r.Recipients) != 1 || r.Recipients[0].Addr != "gone@example.net" || !r.Recipients[0].Hard() {
		t.Fatalf("%v %s", err, r)
	}
}
