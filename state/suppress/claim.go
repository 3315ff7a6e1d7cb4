package suppress

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"cutover/state"
)

// A log belongs to exactly one database: two databases indexing one log
// each believe their own index, so one of them answers "not suppressed" for
// an address the log holds. The claim file <log>.claim names the database
// (absolute path) that indexes the log; it is written by the first
// read-write Open. A database whose directory already holds a log claimed
// by another database that still exists gets its own log, named after it
// (DefaultLogPath), and an explicit path to such a log is refused.

// ErrLogClaimed is returned by Open for a log another database indexes.
var ErrLogClaimed = errors.New("suppression log belongs to another database")

const claimSuffix = ".claim"

// ClaimPath is the file naming the database a log belongs to.
func ClaimPath(logPath string) string { return logPath + claimSuffix }

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// claimOf reads the claim of a log: the database path, "" when unclaimed.
func claimOf(logPath string) string {
	f, err := os.OpenFile(ClaimPath(logPath), os.O_RDONLY|state.NoFollow, 0)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4096))
	return strings.TrimSpace(string(b))
}

// claimedByOther says which other, existing database claims the log ("" if
// none: unclaimed, claimed by db, or by a database file that is gone).
func claimedByOther(logPath, dbPath string) string {
	c := claimOf(logPath)
	if c == "" || c == absPath(dbPath) {
		return ""
	}
	if _, err := os.Stat(c); err != nil {
		return "" // its database was removed or moved: the log is free
	}
	return c
}

// writeClaim records db as the log's database (atomically: a temporary
// file created with O_EXCL, then renamed).
func writeClaim(logPath, dbPath string) error {
	want := absPath(dbPath)
	if claimOf(logPath) == want {
		return nil
	}
	dir := filepath.Dir(logPath)
	f, err := os.CreateTemp(dir, filepath.Base(logPath)+".claim.tmp*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(want + "\n")
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), ClaimPath(logPath))
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("claim suppression log %s: %w", logPath, err)
	}
	syncDir(dir)
	return nil
}

// namedLogPath is the log named after the database: <db name>.suppressions.jsonl
// (the extension .db dropped).
func namedLogPath(dbPath string) string {
	base := strings.TrimSuffix(filepath.Base(dbPath), ".db")
	return filepath.Join(filepath.Dir(dbPath), base+"."+DefaultLogName)
}

// logPrefix is how every line of a log starts (model's JSON encoding).
var logPrefix = []byte(`{"v":1,"seq":`)

// checkIsLog refuses a file that is not a suppression log before anything
// reads or cuts its tail: its first line must be an event, or (a first write
// cut short) a prefix of one.
func checkIsLog(f io.ReaderAt, size int64, path string) error {
	if size == 0 {
		return nil
	}
	head := make([]byte, min(size, 64<<10))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return err
	}
	head = head[:n]
	line := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		line = head[:i]
	}
	ok := bytes.HasPrefix(line, logPrefix) || (len(line) < len(logPrefix) && len(line) == len(head) && bytes.HasPrefix(logPrefix, line))
	if !ok {
		return fmt.Errorf("%s is not a suppression log (its first line does not start with %s); nothing in it was changed", path, logPrefix)
	}
	return nil
}

// maxLogLine bounds one log line held in memory: cutover writes lines of a
// few kilobytes at most (reasons are cut to 1000 bytes), so a longer one is
// damage and must not be read whole.
const maxLogLine = 1 << 20

// readLogLine reads through the next '\n' like ReadSlice, joining the pieces
// of a line longer than the buffer in *long. n is the line's whole length;
// a line over maxLogLine comes back cut, with tooLong set.
func readLogLine(r *bufio.Reader, long *[]byte) (chunk []byte, n int64, tooLong bool, err error) {
	chunk, err = r.ReadSlice('\n')
	n = int64(len(chunk))
	if err != bufio.ErrBufferFull {
		return chunk, n, false, err
	}
	*long = append((*long)[:0], chunk...)
	for err == bufio.ErrBufferFull {
		chunk, err = r.ReadSlice('\n')
		n += int64(len(chunk))
		if len(*long)+len(chunk) > maxLogLine {
			tooLong = true
			continue
		}
		*long = append(*long, chunk...)
	}
	return *long, n, tooLong, err
}
