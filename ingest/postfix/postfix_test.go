package postfix

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// realLog is reference/real-mtas.md §1.6: maillog_file of Postfix 3.7.11.
var realLog = strings.Split(strings.TrimSpace(`
Nov 26 19:14:59 mta-test postfix/postfix-script[5971]: starting the Postfix mail system
Nov 26 19:14:59 mta-test postfix/master[5973]: daemon started -- version 3.7.11, configuration $ROOT/pf/conf
Nov 26 19:15:09 mta-test postfix/pickup[5974]: 9ED219842ED: uid=0 from=<sender@ok.example>
Nov 26 19:15:22 mta-test postfix/postfix-script[6332]: refreshing the Postfix mail system
Nov 26 19:15:22 mta-test postfix/master[5973]: reload -- version 3.7.11, configuration $ROOT/pf/conf
Nov 26 19:15:25 mta-test postfix/smtpd[6449]: connect from localhost[127.0.0.1]
Nov 26 19:16:25 mta-test postfix/smtpd[7908]: D19969848C5: client=localhost[127.0.0.1]
Nov 26 19:16:25 mta-test postfix/cleanup[7910]: D19969848C5: message-id=<20261126191625.D19969848C5@mta-test.localdomain>
Nov 26 19:16:25 mta-test postfix/qmgr[7749]: D19969848C5: from=<sender@ok.example>, size=456, nrcpt=1 (queue active)
Nov 26 19:16:25 mta-test postfix/gmail/smtp[7911]: D19969848C5: to=<alice@gmail.com>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0.01/0.03/0/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK585934)
Nov 26 19:16:25 mta-test postfix/qmgr[7749]: D19969848C5: removed
Nov 26 19:16:25 mta-test postfix/smtp-yahoo/smtp[7912]: D3DAC984253: to=<carol@yahoo.com>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0/0.02/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK585940)
Nov 26 19:16:25 mta-test postfix/smtp[7916]: D54BB9848C9: to=<erin@defer.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0.01/0.04/0/0.03, dsn=4.7.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 421 4.7.0 Try again later, closing connection. (sink) (in reply to RCPT TO command))
Nov 26 19:16:25 mta-test postfix/smtp[7919]: D5F2A984254: to=<frank@grey.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.11, delays=0.01/0.06/0/0.05, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisted, please try again later (sink) (in reply to RCPT TO command))
Nov 26 19:16:25 mta-test postfix/qmgr[7749]: DA7369848CD: from=<sender@ok.example>, size=501, nrcpt=4 (queue active)
Nov 26 19:16:25 mta-test postfix/smtp[7913]: DA7369848CD: to=<multi3@bounce.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0/0.06/0/0.01, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <multi3@bounce.example>: Recipient address rejected: User unknown (sink) (in reply to RCPT TO command))
Nov 26 19:16:25 mta-test postfix/smtp[7913]: DA7369848CD: to=<multi4@defer.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0/0.06/0/0.01, dsn=4.7.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 421 4.7.0 Try again later, closing connection. (sink) (in reply to RCPT TO command))
Nov 26 19:16:25 mta-test postfix/smtp[7913]: DA7369848CD: to=<multi1@ok.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0/0.06/0/0.01, dsn=4.4.2, status=deferred (lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO)
Nov 26 19:16:25 mta-test postfix/smtpd[7908]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <blocked@blocked.example>: Recipient address rejected: blocked by test policy; from=<sender@ok.example> to=<blocked@blocked.example> proto=ESMTP helo=<client.test>
Nov 26 19:16:25 mta-test postfix/smtpd[7908]: disconnect from localhost[127.0.0.1] ehlo=1 mail=10 rcpt=12/13 data=9 rset=1 quit=1 commands=34/35
Nov 26 19:16:26 mta-test postfix/bounce[7928]: D77AB9848CA: sender non-delivery notification: 03E8D984037
Nov 26 19:16:26 mta-test postfix/qmgr[7749]: 03E8D984037: from=<>, size=2590, nrcpt=1 (queue active)
Nov 26 19:16:26 mta-test postfix/smtp[7929]: 03E8D984037: to=<sender@ok.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.06, delays=0/0.01/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK586079)
Nov 26 19:16:27 mta-test postfix/gmail/smtp[7911]: D31A09848C7: to=<nouser7@gmail.com>, relay=127.0.0.1[127.0.0.1]:2525, conn_use=2, delay=1.4, delays=0/1.3/0/0.04, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser7@gmail.com>: Recipient address rejected: User unknown (sink) (in reply to RCPT TO command))
Nov 26 19:16:27 mta-test postfix/bounce[7928]: D31A09848C7: sender non-delivery notification: 3CB55984043
Nov 26 19:16:27 mta-test postfix/qmgr[7749]: D31A09848C7: removed
Nov 26 19:16:28 mta-test postfix/gmail/smtp[7911]: DA7369848CD: to=<multi2@gmail.com>, relay=127.0.0.1[127.0.0.1]:2525, conn_use=3, delay=2.4, delays=0/2.4/0/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK588342)
Nov 26 19:21:31 mta-test postfix/smtp[7919]: E34689848D3: to=<erin@defer.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=306, delays=306/0/0/0, dsn=4.7.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 421 4.7.0 Try again later, closing connection. (sink) (in reply to RCPT TO command))
Nov 26 19:21:31 mta-test postfix/qmgr[7749]: E34689848D3: from=<sender@ok.example>, status=expired, returned to sender
Nov 26 19:21:31 mta-test postfix/bounce[7921]: E34689848D3: sender non-delivery notification: D6208984038
Nov 26 19:21:31 mta-test postfix/qmgr[7749]: E34689848D3: removed
Nov 26 19:26:44 mta-test postfix/gmail/smtp[17976]: 54B1498439E: to=<alice@gmail.com>, relay=127.0.0.2[127.0.0.2]:2525, delay=0.07, delays=0.01/0.01/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK204407)
Nov 26 19:26:45 mta-test postfix/gmail/smtp[17976]: 55A6C984374: to=<bob@googlemail.com>, relay=127.0.0.2[127.0.0.2]:2525, delay=1.3, delays=0.01/1.3/0/0.04, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK205680)
Nov 26 19:26:44 mta-test postfix/smtp[17988]: 63AE69843A8: to=<multi1@ok.example>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.07, delays=0/0.02/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as SINK204479)
`), "\n")

type want struct {
	line      int // index in realLog
	outcome   model.Outcome
	rcpt      string
	status    string
	class     model.BounceClass
	transport string
	qid       string
	relay     string
	response  string
	time      string
}

const relay1 = "127.0.0.1[127.0.0.1]:2525"

func TestRealLog(t *testing.T) {
	said421 := "host 127.0.0.1[127.0.0.1] said: 421 4.7.0 Try again later, closing connection. (sink) (in reply to RCPT TO command)"
	wants := []want{
		{9, model.Delivered, "alice@gmail.com", "2.0.0", model.ClassNone, "gmail", "D19969848C5", relay1, "250 2.0.0 Ok: queued as SINK585934", "2026-11-26T19:16:25Z"},
		{11, model.Delivered, "carol@yahoo.com", "2.0.0", model.ClassNone, "smtp-yahoo", "D3DAC984253", relay1, "250 2.0.0 Ok: queued as SINK585940", "2026-11-26T19:16:25Z"},
		{12, model.Deferred, "erin@defer.example", "4.7.0", model.ClassSoft, "smtp", "D54BB9848C9", relay1, said421, "2026-11-26T19:16:25Z"},
		{13, model.Deferred, "frank@grey.example", "4.7.1", model.ClassSoft, "smtp", "D5F2A984254", relay1, "host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisted, please try again later (sink) (in reply to RCPT TO command)", "2026-11-26T19:16:25Z"},
		{15, model.Bounced, "multi3@bounce.example", "5.1.1", model.ClassHard, "smtp", "DA7369848CD", relay1, "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <multi3@bounce.example>: Recipient address rejected: User unknown (sink) (in reply to RCPT TO command)", "2026-11-26T19:16:25Z"},
		{16, model.Deferred, "multi4@defer.example", "4.7.0", model.ClassSoft, "smtp", "DA7369848CD", relay1, said421, "2026-11-26T19:16:25Z"},
		{17, model.Deferred, "multi1@ok.example", "4.4.2", model.ClassSoft, "smtp", "DA7369848CD", relay1, "lost connection with 127.0.0.1[127.0.0.1] while sending RCPT TO", "2026-11-26T19:16:25Z"},
		{22, model.Delivered, "sender@ok.example", "2.0.0", model.ClassNone, "smtp", "03E8D984037", relay1, "250 2.0.0 Ok: queued as SINK586079", "2026-11-26T19:16:26Z"},
		{23, model.Bounced, "nouser7@gmail.com", "5.1.1", model.ClassHard, "gmail", "D31A09848C7", relay1, "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nouser7@gmail.com>: Recipient address rejected: User unknown (sink) (in reply to RCPT TO command)", "2026-11-26T19:16:27Z"},
		{26, model.Delivered, "multi2@gmail.com", "2.0.0", model.ClassNone, "gmail", "DA7369848CD", relay1, "250 2.0.0 Ok: queued as SINK588342", "2026-11-26T19:16:28Z"},
		{27, model.Deferred, "erin@defer.example", "4.7.0", model.ClassSoft, "smtp", "E34689848D3", relay1, said421, "2026-11-26T19:21:31Z"},
		// qmgr's expiry of the message, attributed to its deferred recipient.
		{28, model.Expired, "erin@defer.example", "4.7.0", model.ClassSoft, "smtp", "E34689848D3", relay1, "expired, returned to sender", "2026-11-26T19:21:31Z"},
		{31, model.Delivered, "alice@gmail.com", "2.0.0", model.ClassNone, "gmail", "54B1498439E", "127.0.0.2[127.0.0.2]:2525", "250 2.0.0 Ok: queued as SINK204407", "2026-11-26T19:26:44Z"},
		{32, model.Delivered, "bob@googlemail.com", "2.0.0", model.ClassNone, "gmail", "55A6C984374", "127.0.0.2[127.0.0.2]:2525", "250 2.0.0 Ok: queued as SINK205680", "2026-11-26T19:26:45Z"},
		{33, model.Delivered, "multi1@ok.example", "2.0.0", model.ClassNone, "smtp", "63AE69843A8", relay1, "250 2.0.0 Ok: queued as SINK204479", "2026-11-26T19:26:44Z"},
	}
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	p := New(Options{Location: time.UTC, Now: func() time.Time { return now }})
	p.NewFile("/var/log/postfix.log", time.Time{}, nil)
	wi := 0
	for i, l := range realLog {
		evs, err := p.ParseLine([]byte(l+"\r"), nil)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		for _, ev := range evs {
			if wi >= len(wants) || wants[wi].line != i {
				t.Fatalf("line %d: unexpected event %+v", i, ev)
			}
			checkEvent(t, ev, wants[wi])
			wi++
		}
		if wi < len(wants) && wants[wi].line == i {
			t.Fatalf("line %d: no event, want %+v", i, wants[wi])
		}
	}
	if wi != len(wants) {
		t.Fatalf("%d of %d events", wi, len(wants))
	}
	// Left pending: D54BB9848C9, D5F2A984254 and DA7369848CD (2 recipients).
	if len(p.pending) != 3 || len(p.pending["DA7369848CD"].rcpts) != 2 {
		t.Errorf("pending: %+v", p.pending)
	}
}

func checkEvent(t *testing.T, ev model.Event, w want) {
	t.Helper()
	wt, _ := time.Parse(time.RFC3339Nano, w.time)
	got := want{w.line, ev.Outcome, ev.Recipient, ev.Status, ev.Class, ev.Transport, ev.QueueID, ev.Relay, ev.Response, w.time}
	if got != w || !ev.Time.Equal(wt) {
		t.Errorf("line %d:\n got %+v %v\nwant %+v", w.line, got, ev.Time, w)
	}
	if ev.Kind != "postfix" || ev.Domain != model.DomainOf(w.rcpt) || ev.Domain == "" {
		t.Errorf("line %d: kind %q domain %q", w.line, ev.Kind, ev.Domain)
	}
	if ev.Side != model.SideUnknown || ev.MTA != "" || ev.ISP != "" || ev.SourceIP != "" {
		t.Errorf("line %d: parser filled Side/MTA/ISP/SourceIP", w.line)
	}
}

func parseOne(t *testing.T, p *Parser, line string) (model.Event, bool) {
	t.Helper()
	evs, err := p.ParseLine([]byte(line), nil)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if len(evs) > 1 {
		t.Fatalf("%q: %d events", line, len(evs))
	}
	if len(evs) == 0 {
		return model.Event{}, false
	}
	return evs[0], true
}

func fixedNow(s string) Options {
	now, _ := time.Parse(time.RFC3339, s)
	return Options{Location: time.UTC, Now: func() time.Time { return now }}
}

func TestFormats(t *testing.T) {
	const tail = `: 3AAA01B2C: to=<u@Example.COM>, orig_to=<alias@example.com>, relay=mx.example.com[192.0.2.1]:25, conn_use=4, delay=0.5, delays=0.1/0/0.2/0.2, tls=verified, dsn=2.0.0, status=sent (250 ok)`
	cases := []struct {
		line, transport, time string
	}{
		{"Nov 26 19:16:25 h postfix/smtp[1]" + tail, "smtp", "2026-11-26T19:16:25Z"},
		{"Nov  6 09:16:25 h postfix-out/smtp[1]" + tail, "smtp", "2026-11-06T09:16:25Z"},
		{"Nov 6 09:16:25 h postfix/lmtp[1]" + tail, "lmtp", "2026-11-06T09:16:25Z"},
		{"Nov 06 09:16:25.250 h postfix/gmail/smtp[1]" + tail, "gmail", "2026-11-06T09:16:25.25Z"},
		{"Nov 26 19:16:25 h postfix/smtp-yahoo/smtp" + tail, "smtp-yahoo", "2026-11-26T19:16:25Z"},
		{"Nov 26 19:16:25 h postfix-eu/out-1/pipe[9]" + tail, "out-1", "2026-11-26T19:16:25Z"},
		{"2026-11-26T19:16:25.123456+00:00 h postfix/local[1]" + tail, "local", "2026-11-26T19:16:25.123456Z"},
		{"2026-11-26T19:16:25+01:00 h postfix/virtual[1]" + tail, "virtual", "2026-11-26T18:16:25Z"},
		{"2026-11-26T19:16:25Z h postfix/error[1]" + tail, "error", "2026-11-26T19:16:25Z"},
		{"2026-11-26T19:16:25 h postfix/retry[1]" + tail, "retry", "2026-11-26T19:16:25Z"},
		{"<22>1 2026-11-26T19:16:25.5Z h postfix/discard 123 - -" + strings.TrimPrefix(tail, ":"), "discard", "2026-11-26T19:16:25.5Z"},
		{"<22>1 2026-11-26T19:16:25.5Z h postfix/gmail/smtp 123 - [meta x=\"a\\]b\"][y z=\"1\"] \xef\xbb\xbf" + strings.TrimPrefix(tail, ": "), "gmail", "2026-11-26T19:16:25.5Z"},
	}
	for _, c := range cases {
		p := New(fixedNow("2026-11-27T00:00:00Z"))
		ev, ok := parseOne(t, p, c.line)
		if !ok {
			t.Errorf("%q: no event", c.line)
			continue
		}
		wt, _ := time.Parse(time.RFC3339Nano, c.time)
		if ev.Transport != c.transport || !ev.Time.Equal(wt) || ev.Recipient != "u@Example.COM" || ev.Domain != "example.com" ||
			ev.Outcome != model.Delivered || ev.Relay != "mx.example.com[192.0.2.1]:25" || ev.Status != "2.0.0" || ev.Response != "250 ok" || ev.QueueID != "3AAA01B2C" {
			t.Errorf("%q:\n got %+v", c.line, ev)
		}
	}
}

func TestReferenceLines(t *testing.T) {
	p := New(fixedNow("2026-11-27T00:00:00Z"))
	ev, _ := parseOne(t, p, "Jan 21 10:24:30 vpsjavierpzh postfix/smtp[25289]: A492F101017: to=<javierperezhidalgo01@gmail.com>, relay=gmail-smtp-in.l.google.com[173.194.76.26]:25, delay=7.8, delays=0.05/0.01/0.26/7.5, dsn=2.0.0, status=sent (250 2.0.0 OK  1611221070 h17si4006834wmq.57 - gsmtp)")
	if ev.Outcome != model.Delivered || ev.Time.Format(time.RFC3339) != "2026-01-21T10:24:30Z" || ev.Response != "250 2.0.0 OK  1611221070 h17si4006834wmq.57 - gsmtp" {
		t.Errorf("got %+v", ev)
	}
	ev, _ = parseOne(t, p, "Jan 21 10:24:30 h postfix/smtp[1]: 2298F5F619: to=<admin@corp.com>, relay=none, delay=89758, delays=89758/0.02/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to mail.corp.com[1.1.1.1]:25: Connection timed out)")
	if ev.Outcome != model.Held || ev.Status != "4.4.1" || ev.Relay != "none" || ev.Class != model.ClassSoft {
		t.Errorf("got %+v", ev)
	}
	ev, _ = parseOne(t, p, "Jan 21 10:24:30 h postfix/smtp[1]: 3D770111AF50: to=<username@corp.com>, relay=none, delay=1.2, delays=1.1/0/0.03/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=corp.com type=AAAA: Host not found)")
	if ev.Outcome != model.Bounced || ev.Status != "5.4.4" || ev.Class != model.ClassHard {
		t.Errorf("got %+v", ev)
	}
	// Long queue ids.
	ev, ok := parseOne(t, p, "Jan 21 10:24:30 h postfix/smtp[1]: 3Pt2mN2VXxznjll: to=<a@b.c>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=SOFTBOUNCE (would bounce)")
	if !ok || ev.QueueID != "3Pt2mN2VXxznjll" || ev.Outcome != model.Deferred {
		t.Errorf("long id: %+v", ev)
	}
}

func TestNoEvent(t *testing.T) {
	p := New(fixedNow("2026-11-27T00:00:00Z"))
	for _, l := range []string{
		"",
		"garbage",
		"Nov 26 19:16:25 h postfix/smtp[1]: NOQUEUE: to=<a@b.c>, relay=none, dsn=5.0.0, status=bounced (x)",
		"Nov 26 19:16:25 h postfix/smtp[1]: D54BB9848C9: host mx[1.2.3.4] said: 421 try later (in reply to RCPT TO command)",
		"Nov 26 19:16:25 h postfix/smtp[1]: warning: D54BB9848C9: to=<x>",
		"Nov 26 19:16:25 h postfix/smtpd[1]: D54BB9848C9: to=<a@b.c>, relay=none, dsn=5.0.0, status=bounced (x)",
		"Nov 26 19:16:25 h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=mx[1.2.3.4]:25, delay=1, delays=1/0/0/0, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
		"Nov 26 19:16:25 h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=mx[1.2.3.4]:25, delay=1, delays=1/0/0/0, dsn=5.1.1, status=undeliverable (550 5.1.1 no)",
		"Nov 26 19:16:25 h postfix/qmgr[1]: D54BB9848C9: from=<a@b.c>, status=expired, returned to sender", // nothing pending
		"Nov 26 19:16:25 h postfix/qmgr[1]: D54BB9848C9: skipped, still being delivered",
		"Nov 26 19:16:25 h postfix/smtp[1]: lowercase1: to=<a@b.c>, relay=none, dsn=5.0.0, status=bounced (x)",
	} {
		if evs, err := p.ParseLine([]byte(l), nil); err != nil || len(evs) != 0 {
			t.Errorf("%q: %v %v", l, evs, err)
		}
	}
}

func TestRejects(t *testing.T) {
	p := New(fixedNow("2026-11-27T00:00:00Z"))
	const pre = "Nov 26 19:16:25 h postfix/smtp[1]: D54BB9848C9: "
	for _, l := range []string{
		pre + "to=<alice@gmail.com>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08",
		pre + "to=<alice@gmail.com>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.08, delays=0/0/0/0, dsn=2.0.0, status=sant (ok)",
		pre + "to=<alice@gmail.com",
		pre + "to=<>, relay=none, delay=1, dsn=5.0.0, status=bounced (x)",
		"Nov 26 19:16:99 h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=none, delay=1, dsn=5.0.0, status=bounced (x)",
		"Foo 26 19:16:25 h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=none, delay=1, dsn=5.0.0, status=bounced (x)",
		"2026-13-26T19:16:25Z h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=none, delay=1, dsn=5.0.0, status=bounced (x)",
	} {
		_, err := p.ParseLine([]byte(l), nil)
		var re *ingest.RejectError
		if !errors.As(err, &re) {
			t.Errorf("%q: want reject, got %v", l, err)
		}
	}
	// Cut by the syslog size limit after the status: kept.
	ev, ok := parseOne(t, p, pre+"to=<a@b.c>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to mx[1.2.3.4]:25: Conn")
	if !ok || ev.Response != "connect to mx[1.2.3.4]:25: Conn" || ev.Outcome != model.Deferred {
		t.Errorf("truncated text: %+v", ev)
	}
	ev, ok = parseOne(t, p, pre+"to=<a@b.c>, relay=none, delay=1, status=bounced")
	if !ok || ev.Response != "" || ev.Status != "" || ev.Outcome != model.Bounced {
		t.Errorf("no text, no dsn: %+v", ev)
	}
}

func TestYear(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	line := func(ts string) string {
		return ts + " h postfix/smtp[1]: D54BB9848C9: to=<a@b.c>, relay=none, delay=1, dsn=2.0.0, status=sent (ok)"
	}
	type step struct{ ts, want string }
	cases := []struct {
		name  string
		mtime string // "" = use Now
		now   string
		steps []step
	}{
		{"mtime in new year", "2027-01-02T00:00:00Z", "2027-06-01T00:00:00Z", []step{{"Dec 31 23:00:00", "2026-12-31T23:00:00Z"}, {"Jan  1 01:00:00", "2027-01-01T01:00:00Z"}}},
		{"now just after new year", "", "2027-01-01T00:30:00Z", []step{{"Dec 31 23:59:59", "2026-12-31T23:59:59Z"}, {"Jan  1 00:20:00", "2027-01-01T00:20:00Z"}}},
		{"followed across new year", "2026-12-30T00:00:00Z", "2027-01-01T00:15:00Z", []step{{"Dec 29 23:00:00", "2026-12-29T23:00:00Z"}, {"Dec 31 23:59:00", "2026-12-31T23:59:00Z"}, {"Jan  1 00:00:05", "2027-01-01T00:00:05Z"}, {"Jan  1 00:10:00", "2027-01-01T00:10:00Z"}}},
		{"a day of slack", "2026-11-26T12:00:00Z", "2027-06-01T00:00:00Z", []step{{"Nov 27 11:00:00", "2026-11-27T11:00:00Z"}}},
		{"beyond a day", "2026-11-26T12:00:00Z", "2027-06-01T00:00:00Z", []step{{"Nov 28 13:00:00", "2025-11-28T13:00:00Z"}}},
		// A rarely rotated file: old lines stay in the past year even though
		// they would not be in the future.
		{"old lines of a long file", "2026-01-03T00:00:00Z", "2026-11-01T00:00:00Z", []step{{"Jun  1 00:00:00", "2025-06-01T00:00:00Z"}, {"Jul  1 00:00:00", "2025-07-01T00:00:00Z"}, {"Jan  2 00:00:00", "2026-01-02T00:00:00Z"}, {"Jan  3 00:00:00", "2026-01-03T00:00:00Z"}, {"Mar  3 00:00:00", "2026-03-03T00:00:00Z"}}},
	}
	for _, c := range cases {
		now := at(c.now)
		p := New(Options{Location: time.UTC, Now: func() time.Time { return now }})
		var mt time.Time
		if c.mtime != "" {
			mt = at(c.mtime)
		}
		p.NewFile("f", mt, nil)
		for _, s := range c.steps {
			ev, ok := parseOne(t, p, line(s.ts))
			if !ok || !ev.Time.Equal(at(s.want)) {
				t.Errorf("%s: %s → %v, want %s", c.name, s.ts, ev.Time, s.want)
			}
		}
	}
	// Location applies to classic timestamps.
	ny, err := time.LoadLocation("America/New_York")
	if err == nil {
		p := New(Options{Location: ny, Now: func() time.Time { return at("2026-12-01T00:00:00Z") }})
		ev, _ := parseOne(t, p, line("Nov 26 19:16:25"))
		if !ev.Time.Equal(at("2026-11-27T00:16:25Z")) {
			t.Errorf("location: %v", ev.Time)
		}
	}
}

// Domain keys are host names or nothing, whatever the to=<> holds.
func TestDomainKeys(t *testing.T) {
	p := New(fixedNow("2026-11-02T12:00:00Z"))
	for addr, want := range map[string]string{
		`"neko..nyaan"@Example.ORG`: "example.org",
		`user@BÜCHER.de`:            "xn--bcher-kva.de",
		`user@[192.0.2.1]`:          "",
		`root`:                      "",
		`x@a b.example`:             "",
		`x@exa"mple.com`:            "",
	} {
		ev, ok := parseOne(t, p, "Nov  2 10:00:00 mx postfix/smtp[1]: AB12CD34: to=<"+addr+">, relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)")
		if !ok || ev.Domain != want || ev.Recipient != addr {
			t.Errorf("to=<%s>: domain %q recipient %q, want %q", addr, ev.Domain, ev.Recipient, want)
		}
	}
}
