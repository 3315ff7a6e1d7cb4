package model

import (
	"strings"
	"testing"
)

func TestClassifyBounce(t *testing.T) {
	cases := []struct {
		status, text, cat string
		kind              BounceKind
		hard              bool
		rule              string // "" = do not check
	}{
		// Gmail, as Postfix logs a joined multi-line reply.
		{"5.1.1", "host gmail-smtp-in.l.google.com[142.250.1.26] said: 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. Learn more at 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp (in reply to RCPT TO command)", "", BounceUserUnknown, true, "gmail-5.1.1-nouser"},
		{"4.7.28", "421-4.7.28 [203.0.113.9] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp", "", BounceReputation, false, "gmail-4.7.28-rate"},
		{"5.7.28", "550-5.7.28 [203.0.113.9] There is an unusual rate of unsolicited email originating from your IP address and it has been blocked. - gsmtp", "", BouncePolicy, false, "gmail-5.7.28-block"},
		{"5.7.26", "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp", "", BounceAuth, false, "gmail-5.7.26-unauth"},
		{"5.7.1", "550-5.7.1 [203.0.113.9] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked. - gsmtp", "", BouncePolicy, false, "gmail-5.7.1-spam"},
		{"5.7.1", "550-5.7.1 This message is likely suspicious due to the very low reputation of the sending IP address. - gsmtp", "", BounceReputation, false, "gmail-5.7.1-reputation"},
		{"5.2.1", "550 5.2.1 The email account that you tried to reach is inactive. - gsmtp", "", BounceInactive, true, "gmail-5.2.1-inactive"},
		{"4.2.2", "452 4.2.2 The recipient's inbox is out of storage space. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp", "", BounceMailboxFull, false, "gmail-x.2.2-full"},
		{"5.2.2", "552-5.2.2 The recipient's inbox is out of storage space and inactive. - gsmtp", "", BounceInactive, true, "gmail-5.2.2-inactive"},
		{"4.2.1", "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. - gsmtp", "", BounceReputation, false, "gmail-x.2.1-rate"},
		{"5.7.30", "550-5.7.30 This message does not pass authentication checks (DKIM = did not pass). - gsmtp", "", BounceAuth, false, "gmail-x.7.30-dkim"},
		// Microsoft.
		{"5.7.1", "550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.", "", BouncePolicy, false, "ms-s3150-blocklist"},
		{"5.7.1", "550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140).", "", BouncePolicy, false, "ms-s3140-blocklist"},
		{"4.7.650", "451 4.7.650 The mail server [203.0.113.9] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)", "", BounceReputation, false, "ms-4.7.650-rate"},
		{"5.7.606", "550 5.7.606 Access denied, banned sending IP [203.0.113.9]. To request removal from this list please visit https://sender.office.com/", "", BouncePolicy, false, "ms-5.7.606-649-banned-ip"},
		{"", "550 5.7.649 Access denied, banned sending IP [203.0.113.9].", "", BouncePolicy, false, "ms-5.7.606-649-banned-ip"},
		{"5.7.515", "550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.", "", BounceAuth, false, "ms-5.7.515-auth"},
		{"5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]", "", BounceUserUnknown, true, "ms-5.5.0-mailbox-unavailable"},
		{"5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "", BounceUserUnknown, true, "ms-5.1.1-recipnotfound"},
		{"4.7.500", "451 4.7.500 Server busy. Please try again later from [203.0.113.9]. (S77714)", "", BounceReputation, false, "ms-4.7.500-busy"},
		// Yahoo / AOL.
		{"4.7.0", "421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "", BounceReputation, false, "yahoo-tss04-deferral"},
		{"5.7.2", "553 5.7.2 [TSS09] All messages from 203.0.113.9 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", "", BounceReputation, false, "yahoo-tss09-deferral"},
		{"", "554 delivery error: dd This user doesn't have a yahoo.com account (someone@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com", "", BounceUserUnknown, true, "yahoo-dd-nouser"},
		{"", "554 30 Sorry, your message to someone@aol.jp cannot be delivered. This mailbox is disabled (554.30).", "", BounceInactive, true, "yahoo-554.30-disabled"},
		{"", "552 1 Requested mail action aborted, mailbox not found", "", BounceUserUnknown, true, "yahoo-552-mailbox-not-found"},
		{"5.7.9", "550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo requires all senders to authenticate with either SPF or DKIM.", "", BounceAuth, false, "yahoo-5.7.9-unauth"},
		{"5.7.1", "553 5.7.1 [BL21] Connections will not be accepted from 203.0.113.9, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes", "", BouncePolicy, false, "yahoo-bl-blocklist"},
		// Apple, Comcast, Europe.
		{"4.7.1", "421 4.7.1 Messages to ****@icloud.com deferred due to excessive volume. Try again later - https://support.apple.com/en-us/HT204137", "", BounceReputation, false, "apple-volume-deferral"},
		{"5.1.1", "550 5.1.1 <someone@icloud.com>: inactive email address", "", BounceInactive, true, "apple-inactive"},
		{"5.7.1", "554 5.7.1 [HME1] This message was blocked for failing both SPF and DKIM authentication checks.", "", BounceAuth, false, "apple-hme1-auth"},
		{"", "550 someone@comcast.net Not our Customer", "", BounceUserUnknown, true, "comcast-not-our-customer"},
		{"", "554 203.0.113.9 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001", "", BouncePolicy, false, "comcast-bl-blocklist"},
		{"", "501 5.0.2 Mail rejected. DMARC check failed.", "", BounceAuth, false, "orange-dmarc"},
		{"", "550 Requested action not taken: mailbox unavailable / Reject due to policy restrictions.", "", BouncePolicy, false, "gmx-policy"},
		{"", "550 Message was not accepted -- invalid mailbox. Local mailbox someone@mail.ru is unavailable: account is disabled", "", BounceUserUnknown, true, "mailru-invalid-mailbox"},
		// Generic texts.
		{"5.1.1", "550 5.1.1 <x@corp.example>: Recipient address rejected: User unknown in virtual mailbox table", "", BounceUserUnknown, true, "text-user-unknown"},
		{"", "Unrouteable address", "", BounceHostUnknown, true, "text-host-unknown"},
		{"5.4.4", "Host or domain name not found. Name service error for name=nowhere.example type=A: Host not found", "", BounceHostUnknown, true, "text-host-unknown"},
		{"4.4.3", "Host or domain name not found. Name service error for name=slow.example type=MX: Host not found, try again", "", BounceOther, false, "dns-temporary"},
		{"5.2.2", "552 5.2.2 Mailbox full", "", BounceMailboxFull, false, "text-mailbox-full"},
		{"5.3.4", "552 5.3.4 Message size exceeds fixed maximum message size", "", BounceContent, false, "text-virus"},
		{"5.7.1", "554 5.7.1 <x@y.example>: Relay access denied", "", BouncePolicy, false, "text-block"},
		{"4.7.1", "450 4.7.1 <x@y.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/", "", BounceReputation, false, "text-rate"},
		// The address and the host name must not steer the class.
		{"5.1.1", "host mx.spamfilter.example[198.51.100.2] said: 550 5.1.1 <spam-policy@blocked.example>: user unknown (in reply to RCPT TO command)", "", BounceUserUnknown, true, "text-user-unknown"},
		// X.7.1 and X.7.13 are weighed by their words.
		{"5.7.1", "550 5.7.1 <x@y.example>: Recipient address rejected: user unknown", "", BounceUserUnknown, true, "text-user-unknown"},
		{"5.7.13", "550 5.7.13 User account disabled", "", BounceInactive, true, "text-inactive"},
		// 4xx never suppresses either.
		{"4.1.1", "450 4.1.1 <x@y.example>: Recipient address rejected: unverified address: host mx.y.example said: 550 5.1.1 user unknown", "", BounceUserUnknown, false, ""},
		// The diagnostic beats the status (PowerMTA DSN in sisimai's corpus).
		{"5.2.1 (mailbox disabled, not accepting messages)", "smtp;550 5.2.1 <kijitora@example.jp>... User Unknown", "bad-mailbox", BounceUserUnknown, true, "text-user-unknown"},
		// Codes and PowerMTA categories when the text says nothing.
		{"5.1.1", "550 5.1.1 go away", "", BounceUserUnknown, true, ""},
		{"5.0.0", "smtp;550 Requested action not taken", "bad-mailbox", BounceUserUnknown, true, ""},
		{"5.0.0", "smtp;550 Requested action not taken", "bad-domain", BounceHostUnknown, true, ""},
		{"5.0.0", "smtp;550 rejected", "spam-related", BouncePolicy, false, ""},
		{"5.0.0", "smtp;550 rejected", "routing-errors", BounceOther, false, ""},
		{"5.0.0", "smtp;550 whatever", "", BounceOther, false, ""},
		{"", "", "", BounceOther, false, ""},
		{"4.4.7", "retry timeout exceeded", "", BounceOther, false, "text-expired"},
	}
	for _, c := range cases {
		v := ClassifyBounce(BounceInput{Status: c.status, Text: c.text, BounceCat: c.cat})
		if v.Kind != c.kind || v.Hard != c.hard || (c.rule != "" && v.Rule != c.rule) {
			t.Errorf("ClassifyBounce(%q, %q, %q) = %v hard=%v rule=%q, want %v hard=%v rule=%q",
				c.status, c.text, c.cat, v.Kind, v.Hard, v.Rule, c.kind, c.hard, c.rule)
		}
	}
}

// TestPolicyNeverHard: no 4xx reply and no specific X.7 status (banned IP,
// authentication) is ever hard, whatever the words; under X.7.0, X.7.1 and
// X.7.13 the words decide (see the rule in bounce.go).
func TestPolicyNeverHard(t *testing.T) {
	mailbox := []string{"user unknown", "no such user", "Mailbox does not exist", "Invalid recipient", "mailbox disabled", "inactive email address", "The email account that you tried to reach does not exist"}
	notMailbox := []string{"blocked", "Access denied", "domain not found", "account closed", "Sender address rejected: user unknown", "message refused", "Delivery not authorized, message refused"}
	for _, tx := range append(append([]string(nil), mailbox...), notMailbox...) {
		for _, st := range []string{"5.7.606", "5.7.26", "5.7.515", "4.7.1", "4.1.1", "4.2.1", "4.4.4"} {
			if v := ClassifyBounce(BounceInput{Status: st, Text: "550 " + st + " " + tx}); v.Hard {
				t.Errorf("%s %q is hard (%v, %s)", st, tx, v.Kind, v.Rule)
			}
			if v := ClassifyBounce(BounceInput{Text: "550 " + st + " " + tx}); v.Hard {
				t.Errorf("text-only %s %q is hard", st, tx)
			}
		}
		for _, code := range []string{"421", "450", "451", "452"} {
			if v := ClassifyBounce(BounceInput{Text: code + " " + tx}); v.Hard || !v.Temporary {
				t.Errorf("%s %q: hard=%v temporary=%v", code, tx, v.Hard, v.Temporary)
			}
		}
	}
	for _, st := range []string{"5.7.0", "5.7.1", "5.7.13"} {
		for _, tx := range mailbox {
			if v := ClassifyBounce(BounceInput{Status: st, Text: "550 " + st + " " + tx}); !v.Hard {
				t.Errorf("%s %q not hard (%v, %s)", st, tx, v.Kind, v.Rule)
			}
		}
		for _, tx := range notMailbox {
			if v := ClassifyBounce(BounceInput{Status: st, Text: "550 " + st + " " + tx}); v.Hard {
				t.Errorf("%s %q is hard (%v, %s)", st, tx, v.Kind, v.Rule)
			}
		}
	}
	// The code alone never makes X.7 hard.
	if v := ClassifyBounce(BounceInput{Status: "5.7.13", Text: "550 5.7.13 go away"}); v.Hard {
		t.Errorf("bare 5.7.13 is hard")
	}
	for _, r := range BounceRules {
		if r.Kind.MailboxInvalid() && r.Status != "" && subjectSeven(strings.TrimPrefix(r.Status, "?")) {
			t.Errorf("rule %s makes an X.7 status mailbox-invalid", r.Name)
		}
	}
}

func TestEventClass(t *testing.T) {
	ev := Event{Outcome: Bounced, Status: "5.1.1", Response: "550 5.1.1 user unknown"}
	if c := EventClass(&ev); c != ClassHard {
		t.Errorf("5.1.1 bounce: %v", c)
	}
	ev = Event{Outcome: Bounced, Status: "5.7.1", Response: "550 5.7.1 blocked"}
	if c := EventClass(&ev); c != ClassSoft {
		t.Errorf("5.7.1 bounce: %v", c)
	}
	// PowerMTA's routing-errors is not a verdict on the mailbox.
	ev = Event{Outcome: Bounced, Status: "5.0.0", Response: "smtp;550 no route", BounceCat: "routing-errors"}
	if c := EventClass(&ev); c != ClassSoft {
		t.Errorf("routing-errors: %v", c)
	}
	for _, o := range []Outcome{Deferred, Held, Expired} {
		ev = Event{Outcome: o, Status: "5.1.1", Response: "550 5.1.1 user unknown"}
		if c := EventClass(&ev); c != ClassSoft {
			t.Errorf("%v: %v", o, c)
		}
	}
	for _, o := range []Outcome{Delivered, Complaint} {
		if c := EventClass(&Event{Outcome: o}); c != ClassNone {
			t.Errorf("%v: %v", o, c)
		}
	}
}

func TestNamedSignature(t *testing.T) {
	for text, want := range map[string]string{
		"421-4.7.28 [203.0.113.9] Our system has detected an unusual rate - gsmtp": "gmail-4.7.28-rate",
		"550 5.7.1 ... part of their network is on our block list (S3150).":        "ms-s3150-blocklist",
		"421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred":         "yahoo-tss04-deferral",
		"550 5.1.1 user unknown":    "",
		"421 4.7.0 try again later": "",
		"":                          "",
	} {
		got, ok := NamedSignature(text)
		if got != want || ok != (want != "") {
			t.Errorf("NamedSignature(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	// Signature keeps what NamedSignature needs: the signature of a reply
	// is named like the reply.
	txt := "421-4.7.28 [203.0.113.9] Our system has detected an unusual rate of unsolicited mail - gsmtp"
	if a, _ := NamedSignature(Signature(txt)); a != "gmail-4.7.28-rate" {
		t.Errorf("NamedSignature(Signature) = %q", a)
	}
}

func TestBounceRulesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range BounceRules {
		if r.Name == "" || seen[r.Name] {
			t.Errorf("rule name %q empty or repeated", r.Name)
		}
		seen[r.Name] = true
		if r.Kind == BounceNone || int(r.Kind) >= NumBounceKinds {
			t.Errorf("rule %s: kind %v", r.Name, r.Kind)
		}
		for _, f := range append(append([]string(nil), r.Any...), r.All...) {
			if f != strings.ToLower(f) || strings.Contains(f, "  ") || f == "" {
				t.Errorf("rule %s: fragment %q must be lower case, single-spaced", r.Name, f)
			}
		}
		if r.Status != "" && !validStatus(strings.Replace(strings.SplitN(r.Status, "-", 2)[0], "?", "5", 1)) {
			t.Errorf("rule %s: status %q", r.Name, r.Status)
		}
		if r.Status == "" && len(r.Any) == 0 && len(r.All) == 0 {
			t.Errorf("rule %s matches everything", r.Name)
		}
	}
	for k := BounceUserUnknown; int(k) < NumBounceKinds; k++ {
		if p, ok := ParseBounceKind(k.String()); !ok || p != k || len(k.Short()) > 5 || k.Label() == "" {
			t.Errorf("kind %d: %q %q %q", k, k.String(), k.Short(), k.Label())
		}
	}
}

func TestStatusParsing(t *testing.T) {
	for in, want := range map[string]string{
		"5.2.1 (mailbox disabled, not accepting messages)": "5.2.1",
		"smtp; 5.1.1": "5.1.1",
		"5.1.10":      "5.1.10",
		"5.1":         "",
		"6.1.1":       "",
		"5.1.1234":    "",
		"4.7.650.":    "4.7.650",
		"":            "",
		"x.y.z":       "",
	} {
		if got := cleanStatus(in); got != want {
			t.Errorf("cleanStatus(%q) = %q, want %q", in, got, want)
		}
	}
	n := normalizeReply("smtp;550-5.1.1 line one 550-5.1.1 line two 550 5.1.1 end")
	if n.code != 550 || n.status != "5.1.1" || n.full != "550-5.1.1 line one line two end" {
		t.Errorf("normalizeReply: %+v", n)
	}
}

func FuzzClassifyBounce(f *testing.F) {
	f.Add("5.1.1", "550 5.1.1 user unknown", "bad-mailbox")
	f.Add("", "421-4.7.28 unusual rate - gsmtp", "")
	f.Add("5.7.606-649", "550 5.7.6 x", "")
	f.Add("4", "5", "")
	f.Fuzz(func(t *testing.T, status, text, cat string) {
		v := ClassifyBounce(BounceInput{Status: status, Text: text, BounceCat: cat})
		if v.Kind == BounceNone || int(v.Kind) >= NumBounceKinds {
			t.Fatalf("kind %v", v.Kind)
		}
		if v.Hard && (!v.Kind.MailboxInvalid() || v.Temporary || subjectSeven(v.Status)) {
			t.Fatalf("hard verdict %+v", v)
		}
		if v.Hard && strings.Contains(status, ".7.") && cleanStatus(status) != "" && subjectSeven(cleanStatus(status)) {
			t.Fatalf("hard under status %q: %+v", status, v)
		}
	})
}

func BenchmarkClassifyBounce(b *testing.B) {
	texts := []string{
		"host gmail-smtp-in.l.google.com[142.250.1.26] said: 550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser a1si123 - gsmtp (in reply to RCPT TO command)",
		"421 4.7.0 [TSS04] Messages from 203.0.113.9 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		"connect to mx.example.org[203.0.113.5]:25: Connection timed out",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ClassifyBounce(BounceInput{Text: texts[i%len(texts)]})
	}
}

// The rules of issue 12, each with replies as the MTAs write them (Postfix
// bounce/defer texts, Exim's "SMTP error from remote mail server after",
// sendmail's DSN diagnostics, Exchange Online NDRs). Expected verdicts:
// RFC 3463 (X.1.7/X.1.8 are the sender's; X.4.x routing), Postfix's
// dns_lookup texts (TRY_AGAIN is temporary), Microsoft Learn for 5.4.1.
func TestIssue12Rules(t *testing.T) {
	cases := []struct {
		status, text, domain string
		kind                 BounceKind
		hard                 bool
		rule                 string
	}{
		// Sender-stage rejections: never the recipient's fault.
		{"5.1.8", "553 5.1.8 <nobody@example.jp>... Domain of sender address nobody@newbounce.example does not exist", "", BounceAuth, false, "sender-stage"},
		{"5.1.7", "host mx.example.jp[192.0.2.5] said: 550 5.1.7 No such domain (in reply to MAIL FROM command)", "", BounceAuth, false, "sender-stage"},
		{"5.1.0", "SMTP error from remote mail server after MAIL FROM:<bounce@newbounce.example> SIZE=2048: 553 5.1.0 <bounce@newbounce.example>... Domain does not exist", "", BounceAuth, false, "sender-stage"},
		{"5.1.8", "host mx.example.org[198.51.100.7] said: 550 5.1.8 <bounce@newbounce.example>: Sender address rejected: Domain not found (in reply to RCPT TO command)", "", BounceAuth, false, "sender-stage"},
		{"5.0.0", "host mail.example.net[203.0.113.4] refused to talk to me: my name was rejected: 501 5.0.0 Invalid domain name", "", BouncePolicy, false, "text-block"},
		{"5.0.0", "host mx.example.com[192.0.2.9] said: 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname (in reply to RCPT TO command)", "", BounceOther, false, ""},
		// ...while the recipient's own rejection stays hard.
		{"5.1.1", "host mx.example.org[198.51.100.7] said: 550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)", "", BounceUserUnknown, true, "text-user-unknown"},
		// DNS malfunctions are temporary; another name says nothing.
		{"5.4.4", "Host or domain name not found. Name service error for name=example.com type=MX: Malformed or unexpected name server reply", "example.com", BounceOther, false, "dns-temporary"},
		{"4.4.3", "Host or domain name not found. Name service error for name=example.com type=MX: Host not found, try again", "example.com", BounceOther, false, "dns-temporary"},
		{"5.4.4", "Host or domain name not found. Name service error for name=mx1.mailhost.example type=A: Host not found", "example.com", BounceOther, false, "dns-other-name"},
		{"5.4.4", "Host or domain name not found. Name service error for name=gone.example type=A: Host not found", "gone.example", BounceHostUnknown, true, "text-host-unknown"},
		// A block list URL is policy whatever the code.
		{"5.1.3", "553 5.1.3 http://www.spamhaus.org/query/bl?ip=203.0.113.9", "", BouncePolicy, false, "dnsbl-url"},
		{"5.1.1", "550 5.1.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.9", "", BouncePolicy, false, "dnsbl-url"},
		// Local command failures are not about a mailbox.
		{"5.0.0", "Child process of address_pipe transport returned 127 (could mean unable to exec or command does not exist) from command: /usr/local/bin/tickets", "", BounceOther, false, "local-command"},
		{"5.3.0", "Command died with status 127: \"/usr/bin/notthere\". Command output: sh: 1: /usr/bin/notthere: not found ", "", BounceOther, false, "local-command"},
		// Microsoft 365: a recipient not in the tenant.
		{"5.4.1", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com 2026-12-07T10:00:00.000Z 08DC...]", "", BounceUserUnknown, true, "ms-5.4.1-recipient-access-denied"},
		// ...but Postfix's access-map "Access denied" under 5.7.1 is policy.
		{"5.7.1", "554 5.7.1 <x@example.com>: Recipient address rejected: Access denied", "", BouncePolicy, false, "text-block"},
		// 5.7.x weighed by the text.
		{"5.7.1", "550 5.7.1 Mailbox does not exist", "", BounceUserUnknown, true, "text-user-unknown"},
		{"5.7.1", "550 5.7.1 Invalid recipient <kim@example.net>", "", BounceUserUnknown, true, "text-user-unknown"},
		{"5.7.13", "550 5.7.13 user account disabled", "", BounceInactive, true, "text-inactive"},
		{"5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering.", "", BounceContent, false, "text-virus"},
		{"5.7.1", "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using b.barracudacentral.org", "", BouncePolicy, false, ""},
	}
	for _, c := range cases {
		v := ClassifyBounce(BounceInput{Status: c.status, Text: c.text, Domain: c.domain})
		if v.Kind != c.kind || v.Hard != c.hard || (c.rule != "" && v.Rule != c.rule) {
			t.Errorf("ClassifyBounce(%q, %q) = %v hard=%v rule=%q, want %v hard=%v rule=%q",
				c.status, c.text, v.Kind, v.Hard, v.Rule, c.kind, c.hard, c.rule)
		}
		// EventClass agrees (it is what the parsers and the pipeline use).
		ev := Event{Outcome: Bounced, Status: c.status, Response: c.text, Domain: c.domain}
		if got := EventClass(&ev); (got == ClassHard) != c.hard {
			t.Errorf("EventClass(%q) = %v", c.text, got)
		}
	}
}
