package ui

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// ImportState is where one file of a suppression import stands.
type ImportState string

const (
	ImportQueued   ImportState = "queued"
	ImportRunning  ImportState = "running"
	ImportDone     ImportState = "done"
	ImportFailed   ImportState = "failed"   // the file could not be read to its end (Err)
	ImportCanceled ImportState = "canceled" // the import was interrupted before or while reading it
)

// ImportFile is the progress of one file of a suppression import the owner
// runs (`cutover suppress import` while a serve or a cockpit holds the
// database). File and Err come from the requester and the file: untrusted.
type ImportFile struct {
	Run       string        `json:"run"`          // the import it belongs to
	By        string        `json:"by,omitempty"` // who asked (the kernel's user for the connection)
	File      string        `json:"file"`
	Index     int           `json:"index"` // 0-based
	Files     int           `json:"files"`
	Bytes     int64         `json:"bytes"` // read so far
	Size      int64         `json:"size"`
	Rows      int64         `json:"rows"`
	Accepted  int64         `json:"accepted"`
	Duplicate int64         `json:"duplicate"`
	Rejected  int64         `json:"rejected"`
	Rate      float64       `json:"rate"` // rows per second
	ETA       time.Duration `json:"eta"`  // by bytes; 0 when unknown or finished
	State     ImportState   `json:"state"`
	Err       string        `json:"err,omitempty"`
	Elapsed   time.Duration `json:"elapsed"`
}

// Fraction is the share of the file read, in [0, 1]; a finished file is
// full whatever its size said.
func (f *ImportFile) Fraction() float64 {
	if f.State == ImportDone {
		return 1
	}
	if f.Size <= 0 {
		return 0
	}
	return min(max(float64(f.Bytes)/float64(f.Size), 0), 1)
}

// progressBar is a file's progress as █ over ░, the ratio bar's blocks.
func progressBar(frac float64, w int) string {
	n := int(frac*float64(w) + 0.5)
	n = min(max(n, 0), w)
	return strings.Repeat("█", n) + strings.Repeat("░", w-n)
}

// renderImports is the suppression view's import section: two lines per
// file (bar, state, rate and ETA; then the counts, or the error), running
// import first. Plain text, so NO_COLOR loses nothing.
func renderImports(files []ImportFile, width int) string {
	if len(files) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("  IMPORTS (through the owner)\n")
	barW := min(max(width-62, 10), 30)
	nameW := min(max(width-barW-40, 12), 40)
	run := ""
	for i := range files {
		f := &files[i]
		if f.Run != run {
			run = f.Run
			who := ""
			if f.By != "" {
				who = " by " + Sanitize(f.By, 32)
			}
			fmt.Fprintf(&b, "  import %s%s, %d file(s)\n", Sanitize(f.Run, 20), who, f.Files)
		}
		state := string(f.State)
		if f.State == ImportRunning && f.Size > 0 {
			state = fmt.Sprintf("%3.0f%%", 100*f.Fraction())
		}
		head := fmt.Sprintf("  [%d/%d] %s %s %-7s", f.Index+1, f.Files, Fit(Sanitize(filepath.Base(f.File), nameW), nameW),
			progressBar(f.Fraction(), barW), state)
		if f.State != ImportQueued {
			head += fmt.Sprintf(" %.0f rows/s", f.Rate)
		}
		switch {
		case f.State == ImportRunning && f.ETA > 0:
			head += "  ETA " + f.ETA.Round(time.Second).String()
		case f.State == ImportRunning:
			head += "  ETA --"
		case f.State == ImportDone:
			el := f.Elapsed.Round(100 * time.Millisecond)
			if f.Elapsed < time.Second {
				el = f.Elapsed.Round(time.Millisecond)
			}
			head += "  in " + el.String()
		}
		head = strings.TrimRight(head, " ")
		if width > 0 && ansi.StringWidth(head) > width {
			head = ansi.Truncate(head, width, "…")
		}
		b.WriteString(head)
		fmt.Fprintf(&b, "\n        rows %d  accepted %d  duplicate %d  rejected %d\n", f.Rows, f.Accepted, f.Duplicate, f.Rejected)
		if f.Err != "" {
			fmt.Fprintf(&b, "        ERROR: %s\n", Sanitize(f.Err, max(width-15, 20)))
		}
	}
	b.WriteString("\n")
	return b.String()
}
