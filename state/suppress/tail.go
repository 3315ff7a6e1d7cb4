package suppress

import (
	"bytes"
	"errors"
	"io"
	"os"

	"cutover/model"
)

// Tail returns the last n events of the log at path, newest first, for a
// display (the cockpit's bounce view). It takes no lock and reads only the
// end of the file: a writer appends whole fsynced lines, and a torn last
// line (no newline yet) is skipped. Lines that do not parse are skipped;
// VerifyLog is the check. A missing log is no events and no error.
func Tail(path string, n int) ([]model.SuppressionEvent, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	var out []model.SuppressionEvent
	// Read backwards in chunks until n lines are found or the file ends.
	chunk := int64(64 << 10)
	end := size
	var carry []byte // a line split by the chunk boundary
	for end > 0 && len(out) < n {
		start := max(0, end-chunk)
		buf := make([]byte, end-start, end-start+int64(len(carry)))
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return out, err
		}
		buf = append(buf, carry...)
		if end == size {
			// The unterminated tail of a write in progress.
			if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
				buf = buf[:i+1]
			} else {
				buf = buf[:0]
			}
		}
		lines := bytes.Split(bytes.TrimSuffix(buf, []byte("\n")), []byte("\n"))
		first := 0
		if start > 0 {
			carry = append([]byte(nil), lines[0]...) // may be cut: finish it with the next chunk
			first = 1
		} else {
			carry = nil
		}
		for i := len(lines) - 1; i >= first && len(out) < n; i-- {
			if len(lines[i]) == 0 {
				continue
			}
			if e, err := model.ParseSuppressionEvent(lines[i]); err == nil {
				out = append(out, e)
			}
		}
		end = start
	}
	return out, nil
}
