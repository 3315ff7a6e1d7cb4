package cli

import (
	"github.com/spf13/cobra"

	"cutover/owner"
	"cutover/ui"
)

// The flags many commands share, declared once so that their names and
// help read the same everywhere.

func dbFlag(c *cobra.Command, p *string, help string) {
	if help == "" {
		help = "database file (required)"
	}
	c.Flags().StringVar(p, "db", "", help)
	c.MarkFlagFilename("db", "db")
}

func configFlag(c *cobra.Command, p *string, help string) {
	if help == "" {
		help = "config file"
	}
	c.Flags().StringVar(p, "config", "", help)
	c.MarkFlagFilename("config", "toml")
}

func jsonFlag(c *cobra.Command, p *bool, help string) {
	if help == "" {
		help = "print JSON"
	}
	c.Flags().BoolVar(p, "json", false, help)
}

func yesFlag(c *cobra.Command, p *bool) {
	c.Flags().BoolVar(p, "yes", false, "apply without asking (also overwrites drifted files)")
}

func logFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "log", "", "canonical log (default suppressions.jsonl next to the database)")
	c.MarkFlagFilename("log", "jsonl")
}

func allowNetFlag(c *cobra.Command, p *bool) {
	c.Flags().BoolVar(p, "allow-network-fs", false, "allow a database on a network filesystem (risky)")
}

// command is a cobra command with cutover's conventions: the synopsis in
// Use (no "[flags]" added), an example, and RunE.
func command(use, short, example string, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Example: example, RunE: run, DisableFlagsInUseLine: true,
		Args: cobra.ArbitraryArgs, Annotations: map[string]string{annExit: defaultExit}}
}

// sanitizeCell makes untrusted text (paths, domains, reply texts) safe for a
// terminal before it is printed.
func sanitizeCell(s string) string { return ui.Sanitize(s, 300) }

var openDB = owner.OpenDB
