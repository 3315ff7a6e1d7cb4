package cli

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/spf13/cobra"
)

// runIn runs the command line in this process and returns its exit code,
// stdout and stderr.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	o := cmdIO{in: bufio.NewReader(strings.NewReader(stdin)), out: &out, err: &errb}
	code := exitCode(o, run(o, args))
	return code, out.String(), errb.String()
}

// commandPaths are every command's words after "cutover", the root first.
func commandPaths() [][]string {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, s := range c.Commands() {
			if s.Name() == "help" {
				continue
			}
			walk(s, append(append([]string(nil), path...), s.Name()))
		}
	}
	root := newRoot(cmdIO{})
	walk(root, nil)
	return paths
}

// TestHelpGolden: --help of every command exits 0, prints to stdout, has
// an example and the exit codes, fits 80 columns, and reads as the golden
// file says (go test ./cli -run TestHelpGolden -update rewrites them).
func TestHelpGolden(t *testing.T) {
	paths := commandPaths()
	if len(paths) < 30 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, p := range paths {
		name := strings.Join(append([]string{"cutover"}, p...), "-")
		t.Run(name, func(t *testing.T) {
			code, out, errs := runIn(t, "", append(p, "--help")...)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
			for i, l := range strings.Split(out, "\n") {
				if w := ansi.StringWidth(l); w > 80 {
					t.Errorf("line %d is %d columns: %q", i+1, w, l)
				}
			}
			if !strings.Contains(out, "\nExample:\n  cutover ") || !strings.Contains(out, "\nExit status:\n  ") {
				t.Errorf("no example or no exit status:\n%s", out)
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
	// The environment that matters is documented where it matters.
	_, out, _ := runIn(t, "", "--help")
	for _, env := range []string{"NO_COLOR", "SSH_CLIENT"} {
		if !strings.Contains(out, env) {
			t.Errorf("cutover --help does not mention %s", env)
		}
	}
}

func TestUnknownWordsSuggestNearest(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"rollbak"}, `cutover: unknown command "rollbak"; did you mean "rollback"?`, 2},
		{[]string{"suppress", "imprt", "--db", "x"}, `cutover suppress: unknown command "imprt"; did you mean "import"?`, 2},
		{[]string{"ratio", "shwo"}, `cutover ratio: unknown command "shwo"; did you mean "show"?`, 2},
		{[]string{"stats", "--dbb", "x"}, `cutover stats: unknown flag "--dbb"; did you mean "--db"?`, 2},
		{[]string{"history", "--jsn"}, `cutover history: unknown flag "--jsn"; did you mean "--json"?`, 2},
		{[]string{"frobnicate"}, `cutover: unknown command "frobnicate"`, 2},
		// status keeps 0-2 for health: a bad command line is 3 (unknown).
		{[]string{"status", "--windw", "1h"}, `cutover status: unknown flag "--windw"; did you mean "--window"?`, 3},
	} {
		code, _, errs := runIn(t, "", c.args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != c.code || first != c.want {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.args, code, errs, c.code, c.want)
		}
	}
	// Too far from every command: no guess.
	if _, _, errs := runIn(t, "", "frobnicate"); strings.Contains(errs, "did you mean") {
		t.Errorf("a guess for frobnicate: %s", errs)
	}
}

// Exit codes and streams of the command line itself, as before cobra.
func TestCommandLineExitCodes(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.toml")
	for _, c := range []struct {
		args       []string
		code       int
		stderrHas  string
		stdoutHave bool
	}{
		{nil, 2, "Usage:", false}, // cutover alone: what to type
		{[]string{"help"}, 0, "", true},
		{[]string{"-h"}, 0, "", true},
		{[]string{"suppress"}, 2, "cutover suppress COMMAND", false},
		{[]string{"suppress", "help"}, 0, "", true},
		{[]string{"bounces", "help"}, 0, "", true},
		{[]string{"throttle"}, 2, "Usage:", false},
		{[]string{"ratio", "set"}, 2, "Usage:", false},
		{[]string{"status"}, 3, "Usage:", false},
		{[]string{"status", "--db", "x", "--config", "y"}, 3, "Usage:", false},
		// --config alone is the cockpit, flags in any order.
		{[]string{"--config", missing}, 1, "cutover ui: open " + missing, false},
		{[]string{"--read-only", "--config", missing}, 1, "cutover ui: open " + missing, false},
		{[]string{"--config=" + missing, "--read-only"}, 1, "cutover ui: open " + missing, false},
		// Go's flag package accepted one dash: so does cutover.
		{[]string{"-config", missing}, 1, "cutover ui: open " + missing, false},
		{[]string{"stats", "-db", filepath.Join(dir, "none.db")}, 1, "cutover stats: database ", false},
		// Flags after positional arguments.
		{[]string{"backfill", filepath.Join(dir, "*.log"), "--db", filepath.Join(dir, "b.db"), "--kind", "postfix", "--side", "old"}, 1, "no such file", false},
		{[]string{"demo", "--ratio", "130"}, 1, "cutover demo: --ratio 130: want 0-100", false},
		{[]string{"version", "extra"}, 2, "", false},
	} {
		code, out, errs := runIn(t, "", c.args...)
		if code != c.code || !strings.Contains(errs, c.stderrHas) || (out != "") != c.stdoutHave {
			t.Errorf("%v: exit %d (want %d)\nstdout %q\nstderr %q (want %q)", c.args, code, c.code, out, errs, c.stderrHas)
		}
	}
}

// TestVersion: `cutover version` and --version print the module version
// and, for a build from a git checkout, the revision git says HEAD is.
func TestVersion(t *testing.T) {
	code, out, _ := runIn(t, "", "version")
	code2, out2, _ := runIn(t, "", "--version")
	if code != 0 || code2 != 0 || !strings.HasPrefix(out, "cutover ") || out != out2 {
		t.Fatalf("version: %d %q; --version: %d %q", code, out, code2, out2)
	}
	head, err := exec.Command("git", "-C", "..", "rev-parse", "HEAD").Output()
	if fi, serr := os.Stat("../.git"); err != nil || serr != nil || !fi.IsDir() {
		// Go records VCS data for a .git directory only (not a worktree's
		// .git file); a fresh clone, as in CI, has one.
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no git checkout to check the revision against (%v, %v)", err, serr)
		}
		t.Skip("not a git checkout with a .git directory")
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "cutover").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	got, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(head)); !strings.Contains(string(got), "rev "+want) {
		t.Errorf("cutover version says %q; git rev-parse HEAD is %s", got, want)
	}
}

// TestManPages: `cutover man DIR` writes one page per command, and groff
// renders each with the command's name and synopsis, without warnings.
func TestManPages(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("groff is missing (scripts/ci-deps.sh installs groff-base)")
		}
		t.Skip("no groff")
	}
	dir := filepath.Join(t.TempDir(), "man1")
	if code, _, errs := runIn(t, "", "man", dir); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var want []string
	for _, p := range commandPaths() {
		want = append(want, strings.Join(append([]string{"cutover"}, p...), "-")+".1")
	}
	ents, _ := os.ReadDir(dir)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages %v\nwant %v", got, want)
	}
	for _, page := range []string{"cutover-ratio-set.1", "cutover-status.1", "cutover.1"} {
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-P-cbou", filepath.Join(dir, page))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() > 0 {
			t.Errorf("groff %s: %v %s", page, err, errb.String())
		}
		text := ansi.Strip(out.String())
		text = strings.NewReplacer("\u2010", "-", "\u2212", "-").Replace(text)
		name := strings.ReplaceAll(strings.TrimSuffix(page, ".1"), "-", " ")
		if !strings.Contains(text, "NAME") || !strings.Contains(text, "SYNOPSIS") || !strings.Contains(text, name) {
			t.Errorf("%s renders as:\n%s", page, text)
		}
	}
}
