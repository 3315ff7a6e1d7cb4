//go:build realmta

package realmta

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cutover/ingest/realmta/realmtatest"
)

const messagesPerMTA = 160

// exSMTPRe matches Exim arrivals over SMTP (P=esmtp, or P=utf8esmtp when the
// client used SMTPUTF8, as Go's net/smtp does when offered).
var exSMTPRe = regexp.MustCompile(` <= .* P=(utf8)?e?smtps?a? `)

// realRun is one run of both MTAs, settled, with their reports.
type realRun struct {
	base             string
	sink             *sink
	pf               *postfixInst
	ex               *eximInst
	pfIn, exIn       traffic
	pflogsumm, exsum string // report texts
}

// TestRealMTA is the project's key acceptance test: real Postfix and real
// Exim deliver, defer, bounce and expire mail to a sink; pflogsumm and
// eximstats summarise their logs; `cutover backfill` + `cutover stats` must
// count the same, domain by domain.
func TestRealMTA(t *testing.T) {
	requireRealMTA(t)
	start := time.Now()
	r := &realRun{base: realmtatest.NewBase(t, "cutover-realmta-")}
	r.sink = startSink(t, sinkAddrs)
	if c, err := net.DialTimeout("tcp4", fmt.Sprintf("%s:%d", siteDown, r.sink.Port), time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s:%d, the dead site", siteDown, r.sink.Port)
	}
	r.pf = startPostfix(t, r.base, r.sink.Port)
	r.ex = startExim(t, r.base, r.sink.Port)
	t.Logf("sink :%d, postfix :%d, exim :%d, up in %s", r.sink.Port, r.pf.Port, r.ex.Port, time.Since(start).Round(time.Millisecond))

	r.pfIn = inject(t, fmt.Sprintf("127.0.0.1:%d", r.pf.Port), messagesPerMTA, "news@sender.example", "pf")
	r.exIn = inject(t, fmt.Sprintf("127.0.0.1:%d", r.ex.Port), messagesPerMTA, "news@sender.example", "ex")
	t.Logf("injected %d+%d messages (%d+%d recipients rejected at RCPT) in %s",
		r.pfIn.Messages, r.exIn.Messages, r.pfIn.Rejected, r.exIn.Rejected, time.Since(start).Round(time.Millisecond))

	// Settled = every message that entered a queue left it (delivered,
	// bounced or expired, with its bounce notice delivered too).
	waitFor(t, "both queues to settle", 4*time.Minute, time.Second, func() (bool, string) {
		pfOK, pfIn, pfOpen, err1 := logSettled(r.pf.Log, pfActiveRe, pfRemovedRe,
			func(l string) bool { return pfClientRe.MatchString(l) })
		exOK, exIn, exOpen, err2 := logSettled(r.ex.Log, exArriveRe, exDoneRe,
			func(l string) bool { return strings.Contains(l, " <= ") && exSMTPRe.MatchString(l) })
		status := fmt.Sprintf("postfix %d/%d in, %d open; exim %d/%d in, %d open", pfIn, r.pfIn.Messages, pfOpen, exIn, r.exIn.Messages, exOpen)
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(status, err1, err2)
		}
		ok := pfOK && exOK && pfIn == r.pfIn.Messages && exIn == r.exIn.Messages &&
			r.pf.QueueEmpty(t) && r.ex.QueueCount(t) == 0
		return ok, status
	})

	// The log lines whose handling the parsers must get right all occur.
	for _, c := range []struct{ path, substr string }{
		{r.pf.Log, "status=sent"},
		{r.pf.Log, "status=bounced"},
		{r.pf.Log, "status=deferred"},
		{r.pf.Log, "status=deferred (delivery temporarily suspended"},
		{r.pf.Log, "status=expired, returned to sender"},
		{r.pf.Log, "NOQUEUE: reject: RCPT"},
		{r.ex.Log, " => "},
		{r.ex.Log, " -> "},
		{r.ex.Log, " ** "},
		{r.ex.Log, " == "},
		{r.ex.Log, "retry timeout exceeded"},
		{r.ex.Log, "retry time not reached"},
		{r.ex.Log, " I=[" + exSrcGmail + "]"},
		{r.ex.Log, " I=[" + exSrcDefault + "]"},
	} {
		if n := countLines(t, c.path, c.substr); n == 0 {
			t.Errorf("%s: no line contains %q", filepath.Base(c.path), c.substr)
		} else {
			t.Logf("%-8s %5d × %q", filepath.Base(c.path), n, c.substr)
		}
	}
	// smtp_bind_address / interface took effect
	for dst, want := range map[string][]string{
		siteGmail: {pfSrcGmail, exSrcGmail},
		siteYahoo: {pfSrcYahoo, exSrcDefault},
		siteOther: {pfSrcDefault, exSrcDefault},
	} {
		got := r.sink.Sources(dst)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("sink %s saw source IPs %v, want %v", dst, got, want)
		}
	}

	r.pflogsumm = runReport(t, filepath.Join(r.base, "pflogsumm.txt"), "pflogsumm", r.pf.Log)
	r.exsum = runReport(t, filepath.Join(r.base, "eximstats.txt"), "perl", eximstats,
		"-nr", "-h0", "-q0", "-t1000", "-byedomain", "-bydomain", eximstatsLog(r.ex.Log))
	saveRun(t, r)
	t.Logf("real MTAs settled and reported in %s", time.Since(start).Round(time.Second))

	t.Run("reports-vs-sink", func(t *testing.T) { checkReportsAgainstSink(t, r) })
	t.Run("cutover-vs-pflogsumm-eximstats", func(t *testing.T) { checkCutover(t, r) })
}

// eximstatsLog returns the log argument for eximstats (a function so that
// a test can point it at a copy).
func eximstatsLog(p string) string { return p }

// runReport runs a report tool with LC_ALL=C and saves its output.
func runReport(t *testing.T, save, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	mustWrite(t, save, string(out))
	return string(out)
}

// saveRun copies the logs and reports to $CUTOVER_REALMTA_SAVE (used to
// refresh testdata/).
func saveRun(t *testing.T, r *realRun) {
	dir := os.Getenv("CUTOVER_REALMTA_SAVE")
	if dir == "" {
		return
	}
	for src, dst := range map[string]string{
		r.pf.Log:                               "postfix.log",
		filepath.Join(r.base, "pflogsumm.txt"): "postfix.pflogsumm.txt",
		r.ex.Log:                               "exim-mainlog",
		filepath.Join(r.base, "eximstats.txt"): "exim-mainlog.eximstats.txt",
		filepath.Join(r.pf.Conf, "main.cf"):    "postfix-main.cf",
		filepath.Join(r.pf.Conf, "master.cf"):  "postfix-master.cf",
		filepath.Join(r.ex.Dir, "exim.conf"):   "exim.conf",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, dst), string(b))
	}
	t.Logf("saved logs and reports to %s", dir)
}
