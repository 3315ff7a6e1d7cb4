// Package cli is cutover's command line: one cobra command per action,
// one file per family. A command parses its flags, then either acts
// locally (opening the database, mtactl or the suppression log itself) or
// asks the process that owns the database over its socket (package owner),
// and turns the result into output and an exit code.
//
// Adding a command: write newXCmd(o cmdIO) *cobra.Command in the family's
// file (declare shared flags with the helpers in flags.go), add it in
// newRoot, give it an Example, and run the golden test with -update.
package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errUsage is returned after a usage message was already printed: exit 2.
var errUsage = errors.New("usage")

// exitError ends the process with code; its message, if any, is printed
// already.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// usageError is a bad command line: printed with a pointer to --help, exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// cmdIO is where a command reads its confirmation and writes its output;
// tests swap it.
type cmdIO struct {
	in       *bufio.Reader
	out, err io.Writer
	tty      bool // in is a terminal: ask instead of refusing
}

func stdIO() cmdIO {
	return cmdIO{in: bufio.NewReader(os.Stdin), out: os.Stdout, err: os.Stderr,
		tty: isatty.IsTerminal(os.Stdin.Fd()) || isatty.IsCygwinTerminal(os.Stdin.Fd())}
}

// Execute runs cutover with args (without the program name) and returns
// the process exit code.
func Execute(args []string) int {
	return exitCode(stdIO(), run(stdIO(), args))
}

// run parses args and runs the command; the error is what exitCode maps.
func run(o cmdIO, args []string) error {
	root := newRoot(o)
	root.SetArgs(longFlags(args))
	cmd, err := root.ExecuteC()
	if err == nil {
		return nil
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(o.err, "%s: %s\n", cmd.CommandPath(), ue.msg)
		fmt.Fprintf(o.err, "Run \"%s --help\" for usage.\n", cmd.CommandPath())
		err = errUsage
	}
	if code, ok := cmd.Annotations[annUsageExit]; ok && errors.Is(err, errUsage) {
		var n int
		fmt.Sscan(code, &n)
		return exitError{n}
	}
	if err != errUsage && !errors.As(err, new(exitError)) {
		fmt.Fprintf(o.err, "cutover %s: %v\n", topName(cmd), err)
	}
	return err
}

func exitCode(o cmdIO, err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

// topName is the first word after "cutover" of cmd's path, the prefix of
// its error messages; the root runs the cockpit ("ui").
func topName(cmd *cobra.Command) string {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	if !cmd.HasParent() {
		return "ui"
	}
	return cmd.Name()
}

// longFlags accepts the single-dash long flags of Go's flag package
// (-db FILE), which cutover parsed before it used pflag: "-db" becomes
// "--db". Single letters (-h), negative numbers and "-" stay as they are,
// and nothing after "--" changes.
func longFlags(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && isLetter(a[1]) && isLetter(a[2]) {
			out[i] = "-" + a
		}
	}
	return out
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// Annotations of a command read by run and the help template.
const (
	annUsageExit = "usage-exit" // exit code of a usage error (status: 3)
	annExit      = "exit"       // the "Exit status" paragraph of --help
	annGroup     = "group"      // only holds subcommands: no usage line of its own
)

const defaultExit = "0 done, 1 failed (the message says why), 2 bad command line."

func newRoot(o cmdIO) *cobra.Command {
	var uf uiFlags
	root := &cobra.Command{
		Use:                   "cutover [--config FILE] [--read-only]",
		DisableFlagsInUseLine: true,
		Short:                 "the cockpit for a dual-MTA email cutover",
		Long: `cutover: the cockpit for a dual-MTA email cutover.

It follows PowerMTA, Postfix and Exim logs, counts outcomes per mailbox
provider for the old and new MTA, shows them side by side, and changes the
traffic split and throttles through mtactl. With --config alone it opens the
cockpit (cutover ui).`,
		Example: `  cutover demo
  cutover --config cutover.toml
  cutover status --config cutover.toml`,
		Annotations: map[string]string{annExit: defaultExit + `
See each command's --help for its own codes (status: 0 OK, 1 WARN, 2 CRIT,
3 unknown).`},
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				// "cutover" alone: what to type next.
				fmt.Fprint(o.err, cmd.UsageString())
				return errUsage
			}
			return runUI(uf)
		},
	}
	uf.register(root)
	root.Version = version()
	root.SetVersionTemplate("cutover {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpTemplate(helpTemplate)
	root.SetUsageTemplate(usageTemplate)
	root.SetOut(o.out)
	root.SetErr(o.err)
	root.AddCommand(newDemoCmd(), newUICmd(), newServeCmd(), newStatusCmd(), newInitCmd(), newBackfillCmd(),
		newStatsCmd(), newSourcesCmd(), newBouncesCmd(), newRatioCmd(o), newThrottleCmd(o), newRollbackCmd(o),
		newHistoryCmd(o), newSuppressCmd(), newDNSCmd(o), newPlanCmd(o), newPaceCmd(o), newAuditCmd(), newReputationCmd(),
		newAlertsCmd(o), newMonitorCmd(o), newReportCmd(o), newVersionCmd(o), newManCmd(), newCompletionCmd(o))
	for _, c := range root.Commands() {
		setSilent(c)
	}
	return root
}

func setSilent(c *cobra.Command) {
	c.SilenceErrors, c.SilenceUsage = true, true
	for _, s := range c.Commands() {
		setSilent(s)
	}
}

// noSubcommand refuses positional words where a subcommand was expected,
// naming the nearest one.
func noSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	} else if s := nearest(args[0], commandNames(cmd)); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return usageError{msg}
}

func commandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// group is a command that only holds subcommands ("ratio show|set"): alone
// it prints its usage (exit 2), "help" prints it to stdout (exit 0), and
// an unknown word is named with the nearest subcommand.
func group(c *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	c.AddCommand(subs...)
	c.Args = cobra.ArbitraryArgs
	// Its words are subcommands: "suppress imprt --db x" is an unknown
	// command, not an unknown flag of "suppress".
	c.DisableFlagParsing = true
	c.Annotations[annGroup] = "yes" // the usage shows the subcommands only
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
			return errUsage
		}
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return cmd.Help()
		}
		return noSubcommand(cmd, args)
	}
	return c
}

// flagError names the bad flag and the nearest one the command has.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name := ""
	switch {
	case strings.HasPrefix(msg, "unknown flag: "):
		name = strings.TrimPrefix(msg, "unknown flag: ")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		// "unknown shorthand flag: 'x' in -xyz"
		if i := strings.LastIndex(msg, " in "); i >= 0 {
			name = msg[i+4:]
		}
	default:
		return usageError{msg}
	}
	var have []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			have = append(have, "--"+f.Name)
		}
	})
	msg = fmt.Sprintf("unknown flag %q", name)
	if s := nearest(strings.SplitN(name, "=", 2)[0], have); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return usageError{msg}
}

// usage prints cmd's usage to stderr: the command line lacked something.
func usage(cmd *cobra.Command) error {
	fmt.Fprint(cmd.ErrOrStderr(), cmd.UsageString())
	return errUsage
}
