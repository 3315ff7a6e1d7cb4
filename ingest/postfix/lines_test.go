package postfix

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// linesCorpus is real Postfix output, the benchmark mix, the fuzz seeds and
// some broken lines, with an expiry whose deferral is chunks earlier.
func linesCorpus(t *testing.T) [][]byte {
	var lines [][]byte
	if data, err := os.ReadFile("../realmta/testdata/postfix.log"); err == nil {
		lines = append(lines, bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))...)
	} else {
		t.Fatal(err)
	}
	bench, _ := benchLines(6000)
	lines = append(lines, bench...)
	for _, l := range realLog {
		lines = append(lines, []byte(l))
	}
	lines = append(lines,
		[]byte("Nov 26 19:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c>, relay=none, delay=1, dsn=4.0.0, status=deferred (x)"),
		[]byte("Nov 26 19:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c>, relay=none, status=weird (x)"),
		[]byte("Nov 26 19:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c"),
		[]byte("Nov 26 19:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c>, relay=none, delay=1, status=sent (x\ry)"),
		[]byte("Nov 99 19:16:25 h postfix/smtp[1]: ABCDEF: to=<a@b.c>, relay=none, status=sent (ok)"),
	)
	for i := 0; i < 3000; i++ {
		lines = append(lines, []byte(fmt.Sprintf("Nov 26 19:17:%02d h postfix/smtp[1]: 1234%d: to=<z%d@gmail.com>, relay=none, dsn=4.4.1, status=deferred (connect timed out)", i%60, i, i)))
	}
	lines = append(lines, []byte("Nov 26 19:18:00 h postfix/qmgr[1]: ABCDEF: from=<>, status=expired, returned to sender"))
	for i := 0; i < 3000; i += 7 {
		lines = append(lines, []byte(fmt.Sprintf("Nov 26 19:19:00 h postfix/qmgr[1]: 1234%d: from=<>, status=expired, returned to sender", i)))
	}
	return lines
}

// The two-step path the pipeline takes — scans made several chunks ahead
// of their finish, NewFile between chunks, runs long enough to be split
// over goroutines — gives exactly ParseLine's events, errors and state.
func TestScanAheadMatchesParseLine(t *testing.T) {
	lines := linesCorpus(t)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	opts := Options{Location: time.UTC, Now: func() time.Time { return now }}
	// Files start at these line indexes.
	files := map[int]bool{0: true, 1000: true, 7000: true}

	ref := New(opts)
	type lineOut struct {
		evs []model.Event
		err string
	}
	var want []lineOut
	for i, l := range lines {
		if files[i] {
			ref.NewFile(fmt.Sprint("f", i), now, nil)
		}
		evs, err := ref.ParseLine(l, nil)
		o := lineOut{evs: evs}
		if err != nil {
			o.err = err.Error()
		}
		want = append(want, o)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 5; round++ {
		p := New(opts)
		// Chunks of random sizes, cut at file starts.
		var chunks [][2]int
		for lo := 0; lo < len(lines); {
			hi := min(lo+1+rng.IntN(4000), len(lines))
			for k := lo + 1; k < hi; k++ {
				if files[k] {
					hi = k
					break
				}
			}
			chunks = append(chunks, [2]int{lo, hi})
			lo = hi
		}
		ahead := 1 + round
		// Each chunk as the follower hands it out: whole lines, some
		// ending in "\r\n".
		datas := make([][]byte, len(chunks))
		for k, ch := range chunks {
			var b []byte
			for i := ch[0]; i < ch[1]; i++ {
				b = append(b, lines[i]...)
				if i%3 == 0 {
					b = append(b, '\r')
				}
				b = append(b, '\n')
			}
			datas[k] = b
		}
		scans := make([]ingest.LineScan, len(chunks))
		for k := 0; k < len(chunks); k++ {
			for j := k; j < min(k+ahead, len(chunks)); j++ {
				if scans[j] == nil {
					scans[j] = p.ScanLines(datas[j])
				}
			}
			lo, hi := chunks[k][0], chunks[k][1]
			if files[lo] {
				p.NewFile(fmt.Sprint("f", lo), now, nil)
			}
			evs, res, nlines := p.FinishLines(scans[k], nil, nil)
			if nlines != hi-lo {
				t.Fatalf("round %d chunk %d: %d lines, want %d", round, k, nlines, hi-lo)
			}
			// Results by line, located by offset.
			byOff := map[int]ingest.LineResult{}
			n := 0
			for _, r := range res {
				byOff[r.Off] = r
			}
			off := 0
			for i := lo; i < hi; i++ {
				w := want[i]
				r, ok := byOff[off]
				got := lineOut{}
				if ok {
					if string(datas[k][r.Off:r.Off+r.Len]) != string(lines[i]) {
						t.Fatalf("line %d located as %q", i, datas[k][r.Off:r.Off+r.Len])
					}
					got.evs = evs[n : n+r.Events]
					if r.Err != nil {
						got.err = r.Err.Error()
					}
					n += r.Events
				}
				if len(got.evs) == 0 && len(w.evs) == 0 {
					got.evs, w.evs = nil, nil
				}
				if !reflect.DeepEqual(got, w) {
					t.Fatalf("round %d line %d %q:\n got %+v\nwant %+v", round, i, lines[i], got, w)
				}
				off += len(lines[i]) + 1
				if i%3 == 0 {
					off++
				}
			}
			if n != len(evs) {
				t.Fatalf("round %d chunk %d: %d events, results count %d", round, k, len(evs), n)
			}
		}
		if !reflect.DeepEqual(p.pending, ref.pending) || len(p.pending) == 0 {
			t.Fatalf("round %d: %d pending queue ids, ParseLine's %d", round, len(p.pending), len(ref.pending))
		}
	}
	var expired, rejected int
	for _, w := range want {
		for _, ev := range w.evs {
			if ev.Outcome == model.Expired {
				expired++
			}
		}
		if w.err != "" {
			rejected++
		}
	}
	if expired < 400 || rejected < 3 {
		t.Fatalf("corpus too tame: %d expired, %d rejected", expired, rejected)
	}
}
