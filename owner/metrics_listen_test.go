package owner

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Issue 13 point 12: --metrics-listen on a non-loopback address warns that
// /metrics has no authentication; loopback does not.
func TestMetricsListenWarnsOffLoopback(t *testing.T) {
	for addr, warn := range map[string]bool{"127.0.0.1:0": false, "0.0.0.0:0": true} {
		var buf bytes.Buffer
		srv, bound, err := startMetrics(addr, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv.Shutdown(context.Background())
		got := strings.Contains(buf.String(), "no authentication")
		if got != warn {
			t.Errorf("%s (bound %s): warned %v, want %v\n%s", addr, bound, got, warn, buf.String())
		}
	}
}
