package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// What backfill checks so that a wrong path does not end in "0 lines" and
// exit 0: a directory or a device is not a log, a binary file is not a log,
// and a file none of whose lines is of the given kind was given the wrong
// --kind (or is not a mail log at all).

// CheckLogFile says what is wrong with path as a log to read, before
// reading it: not a regular file, or binary (a NUL or other control byte
// in its first line; a .gz is looked at inside). nil when it may be a log.
func CheckLogFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory, not a log file"
		}
		return fmt.Errorf("%s: %s", path, what)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := logReader(f)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	head := make([]byte, 64<<10)
	n, err := io.ReadFull(r, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: %v", path, err)
	}
	head = head[:n]
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	for i, c := range head {
		// A log line is text: tabs at most. (A crash can leave NUL bytes at
		// the end of a log; its first line is still text.)
		if c < 0x20 && c != '\t' && c != '\r' || c == 0x7f {
			return fmt.Errorf("%s: a binary file (byte 0x%02x at offset %d of its first line), not a log", path, c, i)
		}
	}
	return nil
}

// logReader reads a file, through gzip when it starts with the gzip magic.
func logReader(f io.Reader) (io.Reader, error) {
	br := bufio.NewReader(f)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// kindLine recognises a line written by each kind of MTA, whether or not it
// is an outcome: the parsers only tell outcomes from everything else.
var kindLine = map[string]*regexp.Regexp{
	// syslog or maillog_file: "postfix/smtp[123]:", "postfix-out/qmgr[9]:",
	// "postfix/postlog:"; or a bare "QUEUEID: to=<...>" line.
	"postfix": regexp.MustCompile(`(?:^|\s)postfix[\w.-]*(?:/[\w.-]+)+(?:\[\d+\])?:|^[0-9A-Za-z]{6,}: (?:to|from|orig_to|message-id|client|removed|uid)\b`),
	// Exim main log: "2026-12-07 10:00:00[.mmm] [+zone] [pid] ...", or
	// syslog "exim[123]:".
	"exim": regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|(?:^|\s)exim\d*\[\d+\]:`),
	// PowerMTA accounting CSV: the header or a record type.
	"pmta": regexp.MustCompile(`^(?:type|d|b|t|tq|r|f|rb|rs),`),
}

// maxKindScan bounds how much of a file CountKindLines reads.
const maxKindScan = 64 << 20

// CountKindLines counts the lines of path (up to its first 64 MB, through
// gzip) and how many of them a kind MTA writes. Lines are bounded: a long
// one is counted once and skipped.
func CountKindLines(path, kind string) (lines, ofKind int64, err error) {
	re := kindLine[kind]
	if re == nil {
		return 0, 0, fmt.Errorf("unknown log kind %q", kind)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := logReader(f)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v", path, err)
	}
	br := bufio.NewReaderSize(io.LimitReader(r, maxKindScan), 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		start := line
		for err == bufio.ErrBufferFull { // a long line: its start decides
			_, err = br.ReadSlice('\n')
		}
		if len(start) > 0 {
			lines++
			if re.Match(bytes.TrimRight(start, "\r\n")) {
				ofKind++
			}
		}
		if err == io.EOF {
			return lines, ofKind, nil
		}
		if err != nil {
			return lines, ofKind, fmt.Errorf("%s: %v", path, err)
		}
	}
}

// BackfillVerdict judges a backfill's summary: an error when it read lines
// and counted nothing because none of them is of kind (each file with its
// numbers), or when every line that looked like an outcome was rejected.
// A run that read no new line (a rerun over unchanged files) is fine.
func BackfillVerdict(sum Summary, kind string, files []string) error {
	if sum.Events > 0 || sum.Lines == 0 {
		return nil
	}
	var lines, ofKind int64
	var msgs []string
	for _, p := range files {
		n, k, err := CountKindLines(p, kind)
		if err != nil {
			return err
		}
		lines += n
		ofKind += k
		if n > 0 && k == 0 {
			msgs = append(msgs, fmt.Sprintf("%s: %d lines, none of them a %s log line", p, n, kind))
		}
	}
	if ofKind > 0 || len(files) == 0 {
		if sum.Rejected > 0 {
			return fmt.Errorf("every one of the %d %s lines that looked like an outcome was rejected: nothing was counted (the rejected lines are listed by `cutover sources`)", sum.Rejected, kind)
		}
		return nil // lines of this kind, none an outcome (connects, queue runs)
	}
	if len(msgs) == 0 {
		msgs = append(msgs, fmt.Sprintf("%d lines, none of them a %s log line", lines, kind))
	}
	return fmt.Errorf("%s (wrong --kind, or not a mail log?)", strings.Join(msgs, "; "))
}
