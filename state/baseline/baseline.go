// Package baseline stores what the source-state audit imports (wave2 §4.4):
// ESP statistics per provider and day or hour (bucket "baseline") and the
// reputation baseline (bucket "reputation"). Both go through state's
// View/Update, never the counter buckets: imported numbers are not events.
//
// A baseline row is keyed by its identity in the export: source, the ESP's
// provider name, resolution, start and (for Mailgun's ip/ip_pool splits)
// the dimension. Importing the same file again, or an overlapping export of
// the same days, replaces rows with themselves: it adds nothing.
package baseline

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

var (
	bktBaseline   = []byte("baseline")
	bktReputation = []byte("reputation")
	prefRow       = []byte("r\x00")
	prefFile      = []byte("f\x00")
)

// Row is one imported count: one ESP provider name, one hour or day, maybe
// one IP or pool.
type Row struct {
	Source   string    `json:"source"` // sendgrid, mailgun, ses, sparkpost, postmark, csv (or --source NAME)
	Name     string    `json:"name"`   // the provider name as the ESP wrote it
	ISP      string    `json:"isp"`    // cutover's provider (other when unknown)
	Start    time.Time `json:"start"`
	Hour     bool      `json:"hour,omitempty"` // hour resolution; else day
	Dim      string    `json:"dim,omitempty"`  // "" | ip | ip_pool
	DimValue string    `json:"dim_value,omitempty"`
	Counts   model.Tally
	// Requested and Processed are the ESP's own totals where it has them
	// (SendGrid requests/processed, SparkPost targeted/injected).
	Requested uint64 `json:"requested,omitempty"`
	Processed uint64 `json:"processed,omitempty"`
	Origin    string `json:"origin,omitempty"` // file sha256:row of the last import
}

// Span is the row's length.
func (r Row) Span() time.Duration {
	if r.Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

func (r Row) key() []byte {
	k := append([]byte(nil), prefRow...)
	for _, p := range []string{r.Source, r.Name} {
		k = append(k, bytes.ReplaceAll([]byte(p), []byte{0}, []byte("?"))...)
		k = append(k, 0)
	}
	if r.Hour {
		k = append(k, 'h')
	} else {
		k = append(k, 'd')
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(r.Start.Unix())^(1<<63))
	k = append(k, t[:]...)
	k = append(k, 0)
	k = append(k, r.Dim...)
	k = append(k, 0)
	return append(k, bytes.ReplaceAll([]byte(r.DimValue), []byte{0}, []byte("?"))...)
}

// storedRow is the value: everything but the origin takes part in "same
// row". It is stored compactly (a 90-day hourly export of 20 providers is
// 43k rows, read whole by every report): version 1, nine uvarints
// (delivered, deferred, held, bounced, hard, expired, complaints,
// requested, processed), the ISP (uvarint length + bytes), the origin.
type storedRow struct {
	ISP       string
	Counts    model.Tally
	Requested uint64
	Processed uint64
	Origin    string
}

func (s storedRow) encode() []byte {
	b := make([]byte, 0, 32+len(s.ISP)+len(s.Origin))
	b = append(b, 1)
	c := s.Counts
	for _, v := range []uint64{c.Delivered, c.Deferred, c.Held, c.Bounced, c.HardBounce, c.Expired, c.Complaints, s.Requested, s.Processed} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(s.ISP)))
	b = append(b, s.ISP...)
	return append(b, s.Origin...)
}

func decodeStored(v []byte) (storedRow, error) {
	var s storedRow
	if len(v) == 0 || v[0] != 1 {
		return s, errors.New("unknown value version")
	}
	v = v[1:]
	var vals [10]uint64
	for i := range vals {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return s, errors.New("truncated value")
		}
		vals[i], v = x, v[n:]
	}
	if vals[9] > uint64(len(v)) {
		return s, errors.New("truncated value")
	}
	s.Counts = model.Tally{Delivered: vals[0], Deferred: vals[1], Held: vals[2], Bounced: vals[3], HardBounce: vals[4], Expired: vals[5], Complaints: vals[6]}
	s.Requested, s.Processed = vals[7], vals[8]
	s.ISP, s.Origin = string(v[:vals[9]]), string(v[vals[9]:])
	return s, nil
}

// File is one imported export.
type File struct {
	SHA256   string    `json:"sha256"`
	Path     string    `json:"path"`
	Source   string    `json:"source"`
	Rows     int       `json:"rows"`
	Imported time.Time `json:"imported"`
}

// Result counts what an import changed.
type Result struct {
	Added     int  `json:"added"`     // rows not stored before
	Replaced  int  `json:"replaced"`  // rows stored with other numbers (a newer export)
	Unchanged int  `json:"unchanged"` // rows stored with the same numbers
	KnownFile bool `json:"known_file,omitempty"`
}

// Put stores rows of one file in one transaction: all or nothing.
func Put(db *state.DB, f File, rows []Row) (Result, error) {
	var res Result
	err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktBaseline)
		if err != nil {
			return err
		}
		fk := append(append([]byte(nil), prefFile...), f.SHA256...)
		res.KnownFile = b.Get(fk) != nil
		for _, r := range rows {
			if r.Source == "" || r.Start.IsZero() {
				return errors.New("baseline: row without source or start")
			}
			k := r.key()
			v := storedRow{ISP: r.ISP, Counts: r.Counts, Requested: r.Requested, Processed: r.Processed, Origin: r.Origin}.encode()
			old := b.Get(k)
			switch {
			case old == nil:
				res.Added++
			default:
				if o, err := decodeStored(old); err == nil && o.ISP == r.ISP && o.Counts == r.Counts && o.Requested == r.Requested && o.Processed == r.Processed {
					res.Unchanged++
					continue
				}
				res.Replaced++
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		f.Rows = len(rows)
		fv, err := json.Marshal(f)
		if err != nil {
			return err
		}
		return b.Put(fk, fv)
	})
	return res, err
}

// Rows returns stored rows whose start lies in [since, until) (zero times
// are open ends), sorted by start, source, name, dimension.
func Rows(tx *bbolt.Tx, since, until time.Time) ([]Row, error) {
	b := tx.Bucket(bktBaseline)
	if b == nil {
		return nil, nil
	}
	var out []Row
	c := b.Cursor()
	for k, v := c.Seek(prefRow); k != nil && bytes.HasPrefix(k, prefRow); k, v = c.Next() {
		if st, _, ok := keyStart(k[len(prefRow):]); ok && ((!since.IsZero() && st.Before(since)) || (!until.IsZero() && !st.Before(until))) {
			continue
		}
		r, err := decodeRow(k[len(prefRow):], v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Dim+a.DimValue < b.Dim+b.DimValue
	})
	return out, nil
}

func decodeRow(k, v []byte) (Row, error) {
	var r Row
	parts := bytes.SplitN(k, []byte{0}, 3)
	if len(parts) != 3 || len(parts[2]) < 10 {
		return r, fmt.Errorf("baseline: bad key %q", k)
	}
	r.Source, r.Name = string(parts[0]), string(parts[1])
	rest := parts[2]
	r.Hour = rest[0] == 'h'
	r.Start = time.Unix(int64(binary.BigEndian.Uint64(rest[1:9])^(1<<63)), 0).UTC()
	dim := bytes.SplitN(rest[10:], []byte{0}, 2)
	r.Dim = string(dim[0])
	if len(dim) == 2 {
		r.DimValue = string(dim[1])
	}
	s, err := decodeStored(v)
	if err != nil {
		return r, fmt.Errorf("baseline: row %s/%s %s: %w", r.Source, r.Name, r.Start.Format(time.RFC3339), err)
	}
	r.ISP, r.Counts, r.Requested, r.Processed, r.Origin = s.ISP, s.Counts, s.Requested, s.Processed, s.Origin
	return r, nil
}

// keyStart reads a row key's start and resolution without decoding the
// value.
func keyStart(k []byte) (time.Time, bool, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return time.Time{}, false, false
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 || len(k) < i+1+j+1+9 {
		return time.Time{}, false, false
	}
	rest := k[i+1+j+1:]
	return time.Unix(int64(binary.BigEndian.Uint64(rest[1:9])^(1<<63)), 0).UTC(), rest[0] == 'h', true
}

// Files lists imported files, oldest import first.
func Files(tx *bbolt.Tx) ([]File, error) {
	b := tx.Bucket(bktBaseline)
	if b == nil {
		return nil, nil
	}
	var out []File
	c := b.Cursor()
	for k, v := c.Seek(prefFile); k != nil && bytes.HasPrefix(k, prefFile); k, v = c.Next() {
		var f File
		if err := json.Unmarshal(v, &f); err != nil {
			return nil, fmt.Errorf("baseline: file %q: %w", k, err)
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Imported.Before(out[j].Imported) })
	return out, nil
}

// PutReputation stores reputation rows; a row with the same key (kind,
// subject, date) replaces the earlier one. It returns how many were new.
func PutReputation(db *state.DB, recs []model.ReputationRecord) (added int, err error) {
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktReputation)
		if err != nil {
			return err
		}
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			k := []byte(r.Key())
			if b.Get(k) == nil {
				added++
			}
			if err := b.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	return added, err
}

// Reputation reads every reputation row in key order (kind, subject, date):
// the plan gate's reputation item and the Postmaster spam-rate alert read it
// in their own transaction. No bucket yet: no rows, no error.
func Reputation(tx *bbolt.Tx) ([]model.ReputationRecord, error) {
	b := tx.Bucket(bktReputation)
	if b == nil {
		return nil, nil
	}
	var out []model.ReputationRecord
	err := b.ForEach(func(k, v []byte) error {
		var r model.ReputationRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("reputation %q: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// ReadReputation is Reputation in its own read transaction.
func ReadReputation(db *state.DB) (out []model.ReputationRecord, err error) {
	err = db.View(func(tx *bbolt.Tx) error {
		out, err = Reputation(tx)
		return err
	})
	return out, err
}

// ReadRows is Rows in its own read transaction.
func ReadRows(db *state.DB, since, until time.Time) (out []Row, err error) {
	err = db.View(func(tx *bbolt.Tx) error {
		out, err = Rows(tx, since, until)
		return err
	})
	return out, err
}
