package pmta

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/model"
)

// pmtaFile is one accounting file of the corpus: its lines, and the header
// NewFile gets when reading resumes past line 1 (nil = from the top).
type pmtaFile struct {
	lines  []string
	header []byte
}

// linesCorpus: the manual's sample records under their headers, the
// benchmark mix, header changes inside a file, a file whose header comes
// only through NewFile, a file with no header, and broken records.
func linesCorpus() []pmtaFile {
	var big []string
	big = append(big, hdrDefault)
	for _, l := range benchLines(5000) {
		big = append(big, string(l))
	}
	mixed := []string{hdrDefault, lineD, lineB, lineT, "", hdrTQ, lineTQ, lineTQ, hdrRB, lineRB, hdrR, lineR, hdrDefault, lineD,
		`d,2019-02-08 21:54:05+0000,"unclosed`, lineD + ",extra", "d,not a time,,,a@b.c" + ",,,,,,,,,,,,,,,,,,", hdrV4, lineV4, hdrMagic, lineM1, lineM2, hdrManual,
		`b,2010-04-12 11:40:37-0400,a@b.c,x@example.com,1.2.3.4,bad-mailbox`, "\xef\xbb\xbf" + hdrDefault, lineT}
	for i := 0; i < 2000; i++ {
		mixed = append(mixed, fmt.Sprintf(`t,2019-02-08 21:55:%02d+0000,2019-02-08 21:54:05+0000,o@b.com,u%d@gmx.de,,delayed,4.4.1 (no answer from host),smtp;421 try later,mx.gmx.de (1.2.3.4),,api,x (127.0.0.1),smtp,10.0.0.1,1.2.3.4,,,vmta1,,,gmx.de/vmta1,pool`, i%60, i))
	}
	var resumed []string
	for _, l := range benchLines(3000)[1500:] {
		resumed = append(resumed, string(l))
	}
	noHeader := []string{lineD, lineB, "", lineT}
	return []pmtaFile{
		{lines: big},
		{lines: mixed},
		{lines: resumed, header: []byte(hdrDefault + "\r")},
		{lines: noHeader},
		{lines: []string{hdrTQ, lineTQ, lineTQ, lineTQ}},
		{lines: big[1:3000], header: []byte(hdrDefault)},
	}
}

type lineOut struct {
	evs []model.Event
	err string
}

// The path the pipeline takes — scans made several chunks ahead of their
// finish, on other goroutines, NewFile between files, headers changing
// inside chunks and between files — gives exactly ParseLine's events and
// errors, line by line.
func TestScanAheadMatchesParseLine(t *testing.T) {
	files := linesCorpus()
	ref := New(Options{Location: time.UTC})
	var want []lineOut
	for fi, f := range files {
		ref.NewFile(fmt.Sprint("f", fi), time.Time{}, f.header)
		for _, l := range f.lines {
			evs, err := ref.ParseLine([]byte(l), nil)
			o := lineOut{evs: evs}
			if err != nil {
				o.err = err.Error()
			}
			want = append(want, o)
		}
	}
	scanned := 0
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 6; round++ {
		p := New(Options{Location: time.UTC})
		type chunk struct {
			file     int
			lo, hi   int // lines of the file
			first    bool
			data     []byte
			wantFrom int // index into want
		}
		var chunks []chunk
		base := 0
		for fi, f := range files {
			for lo := 0; lo < len(f.lines); {
				hi := min(lo+1+rng.IntN(1500), len(f.lines))
				c := chunk{file: fi, lo: lo, hi: hi, first: lo == 0, wantFrom: base + lo}
				for i := lo; i < hi; i++ {
					c.data = append(c.data, f.lines[i]...)
					if i%3 == 0 {
						c.data = append(c.data, '\r')
					}
					c.data = append(c.data, '\n')
				}
				chunks = append(chunks, c)
				lo = hi
			}
			base += len(f.lines)
		}
		ahead := 1 + round
		scans := make([]ingest.LineScan, len(chunks))
		var wg sync.WaitGroup
		start := func(j int) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				scans[j] = p.ScanLines(chunks[j].data)
			}()
		}
		started := 0
		for k, c := range chunks {
			for ; started < min(k+ahead, len(chunks)); started++ {
				start(started)
			}
			wg.Wait() // scans k.. are done; their order among themselves was free
			if c.first {
				p.NewFile(fmt.Sprint("f", c.file), time.Time{}, files[c.file].header)
			}
			if scans[k].(*scan).start == p.hdr {
				scanned++
			}
			evs, res, n := p.FinishLines(scans[k], nil, nil)
			if n != c.hi-c.lo {
				t.Fatalf("round %d chunk %d: %d lines, want %d", round, k, n, c.hi-c.lo)
			}
			byOff := map[int]ingest.LineResult{}
			for _, r := range res {
				byOff[r.Off] = r
			}
			off, at := 0, 0
			for i := c.lo; i < c.hi; i++ {
				line := files[c.file].lines[i]
				w := want[c.wantFrom+i-c.lo]
				got := lineOut{}
				if r, ok := byOff[off]; ok {
					if string(c.data[r.Off:r.Off+r.Len]) != line {
						t.Fatalf("line %d located as %q", i, c.data[r.Off:r.Off+r.Len])
					}
					got.evs = evs[at : at+r.Events]
					at += r.Events
					if r.Err != nil {
						got.err = r.Err.Error()
					}
				}
				if len(got.evs) == 0 {
					got.evs = nil
				}
				if !reflect.DeepEqual(got, w) {
					t.Fatalf("round %d file %d line %d %q:\n got %+v\nwant %+v", round, c.file, i, line, got, w)
				}
				off += len(line) + 1
				if i%3 == 0 {
					off++
				}
			}
			if at != len(evs) {
				t.Fatalf("round %d chunk %d: %d events, results cover %d", round, k, len(evs), at)
			}
		}
	}
	// Most chunks must have used their scan, or the fast path is dead.
	if scanned == 0 {
		t.Fatal("no scan was used: every chunk was parsed again")
	}
	t.Logf("%d chunks took their scan", scanned)
}
