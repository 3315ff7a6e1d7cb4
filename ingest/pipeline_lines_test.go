package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"cutover/ingest"
	"cutover/ingest/postfix"
	"cutover/model"
	"cutover/state"
)

// lineOnly hides the Postfix parser's LinesParser side, so the pipeline
// takes its ParseLine path.
type lineOnly struct{ *postfix.Parser }

func (l lineOnly) NewFile(path string, mt time.Time, h []byte) { l.Parser.NewFile(path, mt, h) }
func (l lineOnly) ParseLine(b []byte, dst []model.Event) ([]model.Event, error) {
	return l.Parser.ParseLine(b, dst)
}
func (l lineOnly) TakeDelta() map[string][]byte { return l.Parser.TakeDelta() }
func (l lineOnly) Load(m map[string][]byte)     { l.Parser.Load(m) }

// The scan-ahead path (chunks scanned on several goroutines, finished on
// the writer) commits what the line-by-line path commits: counts per
// domain, cursors, and rejected lines with their file offsets and text,
// over a log of several megabytes with CRLF lines, rejects and expiries.
func TestPipelineLinesParserMatchesParseLine(t *testing.T) {
	src, err := os.ReadFile("realmta/testdata/postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for i := 0; i < 25; i++ {
		for j, l := range bytes.SplitAfter(src, []byte("\n")) {
			if len(l) == 0 {
				continue
			}
			if (i+j)%5 == 0 {
				l = append(bytes.TrimSuffix(l, []byte("\n")), '\r', '\n')
			}
			data = append(data, l...)
		}
		data = append(data, fmt.Sprintf("Nov 27 03:10:%02d old-mta postfix/smtp[9]: ABC%03d: to=<x@y.example>, relay=none, status=odd%d (x)\n", i, i, i)...)
		data = append(data, fmt.Sprintf("Nov 27 03:10:%02d old-mta postfix/smtp[9]: ABD%03d: to=<trunc%d@y.example\r\n", i, i, i)...)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(log, data, 0o644); err != nil {
		t.Fatal(err)
	}
	loc := time.UTC
	run := func(name string, p ingest.Parser) ([]state.Row, []state.Reject, ingest.Summary) {
		db, err := state.Open(filepath.Join(dir, name+".db"), state.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		pl, err := ingest.NewPipeline(db, []ingest.SourceSpec{{Name: "pf", Kind: "postfix", Side: model.SideOld, MTA: "pf",
			Globs: []string{log}, Parser: p}}, ingest.Options{NoSuppress: true})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := pl.Backfill(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		pl.Close()
		rows, err := db.Stats(state.Query{By: "domain"})
		if err != nil {
			t.Fatal(err)
		}
		rj, err := db.Rejects("pf")
		if err != nil {
			t.Fatal(err)
		}
		for i := range rj {
			rj[i].Seen = time.Time{}
		}
		return rows, rj, sum
	}
	opts := postfix.Options{Location: loc}
	var _ ingest.LinesParser = postfix.New(opts)
	rows, rj, sum := run("lines", postfix.New(opts))
	wrows, wrj, wsum := run("line", lineOnly{postfix.New(opts)})
	if !reflect.DeepEqual(sum, wsum) {
		t.Fatalf("summary %+v\nwant %+v", sum, wsum)
	}
	if !reflect.DeepEqual(rows, wrows) {
		t.Fatalf("stats differ:\n%+v\nwant %+v", rows, wrows)
	}
	if !reflect.DeepEqual(rj, wrj) {
		t.Fatalf("rejects differ:\n%+v\nwant %+v", rj, wrj)
	}
	if sum.Bytes != int64(len(data)) || sum.Rejected != 50 || sum.Outcomes[model.Expired] == 0 || len(rj) == 0 {
		t.Fatalf("corpus not exercised: %+v, %d rejects kept", sum, len(rj))
	}
	// Each kept reject points at its line.
	for _, r := range rj {
		end := bytes.IndexByte(data[r.Offset:], '\n')
		line := string(bytes.TrimSuffix(data[r.Offset:r.Offset+int64(end)], []byte("\r")))
		if line != r.Text {
			t.Fatalf("reject at %d: %q, the line there is %q", r.Offset, r.Text, line)
		}
		// ...and its line number is the count of lines before it, plus one.
		if want := int64(bytes.Count(data[:r.Offset], []byte("\n"))) + 1; r.Line != want {
			t.Fatalf("reject at %d: line %d, want %d", r.Offset, r.Line, want)
		}
	}
}
