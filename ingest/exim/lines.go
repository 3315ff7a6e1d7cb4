package exim

import (
	"bytes"
	"sync"

	"cutover/ingest"
	"cutover/ingest/lex"
	"cutover/model"
)

// The two-step path (ingest.LinesParser). An Exim line carries all it
// needs (full date, message id, address), so the parser keeps no state but
// caches: a scan parses its whole chunk on its own goroutine with a parser
// of its own, and FinishLines hands the result over. The pipeline then
// parses on the scan goroutines instead of on its reader alone.

var _ ingest.LinesParser = (*Parser)(nil)

type scan struct {
	evs   *[]model.Event
	res   []ingest.LineResult
	lines int
}

// scanners holds parsers for scans (their interners stay warm) and event
// buffers; shared by every Parser, which hold no state.
var (
	scanners sync.Pool // *Parser
	scanEvs  sync.Pool // *[]model.Event
)

// ScanLines implements ingest.LinesParser; it may run on any goroutine.
func (p *Parser) ScanLines(data []byte) ingest.LineScan {
	sp, _ := scanners.Get().(*Parser)
	if sp == nil || sp.loc != p.loc {
		sp = &Parser{in: new(lex.Interner)}
	}
	sp.loc = p.loc
	sc := &scan{}
	sc.evs, _ = scanEvs.Get().(*[]model.Event)
	if sc.evs == nil {
		sc.evs = new([]model.Event)
	}
	evs := (*sc.evs)[:0]
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
		evs, err = sp.ParseLine(line, evs)
		if err != nil {
			evs = evs[:n]
		}
		if err != nil || len(evs) > n {
			sc.res = append(sc.res, ingest.LineResult{Off: off, Len: len(line), Events: len(evs) - n, Err: err})
		}
		sc.lines++
		off += i + 1
	}
	*sc.evs = evs
	scanners.Put(sp)
	return sc
}

// FinishLines implements ingest.LinesParser.
func (p *Parser) FinishLines(s ingest.LineScan, dst []model.Event, res []ingest.LineResult) ([]model.Event, []ingest.LineResult, int) {
	sc := s.(*scan)
	dst = append(dst, *sc.evs...)
	res = append(res, sc.res...)
	clear(*sc.evs) // drop the strings it points to
	*sc.evs = (*sc.evs)[:0]
	scanEvs.Put(sc.evs)
	sc.evs = nil
	return dst, res, sc.lines
}
