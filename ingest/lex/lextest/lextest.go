// Package lextest holds the checks and benchmark reporting the three
// parsers' tests share.
package lextest

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"cutover/model"
)

// CheckEvent fails t when a parsed event has no valid outcome, a zero time,
// or a field with a line break (every field may reach a terminal or a CSV).
func CheckEvent(t testing.TB, ev model.Event) {
	t.Helper()
	if ev.Outcome == model.OutcomeNone || int(ev.Outcome) >= model.NumOutcomes {
		t.Fatalf("invalid outcome %d", ev.Outcome)
	}
	for _, s := range []string{ev.Kind, ev.SourceIP, ev.VMTA, ev.Pool, ev.Transport, ev.Router, ev.Relay,
		ev.QueueID, ev.Recipient, ev.Domain, ev.Status, ev.BounceCat, ev.Response} {
		if strings.ContainsAny(s, "\r\n") {
			t.Fatalf("field with a line break: %q", s)
		}
	}
	// A domain key is a host name or nothing (issue 12): a byte outside
	// host-name characters would make a pane of garbage.
	for i := 0; i < len(ev.Domain); i++ {
		if c := ev.Domain[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			t.Fatalf("domain key %q has byte %q", ev.Domain, c)
		}
	}
	if ev.Time.IsZero() {
		t.Fatalf("zero time in %+v", ev)
	}
}

// CPUTime is the process's user+system time. The machines are shared: wall
// time undercounts a core's speed when other jobs run, so benchmarks report
// lines per CPU-second too.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports n lines over the CPU time spent since start.
func ReportCPU(b *testing.B, start time.Duration, n int) {
	if d := CPUTime() - start; d > 0 {
		b.ReportMetric(float64(n)/d.Seconds(), "lines/cpu-s")
	}
}
