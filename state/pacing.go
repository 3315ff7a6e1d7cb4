package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
)

// SigKey names one minute-counter series: a side, an ISP and a named reply
// signature (model.NamedSignature).
type SigKey struct {
	Side model.Side
	ISP  string
	Sig  string
}

// SigCounts sums the minute signature counts (deferrals and bounces whose
// reply is a named provider signature) per side × ISP × signature over the
// minutes whose start is in [floor_minute(since), until). side 0 = both;
// isp "" = all. Minutes older than MinuteRetention are gone.
func (db *DB) SigCounts(side model.Side, isp string, since, until time.Time) (map[SigKey]uint64, error) {
	out := map[SigKey]uint64{}
	from := floorSec(sinceSec(since), secMinute)
	to := untilSec(until)
	var lo [8]byte
	putTime(lo[:], from)
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktSigMin)
		if bk == nil {
			return nil // read-only open of a database older than the bucket
		}
		c := bk.Cursor()
		for k, v := c.Seek(lo[:]); k != nil; k, v = c.Next() {
			if len(k) < 10 || getTime(k[:8]) >= to {
				break
			}
			if len(v) != 8 || (side != 0 && model.Side(k[8]) != side) {
				continue
			}
			ispB, sig := splitNul(k[9:])
			if isp != "" && string(ispB) != isp {
				continue
			}
			out[SigKey{model.Side(k[8]), string(ispB), string(sig)}] += binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return out, err
}

// PutOverlay stores (or replaces) one pacing overlay in the "overlays"
// bucket.
func (db *DB) PutOverlay(o model.Overlay) error {
	if o.ID == "" {
		return errors.New("overlay without an id")
	}
	v, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists(bktOverlays)
		if err != nil {
			return err
		}
		return bk.Put([]byte(o.ID), v)
	})
}

// Overlays returns every stored overlay, oldest first (by Created, then ID).
// An entry that does not decode is an error naming its key: the pacer must
// not act on a half-read list.
func (db *DB) Overlays() ([]model.Overlay, error) {
	var out []model.Overlay
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktOverlays)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			var o model.Overlay
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("overlay %q: %w", k, err)
			}
			out = append(out, o)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b model.Overlay) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return out, err
}

// DeleteOverlaysBefore drops ended and dismissed overlays that ended before
// t (history the reports no longer need); live ones are kept.
func (db *DB) DeleteOverlaysBefore(t time.Time) (int, error) {
	n := 0
	err := db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(bktOverlays)
		if bk == nil {
			return nil
		}
		var del [][]byte
		bk.ForEach(func(k, v []byte) error {
			var o model.Overlay
			if json.Unmarshal(v, &o) == nil && !o.Live() && o.State != model.OverlaySuggested &&
				!o.Ended.IsZero() && o.Ended.Before(t) {
				del = append(del, bytes.Clone(k))
			}
			return nil
		})
		for _, k := range del {
			if err := bk.Delete(k); err != nil {
				return err
			}
		}
		n = len(del)
		return nil
	})
	return n, err
}
