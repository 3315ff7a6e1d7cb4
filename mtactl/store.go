package mtactl

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"cutover/model"
	"cutover/state"
)

// bbolt buckets owned by mtactl (state leaves them alone).
var (
	bucketSnapshots = []byte("snapshots") // id -> Snapshot JSON: every managed file's bytes before a change
	bucketAudit     = []byte("audit")     // id -> AuditEntry JSON
	bucketMeta      = []byte("mtactl")    // "applied" -> applied JSON
	keyApplied      = []byte("applied")
)

// Snapshot is the exact content of every managed file right before change ID.
type Snapshot struct {
	ID      string        `json:"id"`
	Time    time.Time     `json:"time"`
	Desired model.Desired `json:"desired"` // what was in force before the change
	Files   []SnapFile    `json:"files"`
	// Live is what cutover had last confirmed live in each managed file
	// (written, validated, reloaded) when the snapshot was taken; it differs
	// from Files where the files then held bytes nobody confirmed (an
	// interrupted change, an edit inside cutover's blocks). A rollback
	// restores cutover's part from Live. Absent in older snapshots.
	Live map[string]appliedFile `json:"live,omitempty"`
}

// SnapFile is one file in a snapshot.
type SnapFile struct {
	Path   string      `json:"path"`
	Exists bool        `json:"exists"`
	Data   []byte      `json:"data,omitempty"`
	Mode   fs.FileMode `json:"mode,omitempty"`
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
	SHA256 string      `json:"sha256,omitempty"`
}

// AuditEntry records one apply or rollback: who, when, from -> to, the
// snapshot taken before it, and how it ended.
type AuditEntry struct {
	ID       string        `json:"id"` // also the snapshot id
	Time     time.Time     `json:"time"`
	Who      Who           `json:"who"`
	Action   string        `json:"action"` // apply | rollback | baseline
	From     model.Desired `json:"from"`
	To       model.Desired `json:"to"`
	Snapshot string        `json:"snapshot"`
	// RollbackOf is the snapshot a rollback restored.
	RollbackOf string       `json:"rollback_of,omitempty"`
	Files      []FileRecord `json:"files,omitempty"`
	Drift      []string     `json:"drift,omitempty"` // files edited behind cutover's back, overwritten with consent
	Reloaded   []string     `json:"reloaded,omitempty"`
	Result     string       `json:"result"`         // pending | ok | failed
	Step       string       `json:"step,omitempty"` // failing step
	Error      string       `json:"error,omitempty"`
	Output     string       `json:"output,omitempty"`   // the checker's output
	Restored   string       `json:"restored,omitempty"` // after a failure: "yes" or what went wrong
	Duration   string       `json:"duration,omitempty"`
	Notes      []string     `json:"notes,omitempty"`
}

// Result values.
const (
	ResultPending = "pending" // the process stopped mid-apply: check the files
	ResultOK      = "ok"
	ResultFailed  = "failed"
)

// FileRecord is a file a change touched.
type FileRecord struct {
	Path   string `json:"path"`
	Before string `json:"before"` // sha256, "" = absent
	After  string `json:"after"`
	// Driver and Table say how to rebuild and reload the file when a later
	// start has to settle an interrupted change (see reconcile).
	Driver string `json:"driver,omitempty"`
	Table  string `json:"table,omitempty"`
}

// applied is what cutover last put into the files, for drift detection and
// Current.
type applied struct {
	Desired model.Desired          `json:"desired"`
	AuditID string                 `json:"audit_id"`
	Time    time.Time              `json:"time"`
	Files   map[string]appliedFile `json:"files"`
}

type appliedFile struct {
	Exists bool   `json:"exists"`
	SHA256 string `json:"sha256"`
	Data   []byte `json:"data,omitempty"`
}

func idKey(id uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, id)
	return k
}

func parseID(s string) ([]byte, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("change id %q: want a number from `cutover history`", s)
	}
	return idKey(n), nil
}

// store is mtactl's view of the database.
type store struct{ db *state.DB }

func (s store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketSnapshots, bucketAudit, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s store) applied() (*applied, error) {
	var a *applied
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return nil
		}
		v := b.Get(keyApplied)
		if v == nil {
			return nil
		}
		a = &applied{}
		return json.Unmarshal(v, a)
	})
	return a, err
}

// begin allocates the change id and stores the snapshot with a pending
// audit entry in one transaction: a crash after this point leaves a visible
// "pending" entry, never a silent change.
func (s store) begin(snap *Snapshot, entry *AuditEntry) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		ab := tx.Bucket(bucketAudit)
		n, err := ab.NextSequence()
		if err != nil {
			return err
		}
		id := strconv.FormatUint(n, 10)
		snap.ID, entry.ID, entry.Snapshot = id, id, id
		sv, err := json.Marshal(snap)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSnapshots).Put(idKey(n), sv); err != nil {
			return err
		}
		ev, err := json.Marshal(entry)
		if err != nil {
			return err
		}
		return ab.Put(idKey(n), ev)
	})
}

// finish stores the final audit entry and, after a success, the new applied
// state, in one transaction.
func (s store) finish(entry *AuditEntry, a *applied) error {
	key, err := parseID(entry.ID)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		ev, err := json.Marshal(entry)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketAudit).Put(key, ev); err != nil {
			return err
		}
		if a == nil {
			return nil
		}
		av, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyApplied, av)
	})
}

// ErrNotFound is returned for an unknown change id.
var ErrNotFound = errors.New("no such change")

func (s store) snapshot(id string) (*Snapshot, error) {
	key, err := parseID(id)
	if err != nil {
		return nil, err
	}
	var snap *Snapshot
	err = s.db.View(func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketSnapshots); b != nil {
			v = b.Get(key)
		}
		if v == nil {
			return fmt.Errorf("snapshot %s: %w", id, ErrNotFound)
		}
		snap = &Snapshot{}
		return json.Unmarshal(v, snap)
	})
	return snap, err
}

func (s store) entry(id string) (AuditEntry, error) {
	var e AuditEntry
	key, err := parseID(id)
	if err != nil {
		return e, err
	}
	err = s.db.View(func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketAudit); b != nil {
			v = b.Get(key)
		}
		if v == nil {
			return fmt.Errorf("change %s: %w", id, ErrNotFound)
		}
		return json.Unmarshal(v, &e)
	})
	return e, err
}

func (s store) history() ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// Summary is the one-line form for `cutover history` and the audit view:
// "#3 2026-03-02 10:04:05Z alice from 192.0.2.7 apply 30% new -> 50% new: ok (reloaded exim) 1.2s".
func (e AuditEntry) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%s %s %s %s %s -> %s: %s", e.ID, e.Time.UTC().Format("2006-01-02 15:04:05Z"), e.Who, e.Action,
		ratioSummary(e.From), ratioSummary(e.To), e.Result)
	if e.RollbackOf != "" {
		fmt.Fprintf(&b, " (restored the files from before #%s)", e.RollbackOf)
	}
	if e.Step != "" {
		fmt.Fprintf(&b, " at %s", e.Step)
	}
	if len(e.Reloaded) > 0 {
		fmt.Fprintf(&b, " (reloaded %s)", strings.Join(e.Reloaded, ", "))
	}
	if e.Duration != "" {
		b.WriteString(" " + e.Duration)
	}
	return b.String()
}

func ratioSummary(d model.Desired) string {
	s := fmt.Sprintf("%d%% new", d.RatioNew)
	for _, isp := range sortedKeys(d.PerISP) {
		s += fmt.Sprintf(" %s %d%%", isp, d.PerISP[isp])
	}
	return s
}
