package mtactl

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

func TestConfigFromTOML(t *testing.T) {
	const doc = `
steps = [0, 10, 50, 100]
warmup_start = "2026-03-01"
ssh = ["ssh", "-o", "BatchMode=yes", "root@mta1"]
timeout = "30s"

[providers]
google = ["gmail.com", "googlemail.com"]

[throttle]
margin = 1.5
new_ips = 2

[postfix.front]
config_dir = "/etc/postfix"
old_nexthop = "[smtp.sendgrid.net]:587"
new_nexthop = "[127.0.0.1]:10026"

[postfix.delivery]
config_dir = "/etc/postfix-out"
nexthops = { google = "[10.0.0.9]:25" }

[exim]
config = "/etc/exim4/exim4.conf"
old_route = "old.example"
reload = ["/usr/sbin/service", "exim4", "reload"]

[pmta]
cold_vmta = "vmta-new"

[demo]
file = "/tmp/demo.json"
`
	var c Config
	dec := toml.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	d, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if d.Postfix.Front.SplitParameter != "sender_dependent_default_transport_maps" || d.Postfix.Front.MainCF != "/etc/postfix/main.cf" ||
		d.Postfix.Delivery.TransportMap != "/etc/postfix-out/cutover_transport" || d.Postfix.Delivery.Nexthops["google"] != "[10.0.0.9]:25" ||
		d.Exim.SplitFile != "/etc/exim4/cutover-split" || d.Exim.Split != "nhash" || d.PMTA.Config != "/etc/pmta/config" ||
		d.Throttle.Margin != 1.5 || !slices.Equal(d.SSH, []string{"ssh", "-o", "BatchMode=yes", "root@mta1"}) {
		t.Fatalf("defaults: %+v %+v %+v", d.Postfix.Front, d.Postfix.Delivery, d.Exim)
	}
	// defaults never leak into the caller's Config
	if c.Postfix.Front.SplitParameter != "" || c.Exim.Split != "" {
		t.Fatal("withDefaults changed its receiver's sections")
	}
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"no driver":      {Config{}, "no driver configured"},
		"bad provider":   {Config{Providers: map[string][]string{"Google Mail": {"gmail.com"}}, Demo: &DemoConfig{File: "x"}}, `provider "Google Mail"`},
		"dup domain":     {Config{Providers: map[string][]string{"a": {"x.com"}, "b": {"x.com"}}, Demo: &DemoConfig{File: "x"}}, "listed for both a and b"},
		"bad domain":     {Config{Providers: map[string][]string{"a": {"X.com"}}, Demo: &DemoConfig{File: "x"}}, `domain "X.com"`},
		"front nexthop":  {Config{Postfix: &PostfixConfig{Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: "/e"}}}}, "new_nexthop is required"},
		"newline option": {Config{Postfix: &PostfixConfig{Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: "/e"}, NewNexthop: "x", OldOptions: []string{"a=b\nrelayhost=evil"}}}}, "control character"},
		"bad option":     {Config{Postfix: &PostfixConfig{Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: "/e"}, NewNexthop: "x", OldOptions: []string{"a b"}}}}, "want name=value"},
		"reserved svc":   {Config{Providers: map[string][]string{"smtp": {"x.com"}}, Postfix: &PostfixConfig{Delivery: &PostfixDelivery{PostfixInstance: PostfixInstance{ConfigDir: "/e"}}}}, `built-in service "smtp"`},
		"exim reload":    {Config{Exim: &EximConfig{Config: "/e", OldRoute: "x"}}, "pid_file"},
		"exim ssh hup":   {Config{SSH: []string{"ssh", "mta"}, Exim: &EximConfig{Config: "/e", OldRoute: "x", PIDFile: "p"}}, "set reload"},
		"exim split":     {Config{Exim: &EximConfig{Config: "/e", OldRoute: "x", PIDFile: "p", Split: "rand"}}, `split "rand"`},
		"pmta cold":      {Config{PMTA: &PMTAConfig{}}, "cold_vmta is required"},
		"pmta weights":   {Config{PMTA: &PMTAConfig{Split: "weights"}}, "weights_file is required"},
		"timeout":        {Config{Timeout: "soon", Demo: &DemoConfig{File: "x"}}, "timeout"},
		"warmup":         {Config{WarmupStart: "1 March", Demo: &DemoConfig{File: "x"}}, "warmup_start"},
	} {
		_, err := c.cfg.withDefaults()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
}

func TestRunnerArgv(t *testing.T) {
	r := &runner{prefix: []string{"/usr/bin/ssh", "-o", "BatchMode=yes", "mta1"}}
	got := r.argv([]string{"postmap", "-q", "a b", "randmap:{x, y}", "it's"})
	want := []string{"/usr/bin/ssh", "-o", "BatchMode=yes", "mta1", "postmap", "-q", "'a b'", "'randmap:{x, y}'", `'it'\''s'`}
	if !slices.Equal(got, want) {
		t.Fatalf("ssh argv %q", got)
	}
	r = &runner{prefix: []string{"sudo", "-n"}}
	if got := r.argv([]string{"pmta", "a b"}); !slices.Equal(got, []string{"sudo", "-n", "pmta", "a b"}) {
		t.Fatalf("sudo argv %q", got)
	}
	if got := expand([]string{"postfix", "-c", "{dir}", "{dir}/x"}, map[string]string{"dir": "/etc/pf"}); !slices.Equal(got, []string{"postfix", "-c", "/etc/pf", "/etc/pf/x"}) {
		t.Fatalf("expand %q", got)
	}
	// the shell quoting survives a real shell
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"a b", "it's", "$(echo no)", "`x`", "a\"b", "", "{x}"} {
		out, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) through sh = %q, %v", s, out, err)
		}
	}
}

func TestRunnerTimeoutAndOutput(t *testing.T) {
	r := &runner{timeout: 200 * time.Millisecond}
	res := r.run(context.Background(), []string{"sleep", "5"})
	if res.Err == nil || !strings.Contains(res.Err.Error(), "timed out") {
		t.Fatalf("timeout: %v", res.Err)
	}
	res = (&runner{}).run(context.Background(), []string{"sh", "-c", "echo out; echo err >&2; exit 3"})
	var ee *exec.ExitError
	if !errors.As(res.Err, &ee) || res.Output() != "err\nout" {
		t.Fatalf("output %q %v", res.Output(), res.Err)
	}
	se := stepErr("exim", "validate", res)
	if !strings.Contains(se.Error(), "exim: validate failed (sh -c echo out; echo err >&2; exit 3): exit status 3\n  err\n  out") {
		t.Fatalf("StepError %q", se.Error())
	}
}

// Issue 13 point 7: commands get an argv for every prefix. ssh anywhere in
// the prefix (behind env, sudo, timeout) joins the arguments into a remote
// shell line, so they are quoted there too; a stand-in ssh that does what
// sshd does (hand the joined line to sh -c) proves an address with shell
// syntax stays one literal argument. A prefix that is a shell is refused.
func TestEveryPrefixKeepsArgv(t *testing.T) {
	dir := t.TempDir()
	ssh := filepath.Join(dir, "ssh")
	if err := os.WriteFile(ssh, []byte("#!/bin/sh\nshift\nexec sh -c \"$*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pwned := filepath.Join(dir, "pwned")
	key := "x$(touch " + pwned + ")`touch " + pwned + "`;touch " + pwned + "@example.com"
	for _, prefix := range [][]string{{ssh, "mta1"}, {"env", "LC_ALL=C", ssh, "mta1"}, {"timeout", "30", ssh, "mta1"}} {
		r := &runner{prefix: prefix}
		res := r.run(context.Background(), []string{"printf", "%s", key})
		if res.Err != nil || res.Stdout != key {
			t.Errorf("prefix %q: %q, %v (want the key back, literally)", prefix, res.Stdout, res.Err)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatalf("prefix %q: the key ran as shell code", prefix)
		}
	}
	for _, prefix := range [][]string{{"sh", "-c"}, {"sudo", "bash", "-c"}, {"su", "root", "-c"}} {
		_, err := Config{Demo: &DemoConfig{File: "x"}, SSH: prefix}.withDefaults()
		if err == nil || !strings.Contains(err.Error(), "through a shell") {
			t.Errorf("prefix %q accepted: %v", prefix, err)
		}
	}
	if _, err := (Config{PMTA: &PMTAConfig{Split: "none", SSH: []string{"sudo", "-n", "ssh", "mta1"}}}).withDefaults(); err != nil {
		t.Errorf("an argv prefix refused: %v", err)
	}
}
