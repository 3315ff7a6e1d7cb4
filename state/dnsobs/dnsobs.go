// Package dnsobs stores what cutover saw when it asked authoritative DNS
// servers for a record (wave2 §5.8, bucket "dnsobs"): one entry per record,
// server and moment, so TTL pre-staging (lowered_at, safe_at, an early change)
// is derived from observations that survive restarts, never from anyone's word.
package dnsobs

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model/auth"
	"cutover/state"
)

var bucket = []byte("dnsobs")

// Retention bounds the bucket: observations older than this before the
// newest one are dropped on the next Put (a cutover lasts weeks; a 5-minute watch of 20 records over
// 90 days is ~500k small entries).
const Retention = 90 * 24 * time.Hour

// value is the stored form; rd is always false on the authoritative path.
type value struct {
	Rcode  string `json:"rcode"`
	TTL    uint32 `json:"ttl"`
	Data   string `json:"rdata_sha256"`
	Serial uint32 `json:"soa_serial"`
	RD     bool   `json:"rd"`
}

// key: name "/" type "/" ns "/" big-endian unix nanoseconds, so one prefix
// scan returns a record's observations in time order per server.
func key(name, typ, ns string, at time.Time) []byte {
	k := []byte(prefix(name, typ) + ns + "/")
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(at.UnixNano()))
	return append(k, t[:]...)
}

func prefix(name, typ string) string {
	return auth.Canon(name) + "/" + strings.ToUpper(typ) + "/"
}

// Put stores one round of observations of name/typ.
func Put(db *state.DB, name, typ string, obs []auth.Obs, rd bool) error {
	return db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		for _, o := range obs {
			if strings.Contains(o.NS, "/") {
				return fmt.Errorf("dnsobs: server name %q contains '/'", o.NS)
			}
			v, err := json.Marshal(value{Rcode: o.Rcode, TTL: o.TTL, Data: o.Data, Serial: o.Serial, RD: rd})
			if err != nil {
				return err
			}
			if err := b.Put(key(name, typ, o.NS, o.At), v); err != nil {
				return err
			}
		}
		// Relative to the newest observation, not the wall clock: a fake
		// clock or a replayed lab keeps its own history.
		var newest time.Time
		for _, o := range obs {
			if o.At.After(newest) {
				newest = o.At
			}
		}
		return prune(b, name, typ, newest.Add(-Retention))
	})
}

func prune(b *bbolt.Bucket, name, typ string, before time.Time) error {
	p := []byte(prefix(name, typ))
	c := b.Cursor()
	var old [][]byte
	for k, _ := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, _ = c.Next() {
		if len(k) >= 8 && int64(binary.BigEndian.Uint64(k[len(k)-8:])) < before.UnixNano() {
			old = append(old, append([]byte(nil), k...))
		}
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Load returns every stored observation of name/typ. A damaged entry is
// skipped and counted, never fatal.
func Load(db *state.DB, name, typ string) (obs []auth.Obs, damaged int, err error) {
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		p := []byte(prefix(name, typ))
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && strings.HasPrefix(string(k), string(p)); k, v = c.Next() {
			rest := k[len(p):]
			if len(rest) < 10 || rest[len(rest)-9] != '/' {
				damaged++
				continue
			}
			var val value
			if json.Unmarshal(v, &val) != nil {
				damaged++
				continue
			}
			at := time.Unix(0, int64(binary.BigEndian.Uint64(rest[len(rest)-8:]))).UTC()
			obs = append(obs, auth.Obs{At: at, NS: string(rest[:len(rest)-9]), Rcode: val.Rcode, TTL: val.TTL, Data: val.Data, Serial: val.Serial})
		}
		return nil
	})
	return obs, damaged, err
}

var latestKey = []byte("\x00latest-report") // sorts before every name key

// PutLatest stores the newest `dns check` report (JSON made by the caller):
// the owner's runner writes it, status, /metrics and the cockpit read it.
func PutLatest(db *state.DB, report []byte) error {
	return db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put(latestKey, report)
	})
}

// Latest returns the stored report (nil when none).
func Latest(db *state.DB) ([]byte, error) {
	var out []byte
	err := db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			if v := b.Get(latestKey); v != nil {
				out = append([]byte(nil), v...)
			}
		}
		return nil
	})
	return out, err
}

const flatPrefix = "\x00flat/"

// PutFlattened records the answers hash of an include flattened on request
// (`dns plan --flatten NAME`): `dns check` warns when the provider changes it.
func PutFlattened(db *state.DB, include, hash string) error {
	return db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(flatPrefix+auth.Canon(include)), []byte(hash))
	})
}

// Flattened returns every recorded include and its hash.
func Flattened(db *state.DB) (map[string]string, error) {
	out := map[string]string{}
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		p := []byte(flatPrefix)
		for k, v := c.Seek(p); k != nil && strings.HasPrefix(string(k), flatPrefix); k, v = c.Next() {
			out[string(k[len(p):])] = string(v)
		}
		return nil
	})
	return out, err
}
