package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzVerify: any bytes in checkpoints.jsonl give a report (never a panic),
// and a report that verifies has only lines that chain.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"v":1,"seq":1,"type":"hold","ts":"2026-12-07T09:00:00Z","step":0,"ratio":0,"reason":"x","prev":"` + strings.Repeat("0", 64) + `"}` + "\n"))
	f.Add([]byte("{\n\x00\xff"))
	f.Add([]byte(strings.Repeat("a", 70000)))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, LogName)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() && int64(len(rep.events)) != rep.Lines {
			t.Fatalf("OK with %d events for %d lines", len(rep.events), rep.Lines)
		}
		_ = rep.String()
	})
}
