package suppress

import (
	"hash/maphash"
	"math/bits"

	"go.etcd.io/bbolt"
)

// addrFilter is a Bloom filter of the addresses the index (and pending)
// holds, so Append skips the bbolt lookup of an address that is certainly
// new: a first import of a million rows spent a fifth of its time seeking
// keys that were not there. A "maybe" still looks the key up, so a false
// positive costs a lookup and never a wrong answer; an address missing from
// the filter would (it would be appended again), hence every path that
// adds to the index adds to the filter, and dropping the index drops it.
type addrFilter struct {
	seed  maphash.Seed
	bits  []uint64
	mask  uint64
	n     int // addresses added
	limit int // beyond this the false-positive rate climbs: rebuild bigger
}

// With 16 bits an address and 4 bits set in one word, about 1% of new
// addresses still get looked up at the limit.
const filterBitsPerAddr = 16

// filterMinAddrs is the smallest capacity (a variable so a test can make
// rebuilds happen).
var filterMinAddrs = 1 << 18

func newAddrFilter(capacity int) *addrFilter {
	capacity = max(capacity, filterMinAddrs)
	m := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerAddr-1))
	return &addrFilter{seed: maphash.MakeSeed(), bits: make([]uint64, m/64), mask: m - 1, limit: int(m / filterBitsPerAddr)}
}

// word and bits pick one 64-bit word and four bits in it: one memory
// access per address (a blocked Bloom filter), where four scattered probes
// cost four cache misses on a million-address filter.
func (f *addrFilter) word(addr string) (w uint64, m uint64) {
	h := maphash.String(f.seed, addr)
	w = (h >> 24) & (f.mask >> 6)
	return w, 1<<(h&63) | 1<<((h>>6)&63) | 1<<((h>>12)&63) | 1<<((h>>18)&63)
}

func (f *addrFilter) add(addr string) {
	w, m := f.word(addr)
	f.bits[w] |= m
	f.n++
}

func (f *addrFilter) mayHave(addr string) bool {
	w, m := f.word(addr)
	return f.bits[w]&m == m
}

func (f *addrFilter) full() bool { return f.n > f.limit }

// buildFilter reads every indexed address (a sequential scan of the
// bucket) and the pending ones.
func buildFilter(tx *bbolt.Tx, pending *pendingSet) *addrFilter {
	n := pending.len()
	b := tx.Bucket(bktAddr)
	if b != nil {
		n += b.Stats().KeyN
	}
	f := newAddrFilter(2 * n)
	if b != nil {
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			f.add(string(k))
		}
	}
	for a := range pending.idx {
		f.add(a)
	}
	return f
}
