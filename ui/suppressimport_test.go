package ui_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"cutover/ui"
	"cutover/ui/uifake"
)

// importFixture: an import of three files by alice, the first done, the
// second half read, the third failed with hostile text in its name and
// error (a viewer must never get a terminal sequence from them).
func importFixture() []ui.ImportFile {
	return []ui.ImportFile{
		{Run: "r1", By: "alice", File: "/srv/exports/sendgrid_bounces.csv", Index: 0, Files: 3, Bytes: 4_000_000, Size: 4_000_000,
			Rows: 120_000, Accepted: 100_000, Duplicate: 15_000, Rejected: 5_000, Rate: 60_000, State: ui.ImportDone, Elapsed: 2 * time.Second},
		{Run: "r1", By: "alice", File: "/srv/exports/mg_unsubscribes.csv", Index: 1, Files: 3, Bytes: 1_000_000, Size: 2_000_000,
			Rows: 30_000, Accepted: 29_000, Duplicate: 700, Rejected: 300, Rate: 15_000, ETA: 2 * time.Second, State: ui.ImportRunning},
		{Run: "r1", By: "alice", File: "/srv/exports/evil\x1b]0;pwned\x07.json", Index: 2, Files: 3, Bytes: 10, Size: 900,
			Rows: 1, Rejected: 1, State: ui.ImportFailed, Err: "line 3: invalid character '\x1b[31m'"},
	}
}

func TestSuppressionImportProgress(t *testing.T) {
	v := suppFixture()
	v.Imports = importFixture()
	d := &suppData{Data: uifake.New(0), v: v}

	out := press(newModel(d, 100, 40, asciiRenderer()), "u").View()
	checkScreen(t, out, 100, 40)
	lines := strings.Split(out, "\n")
	find := func(sub string) (int, string) {
		for i, l := range lines {
			if strings.Contains(l, sub) {
				return i, l
			}
		}
		t.Fatalf("no line with %q in\n%s", sub, out)
		return 0, ""
	}
	i, l := find("[1/3] sendgrid_bounces.csv")
	if !strings.Contains(l, strings.Repeat("█", 30)+" done    60000 rows/s  in 2s") || strings.Contains(l, "░") {
		t.Errorf("done file is not a full bar with its rate: %q", l)
	}
	if want := "rows 120000  accepted 100000  duplicate 15000  rejected 5000"; !strings.Contains(lines[i+1], want) {
		t.Errorf("done file counts: %q, want %q", lines[i+1], want)
	}
	i, l = find("[2/3] mg_unsubscribes.csv")
	if !strings.Contains(l, strings.Repeat("█", 15)+strings.Repeat("░", 15)+"  50%    15000 rows/s  ETA 2s") {
		t.Errorf("half-read file is not a half bar at 50%% with rate and ETA: %q", l)
	}
	if want := "rows 30000  accepted 29000  duplicate 700  rejected 300"; !strings.Contains(lines[i+1], want) {
		t.Errorf("running file counts: %q, want %q", lines[i+1], want)
	}
	i, l = find("[3/3] evil")
	if !strings.Contains(l, "failed") || !strings.Contains(lines[i+2], "ERROR: line 3: invalid character") {
		t.Errorf("failed file without its state or error:\n%s\n%s", l, lines[i+2])
	}
	find("import r1 by alice, 3 file(s)")
	// The totals and targets are still there, below.
	find("sendgrid:bounces")
	find("postfix-new")

	// 80x24: the import section first, within the width.
	small := press(newModel(d, 80, 24, asciiRenderer()), "u").View()
	checkScreen(t, small, 80, 24)
	golden.RequireEqual(t, []byte(small))
}

// The view travels to attached viewers as JSON: the import rows survive it.
func TestSuppressionViewJSON(t *testing.T) {
	v := suppFixture()
	v.Imports = importFixture()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back ui.SuppressionView
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Imports) != 3 || back.Imports[1] != v.Imports[1] || back.Stats.Events != v.Stats.Events || len(back.Targets) != 2 {
		t.Errorf("round trip lost data: %+v", back)
	}
}
