package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// Counting events into several batches and merging them (MergeEvents, the
// ingest path for chunks counted on their own goroutines) commits exactly
// what counting them into one batch commits: every byte of every bucket the
// commit writes, over events of both sides, all outcomes, several providers,
// domains, VMTAs, IPs, transports and replies (named signatures included)
// across hours. A bucket that AddEvent fills but MergeEvents forgets fails
// here.
func TestMergeEventsEqualsOneBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	replies := []string{"", "421 4.7.28 Gmail has detected an unusual rate", "550 5.1.1 The email account that you tried to reach does not exist",
		"421 4.7.0 [TSS04] Messages from 10.0.0.1 temporarily deferred", "452 4.2.2 mailbox full", "550 5.7.1 Service unavailable; client host blocked using Spamhaus"}
	isps := []string{"gmail", "yahoo", "microsoft", "other"}
	evs := make([]model.Event, 30000)
	for i := range evs {
		o := model.Outcome(1 + rng.IntN(model.NumOutcomes-1))
		evs[i] = model.Event{Kind: "pmta", Side: model.Side(1 + rng.IntN(2)), MTA: fmt.Sprint("m", rng.IntN(2)),
			ISP: isps[rng.IntN(len(isps))], Domain: fmt.Sprintf("d%d.example", rng.IntN(30)),
			Time:    t0.Add(time.Duration(rng.IntN(5*3600)) * time.Second),
			Outcome: o, Response: replies[rng.IntN(len(replies))], Status: "4.7.0",
			VMTA: fmt.Sprint("v", rng.IntN(20)), SourceIP: fmt.Sprint("10.0.0.", rng.IntN(9)), Transport: fmt.Sprint("t", rng.IntN(3))}
		if rng.IntN(10) == 0 {
			evs[i].Domain = ""
		}
	}
	one := NewBatch()
	for i := range evs {
		one.AddEvent(&evs[i])
	}
	merged := NewBatch()
	for from := 0; from < len(evs); {
		to := min(len(evs), from+1+rng.IntN(4000))
		part := NewBatch()
		for i := from; i < to; i++ {
			part.AddEvent(&evs[i])
		}
		merged.MergeEvents(part)
		from = to
	}
	dbA, dbB := openTest(t, Options{}), openTest(t, Options{})
	if err := dbA.Commit(one); err != nil {
		t.Fatal(err)
	}
	if err := dbB.Commit(merged); err != nil {
		t.Fatal(err)
	}
	a, b := dumpAll(t, dbA), dumpAll(t, dbB)
	if len(a) != len(b) {
		t.Fatalf("%d keys merged, %d in one batch", len(b), len(a))
	}
	buckets := map[string]bool{}
	for k, v := range a {
		if b[k] != v {
			t.Fatalf("%q: merged %x, one batch %x", k, b[k], v)
		}
		buckets[k[:indexByte(k, '/')]] = true
	}
	for _, name := range []string{"counters", "domains", "via", "reasons", "sigmin"} {
		if !buckets[name] {
			t.Fatalf("no %s keys: the events did not exercise it (%v)", name, buckets)
		}
	}
}

func dumpAll(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v != nil {
					out[string(name)+"/"+string(k)] = string(v)
				}
				return nil
			})
		})
	})
	return out
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return len(s)
}
