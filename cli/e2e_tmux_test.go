package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2ETmux drives the real binary in a real terminal (tmux): the demo
// at 100x30 and 80x24 and with NO_COLOR, waits for provider panes with
// non-zero counts, opens a detail, goes back, opens help, quits, and checks
// the terminal is restored: exit status 0, canonical mode and echo on, the
// alternate screen left with the shell's screen back.
func TestE2ETmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed; CI must install it (bash scripts/ci-deps.sh)")
		}
		t.Skip("tmux is not installed: skipping the end-to-end terminal test (apt-get install tmux, or bash scripts/ci-deps.sh)")
	}
	bin := buildCutover(t)
	for _, tc := range []struct {
		name       string
		cols, rows int
		prof       e2eProfile
	}{
		{"100x30", 100, 30, e2eProfile{}},
		{"80x24", 80, 24, e2eProfile{}},
		{"80x24-NO_COLOR", 80, 24, e2eProfile{noColor: true}},
		{"80x24-LANG=C", 80, 24, e2eProfile{langC: true}},
		{"80x24-light", 80, 24, e2eProfile{light: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e2eTmux(t, bin, tc.cols, tc.rows, tc.prof)
		})
	}
}

// buildCutover builds the real binary, with the race detector when this
// test binary has it (the packages are then already compiled that way, and
// a race in the UI fails the test: the binary exits 66).
func buildCutover(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(t.TempDir(), "cutover")
	args := []string{"build", "-o", bin}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, append(args, "cutover")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// tmuxTerm is one private tmux server with one pane of a fixed size.
type tmuxTerm struct {
	t    *testing.T
	sock []string // -S path (in the test's directory, removed with it) or -L name
	env  []string
}

func (tm *tmuxTerm) cmd(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, "tmux", append(append([]string{"-u"}, tm.sock...), args...)...)
	c.Env = tm.env
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (tm *tmuxTerm) must(args ...string) string {
	tm.t.Helper()
	out, err := tm.cmd(args...)
	if err != nil {
		tm.t.Fatal(err)
	}
	return out
}

// screen is the pane's visible text (with SGR sequences when ansi).
func (tm *tmuxTerm) screen(ansi bool) string {
	tm.t.Helper()
	if ansi {
		return tm.must("capture-pane", "-p", "-e")
	}
	return tm.must("capture-pane", "-p")
}

func (tm *tmuxTerm) format(f string) string {
	tm.t.Helper()
	return strings.TrimSpace(tm.must("display-message", "-p", f))
}

// waitFor polls the screen until ok holds, and returns that screen.
func (tm *tmuxTerm) waitFor(what string, timeout time.Duration, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tm.screen(false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out after %s waiting for %s; screen:\n%s", timeout, what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	countRow    = regexp.MustCompile(`\b(OLD|NEW) +([1-9][0-9.]*k?|[0-9]+\.[0-9]+k) `)
	selectedRow = regexp.MustCompile(`(?:▸|>) ([a-z0-9.-]+)`)
	colourSGR   = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)
)

// selectedProvider returns the selected provider's name when its OLD and
// NEW rows (on its line and the next two: the wide layout puts OLD on the
// name's line, the narrow one below it) both show non-zero recipients/hour.
func selectedProvider(screen string) (string, bool) {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		m := selectedRow.FindStringSubmatch(l)
		if m == nil || m[1] == "ALL" {
			continue
		}
		sides := map[string]bool{}
		for _, b := range lines[i:min(i+3, len(lines))] {
			for _, c := range countRow.FindAllStringSubmatch(b, -1) {
				sides[c[1]] = true
			}
		}
		return m[1], sides["OLD"] && sides["NEW"]
	}
	return "", false
}

// colourParams returns the colour-setting SGR parameters in s (foreground,
// background, 256 and RGB colours; not the resets 0, 39, 49).
func colourParams(s string) []string {
	var found []string
	for _, m := range colourSGR.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ';' || r == ':' }) {
			var n int
			if _, err := fmt.Sscan(p, &n); err != nil {
				continue
			}
			if (n >= 30 && n <= 38) || (n >= 40 && n <= 48) || (n >= 90 && n <= 97) || (n >= 100 && n <= 107) {
				found = append(found, m[0])
				break
			}
		}
	}
	return found
}

// e2eProfile is the terminal a case runs in besides its size.
type e2eProfile struct {
	noColor bool // NO_COLOR=1
	// langC: LANG=C, no UTF-8: the cockpit must draw in ASCII only.
	langC bool
	// light: a light-background terminal (tmux's window white, 256
	// colours, COLORFGBG=0;15 as xterm and rxvt set it, which termenv reads
	// inside tmux): dim text takes the light palette's grey 240.
	light bool
}

func e2eTmux(t *testing.T, bin string, cols, rows int, prof e2eProfile) {
	noColor := prof.noColor
	dir, err := os.MkdirTemp("", "cutover-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "tmux.conf")
	tconf := "set -g status off\nset -g history-limit 1000\n"
	if prof.light {
		tconf += "set -g default-terminal screen-256color\nset -g window-style bg=white,fg=black\n"
	}
	if err := os.WriteFile(conf, []byte(tconf), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := filepath.Join(dir, "stderr.log")
	// tmux gets a clean environment: no TMUX (we may run inside tmux), a
	// UTF-8 locale, and NO_COLOR only when asked. CI is dropped too: the
	// colour detection (termenv) turns colours off when CI is set, and an
	// on-call engineer's SSH session has no CI variable.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "TMUX", "TMUX_PANE", "NO_COLOR", "LC_ALL", "LANG", "LC_CTYPE", "TERM", "COLORTERM", "CI":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C.UTF-8", "TERM=xterm-256color", "TZ=UTC")
	tm := &tmuxTerm{t: t, sock: []string{"-S", filepath.Join(dir, "tmux.sock")}, env: env}
	if len(tm.sock[1]) > 100 { // too long for a unix socket address
		tm.sock = []string{"-L", fmt.Sprintf("cutover-e2e-%d-%dx%d-%v", os.Getpid(), cols, rows, prof)}
	}

	noColorEnv := "-u NO_COLOR"
	if noColor {
		noColorEnv = "NO_COLOR=1"
	}
	if prof.langC {
		noColorEnv += " LC_ALL=C LANG=C"
	}
	if prof.light {
		noColorEnv += " 'COLORFGBG=0;15'"
	}
	// The shell prints a marker before cutover takes the alternate screen;
	// after it quits, the marker must be visible again, followed by the exit
	// status and the tty modes cutover left behind.
	script := fmt.Sprintf(`echo CUTOVER-BEFORE; env %s '%s' demo --seed 1 --speed 600 --dir '%s' 2>'%s'; `+
		`echo CUTOVER-EXIT=$?; stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | sed 's/^/CUTOVER-STTY=/'; sleep 60`,
		noColorEnv, bin, filepath.Join(dir, "demo"), stderr)
	if _, err := tm.cmd("-f", conf, "new-session", "-d", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), script); err != nil {
		t.Fatal(err)
	}
	panePID := tm.format("#{pane_pid}")
	t.Cleanup(func() {
		tm.cmd("kill-server")
		// Let the shell and cutover go before removing their directory.
		var pid int
		fmt.Sscan(panePID, &pid)
		for i := 0; i < 50 && pid > 0 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if t.Failed() {
			if b, err := os.ReadFile(stderr); err == nil && len(b) > 0 {
				t.Logf("cutover's stderr:\n%s", b)
			}
		}
		os.RemoveAll(dir)
	})
	if got := tm.format("#{pane_width}x#{pane_height}"); got != fmt.Sprintf("%dx%d", cols, rows) {
		t.Fatalf("pane is %s, want %dx%d", got, cols, rows)
	}

	// 1. The cockpit, with counts in the selected provider's pane.
	var provider string
	cockpit := tm.waitFor("provider panes with non-zero counts", 30*time.Second, func(s string) bool {
		p, ok := selectedProvider(s)
		provider = p
		return ok
	})
	if got := tm.format("#{alternate_on}"); got != "1" {
		t.Errorf("alternate_on = %q while the cockpit runs, want 1", got)
	}
	if strings.Contains(cockpit, "CUTOVER-BEFORE") {
		t.Errorf("the shell's screen shows through the cockpit:\n%s", cockpit)
	}
	for _, want := range []string{"cutover", "rcpt/h", "dlv%", "OLD", "NEW", "q quit"} {
		if !strings.Contains(cockpit, want) {
			t.Errorf("cockpit lacks %q:\n%s", want, cockpit)
		}
	}
	if n := len(strings.Split(strings.TrimRight(cockpit, "\n"), "\n")); n > rows {
		t.Errorf("cockpit has %d lines in a %d-row terminal", n, rows)
	}
	ansi := tm.screen(true)
	if prof.langC {
		for i, r := range cockpit {
			if r > 0x7e || (r < 0x20 && r != '\n') {
				t.Errorf("LANG=C: non-ASCII %q at byte %d of the cockpit:\n%s", r, i, cockpit)
				break
			}
		}
	}
	if prof.light {
		if !strings.Contains(ansi, "38;5;240") || strings.Contains(ansi, "[90m") {
			t.Errorf("light background: want dim text in grey 240 (38;5;240), not bright black (90):\n%q", ansi)
		}
	}
	if noColor {
		if c := colourParams(ansi); len(c) > 0 {
			t.Errorf("NO_COLOR=1: the screen has colour sequences %q:\n%s", c[:min(len(c), 5)], ansi)
		}
	} else if len(colourParams(ansi)) == 0 {
		t.Errorf("no colour sequences on the cockpit without NO_COLOR (capture-pane -e):\n%q", ansi)
	}

	// 2. Enter opens the selected provider's detail.
	detailHeader := regexp.MustCompile(`(?m)^ ` + regexp.QuoteMeta(provider) + ` +window `)
	tm.must("send-keys", "Enter")
	detail := tm.waitFor(provider+"'s detail", 10*time.Second, func(s string) bool {
		return detailHeader.MatchString(s) && strings.Contains(s, "top responses")
	})
	for _, want := range []string{"recipients per", "deferred %", "OLD", "NEW"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, detail)
		}
	}

	// 3. Esc goes back to the cockpit (sent alone: ESC followed by a key
	// would read as alt+key).
	tm.must("send-keys", "Escape")
	tm.waitFor("the cockpit after esc", 10*time.Second, func(s string) bool {
		return !detailHeader.MatchString(s) && strings.Contains(s, "rcpt/h") && strings.Contains(s, "enter detail")
	})

	// 4. ? opens the help overlay, generated from the key map.
	tm.must("send-keys", "?")
	help := tm.waitFor("the help overlay", 10*time.Second, func(s string) bool {
		return strings.Contains(s, "keys") && strings.Contains(s, "refresh now")
	})
	up, down := "↑/k", "↓/j"
	if prof.langC {
		up, down = "^/k", "v/j"
	}
	for _, want := range []string{up, down, "enter", "detail", "esc", "back", "sources", "next window", "quit", "since cutover start"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}

	// 5. q closes the overlay only (a dialog), then q quits and the terminal
	// is restored.
	tm.must("send-keys", "q")
	tm.waitFor("the cockpit after q closed the help", 10*time.Second, func(s string) bool {
		return !strings.Contains(s, "refresh now") && strings.Contains(s, "rcpt/h")
	})
	tm.must("send-keys", "q")
	tm.waitFor("cutover to exit", 15*time.Second, func(s string) bool { return strings.Contains(s, "CUTOVER-EXIT=") })
	// stty's report follows the exit status.
	after := tm.waitFor("stty's report", 5*time.Second, func(s string) bool { return strings.Count(s, "CUTOVER-STTY=") >= 2 })
	if !strings.Contains(after, "CUTOVER-EXIT=0\n") {
		t.Errorf("cutover did not exit 0:\n%s", after)
	}
	for _, want := range []string{"CUTOVER-STTY=icanon\n", "CUTOVER-STTY=echo\n"} {
		if !strings.Contains(after, want) {
			t.Errorf("tty not restored: want %q:\n%s", strings.TrimSpace(want), after)
		}
	}
	if got := tm.format("#{alternate_on}"); got != "0" {
		t.Errorf("alternate_on = %q after quitting, want 0 (the alternate screen was not left)", got)
	}
	if got := tm.format("#{cursor_flag}"); got != "1" {
		t.Errorf("cursor_flag = %q after quitting, want 1 (cursor left hidden)", got)
	}
	if !strings.Contains(after, "CUTOVER-BEFORE") {
		t.Errorf("the shell's screen did not come back (no CUTOVER-BEFORE):\n%s", after)
	}
	if strings.Contains(after, "rcpt/h") || strings.Contains(after, "top response") {
		t.Errorf("cockpit output left on the shell's screen:\n%s", after)
	}
}
