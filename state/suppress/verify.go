package suppress

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"cutover/model"
	"cutover/state"
)

// VerifyReport is what VerifyLog found.
type VerifyReport struct {
	Path     string
	Lines    int64  // complete lines read (up to and including a bad one)
	Valid    int64  // lines that verified, from line 1 on
	LastSeq  uint64 // seq of the last valid line
	LastHash string // hex sha256 of the last valid line
	Bytes    int64  // bytes of the valid lines
	// TornTail is the length of a last line without newline (an interrupted
	// write; the next read-write Open cuts it off). Not a failure by itself.
	TornTail int64
	// Bad is the first line that does not verify; nil when the chain holds.
	Bad *BadLine
	// NotNormal counts lines whose addr is not what NormalizeAddress gives
	// today (a newer IDN table could do that); FirstNotNormal is the first.
	NotNormal      int64
	FirstNotNormal int64
	// Index compares the log with the index's anchor when a database was
	// given; nil otherwise.
	Index *IndexCheck
}

// BadLine locates the first line that breaks the log.
type BadLine struct {
	Line   int64  // 1-based line number
	Offset int64  // byte offset of the line
	Reason string // bad JSON, seq gap, broken chain...
	Text   string // the start of the line (at most 200 bytes)
}

// IndexCheck says whether the log still holds what the index was built from.
type IndexCheck struct {
	Seq    uint64 // events the index holds
	Off    int64  // log bytes the index covers
	OK     bool
	Reason string // when not OK
	Behind int64  // log bytes past the index (an interrupted import; Open catches up)
}

// OK reports whether the chain verifies and (when checked) matches the index.
func (r *VerifyReport) OK() bool { return r.Bad == nil && (r.Index == nil || r.Index.OK) }

func (r *VerifyReport) String() string {
	s := fmt.Sprintf("%s: %d lines verified, last seq %d", r.Path, r.Valid, r.LastSeq)
	if r.Bad != nil {
		s += fmt.Sprintf("; FIRST BAD LINE %d (byte %d): %s", r.Bad.Line, r.Bad.Offset, r.Bad.Reason)
	}
	if r.TornTail > 0 {
		s += fmt.Sprintf("; incomplete last line (%d bytes, no newline: interrupted write)", r.TornTail)
	}
	if r.NotNormal > 0 {
		s += fmt.Sprintf("; %d addresses not in today's normal form (first on line %d)", r.NotNormal, r.FirstNotNormal)
	}
	if r.Index != nil {
		if r.Index.OK {
			s += fmt.Sprintf("; index matches (seq %d)", r.Index.Seq)
			if r.Index.Behind > 0 {
				s += fmt.Sprintf(", %d bytes behind the log (caught up on next open)", r.Index.Behind)
			}
		} else {
			s += "; INDEX MISMATCH: " + r.Index.Reason
		}
	}
	return s
}

// VerifyLog reads the whole log and checks every line: valid JSON with the
// required fields, v = 1, seq = line number (no gap, no repeat), prev = the
// sha256 of the previous line's bytes (the first line's prev is all zeros).
// An edited line breaks the chain at the next line; a removed line shows as
// a seq gap or broken chain; a cut line is a torn tail. Edits to the last
// line, or whole lines removed at the end, leave no trace in the chain: with
// db non-nil, VerifyLog also checks the log against the anchor the index
// keeps (seq, byte offset and hash of the last indexed line, hash of line 1),
// which catches those.
//
// The returned error is for I/O problems only; a bad log is a report with
// OK() false.
func VerifyLog(path string, db *state.DB) (*VerifyReport, error) {
	rep := &VerifyReport{Path: path}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && db != nil {
		f = nil // an absent log is an empty one; the index check says if that is wrong
	} else if err != nil {
		return nil, err
	}
	var first [32]byte
	var atAnchor [32]byte // hash of the line whose seq is the anchor's
	var atAnchorEnd int64 // and the offset after it
	var a anchor
	if db != nil {
		if a, err = readAnchor(db); err != nil {
			return nil, err
		}
	}
	if f != nil {
		defer f.Close()
		r := bufio.NewReaderSize(f, 1<<20)
		prev := genesis()
		var off int64
		var long []byte
		for {
			chunk, n, tooLong, err := readLogLine(r, &long)
			if err == io.EOF {
				rep.TornTail = n
				break
			}
			if err != nil {
				return nil, err
			}
			rep.Lines++
			line := chunk[:len(chunk)-1]
			var e model.SuppressionEvent
			var perr error
			if tooLong {
				perr = fmt.Errorf("line longer than %d bytes (not one cutover wrote)", maxLogLine)
			} else {
				e, perr = model.ParseSuppressionEvent(line)
			}
			if perr == nil && e.Seq != uint64(rep.Lines) {
				if e.Seq > uint64(rep.Lines) {
					perr = fmt.Errorf("seq %d where %d was expected: %d line(s) missing before it", e.Seq, rep.Lines, e.Seq-uint64(rep.Lines))
				} else {
					perr = fmt.Errorf("seq %d where %d was expected: repeated or reordered line", e.Seq, rep.Lines)
				}
			}
			if perr == nil && e.Prev != prevHex(prev) {
				perr = fmt.Errorf("broken chain: prev is not the sha256 of line %d (line %d was edited or removed, or this line was)", rep.Lines-1, rep.Lines-1)
				if rep.Lines == 1 {
					perr = errors.New("broken chain: line 1 must have prev = 64 zeros (lines were removed from the start)")
				}
			}
			if perr != nil {
				text := line
				if len(text) > 200 {
					text = text[:200]
				}
				rep.Bad = &BadLine{Line: rep.Lines, Offset: off, Reason: perr.Error(), Text: string(text)}
				break
			}
			if n, _, nerr := model.NormalizeAddress(e.Addr); nerr != nil || n != e.Addr {
				if rep.NotNormal == 0 {
					rep.FirstNotNormal = rep.Lines
				}
				rep.NotNormal++
			}
			prev = sha256.Sum256(line)
			if rep.Lines == 1 {
				first = prev
			}
			off += n
			if e.Seq == a.seq {
				atAnchor, atAnchorEnd = prev, off
			}
			rep.Valid++
			rep.LastSeq = e.Seq
			rep.Bytes = off
		}
		rep.LastHash = prevHex(prev)
	}
	if db != nil {
		ic := &IndexCheck{Seq: a.seq, Off: a.off, OK: true}
		switch {
		case a.off == 0 && a.seq == 0:
			// nothing indexed yet: nothing to compare
		case rep.Bad != nil && uint64(rep.Bad.Line) <= a.seq:
			ic.OK = false
			ic.Reason = fmt.Sprintf("the index holds %d events, beyond the first bad line", a.seq)
		case rep.LastSeq < a.seq:
			ic.OK = false
			ic.Reason = fmt.Sprintf("the index holds %d events up to byte %d, but the log ends at seq %d, byte %d: %d event(s) were lost from the end of the log",
				a.seq, a.off, rep.LastSeq, rep.Bytes, a.seq-rep.LastSeq)
		case atAnchor != a.last || atAnchorEnd != a.off:
			ic.OK = false
			ic.Reason = fmt.Sprintf("line %d (the last the index saw, ending at byte %d) is not the one the index saw: the log was edited or replaced", a.seq, a.off)
		case first != a.first:
			ic.OK = false
			ic.Reason = "line 1 is not the one the index saw: this is another log"
		default:
			ic.Behind = rep.Bytes - a.off
		}
		rep.Index = ic
	}
	return rep, nil
}
