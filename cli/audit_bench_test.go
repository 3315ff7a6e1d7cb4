package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"cutover/model"
	"cutover/state"
	sb "cutover/state/baseline"
	"cutover/ui"
)

// BenchmarkAuditReport is `audit report` over 90 days × 20 providers of
// hourly history (OLD counters with two source IPs each, plus as many
// imported ESP hour rows): read, compute, render Markdown. Target < 2 s.
//
//	go test ./cli -run XXX -bench AuditReport -benchtime 5x   (report vs the stats-peer)
func BenchmarkAuditReport(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "c.db")
	db, err := state.Open(path, state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	const days, providers = 90, 20
	var rows []sb.Row
	for d := 0; d < days; d++ {
		bt := state.NewBatch()
		for h := 0; h < 24; h++ {
			at := start.Add(time.Duration(d*24+h) * time.Hour)
			for p := 0; p < providers; p++ {
				isp := fmt.Sprintf("isp%02d", p)
				for i := 0; i < 3; i++ {
					o := model.Delivered
					if i == 2 {
						o = model.Deferred
					}
					bt.AddEvent(&model.Event{Time: at.Add(time.Duration(i) * time.Minute), Side: model.SideOld, MTA: "m", ISP: isp,
						Domain: isp + ".example", Outcome: o, SourceIP: fmt.Sprintf("192.0.2.%d", i)})
				}
				rows = append(rows, sb.Row{Source: "csv", Name: isp, ISP: isp, Start: at, Hour: true, Counts: model.Tally{Delivered: uint64(100 + h)}})
			}
		}
		if err := db.Commit(bt); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := sb.Put(db, sb.File{SHA256: "bench"}, rows); err != nil {
		b.Fatal(err)
	}
	db.Close()
	b.Run("report", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, now, err := buildAudit(auditFlags{db: path, Since: "90d", Side: "old", Basis: "p95", Margin: 1.2, NewIPs: 2, WarmupDay: 5})
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Providers) != providers || r.Window.Hours != days*24 {
				b.Fatalf("%d providers, %d hours", len(r.Providers), r.Window.Hours)
			}
			if err := ui.AuditMarkdown(io.Discard, r, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The peer: `cutover stats --json --by isp` over the same 90 days (open,
	// one Stats query, JSON), measured in the same run.
	b.Run("stats-peer", func(b *testing.B) {
		since := start.Format(time.RFC3339)
		until := start.Add(days * 24 * time.Hour).Format(time.RFC3339)
		for i := 0; i < b.N; i++ {
			d, err := openDB(path, false, true)
			if err != nil {
				b.Fatal(err)
			}
			q := state.Query{By: "isp"}
			q.Since, _ = time.Parse(time.RFC3339, since)
			q.Until, _ = time.Parse(time.RFC3339, until)
			if err := statsTo(io.Discard, d, statsFlags{by: "isp", asJSON: true}, q); err != nil {
				b.Fatal(err)
			}
			d.Close()
		}
	})
}
