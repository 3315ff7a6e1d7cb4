package ui

import (
	"fmt"
	"slices"
	"strings"

	"cutover/model"
	"cutover/mtactl"
)

// The ratio slider and the (y/N) confirmations of a rollback or the
// baseline: a fixed head (what changes, the slider, the state of the
// preview) over a scrollable preview of the throttles, the files, any
// drift, the notes and every file's diff.

// ctlBody is the screen body of an open control view.
func (m Model) ctlBody(h int) []string {
	if m.ctl.mode == ctlAudit {
		return m.auditBody(h)
	}
	head := m.ctlHead()
	lines := m.ctlLines()
	sh := max(h-len(head), 0)
	off := max(min(m.ctl.scroll, len(lines)-sh), 0)
	body := append([]string{}, head...)
	return append(body, lines[off:min(off+sh, len(lines))]...)
}

// ctlScrollHeight is how many preview lines fit under the head.
func (m Model) ctlScrollHeight() int { return max(m.bodyHeight()-len(m.ctlHead()), 1) }

func pctS(v int) string { return fmt.Sprintf("%d%%", v) }

func (m Model) ctlHead() []string {
	s := m.ctl
	line := func(t string) string { return " " + t }
	var head []string
	switch s.kind {
	case "ratio":
		same := ""
		if s.target == s.cur.RatioNew {
			same = m.st.Dim.Render("  (same ratio)")
		}
		head = append(head, line(m.st.Label.Render("ratio to NEW")+fmt.Sprintf("   applied %s  →  proposed %s", pctS(s.cur.RatioNew), pctS(s.target))+same))
		barW := max(min(m.width-22, 50), 4)
		r := float64(s.target)
		head = append(head, line(fmt.Sprintf("OLD %4s %s NEW %s", fmtRatio(100-r), ratioBar(r, barW), fmtRatio(r))))
		var parts []string
		for _, v := range s.steps {
			p := pctS(v)
			if v == s.cur.RatioNew {
				p += "*"
			}
			if v == s.target {
				p = "[" + p + "]"
			}
			parts = append(parts, p)
		}
		if s.steps.Index(s.target) < 0 && s.steps != nil {
			parts = append(parts, m.st.Dim.Render(fmt.Sprintf("(fine: %s, between steps)", pctS(s.target))))
		}
		head = append(head, line(m.st.Dim.Render("steps ")+strings.Join(parts, " ")+m.st.Dim.Render("   * applied")))
	case "rollback":
		head = append(head, line(m.st.Label.Render("roll back")+" to the previous applied state"+m.ctlFromTo()))
	case "baseline":
		head = append(head, line(m.st.Label.Render("baseline")+": everything back to OLD (0% new)"+m.ctlFromTo()))
	}
	return append(head, line(m.ctlStatus()), "")
}

func (m Model) ctlFromTo() string {
	if m.ctl.ch == nil {
		return ""
	}
	return fmt.Sprintf(": %d%% new → %d%% new", m.ctl.ch.From.RatioNew, m.ctl.ch.To.RatioNew)
}

// ctlStatus is the line that says what y would do now.
func (m Model) ctlStatus() string {
	s := m.ctl
	switch s.mode {
	case ctlApplying:
		return m.st.Warn.Render("applying… writing, validating and reloading the MTAs")
	case ctlResult:
		if s.result != nil {
			restored := ""
			var ae *mtactl.ApplyError
			if errorsAs(s.result, &ae) && ae.Restored {
				restored = " (previous files restored)"
			}
			return m.st.Crit.Render("✗ apply failed" + restored + ": see below")
		}
		return m.st.OK.Render("✓ " + Sanitize(s.entry.Summary(), max(m.width-4, 1)))
	case ctlDrift:
		n := 0
		if s.ch != nil {
			n = len(s.ch.Drift)
		}
		return m.st.Crit.Render(fmt.Sprintf("DRIFT: %d managed file(s) edited behind cutover's back. Overwrite them? (y/N)", n))
	}
	switch {
	case s.err != nil:
		return m.st.Error.Render(Sanitize("! "+s.err.Error(), max(m.width-2, 1)))
	case s.planning || s.ch == nil || (s.kind == "ratio" && s.planFor != s.target):
		return m.st.Dim.Render("planning…")
	case s.ch.Empty() && len(s.ch.Drift) == 0 && s.kind == "ratio":
		return m.st.Dim.Render(fmt.Sprintf("nothing to change at %s: ←/→ pick another ratio, esc close", pctS(s.target)))
	case s.ch.Empty() && len(s.ch.Drift) == 0:
		return m.st.Dim.Render("nothing to change: the files already say this")
	}
	what := "apply this change? (y/N)"
	if s.kind == "ratio" && s.ch.From.RatioNew == s.ch.To.RatioNew {
		// Same ratio, yet the files would change: say it is the throttles,
		// recomputed from the traffic history, not a ratio move.
		what = "throttles only, ratio unchanged (recomputed from recent traffic): apply? (y/N)"
		if throttlesEqual(s.ch.From, s.ch.To) {
			what = "files only, ratio and throttles unchanged: apply? (y/N)"
		}
	}
	if len(s.ch.Drift) > 0 {
		return m.st.Warn.Render(what + "  drift found: a second confirmation follows")
	}
	return m.st.Label.Render(what)
}

// ctlLines is the scrollable part: the apply result, then the preview.
func (m Model) ctlLines() []string {
	s := m.ctl
	w := max(m.width-2, 1)
	var out []string
	add := func(l string) { out = append(out, " "+l) }
	if s.mode == ctlResult && s.result != nil {
		for _, l := range strings.Split(strings.TrimRight(applyErrText(s.result), "\n"), "\n") {
			add(m.st.Error.Render(Sanitize(l, w)))
		}
		add("")
	}
	if s.mode == ctlResult && s.result == nil {
		for _, l := range auditDetail(s.entry) {
			add(Sanitize(l, w))
		}
		return out
	}
	if s.ch == nil {
		return out
	}
	ch := s.ch
	if t := throttleLines(ch.From, ch.To, ch.Caps); len(t) > 0 {
		add(m.st.Label.Render("throttles on NEW") + m.st.Dim.Render("  now → after"))
		for _, l := range t {
			add("  " + Sanitize(l, w-2))
		}
	}
	add(m.st.Label.Render("files"))
	for _, f := range ch.Files {
		what := "unchanged"
		switch {
		case f.Create:
			what = "create"
		case f.Delete:
			what = "delete"
		case f.Changed:
			what = "change"
		}
		add("  " + Sanitize(fmt.Sprintf("%-9s %-8s %s", what, f.Driver, f.Path), w-2))
	}
	if len(ch.Drift) > 0 {
		add(m.st.Crit.Render("drift: edited behind cutover's back, applying overwrites"))
		for _, d := range ch.Drift {
			where := "outside cutover's blocks (kept)"
			if d.InBlock {
				where = "in cutover's blocks (overwritten)"
			}
			add("  " + Sanitize(fmt.Sprintf("%s (%s) %s", d.Path, d.Driver, where), w-2))
			out = append(out, m.diffLines(d.Diff, w)...)
		}
	}
	if len(ch.Notes) > 0 {
		add(m.st.Label.Render("notes"))
		for _, n := range ch.Notes {
			add("  " + Sanitize(n, w-2))
		}
	}
	if d := ch.Diff(); d != "" {
		add(m.st.Label.Render("diff"))
		out = append(out, m.diffLines(d, w)...)
	}
	return out
}

func (m Model) diffLines(d string, w int) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
		t := Sanitize(l, w)
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "@@"):
			t = m.st.Dim.Render(t)
		case strings.HasPrefix(l, "+"):
			t = m.st.OK.Render(t)
		case strings.HasPrefix(l, "-"):
			t = m.st.Crit.Render(t)
		}
		out = append(out, " "+t)
	}
	return out
}

// throttlesEqual reports whether a and b throttle every provider alike.
func throttlesEqual(a, b model.Desired) bool {
	if len(a.Throttles) != len(b.Throttles) {
		return false
	}
	for k, v := range a.Throttles {
		if w, ok := b.Throttles[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// throttleLines compares the NEW side's throttles per provider and names
// what decided each new rate (history, warmup, ceiling, override) when the
// plan says.
func throttleLines(from, to model.Desired, caps map[string]model.Explained) []string {
	var isps []string
	for k := range from.Throttles {
		isps = append(isps, k)
	}
	for k := range to.Throttles {
		if !slices.Contains(isps, k) {
			isps = append(isps, k)
		}
	}
	slices.Sort(isps)
	var out []string
	for _, isp := range isps {
		a, b := from.Throttles[isp], to.Throttles[isp]
		mark := ""
		if _, ok := to.Overrides[isp]; ok {
			mark = " (override)"
		}
		if r := to.RatioFor(isp); r != to.RatioNew {
			mark += fmt.Sprintf(" [%d%% new]", r)
		}
		if e, ok := caps[isp]; ok && e.Throttle == b {
			mark += " (" + e.Caps() + ")"
		}
		if a == b {
			out = append(out, fmt.Sprintf("%-10s %s%s", isp, b, mark))
		} else {
			out = append(out, fmt.Sprintf("%-10s %s → %s%s", isp, a, b, mark))
		}
	}
	return out
}
