package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// outFile is one log file being appended to. Lines are collected in pend
// and written by flush, so that a whole simulated minute costs one write.
type outFile struct {
	path  string
	f     *os.File
	pend  []byte
	size  int64     // bytes of the file including pend
	last  time.Time // simulated time of the last line added
	mtime time.Time
}

func createOut(path string) (*outFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	return &outFile{path: path, f: f}, nil
}

func (o *outFile) add(b []byte, t time.Time) {
	o.last = t
	o.pend = append(o.pend, b...)
	o.size += int64(len(b))
}

// flush writes what is pending. With r set it may hold back the tail of the
// last line (never all of it) so that a follower sees a partial line; the
// next flush completes it.
func (o *outFile) flush(r *rand.Rand) error {
	n := len(o.pend)
	if n == 0 {
		return nil
	}
	if r != nil && r.IntN(12) == 0 {
		start := bytes.LastIndexByte(o.pend[:n-1], '\n') + 1
		if last := n - start; last >= 2 {
			n -= 1 + r.IntN(last-1)
		}
	}
	if _, err := o.f.Write(o.pend[:n]); err != nil {
		return fmt.Errorf("sim: writing %s: %w", o.path, err)
	}
	o.pend = append(o.pend[:0], o.pend[n:]...)
	o.touch()
	return nil
}

// touch sets the file's mtime to the simulated time of its last line, as
// if the MTA had written it then: parsers infer the year of syslog lines
// from it, and the follower orders files by it.
func (o *outFile) touch() {
	t := o.last
	if t.IsZero() || t.Equal(o.mtime) {
		return
	}
	if os.Chtimes(o.path, t, t) == nil {
		o.mtime = t
	}
}

func (o *outFile) close() error {
	if o.f == nil {
		return nil
	}
	err := o.flush(nil)
	if cerr := o.f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	o.f = nil
	return err
}

// rotateNumbered renames path to path.1 after shifting path.N to path.N+1,
// keeping keep rotated files: what logrotate (or savelog) does to a
// syslog-written mail log every night.
func rotateNumbered(path string, keep int) error {
	_ = os.Remove(fmt.Sprintf("%s.%d", path, keep))
	for i := keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", path, i)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, fmt.Sprintf("%s.%d", path, i+1)); err != nil {
				return err
			}
		}
	}
	return os.Rename(path, path+".1")
}

// pruneAcct deletes accounting files older than PowerMTA's delete-after
// (default 8 days), by the date in their names.
func pruneAcct(dir string, now time.Time, after time.Duration) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	limit := now.Add(-after).Format("2006-01-02")
	var old []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, "acct-") && len(n) >= 15 && n[5:15] < limit {
			old = append(old, n)
		}
	}
	sort.Strings(old)
	for _, n := range old {
		_ = os.Remove(filepath.Join(dir, n))
	}
}

// appendCSV appends one field quoted as PowerMTA (RFC 4180) does: only when
// it holds a comma, a quote or a line break, with quotes doubled.
func appendCSV(b []byte, s string) []byte {
	i := 0
	for i < len(s) && !csvSpecial[s[i]] {
		i++
	}
	if i == len(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		j := strings.IndexByte(s, '"')
		if j < 0 {
			break
		}
		b = append(b, s[:j+1]...)
		b = append(b, '"')
		s = s[j+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

var csvSpecial = [256]bool{',': true, '"': true, '\r': true, '\n': true}

// appendDelay formats a Postfix delay the way log_adhoc does in practice:
// "0" below 10 ms, two decimals below 1 s, one below 10 s, whole seconds
// above ("0.08", "1.4", "306"), trailing zeros dropped.
func appendDelay(b []byte, v float64) []byte {
	switch {
	case v < 0.005:
		return append(b, '0')
	case v < 0.995:
		return appendTrim(b, v, 2)
	case v < 9.95:
		return appendTrim(b, v, 1)
	}
	return fmt.Appendf(b, "%d", int64(v+0.5))
}

func appendTrim(b []byte, v float64, prec int) []byte {
	s := fmt.Sprintf("%.*f", prec, v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return append(b, s...)
}
