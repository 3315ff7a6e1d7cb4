package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
)

// ErrReadOnly is returned by writes on a database opened ReadOnly.
var ErrReadOnly = errors.New("database opened read-only")

// pruneMax bounds the keys one commit deletes, so that a retention cut (or
// the first commit after a long backfill) cannot stall ingest; the rest goes
// in the following commits.
const pruneMax = 200_000

// cutoffs are the oldest bucket starts (unix s) still kept, derived from the
// newest event time. They are floored to the hour (day for domain days), so
// they move, and pruning finds work, at most once an hour of event time.
type cutoffs struct {
	minute, hour, domainDay int64
}

func (db *DB) cutoffsFor(newestNS int64, has bool) cutoffs {
	if !has {
		const minInt = -1 << 63
		return cutoffs{minInt, minInt, minInt}
	}
	sec := floorDiv(newestNS, 1e9)
	return cutoffs{
		minute:    floorSec(sec-int64(db.opt.MinuteRetention.Seconds()), secHour),
		hour:      floorSec(sec-int64(db.opt.HourRetention.Seconds()), secHour),
		domainDay: floorSec(sec-int64(domainDayRetention.Seconds()), secDay),
	}
}

// gran is the cutoff of a counters/domains key by its granularity byte.
func (c cutoffs) gran(domains bool, g byte) int64 {
	switch {
	case g == gMinute:
		return c.minute
	case g == gHour && domains:
		return c.minute // domain hours live as long as minutes
	case g == gHour:
		return c.hour
	case domains:
		return c.domainDay
	}
	return -1 << 63 // counters days: forever
}

// Commit writes everything in b in ONE bbolt transaction: counter deltas,
// cursors, parser state, rejects, source stats and the newest event time. On
// error nothing is written and b is unchanged, so the caller may retry it.
// Buckets older than the retention cut are neither written nor kept: the
// same transaction prunes them.
func (db *DB) Commit(b *Batch) error {
	if b == nil || b.empty() {
		return nil
	}
	if db.opt.ReadOnly {
		return ErrReadOnly
	}
	if err := checkSources(b); err != nil {
		return err
	}

	var newest int64
	var has bool
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bktMeta)
		if v := meta.Get(metaNewest); len(v) == 8 {
			newest, has = int64(binary.BigEndian.Uint64(v)), true
		}
		moved := false
		if b.hasMax && (!has || b.maxNano > newest) {
			newest, has, moved = b.maxNano, true, true
		}
		cut := db.cutoffsFor(newest, has)

		if err := putCounts(tx.Bucket(bktCounters), b.counters, func(k string) bool {
			return timeAt(k, 1) >= cut.gran(false, k[0])
		}); err != nil {
			return fmt.Errorf("counters: %w", err)
		}
		if err := putCounts(tx.Bucket(bktDomains), b.domains, func(k string) bool {
			return timeAt(k, 1) >= cut.gran(true, k[0])
		}); err != nil {
			return fmt.Errorf("domains: %w", err)
		}
		if err := putCounts(tx.Bucket(bktVia), b.via, func(k string) bool {
			return timeAt(k, 0) >= cut.hour
		}); err != nil {
			return fmt.Errorf("via: %w", err)
		}
		if err := putReasons(tx.Bucket(bktReasons), b.reasons, cut.hour); err != nil {
			return fmt.Errorf("reasons: %w", err)
		}
		// The minute signature counts go in the same transaction as the
		// counters and cursors: a crash replays both or neither.
		if err := putSigMin(tx.Bucket(bktSigMin), b.sigmin, cut.minute); err != nil {
			return fmt.Errorf("sigmin: %w", err)
		}
		for _, k := range sortedKeys(b.drops) {
			if err := tx.Bucket(bktCursors).Delete([]byte(k)); err != nil {
				return fmt.Errorf("cursors: %w", err)
			}
		}
		if err := putCursors(tx.Bucket(bktCursors), b.cursors); err != nil {
			return fmt.Errorf("cursors: %w", err)
		}
		if err := putPState(tx.Bucket(bktPState), b.pstate); err != nil {
			return fmt.Errorf("parser state: %w", err)
		}
		if err := putRejects(tx.Bucket(bktRejects), b.rejects); err != nil {
			return fmt.Errorf("rejects: %w", err)
		}
		if err := putSources(tx.Bucket(bktSources), b.sources); err != nil {
			return fmt.Errorf("sources: %w", err)
		}
		if moved {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(newest))
			if err := meta.Put(metaNewest, v[:]); err != nil {
				return err
			}
		}
		return db.prune(tx, cut)
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if has {
		db.mu.Lock()
		db.newest, db.hasNewest = newest, true
		db.mu.Unlock()
	}
	return nil
}

func checkSources(b *Batch) error {
	_, r := b.rejects[""]
	_, p := b.pstate[""]
	_, s := b.sources[""]
	if r || p || s {
		return errors.New("commit: reject, parser state or source stat with an empty source name")
	}
	return nil
}

// sortedKeys gives keys in byte order: bbolt writes sorted keys with fewer
// page splits, and neighbouring keys share pages.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func putCounts(bk *bbolt.Bucket, m map[string]*Counts, keep func(string) bool) error {
	bk.FillPercent = 0.9 // new keys are mostly the newest times: near-append
	for _, k := range sortedKeys(m) {
		if !keep(k) {
			continue
		}
		c := *m[k]
		kb := []byte(k)
		addEncoded(&c, bk.Get(kb))
		if err := bk.Put(kb, encodeCounts(&c)); err != nil {
			return err
		}
	}
	return nil
}

// Reason values: count (8) | last event time unix ns (8) | sample text.
func putReasons(bk *bbolt.Bucket, m map[string]*reasonDelta, cut int64) error {
	bk.FillPercent = 0.9
	for _, k := range sortedKeys(m) {
		kb := []byte(k)
		if getTime(kb[:8]) < cut {
			continue
		}
		d := m[k]
		count, last, sample := d.count, d.last, d.sample
		if old := bk.Get(kb); len(old) >= 16 {
			count += binary.BigEndian.Uint64(old)
			if l := int64(binary.BigEndian.Uint64(old[8:])); l > last {
				last = l
			}
			sample = string(old[16:]) // first seen wins
		}
		v := make([]byte, 16+len(sample))
		binary.BigEndian.PutUint64(v, count)
		binary.BigEndian.PutUint64(v[8:], uint64(last))
		copy(v[16:], sample)
		if err := bk.Put(kb, v); err != nil {
			return err
		}
	}
	return nil
}

// putSigMin adds the minute signature counts (8-byte big-endian values).
func putSigMin(bk *bbolt.Bucket, m map[string]*uint64, cut int64) error {
	bk.FillPercent = 0.9
	for _, k := range sortedKeys(m) {
		kb := []byte(k)
		if getTime(kb[:8]) < cut {
			continue
		}
		n := *m[k]
		if old := bk.Get(kb); len(old) == 8 {
			n += binary.BigEndian.Uint64(old)
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], n)
		if err := bk.Put(kb, v[:]); err != nil {
			return err
		}
	}
	return nil
}

func putCursors(bk *bbolt.Bucket, m map[string]Cursor) error {
	for _, k := range sortedKeys(m) {
		v, err := json.Marshal(m[k])
		if err != nil {
			return err
		}
		if err := bk.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}

func putPState(bk *bbolt.Bucket, m map[string]map[string][]byte) error {
	for _, src := range sortedKeys(m) {
		sb, err := bk.CreateBucketIfNotExists([]byte(src))
		if err != nil {
			return err
		}
		for _, k := range sortedKeys(m[src]) {
			if k == "" {
				return fmt.Errorf("source %q: empty key", src)
			}
			v := m[src][k]
			if v == nil {
				err = sb.Delete([]byte(k))
			} else {
				err = sb.Put([]byte(k), v)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Rejects: one nested bucket per source holding "n" → total count (8) and
// 's' | ordinal (4) → JSON sample for the first rejectSamples ordinals.
func putRejects(bk *bbolt.Bucket, m map[string][]Reject) error {
	for _, src := range sortedKeys(m) {
		sb, err := bk.CreateBucketIfNotExists([]byte(src))
		if err != nil {
			return err
		}
		var n uint64
		if v := sb.Get(rejCount); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		for _, r := range m[src] {
			if n < rejectSamples {
				v, err := json.Marshal(r)
				if err != nil {
					return err
				}
				if err := sb.Put(rejectKey(n), v); err != nil {
					return err
				}
			}
			n++
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], n)
		if err := sb.Put(rejCount, v[:]); err != nil {
			return err
		}
	}
	return nil
}

func rejectKey(n uint64) []byte {
	k := make([]byte, 5)
	k[0] = rejSample
	binary.BigEndian.PutUint32(k[1:], uint32(n))
	return k
}

func putSources(bk *bbolt.Bucket, m map[string]*SourceStat) error {
	for _, src := range sortedKeys(m) {
		var cur SourceStat
		if v := bk.Get([]byte(src)); v != nil {
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("source %q: %w", src, err)
			}
		}
		cur.Source = src
		cur.merge(*m[src])
		v, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if err := bk.Put([]byte(src), v); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes buckets older than the cutoffs. Each range check is one
// cursor seek, so a commit with nothing expired costs next to nothing.
func (db *DB) prune(tx *bbolt.Tx, cut cutoffs) error {
	budget := pruneMax
	ranges := []struct {
		bkt    []byte
		prefix []byte
		cut    int64
	}{
		{bktCounters, []byte{gMinute}, cut.minute},
		{bktCounters, []byte{gHour}, cut.hour},
		{bktDomains, []byte{gHour}, cut.minute},
		{bktDomains, []byte{gDay}, cut.domainDay},
		{bktReasons, nil, cut.hour},
		{bktVia, nil, cut.hour},
		{bktSigMin, nil, cut.minute},
	}
	for _, r := range ranges {
		n, err := pruneBelow(tx.Bucket(r.bkt), r.prefix, r.cut, budget)
		if err != nil {
			return fmt.Errorf("prune %s: %w", r.bkt, err)
		}
		budget -= n
		if budget <= 0 {
			break
		}
	}
	return nil
}

// pruneBelow deletes keys prefix | time < cut. Keys are collected first:
// deleting under a live cursor can skip keys.
func pruneBelow(bk *bbolt.Bucket, prefix []byte, cut int64, max int) (int, error) {
	var hi [8]byte
	putTime(hi[:], cut)
	limit := append(append([]byte(nil), prefix...), hi[:]...)
	var del [][]byte
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, limit) < 0 && len(del) < max; k, _ = c.Next() {
		del = append(del, bytes.Clone(k))
	}
	for _, k := range del {
		if err := bk.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(del), nil
}
