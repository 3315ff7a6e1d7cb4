package pmta

import (
	"errors"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/lex"
	"cutover/model"
)

// Headers for the manual's sample lines (mta-formats.md §1.3, §1.6).
const (
	hdrDefault = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool"
	hdrTQ      = "type,timeLogged,dsnStatus,dsnDiag,dsnMta,dlvType,dlvSourceIp,dlvDestinationIp,vmta,queue"
	hdrRB      = "type,timeLogged,orig,rcpt,orcpt,dsnStatus,dsnDiag,dsnMta,dsnReportingMta,bounceCat,srcType,srcMta,envId"
	hdrR       = "type,timeLogged,orig,rcpt,orcpt,srcType,srcMta,rcvSourceIp,rcvDestinationIp,vmta,jobId,envId"
	hdrUnion   = "type,timeLogged,timeQueued,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId,queue,vmtaPool,header_x-sp-subaccount-id,header_x-sp-message-id,repSourceIp,feedbackType,format,userAgent,reportingMta,reportedDomain,header_From,header_Return-Path,header_X-job,header_Subject,rcvSourceIp,rcvSourceIp,dsnReportingMta"
	hdrV4      = "type,timeLogged,timeQueued,timeImprinted,orig,rcpt,orcpt,dsnAction,dsnStatus,dsnDiag,dsnMta,bounceCat,srcType,srcMta,dlvType,dlvSourceIp,dlvDestinationIp,dlvEsmtpAvailable,dlvSize,vmta,jobId,envId"
	hdrMagic   = "type,timeQueued,bounceCat,vmta,orig,rcpt,srcMta,dlvSourceIp,jobId,dsnStatus,dsnMta"
	hdrManual  = "type,timeLogged,orig,rcpt,dlvSourceIp,bounceCat"

	lineD  = `d,2019-02-08 21:54:05+0000,2019-02-08 21:54:05+0000,AA-D=1181.com@bounce.bar.com,D@1181.com,,relayed,2.0.0 (success),smtp;250 DATA ok,foo.int.port25.com (10.1.2.3),,api,foo.int.port25.com (127.0.0.1),smtp,10.1.2.3,10.1.2.3,"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8",41159,vmta48,JoBID29546016861868,,1181.com/vmta48,`
	lineB  = `b,2019-02-08 21:53:41+0000,2019-02-08 21:53:41+0000,CB-A=yahoo.com@bounce.bar.com,A@yahoo.com,,failed,5.7.1 (delivery not authorized),smtp;554 5.7.1 Denied - Spam Suspected - http://www.w357sfhsjhf873.net/services/spamwatch/blocked.php,foo.int.bar.com (10.1.2.3),spam-related,api,foo.int.bar.com (127.0.0.1),smtp,10.1.2.3,10.1.2.3,"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8",,vmta18,,,yahoo.rollup/vmta18,`
	lineT  = `t,2019-02-08 21:53:54+0000,2019-02-08 21:53:54+0000,DB.AD.G.AA.AB-DA=yahoo.fr@bounce.bar.com,DA@yahoo.fr,,delayed,4.7.0 (other or undefined security status),smtp;421 4.7.0 mx002.roc2.bluetie.com Error: too many errors,foo.int.bar.com (10.1.2.165),policy-related,api,foo.int.bar.com (127.0.0.1),smtp,10.59.14.69,10.1.2.165,"ENHANCEDSTATUSCODES,8BITMIME,SMTPUTF8",,vmta21,,,yahoo.rollup/vmta21,`
	lineTQ = `tq,2019-02-08 21:53:39+0000,4.4.1 (no answer from host),,mx.xn--bcher-kva.de (87.98.150.101),smtp,0.0.0.0,87.98.150.101,vmta29,bücher.de/vmta29`
	lineR  = `r,2010-04-17 16:19:57-0400,test@port25.com,test@port25.com,,smtp,tesFeeder (192.168.25.56),192.168.25.56,192.168.25.11,vmta1,job2,envid1234`
	lineRB = `rb,2010-12-01 14:24:44-0500,bounce@bounce.com,lksjflkj@somedomain.com,,5.1.1 (bad destination mailbox address),"smtp;550 5.1.1 no such local recipient: <lksjflkj@somedomain.com> in ""RCPT TO:<lksjflkj@somedomain.com>""",mail.remotedomain.com (169.3.169.30),my.local.server.com,bad-mailbox,smtp,my.local.server.com (192.168.0.150),`
	lineF  = `f,2010-04-12 11:40:37-0400,arf,AOL SComp,,,,mail1.domain.com,169.63.151.30`
	lineV4 = `d,2014-08-24 16:00:14+0530,2014-07-10 16:00:02+0530,,Emailstatements.cards@hdfcbank.net,VJAYPRAKASH@YMAIL.COM,,relayed,2.0.0 (success),smtp;250 ok dirdel,mta7.am0.yahoodns.net (66.196.118.35),success,smtp,hbdpstmt3.hdfcbank.com (202.154.168.163),smtp,172.30.149.109,66.196.118.35,"PIPELINING,8BITMIME,SIZE,STARTTLS",155704,CAMPAIGN,,`
	lineM1 = `b,2016-05-29 01:10:51+0200,bad-domain,vmta-mymta04,mailwizz@example.com,XXX@domain.com,sourcemta.domain.com (0.0.0.0),1.1.1.1,,5.1.2 (bad destination system: no such domain),`
	lineM2 = `b,2016-05-29 01:10:23+0200,bad-mailbox,vmta-mymta03,mailwizz@example.com,YYY@anotherdomain.com,sourcemta.domain.com (0.0.0.0),1.1.1.1,,5.1.1 (bad destination mailbox address),mx1.destindomain.com (2.2.2.2)`
)

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04:05-0700", s)
	if err != nil {
		panic(err)
	}
	return t
}

type want struct {
	outcome   model.Outcome
	rcpt      string
	domain    string
	status    string
	class     model.BounceClass
	vmta      string
	pool      string
	sourceIP  string
	relay     string
	bounceCat string
	response  string
	time      time.Time
}

func check(t *testing.T, name string, ev model.Event, w want) {
	t.Helper()
	if ev.Kind != "pmta" {
		t.Errorf("%s: kind %q", name, ev.Kind)
	}
	got := want{ev.Outcome, ev.Recipient, ev.Domain, ev.Status, ev.Class, ev.VMTA, ev.Pool, ev.SourceIP, ev.Relay, ev.BounceCat, ev.Response, ev.Time}
	if !got.time.Equal(w.time) {
		t.Errorf("%s: time %v, want %v", name, got.time, w.time)
	}
	got.time = w.time
	if got != w {
		t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
	}
	if ev.Side != model.SideUnknown || ev.MTA != "" || ev.ISP != "" {
		t.Errorf("%s: parser filled Side/MTA/ISP", name)
	}
}

func TestManualSamples(t *testing.T) {
	cases := []struct {
		name, header, line string
		want               *want // nil: no event
	}{
		{"d", hdrDefault, lineD, &want{model.Delivered, "D@1181.com", "1181.com", "2.0.0", model.ClassNone, "vmta48", "", "10.1.2.3", "foo.int.port25.com (10.1.2.3)", "", "250 DATA ok", ts("2019-02-08 21:54:05+0000")}},
		{"b", hdrDefault, lineB, &want{model.Bounced, "A@yahoo.com", "yahoo.com", "5.7.1", model.ClassSoft, "vmta18", "", "10.1.2.3", "foo.int.bar.com (10.1.2.3)", "spam-related", "554 5.7.1 Denied - Spam Suspected - http://www.w357sfhsjhf873.net/services/spamwatch/blocked.php", ts("2019-02-08 21:53:41+0000")}},
		{"t", hdrDefault, lineT, &want{model.Deferred, "DA@yahoo.fr", "yahoo.fr", "4.7.0", model.ClassSoft, "vmta21", "", "10.59.14.69", "foo.int.bar.com (10.1.2.165)", "policy-related", "421 4.7.0 mx002.roc2.bluetie.com Error: too many errors", ts("2019-02-08 21:53:54+0000")}},
		{"tq", hdrTQ, lineTQ, &want{model.Held, "", "xn--bcher-kva.de", "4.4.1", model.ClassSoft, "vmta29", "", "", "mx.xn--bcher-kva.de (87.98.150.101)", "", "4.4.1 (no answer from host)", ts("2019-02-08 21:53:39+0000")}},
		{"r", hdrR, lineR, nil},
		{"rb", hdrRB, lineRB, &want{model.Bounced, "lksjflkj@somedomain.com", "somedomain.com", "5.1.1", model.ClassHard, "", "", "", "mail.remotedomain.com (169.3.169.30)", "bad-mailbox", `550 5.1.1 no such local recipient: <lksjflkj@somedomain.com> in "RCPT TO:<lksjflkj@somedomain.com>"`, ts("2010-12-01 14:24:44-0500")}},
		{"v4 d", hdrV4, lineV4, &want{model.Delivered, "VJAYPRAKASH@YMAIL.COM", "ymail.com", "2.0.0", model.ClassNone, "CAMPAIGN", "", "172.30.149.109", "mta7.am0.yahoodns.net (66.196.118.35)", "", "250 ok dirdel", ts("2014-08-24 16:00:14+0530")}},
		{"magicdude 1", hdrMagic, lineM1, &want{model.Bounced, "XXX@domain.com", "domain.com", "5.1.2", model.ClassHard, "vmta-mymta04", "", "1.1.1.1", "", "bad-domain", "5.1.2 (bad destination system: no such domain)", ts("2016-05-29 01:10:51+0200")}},
		{"magicdude 2", hdrMagic, lineM2, &want{model.Bounced, "YYY@anotherdomain.com", "anotherdomain.com", "5.1.1", model.ClassHard, "vmta-mymta03", "", "1.1.1.1", "mx1.destindomain.com (2.2.2.2)", "bad-mailbox", "5.1.1 (bad destination mailbox address)", ts("2016-05-29 01:10:23+0200")}},
		{"manual union d", hdrManual, "d,1178807903,orig@port25.com,user1@domain.com,10.0.0.1,", &want{model.Delivered, "user1@domain.com", "domain.com", "", model.ClassNone, "", "", "10.0.0.1", "", "", "", time.Unix(1178807903, 0)}},
		{"manual union b", hdrManual, "b,1178807915,orig@port25.com,user3@domain.com,,policy-related", &want{model.Bounced, "user3@domain.com", "domain.com", "", model.ClassSoft, "", "", "", "", "policy-related", "", time.Unix(1178807915, 0)}},
		{"expired", hdrManual, "b,1178807915,orig@port25.com,user3@domain.com,,message-expired", &want{model.Expired, "user3@domain.com", "domain.com", "", model.ClassSoft, "", "", "", "", "message-expired", "", time.Unix(1178807915, 0)}},
		{"custom bounceCat", hdrManual, "b,1178807915,orig@port25.com,user3@domain.com,,my-own-cat", &want{model.Bounced, "user3@domain.com", "domain.com", "", model.ClassSoft, "", "", "", "", "my-own-cat", "", time.Unix(1178807915, 0)}},
		{"us time", "type,timeLogged,rcpt,dsnStatus,vmtaPool", "t,02/08/2019 21:54:05-0100,x@Example.COM,4.2.2 (mailbox full),pool-a", &want{model.Deferred, "x@Example.COM", "example.com", "4.2.2", model.ClassSoft, "", "pool-a", "", "", "", "4.2.2 (mailbox full)", ts("2019-02-08 21:54:05-0100")}},
		{"repeated names", "type,timeLogged,rcpt,vmta,vmta", "d,1178807903,a@b.com,first,second", &want{model.Delivered, "a@b.com", "b.com", "", model.ClassNone, "first", "", "", "", "", "", time.Unix(1178807903, 0)}},
		{"queue fills vmta", "type,timeLogged,rcpt,queue", "d,1178807903,a@b.com,gmail.com/vmta-7", &want{model.Delivered, "a@b.com", "b.com", "", model.ClassNone, "vmta-7", "", "", "", "", "", time.Unix(1178807903, 0)}},
		{"unknown type", hdrManual, "zz,1178807903,o@x,u@d.com,10.0.0.9,", nil},
		{"rs", hdrManual, "rs,1178807903,o@x,u@d.com,10.0.0.9,", nil},
	}
	for _, c := range cases {
		for _, crlf := range []string{"", "\r"} {
			p := New(Options{Location: time.UTC})
			p.NewFile("acct.csv", time.Time{}, nil)
			if evs, err := p.ParseLine([]byte(c.header+crlf), nil); err != nil || len(evs) != 0 {
				t.Fatalf("%s: header gave %v %v", c.name, evs, err)
			}
			evs, err := p.ParseLine([]byte(c.line+crlf), nil)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if c.want == nil {
				if len(evs) != 0 {
					t.Errorf("%s: want no event, got %+v", c.name, evs)
				}
				continue
			}
			if len(evs) != 1 {
				t.Errorf("%s: got %d events", c.name, len(evs))
				continue
			}
			check(t, c.name, evs[0], *c.want)
		}
	}
}

func TestFeedback(t *testing.T) {
	p := New(Options{})
	p.ParseLine([]byte(hdrUnion), nil)
	f := "f,2020-01-02 03:04:05+0000,,,Bob@Example.com,,,,,,,,,,,,,,,,,,,,,203.0.113.9,abuse,arf,Yahoo,fbl.yahoo.com,example.com,,,,,,,"
	evs, err := p.ParseLine([]byte(f), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("got %v %v", evs, err)
	}
	ev := evs[0]
	if ev.Outcome != model.Complaint || ev.Recipient != "Bob@Example.com" || ev.Domain != "example.com" || ev.Response != "abuse" || ev.Class != model.ClassNone {
		t.Errorf("got %+v", ev)
	}
	// Redacted FBL: no rcpt, the reported domain still names the provider.
	f = "f,2020-01-02 03:04:05+0000,,,,,,,,,,,,,,,,,,,,,,,,203.0.113.9,abuse,arf,Yahoo,fbl.yahoo.com,Yahoo.com,,,,,,,"
	evs, err = p.ParseLine([]byte(f), nil)
	if err != nil || len(evs) != 1 || evs[0].Domain != "yahoo.com" || evs[0].Recipient != "" {
		t.Fatalf("got %+v %v", evs, err)
	}
	// The manual's f sample line, under its own (unlisted) layout: an event
	// with the time, whatever the columns mean.
	p.ParseLine([]byte("type,timeLogged,format,userAgent,orig,rcpt,x,reportingMta,repSourceIp"), nil)
	evs, err = p.ParseLine([]byte(lineF), nil)
	if err != nil || len(evs) != 1 || evs[0].Outcome != model.Complaint || !evs[0].Time.Equal(ts("2010-04-12 11:40:37-0400")) {
		t.Fatalf("got %+v %v", evs, err)
	}
}

func TestUnionHeader(t *testing.T) {
	p := New(Options{})
	p.ParseLine([]byte(hdrUnion+"\r"), nil)
	line := strings.TrimSuffix(lineD, ",") + ",pool-x,sub,mid" + strings.Repeat(",", 13) + "\r"
	evs, err := p.ParseLine([]byte(line), nil)
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	if ev := evs[0]; ev.VMTA != "vmta48" || ev.Pool != "pool-x" || ev.Recipient != "D@1181.com" {
		t.Errorf("got %+v", ev)
	}
}

func TestRejects(t *testing.T) {
	p := New(Options{})
	p.NewFile("acct.csv", time.Time{}, nil)
	_, err := p.ParseLine([]byte(lineD), nil)
	var re *ingest.RejectError
	if !errors.As(err, &re) || re.Reason != "no header line" {
		t.Fatalf("before header: %v", err)
	}
	p.ParseLine([]byte(hdrDefault), nil)
	for _, l := range []string{
		"d,not a time,,o@x,r@y.org",
		"d,,,o@x,r@y.org",
		"b,2019-02-08 21:54:05+0000,,o@x,",
		"t,2019-02-08 21:54:05+0000",
		"rb,2019-02-31 25:54:05+0000,,o@x,r@y.org",
		"d,2019-02-08 21:54:05+9999,,o@x,r@y.org",
	} {
		if _, err := p.ParseLine([]byte(l), nil); !errors.As(err, &re) {
			t.Errorf("%q: want reject, got %v", l, err)
		}
	}
	p.ParseLine([]byte(hdrTQ), nil)
	if _, err := p.ParseLine([]byte("tq,2019-02-08 21:53:39+0000,4.4.1 (x),,,,,,,"), nil); !errors.As(err, &re) {
		t.Errorf("tq without queue: %v", err)
	}
	// Blank lines are not rejects.
	if evs, err := p.ParseLine([]byte("\r"), nil); err != nil || len(evs) != 0 {
		t.Errorf("blank: %v %v", evs, err)
	}
}

func TestHeaderLifecycle(t *testing.T) {
	p := New(Options{})
	p.NewFile("acct-1.csv", time.Time{}, []byte(hdrManual+"\r\n"))
	if evs, err := p.ParseLine([]byte("d,1178807903,o@x,u@d.com,10.0.0.1,"), nil); err != nil || len(evs) != 1 {
		t.Fatalf("resume with header: %v %v", evs, err)
	}
	// A new file without a header passed: its own first line must come.
	p.NewFile("acct-2.csv", time.Time{}, nil)
	if _, err := p.ParseLine([]byte("d,1178807903,o@x,u@d.com,10.0.0.1,"), nil); err == nil {
		t.Fatal("stale header used for a new file")
	}
	// A header mid-stream (pipe restart) replaces the columns.
	p.ParseLine([]byte("\xef\xbb\xbftype,rcpt,timeLogged"), nil)
	evs, err := p.ParseLine([]byte("d,u@d.com,1178807903"), nil)
	if err != nil || len(evs) != 1 || evs[0].Recipient != "u@d.com" {
		t.Fatalf("BOM header: %v %v", evs, err)
	}
	p.ParseLine([]byte(`"type","timeLogged","rcpt"`), nil)
	evs, err = p.ParseLine([]byte("d,1178807903,v@d.com"), nil)
	if err != nil || len(evs) != 1 || evs[0].Recipient != "v@d.com" {
		t.Fatalf("quoted header: %v %v", evs, err)
	}
	// dst is appended to, not replaced.
	evs, _ = p.ParseLine([]byte("d,1178807903,w@d.com"), evs)
	if len(evs) != 2 {
		t.Fatalf("append: %d", len(evs))
	}
}

func TestSplit(t *testing.T) {
	cases := map[string][]string{
		``:                   {""},
		`a`:                  {"a"},
		`a,`:                 {"a", ""},
		`,`:                  {"", ""},
		`a,"b,c",d`:          {"a", "b,c", "d"},
		`"x""y"`:             {`x"y`},
		`"",""""`:            {"", `"`},
		`"unclosed,x`:        {"unclosed,x"},
		`"q"junk,z`:          {"q", "z"},
		`a"b,c`:              {`a"b`, "c"},
		`"a""b""c",`:         {`a"b"c`, ""},
		`"ends with quote""`: {`ends with quote"`},
	}
	broken := map[string]bool{`"unclosed,x`: true, `"ends with quote""`: true, `"q"junk,z`: true, `a"b,c`: true}
	for in, want := range cases {
		spans, ok := split([]byte(in), nil, -1)
		if ok == broken[in] {
			t.Errorf("split(%q): ok %v", in, ok)
		}
		var got []string
		for _, s := range spans {
			got = append(got, string(s.value([]byte(in))))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("split(%q) = %q, want %q", in, got, want)
		}
	}
	if sp, _ := split([]byte("a,b,c,d"), nil, 2); len(sp) != 2 {
		t.Errorf("max: %d", len(sp))
	}
}

func TestTimeForms(t *testing.T) {
	var zc lex.ZoneCache
	for in, w := range map[string]time.Time{
		"2019-02-08 21:54:05+0000":   ts("2019-02-08 21:54:05+0000"),
		"2019-02-08 21:54:05-0430":   ts("2019-02-08 21:54:05-0430"),
		"2019-02-08T21:54:05+01:00":  ts("2019-02-08 21:54:05+0100"),
		"02/08/2019 21:54:05+0000":   ts("2019-02-08 21:54:05+0000"),
		"1178807903":                 time.Unix(1178807903, 0),
		" 2019-02-08 21:54:05 +0000": ts("2019-02-08 21:54:05+0000"),
		"2019-02-08 21:54:05":        ts("2019-02-08 21:54:05+0000"), // loc = UTC below
		"2019-02-08 21:54:05.5Z":     ts("2019-02-08 21:54:05+0000").Add(500 * time.Millisecond),
	} {
		got, ok := parseTime([]byte(in), time.UTC, &zc)
		if !ok || !got.Equal(w) {
			t.Errorf("%q: %v %v, want %v", in, got, ok, w)
		}
	}
	for _, in := range []string{"", "x", "2019-13-08 21:54:05+0000", "2019-02-08 21:54:05+00", "123456789012345", "2019-02-08_21:54:05"} {
		if _, ok := parseTime([]byte(in), time.UTC, &zc); ok {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestCodes(t *testing.T) {
	for in, w := range map[string]string{
		"550 5.1.1 user unknown":                     "5.1.1",
		"smtp;421-4.7.28 slow down":                  "4.7.28",
		"host 127.0.0.1 said 550 5.7.1 no":           "5.7.1",
		"connect to 10.5.0.1 failed":                 "",
		"250 2.0.0 OK 1611221070 h17si4006834wmq.57": "2.0.0",
		"550 4.1.1 mismatched":                       "",
	} {
		if got := string(lex.FindCode([]byte(in))); got != w {
			t.Errorf("findCode(%q) = %q, want %q", in, got, w)
		}
	}
	for in, w := range map[string]string{"5.1.1 (bad)": "5.1.1", "4.4.1": "4.4.1", "5.1.10 x": "5.1.10", "1.2.3": "", "5.1.1.1": "", "success": ""} {
		if got := string(enhancedCode([]byte(in))); got != w {
			t.Errorf("enhancedCode(%q) = %q, want %q", in, got, w)
		}
	}
}
