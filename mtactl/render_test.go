package mtactl

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cutover/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", p, unifiedDiff(p, want, []byte(got)))
	}
}

// dump renders a driver's output in a stable text form.
func dump(t *testing.T, d Driver, in RenderInput) (string, []string) {
	t.Helper()
	out, notes, err := d.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range d.Files() {
		m := out[mf.Path]
		if len(mf.Blocks) == 0 {
			b.WriteString("==== " + filepath.Base(mf.Path) + " (whole file)\n" + string(m.Whole))
			continue
		}
		for _, name := range mf.Blocks {
			b.WriteString("==== " + filepath.Base(mf.Path) + " block \"" + name + "\"\n" + m.Blocks[name])
		}
	}
	return b.String(), notes
}

var renderProviders = map[string][]string{
	"google": {"gmail.com", "googlemail.com"},
	"yahoo":  {"yahoo.com", "aol.com"},
}

func renderDesired() model.Desired {
	return model.Desired{RatioNew: 30, Throttles: map[string]model.Throttle{
		"google": {PerHour: 1000, Connections: 3, PerConnection: 40},
		"yahoo":  {PerHour: 3600, Connections: 5, PerConnection: 20},
	}}
}

func mustDefaults(t *testing.T, c Config) Config {
	t.Helper()
	c.Providers = renderProviders
	c, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRenderPostfixGolden(t *testing.T) {
	c := mustDefaults(t, Config{Postfix: &PostfixConfig{
		Front: &PostfixFront{PostfixInstance: PostfixInstance{ConfigDir: "/etc/postfix"},
			OldNexthop: "[smtp.sendgrid.net]:587",
			OldOptions: []string{"smtp_sasl_auth_enable=yes", "smtp_sasl_password_maps=hash:/etc/postfix/sasl_passwd", "smtp_tls_security_level=encrypt"},
			NewNexthop: "[127.0.0.1]:10026"},
		Delivery: &PostfixDelivery{PostfixInstance: PostfixInstance{ConfigDir: "/etc/postfix-out"},
			TransportOptions:    []string{"smtp_bind_address=198.51.100.20"},
			TransportMapsBefore: []string{"hash:/etc/postfix-out/transport"},
			Nexthops:            map[string]string{"yahoo": "[mx.yahoo.test]:25"}},
	}})
	front := newPostfixFront(c.Postfix.Front, &runner{})
	got, notes := dump(t, front, RenderInput{Desired: renderDesired(), Providers: c.Providers})
	golden(t, "postfix-front-30", got)
	if len(notes) == 0 {
		t.Error("randmap's lack of stickiness is not noted")
	}
	// 37 % cannot be reduced: 37 NEW and 63 OLD entries
	f37, _, _ := front.Render(RenderInput{Desired: model.Desired{RatioNew: 37}})
	v := f37["/etc/postfix/main.cf"].Blocks[""]
	if n, o := strings.Count(v, "cutover_new:"), strings.Count(v, "cutover_old:"); n != 37 || o != 63 {
		t.Errorf("37%%: %d new, %d old entries", n, o)
	}
	for _, r := range []int{0, 100} {
		out, _, _ := front.Render(RenderInput{Desired: model.Desired{RatioNew: r}})
		v := out["/etc/postfix/main.cf"].Blocks[""]
		if strings.Count(v, "cutover_old:")+strings.Count(v, "cutover_new:") != 1 {
			t.Errorf("%d%%: %s", r, v)
		}
	}
	_, _, err := front.Render(RenderInput{Desired: model.Desired{RatioNew: 30, PerISP: map[string]int{"google": 50}}})
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("per-provider ratio in Postfix: %v", err)
	}

	del := newPostfixDelivery(c.Postfix.Delivery, c.Providers, &runner{})
	got, notes = dump(t, del, RenderInput{Desired: renderDesired(), Providers: c.Providers})
	golden(t, "postfix-delivery-30", got)
	if !strings.Contains(strings.Join(notes, "\n"), "google: 1000/h becomes a 4s rate delay = 900/h") {
		t.Errorf("rounding of the rate delay not noted: %q", notes)
	}
}

func TestRenderEximGolden(t *testing.T) {
	c := mustDefaults(t, Config{Exim: &EximConfig{Config: "/etc/exim4/exim4.conf", OldRoute: "smtp.old.example",
		PIDFile: "/run/exim4/exim.pid", OldRouterOptions: []string{"self = send"},
		OldTransportOptions: []string{"port = 587", "hosts_require_auth = *"},
		Routes:              map[string]string{"yahoo": "10.0.0.5"},
		TransportOptions:    []string{"interface = 198.51.100.20"}}})
	d := newExim(c.Exim, c.Providers, &runner{})
	des := renderDesired().WithRatio(50, "google")
	got, notes := dump(t, d, RenderInput{Desired: des, Providers: c.Providers})
	golden(t, "exim-30-google-50", got)
	if !strings.Contains(strings.Join(notes, "\n"), "no outbound rate limit") {
		t.Errorf("notes %q", notes)
	}
	c.Exim.Split = "randint"
	out, _, _ := d.Render(RenderInput{Desired: des, Providers: c.Providers})
	if !strings.Contains(out[c.Exim.Config].Blocks["routers"], "${if <{${randint:100}}{${lookup{${lc:$domain}}lsearch*{/etc/exim4/cutover-split}{$value}{0}}}{false}{true}}") {
		t.Errorf("randint router:\n%s", out[c.Exim.Config].Blocks["routers"])
	}
}

func TestRenderPMTAGolden(t *testing.T) {
	c := mustDefaults(t, Config{PMTA: &PMTAConfig{ColdVMTA: "vmta-new"}})
	d := newPMTA(c.PMTA, &runner{})
	des := renderDesired().WithRatio(100, "google")
	daily := map[string]int{"gmail.com": 20000, "googlemail.com": 37, "yahoo.com": 5000}
	got, notes := dump(t, d, RenderInput{Desired: des, Providers: c.Providers, DailyVolume: daily})
	golden(t, "pmta-cold-vmta", got)
	if !strings.Contains(strings.Join(notes, "\n"), "no daily volume known for aol.com") {
		t.Errorf("missing volume not noted: %q", notes)
	}
	checkPMTADirectives(t, got)

	c.PMTA.Split, c.PMTA.WeightsFile = "weights", "/etc/pmta/cutover-weights.json"
	got, _ = dump(t, d, RenderInput{Desired: des, Providers: c.Providers, DailyVolume: daily})
	golden(t, "pmta-weights", got)
	checkPMTADirectives(t, got)
}

// pmtaDocumented are the only directives cutover writes, each checked in
// the PowerMTA v5 User's Guide (§3.3.10 <domain> directives, §10.7 cold
// VirtualMTA; shared/reference/mta-formats.md §2.1 and §2.3), with the value
// syntax the guide gives.
var pmtaDocumented = map[string]*regexp.Regexp{
	"cold-virtual-mta":         regexp.MustCompile(`^[A-Za-z0-9_.-]+$`),
	"max-cold-virtual-mta-msg": regexp.MustCompile(`^\d+/day$`),
	"max-msg-rate":             regexp.MustCompile(`^\d+/h$`),
	"max-smtp-out":             regexp.MustCompile(`^\d+$`),
	"max-msg-per-connection":   regexp.MustCompile(`^\d+$`),
	"<domain":                  regexp.MustCompile(`^[a-z0-9.-]+>$`),
	"</domain>":                regexp.MustCompile(`^$`),
	// Backoff mode (§3.3.10.33-47, §3.3.15) for pacing_patterns.
	"smtp-pattern-list":    regexp.MustCompile(`^[A-Za-z0-9_.-]+$`),
	"backoff-max-msg-rate": regexp.MustCompile(`^\d+/h$`),
	"backoff-max-smtp-out": regexp.MustCompile(`^\d+$`),
	"<smtp-pattern-list":   regexp.MustCompile(`^[A-Za-z0-9_.-]+>$`),
	"</smtp-pattern-list>": regexp.MustCompile(`^$`),
	"reply":                regexp.MustCompile(`^/(?:\\.|[^/\\])+/ mode=backoff(,backoff-to-normal-after=\d+[mh])?$`),
}

func checkPMTADirectives(t *testing.T, rendered string) {
	t.Helper()
	for _, l := range strings.Split(rendered, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "====") || strings.HasPrefix(l, "{") || strings.HasPrefix(l, "}") || strings.HasPrefix(l, "\"") || strings.HasPrefix(l, "]") {
			continue // comments, dump headers, the JSON weights file
		}
		name, val, _ := strings.Cut(l, " ")
		re, ok := pmtaDocumented[name]
		if !ok {
			t.Errorf("undocumented PowerMTA directive %q", l)
			continue
		}
		if !re.MatchString(val) {
			t.Errorf("%s: value %q does not match the documented syntax", name, val)
		}
	}
}

func TestPostfixPlanRefusesConflicts(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "main.cf"), "relayhost = [old]\nsender_dependent_default_transport_maps =\n    hash:/etc/postfix/sdt\n")
	mustWrite(t, filepath.Join(dir, "master.cf"), "smtp unix - - n - - smtp\n")
	cfg := Config{Providers: renderProviders, Postfix: &PostfixConfig{Front: &PostfixFront{
		PostfixInstance: PostfixInstance{ConfigDir: dir}, NewNexthop: "[127.0.0.1]:10026"}}}
	c, err := New(cfg, openDB(t, filepath.Join(dir, "db")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Plan(model.Desired{RatioNew: 5})
	if err == nil || !strings.Contains(err.Error(), "main.cf:2 sets sender_dependent_default_transport_maps outside cutover's block") {
		t.Fatalf("got %v", err)
	}
	mustWrite(t, filepath.Join(dir, "main.cf"), "relayhost = [old]\n")
	mustWrite(t, filepath.Join(dir, "master.cf"), "smtp unix - - n - - smtp\ncutover_new unix - - n - - smtp\n")
	if _, err = c.Plan(model.Desired{RatioNew: 5}); err == nil || !strings.Contains(err.Error(), "master.cf:2 defines service cutover_new") {
		t.Fatalf("got %v", err)
	}
	mustWrite(t, filepath.Join(dir, "master.cf"), "smtp unix - - n - - smtp\n")
	ch, err := c.Plan(model.Desired{RatioNew: 5})
	if err != nil {
		t.Fatal(err)
	}
	// blocks are appended to Postfix files that have no markers yet
	if !strings.Contains(ch.Diff(), "+# BEGIN cutover\n") || len(ch.Files) != 2 {
		t.Fatalf("diff:\n%s", ch.Diff())
	}
	if _, err := c.Plan(model.Desired{RatioNew: 5, PerISP: map[string]int{"google": 20}}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("per-provider ratio: %v", err)
	}
}

func TestEximPlanNeedsMarkers(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "exim.conf"), "begin routers\ndnslookup:\n  driver = dnslookup\n")
	cfg := Config{Providers: renderProviders, Exim: &EximConfig{Config: filepath.Join(dir, "exim.conf"), OldRoute: "old.example", PIDFile: "/run/exim.pid"}}
	c, err := New(cfg, openDB(t, filepath.Join(dir, "db")))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Plan(model.Desired{RatioNew: 5})
	if err == nil || !strings.Contains(err.Error(), "# BEGIN cutover routers") || !strings.Contains(err.Error(), "# BEGIN cutover transports") {
		t.Fatalf("got %v", err)
	}
}
