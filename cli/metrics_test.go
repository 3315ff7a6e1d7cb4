package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/state/suppress"
	"cutover/ui/attach"
)

func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %s\n%s", resp.Status, b.String())
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, b.String())
	}
	return mfs, b.String()
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// value finds the sample of family name whose labels include want.
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range mf.GetMetric() {
		ls := labelsOf(m)
		for k, v := range want {
			if ls[k] != v {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s: no sample with %v", name, want)
	return 0
}

func seedSuppressions(t *testing.T, dbPath string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(dbPath, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := suppress.Open(db, "", suppress.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []model.SuppressionEvent
	for i := 0; i < 3; i++ {
		evs = append(evs, model.SuppressionEvent{Type: model.SuppUnsubscribe, Addr: fmt.Sprintf("u%d@example.com", i), Source: "test:list", Scope: "account"})
	}
	evs = append(evs, model.SuppressionEvent{Type: model.SuppComplaint, Addr: "c@example.com", Source: "test:fbl", Scope: "account"})
	if _, err := l.Append(evs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsScrape scrapes a serve process, parses the exposition with the
// Prometheus text parser, checks names, types and values against what was
// ingested, applied and suppressed, lints the names, and checks that the
// counters are the same after a restart (they come from the database).
func TestMetricsScrape(t *testing.T) {
	demoFile := filepath.Join(t.TempDir(), "demo-control.json")
	e := newEnv(t, "[mtactl.demo]\nfile = \""+demoFile+"\"\n")
	seedSuppressions(t, e.db)
	p := startServe(t, e, "--metrics-listen", "127.0.0.1:0")
	if p.metrics == "" {
		t.Fatalf("no metrics address logged:\n%s", p.stderr)
	}
	e.appendDeliveries(t, 300, 3, 1) // 100 deferred, 200 delivered
	waitDelivered(t, e, 200)

	cl, err := attach.Dial(context.Background(), e.sock, attach.ClientOptions{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rem := cl.Control()
	cur, err := rem.Current()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := rem.Plan(cur.WithRatio(15, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rem.Apply(context.Background(), ch, mtactl.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}

	mfs, text := scrape(t, p.metrics)
	old := map[string]string{"side": "old", "mta": "old-postfix", "isp": "google"}
	with := func(m map[string]string, k, v string) map[string]string {
		c := map[string]string{k: v}
		for a, b := range m {
			c[a] = b
		}
		return c
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cutover_outcomes_total", with(old, "outcome", "delivered"), 200},
		{"cutover_outcomes_total", with(old, "outcome", "deferred"), 100},
		{"cutover_outcomes_total", with(old, "outcome", "bounced"), 0},
		{"cutover_hard_bounces_total", old, 0},
		{"cutover_source_lines_total", map[string]string{"source": "old-postfix"}, 300},
		{"cutover_source_rejected_lines_total", map[string]string{"source": "old-postfix"}, 0},
		{"cutover_source_lag_bytes", map[string]string{"source": "old-postfix"}, 0},
		{"cutover_suppression_events_total", map[string]string{"type": "unsubscribe"}, 3},
		{"cutover_suppression_events_total", map[string]string{"type": "complaint"}, 1},
		{"cutover_suppression_addresses", map[string]string{"type": "unsubscribe"}, 3},
		{"cutover_new_share_ratio", nil, 0.15},
		{"cutover_config_changes_total", map[string]string{"action": "apply", "result": "ok"}, 1},
		{"cutover_last_config_change_success", nil, 1},
		{"cutover_attached_viewers", nil, 1},
	}
	for _, c := range checks {
		if got := value(t, mfs, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(t, mfs, "cutover_source_state", map[string]string{"source": "old-postfix", "state": "following"}) +
		value(t, mfs, "cutover_source_state", map[string]string{"source": "old-postfix", "state": "idle"}); got != 1 {
		t.Errorf("source state following+idle = %v", got)
	}
	if ts := value(t, mfs, "cutover_last_config_change_timestamp_seconds", map[string]string{"action": "apply", "result": "ok"}); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
		t.Errorf("last change time %v", ts)
	}

	// Conventions: counters end in _total and only counters do; units in
	// the names; label sets as documented; promlint finds nothing.
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "cutover_") {
			continue
		}
		isCounter := mf.GetType() == dto.MetricType_COUNTER
		if isCounter != strings.HasSuffix(name, "_total") {
			t.Errorf("%s: type %v", name, mf.GetType())
		}
		if mf.GetHelp() == "" {
			t.Errorf("%s: no help", name)
		}
	}
	for name, labels := range map[string]string{
		"cutover_outcomes_total":   "isp,mta,outcome,side",
		"cutover_source_lag_bytes": "source",
		"cutover_source_state":     "source,state",
	} {
		var got []string
		for k := range labelsOf(mfs[name].GetMetric()[0]) {
			got = append(got, k)
		}
		if s := strings.Join(sortStrings(got), ","); s != labels {
			t.Errorf("%s labels %s, want %s", name, s, labels)
		}
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		if strings.HasPrefix(pr.Metric, "cutover_") {
			t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
		}
	}
	if _, ok := mfs["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// After a restart the counters continue from the database.
	cl.Close()
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
	p2 := startServe(t, e, "--metrics-listen", "127.0.0.1:0")
	mfs2, _ := scrape(t, p2.metrics)
	for _, c := range checks[:5] {
		if got := value(t, mfs2, c.name, c.labels); got != c.want {
			t.Errorf("after restart %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}
