package exim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// Scans made ahead on other goroutines, finished in order, give exactly
// ParseLine's events and errors line by line: the real Exim 4.96 log of the
// real-MTA test, the reference log, the benchmark mix and broken lines.
func TestScanAheadMatchesParseLine(t *testing.T) {
	data, err := os.ReadFile("../realmta/testdata/exim-mainlog")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for _, l := range realLog {
		lines = append(lines, []byte(l))
	}
	bench, _ := benchLines(4000)
	lines = append(lines, bench...)
	lines = append(lines,
		[]byte("2026-11-27 03:09:16 1xWezV-0002t1-2A ** "),
		[]byte("2026-13-45 03:09:16 1xWezV-0002t1-2A => a@b.c R=x T=y"),
		[]byte("2026-11-27 03:09:16 1xWezV-0002t1-2A == a@b.c\rdefer"),
		[]byte(""),
	)
	type lineOut struct {
		evs []model.Event
		err string
	}
	ref := New(Options{Location: time.UTC})
	want := make([]lineOut, len(lines))
	for i, l := range lines {
		evs, err := ref.ParseLine(l, nil)
		if err != nil {
			want[i].err, evs = err.Error(), nil
		}
		if len(evs) > 0 {
			want[i].evs = evs
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	p := New(Options{Location: time.UTC})
	var chunks [][2]int
	for lo := 0; lo < len(lines); {
		hi := min(lo+1+rng.IntN(900), len(lines))
		chunks = append(chunks, [2]int{lo, hi})
		lo = hi
	}
	datas := make([][]byte, len(chunks))
	for k, c := range chunks {
		for i := c[0]; i < c[1]; i++ {
			datas[k] = append(datas[k], lines[i]...)
			if i%4 == 0 {
				datas[k] = append(datas[k], '\r')
			}
			datas[k] = append(datas[k], '\n')
		}
	}
	scans := make([]ingest.LineScan, len(chunks))
	var wg sync.WaitGroup
	for k := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scans[k] = p.ScanLines(datas[k])
		}()
	}
	wg.Wait()
	for k, c := range chunks {
		evs, res, n := p.FinishLines(scans[k], nil, nil)
		if n != c[1]-c[0] {
			t.Fatalf("chunk %d: %d lines, want %d", k, n, c[1]-c[0])
		}
		byOff := map[int]ingest.LineResult{}
		for _, r := range res {
			byOff[r.Off] = r
		}
		off, at := 0, 0
		for i := c[0]; i < c[1]; i++ {
			got := lineOut{}
			if r, ok := byOff[off]; ok {
				if string(datas[k][r.Off:r.Off+r.Len]) != string(lines[i]) {
					t.Fatalf("line %d located as %q", i, datas[k][r.Off:r.Off+r.Len])
				}
				if r.Events > 0 {
					got.evs = evs[at : at+r.Events]
				}
				at += r.Events
				if r.Err != nil {
					got.err = r.Err.Error()
				}
			}
			if !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("line %d %q:\n got %+v\nwant %+v", i, lines[i], got, want[i])
			}
			off += len(lines[i]) + 1
			if i%4 == 0 {
				off++
			}
		}
		if at != len(evs) {
			t.Fatalf("chunk %d: %d events, results cover %d", k, len(evs), at)
		}
	}
	if testing.Verbose() {
		fmt.Println(len(lines), "lines in", len(chunks), "chunks")
	}
}
