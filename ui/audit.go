package ui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"cutover/mtactl"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// auditBody is the audit view: every change mtactl made, newest first, and
// the selected entry in full (who, files, the failing step, the checker's
// output, notes).
func (m Model) auditBody(h int) []string {
	s := m.ctl
	w := max(m.width-2, 1)
	out := []string{" " + m.st.Label.Render("audit") + m.st.Dim.Render(fmt.Sprintf("  %d changes, newest first", len(s.hist)))}
	switch {
	case s.histErr != nil:
		return append(out, " "+m.st.Error.Render(Sanitize("! "+s.histErr.Error(), w)))
	case s.hist == nil && s.histLoad:
		return append(out, " "+m.st.Dim.Render("loading…"))
	case len(s.hist) == 0:
		return append(out, " "+m.st.Dim.Render("no changes yet"))
	}
	if s.full {
		lines := m.auditFull()
		e := s.hist[s.histSel]
		out[0] = " " + m.st.Label.Render("audit entry #"+Sanitize(e.ID, 12)) + m.st.Dim.Render(fmt.Sprintf("  %d of %d · esc back to the list", s.histSel+1, len(s.hist)))
		dh := max(h-1, 0)
		off := max(min(s.detailSc, len(lines)-dh), 0)
		return append(out, lines[off:min(off+dh, len(lines))]...)
	}
	listH := max(min(len(s.hist), (h-1)/3), 1)
	top := max(min(s.histSel-listH/2, len(s.hist)-listH), 0)
	for i := top; i < top+listH; i++ {
		e := s.hist[i]
		text := Sanitize(e.Summary(), w-2)
		switch e.Result {
		case mtactl.ResultFailed:
			text = m.st.Crit.Render(text)
		case mtactl.ResultPending:
			text = m.st.Warn.Render(text)
		}
		if i == s.histSel {
			out = append(out, " "+m.st.Selected.Render("▸ ")+text)
		} else {
			out = append(out, "   "+text)
		}
	}
	out = append(out, " "+m.st.Dim.Render(strings.Repeat("─", max(min(w, 78), 1))))
	det := auditDetail(s.hist[s.histSel])
	dh := max(h-len(out), 0)
	off := max(min(s.detailSc, len(det)-dh), 0)
	for _, l := range det[off:min(off+dh, len(det))] {
		out = append(out, " "+Sanitize(l, w))
	}
	return out
}

// auditFull is the selected entry for the full view: its summary and every
// detail line wrapped to the width, nothing cut.
func (m Model) auditFull() []string {
	s := m.ctl
	if len(s.hist) == 0 {
		return nil
	}
	w := max(m.width-2, 8)
	e := s.hist[min(s.histSel, len(s.hist)-1)]
	var out []string
	for _, l := range append([]string{e.Summary(), ""}, auditDetail(e)...) {
		l = Sanitize(l, 1<<20)
		indent := len(l) - len(strings.TrimLeft(l, " "))
		for i, part := range strings.Split(ansi.Wrap(l, w-indent, " ,/"), "\n") {
			if i > 0 {
				part = strings.Repeat(" ", indent+2) + strings.TrimLeft(part, " ")
			}
			out = append(out, " "+ansi.Truncate(part, w, ""))
		}
	}
	return out
}

// auditDetail is one entry in full, one fact a line.
func auditDetail(e mtactl.AuditEntry) []string {
	out := []string{
		fmt.Sprintf("change %s  %s  %s", e.ID, e.Action, e.Time.UTC().Format("2006-01-02 15:04:05Z")),
		fmt.Sprintf("who     %s on %s (pid %d) %s", e.Who, e.Who.Host, e.Who.PID, e.Who.Command),
		fmt.Sprintf("from    %s", e.From),
		fmt.Sprintf("to      %s", e.To),
		fmt.Sprintf("result  %s %s", e.Result, e.Duration),
	}
	if e.RollbackOf != "" {
		out = append(out, "restores the files from before change "+e.RollbackOf)
	}
	if e.Step != "" {
		out = append(out, "step    "+e.Step)
	}
	if e.Restored != "" {
		out = append(out, "restored "+e.Restored)
	}
	if len(e.Reloaded) > 0 {
		out = append(out, "reloaded "+strings.Join(e.Reloaded, ", "))
	}
	block := func(title, text string) {
		if text = strings.TrimRight(text, "\n"); text != "" {
			out = append(out, title)
			for _, l := range strings.Split(text, "\n") {
				out = append(out, "  "+l)
			}
		}
	}
	block("error", e.Error)
	block("output", e.Output)
	block("notes", strings.Join(e.Notes, "\n"))
	block("drift overwritten", strings.Join(e.Drift, "\n"))
	var files []string
	for _, f := range e.Files {
		files = append(files, fmt.Sprintf("%s %s → %s", f.Path, short(f.Before), short(f.After)))
	}
	block("files", strings.Join(files, "\n"))
	return out
}

func short(h string) string {
	if h == "" {
		return "absent"
	}
	return h[:min(len(h), 12)]
}
