package model

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The compiled automaton finds exactly the fragments strings.Contains
// finds, in texts made of fragments, their pieces and noise: a fragment
// that is a suffix of another, one across a failed longer match, every
// fragment alone.
func TestMatcherFindsWhatContainsFinds(t *testing.T) {
	m := compileRules(BounceRules)
	var frags []string
	seen := map[string]uint16{}
	for _, r := range m.rules {
		for k, ids := range [][]uint16{r.any, r.all} {
			fs := r.Any
			if k == 1 {
				fs = r.All
			}
			for i, id := range ids {
				if _, ok := seen[fs[i]]; !ok {
					seen[fs[i]] = id
					frags = append(frags, fs[i])
				}
			}
		}
	}
	if len(frags) < 50 {
		t.Fatalf("only %d fragments", len(frags))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	texts := append([]string(nil), frags...)
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for j := 0; j < 1+rng.IntN(6); j++ {
			f := frags[rng.IntN(len(frags))]
			switch rng.IntN(4) {
			case 0:
				b.WriteString(f)
			case 1:
				b.WriteString(f[:rng.IntN(len(f)+1)])
			case 2:
				b.WriteString(f[rng.IntN(len(f)+1):])
			default:
				b.WriteString(" 550 x.y ")
			}
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		var got fragSet
		m.scan(text, &got)
		for _, f := range frags {
			if want := strings.Contains(text, f); got.has(seen[f]) != want {
				t.Fatalf("text %q: fragment %q found %v, want %v", text, f, got.has(seen[f]), want)
			}
		}
	}
}

// BenchmarkCompileRules is what every process that classifies a reply pays
// once (a backfill, serve, the cockpit).
func BenchmarkCompileRules(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		compileRules(BounceRules)
	}
}
