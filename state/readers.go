package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// Cursors returns the committed cursors of source ("" = all), in key order.
func (db *DB) Cursors(source string) ([]Cursor, error) {
	var out []Cursor
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktCursors)
		if bk == nil {
			return nil
		}
		var prefix []byte
		if source != "" {
			prefix = []byte(source + "\x00")
		}
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var cur Cursor
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("cursor %q: %w", k, err)
			}
			out = append(out, cur)
		}
		return nil
	})
	return out, err
}

// DeleteCursor removes one cursor (a file that is gone for good).
func (db *DB) DeleteCursor(key string) error {
	if db.opt.ReadOnly {
		return ErrReadOnly
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bktCursors).Delete([]byte(key))
	})
}

// ParserState returns the committed parser state of source (a copy; empty
// map when none).
func (db *DB) ParserState(source string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if source == "" {
		return out, nil
	}
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktPState)
		if bk == nil {
			return nil
		}
		sb := bk.Bucket([]byte(source))
		if sb == nil {
			return nil
		}
		return sb.ForEach(func(k, v []byte) error {
			out[string(k)] = bytes.Clone(v)
			if out[string(k)] == nil {
				out[string(k)] = []byte{}
			}
			return nil
		})
	})
	return out, err
}

// Sources returns the per-source summaries, sorted by source.
func (db *DB) Sources() ([]SourceStat, error) {
	var out []SourceStat
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktSources)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			var s SourceStat
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("source %q: %w", k, err)
			}
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

// Rejects returns the kept samples (the first 20 per source) of source
// ("" = all sources), by source then arrival.
func (db *DB) Rejects(source string) ([]Reject, error) {
	var out []Reject
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktRejects)
		if bk == nil {
			return nil
		}
		each := func(name []byte) error {
			sb := bk.Bucket(name)
			if sb == nil {
				return nil
			}
			c := sb.Cursor()
			for k, v := c.Seek([]byte{rejSample}); k != nil && k[0] == rejSample; k, v = c.Next() {
				var r Reject
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("reject %q: %w", name, err)
				}
				out = append(out, r)
			}
			return nil
		}
		if source != "" {
			return each([]byte(source))
		}
		return bk.ForEachBucket(func(name []byte) error { return each(name) })
	})
	return out, err
}

// RejectCount is how many lines of source were rejected in total.
func (db *DB) RejectCount(source string) (uint64, error) {
	var n uint64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if bk := tx.Bucket(bktRejects); bk != nil && source != "" {
			if sb := bk.Bucket([]byte(source)); sb != nil {
				if v := sb.Get(rejCount); len(v) == 8 {
					n = binary.BigEndian.Uint64(v)
				}
			}
		}
		return nil
	})
	return n, err
}

// ClearRejects forgets the rejects of source (after a parser fix), so that
// new samples are kept again.
func (db *DB) ClearRejects(source string) error {
	if db.opt.ReadOnly {
		return ErrReadOnly
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bktRejects).DeleteBucket([]byte(source))
		if errors.Is(err, bbolt.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

// isp_cache values: expiry unix ns (8) | provider name.

// ISPCacheGet returns the cached provider of domain; an expired entry is a
// miss.
func (db *DB) ISPCacheGet(domain string) (isp string, ok bool) {
	now := time.Now().UnixNano()
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktISPCache)
		if bk == nil || domain == "" {
			return nil
		}
		v := bk.Get([]byte(domain))
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now {
			return nil
		}
		isp, ok = string(v[8:]), true
		return nil
	})
	return isp, ok
}

// cacheSweepEvery is how often (wall clock) ISPCachePut drops expired
// entries, so that the cache does not keep every domain ever seen.
const cacheSweepEvery = time.Hour

// ISPCachePut caches the provider of domain for ttl (> 0).
func (db *DB) ISPCachePut(domain, isp string, ttl time.Duration) error {
	if db.opt.ReadOnly {
		return ErrReadOnly
	}
	if domain == "" || ttl <= 0 {
		return fmt.Errorf("isp cache: need a domain and a positive ttl (got %q, %v)", domain, ttl)
	}
	now := time.Now()
	db.mu.Lock()
	sweep := now.Sub(db.lastSweep) >= cacheSweepEvery
	if sweep {
		db.lastSweep = now
	}
	db.mu.Unlock()
	v := make([]byte, 8+len(isp))
	binary.BigEndian.PutUint64(v, uint64(now.Add(ttl).UnixNano()))
	copy(v[8:], isp)
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktISPCache)
		if sweep {
			var expired [][]byte
			c := bk.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) <= now.UnixNano() {
					expired = append(expired, bytes.Clone(k))
				}
			}
			for _, k := range expired {
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
		}
		return bk.Put([]byte(domain), v)
	})
}
