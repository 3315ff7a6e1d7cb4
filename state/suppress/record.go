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
func (r *record) add(k key, when stamp, off int64, t model.SuppressionType, source string, st statDelta) {
	bit := t.Bit()
	if len(r.events) == 0 {
		st[statKey{kAddresses, ""}]++
	}
	if r.mask&bit == 0 {
		st[statKey{kTypeAddr, string(t)}]++
		if t.Suppresses() && r.mask&suppressingMask == 0 {
			st[statKey{kSuppressed, ""}]++
		}
		r.mask |= bit
	}
	if !r.hasSource(k.source) {
		st[statKey{kSourceAddr, source}]++
	}
	st[statKey{kEvents, ""}]++
	st[statKey{kTypeEvents, string(t)}]++
	st[statKey{kSourceEvents, source}]++
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

// statKey names a counter without building a string per event.
type statKey struct {
	kind byte
	name string
}

// statDelta accumulates counter changes until the next index flush.
type statDelta map[statKey]int64

// Counter kinds; the suppress_stats key is the prefix plus the name.
const (
	kAddresses    byte = iota // distinct addresses
	kSuppressed               // distinct addresses with a type that suppresses
	kEvents                   // events
	kTypeAddr                 // + type: distinct addresses with the type
	kTypeEvents               // + type: events
	kSourceAddr               // + source: distinct addresses with an event from it
	kSourceEvents             // + source: events
)

var statPrefix = [...]string{"addresses", "suppressed", "events", "ta:", "te:", "sa:", "se:"}

func (k statKey) bytes() []byte { return []byte(statPrefix[k.kind] + k.name) }

// dict maps source and scope strings to small ids (suppress_dict:
// 4-byte big-endian id → string). Loaded whole at Open: there are few.
type dict struct {
	ids   map[string]uint32
	names []string // names[id]; id 0 unused
	pend  []uint32 // ids not yet committed
}

func newDict() *dict { return &dict{ids: map[string]uint32{}, names: []string{""}} }

func (d *dict) id(s string) uint32 {
	if id, ok := d.ids[s]; ok {
		return id
	}
	id := uint32(len(d.names))
	d.names = append(d.names, s)
	d.ids[s] = id
	d.pend = append(d.pend, id)
	return id
}
