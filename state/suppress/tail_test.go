package suppress

import (
	"fmt"
	"os"
	"testing"

	"cutover/model"
)

func TestTail(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	l := openLog(t, db, Options{})
	// ~300 lines of ~330 bytes: more than one 64 KiB read.
	var evs []model.SuppressionEvent
	for i := range 300 {
		evs = append(evs, ev(fmt.Sprintf("user%03d@example.com", i), model.SuppHardBounce, "pmta:acct", "account", int64(1700000000+i)))
	}
	mustAppend(t, l, evs...)
	path := l.Path()
	l.Close()
	got, err := Tail(path, 10)
	if err != nil || len(got) != 10 || got[0].Seq != 300 || got[9].Seq != 291 {
		t.Fatalf("Tail 10: %d events, err %v, first %+v", len(got), err, got)
	}
	all, err := Tail(path, 1000)
	if err != nil || len(all) != 300 {
		t.Fatalf("Tail all: %d, %v", len(all), err)
	}
	for i, e := range all {
		if e.Seq != uint64(300-i) || e.Addr != fmt.Sprintf("user%03d@example.com", 299-i) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	// A write in progress (no newline yet) is not an event.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"v":1,"seq":301,"type":"hard_bou`)
	f.Close()
	if got, err := Tail(path, 1); err != nil || len(got) != 1 || got[0].Seq != 300 {
		t.Fatalf("torn tail: %+v %v", got, err)
	}
	if got, err := Tail(path+".missing", 5); err != nil || got != nil {
		t.Fatalf("missing log: %v %v", got, err)
	}
}
