package suppress

import (
	"fmt"
	"testing"

	"cutover/model"
)

// The address filter only ever skips lookups of addresses that are not
// indexed: with a tiny capacity (rebuilt again and again while pending and
// flushed addresses mix, and across a reopen), replaying every event
// appends nothing and a new type for a known address lands next to the
// old one.
func TestAddrFilterNeverHidesAnAddress(t *testing.T) {
	defer func(n int) { filterMinAddrs = n }(filterMinAddrs)
	filterMinAddrs = 64
	dir := t.TempDir()
	db := openDB(t, dir)
	l := openLog(t, db, Options{})
	var all []model.SuppressionEvent
	rebuilt := 0
	for b := 0; b < 50; b++ {
		var batch []model.SuppressionEvent
		for i := 0; i < 100; i++ {
			batch = append(batch, ev(fmt.Sprintf("u%d@example.com", b*100+i), model.SuppUnsubscribe, "sendgrid", "account", 1700000000))
		}
		before := l.filter
		if n := mustAppend(t, l, batch...); n != len(batch) {
			t.Fatalf("batch %d: %d appended", b, n)
		}
		if l.filter != before {
			rebuilt++
		}
		if b%7 == 3 {
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, batch...)
	}
	if rebuilt < 4 || l.filter.mayHave("nobody@example.net") && l.filter.mayHave("nobody2@example.net") && l.filter.mayHave("nobody3@example.net") {
		t.Fatalf("filter not exercised: %d builds", rebuilt)
	}
	if n := mustAppend(t, l, all...); n != 0 {
		t.Fatalf("replay appended %d", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, db, Options{})
	defer l.Close()
	if n := mustAppend(t, l, all[:2000]...); n != 0 {
		t.Fatalf("replay after reopen appended %d", n)
	}
	if n := mustAppend(t, l, ev("u1234@example.com", model.SuppComplaint, "fbl", "account", 1700000001)); n != 1 {
		t.Fatalf("new type appended %d", n)
	}
	evs, err := l.Check("u1234@example.com")
	if err != nil || len(evs) != 2 {
		t.Fatalf("check: %d events, %v", len(evs), err)
	}
}
