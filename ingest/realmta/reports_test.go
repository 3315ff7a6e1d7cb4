package realmta

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Parsers for the text reports of pflogsumm 1.1.5 and eximstats (Exim 4.96),
// the references cutover's counts are checked against.
//
// What pflogsumm counts (read from /usr/sbin/pflogsumm 1.1.5, Debian 12):
//   - It reads every line whose program is "postfix/..." (any syslog_name
//     starting with "postfix", e.g. postfix/gmail/smtp); lines of other
//     syslog names are ignored unless --syslog-name is given.
//   - A delivery line is any line of any daemon (smtp, lmtp, local, virtual,
//     pipe, error, retry...) matching `to=<A>, [orig_to=<..>, ]relay=R,
//     [conn_use=N, ]delay=D, [delays=..., ][dsn=..., ]status=S`.
//   - status=sent: "delivered" +1 and the recipient domain's "sent cnt" +1
//     (per recipient line, not per message), EXCEPT when the text after the
//     status contains "forwarded as " (local alias/.forward): then only
//     "forwarded" +1. No filter on relay (relay=local, none, virtual all
//     count) nor on the sender: deliveries of bounce notices (from=<>) count
//     like any other, under the domain of the notice's recipient.
//   - status=deferred: "deferrals" +1 and the domain's "defers" +1 for every
//     line (every attempt), whatever the reason, so "delivery temporarily
//     suspended" lines (from postfix/error or postfix/retry) count too;
//     "deferred" (messages) counts distinct queue ids with >= 1 deferral.
//   - status=bounced: "bounced" +1 per line. Bounces are NOT in the domain
//     table: a domain with only bounces has no row.
//   - Every other status is ignored: the qmgr line "status=expired, returned
//     to sender" (it has no to=), deliverable/undeliverable (address
//     verification). So expiry shows nowhere in pflogsumm's counts.
//   - The domain is what follows the first "@" of the recipient, lowercased
//     (the whole address when there is no "@"); the local part keeps its
//     case unless -i.
//   - Counts above 512k are printed divided by 1024 with a "k" suffix (above
//     512m with "m"), so they are approximate.
//
// What eximstats counts (read from exim4-base 4.96's /usr/sbin/eximstats):
//   - It looks only at flags <=, =>, ->, ==, ** and Completed (plus
//     rejections). Cutthrough deliveries (>>) and *> are ignored.
//   - => : one delivered message and one address; -> : one more address of
//     the same delivery. "Delivered ... Addresses" = => plus -> lines.
//   - -byedomain tables ("edomain destinations") key deliveries by the domain
//     of the first address on the line, lowercased (the final recipient,
//     not the original one unless -include_original_destination). -bydomain
//     ("domain destinations") keys them by the H= remote host, i.e. the next
//     hop (an IP literal here), not the recipient domain.
//   - ==: no per-line count at all; only "Delayed" = messages with at least
//     one == line (and only when their <= line is in the log).
//   - **: "List of errors" groups ** lines by their text after the flag
//     (which starts with the address), "Errors encountered" = number of **
//     lines; "Failed" = messages with >= 1 ** whose <= is in the log. Every
//     ** counts, whether a 5xx, "retry timeout exceeded" or "all hosts for
//     'd' have been failing for a long time (and retry time not reached)".
//   - Unflagged lines containing "rejected", "refused" or "dropped" count as
//     Rejects, so outgoing "H=... Connection refused" lines show up as
//     "Unknown" rejections of the remote host's IP.
//   - The message id is read at a fixed offset as 16 characters: 4.97+ ids
//     (23 characters) need that version's eximstats.

// pfReport is what the tests use from a pflogsumm report.
type pfReport struct {
	Received, Delivered, Forwarded, Deferred, Deferrals, Bounced, Rejected int64
	Domains                                                                map[string]pfDomain
	Approx                                                                 bool // some count had a k/m suffix
}

type pfDomain struct {
	Sent, Bytes, Defers int64
}

var (
	pfTotalRe  = regexp.MustCompile(`^\s*(\d+)([km]?)\s+(received|delivered|forwarded|deferred|bounced|rejected)\b(?:\s+\((\d+)([km]?)\s+deferrals\))?`)
	pfDomainRe = regexp.MustCompile(`^\s*(\d+)([km]?)\s+(\d+)([km]?)\s+(\d+)([km]?)\s+[\d.]+ [smhd]\s+[\d.]+ [smhd]\s+(\S+)$`)
)

// pfNum undoes pflogsumm's adj_int_units.
func pfNum(digits, unit string, approx *bool) int64 {
	n, _ := strconv.ParseInt(digits, 10, 64)
	switch unit {
	case "k":
		*approx = true
		return n * 1024
	case "m":
		*approx = true
		return n * 1024 * 1024
	}
	return n
}

func parsePflogsumm(text string) (*pfReport, error) {
	r := &pfReport{Domains: map[string]pfDomain{}}
	section := ""
	sawTotals, sawDomains := false, false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "Grand Totals":
			section, sawTotals = "totals", true
			continue
		case strings.HasPrefix(line, "Host/Domain Summary: Message Delivery"):
			section, sawDomains = "domains", true
			continue
		case line == "Per-Day Traffic Summary", line == "Per-Hour Traffic Summary",
			strings.HasPrefix(line, "Host/Domain Summary: Messages Received"):
			section = ""
			continue
		}
		switch section {
		case "totals":
			m := pfTotalRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v := pfNum(m[1], m[2], &r.Approx)
			switch m[3] {
			case "received":
				r.Received = v
			case "delivered":
				r.Delivered = v
			case "forwarded":
				r.Forwarded = v
			case "deferred":
				r.Deferred = v
				if m[4] != "" {
					r.Deferrals = pfNum(m[4], m[5], &r.Approx)
				}
			case "bounced":
				r.Bounced = v
			case "rejected":
				r.Rejected = v
			}
		case "domains":
			m := pfDomainRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			d := r.Domains[m[7]]
			d.Sent += pfNum(m[1], m[2], &r.Approx)
			d.Bytes += pfNum(m[3], m[4], &r.Approx)
			d.Defers += pfNum(m[5], m[6], &r.Approx)
			r.Domains[m[7]] = d
		}
	}
	if !sawTotals {
		return nil, fmt.Errorf("pflogsumm report has no Grand Totals")
	}
	if !sawDomains && (r.Delivered > 0 || r.Deferrals > 0) {
		return nil, fmt.Errorf("pflogsumm report has no Host/Domain Summary: Message Delivery")
	}
	return r, nil
}

// exReport is what the tests use from an eximstats report.
type exReport struct {
	ReceivedMessages   int64
	DeliveredMessages  int64
	DeliveredAddresses int64
	Rejects            int64
	ByEdomain          map[string]exDest // recipient domain (-byedomain)
	ByDomain           map[string]exDest // next-hop host domain (-bydomain)
	Errors             []exError
	ErrorsTotal        int64 // "Errors encountered"
}

type exDest struct{ Messages, Addresses int64 }

type exError struct {
	Count int64
	Addr  string // first token of the ** line's text
	Text  string // whole text, continuation lines joined
}

// ErrorsByDomain sums the error list by the domain of each entry's address.
func (r *exReport) ErrorsByDomain() map[string]int64 {
	m := map[string]int64{}
	for _, e := range r.Errors {
		m[domainOf(e.Addr)] += e.Count
	}
	return m
}

func domainOf(addr string) string {
	addr = strings.ToLower(strings.TrimRight(strings.Trim(addr, "<>"), ":"))
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

var (
	exTableRe = regexp.MustCompile(`^Top \d+ (edomain|domain) destinations by message count$`)
	exErrRe   = regexp.MustCompile(`^\s*(\d+) (\S+)(.*)$`)
	exTotalRe = regexp.MustCompile(`^Errors encountered: (\d+)`)
)

func exInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func parseEximstats(text string) (*exReport, error) {
	r := &exReport{ByEdomain: map[string]exDest{}, ByDomain: map[string]exDest{}}
	lines := strings.Split(text, "\n")
	sawGrand := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		switch {
		case line == "Grand total summary":
			sawGrand = true
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				f := strings.Fields(lines[i])
				if len(f) == 0 {
					continue
				}
				switch f[0] {
				case "Received":
					r.ReceivedMessages = exInt(f[2])
				case "Delivered":
					r.DeliveredMessages, r.DeliveredAddresses = exInt(f[2]), exInt(f[3])
				case "Rejects":
					r.Rejects = exInt(f[1])
				}
			}
		case exTableRe.MatchString(line):
			dst := r.ByEdomain
			if exTableRe.FindStringSubmatch(line)[1] == "domain" {
				dst = r.ByDomain
			}
			// title, dashes, column header, rows until a blank line
			for i += 3; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				f := strings.Fields(lines[i])
				if len(f) < 5 {
					return nil, fmt.Errorf("eximstats: bad destination row %q", lines[i])
				}
				d := dst[f[len(f)-1]]
				d.Messages += exInt(f[0])
				d.Addresses += exInt(f[1])
				dst[f[len(f)-1]] = d
			}
		case line == "List of errors":
			var cur *exError
			for i += 2; i < len(lines); i++ {
				l := lines[i]
				if m := exTotalRe.FindStringSubmatch(l); m != nil {
					r.ErrorsTotal = exInt(m[1])
					break
				}
				if strings.HasPrefix(l, "\t") && cur != nil {
					cur.Text += " " + strings.TrimSpace(l)
					continue
				}
				if m := exErrRe.FindStringSubmatch(l); m != nil {
					r.Errors = append(r.Errors, exError{Count: exInt(m[1]), Addr: m[2], Text: m[2] + m[3]})
					cur = &r.Errors[len(r.Errors)-1]
				}
			}
		}
	}
	if !sawGrand {
		return nil, fmt.Errorf("eximstats report has no Grand total summary")
	}
	return r, nil
}

// The saved reports in testdata/ parse to the numbers their logs give.
func TestParseSavedReports(t *testing.T) {
	pfText, err := os.ReadFile(filepath.Join("testdata", "postfix.pflogsumm.txt"))
	if err != nil {
		t.Skip("no saved pflogsumm report:", err)
	}
	pf, err := parsePflogsumm(string(pfText))
	if err != nil {
		t.Fatal(err)
	}
	pfLog := readTestdata(t, "postfix.log")
	if got, want := pf.Delivered, int64(strings.Count(pfLog, ", status=sent (")); got != want {
		t.Errorf("pflogsumm delivered = %d, status=sent lines = %d", got, want)
	}
	if got, want := pf.Deferrals, int64(strings.Count(pfLog, ", status=deferred (")); got != want {
		t.Errorf("pflogsumm deferrals = %d, status=deferred lines = %d", got, want)
	}
	if got, want := pf.Bounced, int64(strings.Count(pfLog, ", status=bounced (")); got != want {
		t.Errorf("pflogsumm bounced = %d, status=bounced lines = %d", got, want)
	}
	var sent, defers int64
	for _, d := range pf.Domains {
		sent += d.Sent
		defers += d.Defers
	}
	if sent != pf.Delivered || defers != pf.Deferrals {
		t.Errorf("domain table sums sent=%d defers=%d, totals delivered=%d deferrals=%d", sent, defers, pf.Delivered, pf.Deferrals)
	}
	if len(pf.Domains) < 5 || pf.Domains["gmail.com"].Sent == 0 || pf.Domains["defer.example"].Defers == 0 {
		t.Errorf("domain table looks wrong: %+v", pf.Domains)
	}

	exText, err := os.ReadFile(filepath.Join("testdata", "exim-mainlog.eximstats.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := parseEximstats(string(exText))
	if err != nil {
		t.Fatal(err)
	}
	exLog := readTestdata(t, "exim-mainlog")
	delivered := int64(countFlag(exLog, "=>") + countFlag(exLog, "->"))
	if ex.DeliveredAddresses != delivered {
		t.Errorf("eximstats delivered addresses = %d, => and -> lines = %d", ex.DeliveredAddresses, delivered)
	}
	if ex.DeliveredMessages != int64(countFlag(exLog, "=>")) {
		t.Errorf("eximstats delivered messages = %d, => lines = %d", ex.DeliveredMessages, countFlag(exLog, "=>"))
	}
	if want := int64(countFlag(exLog, "**")); ex.ErrorsTotal != want {
		t.Errorf("eximstats errors = %d, ** lines = %d", ex.ErrorsTotal, want)
	}
	var addrs, errs int64
	for _, d := range ex.ByEdomain {
		addrs += d.Addresses
	}
	for _, n := range ex.ErrorsByDomain() {
		errs += n
	}
	if addrs != ex.DeliveredAddresses || errs != ex.ErrorsTotal {
		t.Errorf("edomain table sums %d addresses, error list %d; totals %d, %d", addrs, errs, ex.DeliveredAddresses, ex.ErrorsTotal)
	}
	if ex.ByEdomain["gmail.com"].Addresses <= ex.ByEdomain["gmail.com"].Messages {
		t.Errorf("gmail.com should have -> lines (addresses > messages): %+v", ex.ByEdomain["gmail.com"])
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// countFlag counts Exim main log lines "DATE TIME ID FLAG ...".
func countFlag(log, flag string) int {
	n := 0
	for line := range strings.SplitSeq(log, "\n") {
		f := strings.SplitN(line, " ", 5)
		if len(f) == 5 && f[3] == flag {
			n++
		}
	}
	return n
}

func TestParsePflogsummUnits(t *testing.T) {
	text := "Grand Totals\n------------\nmessages\n\n   600k   received\n   700k   delivered\n      0   forwarded\n      3   deferred  (12  deferrals)\n      1   bounced\n" +
		"\nHost/Domain Summary: Message Delivery \n--------------------------------------\n sent cnt  bytes   defers   avg dly max dly host/domain\n -------- -------  -------  ------- ------- -----------\n" +
		"   700k     12m       12     0.1 s    2.3 m  gmail.com\n\nHost/Domain Summary: Messages Received \n"
	r, err := parsePflogsumm(text)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Approx || r.Delivered != 700*1024 || r.Deferrals != 12 || r.Domains["gmail.com"].Sent != 700*1024 || r.Domains["gmail.com"].Defers != 12 {
		t.Fatalf("%+v", r)
	}
}
