package state

import (
	"encoding/binary"
	"strings"
	"time"

	"cutover/model"
)

// Bucket names (schema 1). See the package doc for the key layouts.
var (
	bktMeta     = []byte("meta")
	bktCounters = []byte("counters")
	bktDomains  = []byte("domains")
	bktReasons  = []byte("reasons")
	bktVia      = []byte("via")
	bktCursors  = []byte("cursors")
	bktPState   = []byte("pstate")
	bktRejects  = []byte("rejects")
	bktSources  = []byte("sources")
	bktISPCache = []byte("isp_cache")
	// bktSigMin: minute | side | isp \0 named signature → count (pacing's
	// rate triggers, wave2 §7.3), written by Commit with the counters.
	bktSigMin = []byte("sigmin")
	// bktOverlays: overlay id → model.Overlay JSON (the pacer's; not Commit's).
	bktOverlays = []byte("overlays")

	allBuckets = [][]byte{bktMeta, bktCounters, bktDomains, bktReasons, bktVia,
		bktCursors, bktPState, bktRejects, bktSources, bktISPCache, bktSigMin, bktOverlays}

	metaSchema = []byte("schema")
	metaNewest = []byte("newest")

	rejCount  = []byte("n")
	rejSample = byte('s')
)

// SchemaVersion is the layout version written to meta/schema. A database with
// a newer version is refused rather than misread.
const SchemaVersion = 1

// Granularity prefixes of counters and domains keys. Their order does not
// matter: a scan never crosses from one to another.
const (
	gMinute byte = 'm'
	gHour   byte = 'h'
	gDay    byte = 'd'
)

const (
	secMinute = 60
	secHour   = 3600
	secDay    = 86400
)

func granSecs(g byte) int64 {
	switch g {
	case gMinute:
		return secMinute
	case gHour:
		return secHour
	}
	return secDay
}

// Granularity names a counter resolution, for callers that want to know which
// one a query used.
type Granularity string

const (
	Minute Granularity = "minute"
	Hour   Granularity = "hour"
	Day    Granularity = "day"
)

func granName(g byte) Granularity {
	switch g {
	case gMinute:
		return Minute
	case gHour:
		return Hour
	}
	return Day
}

// countsLen is the width of an encoded Counts: seven big-endian uint64.
const countsLen = 7 * 8

// floorDiv floors toward minus infinity so that times before 1970 still land
// in the bucket that contains them.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorSec(sec, step int64) int64 { return floorDiv(sec, step) * step }

func ceilSec(sec, step int64) int64 {
	f := floorSec(sec, step)
	if f < sec {
		f += step
	}
	return f
}

// putTime writes unix seconds so that byte order equals numeric order, also
// for negative values (sign bit flipped).
func putTime(dst []byte, sec int64) {
	binary.BigEndian.PutUint64(dst, uint64(sec)^(1<<63))
}

func getTime(src []byte) int64 {
	return int64(binary.BigEndian.Uint64(src) ^ (1 << 63))
}

// timeAt decodes the time at s[off:off+8] of a string key without copying.
func timeAt(s string, off int) int64 {
	var u uint64
	for i := 0; i < 8; i++ {
		u = u<<8 | uint64(s[off+i])
	}
	return int64(u ^ (1 << 63))
}

// keyPart makes a string safe as a NUL-separated key component.
func keyPart(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return strings.ReplaceAll(s, "\x00", "?")
	}
	return s
}

// appendGranKey appends g | start | side to dst: the common head of counters
// and domains keys.
func appendGranKey(dst []byte, g byte, start int64, side model.Side) []byte {
	var t [8]byte
	putTime(t[:], start)
	dst = append(dst, g)
	dst = append(dst, t[:]...)
	return append(dst, byte(side))
}

// appendHourKey appends hour-start | side: the head of reasons and via keys.
func appendHourKey(dst []byte, start int64, side model.Side) []byte {
	var t [8]byte
	putTime(t[:], start)
	dst = append(dst, t[:]...)
	return append(dst, byte(side))
}

func encodeCounts(c *Counts) []byte {
	v := make([]byte, countsLen)
	be := binary.BigEndian
	be.PutUint64(v[0:], c.Delivered)
	be.PutUint64(v[8:], c.Deferred)
	be.PutUint64(v[16:], c.Held)
	be.PutUint64(v[24:], c.Bounced)
	be.PutUint64(v[32:], c.HardBounce)
	be.PutUint64(v[40:], c.Expired)
	be.PutUint64(v[48:], c.Complaints)
	return v
}

// addEncoded adds an encoded value into c. A shorter value (older schema) or a
// longer one (newer fields) is read as far as both know.
func addEncoded(c *Counts, v []byte) {
	fields := [...]*uint64{&c.Delivered, &c.Deferred, &c.Held, &c.Bounced, &c.HardBounce, &c.Expired, &c.Complaints}
	for i, f := range fields {
		if len(v) < (i+1)*8 {
			return
		}
		*f += binary.BigEndian.Uint64(v[i*8:])
	}
}

func decodeCounts(v []byte) Counts {
	var c Counts
	addEncoded(&c, v)
	return c
}

// splitNul splits b at its first NUL; rest is nil when there is none.
func splitNul(b []byte) (head, rest []byte) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// cutUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	// Step back over continuation bytes (10xxxxxx) to a rune start.
	for i > 0 && i > n-4 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

func unixToTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
