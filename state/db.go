package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Options configure Open. The zero value gives the defaults.
type Options struct {
	// Timeout is how long Open waits for bbolt's file lock; default 1s.
	// bbolt itself would wait forever without one.
	Timeout time.Duration
	// AllowNetFS opens a database on NFS, SMB/CIFS, FUSE (sshfs), 9p, ceph,
	// AFS... with a warning (see Warnings) instead of refusing it.
	AllowNetFS bool
	// ReadOnly opens with bbolt's shared lock; Commit and writes fail.
	ReadOnly bool
	// MinuteRetention keeps minute buckets (and domain hour buckets) this
	// long before the newest event committed; default 48h. Relative to event
	// time, not the wall clock, so a backfill of old logs keeps its detail.
	MinuteRetention time.Duration
	// HourRetention keeps hour buckets, reasons and via breakdowns this long
	// before the newest event; default 90 days. Day buckets are kept forever
	// (domain day buckets 400 days).
	HourRetention time.Duration
}

const (
	defaultTimeout         = time.Second
	defaultMinuteRetention = 48 * time.Hour
	defaultHourRetention   = 90 * 24 * time.Hour
	domainDayRetention     = 400 * 24 * time.Hour
)

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.MinuteRetention <= 0 {
		o.MinuteRetention = defaultMinuteRetention
	}
	if o.HourRetention <= 0 {
		o.HourRetention = defaultHourRetention
	}
	if o.HourRetention < o.MinuteRetention {
		// Hours must outlive minutes or a range could fall between them.
		o.HourRetention = o.MinuteRetention
	}
	return o
}

// DB is the cutover database. Its methods are safe for concurrent use; bbolt
// serialises writers.
type DB struct {
	bolt     *bbolt.DB
	path     string
	opt      Options
	owner    []byte // what we wrote to <path>.owner, to remove only our own
	warnings []string

	mu        sync.Mutex
	newest    int64 // unix ns of the newest event committed; 0 = none
	hasNewest bool
	lastSweep time.Time // isp_cache expiry sweep (wall clock)
}

// ErrLocked matches (errors.Is) the error Open returns when another process
// (or another open in this one) holds the database.
var ErrLocked = errors.New("database is locked")

// ErrNetFS matches (errors.Is) the error Open returns for a database on a
// network or FUSE filesystem.
var ErrNetFS = errors.New("database on a network filesystem")

// Owner is the content of <db>.owner: who holds the database open.
type Owner struct {
	PID     int       `json:"pid"`
	User    string    `json:"user"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Mode    string    `json:"mode"` // read-write | read-only
	Since   time.Time `json:"since"`
}

// LockedError says who holds the database, when known.
type LockedError struct {
	Path  string
	Owner *Owner // nil when <db>.owner is missing or unreadable
	Stale bool   // Owner names a process that is not running
}

func (e *LockedError) Error() string {
	o := e.Owner
	if o == nil {
		return fmt.Sprintf("database %s is locked by another process; stop it or attach to it", e.Path)
	}
	if e.Stale {
		return fmt.Sprintf("database %s is locked by another process (%s.owner names pid %d, which is not running); stop it or attach to it", e.Path, e.Path, o.PID)
	}
	detail := o.Command
	if o.User != "" {
		detail += ", user " + o.User
	}
	if o.Mode == "read-only" {
		detail += ", read-only"
	}
	if !o.Since.IsZero() {
		detail += ", since " + o.Since.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("database %s is locked by pid %d (%s); stop it or attach to it", e.Path, o.PID, detail)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// NetFSError refuses a database on a network filesystem.
type NetFSError struct {
	Path  string
	FS    string // e.g. "NFS", "FUSE (sshfs?)"
	Magic int64  // statfs f_type
}

func (e *NetFSError) Error() string {
	return fmt.Sprintf("database %s is on %s (statfs type %#x): bbolt's mmap and flock hang or corrupt data on network filesystems; put the database on a local disk, or allow it explicitly (AllowNetFS) at your own risk",
		e.Path, e.FS, e.Magic)
}

func (e *NetFSError) Is(target error) bool { return target == ErrNetFS }

// OwnerPath is the file that names the process holding path open.
func OwnerPath(path string) string { return path + ".owner" }

// ReadOwner reads <path>.owner.
func ReadOwner(path string) (*Owner, error) {
	b, err := os.ReadFile(OwnerPath(path))
	if err != nil {
		return nil, err
	}
	var o Owner
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w", OwnerPath(path), err)
	}
	return &o, nil
}

// Open opens (creating if needed, unless ReadOnly) the database at path.
func Open(path string, opt Options) (*DB, error) {
	opt = opt.withDefaults()
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	db := &DB{path: path, opt: opt}

	if err := db.checkFS(); err != nil {
		return nil, err
	}

	bo := &bbolt.Options{Timeout: opt.Timeout, ReadOnly: opt.ReadOnly}
	bdb, err := bbolt.Open(path, 0o600, bo)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			le := &LockedError{Path: path}
			if o, rerr := ReadOwner(path); rerr == nil {
				le.Owner = o
				le.Stale = !processAlive(o.PID)
			}
			return nil, le
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.bolt = bdb

	if err := db.init(); err != nil {
		bdb.Close()
		return nil, err
	}
	db.writeOwner()
	return db, nil
}

// checkFS refuses (or, with AllowNetFS, warns about) a network filesystem.
// It looks at the file when it exists (a symlink may point elsewhere), else at
// its directory. A statfs failure is not fatal: bbolt will report the real
// problem.
func (db *DB) checkFS() error {
	target := db.path
	if _, err := os.Stat(target); err != nil {
		target = filepath.Dir(target)
	}
	magic, err := statfsType(target)
	if err != nil {
		return nil
	}
	name, bad := netFSName(magic)
	if !bad {
		return nil
	}
	e := &NetFSError{Path: db.path, FS: name, Magic: magic}
	if !db.opt.AllowNetFS {
		return e
	}
	db.warnings = append(db.warnings, "warning: "+e.Error())
	return nil
}

// netFSTypes are statfs f_type magics (linux/magic.h and friends) of
// filesystems where bbolt's flock and mmap cannot be trusted.
var netFSTypes = map[int64]string{
	0x6969:     "NFS",
	0x517B:     "SMB",
	0xFF534D42: "CIFS",
	0xFE534D42: "SMB2",
	0x65735546: "FUSE (sshfs?)",
	0x01021997: "9p",
	0x00C36400: "ceph",
	0x5346414F: "AFS",
	0x6B414653: "kAFS",
	0x73757245: "Coda",
	0x564C:     "NCP",
	0x0BD00BD0: "Lustre",
	0x47504653: "GPFS",
	0x013111A8: "IBRIX",
	0x19830326: "FhGFS/BeeGFS",
	0xAAD7AAEA: "PanFS",
}

func netFSName(magic int64) (string, bool) {
	n, ok := netFSTypes[magic]
	return n, ok
}

// statfsType returns the filesystem type magic of path. Tests replace it.
var statfsType = statfsMagic

func (db *DB) init() error {
	if db.opt.ReadOnly {
		return db.bolt.View(db.loadMeta)
	}
	// A database that has every bucket and its schema needs no write: a
	// bbolt Update always commits (two fdatasyncs), which was most of the
	// floor of a no-op backfill.
	ready := false
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return nil
			}
		}
		if tx.Bucket(bktMeta).Get(metaSchema) == nil {
			return nil
		}
		ready = true
		return db.loadMeta(tx)
	}); err != nil || ready {
		return err
	}
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bktMeta)
		if meta.Get(metaSchema) == nil {
			var v [4]byte
			binary.BigEndian.PutUint32(v[:], SchemaVersion)
			if err := meta.Put(metaSchema, v[:]); err != nil {
				return err
			}
		}
		return db.loadMeta(tx)
	})
}

func (db *DB) loadMeta(tx *bbolt.Tx) error {
	meta := tx.Bucket(bktMeta)
	if meta == nil {
		return nil // read-only open of a database never written
	}
	if v := meta.Get(metaSchema); len(v) == 4 {
		if s := binary.BigEndian.Uint32(v); s > SchemaVersion {
			return fmt.Errorf("database %s has schema %d, newer than this cutover understands (%d)", db.path, s, SchemaVersion)
		}
	}
	if v := meta.Get(metaNewest); len(v) == 8 {
		db.newest, db.hasNewest = int64(binary.BigEndian.Uint64(v)), true
	}
	return nil
}

// writeOwner records who holds the database. Best effort: a read-only
// directory must not stop a read-only open.
func (db *DB) writeOwner() {
	o := Owner{PID: os.Getpid(), Command: commandLine(), Mode: "read-write", Since: time.Now().UTC().Truncate(time.Second)}
	if db.opt.ReadOnly {
		o.Mode = "read-only"
	}
	if u, err := user.Current(); err == nil {
		o.User = u.Username
	}
	o.Host, _ = os.Hostname()
	b, err := json.Marshal(o)
	if err != nil {
		return
	}
	b = append(b, '\n')
	// A fresh name with O_EXCL (CreateTemp): a symlink planted at a
	// predictable <db>.owner.tmp<pid> made WriteFile truncate its target.
	f, err := os.CreateTemp(filepath.Dir(db.path), filepath.Base(OwnerPath(db.path))+".tmp*")
	if err != nil {
		return
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644) // who holds the database is for every local user
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, OwnerPath(db.path))
	}
	if err != nil {
		os.Remove(tmp)
		return
	}
	db.owner = b
}

func commandLine() string {
	if len(os.Args) == 0 {
		return "?"
	}
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	s := strings.Join(args, " ")
	return cutUTF8(s, 200)
}

// Close removes the owner file (if it is still ours) and closes bbolt.
func (db *DB) Close() error {
	if db.owner != nil {
		// Remove before unlocking, so a waiter never reads our name after we
		// are gone; skip a file another reader has since replaced.
		if cur, err := os.ReadFile(OwnerPath(db.path)); err == nil && bytes.Equal(cur, db.owner) {
			os.Remove(OwnerPath(db.path))
		}
		db.owner = nil
	}
	return db.bolt.Close()
}

// Path is the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Warnings are non-fatal problems found by Open (a network filesystem
// allowed by AllowNetFS).
func (db *DB) Warnings() []string { return append([]string(nil), db.warnings...) }

// Newest is the newest event time committed (zero when none).
func (db *DB) Newest() time.Time {
	db.mu.Lock()
	defer db.mu.Unlock()
	if !db.hasNewest {
		return time.Time{}
	}
	return time.Unix(0, db.newest).UTC()
}

// View runs fn in a read-only bbolt transaction, for packages that keep
// their own buckets (suppression index, snapshots, audit). Byte slices from
// the transaction are only valid inside fn.
func (db *DB) View(fn func(tx *bbolt.Tx) error) error { return db.bolt.View(fn) }

// Update runs fn in a read-write bbolt transaction. Do not touch the buckets
// this package owns (see the package doc). On a ReadOnly database it returns
// ErrReadOnly (not bbolt's own error), like every other write.
func (db *DB) Update(fn func(tx *bbolt.Tx) error) error {
	if db.opt.ReadOnly {
		return ErrReadOnly
	}
	return db.bolt.Update(fn)
}

// ReadOnly reports whether the database was opened ReadOnly.
func (db *DB) ReadOnly() bool { return db.opt.ReadOnly }
