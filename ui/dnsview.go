package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"cutover/model/auth"
)

// DNSReport is what the header word and the D view show of the owner's
// latest `dns check` (ingest/dnsq.Report, handed over by the owner).
type DNSReport struct {
	State    string // OK, WARN, CRIT, UNKNOWN
	Checked  time.Time
	Blocked  bool // NEW's ratio must stay at 0 (DMARC and DKIM alignment)
	Findings auth.Findings
	Err      string // the last check failed to run
}

// DNSSource returns the latest report; nil before the first check.
type DNSSource func() *DNSReport

type dnsState struct {
	src    DNSSource
	scroll int
}

// dnsBadge is the header word "dns OK|WARN|CRIT" (nothing without [dns]).
func (m Model) dnsBadge() string {
	if m.dns.src == nil {
		return ""
	}
	r := m.dns.src()
	if r == nil {
		return m.st.Dim.Render("dns … ")
	}
	word := "dns " + r.State
	switch r.State {
	case "OK":
		return m.st.OK.Render(word) + " "
	case "WARN":
		return m.st.Warn.Render(word) + " "
	case "CRIT":
		return m.st.Crit.Render(word) + " "
	}
	return m.st.Dim.Render("dns ?") + " "
}

func (m Model) openDNS() (tea.Model, tea.Cmd) {
	m.view, m.dns.scroll = viewDNS, 0
	return m, nil
}

func (m Model) dnsKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.Back, m.keys.DNS) {
		m.view = viewCockpit
		return m, nil
	}
	m.dns.scroll = m.scroll(msg, m.dns.scroll, len(m.dnsLines()), m.bodyHeight())
	return m, nil
}

// dnsLines lists every check with its record and reason, worst first per
// check. DNS text is untrusted: everything goes through Sanitize.
func (m Model) dnsLines() []string {
	if m.dns.src == nil {
		return nil
	}
	r := m.dns.src()
	if r == nil {
		return nil
	}
	w := max(m.width-2, 20)
	out := []string{m.st.Label.Render(fmt.Sprintf(" DNS %s  checked %s", r.State, r.Checked.In(m.loc).Format("2006-01-02 15:04:05")))}
	if r.Err != "" {
		out = append(out, m.st.Error.Render(" ! last check failed: "+Sanitize(r.Err, w)))
	}
	if r.Blocked {
		out = append(out, m.st.Crit.Render(" NEW ratio blocked: DMARC enforces and NEW's DKIM does not pass aligned"))
	}
	for _, c := range []string{"spf", "dkim", "dmarc", "ptr", "ttl", "dnsbl"} {
		var fs auth.Findings
		for _, f := range r.Findings {
			if f.Check == c {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		out = append(out, "", m.st.Label.Render(" "+strings.ToUpper(c)+" "+sevWord(fs.Worst())))
		for _, s := range []auth.Severity{auth.Crit, auth.Unknown, auth.Warn, auth.Info, auth.OK} {
			for _, f := range fs {
				if f.Severity != s {
					continue
				}
				line := fmt.Sprintf("  %-7s %s: %s", sevWord(f.Severity), Sanitize(f.Name, 60), Sanitize(f.Message, 300))
				out = append(out, m.sevStyle(f.Severity).Render(Sanitize(line, w)))
				if f.Record != "" && f.Severity != auth.OK && f.Severity != auth.Info {
					out = append(out, m.st.Dim.Render("          "+Sanitize(f.Record, w-10)))
				}
			}
		}
	}
	return out
}

func sevWord(s auth.Severity) string {
	if s == auth.Info {
		return "OK"
	}
	return s.String()
}

func (m Model) sevStyle(s auth.Severity) interface{ Render(...string) string } {
	switch s {
	case auth.Crit:
		return m.st.Crit
	case auth.Warn, auth.Unknown:
		return m.st.Warn
	}
	return m.st.Dim
}
