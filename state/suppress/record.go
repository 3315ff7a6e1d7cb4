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
// to find the line again (offset).
type record struct {
	mask    uint8 // model.SuppressionType bits
	first   stamp // earliest event time (ts, or recorded when ts is unknown)
	last    stamp
	sources []string
	scopes  []string
	events  []evRef
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
	source uint32
	scope  uint32
	hasTS  bool
	ts     stamp
	off    int64 // byte offset of the line in the log
}

const recordVersion = 1

func typeIndex(t model.SuppressionType) (uint8, bool) {
	for i, s := range model.SuppressionTypes {
		if s == t {
			return uint8(i), true
		}
	}
	return 0, false
}

// find returns the index of s in list, or -1.
func find(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// has reports whether the record already holds an event with the same
// dedupe key: (type, source, scope, ts). The address is the record's key.
func (r *record) has(e *model.SuppressionEvent) bool {
	ti, _ := typeIndex(e.Type)
	si := find(r.sources, e.Source)
	ci := find(r.scopes, e.Scope)
	if si < 0 || ci < 0 {
		return false
	}
	hasTS := !e.TS.IsZero()
	ts := stamp{}
	if hasTS {
		ts = stampOf(e.TS)
	}
	for _, v := range r.events {
		if v.typ == ti && v.source == uint32(si) && v.scope == uint32(ci) && v.hasTS == hasTS && v.ts == ts {
			return true
		}
	}
	return false
}

// add records e (already known not to be a duplicate) at log offset off and
// counts what changed in the distinct-address statistics.
func (r *record) add(e *model.SuppressionEvent, off int64, st statDelta) {
	ti, _ := typeIndex(e.Type)
	bit := e.Type.Bit()
	if len(r.events) == 0 {
		st.add(statAddresses, 1)
	}
	if r.mask&bit == 0 {
		st.add(statTypeAddr+string(e.Type), 1)
		if e.Type.Suppresses() && r.mask&suppressingMask == 0 {
			st.add(statSuppressed, 1)
		}
		r.mask |= bit
	}
	si := find(r.sources, e.Source)
	if si < 0 {
		si = len(r.sources)
		r.sources = append(r.sources, e.Source)
		st.add(statSourceAddr+e.Source, 1)
	}
	ci := find(r.scopes, e.Scope)
	if ci < 0 {
		ci = len(r.scopes)
		r.scopes = append(r.scopes, e.Scope)
	}
	st.add(statEvents, 1)
	st.add(statTypeEvents+string(e.Type), 1)
	st.add(statSourceEvents+e.Source, 1)

	v := evRef{typ: ti, source: uint32(si), scope: uint32(ci), hasTS: !e.TS.IsZero(), off: off}
	when := e.Recorded
	if v.hasTS {
		v.ts = stampOf(e.TS)
		when = e.TS
	}
	w := stampOf(when)
	if len(r.events) == 0 || w.before(r.first) {
		r.first = w
	}
	if len(r.events) == 0 || r.last.before(w) {
		r.last = w
	}
	r.events = append(r.events, v)
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

func (r *record) encode() []byte {
	n := 2 + 2*binary.MaxVarintLen64*2 + 8
	for _, s := range r.sources {
		n += len(s) + 2
	}
	for _, s := range r.scopes {
		n += len(s) + 2
	}
	n += len(r.events) * 32
	b := make([]byte, 0, n)
	b = append(b, recordVersion, r.mask)
	b = appendStamp(b, r.first)
	b = appendStamp(b, r.last)
	b = appendStrings(b, r.sources)
	b = appendStrings(b, r.scopes)
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

func appendStamp(b []byte, s stamp) []byte {
	b = binary.AppendVarint(b, s.sec)
	return binary.AppendUvarint(b, uint64(s.nsec))
}

func appendStrings(b []byte, list []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(list)))
	for _, s := range list {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
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

func (d *decoder) strings() []string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errRecord
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		l := d.uvarint()
		if d.err != nil || l > uint64(len(d.b)) {
			d.err = errRecord
			return nil
		}
		out = append(out, string(d.b[:l]))
		d.b = d.b[l:]
	}
	return out
}

// decodeRecord copies everything out of b (bbolt memory is only valid in
// its transaction).
func decodeRecord(b []byte) (*record, error) {
	d := decoder{b: b}
	if d.byte1() != recordVersion {
		return nil, errRecord
	}
	r := &record{mask: d.byte1()}
	r.first = d.stamp()
	r.last = d.stamp()
	r.sources = d.strings()
	r.scopes = d.strings()
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return nil, errRecord
	}
	r.events = make([]evRef, 0, n+1)
	for range n {
		flags := d.byte1()
		v := evRef{typ: flags >> 1, hasTS: flags&1 != 0}
		v.source = uint32(d.uvarint())
		v.scope = uint32(d.uvarint())
		if v.hasTS {
			v.ts = d.stamp()
		}
		v.off = int64(d.uvarint())
		if int(v.typ) >= len(model.SuppressionTypes) || int(v.source) >= len(r.sources) || int(v.scope) >= len(r.scopes) {
			d.err = errRecord
		}
		if d.err != nil {
			return nil, d.err
		}
		r.events = append(r.events, v)
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errRecord
	}
	return r, nil
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

func (r *record) entry(addr string) Entry {
	e := Entry{Addr: addr, Types: model.TypesOf(r.mask), First: r.first.time(), Last: r.last.time(),
		Sources: slices.Clone(r.sources), Scopes: slices.Clone(r.scopes), Events: len(r.events)}
	for _, v := range r.events {
		e.Offsets = append(e.Offsets, v.off)
	}
	return e
}

// statDelta accumulates counter changes until the next index flush.
type statDelta map[string]int64

func (s statDelta) add(k string, n int64) { s[k] += n }

// Keys of the suppress_stats bucket (values are 8-byte big-endian counts).
const (
	statAddresses    = "addresses"  // distinct addresses
	statSuppressed   = "suppressed" // distinct addresses with a type that suppresses
	statEvents       = "events"
	statTypeAddr     = "ta:" // + type: distinct addresses with the type
	statTypeEvents   = "te:" // + type: events
	statSourceAddr   = "sa:" // + source: distinct addresses with an event from the source
	statSourceEvents = "se:" // + source: events
)
