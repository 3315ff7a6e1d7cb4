package sim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// kind is what a remote server did with one recipient on one attempt.
type kind uint8

const (
	kOK kind = iota
	kDefer
	kBounce
	kConnFail // no SMTP session at all (dead MX)
)

// reply is one simulated SMTP answer.
type reply struct {
	kind  kind
	text  string // the server's reply, multi-line replies joined as MTAs log them
	stage string // Postfix "(in reply to … command)"
	cat   string // PowerMTA bounceCat
	why   why
}

// why a deferral happened, so that an expiry can quote the last error
// without every queued message keeping its text.
type why uint8

const (
	whyNone why = iota
	whyRate
	whyTransient
	whyGrey
	whyFull
	whyConn
)

// again writes the text of a deferral of that kind once more.
func (p *provider) again(w why, g *gen) string {
	switch w {
	case whyRate:
		return p.tx.rate(g)
	case whyTransient:
		return p.tx.transient(g)
	case whyGrey:
		return greylist(g)
	case whyFull:
		return p.tx.full(g)
	}
	return ""
}

// gen carries what a reply text may mention.
type gen struct {
	r    *rand.Rand
	ip   string // our sending IP
	rcpt string
	dom  *domain
	mx   mxHost
	t    time.Time
	mid  string // message-id without <>
	size int
}

// texts are one provider's answers. The wording is what the providers send
// (see shared/reference/suppression-bounce-isp.md §2.5): the cockpit's
// signatures and the bounce classifiers are tested against exactly these.
type texts struct {
	ok        func(g *gen) string
	rate      func(g *gen) string // reputation deferral, 4xx
	rateStage string
	block     func(g *gen) string // reputation block, 5xx
	unknown   func(g *gen) string // no such mailbox
	full      func(g *gen) string // mailbox full; 4xx defers until expiry, 5xx bounces
	transient func(g *gen) string // random temporary trouble
}

type mxHost struct{ name, ip string }

type domain struct {
	name   string
	isp    string // as the pipeline classifies it (model.DefaultISPTable)
	prov   *provider
	weight float64
	mx     []mxHost
	dead   bool // MX never answers: every recipient ends expired
}

// provider is one mailbox provider (a model ISP name) and its state per side.
type provider struct {
	name    string
	share   float64 // of all recipients
	domains []*domain
	cum     []float64

	// cold is the new IPs' first allowance as a share of the provider's
	// full hourly volume: Gmail, Microsoft, Yahoo and Apple are strict,
	// small ISPs and business MXs hardly care.
	cold float64
	// per-recipient fates (share of recipients)
	hard, full, grey, transient, complaint float64

	transport string // Postfix syslog_name of its transport
	esmtp     string // PowerMTA dlvEsmtpAvailable
	fbl       *fbl
	tx        texts

	// simulation state
	rep       [3]rep // indexed by model.Side
	tokens    float64
	ready     []*pmMsg // new side: due now, waiting for throttle or capacity
	retry     pmHeap   // new side: deferred, by next attempt
	incoming  []*pmMsg // this minute's arrivals, merged into ready at the tick
	capPerMin float64  // new side connection capacity per minute
	rr        int      // vmta round robin
	conn      *pfConn  // old side transport connection state
	deadTQ    [nVMTA]int64
	deadPF    int64 // last Postfix connect failure to its dead domain, for "delivery temporarily suspended"
}

type fbl struct {
	format, userAgent, repIP string
}

func (p *provider) pickDomain(r *rand.Rand) *domain {
	x := r.Float64() * p.cum[len(p.cum)-1]
	for i, c := range p.cum {
		if x < c {
			return p.domains[i]
		}
	}
	return p.domains[len(p.domains)-1]
}

// gsmtp is the id Gmail appends to every reply.
func gsmtp(r *rand.Rand) string {
	b := make([]byte, 0, 24)
	b = append(b, byte('a'+r.IntN(26)))
	b = strconv.AppendInt(b, int64(1+r.IntN(99)), 10)
	b = append(b, "si"...)
	b = strconv.AppendInt(b, int64(1000000+r.IntN(9000000)), 10)
	for i := 0; i < 3; i++ {
		b = append(b, byte('a'+r.IntN(26)))
	}
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(r.IntN(300)), 10)
	return string(b) + " - gsmtp"
}

func hexID(r *rand.Rand, n int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func alnum(r *rand.Rand, n int) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(len(digits))]
	}
	return string(b)
}

var outlookHosts = []string{
	"AM9P193MB1523.EURP193.PROD.OUTLOOK.COM", "DB9PR02MB7004.eurprd02.prod.outlook.com",
	"SN7PR19MB4815.namprd19.prod.outlook.com", "BY5PR17MB3921.namprd17.prod.outlook.com",
}

var yahooMTA = []string{"gq1", "bf2", "ne1"}

func yahooHost(r *rand.Rand) string {
	return fmt.Sprintf("mta%d.mail.%s.yahoo.com", 1000+r.IntN(9000), yahooMTA[r.IntN(len(yahooMTA))])
}

var (
	gmailTexts = texts{
		ok: func(g *gen) string {
			return fmt.Sprintf("250 2.0.0 OK  %d %s", g.t.Unix(), gsmtp(g.r))
		},
		rate: func(g *gen) string {
			return "421-4.7.28 [" + g.ip + "      15] Our system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from your IP address. To protect our 421-4.7.28 users from spam, mail sent from your IP address has been temporarily 421-4.7.28 rate limited. Please visit 421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRateLimitError to 421 4.7.28 review our Bulk Email Senders Guidelines. " + gsmtp(g.r)
		},
		rateStage: "end of DATA",
		block: func(g *gen) string {
			return "550-5.7.28 [" + g.ip + "      15] Our system has detected an unusual rate of 550-5.7.28 unsolicited mail originating from your IP address. To protect our 550-5.7.28 users from spam, mail sent from your IP address has been blocked. 550-5.7.28 Please visit 550-5.7.28  https://support.google.com/mail/?p=UnsolicitedIPError to review our 550 5.7.28 Bulk Email Senders Guidelines. " + gsmtp(g.r)
		},
		unknown: func(g *gen) string {
			return "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser " + gsmtp(g.r)
		},
		// The permanent form: a full and inactive mailbox. (The 452 form
		// would be retried every 10 minutes for a day by PowerMTA and
		// swamp the deferral rate of a small new side.)
		full: func(g *gen) string {
			return "552-5.2.2 The recipient's inbox is out of storage space and inactive. Please 552-5.2.2 direct the recipient to 552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm " + gsmtp(g.r)
		},
		transient: func(g *gen) string {
			return "421-4.3.0 Temporary System Problem.  Try again later (WS). For more 421-4.3.0 information, go to 421 4.3.0  https://support.google.com/a/answer/3221692 " + gsmtp(g.r)
		},
	}
	microsoftTexts = texts{
		ok: func(g *gen) string {
			secs := 0.05 + g.r.Float64()*0.4
			return fmt.Sprintf("250 2.6.0 <%s> [InternalId=%d, Hostname=%s] %d bytes in %.3f, %.3f KB/sec Queued mail for delivery -> 250 2.1.5",
				g.mid, 10000000000000+g.r.Int64N(90000000000000), outlookHosts[g.r.IntN(len(outlookHosts))], g.size, secs, float64(g.size)/1024/secs)
		},
		rate: func(g *gen) string {
			return "451 4.7.650 The mail server [" + g.ip + "] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)"
		},
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return "550 5.7.1 Unfortunately, messages from [" + g.ip + "] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [" + outlookHosts[g.r.IntN(len(outlookHosts))] + "]"
		},
		// outlook.com answers an unknown mailbox with 5.5.0, not 5.1.1.
		unknown: func(g *gen) string {
			return "550 5.5.0 Requested action not taken: mailbox unavailable"
		},
		transient: func(g *gen) string {
			return "451 4.7.500 Server busy. Please try again later from [" + g.ip + "]. (S77714)"
		},
	}
	yahooTexts = texts{
		ok: func(g *gen) string { return "250 ok dirdel" },
		rate: func(g *gen) string {
			return "421 4.7.0 [TSS04] Messages from " + g.ip + " temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"
		},
		// Yahoo answers TSS04 to MAIL FROM (cPanel's exim log shows it after pipelined MAIL FROM).
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return "553 5.7.2 [TSS09] All messages from " + g.ip + " will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes"
		},
		// Neither Yahoo nor AOL put an enhanced code in this answer.
		unknown: func(g *gen) string {
			if g.dom.name == "aol.com" {
				return "552 1 Requested mail action aborted, mailbox not found"
			}
			return "554 delivery error: dd This user doesn't have a " + g.dom.name + " account (" + g.rcpt + ") [0] - " + yahooHost(g.r)
		},
		full: func(g *gen) string {
			return "554 delivery error: dd Sorry, your message to " + g.rcpt + " cannot be delivered. This account is over quota. - " + yahooHost(g.r)
		},
		transient: func(g *gen) string {
			return "451 " + yahooHost(g.r) + " Resources temporarily unavailable. Please try again later [#4.16.1]."
		},
	}
	appleTexts = texts{
		ok: func(g *gen) string { return "250 2.0.0 Ok: queued as " + alnum(g.r, 12) },
		rate: func(g *gen) string {
			return "421 4.7.1 Messages to " + g.rcpt + " deferred due to excessive volume. Try again later - https://support.apple.com/en-us/HT204137"
		},
		rateStage: "RCPT TO",
		block:     func(g *gen) string { return "550 5.7.1 [CS01] Message rejected due to local policy" },
		unknown:   func(g *gen) string { return "550 5.1.1 <" + g.rcpt + ">: user does not exist" },
		full:      func(g *gen) string { return "552 5.2.2 <" + g.rcpt + ">: user is over quota" },
		transient: func(g *gen) string { return "451 4.7.1 Service unavailable - try again later" },
	}
	comcastTexts = texts{
		ok: func(g *gen) string { return "250 2.0.0 " + alnum(g.r, 20) + " mail accepted for delivery" },
		rate: func(g *gen) string {
			return "421 4.2.0 RL000001 Throttled - try again later. https://postmaster.comcast.net/smtp-error-codes.php#RL000001"
		},
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return "554 5.7.1 BL000010 Blocked - see https://postmaster.comcast.net/smtp-error-codes.php#BL000010"
		},
		unknown:   func(g *gen) string { return "550 5.1.1 <" + g.rcpt + "> Not our Customer" },
		transient: func(g *gen) string { return "421 4.3.2 Service shutting down, closing transmission channel" },
	}
	gmxTexts = texts{
		ok: func(g *gen) string {
			return "250 Requested mail action okay, completed: id=" + alnum(g.r, 6) + "-" + alnum(g.r, 10) + "-" + alnum(g.r, 10)
		},
		rate: func(g *gen) string {
			return "421-" + g.dom.name + " (mx" + strconv.Itoa(g.r.IntN(20)) + ") Nemesis ESMTP Service not available 421-Service unavailable 421-Reject due to policy restrictions. 421 For explanation visit https://postmaster.gmx.net/en/error-messages?ip=" + g.ip + "&c=sp"
		},
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return "550-Requested action not taken: mailbox unavailable 550-Reject due to policy restrictions. 550 For explanation visit https://postmaster.gmx.net/en/error-messages?ip=" + g.ip + "&c=hi"
		},
		unknown:   func(g *gen) string { return "550 Requested action not taken: mailbox unavailable" },
		transient: func(g *gen) string { return "421 Service not available" },
	}
	orangeTexts = texts{
		ok: func(g *gen) string { return "250 2.0.0 " + alnum(g.r, 13) + " mail accepted for delivery" },
		rate: func(g *gen) string {
			return fmt.Sprintf("421 mwinf5c%02d ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR005_104 [104]", 1+g.r.IntN(80))
		},
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return fmt.Sprintf("550 mwinf5c%02d ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com [102]", 1+g.r.IntN(80))
		},
		unknown: func(g *gen) string {
			return "550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]"
		},
		transient: func(g *gen) string { return "421 4.3.2 Service not available" },
	}
	businessTexts = texts{
		ok:        func(g *gen) string { return "250 2.0.0 Ok: queued as " + hexID(g.r, 11) },
		rate:      func(g *gen) string { return "421 4.7.0 Try again later, closing connection." },
		rateStage: "MAIL FROM",
		block: func(g *gen) string {
			return "554 5.7.1 Service unavailable; Client host [" + g.ip + "] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/" + g.ip
		},
		unknown: func(g *gen) string {
			return "550 5.1.1 <" + g.rcpt + ">: Recipient address rejected: User unknown in virtual mailbox table"
		},
		full: func(g *gen) string { return "552 5.2.2 <" + g.rcpt + ">: Recipient address rejected: Mailbox full" },
		transient: func(g *gen) string {
			return "451 4.3.0 <" + g.rcpt + ">: Temporary lookup failure"
		},
	}
)

// greylist is what a postgrey-protected business MX says on first contact.
func greylist(g *gen) string {
	return "450 4.2.0 <" + g.rcpt + ">: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/" + g.dom.name + ".html"
}

type domSpec struct {
	name   string
	weight float64
	mx     []mxHost
	dead   bool
}

type provSpec struct {
	name                                   string
	share                                  float64
	cold                                   float64
	hard, full, grey, transient, complaint float64
	transport                              string
	esmtp                                  string
	fbl                                    *fbl
	tx                                     texts
	domains                                []domSpec
}

const esmtpFull = "SIZE,8BITMIME,STARTTLS,ENHANCEDSTATUSCODES,PIPELINING,CHUNKING,SMTPUTF8"
const esmtpBasic = "SIZE,8BITMIME,STARTTLS,ENHANCEDSTATUSCODES,PIPELINING"

func olc(d string) []mxHost {
	return []mxHost{{strings.ReplaceAll(d, ".", "-") + ".olc.protection.outlook.com", "52.101.68.18"},
		{strings.ReplaceAll(d, ".", "-") + ".olc.protection.outlook.com", "52.101.73.3"}}
}

var yahooMX = []mxHost{{"mta5.am0.yahoodns.net", "67.195.204.72"}, {"mta6.am0.yahoodns.net", "98.136.96.75"}, {"mta7.am0.yahoodns.net", "67.195.228.106"}}

// The recipient mix of a consumer newsletter (US-heavy, some EU), with the
// complaint feeds each provider really offers: Gmail and Apple send no
// per-message FBL, so their complaints never reach an accounting file.
var provSpecs = []provSpec{
	{name: "google", share: 0.40, cold: 0.10, hard: 0.006, full: 0.002, transient: 0.002,
		transport: "postfix/gmail", esmtp: esmtpFull, tx: gmailTexts,
		domains: []domSpec{
			{name: "gmail.com", weight: 0.985, mx: []mxHost{{"gmail-smtp-in.l.google.com", "142.250.102.27"}, {"gmail-smtp-in.l.google.com", "142.250.102.26"}, {"alt1.gmail-smtp-in.l.google.com", "142.251.9.27"}}},
			{name: "googlemail.com", weight: 0.015, mx: []mxHost{{"gmail-smtp-in.l.google.com", "142.250.102.27"}}},
		}},
	{name: "microsoft", share: 0.17, cold: 0.09, hard: 0.008, transient: 0.002, complaint: 0.00015,
		transport: "postfix/microsoft", esmtp: esmtpBasic, tx: microsoftTexts,
		fbl: &fbl{format: "jmrp", repIP: "40.92.19.52"},
		domains: []domSpec{
			{name: "hotmail.com", weight: 0.47, mx: olc("hotmail.com")},
			{name: "outlook.com", weight: 0.35, mx: olc("outlook.com")},
			{name: "live.com", weight: 0.12, mx: olc("live.com")},
			{name: "msn.com", weight: 0.06, mx: olc("msn.com")},
		}},
	{name: "yahoo", share: 0.14, cold: 0.10, hard: 0.01, full: 0.001, transient: 0.003, complaint: 0.0002,
		transport: "postfix/yahoo", esmtp: esmtpBasic, tx: yahooTexts,
		fbl: &fbl{format: "arf", userAgent: "Yahoo!-Mail-Feedback/2.0", repIP: "98.136.218.55"},
		domains: []domSpec{
			{name: "yahoo.com", weight: 0.68, mx: yahooMX},
			{name: "aol.com", weight: 0.25, mx: []mxHost{{"mx-aol.mail.gm0.yahoodns.net", "67.195.204.79"}}},
			{name: "ymail.com", weight: 0.04, mx: yahooMX},
			{name: "rocketmail.com", weight: 0.03, mx: yahooMX},
		}},
	{name: "apple", share: 0.08, cold: 0.12, hard: 0.005, full: 0.002, transient: 0.002,
		transport: "postfix/apple", esmtp: esmtpBasic, tx: appleTexts,
		domains: []domSpec{
			{name: "icloud.com", weight: 0.75, mx: []mxHost{{"mx01.mail.icloud.com", "17.57.154.23"}, {"mx02.mail.icloud.com", "17.42.251.41"}}},
			{name: "me.com", weight: 0.19, mx: []mxHost{{"mx01.mail.icloud.com", "17.57.154.23"}}},
			{name: "mac.com", weight: 0.06, mx: []mxHost{{"mx02.mail.icloud.com", "17.42.251.41"}}},
		}},
	{name: "comcast", share: 0.03, cold: 0.15, hard: 0.008, transient: 0.002, complaint: 0.0002,
		transport: "postfix", esmtp: esmtpBasic, tx: comcastTexts,
		fbl: &fbl{format: "arf", repIP: "96.114.157.77"},
		domains: []domSpec{
			{name: "comcast.net", weight: 1, mx: []mxHost{{"mx1a1.comcast.net", "96.114.157.80"}, {"mx2c1.comcast.net", "96.103.146.40"}}},
		}},
	{name: "gmx", share: 0.02, cold: 0.2, hard: 0.01, transient: 0.002, complaint: 0.0001,
		transport: "postfix", esmtp: esmtpBasic, tx: gmxTexts,
		fbl: &fbl{format: "arf", repIP: "212.227.17.26"},
		domains: []domSpec{
			{name: "gmx.de", weight: 0.6, mx: []mxHost{{"mx00.emig.gmx.net", "212.227.15.9"}, {"mx01.emig.gmx.net", "212.227.17.5"}}},
			{name: "web.de", weight: 0.4, mx: []mxHost{{"mx-ha02.web.de", "212.227.17.8"}, {"mx-ha03.web.de", "212.227.15.41"}}},
		}},
	{name: "orange", share: 0.015, cold: 0.2, hard: 0.012, transient: 0.003,
		transport: "postfix", esmtp: esmtpBasic, tx: orangeTexts,
		domains: []domSpec{
			{name: "orange.fr", weight: 0.8, mx: []mxHost{{"smtp-in.orange.fr", "80.12.24.81"}}},
			{name: "wanadoo.fr", weight: 0.2, mx: []mxHost{{"smtp-in.orange.fr", "80.12.24.83"}}},
		}},
	{name: model.ISPOther, share: 0.14, cold: 0.6, hard: 0.012, full: 0.001, grey: 0.04, transient: 0.003,
		transport: "postfix", esmtp: esmtpBasic, tx: businessTexts,
		domains: []domSpec{
			business("acme.example", 0.16), business("bluefin-logistics.example", 0.12),
			business("cedar-health.example", 0.11), business("delta-tools.example", 0.1),
			business("evergreen-bank.example", 0.1), business("fjord-media.example", 0.09),
			business("granite-law.example", 0.08), business("harbor-foods.example", 0.07),
			business("ironwood.example", 0.06), business("juniper-edu.example", 0.05),
			business("kestrel-energy.example", 0.04),
			{name: "oldcorp.example", weight: 0.015, dead: true, mx: []mxHost{{"mx.oldcorp.example", "192.0.2.44"}}},
		}},
}

var bizIP = 60

func business(name string, w float64) domSpec {
	bizIP++
	return domSpec{name: name, weight: w, mx: []mxHost{{"mx." + name, "192.0.2." + strconv.Itoa(bizIP)}}}
}

// Providers returns the provider names the simulator models, in the
// model's ISP naming (the keys of Control.PerISP and Control.MaxPerHour).
func Providers() []string {
	out := make([]string, len(provSpecs))
	for i, p := range provSpecs {
		out[i] = p.name
	}
	return out
}

func buildProviders(table *model.ISPTable) []*provider {
	var ps []*provider
	for _, sp := range provSpecs {
		p := &provider{name: sp.name, share: sp.share, cold: sp.cold, hard: sp.hard, full: sp.full,
			grey: sp.grey, transient: sp.transient, complaint: sp.complaint,
			transport: sp.transport, esmtp: sp.esmtp, fbl: sp.fbl, tx: sp.tx}
		sum := 0.0
		for _, ds := range sp.domains {
			isp, ok := table.ByDomain(ds.name)
			if !ok {
				isp = model.ISPOther
			}
			d := &domain{name: ds.name, isp: isp, prov: p, weight: ds.weight, mx: ds.mx, dead: ds.dead}
			p.domains = append(p.domains, d)
			sum += ds.weight
			p.cum = append(p.cum, sum)
		}
		ps = append(ps, p)
	}
	return ps
}

var firstNames = []string{"james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda",
	"david", "elizabeth", "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
	"chris", "karen", "daniel", "lisa", "matt", "nancy", "anthony", "betty", "mark", "sandra", "paul",
	"ashley", "steven", "emily", "kevin", "donna", "brian", "michelle", "lukas", "lea", "hugo", "chloe",
	"jan", "emma", "noah", "mia", "olivia", "liam", "sofia", "lucas", "camille", "jonas"}

var lastNames = []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis",
	"rodriguez", "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
	"moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark",
	"lewis", "robinson", "walker", "mueller", "schmidt", "schneider", "fischer", "weber", "dubois",
	"durand", "leroy", "moreau", "laurent", "bernard", "petit", "young", "allen", "king", "wright"}

// localPart makes a plausible mailbox name.
func localPart(r *rand.Rand) string {
	f := firstNames[r.IntN(len(firstNames))]
	l := lastNames[r.IntN(len(lastNames))]
	switch r.IntN(7) {
	case 0:
		return f + "." + l
	case 1:
		return f + l + strconv.Itoa(r.IntN(100))
	case 2:
		return f[:1] + l
	case 3:
		return f + "_" + l + strconv.Itoa(1950+r.IntN(60))
	case 4:
		return f + "." + l + strconv.Itoa(r.IntN(1000))
	case 5:
		return l + "." + f
	}
	return f + strconv.Itoa(r.IntN(10000))
}
