package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key the cockpit knows. The help overlay and the footer are
// generated from it, so a binding added here is documented automatically.
type KeyMap struct {
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding

	Open    key.Binding // provider detail
	Back    key.Binding
	Sources key.Binding
	Bounces key.Binding // bounce classes and newest suppressions
	// Suppression is the suppression log and verification view; disabled
	// (and hidden from help) when the Data has no SuppressionProvider.
	Suppression key.Binding
	// DNS is the dns check view; disabled without Options.DNS.
	DNS key.Binding
	// Pace lists pacing suggestions and overlays (pace.go).
	Pace key.Binding
	// Plan is the cutover plan view; disabled without Options.Plan.
	Plan key.Binding
	// SourceAudit is the source-state audit view; disabled without
	// Options.Audit.
	SourceAudit key.Binding
	// Alerts opens the fired alerts (!); AlertAck acks the selected one
	// inside that view (k there, not "up"); disabled without Options.Alerts.
	Alerts   key.Binding
	AlertAck key.Binding

	Window     key.Binding // cycle through windows
	Win15m     key.Binding
	Win1h      key.Binding
	Win24h     key.Binding
	WinCutover key.Binding
	Refresh    key.Binding

	Filter key.Binding // "/": providers by name, the detail's responses by text
	Order  key.Binding // cycles the pane order: volume, health, name

	// RatioDown and RatioUp move the plan a step; disabled (and hidden from
	// help) until mtactl can apply a ratio.
	RatioDown key.Binding
	RatioUp   key.Binding

	// The control keys (ui.Control: the slider, rollbacks, the audit view);
	// disabled and hidden from help without a Control (read-only cockpit).
	Slider   key.Binding
	Rollback key.Binding
	Baseline key.Binding
	Audit    key.Binding
	// Inside the slider and the confirmations.
	StepDown key.Binding
	StepUp   key.Binding
	FineDown key.Binding
	FineUp   key.Binding
	Apply    key.Binding
	Cancel   key.Binding

	// TakeOver opens the database here when its owner is gone (owner.go).
	TakeOver key.Binding

	Help key.Binding
	Quit key.Binding
}

// DefaultKeyMap works without a mouse, arrows or function keys (vi keys too),
// so a bare SSH session can drive everything.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b", "b"), key.WithHelp("pgup/b", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "f", " "), key.WithHelp("pgdn/f", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "last")),

		Open:    key.NewBinding(key.WithKeys("enter", "l", "right"), key.WithHelp("enter", "detail")),
		Back:    key.NewBinding(key.WithKeys("esc", "backspace", "h", "left"), key.WithHelp("esc", "back")),
		Sources: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sources")),
		Bounces: key.NewBinding(key.WithKeys("B"), key.WithHelp("B", "bounces")),

		Suppression: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "suppression")),
		DNS:         key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "dns checks"), key.WithDisabled()),
		Pace:        key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pacing"), key.WithDisabled()),
		Plan:        key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "cutover plan"), key.WithDisabled()),
		SourceAudit: key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "source audit"), key.WithDisabled()),
		Alerts:      key.NewBinding(key.WithKeys("!"), key.WithHelp("!", "alerts"), key.WithDisabled()),
		AlertAck:    key.NewBinding(key.WithKeys("k"), key.WithHelp("k", "ack (in !)"), key.WithDisabled()),

		Window:     key.NewBinding(key.WithKeys("w", "tab"), key.WithHelp("w", "next window")),
		Win15m:     key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "15 min")),
		Win1h:      key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "1 hour")),
		Win24h:     key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "24 hours")),
		WinCutover: key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "since cutover start")),
		Refresh:    key.NewBinding(key.WithKeys("r", "ctrl+l"), key.WithHelp("r", "refresh now")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Order:      key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "order: volume/health/name")),

		RatioDown: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "ratio step down"), key.WithDisabled()),
		RatioUp:   key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "ratio step up"), key.WithDisabled()),

		Slider:   key.NewBinding(key.WithKeys("t", "%"), key.WithHelp("t", "slider"), key.WithDisabled()),
		Rollback: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "undo"), key.WithDisabled()),
		Baseline: key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "0% new"), key.WithDisabled()),
		Audit:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "audit"), key.WithDisabled()),
		StepDown: key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←", "step"), key.WithDisabled()),
		StepUp:   key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→", "step"), key.WithDisabled()),
		FineDown: key.NewBinding(key.WithKeys("shift+left", "-"), key.WithHelp("-/⇧←", "-1%"), key.WithDisabled()),
		FineUp:   key.NewBinding(key.WithKeys("shift+right", "+", "="), key.WithHelp("+/⇧→", "+1%"), key.WithDisabled()),
		Apply:    key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "apply"), key.WithDisabled()),
		Cancel:   key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "cancel"), key.WithDisabled()),

		TakeOver: key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "take ownership (owner gone)")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer line.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Down, k.Open, k.Window, k.Sources, k.Help, k.Quit}
}

// FullHelp is the help overlay, one column per group.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Open, k.Back, k.Sources, k.Bounces, k.Suppression, k.DNS, k.Pace, k.Plan, k.SourceAudit, k.Alerts, k.AlertAck, k.Help, k.Quit},
		{k.Window, k.Win15m, k.Win1h, k.Win24h, k.WinCutover, k.Refresh, k.Filter, k.Order, k.RatioDown, k.RatioUp},
		{k.Slider, k.StepDown, k.StepUp, k.FineDown, k.FineUp, k.Apply, k.Cancel},
		{k.Rollback, k.Baseline, k.Audit},
	}
}
