package exim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/exim"
	"cutover/model"
	"cutover/state"
)

// An address with no usable domain is an event without a domain: counted
// in the totals, listed in the source's summary, never a domain key.
func TestNoDomainCountedAndListed(t *testing.T) {
	lines := []string{
		"2026-11-26 19:18:45 1xWezV-0002t1-2A => a@ok.example R=dnslookup T=remote_smtp H=mx.ok.example [192.0.2.1] C=\"250 ok\"",
		"2026-11-26 19:18:46 1xWezV-0002t1-2B ** |/usr/bin/broken R=x T=address_pipe: Child process of address_pipe transport returned 1",
		"2026-11-26 19:18:47 1xWezV-0002t1-2C => user@[192.0.2.7] R=literal T=remote_smtp H=[192.0.2.7]",
		"2026-11-26 19:18:48 1xWezV-0002t1-2D ** b@ok.example R=dnslookup T=remote_smtp H=mx.ok.example [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<b@ok.example>: 550 5.1.1 user unknown",
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "mainlog")
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "exim-new", Kind: "exim", Side: model.SideNew, MTA: "exim",
		Globs: []string{log}, Parser: exim.New(exim.Options{Location: time.UTC})}}, ingest.Options{NoSuppress: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Backfill(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	pl.Close()
	srcs, err := db.Sources()
	if err != nil || len(srcs) != 1 || srcs[0].Events != 4 || srcs[0].NoDomain != 2 {
		t.Fatalf("sources %+v %v", srcs, err)
	}
	rows, err := db.Stats(state.Query{By: "domain"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Domain != "ok.example" {
			t.Errorf("domain key %q", r.Domain)
		}
	}
	isp, err := db.Stats(state.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var all state.Counts
	for _, r := range isp {
		all.Add(r.Counts)
	}
	if all.Delivered != 2 || all.Bounced != 2 {
		t.Errorf("totals %+v, want 2 delivered and 2 bounced (the domain-less ones included)", all)
	}
}
