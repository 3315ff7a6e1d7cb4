package state

import (
	"time"

	"cutover/model"
)

// Sample texts of reasons are cut to this many bytes.
const reasonSampleMax = 300

// rejectTextMax is the longest reject text kept (the contract says callers cut
// to 512 bytes; the store enforces it too).
const rejectTextMax = 512

// rejectSamples is how many rejected lines are kept per source; later ones are
// only counted.
const rejectSamples = 20

// maxFuture bounds how far past the wall clock an event may be and still move
// Newest: one garbage timestamp in 2099 must not make every minute bucket look
// expired and prune it.
const maxFuture = 24 * time.Hour

// Batch collects what one commit writes: counter deltas aggregated in memory
// (each bucket key once), cursors, parser state deltas, rejects and source
// stats. It is not safe for concurrent use; the ingest writer owns it. Commit
// does not modify it, so a failed Commit can be retried with the same batch.
type Batch struct {
	counters map[string]*Counts
	domains  map[string]*Counts
	via      map[string]*Counts
	reasons  map[string]*reasonDelta
	sigmin   map[string]*uint64 // minute | side | isp \0 signature
	cursors  map[string]Cursor
	drops    map[string]bool // cursor keys to delete
	rejects  map[string][]Reject
	pstate   map[string]map[string][]byte
	sources  map[string]*SourceStat

	events   int
	skipped  int
	maxNano  int64 // newest event time (unix ns) not beyond horizon
	hasMax   bool
	horizon  int64 // wall clock + maxFuture when the batch was made
	keyBuf   []byte
	hasOther bool // rejects, parser state or source stats pending
	// sigs memoises model.Signature per response text: a deferral storm
	// repeats one reply thousands of times in a batch.
	sigs map[string]string
	// named memoises model.NamedSignature ("" = none) per signature.
	named map[string]string
	hot   [hotSlots]hot // emptied with the maps by Reset
	vhot  [hotSlots]viaHot
}

type reasonDelta struct {
	count  uint64
	last   int64 // unix ns
	sample string
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	b := &Batch{}
	b.Reset()
	return b
}

// Reset empties the batch for reuse.
func (b *Batch) Reset() {
	*b = Batch{
		counters: map[string]*Counts{},
		domains:  map[string]*Counts{},
		via:      map[string]*Counts{},
		reasons:  map[string]*reasonDelta{},
		sigmin:   map[string]*uint64{},
		cursors:  map[string]Cursor{},
		drops:    map[string]bool{},
		rejects:  map[string][]Reject{},
		pstate:   map[string]map[string][]byte{},
		sources:  map[string]*SourceStat{},
		sigs:     map[string]string{},
		named:    map[string]string{},
		horizon:  time.Now().Add(maxFuture).UnixNano(),
		keyBuf:   b.keyBuf[:0],
	}
}

func (b *Batch) init() {
	if b.counters == nil {
		b.Reset()
	}
}

// Len is the number of events and cursors pending.
func (b *Batch) Len() int { return b.events + len(b.cursors) }

// Events is the number of events counted into the batch.
func (b *Batch) Events() int { return b.events }

// Skipped is the number of events AddEvent ignored because their Time was
// zero or their Outcome was none (a caller bug, counted so it shows).
func (b *Batch) Skipped() int { return b.skipped }

func (b *Batch) empty() bool {
	return b.events == 0 && len(b.cursors) == 0 && len(b.drops) == 0 && !b.hasOther
}

// counts returns m's Counts for key, adding a zero one.
func counts(m map[string]*Counts, key []byte) *Counts {
	if c, ok := m[string(key)]; ok { // no allocation on a hit
		return c
	}
	c := new(Counts)
	m[string(key)] = c
	return c
}

// hot remembers the counters and domain buckets of recent (minute, side,
// MTA, ISP, domain) combinations: a log repeats them event after event,
// and a hit skips building five keys and looking them up.
type hot struct {
	min      int64
	side     model.Side
	mta, isp string
	dom      string
	c        [3]*Counts // minute, hour, day
	d        [2]*Counts // domain hour, day (nil without a domain)
}

const hotSlots = 256

// hotEntry returns ev's slot, reset (nil counters) unless it holds ev's
// combination already.
func (b *Batch) hotEntry(sec int64, ev *model.Event) *hot {
	m := floorSec(sec, secMinute)
	x := uint64(m/secMinute)*0x9e3779b97f4a7c15 ^ uint64(ev.Side) ^ uint64(len(ev.ISP))<<8
	for i := 0; i < len(ev.Domain); i++ {
		x = (x ^ uint64(ev.Domain[i])) * 0x100000001b3
	}
	h := &b.hot[(x^x>>29)%hotSlots]
	if h.c[0] != nil && h.min == m && h.side == ev.Side && h.mta == ev.MTA && h.isp == ev.ISP && h.dom == ev.Domain {
		return h
	}
	*h = hot{min: m, side: ev.Side, mta: ev.MTA, isp: ev.ISP, dom: ev.Domain}
	return h
}

// viaHot remembers the via bucket of a recent (hour, side, ISP, dimension,
// value): PowerMTA logs repeat a VirtualMTA and source IP record after
// record, and a hit skips building the key and hashing it into the map.
type viaHot struct {
	hour     int64
	side     model.Side
	dim      int
	isp, val string
	c        *Counts
}

func (b *Batch) viaEntry(hour int64, side model.Side, dim int, isp, val string) *viaHot {
	x := uint64(hour/secHour)*0x9e3779b97f4a7c15 ^ uint64(side) ^ uint64(dim)<<4 ^ uint64(len(isp))<<8
	for i := 0; i < len(val); i++ {
		x = (x ^ uint64(val[i])) * 0x100000001b3
	}
	h := &b.vhot[(x^x>>29)%hotSlots]
	if h.c != nil && h.hour == hour && h.side == side && h.dim == dim && h.val == val && h.isp == isp {
		return h
	}
	*h = viaHot{hour: hour, side: side, dim: dim, isp: isp, val: val}
	return h
}

func addTo(m map[string]*Counts, key []byte, d *Counts) {
	if c, ok := m[string(key)]; ok { // no allocation on a hit
		c.Add(*d)
		return
	}
	c := *d
	m[string(key)] = &c
}

// AddEvent counts one event into its minute, hour and day buckets (per
// side/MTA/ISP), its domain's hour and day buckets, its hourly via
// breakdown (source IP, VMTA, transport) and, unless delivered, its hourly
// reason. The caller fills Side, MTA, ISP, Domain, Time and Outcome.
func (b *Batch) AddEvent(ev *model.Event) {
	b.init()
	if ev.Time.IsZero() || ev.Outcome == model.OutcomeNone || int(ev.Outcome) >= model.NumOutcomes {
		b.skipped++
		return
	}
	var d Counts
	d.AddEvent(ev)
	sec := ev.Time.Unix()
	mta, isp := keyPart(ev.MTA), keyPart(ev.ISP)
	hour := floorSec(sec, secHour)

	k := b.keyBuf[:0]
	h := b.hotEntry(sec, ev)
	if h.c[0] == nil {
		for i, g := range [...]byte{gMinute, gHour, gDay} {
			k = appendGranKey(k[:0], g, floorSec(sec, granSecs(g)), ev.Side)
			k = append(k, mta...)
			k = append(k, 0)
			k = append(k, isp...)
			h.c[i] = counts(b.counters, k)
		}
		if ev.Domain != "" {
			dom := keyPart(ev.Domain)
			for i, g := range [...]byte{gHour, gDay} {
				k = appendGranKey(k[:0], g, floorSec(sec, granSecs(g)), ev.Side)
				k = append(k, mta...)
				k = append(k, 0)
				k = append(k, isp...)
				k = append(k, 0)
				k = append(k, dom...)
				h.d[i] = counts(b.domains, k)
			}
		}
	}
	for _, c := range h.c {
		c.Add(d)
	}
	for _, c := range h.d {
		if c != nil {
			c.Add(d)
		}
	}
	for i, dv := range [...]struct{ dim, val string }{
		{DimIP, ev.SourceIP}, {DimVMTA, ev.VMTA}, {DimTransport, ev.Transport},
	} {
		if dv.val == "" {
			continue
		}
		h := b.viaEntry(hour, ev.Side, i, ev.ISP, dv.val)
		if h.c == nil {
			k = appendHourKey(k[:0], hour, ev.Side)
			k = append(k, isp...)
			k = append(k, 0)
			k = append(k, dv.dim...)
			k = append(k, 0)
			k = append(k, keyPart(dv.val)...)
			h.c = counts(b.via, k)
		}
		h.c.Add(d)
	}
	ns := ev.Time.UnixNano()
	if ev.Outcome != model.Delivered {
		k = appendHourKey(k[:0], hour, ev.Side)
		k = append(k, isp...)
		k = append(k, 0)
		sig, ok := b.sigs[ev.Response]
		if !ok {
			sig = model.Signature(ev.Response)
			if len(b.sigs) < 4096 {
				b.sigs[ev.Response] = sig
			}
		}
		k = append(k, sig...)
		if r, ok := b.reasons[string(k)]; ok {
			r.count++
			if ns > r.last {
				r.last = ns
			}
		} else {
			b.reasons[string(k)] = &reasonDelta{count: 1, last: ns, sample: cutUTF8(ev.Response, reasonSampleMax)}
		}
		if ev.Outcome == model.Deferred || ev.Outcome == model.Bounced {
			k = b.addSigMin(k[:0], sec, ev, sig)
		}
	}
	b.keyBuf = k
	if ns <= b.horizon && (!b.hasMax || ns > b.maxNano) {
		b.maxNano, b.hasMax = ns, true
	}
	b.events++
}

// addSigMin counts a deferral or bounce whose reply is a named provider
// signature into its minute (side × ISP × signature: ~90 names, so the
// bucket stays small). Held and expired outcomes repeat an earlier reply.
//
// The name is memoised by the reply's signature (addresses, IPs and ids
// replaced): a deferral storm repeats one reply with a new queue id in
// every line, and classifying each text again cost a fifth of AddEvent.
func (b *Batch) addSigMin(k []byte, sec int64, ev *model.Event, sig string) []byte {
	name, ok := b.named[sig]
	if !ok {
		name, _ = model.NamedSignature(ev.Response)
		if len(b.named) < 4096 {
			b.named[sig] = name
		}
	}
	if name == "" {
		return k
	}
	k = appendHourKey(k, floorSec(sec, secMinute), ev.Side)
	k = append(k, keyPart(ev.ISP)...)
	k = append(k, 0)
	k = append(k, name...)
	if c, ok := b.sigmin[string(k)]; ok {
		*c++
	} else {
		n := uint64(1)
		b.sigmin[string(k)] = &n
	}
	return k
}

// SetCursor records a cursor; the last one per Cursor.Key() wins.
func (b *Batch) SetCursor(c Cursor) {
	b.init()
	b.cursors[c.Key()] = c
	delete(b.drops, c.Key())
}

// DropCursor deletes a cursor key in the same commit, e.g. the old key of a
// file whose fingerprint grew (follow.Chunk.PrevKey).
func (b *Batch) DropCursor(key string) {
	b.init()
	delete(b.cursors, key)
	b.drops[key] = true
}

// AddReject records a rejected line: every reject is counted per source, the
// first rejectSamples per source are kept.
func (b *Batch) AddReject(r Reject) {
	b.init()
	r.Text = cutUTF8(r.Text, rejectTextMax)
	b.rejects[r.Source] = append(b.rejects[r.Source], r)
	b.hasOther = true
}

// SetParserState merges a parser state delta for source; a nil value deletes
// the key. Later deltas in the same batch win per key.
func (b *Batch) SetParserState(source string, delta map[string][]byte) {
	b.init()
	m := b.pstate[source]
	if m == nil {
		m = make(map[string][]byte, len(delta))
		b.pstate[source] = m
	}
	for k, v := range delta {
		if v == nil {
			m[k] = nil
		} else {
			m[k] = append(make([]byte, 0, len(v)), v...) // the parser may reuse v
		}
	}
	b.hasOther = true
}

// AddSourceStat merges s into the source's persisted summary: Lines, Events
// and Rejected are added; LastLine keeps the maximum; Kind and Side are set
// when non-empty; LastError is set (empty clears it); Updated is set when
// non-zero.
func (b *Batch) AddSourceStat(s SourceStat) {
	b.init()
	if cur, ok := b.sources[s.Source]; ok {
		cur.merge(s)
	} else {
		c := s
		b.sources[s.Source] = &c
	}
	b.hasOther = true
}

func (c *SourceStat) merge(s SourceStat) {
	c.Lines += s.Lines
	c.Events += s.Events
	c.Rejected += s.Rejected
	c.NoDomain += s.NoDomain
	if s.LastLine.After(c.LastLine) {
		c.LastLine = s.LastLine
	}
	if s.Kind != "" {
		c.Kind = s.Kind
	}
	if s.Side != "" {
		c.Side = s.Side
	}
	c.LastError = s.LastError
	if !s.Updated.IsZero() {
		c.Updated = s.Updated
	}
}

// MergeEvents adds the event counts of o (what AddEvent counted into it:
// counters, domains, via, reasons, minute signatures, the newest time) to b, as if o's events
// had been added to b after b's own: a reason's first sample stays b's. It
// lets the event counting of a chunk run on another goroutine, into its own
// Batch, and the writer merge one entry per distinct key. o's cursors,
// rejects, parser state and source stats are not merged; o must not be used
// afterwards (b may keep its Counts).
func (b *Batch) MergeEvents(o *Batch) {
	b.init()
	if o == nil || o.counters == nil {
		return
	}
	mergeCounts(b.counters, o.counters)
	mergeCounts(b.domains, o.domains)
	mergeCounts(b.via, o.via)
	for k, r := range o.reasons {
		if cur, ok := b.reasons[k]; ok {
			cur.count += r.count
			if r.last > cur.last {
				cur.last = r.last
			}
		} else {
			b.reasons[k] = r
		}
	}
	for k, n := range o.sigmin {
		if cur, ok := b.sigmin[k]; ok {
			*cur += *n
		} else {
			b.sigmin[k] = n
		}
	}
	b.events += o.events
	b.skipped += o.skipped
	if o.hasMax && o.maxNano <= b.horizon && (!b.hasMax || o.maxNano > b.maxNano) {
		b.maxNano, b.hasMax = o.maxNano, true
	}
}

func mergeCounts(dst, src map[string]*Counts) {
	for k, c := range src {
		if cur, ok := dst[k]; ok {
			cur.Add(*c)
		} else {
			dst[k] = c
		}
	}
}
