package mtactl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cutover/model"
)

func defaultPacing(t *testing.T) *model.Pacing {
	t.Helper()
	p, err := model.ParsePacing(model.PacingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSignaturePattern(t *testing.T) {
	for name, want := range map[string]string{
		"gmail-4.7.28-rate":        `\b4\.7\.28\b`,
		"yahoo-tss04-deferral":     `(?:\[tss04\]|\[ts04\])`,
		"ms-4.7.5xx-throttle":      `\b4\.7\.(?:5\d\d|6\d\d)\b`,
		"ms-5.7.606-649-banned-ip": `\b5\.7\.(?:606|607|608|609|61\d|62\d|63\d|64\d)\b`,
		"gmail-x.2.1-rate":         `^(?=.*\b[45]\.2\.1\b)(?=.*(?:receiving\s+mail\s+at\s+a\s+rate|receiving\s+mail\s+too\s+quickly|receiving\s+email\s+too\s+quickly))`,
		"ms-s3150-blocklist":       `\(s3150\)`,
	} {
		got, err := SignaturePattern(name)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", name, got, err, want)
		}
	}
	if _, err := SignaturePattern("nope"); err == nil {
		t.Error("unknown signature accepted")
	}
}

// pcreMatch asks GNU grep's PCRE engine (what PowerMTA uses, not Go's
// regexp) whether pattern matches text case-insensitively.
func pcreMatch(t *testing.T, pattern, text string) bool {
	t.Helper()
	if _, err := exec.LookPath("grep"); err != nil {
		t.Fatal("grep is needed for the PCRE check")
	}
	// The pattern is written for PowerMTA's /.../: unescape \/ for grep.
	cmd := exec.Command("grep", "-qPi", "--", strings.ReplaceAll(pattern, `\/`, `/`))
	cmd.Stdin = strings.NewReader(text + "\n")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false
	}
	t.Fatalf("grep -P %q: %v (PCRE syntax error?)", pattern, err)
	return false
}

// Every rendered rule is valid PCRE and matches the providers' real
// replies (the same texts cutover's classifier names), and not a delivery.
func TestPacingPatternsMatchRealReplies(t *testing.T) {
	replies := map[string]string{
		"gmail-4.7.28-rate":    "421-4.7.28 [198.51.100.20] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp",
		"gmail-x.2.1-rate":     "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. - gsmtp",
		"yahoo-tss04-deferral": "421 4.7.0 [TSS04] Messages from 198.51.100.20 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1",
		"ms-4.7.650-rate":      "451 4.7.650 The mail server [198.51.100.20] has been temporarily rate limited due to IP reputation.",
		"ms-s3150-blocklist":   "550 5.7.1 Unfortunately, messages from [198.51.100.20] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
		"comcast-rl-rate":      "421 RL0000 Rate limited - see https://postmaster.comcast.net/smtp-error-codes.php#RL000000",
		"ms-4.7.5xx-throttle":  "451 4.7.500 Server busy. Please try again later from [198.51.100.20]. (S77714)",
	}
	for sig, reply := range replies {
		if got, _ := model.NamedSignature(reply); got != sig && sig != "ms-4.7.5xx-throttle" {
			t.Fatalf("fixture: %q is %s for cutover, want %s", reply, got, sig)
		}
		pat, err := SignaturePattern(sig)
		if err != nil {
			t.Fatal(err)
		}
		if !pcreMatch(t, pat, reply) {
			t.Errorf("%s: /%s/ does not match %q", sig, pat, reply)
		}
		if pcreMatch(t, pat, "250 2.0.0 OK 1700000000 x1-20020a05 - gsmtp") {
			t.Errorf("%s: /%s/ matches a delivery", sig, pat)
		}
	}
	// Every line of the rendered list compiles in PCRE.
	pl, err := pacingPatterns(defaultPacing(t))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`reply /((?:\\.|[^/\\])*)/ `)
	n := 0
	for _, l := range strings.Split(pl, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			pcreMatch(t, m[1], "x")
			n++
		}
	}
	if n < 10 {
		t.Fatalf("%d rules rendered:\n%s", n, pl)
	}
	// KumoMTA's default reputation regex matches the Yahoo reply too.
	kumo := `Messages from \d+\.\d+\.\d+\.\d+ temporarily deferred`
	if !strings.Contains(pl, "reply /"+kumo+"/ mode=backoff,backoff-to-normal-after=90m\n") || !pcreMatch(t, kumo, replies["yahoo-tss04-deferral"]) {
		t.Errorf("default-reputation rule missing or not matching:\n%s", pl)
	}
}

func TestRenderPMTAPacingGolden(t *testing.T) {
	c := mustDefaults(t, Config{PMTA: &PMTAConfig{ColdVMTA: "vmta-new", PacingPatterns: true}})
	d := newPMTA(c.PMTA, &runner{})
	des := renderDesired()
	des.Throttles["google"] = model.Throttle{PerHour: 600, Connections: 5}
	daily := map[string]int{"gmail.com": 20000, "googlemail.com": 37, "yahoo.com": 5000}
	got, notes := dump(t, d, RenderInput{Desired: des, Providers: c.Providers, DailyVolume: daily, Pacing: defaultPacing(t)})
	golden(t, "pmta-pacing", got)
	checkPMTADirectives(t, got)
	if !strings.Contains(strings.Join(notes, "\n"), "backs off by itself") {
		t.Errorf("notes %q", notes)
	}
	// §7.3: backoff-max-msg-rate = floor(600 × 0.5)/h, backoff-max-smtp-out
	// = max(1, floor(5 × 0.5)) for Google (gmail-rate scale 0.5).
	if !strings.Contains(got, "<domain gmail.com>\n    max-msg-rate 600/h\n    max-smtp-out 5\n") ||
		!strings.Contains(got, "    smtp-pattern-list cutover-pacing\n    backoff-max-msg-rate 300/h\n    backoff-max-smtp-out 2\n") {
		t.Errorf("gmail.com block:\n%s", got)
	}
	if err := fakePMTACheck(got); err != nil {
		t.Errorf("the fake pmta refuses cutover's output: %v", err)
	}
}

func TestCheckPatternList(t *testing.T) {
	ok := []string{
		`reply /\[tss04\]/ mode=backoff,backoff-to-normal-after=2h`,
		`reply /permanently deferred/ bounce-queue`,
		`reply /TS03/ mode=backoff,disable-source-ip,reenable-after=1h`,
	}
	if err := CheckPatternList(ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`reply /x/ backoff-to-normal-after=10m`,
		`reply /x/ backoff-to-normal-after=10m,mode=backoff`,
		`reply /x/ mode=normal,mode=backoff`,
		`reply /x/ skip-mx,bounce-queue`,
		`reply /x/ reenable-after=1h`,
		`reply /x/ mode=backoff,mode=backoff`,
		`reply /x # y/ mode=backoff`,
		`reply /x/ frobnicate`,
	} {
		if err := CheckPatternList([]string{bad}); err == nil {
			t.Errorf("accepted %q", bad)
		}
		if err := fakePMTACheck("<smtp-pattern-list p>\n    " + bad + "\n</smtp-pattern-list>\n"); err == nil {
			t.Errorf("the fake pmta accepted %q", bad)
		}
	}
	if err := CheckPatternList([]string{ok[0], ok[0]}); !errors.Is(err, ErrPatternForbidden) {
		t.Errorf("duplicate: %v", err)
	}
}

// fakePMTACheck is the fake `pmta test config`'s reading of the pattern
// lists of a config, written from the User's Guide §3.3.15 independently of
// CheckPatternList: "Error in line N" like PowerMTA.
func fakePMTACheck(config string) error {
	sc := bufio.NewScanner(strings.NewReader(config))
	in := false
	rules := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "<smtp-pattern-list "):
			in = true
			continue
		case l == "</smtp-pattern-list>":
			in = false
			continue
		case !in || l == "" || strings.HasPrefix(l, "#"):
			continue
		}
		fail := func(msg string) error { return fmt.Errorf("Error in line %d: %s", n, msg) }
		if !strings.HasPrefix(l, "reply /") {
			return fail("unknown rule")
		}
		// The pattern ends at the first unescaped slash.
		body := l[len("reply /"):]
		end := -1
		for i := 0; i < len(body); i++ {
			if body[i] == '\\' {
				i++
			} else if body[i] == '/' {
				end = i
				break
			}
		}
		if end < 0 {
			return fail("pattern not terminated")
		}
		pat, tail := body[:end], strings.TrimSpace(body[end+1:])
		if strings.Contains(pat, "#") {
			return fail("'#' in a pattern starts a comment; write \\x23")
		}
		if i := strings.Index(tail, "#"); i >= 0 {
			tail = strings.TrimSpace(tail[:i]) // a trailing comment
		}
		if rules[pat+" "+tail] {
			return fail("duplicate rule")
		}
		rules[pat+" "+tail] = true
		acts := strings.Split(tail, ",")
		var names []string
		for _, a := range acts {
			name, _, _ := strings.Cut(a, "=")
			for _, prev := range names {
				if prev == name {
					return fail("action " + name + " given twice")
				}
			}
			switch name {
			case "mode", "skip-mx", "bounce-queue", "bounce-rcpt", "disable-source-ip", "defer-queue":
			case "backoff-to-normal-after":
				if !strings.Contains(strings.Join(acts[:len(names)], ","), "mode=backoff") {
					return fail("backoff-to-normal-after without a preceding mode=backoff")
				}
			case "reenable-after":
				if !strings.Contains(strings.Join(names, ","), "disable-source-ip") {
					return fail("reenable-after without a preceding disable-source-ip")
				}
			default:
				return fail("unknown action " + a)
			}
			names = append(names, name)
		}
		if strings.Contains(tail, "skip-mx") && strings.Contains(tail, "bounce-queue") {
			return fail("skip-mx and bounce-queue together")
		}
	}
	return nil
}

// fakePMTATestConfig is the fake `pmta test config` with MTACTL_FAKE_CONFIG
// set: it reads that config as PowerMTA would and refuses forbidden rules.
func fakePMTATestConfig() int {
	path := os.Getenv("MTACTL_FAKE_CONFIG")
	if path == "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := fakePMTACheck(string(b)); err != nil {
		fmt.Printf("%s of %s\n", err, path)
		return 1
	}
	return 0
}

// The whole transaction with native pacing: the fake pmta (enforcing the
// guide's rules) accepts cutover's list; a hand-made forbidden rule in the
// operator's part is refused by the same fake, and the apply rolls back.
func TestPMTAPacingApplyFakeEnforces(t *testing.T) {
	e := newPMTAEnv(t)
	conf := "# BEGIN cutover pacing\n# END cutover pacing\n" + operatorPMTA
	mustWrite(t, e.conf, conf)
	e.cfg.PMTA.PacingPatterns = true
	fakeEnv := []string{"MTACTL_FAKE_CONFIG=" + e.conf}
	e.cfg.PMTA.Test = append(append([]string{"env"}, fakeEnv...), e.fake.argv("test", "config")[1:]...)
	c, err := New(e.cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.Plan(model.Desired{RatioNew: 30}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(context.Background(), ch, CurrentWho("test"), ApplyOptions{}); err != nil {
		t.Fatalf("the fake refused cutover's output: %v", err)
	}
	b, _ := os.ReadFile(e.conf)
	if !strings.Contains(string(b), "<smtp-pattern-list cutover-pacing>") || !strings.Contains(string(b), "backoff-max-msg-rate 300/h") {
		t.Fatalf("config:\n%s", b)
	}
	// A hand-made rule with backoff-to-normal-after but no mode=backoff.
	bad := strings.Replace(string(b), "<virtual-mta vmta-old>", "<smtp-pattern-list mine>\n    reply /too many/ backoff-to-normal-after=10m\n</smtp-pattern-list>\n<virtual-mta vmta-old>", 1)
	mustWrite(t, e.conf, bad)
	cmd := exec.Command(e.cfg.PMTA.Test[0], e.cfg.PMTA.Test[1:]...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "backoff-to-normal-after without a preceding mode=backoff") || !strings.Contains(string(out), "Error in line") {
		t.Fatalf("the fake accepted a forbidden rule: %v %s", err, out)
	}
	ch, err = c.Plan(model.Desired{RatioNew: 50}.WithOverride("google", model.Throttle{PerHour: 600, Connections: 5}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(context.Background(), ch, CurrentWho("test"), ApplyOptions{AcceptDrift: true})
	var ae *ApplyError
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "Error in line") {
		t.Fatalf("apply over a forbidden rule: %v", err)
	}
	if got, _ := os.ReadFile(e.conf); string(got) != bad {
		t.Errorf("the failed apply left the file changed")
	}
	_ = filepath.Join
}
