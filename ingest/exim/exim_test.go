package exim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// realLog is reference/real-mtas.md §2.4: Exim 4.96 main log.
var realLog = strings.Split(strings.TrimSpace(`
2026-11-26 19:18:40 exim 4.96 daemon started: pid=11001, -q10s, listening for SMTP on [127.0.0.1]:2526
2026-11-26 19:18:41 Start queue run: pid=11003
2026-11-26 19:18:45 1xWezV-0002t1-28 <= sender@ok.example H=(client.test) [127.0.0.1] P=esmtp S=371 for alice@gmail.com
2026-11-26 19:18:45 1xWezV-0002t1-28 => alice@gmail.com R=gmail T=remote_smtp_gmail H=127.0.0.1 [127.0.0.1] C="250 2.0.0 Ok: queued as SINK725733" QT=0s DT=0s
2026-11-26 19:18:45 1xWezV-0002t1-28 Completed
2026-11-26 19:18:45 1xWezV-0002t1-2A <= sender@ok.example H=(client.test) [127.0.0.1] P=esmtp S=375 for nouser7@gmail.com
2026-11-26 19:18:45 1xWezV-0002t1-2A ** nouser7@gmail.com R=gmail T=remote_smtp_gmail H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<nouser7@gmail.com>: 550 5.1.1 <nouser7@gmail.com>: Recipient address rejected: User unknown (sink) DT=0s
2026-11-26 19:18:45 1xWezV-0002tT-2R <= <> R=1xWezV-0002t1-2A U=Debian-exim P=local S=1892 for sender@ok.example
2026-11-26 19:18:45 1xWezV-0002t1-2A Completed
2026-11-26 19:18:45 1xWezV-0002t1-2F == erin@defer.example R=smarthost T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1] DT=0s: SMTP error from remote mail server after RCPT TO:<erin@defer.example>: 421 4.7.0 Try again later, closing connection. (sink)
2026-11-26 19:18:45 1xWezV-0002t1-2G == frank@grey.example R=smarthost T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1] DT=0s: SMTP error from remote mail server after RCPT TO:<frank@grey.example>: 451 4.7.1 Greylisted, please try again later (sink)
2026-11-26 19:18:45 H=(client.test) [127.0.0.1] F=<sender@ok.example> rejected RCPT <blocked@blocked.example>: blocked by test policy
2026-11-26 19:18:45 1xWezV-0002t1-2L <= sender@ok.example H=(client.test) [127.0.0.1] P=esmtp S=416 for multi1@ok.example multi2@gmail.com multi3@bounce.example multi4@defer.example
2026-11-26 19:18:45 1xWezV-0002t1-2L H=127.0.0.1 [127.0.0.1]: Remote host closed connection in response to pipelined DATA
2026-11-26 19:18:45 1xWezV-0002t1-2L == multi1@ok.example R=smarthost T=remote_smtp defer (-18) H=127.0.0.1 [127.0.0.1] DT=0s: Remote host closed connection in response to pipelined DATA
2026-11-26 19:18:45 1xWezV-0002t1-2L ** multi3@bounce.example R=smarthost T=remote_smtp H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail server after RCPT TO:<multi3@bounce.example>: 550 5.1.1 <multi3@bounce.example>: Recipient address rejected: User unknown (sink) DT=0s
2026-11-26 19:18:45 1xWezV-0002t1-2L == multi4@defer.example R=smarthost T=remote_smtp defer (-44) H=127.0.0.1 [127.0.0.1] DT=0s: SMTP error from remote mail server after RCPT TO:<multi4@defer.example>: 421 4.7.0 Try again later, closing connection. (sink)
2026-11-26 19:18:45 1xWezV-0002t1-2L => multi2@gmail.com R=gmail T=remote_smtp_gmail H=127.0.0.1 [127.0.0.1] C="250 2.0.0 Ok: queued as SINK725796" QT=0s DT=0s
2026-11-26 19:18:45 1xWezV-0002tZ-2Y == sender@ok.example R=smarthost T=remote_smtp defer (-54) DT=0s: retry time not reached for any host for 'ok.example'
2026-11-26 19:18:51 1xWezV-0002t1-2L => multi1@ok.example R=smarthost T=remote_smtp H=127.0.0.1 [127.0.0.1] C="250 2.0.0 Ok: queued as SINK731138" QT=5s DT=0s
2026-11-26 19:19:01 1xWezV-0002t1-2L == multi4@defer.example routing defer (-52) DT=0s: retry time not reached
2026-11-26 19:23:51 1xWezW-0002uV-0s ** multi4@defer.example: retry timeout exceeded
2026-11-26 19:23:51 1xWf4R-00047F-2x <= <> R=1xWezW-0002uV-0s U=Debian-exim P=local S=1950 for sender@ok.example
2026-11-26 19:23:52 1xWezV-0002t1-2L ** multi4@defer.example: retry timeout exceeded
2026-11-26 19:23:52 1xWezV-0002t1-2L Completed
2026-11-26 19:26:44 1xWf7E-0004hP-2D => alice@gmail.com R=gmail T=remote_smtp_gmail H=127.0.0.2 [127.0.0.2] C="250 2.0.0 Ok: queued as SINK204739" QT=0s DT=0s
`), "\n")

type want struct {
	line      int
	outcome   model.Outcome
	rcpt      string
	status    string
	class     model.BounceClass
	router    string
	transport string
	relay     string
	qid       string
	response  string
	time      string
}

const lo = "127.0.0.1 [127.0.0.1]"

func TestRealLog(t *testing.T) {
	e421 := "SMTP error from remote mail server after RCPT TO:<%s>: 421 4.7.0 Try again later, closing connection. (sink)"
	wants := []want{
		{3, model.Delivered, "alice@gmail.com", "2.0.0", model.ClassNone, "gmail", "remote_smtp_gmail", lo, "1xWezV-0002t1-28", "250 2.0.0 Ok: queued as SINK725733", "2026-11-26T19:18:45Z"},
		{6, model.Bounced, "nouser7@gmail.com", "5.1.1", model.ClassHard, "gmail", "remote_smtp_gmail", lo, "1xWezV-0002t1-2A", "SMTP error from remote mail server after RCPT TO:<nouser7@gmail.com>: 550 5.1.1 <nouser7@gmail.com>: Recipient address rejected: User unknown (sink)", "2026-11-26T19:18:45Z"},
		{9, model.Deferred, "erin@defer.example", "4.7.0", model.ClassSoft, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2F", strings.Replace(e421, "%s", "erin@defer.example", 1), "2026-11-26T19:18:45Z"},
		{10, model.Deferred, "frank@grey.example", "4.7.1", model.ClassSoft, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2G", "SMTP error from remote mail server after RCPT TO:<frank@grey.example>: 451 4.7.1 Greylisted, please try again later (sink)", "2026-11-26T19:18:45Z"},
		{14, model.Deferred, "multi1@ok.example", "", model.ClassSoft, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2L", "Remote host closed connection in response to pipelined DATA", "2026-11-26T19:18:45Z"},
		{15, model.Bounced, "multi3@bounce.example", "5.1.1", model.ClassHard, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2L", "SMTP error from remote mail server after RCPT TO:<multi3@bounce.example>: 550 5.1.1 <multi3@bounce.example>: Recipient address rejected: User unknown (sink)", "2026-11-26T19:18:45Z"},
		{16, model.Deferred, "multi4@defer.example", "4.7.0", model.ClassSoft, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2L", strings.Replace(e421, "%s", "multi4@defer.example", 1), "2026-11-26T19:18:45Z"},
		{17, model.Delivered, "multi2@gmail.com", "2.0.0", model.ClassNone, "gmail", "remote_smtp_gmail", lo, "1xWezV-0002t1-2L", "250 2.0.0 Ok: queued as SINK725796", "2026-11-26T19:18:45Z"},
		{18, model.Held, "sender@ok.example", "", model.ClassSoft, "smarthost", "remote_smtp", "", "1xWezV-0002tZ-2Y", "retry time not reached for any host for 'ok.example'", "2026-11-26T19:18:45Z"},
		{19, model.Delivered, "multi1@ok.example", "2.0.0", model.ClassNone, "smarthost", "remote_smtp", lo, "1xWezV-0002t1-2L", "250 2.0.0 Ok: queued as SINK731138", "2026-11-26T19:18:51Z"},
		{20, model.Held, "multi4@defer.example", "", model.ClassSoft, "", "", "", "1xWezV-0002t1-2L", "retry time not reached", "2026-11-26T19:19:01Z"},
		{21, model.Expired, "multi4@defer.example", "", model.ClassSoft, "", "", "", "1xWezW-0002uV-0s", "retry timeout exceeded", "2026-11-26T19:23:51Z"},
		{23, model.Expired, "multi4@defer.example", "", model.ClassSoft, "", "", "", "1xWezV-0002t1-2L", "retry timeout exceeded", "2026-11-26T19:23:52Z"},
		{25, model.Delivered, "alice@gmail.com", "2.0.0", model.ClassNone, "gmail", "remote_smtp_gmail", "127.0.0.2 [127.0.0.2]", "1xWf7E-0004hP-2D", "250 2.0.0 Ok: queued as SINK204739", "2026-11-26T19:26:44Z"},
	}
	p := New(Options{Location: time.UTC})
	p.NewFile("mainlog", time.Time{}, nil)
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
			check(t, ev, wants[wi])
			wi++
		}
		if wi < len(wants) && wants[wi].line == i {
			t.Fatalf("line %d: no event, want %+v", i, wants[wi])
		}
	}
	if wi != len(wants) {
		t.Fatalf("%d of %d events", wi, len(wants))
	}
}

func check(t *testing.T, ev model.Event, w want) {
	t.Helper()
	wt, err := time.Parse(time.RFC3339Nano, w.time)
	if err != nil {
		t.Fatal(err)
	}
	got := want{w.line, ev.Outcome, ev.Recipient, ev.Status, ev.Class, ev.Router, ev.Transport, ev.Relay, ev.QueueID, ev.Response, w.time}
	if got != w || !ev.Time.Equal(wt) {
		t.Errorf("line %d:\n got %+v %v\nwant %+v", w.line, got, ev.Time, w)
	}
	if ev.Kind != "exim" || ev.Domain != model.DomainOf(w.rcpt) {
		t.Errorf("line %d: kind %q domain %q", w.line, ev.Kind, ev.Domain)
	}
	if ev.Side != model.SideUnknown || ev.MTA != "" || ev.ISP != "" {
		t.Errorf("line %d: parser filled Side/MTA/ISP", w.line)
	}
}

func TestSpecAndVariants(t *testing.T) {
	cases := []struct {
		line string
		w    want
		ip   string
	}{
		// Exim spec examples (mta-formats.md §4.1).
		{"2002-10-31 09:00:10 16ZCW1-0005MB-00 => monk@holistic.fict.example R=dnslookup T=remote_smtp H=holistic.fict.example [192.168.234.234]",
			want{0, model.Delivered, "monk@holistic.fict.example", "", model.ClassNone, "dnslookup", "remote_smtp", "holistic.fict.example [192.168.234.234]", "16ZCW1-0005MB-00", "", "2002-10-31T09:00:10Z"}, ""},
		{"2002-12-19 16:20:23 16aiQz-0002Q5-00 == marvin@endrest.example R=dnslookup T=smtp defer (146): Connection refused",
			want{0, model.Deferred, "marvin@endrest.example", "", model.ClassSoft, "dnslookup", "smtp", "", "16aiQz-0002Q5-00", "Connection refused", "2002-12-19T16:20:23Z"}, ""},
		{"2002-07-11 07:14:17 17SXDU-000189-00 ** ace400@pb.example R=dnslookup T=remote_smtp: SMTP error from remote mailer after pipelined RCPT TO:<ace400@pb.example>: host pbmail3.py.example [192.168.63.111]: 553 5.3.0 <ace400@pb.example>...Addressee unknown",
			want{0, model.Bounced, "ace400@pb.example", "5.3.0", model.ClassSoft, "dnslookup", "remote_smtp", "", "17SXDU-000189-00", "SMTP error from remote mailer after pipelined RCPT TO:<ace400@pb.example>: host pbmail3.py.example [192.168.63.111]: 553 5.3.0 <ace400@pb.example>...Addressee unknown", "2002-07-11T07:14:17Z"}, ""},
		{`2012-02-13 14:57:25 1RwtZn-000Hp3-BF => kumqpqobomitzdu@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [209.85.137.27] X=TLSv1:RC4-SHA:128 C="250 2.0.0 OK 1329130645 b5si5289243lbn.22"`,
			want{0, model.Delivered, "kumqpqobomitzdu@gmail.com", "2.0.0", model.ClassNone, "dnslookup", "remote_smtp", "gmail-smtp-in.l.google.com [209.85.137.27]", "1RwtZn-000Hp3-BF", "250 2.0.0 OK 1329130645 b5si5289243lbn.22", "2012-02-13T14:57:25Z"}, ""},
		// 4.97+ ids, millisec, zone, pid, port, reused connection, interface.
		{`2026-11-26 19:18:45.123 +0100 [4242] 16VDhn-000000001bo-D342 => bob@Yahoo.COM R=yahoo T=remote_smtp_yahoo H=mta7.am0.yahoodns.net [67.195.204.72]:25* I=[203.0.113.10]:40312 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes K C="250 ok dirdel" QT=1s DT=0.4s`,
			want{0, model.Delivered, "bob@Yahoo.COM", "", model.ClassNone, "yahoo", "remote_smtp_yahoo", "mta7.am0.yahoodns.net [67.195.204.72]", "16VDhn-000000001bo-D342", "250 ok dirdel", "2026-11-26T18:18:45.123Z"}, "203.0.113.10"},
		{`2026-11-26 19:18:45 16VDhn-000000001bo-D342 -> carol@yahoo.com R=yahoo T=remote_smtp_yahoo H=[67.195.204.72] C="250 quoted "inner" reply"`,
			want{0, model.Delivered, "carol@yahoo.com", "", model.ClassNone, "yahoo", "remote_smtp_yahoo", "[67.195.204.72]", "16VDhn-000000001bo-D342", `250 quoted "inner" reply`, "2026-11-26T19:18:45Z"}, ""},
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 >> dave@gmx.de R=dnslookup T=remote_smtp H=mx00.gmx.net [212.227.15.9] C="250 2.6.0 Message accepted"`,
			want{0, model.Delivered, "dave@gmx.de", "2.6.0", model.ClassNone, "dnslookup", "remote_smtp", "mx00.gmx.net [212.227.15.9]", "1xWezV-0002t1-28", "250 2.6.0 Message accepted", "2026-11-26T19:18:45Z"}, ""},
		// Local and pipe deliveries: the address is in <…> or (…).
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 => erin <erin@ok.example> R=virtual_user T=dovecot_delivery C="250 2.0.0 <erin@ok.example> Saved"`,
			want{0, model.Delivered, "erin@ok.example", "2.0.0", model.ClassNone, "virtual_user", "dovecot_delivery", "", "1xWezV-0002t1-28", "250 2.0.0 <erin@ok.example> Saved", "2026-11-26T19:18:45Z"}, ""},
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 => |/usr/bin/vacation -a erin erin@ok.example (erin@ok.example) <erin@ok.example> R=aliases T=address_pipe`,
			want{0, model.Delivered, "erin@ok.example", "", model.ClassNone, "aliases", "address_pipe", "", "1xWezV-0002t1-28", "", "2026-11-26T19:18:45Z"}, ""},
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 ** frank <frank@ok.example>: Unrouteable address`,
			// No router takes the domain: host unknown, hard (model.ClassifyBounce).
			want{0, model.Bounced, "frank@ok.example", "", model.ClassHard, "", "", "", "1xWezV-0002t1-28", "Unrouteable address", "2026-11-26T19:18:45Z"}, ""},
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 ** /home/frank/mbox (frank@ok.example): failed to open mailbox`,
			want{0, model.Bounced, "frank@ok.example", "", model.ClassSoft, "", "", "", "1xWezV-0002t1-28", "failed to open mailbox", "2026-11-26T19:18:45Z"}, ""},
		{`2026-11-26 19:18:45 1xWezV-0002t1-28 == gina@outlook.com R=dnslookup T=remote_smtp defer (-46) H=outlook-com.olc.protection.outlook.com [52.101.42.7]:25: SMTP error from remote mail server after MAIL FROM:<s@x> SIZE=1234: 451 4.7.650 The mail server [203.0.113.10] has been temporarily rate limited due to IP reputation. (S775)`,
			want{0, model.Deferred, "gina@outlook.com", "4.7.650", model.ClassSoft, "dnslookup", "remote_smtp", "outlook-com.olc.protection.outlook.com [52.101.42.7]", "1xWezV-0002t1-28", "SMTP error from remote mail server after MAIL FROM:<s@x> SIZE=1234: 451 4.7.650 The mail server [203.0.113.10] has been temporarily rate limited due to IP reputation. (S775)", "2026-11-26T19:18:45Z"}, ""},
	}
	for _, c := range cases {
		p := New(Options{Location: time.UTC})
		evs, err := p.ParseLine([]byte(c.line), nil)
		if err != nil || len(evs) != 1 {
			t.Errorf("%q: %v %v", c.line, evs, err)
			continue
		}
		check(t, evs[0], c.w)
		if evs[0].SourceIP != c.ip {
			t.Errorf("%q: source ip %q", c.line, evs[0].SourceIP)
		}
	}
}

func TestNoEventAndRejects(t *testing.T) {
	p := New(Options{})
	for _, l := range []string{
		"",
		"2026-11-26 19:18:45",
		"2026-11-26 19:18:45 1xWezV-0002t1-28 *> alice@gmail.com R=gmail T=remote_smtp_gmail",
		"2026-11-26 19:18:45 1xWezV-0002t1-28 Completed",
		"2026-11-26 19:18:45 1xWezV-0002t1-28 Frozen",
		"2026-11-26 19:18:45 1xWezV-0002t1-2 => short@id.example",
		"2026-11-26 19:18:45 1xWezV_0002t1-28 => bad@id.example",
		"2026-11-26 19:18:45 1xWezV-0002t1-28 (= fake@reject.example",
		"2026-11-26T19:18:45 1xWezV-0002t1-28 => iso@t.example",
	} {
		if evs, err := p.ParseLine([]byte(l), nil); err != nil || len(evs) != 0 {
			t.Errorf("%q: %v %v", l, evs, err)
		}
	}
	for _, l := range []string{
		"2026-11-26 19:18:45 1xWezV-0002t1-28 => ",
		"2026-11-26 19:18:45 1xWezV-0002t1-28 ==  R=x",
		"2026-13-26 19:18:45 1xWezV-0002t1-28 => a@b.c R=x",
		"2026-11-26 19:18:45 +9900 1xWezV-0002t1-28 => a@b.c R=x",
	} {
		_, err := p.ParseLine([]byte(l), nil)
		var re *ingest.RejectError
		if !errors.As(err, &re) {
			t.Errorf("%q: want reject, got %v", l, err)
		}
	}
}

// A dead site past the retry cutoff is an expiry, not a bounce (seen in the
// real-MTA test's Exim 4.96 log).
func TestDeadSiteGiveUpIsExpired(t *testing.T) {
	p := New(Options{Location: time.UTC})
	line := "2026-11-27 03:09:51 1xWezV-0002t1-2L ** u1@down.example R=smarthost T=remote_smtp: all hosts for 'down.example' have been failing for a long time (and retry time not reached)"
	evs, err := p.ParseLine([]byte(line), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %v %v", evs, err)
	}
	if evs[0].Outcome != model.Expired {
		t.Errorf("outcome %v, want expired", evs[0].Outcome)
	}
}

// Special delivery targets (Exim spec, redirect router: pipes, files,
// :blackhole:, autoreplies) log the target first and the recipient in
// "<original>" or "(parent)"; a quoted local part may hold '@'. The
// recipient is the address, and every domain key is a host name or empty.
func TestSpecialTargets(t *testing.T) {
	pre := "2026-11-26 19:18:45 1xWezV-0002t1-2A "
	cases := []struct {
		line, rcpt, domain string
		outcome            model.Outcome
	}{
		{"** |/usr/local/bin/tickets <support@help.example> R=tickets T=address_pipe: Child process of address_pipe transport returned 127 (could mean unable to exec or command does not exist) from command: /usr/local/bin/tickets",
			"support@help.example", "help.example", model.Bounced},
		{"=> |/usr/bin/procmail -d joe (joe@local.example) <joe.alias@local.example> R=userforward T=address_pipe",
			"joe.alias@local.example", "local.example", model.Delivered},
		{"=> /home/ann/mail/inbox <ann@files.example> R=userforward T=address_file", "ann@files.example", "files.example", model.Delivered},
		{"=> :blackhole: <dropped@sink.example> R=system_aliases", "dropped@sink.example", "sink.example", model.Delivered},
		{"=> >alice@away.example,bob@away.example <orig@away.example> R=vacation T=autoreply", "orig@away.example", "away.example", model.Delivered},
		{`=> "abc@def"@quoted.example <"abc@def"@quoted.example> R=dnslookup T=remote_smtp H=mx.quoted.example [192.0.2.4] C="250 ok"`, `"abc@def"@quoted.example`, "quoted.example", model.Delivered},
		{`** alias@Example.ORG <"abc def@x"@Example.ORG>: Unrouteable address`, "alias@Example.ORG", "example.org", model.Bounced},
		{"=> user@BÜCHER.de R=dnslookup T=remote_smtp H=mx.xn--bcher-kva.de [192.0.2.9]", "user@BÜCHER.de", "xn--bcher-kva.de", model.Delivered},
		// No address anywhere: counted, without a domain.
		{"** |/usr/bin/broken R=x T=address_pipe: Child process of address_pipe transport returned 1", "|/usr/bin/broken", "", model.Bounced},
		{"=> user@[192.0.2.7] R=literal T=remote_smtp H=[192.0.2.7]", "user@[192.0.2.7]", "", model.Delivered},
	}
	for _, c := range cases {
		p := New(Options{Location: time.UTC})
		evs, err := p.ParseLine([]byte(pre+c.line), nil)
		if err != nil || len(evs) != 1 {
			t.Errorf("%s: %v %+v", c.line, err, evs)
			continue
		}
		ev := evs[0]
		if ev.Recipient != c.rcpt || ev.Domain != c.domain || ev.Outcome != c.outcome {
			t.Errorf("%s:\n got rcpt %q domain %q %v\nwant rcpt %q domain %q %v", c.line, ev.Recipient, ev.Domain, ev.Outcome, c.rcpt, c.domain, c.outcome)
		}
	}
	// The failed pipe is no dead mailbox.
	p := New(Options{Location: time.UTC})
	evs, _ := p.ParseLine([]byte(pre+cases[0].line), nil)
	if len(evs) == 1 && evs[0].Class == model.ClassHard {
		t.Errorf("failed pipe classed hard: %+v", evs[0])
	}
}

func TestQuotedLocalPartLoggedUnquoted(t *testing.T) {
	// As the real Exim 4.96 of TestEximSpecialTargets logs it.
	p := New(Options{Location: time.UTC})
	evs, err := p.ParseLine([]byte(`2026-12-07 21:47:27 1xagYR-0008Ka-0i ** abc@def@local.example <"abc@def"@local.example>: Unrouteable address DT=0s`), nil)
	if err != nil || len(evs) != 1 || evs[0].Recipient != `"abc@def"@local.example` || evs[0].Domain != "local.example" || evs[0].Response != "Unrouteable address" {
		t.Fatalf("%v %+v", err, evs)
	}
}
