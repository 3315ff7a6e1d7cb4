// Package ingest turns MTA log files into model.Events and commits them, with
// the cursors that produced them, into state.
package ingest

import (
	"time"

	"cutover/model"
)

// Parser parses the lines of one source kind (pmta, postfix, exim).
//
// A parser may hold per-file state (PowerMTA's header line) and per-source
// state (Postfix's pending recipients per queue id, see Stateful). It leaves
// Side, MTA and ISP of events empty: the pipeline fills them.
type Parser interface {
	// NewFile tells the parser that the following lines come from a new file
	// (or the same file after a restart). modTime helps year inference for
	// syslog timestamps that have none. header is the file's first line when
	// reading resumes past it (PowerMTA needs it), else nil.
	NewFile(path string, modTime time.Time, header []byte)
	// ParseLine parses one line without its terminator ("\n" or "\r\n") and
	// appends zero or more events to dst. A line that is not an outcome yields
	// no events and a nil error; a line that looks like an outcome but cannot
	// be parsed yields a *RejectError. The line's bytes are not retained.
	ParseLine(line []byte, dst []model.Event) ([]model.Event, error)
}

// Stateful is implemented by parsers whose state must survive restarts and
// rotations (Postfix expiry attribution). The pipeline commits the delta in
// the same transaction as the cursor that produced it.
type Stateful interface {
	// TakeDelta returns the keys changed since the last call; a nil value
	// means the key was deleted.
	TakeDelta() map[string][]byte
	// Load replaces the state with what was committed.
	Load(map[string][]byte)
}

// LinesParser is a Parser that parses a chunk of lines in two steps, so
// that the part that needs no state can run ahead, on other goroutines:
// ScanLines may be called from any goroutine, for the next chunks, while
// earlier scans are not finished yet; FinishLines runs on the goroutine that
// calls the Parser's other methods, once per scan and in the order the scans
// were made, with NewFile calls in between as for ParseLine.
//
// data is whole lines, each ending in "\n" (a "\r" before it is not part of
// the line; bytes after the last "\n" are ignored). FinishLines appends the
// events to dst and, in line order, one LineResult to res for every line
// that gave events or an error (a rejected line gives no events), and
// returns the number of lines. Events and errors must be those ParseLine
// would give line by line. data may be kept from ScanLines to FinishLines,
// not after.
type LinesParser interface {
	Parser
	ScanLines(data []byte) LineScan
	FinishLines(scan LineScan, dst []model.Event, res []LineResult) ([]model.Event, []LineResult, int)
}

// LineScan is a LinesParser's own record of a scan.
type LineScan any

// LineResult is what FinishLines made of one line: data[Off:Off+Len] (no
// terminator) gave Events events, or Err.
type LineResult struct {
	Off, Len int
	Events   int
	Err      error
}

// RejectError says why a line that looked like an outcome was rejected.
type RejectError struct{ Reason string }

func (e *RejectError) Error() string { return e.Reason }

// Reject is a helper for parsers.
func Reject(reason string) error { return &RejectError{Reason: reason} }
