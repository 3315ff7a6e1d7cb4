package state

import (
	"fmt"
	"time"

	"cutover/model"
)

// Cursor is how far one followed file has been consumed. It is committed in
// the same bbolt transaction as the counter deltas its lines produced, so a
// crash replays from exactly the last commit.
type Cursor struct {
	Source   string    `json:"source"`   // configured source name
	Path     string    `json:"path"`     // last path the file was seen at
	FPLen    int       `json:"fp_len"`   // bytes covered by FPHash (grows to 4 KiB)
	FPHash   uint64    `json:"fp_hash"`  // hash of the first FPLen bytes (uncompressed)
	Offset   int64     `json:"offset"`   // always just after a newline
	Marker   uint64    `json:"marker"`   // hash of the bytes just before Offset
	MarkLen  int       `json:"mark_len"` // how many bytes Marker covers
	Size     int64     `json:"size"`     // file size when last read (for lag)
	LastLine time.Time `json:"last_line"`
	Updated  time.Time `json:"updated"`
	Lines    int64     `json:"lines"` // lines consumed from this file
	Events   int64     `json:"events"`
	Rejected int64     `json:"rejected"`
	Done     bool      `json:"done"` // rotated away and drained
}

// Key identifies a cursor: a file is known by its content, not its path,
// because rename rotation moves it.
func (c Cursor) Key() string {
	return c.Source + "\x00" + fpString(c.FPLen, c.FPHash)
}

// Reject is a line that looked like an outcome but could not be parsed.
type Reject struct {
	Source string `json:"source"`
	Path   string `json:"path"`
	Offset int64  `json:"offset"` // byte offset of the line's start
	// Line is the line's number in the file, from 1; 0 when unknown (a
	// follower that started at the end of a file has not counted its lines).
	Line   int64     `json:"line,omitempty"`
	Text   string    `json:"text"` // raw, untrusted, cut to 512 bytes
	Reason string    `json:"reason"`
	Seen   time.Time `json:"seen"`
}

// SourceStat is the persisted per-source summary shown by `cutover sources`.
type SourceStat struct {
	Source   string `json:"source"`
	Kind     string `json:"kind"`
	Side     string `json:"side"`
	Lines    int64  `json:"lines"`
	Events   int64  `json:"events"`
	Rejected int64  `json:"rejected"`
	// NoDomain counts events whose address has no usable domain (a pipe
	// target, an address literal, garbage): counted, but under no domain.
	NoDomain  int64     `json:"no_domain,omitempty"`
	LastLine  time.Time `json:"last_line"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated"`
}

// Counts are the fixed-width counters of one bucket.
type Counts struct {
	Delivered  uint64 `json:"delivered"`
	Deferred   uint64 `json:"deferred"`
	Held       uint64 `json:"held"`
	Bounced    uint64 `json:"bounced"`
	HardBounce uint64 `json:"hard_bounced"` // subset of Bounced with class hard
	Expired    uint64 `json:"expired"`
	Complaints uint64 `json:"complaints"`
}

// Add adds o into c.
func (c *Counts) Add(o Counts) {
	c.Delivered += o.Delivered
	c.Deferred += o.Deferred
	c.Held += o.Held
	c.Bounced += o.Bounced
	c.HardBounce += o.HardBounce
	c.Expired += o.Expired
	c.Complaints += o.Complaints
}

// AddEvent counts one event.
func (c *Counts) AddEvent(e *model.Event) {
	switch e.Outcome {
	case model.Delivered:
		c.Delivered++
	case model.Deferred:
		c.Deferred++
	case model.Held:
		c.Held++
	case model.Bounced:
		c.Bounced++
		if e.Class == model.ClassHard {
			c.HardBounce++
		}
	case model.Expired:
		c.Expired++
	case model.Complaint:
		c.Complaints++
	}
}

// Total is every recipient outcome counted (attempts included).
func (c Counts) Total() uint64 {
	return c.Delivered + c.Deferred + c.Held + c.Bounced + c.Expired + c.Complaints
}

func fpString(n int, h uint64) string {
	return fmt.Sprintf("%04x:%016x", n, h)
}
