package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpCols is the width usage text is wrapped to: an 80-column terminal.
const helpCols = 80

func init() {
	cobra.AddTemplateFunc("flagUsages", func(fs *pflag.FlagSet) string {
		return strings.TrimRight(fs.FlagUsagesWrapped(helpCols), " \n")
	})
	cobra.AddTemplateFunc("indent", func(s string) string {
		return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
	})
}

// helpTemplate is --help: the description, then the usage.
const helpTemplate = `{{with (or .Long .Short)}}{{. | trimTrailingWhitespaces}}

{{end}}{{.UsageString}}`

// usageTemplate is cobra's layout with the flags wrapped to 80 columns,
// and the exit codes and environment of the command.
const usageTemplate = `Usage:{{if and .Runnable (not (index .Annotations "group"))}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} COMMAND{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if .IsAvailableCommand}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{flagUsages .LocalFlags}}{{end}}{{if .HasAvailableInheritedFlags}}

Global flags:
{{flagUsages .InheritedFlags}}{{end}}{{if .HasExample}}

Example:
{{.Example}}{{end}}{{with index .Annotations "exit"}}

Exit status:
{{indent .}}{{end}}{{with index .Annotations "env"}}

Environment:
{{indent .}}{{end}}{{if .HasAvailableSubCommands}}

Run "{{.CommandPath}} COMMAND --help" for a command's flags.{{end}}
`

// envCockpit is the Environment paragraph of the commands that draw the
// cockpit or change MTA configuration.
const envCockpit = `NO_COLOR     set: no colours (the marks stay readable without them)
SSH_CLIENT   recorded as where an operator's change came from (audit, viewers)
SUDO_USER    recorded with the user in the audit log`

// envChange is the Environment paragraph of commands that apply changes.
const envChange = `SSH_CLIENT   recorded in the audit entry as where the change came from
SUDO_USER    recorded in the audit entry with the user`

// nearest is the candidate closest to word by edit distance, if it is
// close enough to be a typo (at most a third of the word's length, and 2
// at least); "" otherwise.
func nearest(word string, candidates []string) string {
	best, bestD := "", max(2, len(word)/3)+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(word), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
