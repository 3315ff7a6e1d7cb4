package mtactl

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// PowerMTA native pacing ([mtactl.pmta] pacing_patterns = true, wave2 §7.3):
// cutover's overlays react in a minute; PowerMTA's backoff mode reacts to the
// same replies in seconds by itself. The driver renders a managed
// <smtp-pattern-list cutover-pacing> of "reply /PCRE/ mode=backoff" rules
// from the [pacing] reply rules (named signatures turned into their
// patterns), and per provider domain the backoff values (the rule's scale of
// the throttles). Every rule is checked against the User's Guide's list of
// forbidden action combinations (§3.3.15) before it is written.

// PacingPatternList is the name of the managed <smtp-pattern-list>.
const PacingPatternList = "cutover-pacing"

// pacingRules are the [pacing] rules native mode renders: the owner's
// config loader sets Config.Pacing, so every process renders the same
// list; without it, the shipped defaults.
func (c *Controller) pacingRules() *model.Pacing {
	if c.cfg.Pacing != nil {
		return c.cfg.Pacing
	}
	p, _ := model.ParsePacing(model.PacingConfig{})
	return p
}

// SplitsPerProvider reports whether every driver can give one provider its
// own NEW share (a postfix-front randmap cannot: pacing's shift_old then
// scales the delivery transport instead).
func (c *Controller) SplitsPerProvider() bool {
	return !slices.Contains(c.Drivers(), "postfix-front")
}

// pacingPatterns renders the pattern list body (without the block header)
// and checks it.
func pacingPatterns(p *model.Pacing) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "<smtp-pattern-list %s>\n", PacingPatternList)
	seen := map[string]bool{}
	var lines []string
	for _, r := range p.Rules {
		if r.IsMetric() {
			continue // PowerMTA has no rate rules
		}
		action := "mode=backoff"
		if !r.Manual {
			action += ",backoff-to-normal-after=" + pmtaDuration(r.For)
		}
		var pats []string
		for _, s := range r.Sigs {
			pat, err := SignaturePattern(s)
			if err != nil {
				return "", fmt.Errorf("pacing rule %s: %w", r.Name, err)
			}
			pats = append(pats, pat)
		}
		for _, re := range r.Regexes {
			pats = append(pats, pmtaEscape(strings.TrimPrefix(re.String(), "(?i)")))
		}
		named := false
		for _, pat := range pats {
			if seen[pat] {
				continue // first match wins: a later duplicate never acts
			}
			seen[pat] = true
			if !named {
				// A comment line of its own: '#' ends a config line.
				fmt.Fprintf(&b, "    # %s (%s)\n", r.Name, r.TriggerText())
				named = true
			}
			l := fmt.Sprintf("reply /%s/ %s", pat, action)
			lines = append(lines, l)
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	b.WriteString("</smtp-pattern-list>\n")
	if err := CheckPatternList(lines); err != nil {
		return "", err
	}
	return b.String(), nil
}

// pmtaDuration writes a duration as PowerMTA reads it ("90m", "2h").
func pmtaDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(math.Ceil(d.Minutes()))) + "m"
}

// pacingScale is the backoff share for one provider: the smallest scale of
// its own reply rules; a provider with none (or only shift_old rules) backs
// off to the floor, which is what a reputation reply asks for.
func pacingScale(p *model.Pacing, isp string) float64 {
	s := 0.0
	for _, r := range p.Rules {
		if r.ISP != isp || r.IsMetric() || r.Action.ShiftOld {
			continue
		}
		if s == 0 || r.Action.Scale < s {
			s = r.Action.Scale
		}
	}
	if s == 0 {
		s = p.FloorScale
	}
	return max(s, p.FloorScale)
}

// pacingDomainLines are the directives added to a provider domain's
// <domain> block in native mode.
func pacingDomainLines(p *model.Pacing, isp string, t model.Throttle) []string {
	s := pacingScale(p, isp)
	out := []string{"smtp-pattern-list " + PacingPatternList}
	if t.PerHour > 0 {
		out = append(out, fmt.Sprintf("backoff-max-msg-rate %d/h", max(1, int(math.Floor(float64(t.PerHour)*s+1e-9)))))
	}
	if t.Connections > 0 {
		out = append(out, fmt.Sprintf("backoff-max-smtp-out %d", max(1, int(math.Floor(float64(t.Connections)*s+1e-9)))))
	}
	return out
}

// SignaturePattern turns a named provider signature (model.BounceRules)
// into a PCRE for PowerMTA: its enhanced status code and its text
// fragments, each required (lookaheads), case-insensitive as PowerMTA
// matches by default.
func SignaturePattern(name string) (string, error) {
	i := slices.IndexFunc(model.BounceRules, func(r model.BounceRule) bool { return r.Name == name })
	if i < 0 {
		return "", fmt.Errorf("no named signature %q", name)
	}
	r := model.BounceRules[i]
	var parts []string
	if r.Status != "" {
		st, err := statusPattern(r.Status)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		parts = append(parts, st)
	}
	if len(r.Any) > 0 {
		parts = append(parts, alternation(r.Any))
	}
	for _, f := range r.All {
		parts = append(parts, fragment(f))
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: nothing to match", name)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	var b strings.Builder
	b.WriteString("^")
	for _, p := range parts {
		b.WriteString("(?=.*" + p + ")")
	}
	return b.String(), nil
}

func alternation(frags []string) string {
	var fs []string
	for _, f := range frags {
		fs = append(fs, fragment(f))
	}
	if len(fs) == 1 {
		return fs[0]
	}
	return "(?:" + strings.Join(fs, "|") + ")"
}

// fragment is a literal text fragment: metacharacters escaped, any run of
// spaces matching any whitespace (the classifier normalises spaces).
func fragment(f string) string {
	words := strings.Fields(f)
	for i, w := range words {
		words[i] = pmtaEscape(regexp.QuoteMeta(w))
	}
	return strings.Join(words, `\s+`)
}

// pmtaEscape makes a pattern safe between PowerMTA's slashes: '/' escaped,
// '#' as \x23 (it starts a comment in the config).
func pmtaEscape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) {
				b.WriteByte(c)
				i++
				if p[i] == '#' {
					b.WriteString("x23")
					continue
				}
				b.WriteByte(p[i])
				continue
			}
			b.WriteByte(c)
		case '/':
			b.WriteString(`\/`)
		case '#':
			b.WriteString(`\x23`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var statusRe = regexp.MustCompile(`^([245?])\.(\d{1,3})\.(\d{1,3})(?:-(\d{1,3}))?$`)

// statusPattern: "4.7.28" → \b4\.7\.28\b; "?.7.26" → [45]; a detail range
// "4.7.500-699" → an alternation of the range.
func statusPattern(s string) (string, error) {
	m := statusRe.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("status %q: not a class.subject.detail code", s)
	}
	class := m[1]
	if class == "?" {
		class = "[45]"
	}
	detail := m[3]
	if m[4] != "" {
		lo, _ := strconv.Atoi(m[3])
		hi, _ := strconv.Atoi(m[4])
		if hi < lo {
			return "", fmt.Errorf("status %q: empty range", s)
		}
		detail = "(?:" + numRange(lo, hi) + ")"
	}
	return `\b` + class + `\.` + m[2] + `\.` + detail + `\b`, nil
}

// numRange matches the decimal numbers lo..hi (no leading zeros): whole
// hundreds and tens collapse to \d.
func numRange(lo, hi int) string {
	var alts []string
	for x := lo; x <= hi; {
		switch {
		case x%100 == 0 && x >= 100 && x+99 <= hi:
			alts = append(alts, strconv.Itoa(x/100)+`\d\d`)
			x += 100
		case x%10 == 0 && x >= 10 && x+9 <= hi:
			alts = append(alts, strconv.Itoa(x/10)+`\d`)
			x += 10
		default:
			alts = append(alts, strconv.Itoa(x))
			x++
		}
	}
	return strings.Join(alts, "|")
}

// ErrPatternForbidden is a pattern rule the User's Guide does not allow.
var ErrPatternForbidden = errors.New("forbidden in a PowerMTA smtp-pattern-list")

// CheckPatternList checks "reply /RE/ ACTIONS" rules against PowerMTA v5's
// User's Guide §3.3.15: both modes, both skip-mx and bounce-queue,
// reenable-after without a preceding disable-source-ip,
// backoff-to-normal-after without a preceding mode=backoff, duplicated
// actions, and duplicated rules are not allowed.
func CheckPatternList(lines []string) error {
	seen := map[string]bool{}
	for i, l := range lines {
		if err := checkPatternRule(l); err != nil {
			return fmt.Errorf("rule %d %q: %w", i+1, l, err)
		}
		if seen[l] {
			return fmt.Errorf("rule %d %q: duplicate: %w", i+1, l, ErrPatternForbidden)
		}
		seen[l] = true
	}
	return nil
}

var knownActions = map[string]bool{"mode": true, "backoff-to-normal-after": true, "skip-mx": true, "bounce-queue": true,
	"bounce-rcpt": true, "disable-source-ip": true, "reenable-after": true, "defer-queue": true}

func checkPatternRule(l string) error {
	rest, ok := strings.CutPrefix(l, "reply /")
	if !ok {
		return fmt.Errorf("want reply /PATTERN/ ACTIONS")
	}
	end := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++
			continue
		}
		if rest[i] == '/' {
			end = i
			break
		}
	}
	if end < 0 || end+1 >= len(rest) || rest[end+1] != ' ' {
		return fmt.Errorf("unterminated pattern")
	}
	if strings.ContainsAny(rest[:end], "#\n") {
		return fmt.Errorf("pattern holds '#' or a newline (write \\x23)")
	}
	seen := map[string]bool{}
	for _, a := range strings.Split(strings.TrimSpace(rest[end+1:]), ",") {
		name, val, _ := strings.Cut(a, "=")
		if !knownActions[name] {
			return fmt.Errorf("unknown action %q", a)
		}
		if seen[name] {
			return fmt.Errorf("action %s twice: %w", name, ErrPatternForbidden)
		}
		seen[name] = true
		switch name {
		case "mode":
			if val != "backoff" && val != "normal" {
				return fmt.Errorf("mode=%s: want backoff or normal", val)
			}
		case "backoff-to-normal-after":
			if !seen["mode"] || !strings.Contains(rest, "mode=backoff,") {
				return fmt.Errorf("backoff-to-normal-after without a preceding mode=backoff: %w", ErrPatternForbidden)
			}
		case "reenable-after":
			if !seen["disable-source-ip"] {
				return fmt.Errorf("reenable-after without a preceding disable-source-ip: %w", ErrPatternForbidden)
			}
		}
	}
	if seen["skip-mx"] && seen["bounce-queue"] {
		return fmt.Errorf("both skip-mx and bounce-queue: %w", ErrPatternForbidden)
	}
	return nil
}
