package owner

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestGrafanaDashboardUsesExportedMetrics: the sample dashboard is valid
// JSON and every cutover_ metric its queries use is one the collector
// describes.
func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	ch := make(chan *prometheus.Desc, 100)
	cutoverCollector{}.Describe(ch)
	close(ch)
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			described[m[1]] = true
		}
	}
	name := regexp.MustCompile(`cutover_[a-z_]+`)
	used := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used++
				if !described[n] {
					t.Errorf("panel %q uses %s, which cutover does not export", p.Title, n)
				}
			}
		}
	}
	if used == 0 || dash.Title == "" {
		t.Fatalf("dashboard uses no cutover metric")
	}
}
