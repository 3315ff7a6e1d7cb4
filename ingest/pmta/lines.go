package pmta

import (
	"bytes"
	"sync"

	"cutover/ingest"
	"cutover/ingest/lex"
	"cutover/model"
)

// The two-step path (ingest.LinesParser). Accounting files are the biggest
// source a sender has, and parsing them on the pipeline's reader alone used
// one core. A record's parse depends only on the header in effect, so a
// scan parses its chunk completely, on its own goroutine and its own copy
// of the row state, starting from the header it guesses: the last header
// line any scan or NewFile saw (one header serves a whole file, and a
// PowerMTA config writes the same header in every file). FinishLines, in
// order on the parser's goroutine, takes the scan's results when the
// header in effect there is the guessed one, and otherwise parses the
// chunk again line by line. Either way the result is ParseLine's.

// scanShared is the state scans share: the header guess and a pool of row
// parsers (their interners stay warm).
type scanShared struct {
	mu   sync.Mutex
	hdr  string
	rows sync.Pool // *rowParser
	evs  sync.Pool // *[]model.Event, a scan's event buffer
}

func (s *scanShared) guess(hdr string) {
	s.mu.Lock()
	s.hdr = hdr
	s.mu.Unlock()
}

func (s *scanShared) guessed() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hdr
}

// scan is one chunk's ScanLines result.
type scan struct {
	data       []byte
	start, end string // header assumed at the start, in effect at the end
	evs        *[]model.Event
	res        []ingest.LineResult
	lines      int
}

// ScanLines implements ingest.LinesParser: it may run on any goroutine,
// ahead of earlier chunks' FinishLines.
func (p *Parser) ScanLines(data []byte) ingest.LineScan {
	rp, _ := p.scans.rows.Get().(*rowParser)
	if rp == nil {
		rp = &rowParser{intern: new(lex.Interner)}
	}
	rp.loc = p.loc
	sc := &scan{data: data, start: p.scans.guessed()}
	rp.resetHeader()
	if sc.start != "" {
		rp.setHeader([]byte(sc.start))
	}
	sc.evs, _ = p.scans.evs.Get().(*[]model.Event)
	if sc.evs == nil {
		sc.evs = new([]model.Event)
	}
	evs := (*sc.evs)[:0]
	hdr := rp.hdr
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		line := data[off : off+i]
		if i > 0 && line[i-1] == '\r' {
			line = line[:i-1]
		}
		n := len(evs)
		var err error
		evs, err = rp.parseLine(line, evs)
		if err != nil || len(evs) > n {
			sc.res = append(sc.res, ingest.LineResult{Off: off, Len: len(line), Events: len(evs) - n, Err: err})
		}
		if rp.hdr != hdr {
			// Later chunks (of this file) start under this header.
			hdr = rp.hdr
			p.scans.guess(hdr)
		}
		sc.lines++
		off += i + 1
	}
	*sc.evs = evs
	sc.end = rp.hdr
	p.scans.rows.Put(rp)
	return sc
}

// FinishLines implements ingest.LinesParser.
func (p *Parser) FinishLines(s ingest.LineScan, dst []model.Event, res []ingest.LineResult) ([]model.Event, []ingest.LineResult, int) {
	sc := s.(*scan)
	defer func() {
		clear(*sc.evs) // drop the strings it points to
		*sc.evs = (*sc.evs)[:0]
		p.scans.evs.Put(sc.evs)
		sc.evs, sc.data = nil, nil
	}()
	if sc.start == p.hdr {
		dst = append(dst, *sc.evs...)
		res = append(res, sc.res...)
		if sc.end != p.hdr {
			p.resetHeader()
			if sc.end != "" {
				p.setHeader([]byte(sc.end))
			}
		}
		return dst, res, sc.lines
	}
	// Guessed wrong (a file with another header, or the scan ran before
	// any header was seen): parse again under the header in effect.
	data := sc.data
	lines := 0
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		line := data[off : off+i]
		if i > 0 && line[i-1] == '\r' {
			line = line[:i-1]
		}
		n := len(dst)
		var err error
		dst, err = p.parseLine(line, dst)
		if err != nil || len(dst) > n {
			res = append(res, ingest.LineResult{Off: off, Len: len(line), Events: len(dst) - n, Err: err})
		}
		lines++
		off += i + 1
	}
	p.scans.guess(p.hdr)
	return dst, res, lines
}
