// Package ownertest holds test fixtures that the owner's and the
// commands' tests share.
package ownertest

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

// WriteSendGridBounces writes a SendGrid bounces export of n rows: every
// 100th row is junk (rejected) and every 50th repeats an earlier address
// with the same time (a duplicate event).
func WriteSendGridBounces(t testing.TB, path string, n int) (events int) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("email,created,status,reason\n")
	for i := 1; i <= n; i++ {
		switch {
		case i%100 == 0:
			fmt.Fprintf(&b, "not-an-address-%d,%d,5.1.1,junk\n", i, 1443651154+i)
		case i%50 == 0:
			fmt.Fprintf(&b, "User%d@Example.com,%d,5.1.1,\"550 5.1.1 no such user\"\n", i-1, 1443651154+i-1)
		default:
			fmt.Fprintf(&b, "user%d@example.com,%d,5.1.1,\"550 5.1.1 no such user\"\n", i, 1443651154+i)
			events++
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return events
}
