package ui

import (
	"fmt"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// sourcesBody renders every followed source: position, lag, freshness,
// state, errors and the first rejected lines.
func (m Model) sourcesBody(w int) []string {
	srcs := m.sources
	if srcs == nil && m.snap != nil {
		srcs = m.snap.Sources // before the first Sources load lands
	}
	if srcs == nil {
		return nil
	}
	wide := w >= 110
	cols := func(name, kind, side, state, off, lag, last, lines, rej string) string {
		s := Fit(name, 12) + " " + Fit(kind, 7) + " " + Fit(side, 4) + " " + state + " " +
			FitRight(off, 8) + " " + FitRight(lag, 8) + " " + Fit(last, 9)
		if wide {
			s += " " + FitRight(lines, 8)
		}
		return s + " " + FitRight(rej, 6)
	}
	head := m.st.Label.Render("sources") + "  " + m.sourcesSummary(srcs)
	if m.snap != nil && m.snap.DBPath != "" {
		head += m.st.Dim.Render("  │ db " + SanitizePath(m.snap.DBPath, max(w-ansi.StringWidth(head)-8, 10)))
	}
	out := []string{
		head,
		m.st.Label.Render(cols("name", "kind", "side", Fit("state", 17), "offset", "lag", "last line", "lines", "rej")),
	}
	if len(srcs) == 0 {
		return append(out, m.st.Dim.Render("  no sources configured"))
	}
	for _, s := range srcs {
		state := s.State.String()
		style := m.st.OK
		switch s.State {
		case SourceStale:
			style = m.st.Warn
		case SourceUnreachable:
			style = m.st.Crit
		case SourceWaiting, SourceUnknown, SourceIdle:
			style = m.st.Dim
		}
		if (s.State == SourceStale || s.State == SourceUnreachable) && !s.Since.IsZero() {
			state += " " + fmtAgo(m.now.Sub(s.Since))
		}
		last := "--"
		if !s.LastLine.IsZero() {
			last = s.LastLine.UTC().Format("15:04:05")
			if m.now.Sub(s.LastLine) >= 24*time.Hour {
				last = s.LastLine.UTC().Format("01-02 15h")
			}
		}
		lag := "--"
		if s.Size > 0 || s.Offset > 0 {
			lag = fmtBytes(max(s.Size-s.Offset, 0))
		}
		out = append(out, cols(Sanitize(s.Name, 12), Sanitize(s.Kind, 7), Sanitize(s.Side, 4), style.Render(Fit(state, 17)),
			fmtBytes(s.Offset), lag, last, fmtCount(float64(s.Lines)), fmtCount(float64(s.Rejected))))
		if s.Path != "" {
			info := "  " + SanitizePath(s.Path, max(w-30, 10))
			if wide && !s.LastLine.IsZero() {
				info += fmt.Sprintf("  last line %s ago", fmtAgo(m.now.Sub(s.LastLine)))
			}
			if wide {
				info += fmt.Sprintf("  %s events", fmtCount(float64(s.Events)))
			}
			out = append(out, m.st.Dim.Render(info))
		}
		if s.Error != "" {
			out = append(out, m.st.Error.Render("  ! "+Sanitize(s.Error, max(w-4, 1))))
		}
		if s.NoDomain > 0 {
			out = append(out, m.st.Warn.Render(Fit(fmt.Sprintf("  %s events without a usable domain (counted in the totals, in no domain)", fmtCount(float64(s.NoDomain))), w)))
		}
		for i, r := range s.Samples {
			if i == 3 {
				if len(s.Samples) > 3 {
					out = append(out, m.st.Dim.Render(fmt.Sprintf("  … %d more samples kept", len(s.Samples)-3)))
				}
				break
			}
			// The line number names the line; the byte offset finds it.
			head := fmt.Sprintf("  rejected @%d %s: ", r.Offset, Sanitize(r.Reason, 40))
			if r.Line > 0 {
				head = fmt.Sprintf("  rejected line %d (@%d) %s: ", r.Line, r.Offset, Sanitize(r.Reason, 40))
			}
			out = append(out, m.st.Warn.Render(Sanitize(head, w))+Sanitize(r.Text, max(w-len(head), 1)))
		}
	}
	return out
}
