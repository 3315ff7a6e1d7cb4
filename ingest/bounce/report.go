// Package bounce reads asynchronous bounces and feedback reports: RFC 3464
// delivery status notifications (and the plain-text bounces of MTAs that do
// not send them), RFC 5965 ARF feedback reports (with the real-world
// variants: Yahoo's Version 0.1, redacting FBLs without Original-Rcpt-To)
// and Microsoft JMRP, which is not ARF at all. Parse turns one message into
// a Report; a Watcher takes messages from a maildir, an mbox or a pipe and
// makes every hard bounce and complaint a canonical suppression event, and
// every complaint a counted event, exactly once.
//
// Untrusted input throughout: Parse never panics on any bytes (fuzzed), and
// reports an error only when it cannot say who a report is about.
package bounce

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"cutover/model"
)

// Format is the kind of report a message turned out to be.
type Format string

const (
	// FormatDSN is an RFC 3464 multipart/report; report-type=delivery-status.
	FormatDSN Format = "dsn"
	// FormatPlain is a bounce without a delivery-status part (qmail, old
	// Exim and Sendmail, Yahoo): recipients and replies read from the text.
	FormatPlain Format = "plain"
	// FormatARF is an RFC 5965 feedback report.
	FormatARF Format = "arf"
	// FormatJMRP is Microsoft's Junk Mail Reporting Program report.
	FormatJMRP Format = "jmrp"
	// FormatAutoReply is a vacation or out-of-office reply that reached the
	// bounce address: nothing to do.
	FormatAutoReply Format = "auto-reply"
)

// Report is what one message says.
type Report struct {
	Format  Format
	Date    time.Time // the report's Date header
	From    string    // the report's sender address, lower case
	Subject string
	// ReportingMTA is the DSN's Reporting-MTA or the ARF's Reporting-MTA.
	ReportingMTA string
	// VMTA is PowerMTA's X-PowerMTA-VirtualMTA (DSN) when given.
	VMTA       string
	Recipients []Recipient

	// Feedback reports only.
	FeedbackType   string // abuse, fraud, not-spam... (JMRP: abuse)
	UserAgent      string
	Version        string
	SourceIP       string // the IP the reported message came from (ours)
	ReportedDomain string
	// Redacted counts Original-Rcpt-To values hidden by the reporter.
	Redacted int
}

// Recipient is one recipient of a report.
type Recipient struct {
	Addr string // normalised (model.NormalizeAddress)
	Orig string // as the report gave it, when different
	// From says where the address was found: final-recipient,
	// original-recipient, verp, x-failed-recipients, bounce-text,
	// original-rcpt-to, x-hmxmroriginalrecipient, returned-<header>.
	From string
	// Reported is the report's own recipient when VERP named another one
	// (Final-Recipient of a forwarded address).
	Reported string

	Action     string // DSN: failed, delayed, delivered, relayed, expanded
	Status     string // enhanced status code as reported
	Diagnostic string // Diagnostic-Code without its type, or the bounce text
	RemoteMTA  string
	BounceCat  string // X-PowerMTA-BounceCategory
	Time       time.Time
	Verdict    model.BounceVerdict
}

// Hard reports a recipient whose address must be suppressed: a failed
// delivery classified hard (mailbox-invalid, permanent, not X.7).
func (r *Recipient) Hard() bool {
	return r.Action == "failed" && r.Verdict.Hard
}

// Unsubscribe reports an ARF opt-out report: the recipient asks to be
// removed, which is an unsubscribe, not a complaint.
func (r *Report) Unsubscribe() bool {
	return r.Format == FormatARF && r.FeedbackType == "opt-out"
}

// Complaint reports whether the report is a recipient's complaint (ARF
// abuse/fraud/other, JMRP).
func (r *Report) Complaint() bool {
	return (r.Format == FormatARF || r.Format == FormatJMRP) && model.FeedbackComplains(r.FeedbackType)
}

// ParseOptions tune Parse.
type ParseOptions struct {
	// VERPDelims are the VERP delimiters of the return path: the first
	// separates the prefix from the encoded recipient, the second stands
	// for its "@" (Postfix's default "+="; qmail uses "-="). Empty: try
	// "+=" then "-=".
	VERPDelims string
	// RecipientHeaders are headers of the returned message that name its
	// recipient (the injector's own, e.g. "X-Rcpt"), tried after the
	// standard ones.
	RecipientHeaders []string
}

// Errors Parse returns; the watcher files such a message under failed/
// with the error as its reason.
var (
	ErrNotReport   = errors.New("not a delivery status notification or feedback report")
	ErrNoRecipient = errors.New("no recipient could be recovered")
	ErrEmpty       = errors.New("empty message or no header")
)

// Parse reads one message. A report whose recipients cannot be recovered
// (a DSN with no Final-Recipient, no VERP return path and no returned
// headers) is ErrNoRecipient; a feedback report with every recipient
// redacted is not an error (it is counted; it names nobody).
func Parse(raw []byte, opt ParseOptions) (*Report, error) {
	raw = crLines(raw)
	top := parseEntity(raw)
	if len(top.h) == 0 {
		return nil, ErrEmpty
	}
	r := &Report{Subject: decodeWords(top.h.get("Subject"))}
	r.Date = parseDate(top.h.get("Date"))
	if a := firstAddr(top.h.get("From")); a != "" {
		r.From = a
	}
	p := &parser{opt: opt, top: top, r: r, raw: raw}
	p.collect()
	switch {
	case p.feedback != nil || top.params["report-type"] == "feedback-report":
		r.Format = FormatARF
		p.arf()
	case p.status != nil:
		r.Format = FormatDSN
		p.dsn(p.status.text())
	case p.isJMRP():
		r.Format = FormatJMRP
		p.jmrp()
	case p.isBounce():
		if s := salvageFields(p.allText()+"\n"+string(top.body), "final-recipient:", "original-recipient:"); s != "" {
			r.Format = FormatDSN // a delivery-status part the MIME layer lost
			p.dsn(s)
		} else {
			r.Format = FormatPlain
			p.plain()
		}
	case isAutoReply(top.h):
		r.Format = FormatAutoReply
		return r, nil
	default:
		if salvageFields(string(raw), "feedback-type:") != "" {
			r.Format = FormatARF // a feedback report the MIME layer lost
			p.arf()
			break
		}
		return nil, ErrNotReport
	}
	if len(r.Recipients) == 0 && r.Format != FormatARF && r.Format != FormatJMRP {
		return r, ErrNoRecipient
	}
	if len(r.Recipients) == 0 && r.Redacted == 0 && r.Format == FormatJMRP {
		return r, ErrNoRecipient
	}
	return r, nil
}

type parser struct {
	raw      []byte
	opt      ParseOptions
	top      *entity
	r        *Report
	status   *entity   // message/delivery-status
	feedback *entity   // message/feedback-report
	returned header    // headers of the returned/reported message
	texts    []*entity // text/plain parts
}

// collect finds the report parts.
func (p *parser) collect() {
	p.top.walk(func(e *entity) {
		switch e.typ {
		case "message/delivery-status", "message/global-delivery-status":
			if p.status == nil {
				p.status = e
			}
		case "message/feedback-report":
			if p.feedback == nil {
				p.feedback = e
			}
		case "message/rfc822", "message/global":
			if p.returned == nil && len(e.children) > 0 {
				p.returned = e.children[0].h
			}
		case "text/rfc822-headers", "text/rfc822-header":
			if p.returned == nil {
				p.returned, _ = splitHeader(e.body)
			}
		case "text/plain":
			if len(e.children) == 0 {
				p.texts = append(p.texts, e)
			}
		}
	})
	// Old bounces quote the returned message in the text after a marker.
	if p.returned == nil {
		for _, t := range p.texts {
			if h := quotedHeaders(t.text()); len(h) > 0 {
				p.returned = h
				break
			}
		}
	}
}

func (p *parser) allText() string {
	var b strings.Builder
	for _, t := range p.texts {
		b.WriteString(t.text())
		b.WriteByte('\n')
	}
	return b.String()
}

// --- DSN -------------------------------------------------------------------

// dsn reads the fields of a delivery-status part: one per-message block,
// then one block per recipient.
func (p *parser) dsn(text string) {
	r := p.r
	blocks := fieldBlocks(text)
	var arrival time.Time
	var recips []header
	for _, b := range blocks {
		if b.has("Reporting-MTA") || b.has("Arrival-Date") || b.has("Received-From-MTA") || b.has("X-PowerMTA-VirtualMTA") {
			if v := b.get("Reporting-MTA"); v != "" {
				r.ReportingMTA = stripType(v)
			}
			if v := b.get("X-PowerMTA-VirtualMTA"); v != "" {
				r.VMTA = v
			}
			if t := parseDate(b.get("Arrival-Date")); !t.IsZero() {
				arrival = t
			}
		}
		if b.has("Final-Recipient") || b.has("Original-Recipient") || b.has("Action") || b.has("Status") {
			recips = append(recips, b)
		}
	}
	for _, b := range recips {
		rc := Recipient{
			Action:     strings.ToLower(firstWord(b.get("Action"))),
			Status:     strings.TrimSpace(b.get("Status")),
			Diagnostic: stripType(b.get("Diagnostic-Code")),
			RemoteMTA:  stripType(b.get("Remote-MTA")),
			BounceCat:  b.get("X-PowerMTA-BounceCategory"),
		}
		rc.Time = firstTime(parseDate(b.get("Last-Attempt-Date")), arrival, r.Date)
		if rc.Action == "" {
			// Incomplete report: a permanent status is a failure.
			if strings.HasPrefix(rc.Status, "5") {
				rc.Action = "failed"
			} else if strings.HasPrefix(rc.Status, "4") {
				rc.Action = "delayed"
			}
		}
		// The address the sender used: Original-Recipient (ORCPT) before
		// Final-Recipient (which may be the alias it expanded to).
		for _, f := range []struct{ field, from string }{{"Original-Recipient", "original-recipient"}, {"Final-Recipient", "final-recipient"}} {
			if a, o, ok := addrField(b.get(f.field)); ok {
				rc.Addr, rc.Orig, rc.From = a, o, f.from
				break
			}
		}
		rc.Verdict = model.ClassifyBounce(model.BounceInput{Status: rc.Status, Text: rc.Diagnostic, BounceCat: rc.BounceCat, Domain: model.DomainOf(rc.Addr)})
		r.Recipients = append(r.Recipients, rc)
	}
	if len(r.Recipients) == 0 {
		// A delivery-status part with no per-recipient group: the
		// recipients come from X-Failed-Recipients, the returned message or
		// VERP, the reply from the text.
		p.nobodyNamed()
		return
	}
	// Blocks without an address: X-Failed-Recipients, then the returned
	// message's headers, when that gives exactly as many addresses.
	var missing []int
	for i := range r.Recipients {
		if r.Recipients[i].Addr == "" {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return
	}
	// The report's own fields win; VERP (the one recipient of the message
	// it came back for) only fills in when the report names nobody.
	addrs, from := p.fallbackAddrs()
	if len(addrs) == 0 && len(missing) == 1 {
		if v := p.verp(); v != "" {
			addrs, from = []string{v}, "verp"
		}
	}
	if len(addrs) == len(missing) {
		for k, i := range missing {
			r.Recipients[i].Addr, r.Recipients[i].From = addrs[k], from
		}
	}
	kept := r.Recipients[:0]
	for _, rc := range r.Recipients {
		if rc.Addr != "" {
			rc.Verdict = model.ClassifyBounce(model.BounceInput{Status: rc.Status, Text: rc.Diagnostic, BounceCat: rc.BounceCat, Domain: model.DomainOf(rc.Addr)})
			kept = append(kept, rc)
		}
	}
	r.Recipients = kept
}

// nobodyNamed fills the recipients of a report whose delivery-status part
// names none: X-Failed-Recipients or the returned message's headers, else
// VERP; the reply is the first one in the text, the action failed unless
// the text says delayed.
func (p *parser) nobodyNamed() {
	r := p.r
	addrs, from := p.fallbackAddrs()
	if len(addrs) == 0 {
		if v := p.verp(); v != "" {
			addrs, from = []string{v}, "verp"
		}
	}
	text := p.allText()
	diag := firstReply(text)
	action := "failed"
	if delayedText.MatchString(r.Subject) || delayedText.MatchString(firstLines(text, 12)) {
		action = "delayed"
	}
	for _, a := range addrs {
		v := model.ClassifyBounce(model.BounceInput{Text: diag, Domain: model.DomainOf(a)})
		r.Recipients = append(r.Recipients, Recipient{Addr: a, From: from, Action: action, Time: r.Date,
			Diagnostic: diag, Verdict: v, Status: v.Status})
	}
}

// fallbackAddrs are the recipients a report that names none can be
// recovered from: X-Failed-Recipients, then the returned message's
// recipient headers.
func (p *parser) fallbackAddrs() ([]string, string) {
	if v := p.top.h.get("X-Failed-Recipients"); v != "" {
		if as := addrList(v); len(as) > 0 {
			return as, "x-failed-recipients"
		}
	}
	if a, from := p.returnedRecipient(); a != "" {
		return []string{a}, from
	}
	return nil, ""
}

// returnedRecipient reads the returned (or reported) message's headers:
// Microsoft's X-HmXmrOriginalRecipient, the configured and usual envelope
// headers, a VERP Return-Path, and last the To: when it holds one address.
func (p *parser) returnedRecipient() (string, string) {
	h := p.returned
	if h == nil {
		return "", ""
	}
	names := append([]string{"X-HmXmrOriginalRecipient"}, p.opt.RecipientHeaders...)
	names = append(names, "X-Rcpt-To", "X-Recipient", "X-Original-To", "X-Envelope-To", "Envelope-To")
	for _, n := range names {
		if as := addrList(h.get(n)); len(as) == 1 {
			return as[0], "returned-" + strings.ToLower(n)
		}
	}
	if v := decodeVERP(firstAddr(h.get("Return-Path")), p.opt.VERPDelims); v != "" {
		return v, "verp"
	}
	if as := addrList(h.get("To")); len(as) == 1 {
		return as[0], "returned-to"
	}
	return "", ""
}

// verp decodes the address the report was delivered to (the original's
// return path): Postfix puts it in X-Original-To and Delivered-To, most
// MTAs in To: of the bounce.
func (p *parser) verp() string {
	for _, n := range []string{"X-Original-To", "Delivered-To", "Envelope-To", "To"} {
		for _, v := range p.top.h.all(n) {
			if a := decodeVERP(firstAddr(v), p.opt.VERPDelims); a != "" {
				return a
			}
		}
	}
	return ""
}

// --- plain-text bounces ---------------------------------------------------

var (
	bounceSubject = regexp.MustCompile(`(?i)(undeliver|undelivered|returned mail|mail delivery|delivery status notification|delivery failure|failure notice|could not be delivered|delivery has failed|non[- ]?delivery|message not delivered|returned to sender|delivery problem|mail system error)`)
	bounceFrom    = regexp.MustCompile(`(?i)^(mailer-daemon|postmaster|mail delivery|mail-daemon)`)
	replyLine     = regexp.MustCompile(`(^|[\s:(])[245][0-9][0-9][ -]`)
	delayedText   = regexp.MustCompile(`(?i)(delayed|has not yet been delivered|not been delivered yet|will (keep )?(re)?try|warning: message|still undelivered|temporary failure)`)
)

// isBounce: a delivery report without a delivery-status part.
func (p *parser) isBounce() bool {
	h := p.top.h
	if p.top.params["report-type"] == "delivery-status" || h.has("X-Failed-Recipients") {
		return true
	}
	from := h.get("From")
	if bounceFrom.MatchString(strings.TrimSpace(strings.Trim(from, `"`))) || strings.Contains(strings.ToLower(from), "mailer-daemon@") {
		return true
	}
	return bounceSubject.MatchString(h.get("Subject")) && (h.get("Return-Path") == "<>" || h.get("Auto-Submitted") != "")
}

// plain reads a text bounce: the recipient lines ("<a@b>:", "  a@b",
// "a@b: 550 ...") and the reply text under each.
func (p *parser) plain() {
	r := p.r
	text := p.allText()
	if text == "" {
		text = string(p.top.body)
	}
	action := "failed"
	if delayedText.MatchString(r.Subject) || delayedText.MatchString(firstLines(text, 12)) {
		action = "delayed"
	}
	own := map[string]bool{}
	for _, n := range []string{"From", "To", "Reply-To"} {
		for _, a := range addrList(p.top.h.get(n)) {
			own[a] = true
		}
	}
	type hit struct {
		addr, orig, from string
		diag             []string
		line             int
	}
	var hits []*hit
	var cur *hit
	quoted := false
	lines := strings.Split(text, "\n")
	end := len(lines) // where the returned message starts
	for li, line := range lines {
		t := strings.TrimSpace(line)
		if isQuoteMarker(t) {
			quoted = true // the returned message: its To: is not a failure
			if end == len(lines) {
				end = li
			}
		}
		if quoted {
			continue
		}
		if a, o, rest, ok := recipientLine(t); ok && !own[a] && !isRoleSender(a) {
			if cur != nil && cur.addr == a && len(cur.diag) == 0 {
				// The same address again ("<<< 550 <a@b>... User unknown"
				// under "RCPT To:<a@b>"): one recipient.
				if rest != "" {
					cur.diag = append(cur.diag, rest)
				}
				continue
			}
			dup := false
			for _, h := range hits {
				if h.addr == a {
					dup = true
					if rest != "" && !replyLine.MatchString(strings.Join(h.diag, " ")) {
						h.diag = append(h.diag, rest)
					}
				}
			}
			if dup {
				cur = nil
				continue
			}
			cur = &hit{addr: a, orig: o, from: "bounce-text", line: li}
			if rest != "" {
				cur.diag = append(cur.diag, rest)
			}
			hits = append(hits, cur)
			continue
		}
		if cur == nil {
			continue
		}
		if t == "" {
			if len(cur.diag) > 0 {
				cur = nil
			}
			continue
		}
		cur.diag = append(cur.diag, t)
	}
	// Old Gmail, X3 and others give the reply in a later paragraph
	// ("The error that the other server returned was:"): a recipient whose
	// lines hold no reply takes the first one after it, before the returned
	// message.
	for _, h := range hits {
		if replyLine.MatchString(" " + strings.Join(h.diag, " ")) {
			continue
		}
		if rep := firstReply(strings.Join(lines[h.line+1:max(end, h.line+1)], "\n")); rep != "" {
			h.diag = append(h.diag, rep)
		}
	}
	if len(hits) == 0 {
		as, from := p.fallbackAddrs()
		diag := firstReply(text)
		for _, a := range as {
			hits = append(hits, &hit{addr: a, from: from, diag: []string{diag}})
		}
	}
	verp := p.verp()
	for _, h := range hits {
		rc := Recipient{Addr: h.addr, Orig: h.orig, From: h.from, Action: action, Time: r.Date}
		rc.Diagnostic = strings.Join(h.diag, " ")
		if len(rc.Diagnostic) > 1000 {
			rc.Diagnostic = rc.Diagnostic[:1000]
		}
		rc.Verdict = model.ClassifyBounce(model.BounceInput{Text: rc.Diagnostic, Domain: model.DomainOf(rc.Addr)})
		rc.Status = rc.Verdict.Status
		r.Recipients = append(r.Recipients, rc)
	}
	// VERP only when the text names nobody: the bounce's own recipient line
	// is what failed.
	if verp != "" && len(r.Recipients) == 0 {
		diag := firstReply(text)
		v := model.ClassifyBounce(model.BounceInput{Text: diag, Domain: model.DomainOf(verp)})
		r.Recipients = append(r.Recipients, Recipient{Addr: verp, From: "verp", Action: action, Time: r.Date,
			Diagnostic: diag, Verdict: v, Status: v.Status})
	}
}

// recipientLine recognises the lines bounce texts put a failed address on:
// "<a@b>:" (qmail, Yahoo), "  a@b" (Exim, old Gmail), "<a@b>... User
// unknown" (Sendmail), "a@b: 550 ..." (OpenSMTPD), "* a@b" (X3), "a@b
// Invalid Address, ERROR_CODE :550" (Zoho), "Unknown user: a@b" (IMail),
// and a delivery phrase before the address ("There was an error delivering
// your mail to <a@b>." DragonFly, "Your message to a@b couldn't be
// delivered", "undeliverable to a@b"). rest is reply text on the same line.
// A header line ("Message-ID: <x@host>", "From: a@b") is never one.
func recipientLine(t string) (addr, orig, rest string, ok bool) {
	if t == "" || !strings.Contains(t, "@") {
		return "", "", "", false
	}
	if m := leadIn.FindStringSubmatchIndex(t); m != nil {
		cand := strings.Trim(t[m[2]:m[3]], "<>\"'.,;:()[]")
		if a, o, err := model.NormalizeAddress(cand); err == nil {
			return a, o, strings.Trim(strings.TrimLeft(t[m[3]:], ">.,;: "), "() "), true
		}
	}
	if headerLike(t) {
		return "", "", "", false
	}
	t = strings.TrimPrefix(strings.TrimPrefix(t, "* "), "- ")
	cand, after := t, ""
	switch {
	case t[0] == '<':
		i := strings.IndexByte(t, '>')
		if i < 0 {
			return "", "", "", false
		}
		cand, after = t[1:i], strings.TrimLeft(t[i+1:], ":. ")
	default:
		i := strings.IndexAny(t, " \t")
		if i >= 0 {
			cand, after = t[:i], strings.TrimSpace(t[i:])
		}
		cand = strings.TrimSuffix(cand, ":")
		if strings.ContainsAny(cand, "<>:") {
			return "", "", "", false // "Message-ID:<x@host>", "to:<a@b>"
		}
		if after != "" && !replyLine.MatchString(" "+after) && !strings.HasPrefix(after, "(") && !zohoCode.MatchString(after) {
			return "", "", "", false // prose that mentions an address
		}
	}
	a, o, err := model.NormalizeAddress(cand)
	if err != nil {
		return "", "", "", false
	}
	return a, o, strings.Trim(after, "() "), true
}

var (
	// leadIn: a delivery phrase, then the failed address.
	leadIn = regexp.MustCompile(`(?i)(?:error delivering your mail to|could not be delivered to|couldn't be delivered to|can't be delivered to|cannot be delivered to|undeliverable to|failed to deliver to|delivery to the following recipient failed[^:]*:|unable to deliver (?:your )?(?:message|mail) to|^your message to|^unknown user:|^user unknown:|^invalid recipient:|^unknown recipient:|^recipient address rejected:|^bad recipient:|^no such user:|^mailbox unavailable:|^failed recipient:|^recipient:|^address:|^delivery failed for)\s*(<?[^\s<>@]+@[^\s<>]+>?)`)
	// zohoCode: Zoho's "Invalid Address, ERROR_CODE :550".
	zohoCode = regexp.MustCompile(`(?i)error_code\s*:\s*[245][0-9][0-9]`)
	// headerName: "Name:" at the start of a line, as in a returned header.
	headerName = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]*):`)
)

// headerLike reports a returned message's header line quoted in the text
// (the returned headers are not always behind a marker).
func headerLike(t string) bool {
	m := headerName.FindStringSubmatch(t)
	if m == nil {
		return false
	}
	switch strings.ToLower(m[1]) {
	case "message-id", "in-reply-to", "references", "from", "to", "cc", "bcc", "sender", "reply-to", "return-path",
		"received", "delivered-to", "x-original-to", "resent-from", "resent-to", "list-unsubscribe", "dkim-signature",
		"authentication-results", "arc-seal", "arc-message-signature", "arc-authentication-results", "errors-to",
		"disposition-notification-to", "x-sender", "x-envelope-from", "envelope-from", "x-mailer", "subject", "date":
		return true
	}
	return strings.HasPrefix(strings.ToLower(m[1]), "x-")
}

// firstReply is the first line of text holding an SMTP reply, with the
// lines that continue it.
func firstReply(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if replyLine.MatchString(l) {
			out := strings.TrimSpace(l)
			for _, c := range lines[i+1:] {
				if strings.TrimSpace(c) == "" || !(strings.HasPrefix(c, " ") || strings.HasPrefix(c, "\t")) {
					break
				}
				out += " " + strings.TrimSpace(c)
			}
			return out
		}
	}
	return ""
}

func isQuoteMarker(t string) bool {
	l := strings.ToLower(t)
	for _, m := range quoteMarkers {
		if strings.HasPrefix(l, m) {
			return true
		}
	}
	return false
}

// quoteMarkers start the returned message in plain bounces (Exim, qmail,
// Postfix's old text, Sendmail V5, DragonFly, IMail, OpenSMTPD, X3...).
var quoteMarkers = []string{
	"------ this is a copy of the message",
	"--- below this line is a copy of the message",
	"----- original message -----",
	"--- original message ---",
	"------ original message",
	"----- unsent message follows -----",
	"----- original message follows -----",
	"original message follows.",
	"message headers follow",
	"below is a copy of the original message",
	"------ a copy of your message follows",
	"----- message header follows -----",
	"--- the header of the original message is following. ---",
	"content-type: message/rfc822",
	"----- original message headers -----",
	"original message headers:",
}

// quotedHeaders finds a message quoted after a marker line in a plain
// bounce and returns its header.
func quotedHeaders(text string) header {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if isQuoteMarker(strings.TrimSpace(l)) {
			rest := strings.Join(lines[i+1:], "")
			rest = strings.TrimLeft(rest, "\n")
			h, _ := splitHeader([]byte(rest))
			if h.has("To") || h.has("Return-Path") || h.has("Message-ID") {
				return h
			}
		}
	}
	return nil
}

func isRoleSender(a string) bool {
	local := a[:strings.IndexByte(a, '@')]
	switch local {
	case "mailer-daemon", "postmaster", "mail-daemon":
		return true
	}
	return false
}

func firstLines(s string, n int) string {
	for i, c := 0, 0; i < len(s); i++ {
		if s[i] == '\n' {
			if c++; c == n {
				return s[:i]
			}
		}
	}
	return s
}

// --- ARF and JMRP ----------------------------------------------------------

// arf reads a feedback report.
func (p *parser) arf() {
	r := p.r
	var h header
	if p.feedback != nil {
		h = fieldsOf(p.feedback.text())
	} else if s := salvageFields(string(p.raw), "feedback-type:"); s != "" {
		h = fieldsOf(s) // no feedback-report part: its fields in the raw text
	}
	r.FeedbackType = strings.ToLower(strings.TrimSpace(h.get("Feedback-Type")))
	if r.FeedbackType == "" && h.get("Abuse-Type") != "" {
		r.FeedbackType = "abuse" // Validity's UFBL adds Abuse-Type: complaint
	}
	r.UserAgent = h.get("User-Agent")
	r.Version = h.get("Version")
	r.ReportingMTA = stripType(h.get("Reporting-MTA"))
	r.ReportedDomain = strings.ToLower(h.get("Reported-Domain"))
	r.SourceIP = cleanIP(h.get("Source-IP"))
	when := firstTime(r.Date, parseDate(h.get("Arrival-Date")), parseDate(h.get("Received-Date")))
	seen := map[string]bool{}
	// An opt-out report names the address to remove in Removal-Recipient
	// (IANA Feedback Report Header Fields registry; RFC 6650 §3.1): it is an
	// unsubscribe request, and that address comes first.
	rcptFields := []string{"Original-Rcpt-To"}
	if r.FeedbackType == "opt-out" {
		rcptFields = []string{"Removal-Recipient", "Original-Rcpt-To"}
	}
	var rcptValues []string
	for _, f := range rcptFields {
		rcptValues = append(rcptValues, h.all(f)...)
	}
	for _, v := range rcptValues {
		v = strings.Trim(strings.TrimSpace(v), "<>")
		if redacted(v) {
			r.Redacted++
			continue
		}
		if a, o, err := model.NormalizeAddress(v); err == nil && !seen[a] {
			seen[a] = true
			r.Recipients = append(r.Recipients, Recipient{Addr: a, Orig: o, From: "original-rcpt-to", Time: when})
		}
	}
	if len(r.Recipients) == 0 {
		if a, from := p.returnedRecipient(); a != "" && !redacted(a) {
			r.Recipients = append(r.Recipients, Recipient{Addr: a, From: from, Time: when})
			r.Redacted = 0
		}
	}
}

var complaintFromIP = regexp.MustCompile(`(?i)complaint about message from ([0-9a-f.:]+)`)

// isJMRP: Microsoft's reports are multipart/mixed with the reported message
// attached, from staff@hotmail.com, naming the recipient in
// X-HmXmrOriginalRecipient.
func (p *parser) isJMRP() bool {
	if p.returned != nil && p.returned.has("X-HmXmrOriginalRecipient") {
		return true
	}
	from := strings.ToLower(p.top.h.get("From"))
	return strings.Contains(from, "staff@hotmail.com") || complaintFromIP.MatchString(p.r.Subject) && p.returned != nil
}

func (p *parser) jmrp() {
	r := p.r
	r.FeedbackType = "abuse"
	r.UserAgent = "JMRP"
	if m := complaintFromIP.FindStringSubmatch(r.Subject); m != nil {
		r.SourceIP = cleanIP(m[1])
	}
	if a, from := p.returnedRecipient(); a != "" {
		if redacted(a) {
			r.Redacted++
			return
		}
		r.Recipients = append(r.Recipients, Recipient{Addr: a, From: from, Time: r.Date})
	}
}

// --- helpers ---------------------------------------------------------------

var blankLine = regexp.MustCompile(`\n[ \t]*\n`)

var autoSubject = regexp.MustCompile(`(?i)^(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|vacation|abwesenheit|absence|r[ée]ponse automatique)`)

func isAutoReply(h header) bool {
	as := strings.ToLower(h.get("Auto-Submitted"))
	if strings.HasPrefix(as, "auto-replied") || h.has("X-Autoreply") || h.has("X-Autorespond") {
		return true
	}
	return autoSubject.MatchString(strings.TrimSpace(decodeWords(h.get("Subject"))))
}

// fieldBlocks splits a delivery-status body into its blank-line separated
// blocks of fields.
func fieldBlocks(text string) []header {
	var out []header
	text = splitGroups(strings.ReplaceAll(text, "\r\n", "\n"))
	for _, blk := range blankLine.Split(strings.TrimSpace(text), -1) {
		if h := fieldsOf(blk); len(h) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// splitGroups puts a blank line before a field that starts a new
// per-recipient group where the sender left none: an Original-Recipient or
// Final-Recipient after one of its kind or after the group's Action/Status
// (RFC 3464 §2.1 asks for the blank line; some MTAs run the groups together).
func splitGroups(text string) string {
	lines := strings.Split(text, "\n")
	var b strings.Builder
	b.Grow(len(text) + 64)
	var final, orig, rest bool // fields seen in the current group
	for i, l := range lines {
		name := ""
		if j := strings.IndexByte(l, ':'); j > 0 && l[0] != ' ' && l[0] != '\t' {
			name = strings.ToLower(strings.TrimSpace(l[:j]))
		}
		switch {
		case strings.TrimSpace(l) == "":
			final, orig, rest = false, false, false
		case name == "original-recipient":
			if orig || rest {
				b.WriteByte('\n')
				final, rest = false, false
			}
			orig = true
		case name == "final-recipient":
			if final || rest {
				b.WriteByte('\n')
				orig, rest = false, false
			}
			final = true
		case name == "action" || name == "status":
			rest = rest || final || orig
		}
		b.WriteString(l)
		if i < len(lines)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// crLines turns the lone CR line endings of a message written on old Macs
// (or mangled by a gateway) into LF; CRLF and LF messages are unchanged.
func crLines(raw []byte) []byte {
	lone := 0
	for i, c := range raw {
		if c == '\r' && (i+1 == len(raw) || raw[i+1] != '\n') {
			lone++
		}
	}
	if lone == 0 || lone < bytes.Count(raw, []byte{'\n'}) {
		return raw
	}
	out := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(out, []byte{'\r'}, []byte{'\n'})
}

// fieldsOf parses "Name: value" lines (folded lines joined).
func fieldsOf(text string) header {
	h, _ := splitHeader([]byte(strings.TrimLeft(strings.ReplaceAll(text, "\r\n", "\n"), "\n") + "\n\n"))
	return h
}

// salvageFields finds report fields in text that no MIME part held (a
// broken boundary) and returns the text from the first field line on.
func salvageFields(text string, starts ...string) string {
	lower := asciiLower(text) // same length as text: its indices are used on text
	best := -1
	for _, s := range starts {
		for from := 0; ; {
			i := strings.Index(lower[from:], s)
			if i < 0 {
				break
			}
			i += from
			if i == 0 || lower[i-1] == '\n' {
				if best < 0 || i < best {
					best = i
				}
				break
			}
			from = i + 1
		}
	}
	if best < 0 {
		return ""
	}
	// The per-message fields may precede the first recipient field.
	for _, pm := range []string{"reporting-mta:", "arrival-date:"} {
		if i := strings.LastIndex(lower[:best], "\n"+pm); i >= 0 && best-i < 2000 {
			best = i + 1
		}
	}
	return text[best:]
}

// asciiLower lowercases ASCII letters only, keeping every byte offset
// (strings.ToLower may change the length of non-ASCII text).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// addrField reads "rfc822; user@example.com" (or a bare address).
func addrField(v string) (addr, orig string, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", "", false
	}
	if i := strings.IndexByte(v, ';'); i >= 0 {
		typ := strings.ToLower(strings.TrimSpace(v[:i]))
		if typ != "rfc822" && typ != "utf-8" && typ != "" {
			return "", "", false
		}
		v = strings.TrimSpace(v[i+1:])
	}
	if j := strings.IndexAny(v, " \t"); j > 0 && !strings.HasPrefix(v, "\"") {
		v = v[:j] // "user@example.com (comment)"
	}
	a, o, err := model.NormalizeAddress(v)
	if err != nil || redacted(a) {
		return "", "", false
	}
	return a, o, true
}

// addrList parses an address list header leniently.
func addrList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var out []string
	if list, err := mail.ParseAddressList(decodeWords(v)); err == nil {
		for _, a := range list {
			// net/mail unquotes a quoted local part ("neko..nyaan"@x comes
			// back as neko..nyaan@x, a mailbox that matches nothing):
			// quote it again and let NormalizeAddress decide whether the
			// quotes are needed.
			at := strings.LastIndexByte(a.Address, '@')
			if at > 0 {
				q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a.Address[:at]) + `"` + a.Address[at:]
				if n, _, err := model.NormalizeAddress(q); err == nil {
					out = append(out, n)
					continue
				}
			}
			if n, _, err := model.NormalizeAddress(a.Address); err == nil {
				out = append(out, n)
			}
		}
		return out
	}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		part = strings.TrimSpace(part)
		if i := strings.LastIndexByte(part, '<'); i >= 0 {
			part = strings.TrimSuffix(part[i+1:], ">")
		}
		if n, _, err := model.NormalizeAddress(part); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func firstAddr(v string) string {
	if as := addrList(v); len(as) > 0 {
		return as[0]
	}
	return ""
}

// decodeVERP turns "bounces+alice=example.com@ours.example" back into
// alice@example.com.
func decodeVERP(addr, delims string) string {
	if addr == "" {
		return ""
	}
	if n, _, err := model.NormalizeAddress(addr); err != nil {
		return ""
	} else {
		addr = n
	}
	local := addr[:strings.LastIndexByte(addr, '@')]
	tries := []string{"+=", "-="}
	if len(delims) == 2 {
		tries = []string{delims}
	}
	for _, d := range tries {
		i := strings.IndexByte(local, d[0])
		if i <= 0 {
			continue
		}
		enc := local[i+1:]
		j := strings.LastIndexByte(enc, d[1])
		if j <= 0 || j == len(enc)-1 {
			continue
		}
		cand := enc[:j] + "@" + enc[j+1:]
		if !strings.Contains(enc[j+1:], ".") {
			continue
		}
		if n, _, err := model.NormalizeAddress(cand); err == nil && n != addr {
			return n
		}
	}
	return ""
}

// redacted: see model.RedactedAddress.
func redacted(a string) bool { return model.RedactedAddress(a) }

// stripType drops the type of a typed DSN field ("smtp; 550 ...",
// "dns; mx.example.org").
func stripType(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i > 0 && i < 12 && !strings.ContainsAny(v[:i], " \t") {
		return strings.TrimSpace(v[i+1:])
	}
	return v
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		return s[:i]
	}
	return s
}

func cleanIP(s string) string {
	s = strings.Trim(strings.TrimSpace(s), "[]()")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String()
	}
	return ""
}

// parseDate reads an RFC 5322 date leniently; zero when unreadable.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t.UTC()
	}
	// "Sat, 17 Sep 2011 07:07:29 -0400 (EDT)" variants mail.ParseDate
	// refuses: cut the comment, try the common layouts.
	if i := strings.IndexByte(s, '('); i > 0 {
		s = strings.TrimSpace(s[:i])
	}
	for _, l := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700", time.RFC3339, "Mon Jan _2 15:04:05 2006", "Mon, _2 Jan 2006 15:04:05 MST"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// String is a one-line summary for logs and the parse command.
func (r *Report) String() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s", r.Format)
	if r.FeedbackType != "" {
		fmt.Fprintf(&b, " %s", r.FeedbackType)
	}
	for _, rc := range r.Recipients {
		fmt.Fprintf(&b, " %s(%s", rc.Addr, rc.From)
		if rc.Action != "" {
			fmt.Fprintf(&b, " %s %s hard=%v", rc.Action, rc.Verdict.Kind, rc.Hard())
		}
		b.WriteByte(')')
	}
	return b.String()
}
