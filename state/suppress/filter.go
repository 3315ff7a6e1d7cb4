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

const (
	filterBitsPerAddr = 16 // with 4 probes: ~0.25% false positives at the limit
	filterProbes      = 4
)

// filterMinAddrs is the smallest capacity (a variable so a test can make
// rebuilds happen).
var filterMinAddrs = 1 << 18

func newAddrFilter(capacity int) *addrFilter {
	capacity = max(capacity, filterMinAddrs)
	m := uint64(1) << bits.Len64(uint64(capacity*filterBitsPerAddr-1))
	return &addrFilter{seed: maphash.MakeSeed(), bits: make([]uint64, m/64), mask: m - 1, limit: int(m / filterBitsPerAddr)}
}

func (f *addrFilter) probes(addr string) (h1, h2 uint64) {
	h := maphash.String(f.seed, addr)
	return h, h>>32 | h<<32 | 1
}

func (f *addrFilter) add(addr string) {
	h1, h2 := f.probes(addr)
	for i := uint64(0); i < filterProbes; i++ {
		b := (h1 + i*h2) & f.mask
		f.bits[b/64] |= 1 << (b % 64)
	}
	f.n++
}

func (f *addrFilter) mayHave(addr string) bool {
	h1, h2 := f.probes(addr)
	for i := uint64(0); i < filterProbes; i++ {
		b := (h1 + i*h2) & f.mask
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
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
