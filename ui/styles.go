package ui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"

	"cutover/model"
)

// Styles are every style the UI uses. Colours are the 16 ANSI colours, which
// follow the user's palette, except where a light background needs a darker
// shade to stay readable (yellow warnings, grey secondary text, green):
// there lipgloss adaptive colours pick by the renderer's background (asked
// once, at start, by bubbletea; COLORFGBG when the terminal does not say).
// No style carries meaning alone: every mark is also text (OK, WARN, CRIT,
// NEW▲, ▸), so NO_COLOR (honoured by lipgloss/termenv) loses nothing.
type Styles struct {
	Title    lipgloss.Style // top bar
	Label    lipgloss.Style // section and column headings
	Dim      lipgloss.Style // secondary text, "--"
	Old      lipgloss.Style // OLD side label
	New      lipgloss.Style // NEW side label
	Selected lipgloss.Style // selected provider's name
	OK       lipgloss.Style
	Warn     lipgloss.Style
	Crit     lipgloss.Style
	Worse    lipgloss.Style // NEW▲
	Error    lipgloss.Style
	SparkOld lipgloss.Style // OLD's sparks (also drawn in dots, NEW's in blocks)
	SparkNew lipgloss.Style
	HelpBox  lipgloss.Style
	Help     help.Styles
}

// NewStyles builds the styles for a renderer (nil: lipgloss's default, which
// writes to stdout and honours NO_COLOR).
func NewStyles(r *lipgloss.Renderer) Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	c := func(n string) lipgloss.Color { return lipgloss.Color(n) }
	// ad: the ANSI colour on dark backgrounds, a darker 256-colour shade on
	// light ones (yellow on white is unreadable; grey 8 too faint).
	ad := func(light, dark string) lipgloss.AdaptiveColor {
		return lipgloss.AdaptiveColor{Light: light, Dark: dark}
	}
	s := Styles{
		Title:    r.NewStyle().Bold(true).Reverse(true),
		Label:    r.NewStyle().Bold(true),
		Dim:      r.NewStyle().Foreground(ad("240", "8")),
		Old:      r.NewStyle().Foreground(c("4")).Bold(true),
		New:      r.NewStyle().Foreground(c("5")).Bold(true),
		Selected: r.NewStyle().Bold(true).Reverse(true),
		OK:       r.NewStyle().Foreground(ad("28", "2")),
		Warn:     r.NewStyle().Foreground(ad("130", "3")).Bold(true),
		Crit:     r.NewStyle().Foreground(c("1")).Bold(true),
		Worse:    r.NewStyle().Foreground(c("1")).Bold(true),
		Error:    r.NewStyle().Foreground(c("1")),
		SparkOld: r.NewStyle().Foreground(c("4")),
		SparkNew: r.NewStyle().Foreground(c("5")),
		HelpBox:  r.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1),
	}
	s.Help = help.Styles{
		ShortKey:       r.NewStyle().Bold(true),
		ShortDesc:      r.NewStyle(),
		ShortSeparator: r.NewStyle().Foreground(ad("240", "8")),
		Ellipsis:       r.NewStyle().Foreground(ad("240", "8")),
		FullKey:        r.NewStyle().Bold(true),
		FullDesc:       r.NewStyle(),
		FullSeparator:  r.NewStyle().Foreground(ad("240", "8")),
	}
	return s
}

// health styles a health mark (text already padded).
func (s Styles) health(h model.Health, text string) string {
	switch h {
	case model.HealthOK:
		return s.OK.Render(text)
	case model.HealthWarn:
		return s.Warn.Render(text)
	case model.HealthCrit:
		return s.Crit.Render(text)
	}
	return s.Dim.Render(text)
}
