package mtactl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// runner runs a driver's commands: argv lists from the config, never through
// a local shell, optionally behind a prefix such as ["ssh", "mta1"] or
// ["sudo", "-n"].
type runner struct {
	prefix  []string
	timeout time.Duration
}

// cmdResult is one finished command.
type cmdResult struct {
	Argv           []string
	Stdout, Stderr string
	Err            error
}

// Output is what a checker said: stderr first (where errors go), then stdout.
func (r cmdResult) Output() string {
	return strings.TrimSpace(strings.TrimSpace(r.Stderr) + "\n" + strings.TrimSpace(r.Stdout))
}

// argv builds the real argument vector. ssh joins its arguments into one
// remote shell command line, so each one is quoted for that shell, wherever
// ssh sits in the prefix (["sudo", "-n", "ssh", "mta1"], ["timeout", "30",
// "ssh", "mta1"]); other prefixes (sudo, env) pass argv through untouched.
// A prefix that is itself a shell is refused by the config (shellPrefix).
func (r *runner) argv(args []string) []string {
	if len(r.prefix) == 0 {
		return args
	}
	out := slices.Clone(r.prefix)
	if slices.ContainsFunc(r.prefix, func(a string) bool { return filepath.Base(a) == "ssh" }) {
		for _, a := range args {
			out = append(out, shellQuote(a))
		}
		return out
	}
	return append(out, args...)
}

// shells are programs that would read the command as shell text.
var shells = []string{"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox", "su", "eval", "xargs"}

// shellPrefix returns the element of a command prefix that would run the
// command through a local shell (["sh", "-c"], ["su", "-c"]), or "".
// cutover hands every command over as an argv, and data (addresses,
// paths) travels in it: a local shell would re-split and expand it.
func shellPrefix(prefix []string) string {
	for _, a := range prefix {
		if slices.Contains(shells, filepath.Base(a)) {
			return a
		}
	}
	return ""
}

// shellQuote quotes s for a POSIX shell; plain words are left readable.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (r *runner) run(ctx context.Context, args []string) cmdResult {
	if len(args) == 0 {
		return cmdResult{Err: errors.New("empty command")}
	}
	full := r.argv(args)
	timeout := r.timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A daemon started by a reload command may inherit our pipes; do not
	// wait for it to close them.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("timed out after %s", timeout)
	}
	return cmdResult{Argv: full, Stdout: out.String(), Stderr: errb.String(), Err: err}
}

// expand replaces {name} placeholders in a configured argv.
func expand(argv []string, vars map[string]string) []string {
	out := make([]string, len(argv))
	keys := slices.Sorted(maps.Keys(vars))
	for i, a := range argv {
		for _, k := range keys {
			a = strings.ReplaceAll(a, "{"+k+"}", vars[k])
		}
		out[i] = a
	}
	return out
}

// StepError is a failed step of an apply: which driver, which step, the
// command and what the checker printed. Its message leads with the checker's
// own words, because that is what the operator must fix.
type StepError struct {
	Driver string
	Step   string // render, lock, write, build, validate, reload, record
	Argv   []string
	Output string
	Err    error
}

func (e *StepError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s failed", e.Driver, e.Step)
	if len(e.Argv) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.Argv, " "))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		fmt.Fprintf(&b, "\n%s", indent(clip(out, 4000), "  "))
	}
	return b.String()
}

func (e *StepError) Unwrap() error { return e.Err }

func stepErr(driver, step string, r cmdResult) *StepError {
	return &StepError{Driver: driver, Step: step, Argv: r.Argv, Output: r.Output(), Err: r.Err}
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}

// clip keeps the first n bytes (checker output can be long; the head names
// the first error).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "\n[... cut]"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
