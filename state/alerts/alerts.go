// Package alerts stores the monitor's alert instances (bucket "alerts",
// wave2 §9) and the index of written reports (bucket "reports"). Alerts
// are JSON model.Alert values keyed by their numeric id (big-endian, so a
// scan is in firing order); resolved alerts stay for the reports' "time to
// ack" and SLA sections.
package alerts

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

var (
	bucket  = []byte("alerts")
	reports = []byte("reports")
)

// ErrNotFound is returned by Ack for an unknown id.
var ErrNotFound = errors.New("no such alert")

func idKey(id string) ([]byte, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("alert id %q: want a number", id)
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:], nil
}

// All returns every stored alert in id order; a damaged value is skipped
// and counted.
func All(db *state.DB) (out []model.Alert, damaged int, err error) {
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var a model.Alert
			if json.Unmarshal(v, &a) != nil || a.ID == "" {
				damaged++
				return nil
			}
			out = append(out, a)
			return nil
		})
	})
	return out, damaged, err
}

// Open returns the alerts not yet resolved.
func Open(db *state.DB) ([]model.Alert, error) {
	all, _, err := All(db)
	var out []model.Alert
	for _, a := range all {
		if a.Open() {
			out = append(out, a)
		}
	}
	return out, err
}

// Step runs one evaluation's state change in one transaction: the open
// alerts are loaded, step advances them (new ids come from the bucket's
// sequence), and every changed alert is written (dropped pending ones
// deleted). The notices step returns are handed back for sending after the
// commit, so a notice never goes out for a change that was not stored.
func Step(db *state.DB, step func(open map[string]*model.Alert, newID func() string) ([]*model.Alert, []model.Notice)) ([]model.Notice, error) {
	var notices []model.Notice
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		open := map[string]*model.Alert{}
		keys := map[string][]byte{}
		if err := b.ForEach(func(k, v []byte) error {
			var a model.Alert
			if json.Unmarshal(v, &a) != nil || !a.Open() || a.ID == "" {
				return nil
			}
			open[a.Instance()] = &a
			keys[a.ID] = append([]byte(nil), k...)
			return nil
		}); err != nil {
			return err
		}
		var seqErr error
		newID := func() string {
			n, err := b.NextSequence()
			if err != nil {
				seqErr = err
			}
			return strconv.FormatUint(n, 10)
		}
		changed, ns := step(open, newID)
		if seqErr != nil {
			return seqErr
		}
		for _, a := range changed {
			k, err := idKey(a.ID)
			if err != nil {
				return err
			}
			if a.State == "" {
				if err := b.Delete(k); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		notices = ns
		return nil
	})
	return notices, err
}

// Ack acknowledges alert id as by at now.
func Ack(db *state.DB, id, by, note string, now time.Time) (model.Alert, error) {
	var out model.Alert
	k, err := idKey(id)
	if err != nil {
		return out, err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return fmt.Errorf("alert %s: %w", id, ErrNotFound)
		}
		v := b.Get(k)
		if v == nil {
			return fmt.Errorf("alert %s: %w", id, ErrNotFound)
		}
		if err := json.Unmarshal(v, &out); err != nil {
			return fmt.Errorf("alert %s: stored value damaged: %v", id, err)
		}
		if err := out.Ack(by, note, now); err != nil {
			return err
		}
		nv, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return b.Put(k, nv)
	})
	return out, err
}

// Report is one entry of the reports index.
type Report struct {
	Kind    string    `json:"kind"`   // weekly | daily
	Period  string    `json:"period"` // 2026-W10 | 2026-03-09
	Format  string    `json:"format"`
	Path    string    `json:"path"`
	SHA256  string    `json:"sha256"`
	Written time.Time `json:"written"`
}

func reportKey(r Report) []byte { return []byte(r.Kind + "/" + r.Period + "/" + r.Format) }

// PutReport records a written report (the latest per kind, period, format).
func PutReport(db *state.DB, r Report) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(reports)
		if err != nil {
			return err
		}
		return b.Put(reportKey(r), v)
	})
}

// Reports lists the index sorted by written time, then key.
func Reports(db *state.DB) ([]Report, error) {
	var out []Report
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(reports)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var r Report
			if json.Unmarshal(v, &r) == nil {
				out = append(out, r)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Written.Before(out[j].Written) })
	return out, err
}

// HasReport tells whether kind/period was written in any format.
func HasReport(db *state.DB, kind, period string) bool {
	rs, _ := Reports(db)
	for _, r := range rs {
		if r.Kind == kind && r.Period == period {
			return true
		}
	}
	return false
}
