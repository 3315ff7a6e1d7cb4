package ui_test

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/model/auth"
	"cutover/ui"
	"cutover/ui/uifake"
)

func dnsModel(rep *ui.DNSReport, w, h int) tea.Model {
	o := opts(asciiRenderer())
	if rep != nil {
		o.DNS = func() *ui.DNSReport { return rep }
	}
	var m tea.Model = ui.New(uifake.New(0), o)
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, ui.Changed{})
}

func TestDNSHeaderWordAndView(t *testing.T) {
	rep := &ui.DNSReport{State: "CRIT", Checked: time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC), Blocked: true,
		Findings: auth.Findings{
			{Severity: auth.OK, Check: "spf", Name: "example.com", Message: "lookups: 3 (RFC), 5 (strict, as checkdmarc counts)"},
			{Severity: auth.Crit, Check: "dkim", Name: "cut2026a._domainkey.example.com", Record: "v=DKIM1; p=\x1b[2Jevil",
				Message: "published key does not match the key the NEW MTA signs with"},
		}}
	for _, w := range []int{80, 160} {
		out := dnsModel(rep, w, 24).View()
		checkScreen(t, out, w, 24)
		if !strings.Contains(strings.Split(out, "\n")[0], "dns CRIT") {
			t.Errorf("%d cols: no header word: %q", w, strings.Split(out, "\n")[0])
		}
	}
	v := press(dnsModel(rep, 100, 30), "D").View()
	checkScreen(t, v, 100, 30)
	for _, want := range []string{"DNS CRIT", "NEW ratio blocked", "DKIM CRIT", "published key does not match", "SPF OK", "lookups: 3 (RFC)"} {
		if !strings.Contains(v, want) {
			t.Errorf("D view lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b[2J") {
		t.Fatal("an escape sequence from a DNS record reached the screen")
	}
	if back := press(dnsModel(rep, 100, 30), "D", "esc").View(); strings.Contains(back, "DKIM CRIT") {
		t.Errorf("esc did not go back:\n%s", back)
	}
	// Without [dns]: no word, and D opens nothing.
	plain := dnsModel(nil, 100, 30)
	if v := press(plain, "D").View(); strings.Contains(v, "dns ") || strings.Contains(v, "no dns check") {
		t.Errorf("dns shown without a source:\n%s", v)
	}
}
