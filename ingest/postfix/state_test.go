package postfix

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"cutover/model"
)

func to(ts, qid, transport, rcpt, dsn, status, text string) string {
	return fmt.Sprintf("Nov 26 %s h postfix/%s/smtp[1]: %s: to=<%s>, relay=mx.%s[192.0.2.7]:25, delay=1, delays=1/0/0/0, dsn=%s, status=%s (%s)",
		ts, transport, qid, rcpt, transport, dsn, status, text)
}

func qmgr(ts, qid, rest string) string {
	return fmt.Sprintf("Nov 26 %s h postfix/qmgr[2]: %s: %s", ts, qid, rest)
}

func feed(t *testing.T, p *Parser, lines ...string) []model.Event {
	t.Helper()
	var out []model.Event
	for _, l := range lines {
		evs, err := p.ParseLine([]byte(l), nil)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, evs...)
	}
	return out
}

func TestExpiry(t *testing.T) {
	p := New(fixedNow("2026-11-27T00:00:00Z"))
	evs := feed(t, p,
		to("10:00:00", "ABC123", "gmail", "a@gmail.com", "4.7.28", "deferred", "421 4.7.28 slow down"),
		to("10:00:00", "ABC123", "gmail", "b@gmail.com", "4.7.28", "deferred", "421 4.7.28 slow down"),
		to("10:00:00", "ABC123", "gmail", "c@gmail.com", "4.4.1", "deferred", "delivery temporarily suspended: connect timed out"),
		to("11:00:00", "ABC123", "gmail", "a@gmail.com", "2.0.0", "sent", "250 ok"),
		to("11:00:00", "ABC123", "gmail", "b@gmail.com", "4.2.0", "deferred", "421 4.2.0 later"),
	)
	if len(evs) != 5 || evs[2].Outcome != model.Held {
		t.Fatalf("got %+v", evs)
	}
	d := p.TakeDelta()
	if len(d) != 1 || d["ABC123"] == nil {
		t.Fatalf("delta %v", d)
	}
	if p.TakeDelta() != nil {
		t.Fatal("delta not cleared")
	}
	// Restart: a new parser loads the committed state.
	q := New(fixedNow("2026-11-27T00:00:00Z"))
	q.Load(d)
	evs = feed(t, q, qmgr("12:00:00", "ABC123", "from=<s@x.org>, status=expired, returned to sender"))
	if len(evs) != 2 {
		t.Fatalf("expired: %+v", evs)
	}
	for i, w := range []struct{ rcpt, status string }{{"b@gmail.com", "4.2.0"}, {"c@gmail.com", "4.4.1"}} {
		ev := evs[i]
		if ev.Outcome != model.Expired || ev.Recipient != w.rcpt || ev.Status != w.status || ev.Domain != "gmail.com" ||
			ev.Transport != "gmail" || ev.Relay != "mx.gmail[192.0.2.7]:25" || ev.QueueID != "ABC123" || ev.Class != model.ClassSoft ||
			ev.Time.Format(time.RFC3339) != "2026-11-26T12:00:00Z" || ev.Kind != "postfix" || ev.Response != "expired, returned to sender" {
			t.Errorf("expired %d: %+v", i, ev)
		}
	}
	if d := q.TakeDelta(); len(d) != 1 || d["ABC123"] != nil {
		t.Errorf("delta after expiry: %v", d)
	}
	// Replaying the expiry line (no commit in between) adds nothing.
	if evs := feed(t, q, qmgr("12:00:00", "ABC123", "from=<s@x.org>, status=expired, returned to sender")); len(evs) != 0 {
		t.Errorf("second expiry: %+v", evs)
	}
}

func TestRemovedAndForceExpired(t *testing.T) {
	p := New(fixedNow("2026-11-27T00:00:00Z"))
	feed(t, p,
		to("10:00:00", "AAA111", "smtp", "a@x.org", "4.7.0", "deferred", "later"),
		to("10:00:00", "BBB222", "smtp", "b@x.org", "4.7.0", "deferred", "later"),
		to("10:00:00", "CCC333", "smtp", "c@x.org", "4.7.0", "deferred", "later"),
		to("10:00:01", "CCC333", "smtp", "c@x.org", "5.7.0", "expired", "gave up"),
		"Nov 26 10:00:02 h postfix/postsuper[9]: AAA111: removed",
	)
	if len(p.pending) != 1 || p.pending["BBB222"] == nil {
		t.Fatalf("pending %+v", p.pending)
	}
	evs := feed(t, p, qmgr("10:00:03", "BBB222", "from=<>, status=force-expired, returned to sender"))
	if len(evs) != 1 || evs[0].Outcome != model.Expired || evs[0].Response != "force-expired, returned to sender" {
		t.Fatalf("force-expired: %+v", evs)
	}
	d := p.TakeDelta()
	if len(d) != 3 || d["AAA111"] != nil || d["BBB222"] != nil || d["CCC333"] != nil {
		t.Errorf("delta %v", d)
	}
	if len(p.pending) != 0 {
		t.Errorf("pending %+v", p.pending)
	}
}

func TestPendingTTL(t *testing.T) {
	p := New(Options{Location: time.UTC, PendingTTL: 48 * time.Hour, Now: func() time.Time { return time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC) }})
	feed(t, p, to("10:00:00", "AAA111", "smtp", "a@x.org", "4.7.0", "deferred", "later"))
	p.TakeDelta()
	feed(t, p, "Nov 29 10:00:00 h postfix/smtp[1]: BBB222: to=<b@x.org>, relay=none, delay=1, dsn=4.4.1, status=deferred (later)")
	if p.pending["AAA111"] != nil || p.pending["BBB222"] == nil {
		t.Errorf("pending %+v", p.pending)
	}
	if d := p.TakeDelta(); len(d) != 2 || d["AAA111"] != nil || d["BBB222"] == nil {
		t.Errorf("delta %v", d)
	}
}

func TestEncoding(t *testing.T) {
	m := &pendingMsg{seen: 1764160000, rcpts: []pendingRcpt{{"a@b.c", "gmail", "4.7.0", "mx[1.2.3.4]:25"}, {"ü@x", "", "", ""}}}
	b := encodePending(m)
	got, ok := decodePending(b)
	if !ok || got.seen != m.seen || len(got.rcpts) != 2 || got.rcpts[0] != m.rcpts[0] || got.rcpts[1] != m.rcpts[1] {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	for i := 0; i < len(b); i++ {
		if _, ok := decodePending(b[:i]); ok {
			t.Errorf("prefix %d decoded", i)
		}
	}
	if _, ok := decodePending(append(bytes.Clone(b), 0)); ok {
		t.Error("trailing byte accepted")
	}
	p := New(Options{})
	p.Load(map[string][]byte{"AAA111": b, "BAD": {9, 9}, "NIL": nil})
	if len(p.pending) != 1 {
		t.Errorf("load: %+v", p.pending)
	}
}
