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
// Use (no "[flags]" added), an example, and the default exit codes. valid
// says whether the positional arguments (and the flags, which it may
// capture) make a command line; when not, the usage goes to stderr and the
// exit code is 2. nil: any line is valid.
func command(use, short, example string, valid func(args []string) bool, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Example: example, DisableFlagsInUseLine: true,
		Args: cobra.ArbitraryArgs, Annotations: map[string]string{annExit: defaultExit},
		RunE: func(cmd *cobra.Command, args []string) error {
			if valid != nil && !valid(args) {
				return usage(cmd)
			}
			return run(cmd, args)
		}}
}

// Common argument rules for command.
func noArgs(args []string) bool   { return len(args) == 0 }
func oneArg(args []string) bool   { return len(args) == 1 }
func someArgs(args []string) bool { return len(args) > 0 }

// sanitizeCell makes untrusted text (paths, domains, reply texts) safe for a
// terminal before it is printed.
func sanitizeCell(s string) string { return ui.Sanitize(s, 300) }

var openDB = owner.OpenDB
