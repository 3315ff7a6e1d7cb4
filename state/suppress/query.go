package suppress

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// Count is a statistic: distinct addresses and events.
type Count struct {
	Addresses uint64 `json:"addresses"`
	Events    uint64 `json:"events"`
}

// Stats summarise the index.
type Stats struct {
	Addresses  uint64           `json:"addresses"`  // distinct addresses
	Suppressed uint64           `json:"suppressed"` // distinct addresses with a type that suppresses (not only blocks)
	Events     uint64           `json:"events"`
	LastSeq    uint64           `json:"last_seq"`
	ByType     map[string]Count `json:"by_type"`
	BySource   map[string]Count `json:"by_source"`
}

// Stats flushes the pending index and returns distinct addresses and events
// per type and per source. An address unsubscribed at two providers counts
// once in Addresses and once under each source.
func (l *Log) Stats() (Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.flush(); err != nil {
		return Stats{}, err
	}
	st := Stats{ByType: map[string]Count{}, BySource: map[string]Count{}, LastSeq: l.seq}
	err := l.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktStats)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) != 8 {
				return nil
			}
			n := binary.BigEndian.Uint64(v)
			key := string(k)
			set := func(m map[string]Count, name string, addr bool) {
				c := m[name]
				if addr {
					c.Addresses = n
				} else {
					c.Events = n
				}
				m[name] = c
			}
			switch {
			case key == statAddresses:
				st.Addresses = n
			case key == statSuppressed:
				st.Suppressed = n
			case key == statEvents:
				st.Events = n
			case strings.HasPrefix(key, statTypeAddr):
				set(st.ByType, key[3:], true)
			case strings.HasPrefix(key, statTypeEvents):
				set(st.ByType, key[3:], false)
			case strings.HasPrefix(key, statSourceAddr):
				set(st.BySource, key[3:], true)
			case strings.HasPrefix(key, statSourceEvents):
				set(st.BySource, key[3:], false)
			}
			return nil
		})
	})
	return st, err
}

// Lookup returns the index entry of an address (normalised first), and
// whether there is one.
func (l *Log) Lookup(addr string) (Entry, bool, error) {
	norm, _, err := model.NormalizeAddress(addr)
	if err != nil {
		return Entry{}, false, fmt.Errorf("%q: %w", addr, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.flush(); err != nil {
		return Entry{}, false, err
	}
	names := l.dict.names
	var e Entry
	var found bool
	err = l.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bktAddr)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(norm))
		if v == nil {
			return nil
		}
		var r record
		if err := decodeInto(&r, v); err != nil {
			return fmt.Errorf("%w for %q: rebuild the index", err, norm)
		}
		e, found = r.entry(norm, names), true
		return nil
	})
	return e, found, err
}

// Check returns every event of an address (normalised first) as written in
// the log, oldest line first: type, ts, source, scope, reason, origin. The
// index says where the lines are; the lines themselves are read from the
// log, so what is shown is the record of truth. No events and a nil error
// means the address is not suppressed.
func (l *Log) Check(addr string) ([]model.SuppressionEvent, error) {
	e, found, err := l.Lookup(addr)
	if err != nil || !found {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil, fmt.Errorf("suppression log %s does not exist", l.path)
	}
	out := make([]model.SuppressionEvent, 0, len(e.Offsets))
	for _, off := range e.Offsets {
		line, err := readLineAt(l.f, off)
		if err != nil {
			return nil, fmt.Errorf("read %s at byte %d: %w", l.path, off, err)
		}
		ev, err := model.ParseSuppressionEvent(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s at byte %d: %v", ErrLogCorrupt, l.path, off, err)
		}
		if ev.Addr != e.Addr {
			return nil, fmt.Errorf("%w: the index points to byte %d of %s for %s, but that line is for %s: rebuild the index",
				ErrIndexMismatch, off, l.path, e.Addr, ev.Addr)
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// Entries calls fn for every address in the index, in byte order of the
// address, reading in short transactions (10,000 keys each) so a long
// export never holds bbolt's mmap lock. fn may stop the walk by returning
// an error, which Entries returns.
func (l *Log) Entries(fn func(Entry) error) error {
	l.mu.Lock()
	err := l.flush()
	names := l.dict.names
	l.mu.Unlock()
	if err != nil {
		return err
	}
	const page = 10_000
	var after []byte
	started := false
	for {
		batch := make([]Entry, 0, page)
		err := l.db.View(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bktAddr)
			if b == nil {
				return nil
			}
			c := b.Cursor()
			var k, v []byte
			if !started {
				k, v = c.First()
			} else {
				k, v = c.Seek(after)
				if k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < page; k, v = c.Next() {
				var r record
				if err := decodeInto(&r, v); err != nil {
					return fmt.Errorf("%w for %q: rebuild the index", err, k)
				}
				batch = append(batch, r.entry(string(k), names))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(batch) < page {
			return nil
		}
		after, started = []byte(batch[len(batch)-1].Addr), true
	}
}
