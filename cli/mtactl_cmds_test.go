package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cutover/mtactl"
)

// mtaEnv is a config whose [mtactl] drives the demo driver: a JSON file in
// a temp directory, with an optional reload command.
type mtaEnv struct {
	dir, cfg, file string
}

func newMtaEnv(t *testing.T, reload string) mtaEnv {
	t.Helper()
	dir := t.TempDir()
	e := mtaEnv{dir: dir, cfg: filepath.Join(dir, "cutover.toml"), file: filepath.Join(dir, "mta", "control.json")}
	if err := os.MkdirAll(filepath.Dir(e.file), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := "[database]\npath = \"cutover.db\"\n\n[mtactl]\nsteps = [0, 5, 15, 30, 50, 75, 100]\n\n" +
		"[mtactl.providers]\ngoogle = [\"gmail.com\"]\nyahoo = [\"yahoo.com\"]\n\n" +
		"[mtactl.demo]\nfile = \"" + e.file + "\"\n"
	if reload != "" {
		toml += "reload = [\"" + reload + "\"]\n"
	}
	if err := os.WriteFile(e.cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e mtaEnv) run(t *testing.T, input string, tty bool, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	o := cmdIO{in: bufio.NewReader(strings.NewReader(input)), out: &out, err: &errb, tty: tty}
	args = append(args, "--config", e.cfg)
	err := run(o, args)
	return out.String() + errb.String(), err
}

func TestMtaCLIRefusesWithoutYesOnNonTerminal(t *testing.T) {
	e := newMtaEnv(t, "")
	// A real subprocess: its stdin is /dev/null, not a terminal.
	cmd := cutoverCmd("ratio", "set", "30", "--config", e.cfg)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("ratio set without --yes: err %v, want a non-zero exit\n%s%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), `"RatioNew": 30`) || !strings.Contains(errb.String(), "refusing") {
		t.Fatalf("want the diff on stdout and a refusal on stderr:\nstdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	if _, err := os.Stat(e.file); !os.IsNotExist(err) {
		t.Fatalf("refused change wrote the file: %v", err)
	}
}

func TestMtaCLIAskOnTerminal(t *testing.T) {
	e := newMtaEnv(t, "")
	out, err := e.run(t, "n\n", true, "ratio", "set", "15")
	if err == nil || !strings.Contains(out, "(y/N)") {
		t.Fatalf("answer n: err %v\n%s", err, out)
	}
	if _, err := os.Stat(e.file); !os.IsNotExist(err) {
		t.Fatal("a declined change wrote the file")
	}
	if out, err := e.run(t, "y\n", true, "ratio", "set", "15"); err != nil {
		t.Fatalf("answer y: %v\n%s", err, out)
	}
	if c, err := mtactl.ReadDemoControl(e.file); err != nil || c.RatioNew != 15 {
		t.Fatalf("after y: %+v %v", c, err)
	}
}

func TestMtaCLIApplyHistoryRollback(t *testing.T) {
	e := newMtaEnv(t, "")
	if out, err := e.run(t, "", false, "ratio", "set", "30", "--yes"); err != nil {
		t.Fatalf("ratio set 30 --yes: %v\n%s", err, out)
	}
	before, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.run(t, "", false, "ratio", "set", "--isp", "google", "50", "--yes"); err != nil {
		t.Fatalf("ratio set --isp google 50: %v\n%s", err, out)
	}
	if out, err := e.run(t, "", false, "throttle", "set", "yahoo", "--rate", "400/h", "--conn", "3", "--yes"); err != nil {
		t.Fatalf("throttle set: %v\n%s", err, out)
	}
	c, err := mtactl.ReadDemoControl(e.file)
	if err != nil || c.RatioNew != 30 || c.PerISP["google"] != 50 || c.MaxPerHour["yahoo"] != 400 {
		t.Fatalf("control after three changes: %+v %v", c, err)
	}
	out, err := e.run(t, "", false, "ratio", "show")
	if err != nil || !strings.Contains(out, "ratio: 30% new") || !strings.Contains(out, "google: 50% new") ||
		!strings.Contains(out, "yahoo: 400/h conn 3") {
		t.Fatalf("ratio show: %v\n%s", err, out)
	}

	out, err = e.run(t, "", false, "history", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 3 {
		t.Fatalf("history --json: %v, %d entries\n%s", err, len(hist), out)
	}
	for _, k := range []string{"id", "time", "who", "action", "from", "to", "snapshot", "result", "files"} {
		if _, ok := hist[0][k]; !ok {
			t.Errorf("history entry has no %q key: %v", k, hist[0])
		}
	}
	if hist[0]["result"] != "ok" || hist[0]["action"] != "apply" {
		t.Errorf("first entry: %v", hist[0])
	}

	// Undo the last two changes: back to the bytes after "ratio set 30".
	if out, err := e.run(t, "", false, "rollback", "--yes"); err != nil {
		t.Fatalf("rollback: %v\n%s", err, out)
	}
	second, _ := hist[1]["id"].(string)
	if out, err := e.run(t, "", false, "rollback", "--to", second, "--yes"); err != nil {
		t.Fatalf("rollback --to %s: %v\n%s", second, err, out)
	}
	after, err := os.ReadFile(e.file)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("rollback did not restore the bytes:\nbefore %q\nafter  %q (%v)", before, after, err)
	}
	out, err = e.run(t, "", false, "history")
	if err != nil || strings.Count(out, "\n") != 5 || !strings.Contains(out, "rollback") {
		t.Fatalf("history: %v\n%s", err, out)
	}
}

func TestMtaCLIFailedReloadNamesStep(t *testing.T) {
	e := newMtaEnv(t, "false")
	out, err := e.run(t, "", false, "ratio", "set", "30", "--yes")
	if err == nil || !strings.Contains(err.Error(), "reload") {
		t.Fatalf("failing reload: err %v\n%s", err, out)
	}
	if _, serr := os.Stat(e.file); !os.IsNotExist(serr) {
		t.Fatalf("failed apply left the file: %v", serr)
	}
	out, err = e.run(t, "", false, "history")
	if err != nil || !strings.Contains(out, "failed") {
		t.Fatalf("history after failure: %v\n%s", err, out)
	}
}

func TestMtaCLIUsage(t *testing.T) {
	e := newMtaEnv(t, "")
	for _, args := range [][]string{{"ratio", "set"}, {"ratio", "set", "x"}, {"ratio", "set", "130", "--yes"},
		{"throttle", "set", "google"}, {"throttle", "set", "nosuch", "--rate", "10/h", "--yes"}, {"ratio", "set", "5", "--isp", "nosuch", "--yes"}} {
		if out, err := e.run(t, "", false, args...); err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
	noMta := filepath.Join(e.dir, "plain.toml")
	os.WriteFile(noMta, []byte("[database]\npath = \"x.db\"\n"), 0o644)
	if _, _, err := openControl(noMta, false, "ratio set"); err == nil || !strings.Contains(err.Error(), "[mtactl]") {
		t.Errorf("config without [mtactl]: %v", err)
	}
}
