package suppress

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"cutover/model"
)

// Batches are appended on their own goroutine while the next rows are
// read; they still reach the log one at a time, in file order, and a
// failed append stops the import: its error is returned, nothing read
// after it is appended, and the summary counts only what the log took.
func TestImportAppendsInOrderAndStopsAtAFailedAppend(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "bounces.csv")
	valid, _, dups := genExport(t, src, 5000)
	for _, failAt := range []int{0, 3} { // 0: never
		im, err := newImporter(ImportOptions{Provider: SendGrid, List: "bounces", BatchSize: 100, Now: testNow,
			RejectsPath: filepath.Join(dir, "rejects.csv")})
		if err != nil {
			t.Fatal(err)
		}
		var calls, inside atomic.Int32
		var seq uint64
		var got []string
		boom := errors.New("disk full")
		im.appendFn = func(evs []model.SuppressionEvent) (int, error) {
			if inside.Add(1) != 1 {
				t.Error("two appends at once")
			}
			defer inside.Add(-1)
			time.Sleep(time.Millisecond) // let the reader run ahead
			if int(calls.Add(1)) == failAt {
				return 0, boom
			}
			for i := range evs {
				seq++
				evs[i].Seq = seq
				got = append(got, evs[i].Addr)
			}
			return len(evs), nil
		}
		fs, err := im.file(context.Background(), src, 0, 1)
		im.closeRejects()
		if failAt == 0 {
			if err != nil || fs.Accepted != int64(valid+dups) || len(got) != valid+dups {
				t.Fatalf("accepted %d (%d appended) of %d: %v", fs.Accepted, len(got), valid+dups, err)
			}
			// In file order, as genExport wrote the rows.
			for i, a := range got {
				j := i
				if i%1000 == 999 {
					j = i - 500
				}
				if want := fmt.Sprintf("user.%d@domain%d.example", j, j%5000); a != want {
					t.Fatalf("event %d: %s, want %s", i, a, want)
				}
			}
			continue
		}
		if !errors.Is(err, boom) || !im.fatal {
			t.Fatalf("err %v, fatal %v", err, im.fatal)
		}
		if c := calls.Load(); c != int32(failAt) {
			t.Fatalf("%d appends, want none after the failed one (%d)", c, failAt)
		}
		if fs.Accepted != int64(len(got)) || len(got) != (failAt-1)*100 {
			t.Fatalf("accepted %d, log took %d, want %d", fs.Accepted, len(got), (failAt-1)*100)
		}
	}
}
