// Command preview opens the cockpit on uifake's fixed data, to look at the
// views in a real terminal (and for screenshots) without a database.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"cutover/ui"
	"cutover/ui/uifake"
)

func main() {
	extra := flag.Int("extra", 0, "extra generated providers")
	flag.Parse()
	loc := time.FixedZone("CET", 3600)
	m := ui.New(uifake.New(*extra), ui.Options{Clock: func() time.Time { return uifake.Now }, Location: loc})
	if _, err := tea.NewProgram(m, tea.WithAltScreen()).Run(); err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}
