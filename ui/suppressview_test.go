package ui_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	ssup "cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/uifake"
)

// suppData is the fixtures with a SuppressionProvider.
type suppData struct {
	*uifake.Data
	v *ui.SuppressionView
}

func (d *suppData) SuppressionInfo() (*ui.SuppressionView, error) { return d.v, nil }

// suppFixture: two targets, one verified, one failed (with hostile text in
// a problem), and totals by type and source.
func suppFixture() *ui.SuppressionView {
	at := uifake.Now.Add(-2 * time.Hour)
	return &ui.SuppressionView{
		Now: uifake.Now,
		Stats: ssup.Stats{Addresses: 1290, Suppressed: 1284, Events: 1412, LastSeq: 1412,
			ByType: map[string]ssup.Count{
				"hard_bounce": {Addresses: 812, Events: 840}, "unsubscribe": {Addresses: 402, Events: 480},
				"complaint": {Addresses: 70, Events: 80}, "block": {Addresses: 6, Events: 12}},
			BySource: map[string]ssup.Count{
				"sendgrid:bounces": {Addresses: 800, Events: 820}, "mailgun:unsubscribes": {Addresses: 420, Events: 500},
				"ses:eu-west-1": {Addresses: 90, Events: 92}}},
		Targets: []mtactl.SuppressVerification{
			{Target: "exim-new", Time: at, LogSeq: 1400, Count: 1284, InTarget: 1283, MissingCount: 1, OK: false,
				Problems: []string{"missing: ann@example.net\x1b]0;pwned\x07"}},
			{Target: "postfix-new", Time: at, LogSeq: 1412, Count: 1284, InTarget: 1284, OK: true},
		},
	}
}

func TestSuppressionGolden(t *testing.T) {
	d := &suppData{Data: uifake.New(0), v: suppFixture()}
	m := press(newModel(d, 80, 24, asciiRenderer()), "u")
	out := m.View()
	checkScreen(t, out, 80, 24)
	for _, want := range []string{"Suppression log: 1412 events", "sendgrid:bounces", "FAILED at", "postfix-new", "verified at"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	golden.RequireEqual(t, []byte(out))

	// esc goes back to the cockpit.
	back := press(m, "esc").View()
	if strings.Contains(back, "Suppression log") || !strings.Contains(back, "ALL OLD") {
		t.Errorf("esc did not go back:\n%s", back)
	}
}

func TestSuppressionKeyOnlyWithProvider(t *testing.T) {
	help := func(d ui.Data) string { return press(newModel(d, 160, 48, asciiRenderer()), "?").View() }
	if h := help(&suppData{Data: uifake.New(0), v: suppFixture()}); !strings.Contains(h, "suppression") {
		t.Errorf("help without the u key:\n%s", h)
	}
	plain := uifake.New(0)
	if h := help(plain); strings.Contains(h, "suppression") {
		t.Errorf("help offers the suppression view without a provider:\n%s", h)
	}
	if v := press(newModel(plain, 80, 24, asciiRenderer()), "u").View(); strings.Contains(v, "Suppression log") || strings.Contains(v, "loading suppression") {
		t.Errorf("u opened a view without a provider:\n%s", v)
	}
}

// statusLine is the cockpit's second line.
func statusLine(t *testing.T, d ui.Data, w int) string {
	t.Helper()
	out := newModel(d, w, 24, asciiRenderer()).View()
	checkScreen(t, out, w, 24)
	return strings.Split(out, "\n")[1]
}

func TestSuppressionHeaderWarning(t *testing.T) {
	d := &suppData{Data: uifake.New(0), v: suppFixture()}
	d.v.Targets = nil // nothing verified
	d.Plan.RatioNew = 10
	for _, w := range []int{80, 160} {
		if l := statusLine(t, d, w); !strings.Contains(l, "! NOT VERIFIED: suppression list") {
			t.Errorf("%d cols: no warning with NEW at 10%% and no verification: %q", w, l)
		}
	}
	d.Plan.RatioNew = 0
	if l := statusLine(t, d, 160); strings.Contains(l, "suppression") || strings.Contains(l, "! ") {
		t.Errorf("warning at 0%% NEW: %q", l)
	}

	// A fresh passing verification silences it; a failed one says so.
	d.Plan.RatioNew = 10
	d.v = suppFixture()
	if l := statusLine(t, d, 160); strings.Contains(l, "suppression") {
		t.Errorf("warning with a fresh verification: %q", l)
	}
	d.v.Targets = d.v.Targets[:1]
	if l := statusLine(t, d, 160); !strings.Contains(l, "! SUPPRESSION FAILED on") {
		t.Errorf("no warning for a failed verification: %q", l)
	}

	// Without a provider (an attached viewer): never.
	if l := statusLine(t, uifake.New(0), 160); strings.Contains(l, "suppression") {
		t.Errorf("warning without a provider: %q", l)
	}
}

// ratioPlan is a PlanProvider with a fixed ratio.
type ratioPlan float64

func (r ratioPlan) Plan() ui.Plan { return ui.Plan{RatioNew: float64(r), Step: -1} }

func TestSuppressionOverStateData(t *testing.T) {
	dir := t.TempDir()
	db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := ssup.Open(db, "", ssup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]model.SuppressionEvent{{Type: model.SuppressionType("unsubscribe"), Addr: "a@example.com", Source: "sendgrid:global_unsubscribes", Scope: "account"}}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	sd := ui.NewStateData(db)
	sd.Plan = ratioPlan(25)
	if l := statusLine(t, sd, 160); strings.Contains(l, "suppression") {
		t.Errorf("warning without a Suppression field: %q", l)
	}
	sd.Suppression = &ui.SuppressionData{DB: db, LogPath: ssup.DefaultLogPath(db.Path())}
	if l := statusLine(t, sd, 160); !strings.Contains(l, "! NOT VERIFIED: suppression list (1 addresses) on NEW, which carries 25%") {
		t.Errorf("no warning: %q", l)
	}
	sd.Plan = ratioPlan(0)
	if l := statusLine(t, sd, 160); strings.Contains(l, "suppression") {
		t.Errorf("warning at 0%%: %q", l)
	}
	v := ansi.Strip(press(newModel(sd, 100, 24, asciiRenderer()), "u").View())
	if !strings.Contains(v, "sendgrid:global_unsubscribes") || !strings.Contains(v, "no target verified") {
		t.Errorf("view:\n%s", v)
	}
}
