package suppress

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"cutover/model"
)

// record is the index value of one address: every event it has in the log,
// with just enough of each to dedupe exactly (type, source, scope, ts) and
// to find the line again (offset). Sources and scopes are ids in the
// dictionary (suppress_dict): a value stays ~30 bytes and holds no
// pointers the garbage collector has to follow while a million wait for
// their commit.
type record struct {
	mask   uint8 // model.SuppressionType bits
	first  stamp // earliest event time (ts, or recorded when ts is unknown)
	last   stamp
	events []evRef
}

type stamp struct {
	sec  int64
	nsec int32
}

func stampOf(t time.Time) stamp { return stamp{t.Unix(), int32(t.Nanosecond())} }

func (s stamp) time() time.Time {
	if s == (stamp{}) {
		return time.Time{}
	}
	return time.Unix(s.sec, int64(s.nsec)).UTC()
}

func (s stamp) before(o stamp) bool { return s.sec < o.sec || s.sec == o.sec && s.nsec < o.nsec }

type evRef struct {
	typ    uint8 // index in model.SuppressionTypes
	hasTS  bool
	source uint32 // dictionary id
	scope  uint32 // dictionary id
	ts     stamp
	off    int64 // byte offset of the line in the log
}

const recordVersion = 2

func typeIndex(t model.SuppressionType) uint8 {
	for i, s := range model.SuppressionTypes {
		if s == t {
			return uint8(i)
		}
	}
	return 0xff
}

// key is an event's dedupe key within its address.
type key struct {
	typ    uint8
	hasTS  bool
	source uint32
	scope  uint32
	ts     stamp
}

func (r *record) has(k key) bool {
	for _, v := range r.events {
		if v.typ == k.typ && v.source == k.source && v.scope == k.scope && v.hasTS == k.hasTS && v.ts == k.ts {
			return true
		}
	}
	return false
}

func (r *record) hasSource(id uint32) bool {
	for _, v := range r.events {
		if v.source == id {
			return true
		}
	}
	return false
}

// add records an event (known not to be a duplicate) at log offset off and
// counts what changed in the statistics. when is ts, or recorded.
func (r *record) add(k key, when stamp, off int64, st *statDelta) {
	bit := uint8(1) << k.typ
	if len(r.events) == 0 {
		st.addresses++
	}
	if r.mask&bit == 0 {
		st.typeAddr[k.typ]++
		if bit&suppressingMask != 0 && r.mask&suppressingMask == 0 {
			st.suppressed++
		}
		r.mask |= bit
	}
	if !r.hasSource(k.source) {
		st.source(k.source).addresses++
	}
	st.events++
	st.typeEvents[k.typ]++
	st.source(k.source).events++
	if len(r.events) == 0 || when.before(r.first) {
		r.first = when
	}
	if len(r.events) == 0 || r.last.before(when) {
		r.last = when
	}
	r.events = append(r.events, evRef{typ: k.typ, hasTS: k.hasTS, source: k.source, scope: k.scope, ts: k.ts, off: off})
}

var suppressingMask = func() uint8 {
	var m uint8
	for _, t := range model.SuppressionTypes {
		if t.Suppresses() {
			m |= t.Bit()
		}
	}
	return m
}()

func (r *record) appendTo(b []byte) []byte {
	b = append(b, recordVersion, r.mask)
	b = appendStamp(b, r.first)
	b = appendStamp(b, r.last)
	b = binary.AppendUvarint(b, uint64(len(r.events)))
	for _, v := range r.events {
		flags := v.typ << 1
		if v.hasTS {
			flags |= 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(v.source))
		b = binary.AppendUvarint(b, uint64(v.scope))
		if v.hasTS {
			b = appendStamp(b, v.ts)
		}
		b = binary.AppendUvarint(b, uint64(v.off))
	}
	return b
}

func (r *record) encode() []byte { return r.appendTo(make([]byte, 0, 16+len(r.events)*16)) }

func appendStamp(b []byte, s stamp) []byte {
	b = binary.AppendVarint(b, s.sec)
	return binary.AppendUvarint(b, uint64(s.nsec))
}

var errRecord = errors.New("corrupt index record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errRecord
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) stamp() stamp {
	s := d.varint()
	ns := d.uvarint()
	if ns >= 1e9 {
		d.err = errRecord
	}
	return stamp{s, int32(ns)}
}

// decodeInto fills r from b, reusing r's event slice; nothing of b is kept.
func decodeInto(r *record, b []byte) error {
	d := decoder{b: b}
	if d.byte1() != recordVersion {
		return errRecord
	}
	r.mask = d.byte1()
	r.first = d.stamp()
	r.last = d.stamp()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return errRecord
	}
	r.events = r.events[:0]
	for range n {
		flags := d.byte1()
		v := evRef{typ: flags >> 1, hasTS: flags&1 != 0}
		v.source = uint32(d.uvarint())
		v.scope = uint32(d.uvarint())
		if v.hasTS {
			v.ts = d.stamp()
		}
		v.off = int64(d.uvarint())
		if int(v.typ) >= len(model.SuppressionTypes) {
			d.err = errRecord
		}
		if d.err != nil {
			return d.err
		}
		r.events = append(r.events, v)
	}
	if d.err != nil || len(d.b) != 0 {
		return errRecord
	}
	return nil
}

// Entry is the index's view of one address.
type Entry struct {
	Addr    string
	Types   []model.SuppressionType
	First   time.Time // earliest event (ts, or recorded when the export had no time)
	Last    time.Time
	Sources []string
	Scopes  []string
	Events  int
	// Offsets are the byte offsets of the address's lines in the log.
	Offsets []int64
}

// Suppressed reports whether the address must not be mailed (any type but
// block), or with blocks too when includeBlocks.
func (e *Entry) Suppressed(includeBlocks bool) bool {
	for _, t := range e.Types {
		if t.Suppresses() || includeBlocks && t == model.SuppBlock {
			return true
		}
	}
	return false
}

func (r *record) entry(addr string, names []string) Entry {
	e := Entry{Addr: addr, Types: model.TypesOf(r.mask), First: r.first.time(), Last: r.last.time(), Events: len(r.events)}
	name := func(id uint32) string {
		if int(id) < len(names) {
			return names[id]
		}
		return "?"
	}
	for _, v := range r.events {
		e.Offsets = append(e.Offsets, v.off)
		if s := name(v.source); !slices.Contains(e.Sources, s) {
			e.Sources = append(e.Sources, s)
		}
		if s := name(v.scope); !slices.Contains(e.Scopes, s) {
			e.Scopes = append(e.Scopes, s)
		}
	}
	return e
}

// statDelta accumulates counter changes until the next index flush, in
// arrays and by dictionary id: no string hashing per event.
type statDelta struct {
	addresses, suppressed, events int64
	typeAddr, typeEvents          [8]int64
	bySource                      []srcDelta // by dictionary id
}

type srcDelta struct{ addresses, events int64 }

func (s *statDelta) source(id uint32) *srcDelta {
	for int(id) >= len(s.bySource) {
		s.bySource = append(s.bySource, srcDelta{})
	}
	return &s.bySource[id]
}

// Keys of suppress_stats (values: 8-byte big-endian counts).
const (
	statAddresses    = "addresses"  // distinct addresses
	statSuppressed   = "suppressed" // distinct addresses with a type that suppresses
	statEvents       = "events"
	statTypeAddr     = "ta:" // + type: distinct addresses with the type
	statTypeEvents   = "te:" // + type: events
	statSourceAddr   = "sa:" // + source: distinct addresses with an event from it
	statSourceEvents = "se:" // + source: events
)

// deltas lists the non-zero counter changes by key.
func (s *statDelta) deltas(names []string) map[string]int64 {
	m := map[string]int64{}
	put := func(k string, d int64) {
		if d != 0 {
			m[k] += d
		}
	}
	put(statAddresses, s.addresses)
	put(statSuppressed, s.suppressed)
	put(statEvents, s.events)
	for i, t := range model.SuppressionTypes {
		put(statTypeAddr+string(t), s.typeAddr[i])
		put(statTypeEvents+string(t), s.typeEvents[i])
	}
	for id, d := range s.bySource {
		if id < len(names) {
			put(statSourceAddr+names[id], d.addresses)
			put(statSourceEvents+names[id], d.events)
		}
	}
	return m
}

func (s *statDelta) reset() { *s = statDelta{bySource: s.bySource[:0]} }

// dict maps source and scope strings to small ids (suppress_dict:
// 4-byte big-endian id → string). Loaded whole at Open: there are few.
type dict struct {
	ids   map[string]uint32
	names []string // names[id]; id 0 unused
	pend  []uint32 // ids not yet committed
	// the last two strings looked up: events come in runs of one source
	// and one scope
	last [2]struct {
		s  string
		id uint32
	}
}

func newDict() *dict { return &dict{ids: map[string]uint32{}, names: []string{""}} }

func (d *dict) id(s string) uint32 {
	for _, c := range d.last {
		if c.id != 0 && c.s == s {
			return c.id
		}
	}
	id, ok := d.ids[s]
	if !ok {
		id = d.add(s)
	}
	d.last[1] = d.last[0]
	d.last[0].s, d.last[0].id = s, id
	return id
}

func (d *dict) add(s string) uint32 {
	id := uint32(len(d.names))
	d.names = append(d.names, s)
	d.ids[s] = id
	d.pend = append(d.pend, id)
	return id
}
