package model

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// BounceKind says what a failed delivery tells about the recipient (a dead
// or full mailbox) or about the sender (a block, a rate limit, failed
// authentication).
type BounceKind uint8

const (
	BounceNone BounceKind = iota
	// BounceUserUnknown: the mailbox does not exist (5.1.1, "no such user").
	BounceUserUnknown
	// BounceHostUnknown: the domain does not exist or takes no mail (5.1.2,
	// 5.4.4, null MX).
	BounceHostUnknown
	// BounceInactive: the mailbox existed but is disabled, closed or moved
	// (5.2.1, 5.1.6, Gmail "inactive", Yahoo 554.30).
	BounceInactive
	// BounceMailboxFull: over quota (X.2.2). Never hard: mailboxes get
	// emptied.
	BounceMailboxFull
	// BouncePolicy: a policy or spam block, blocklists (5.7.1, S3150, BL21).
	BouncePolicy
	// BounceReputation: reputation or rate limiting (4.7.28, 4.7.650, TSS04).
	BounceReputation
	// BounceAuth: SPF, DKIM, DMARC, PTR or TLS requirements not met (5.7.26,
	// 5.7.515).
	BounceAuth
	// BounceContent: the message itself (content filter, virus, size).
	BounceContent
	// BounceOther: anything else (network, protocol, expiry, unknown).
	BounceOther
	numBounceKinds
)

// NumBounceKinds counts the kinds including BounceNone (for fixed arrays).
const NumBounceKinds = int(numBounceKinds)

var bounceKindInfo = [...]struct{ name, label, short string }{
	{"", "", ""},
	{"user-unknown", "user unknown", "unkn"},
	{"host-unknown", "host unknown", "host"},
	{"inactive", "inactive mailbox", "inact"},
	{"mailbox-full", "mailbox full", "full"},
	{"policy", "policy/spam block", "block"},
	{"reputation", "reputation/rate limit", "rate"},
	{"auth", "authentication failure", "auth"},
	{"content", "content", "cont"},
	{"other", "other", "other"},
}

// String is the kind's stable name (user-unknown, policy...).
func (k BounceKind) String() string {
	if int(k) < len(bounceKindInfo) {
		return bounceKindInfo[k].name
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Label is the kind for people ("policy/spam block").
func (k BounceKind) Label() string {
	if int(k) < len(bounceKindInfo) {
		return bounceKindInfo[k].label
	}
	return k.String()
}

// Short is a column heading of at most 5 cells.
func (k BounceKind) Short() string {
	if int(k) < len(bounceKindInfo) {
		return bounceKindInfo[k].short
	}
	return "?"
}

// ParseBounceKind is the inverse of String.
func ParseBounceKind(s string) (BounceKind, bool) {
	for k := BounceUserUnknown; k < numBounceKinds; k++ {
		if bounceKindInfo[k].name == s {
			return k, true
		}
	}
	return BounceNone, false
}

// MailboxInvalid reports the kinds that say the address is dead: only these
// may ever suppress an address (sisimai's rule: userunknown, hostunknown,
// hasmoved). Everything else is about the sender or is temporary.
func (k BounceKind) MailboxInvalid() bool {
	return k == BounceUserUnknown || k == BounceHostUnknown || k == BounceInactive
}

// BounceInput is what an MTA log or a DSN says about one failed recipient.
type BounceInput struct {
	// Status is the enhanced status code as logged or reported; a trailing
	// comment ("5.2.1 (mailbox disabled)") is allowed.
	Status string
	// Code is the SMTP reply code; 0: taken from Text.
	Code int
	// Text is the remote reply or Diagnostic-Code (untrusted).
	Text string
	// BounceCat is PowerMTA's bounce category, when known.
	BounceCat string
	// Domain is the recipient's domain, when known: a name service error
	// about another name (an MX host) says nothing about the recipient.
	Domain string
}

// BounceVerdict is the classification of one failure.
type BounceVerdict struct {
	Kind BounceKind
	// Hard is set only for a mailbox-invalid kind reported as permanent
	// without a security/policy (X.7.X) status: the one case that adds the
	// address to the suppression log.
	Hard bool
	// Temporary: a 4xx reply or 4.X.X status.
	Temporary bool
	// Rule is the name of the table rule that matched, "" when the kind came
	// from the status code, the reply code or the bounce category.
	Rule string
	// Provider is the mailbox provider of a named provider signature.
	Provider string
	// Status and Code are the enhanced and SMTP codes the verdict used.
	Status string
	Code   int
}

// BounceRule is one row of the classification table. A rule matches when
// its Status (if any) matches and its text fragments are found in the
// normalised reply (lower case, one space between words, addresses replaced,
// multi-line continuation codes dropped).
type BounceRule struct {
	// Name is the signature's stable name, e.g. "gmail-4.7.28-rate".
	Name string
	// Provider names the mailbox provider whose reply this is; "" for the
	// generic text rules that follow the provider rules.
	Provider string
	Kind     BounceKind
	// Status restricts the rule to an enhanced code: "4.7.28" exactly,
	// "?.7.26" for either class, "5.7.606-649" for a range of details.
	Status string
	// Any: at least one fragment must occur (nil: no text condition).
	Any []string
	// All: every fragment must occur.
	All []string
}

// BounceRules is the table, tried in order; the first match wins. Provider
// rules come first (they are the most specific and give the cockpit a name
// to show), then generic text rules ordered so that a reply blaming the
// sender (authentication, content, blocks, rates) wins over words that
// would make it look like a dead mailbox: a wrong "hard" suppresses a live
// person, a wrong "soft" only costs a retry.
//
// Sources: RFC 3463; the providers' published error pages (Google
// answer/3726730, Outlook.com troubleshooting, Yahoo error codes, Comcast
// error codes); sisimai's and KumoMTA's rule lists (read for facts only).
var BounceRules = []BounceRule{
	// Gmail. Its replies end in "- gsmtp".
	{Name: "gmail-4.7.28-rate", Provider: "gmail", Kind: BounceReputation, Status: "4.7.28"},
	{Name: "gmail-5.7.28-block", Provider: "gmail", Kind: BouncePolicy, Status: "5.7.28"},
	{Name: "gmail-4.7.26-unauth", Provider: "gmail", Kind: BounceAuth, Status: "4.7.26"},
	{Name: "gmail-5.7.26-unauth", Provider: "gmail", Kind: BounceAuth, Status: "5.7.26"},
	{Name: "gmail-x.7.27-spf", Provider: "gmail", Kind: BounceAuth, Status: "?.7.27", Any: gsmtp},
	{Name: "gmail-x.7.30-dkim", Provider: "gmail", Kind: BounceAuth, Status: "?.7.30", Any: gsmtp},
	{Name: "gmail-x.7.32-alignment", Provider: "gmail", Kind: BounceAuth, Status: "?.7.32", Any: gsmtp},
	{Name: "gmail-x.7.40-no-dmarc", Provider: "gmail", Kind: BounceAuth, Status: "?.7.40", Any: gsmtp},
	{Name: "gmail-x.7.29-tls", Provider: "gmail", Kind: BounceAuth, Status: "?.7.29", Any: gsmtp},
	{Name: "gmail-x.7.24-spf", Provider: "gmail", Kind: BounceAuth, Status: "?.7.24", Any: gsmtp},
	{Name: "gmail-x.7.23-ptr", Provider: "gmail", Kind: BounceAuth, Status: "?.7.23", Any: gsmtp},
	{Name: "gmail-x.7.25-ptr", Provider: "gmail", Kind: BounceAuth, Status: "?.7.25", Any: gsmtp},
	{Name: "gmail-4.7.0-ptr", Provider: "gmail", Kind: BounceAuth, Status: "4.7.0", Any: []string{"does not have a ptr record"}},
	{Name: "gmail-4.7.0-reputation", Provider: "gmail", Kind: BounceReputation, Status: "4.7.0", Any: []string{"very low reputation", "low reputation of the sending"}},
	{Name: "gmail-4.7.0-suspicious", Provider: "gmail", Kind: BounceContent, Status: "4.7.0", Any: []string{"this message is suspicious due to the nature of the content"}},
	{Name: "gmail-5.7.1-spam", Provider: "gmail", Kind: BouncePolicy, Status: "5.7.1", Any: []string{"likely unsolicited"}},
	{Name: "gmail-5.7.1-reputation", Provider: "gmail", Kind: BounceReputation, Status: "5.7.1", Any: []string{"low reputation"}},
	{Name: "gmail-5.7.1-policy", Provider: "gmail", Kind: BouncePolicy, Status: "5.7.1", Any: gsmtp},
	{Name: "gmail-x.2.1-rate", Provider: "gmail", Kind: BounceReputation, Status: "?.2.1", Any: []string{"receiving mail at a rate", "receiving mail too quickly", "receiving email too quickly"}},
	{Name: "gmail-5.2.1-inactive", Provider: "gmail", Kind: BounceInactive, Status: "5.2.1", Any: []string{"account that you tried to reach is inactive", "account that you tried to reach is disabled"}},
	{Name: "gmail-5.2.2-inactive", Provider: "gmail", Kind: BounceInactive, Status: "5.2.2", Any: []string{"out of storage space and inactive", "overquotaperm"}},
	{Name: "gmail-x.2.2-full", Provider: "gmail", Kind: BounceMailboxFull, Status: "?.2.2", Any: []string{"out of storage space", "over quota"}},
	{Name: "gmail-5.1.1-nouser", Provider: "gmail", Kind: BounceUserUnknown, Any: []string{"account that you tried to reach does not exist"}},
	{Name: "gmail-5.1.2-nodomain", Provider: "gmail", Kind: BounceHostUnknown, Any: []string{"able to find the recipient domain"}},

	// Microsoft (Outlook.com consumer and Microsoft 365).
	{Name: "ms-s3140-blocklist", Provider: "microsoft", Kind: BouncePolicy, Any: []string{"(s3140)"}},
	{Name: "ms-s3150-blocklist", Provider: "microsoft", Kind: BouncePolicy, Any: []string{"(s3150)"}},
	{Name: "ms-4.7.650-rate", Provider: "microsoft", Kind: BounceReputation, Status: "4.7.650"},
	{Name: "ms-4.7.500-busy", Provider: "microsoft", Kind: BounceReputation, Any: []string{"server busy. please try again later from"}},
	{Name: "ms-4.7.5xx-throttle", Provider: "microsoft", Kind: BounceReputation, Status: "4.7.500-699"},
	{Name: "ms-5.7.606-649-banned-ip", Provider: "microsoft", Kind: BouncePolicy, Status: "5.7.606-649"},
	{Name: "ms-5.7.515-auth", Provider: "microsoft", Kind: BounceAuth, Status: "5.7.515"},
	{Name: "ms-5.7.509-dmarc", Provider: "microsoft", Kind: BounceAuth, Status: "5.7.509"},
	{Name: "ms-5.7.511-banned-sender", Provider: "microsoft", Kind: BouncePolicy, Status: "5.7.511"},
	{Name: "ms-5.7.513-customer-block", Provider: "microsoft", Kind: BouncePolicy, Status: "5.7.513"},
	{Name: "ms-rp-rate", Provider: "microsoft", Kind: BounceReputation, Any: []string{"rp-001", "rp-002", "rp-003"}},
	{Name: "ms-sc-block", Provider: "microsoft", Kind: BouncePolicy, Any: []string{"sc-001", "sc-002", "sc-003", "sc-004"}},
	{Name: "ms-dy-block", Provider: "microsoft", Kind: BouncePolicy, Any: []string{"dy-001", "dy-002"}},
	{Name: "ms-ou-block", Provider: "microsoft", Kind: BouncePolicy, Any: []string{"ou-001", "ou-002"}},
	// Exchange Online's directory-based edge blocking answers a recipient
	// that is not in the tenant with 5.4.1 "Access denied" (Microsoft Learn,
	// "Fix email delivery issues for error code 5.4.1"): a dead address.
	{Name: "ms-5.4.1-recipient-access-denied", Provider: "microsoft", Kind: BounceUserUnknown, Status: "5.4.1", All: []string{"recipient address rejected", "access denied"}},
	{Name: "ms-5.1.1-recipnotfound", Provider: "microsoft", Kind: BounceUserUnknown, Any: []string{"resolver.adr.recipnotfound", "resolver.adr.recipientnotfound"}},
	{Name: "ms-5.1.10-recipient-not-found", Provider: "microsoft", Kind: BounceUserUnknown, Status: "5.1.10", Any: []string{"recipient not found"}},
	// Outlook.com answers an unknown user with 5.5.0 (sisimai: "similar to
	// 550 5.1.10"); a 5.5.0 that mentions a block is caught above or below.
	{Name: "ms-5.5.0-mailbox-unavailable", Provider: "microsoft", Kind: BounceUserUnknown, Status: "5.5.0", All: []string{"requested action not taken: mailbox unavailable"}},

	// Cisco Secure Email (IronPort): the LDAP accept query found no such
	// recipient ("550 #5.1.0 Address rejected", AsyncOS user guide).
	{Name: "cisco-5.1.0-address-rejected", Provider: "cisco", Kind: BounceUserUnknown, Status: "5.1.0", All: []string{"#5.1.0 address rejected"}},

	// Yahoo and AOL (same infrastructure).
	{Name: "yahoo-tss04-deferral", Provider: "yahoo", Kind: BounceReputation, Any: []string{"[tss04]", "[ts04]"}},
	{Name: "yahoo-tss09-deferral", Provider: "yahoo", Kind: BounceReputation, Any: []string{"[tss09]"}},
	{Name: "yahoo-tss11-deferral", Provider: "yahoo", Kind: BounceReputation, Any: []string{"[tss11]"}},
	{Name: "yahoo-ts-deferral", Provider: "yahoo", Kind: BounceReputation, Any: []string{"[ts01]", "[ts02]", "[ts03]", "[tss01]", "[tss02]", "[tss03]"}},
	{Name: "yahoo-ph-policy", Provider: "yahoo", Kind: BouncePolicy, Any: []string{"[ph01]", "[ph02]", "[ph03]"}},
	{Name: "yahoo-bl-blocklist", Provider: "yahoo", Kind: BouncePolicy, Any: []string{"[bl21]", "[bl22]", "[bl23]"}},
	{Name: "yahoo-5.7.9-unauth", Provider: "yahoo", Kind: BounceAuth, Status: "5.7.9", Any: []string{"unauthenticated"}},
	{Name: "yahoo-unresolvable-from", Provider: "yahoo", Kind: BounceAuth, Any: []string{"unresolvable rfc.5321 from domain"}},
	{Name: "yahoo-dd-nouser", Provider: "yahoo", Kind: BounceUserUnknown, Any: []string{"this user doesn't have a"}},
	{Name: "yahoo-554.30-disabled", Provider: "yahoo", Kind: BounceInactive, Any: []string{"mailbox is disabled (554.30)"}},
	{Name: "yahoo-552-mailbox-not-found", Provider: "yahoo", Kind: BounceUserUnknown, Any: []string{"requested mail action aborted, mailbox not found"}},
	{Name: "yahoo-421-max-per-connection", Provider: "yahoo", Kind: BounceReputation, Any: []string{"max message per connection reached"}},
	{Name: "yahoo-450-too-quickly", Provider: "yahoo", Kind: BounceReputation, Any: []string{"user is receiving mail too quickly"}},

	// Apple iCloud.
	{Name: "apple-volume-deferral", Provider: "apple", Kind: BounceReputation, Any: []string{"deferred due to excessive volume"}},
	{Name: "apple-cs-policy", Provider: "apple", Kind: BouncePolicy, Any: []string{"[cs01]", "[cs02]"}},
	{Name: "apple-hm-policy", Provider: "apple", Kind: BouncePolicy, Any: []string{"[hm07]", "[hm08]"}},
	{Name: "apple-hme1-auth", Provider: "apple", Kind: BounceAuth, Any: []string{"[hme1]"}},
	{Name: "apple-inactive", Provider: "apple", Kind: BounceInactive, Any: []string{"inactive email address"}},
	{Name: "apple-moved", Provider: "apple", Kind: BounceInactive, Any: []string{"recipient no longer on server"}},
	{Name: "apple-unknown-alias", Provider: "apple", Kind: BounceUserUnknown, Any: []string{"unknown or illegal alias"}},
	{Name: "proofpoint-dnsbl", Provider: "proofpoint", Kind: BouncePolicy, Any: []string{"proofpoint.com/dnsbl-lookup"}},

	// Comcast / Xfinity.
	{Name: "comcast-rl-rate", Provider: "comcast", Kind: BounceReputation, Any: []string{"rl0000"}},
	{Name: "comcast-bl-blocklist", Provider: "comcast", Kind: BouncePolicy, Any: []string{"bl000"}},
	{Name: "comcast-es-dynamic", Provider: "comcast", Kind: BouncePolicy, Any: []string{"es000001", "es000010"}},
	{Name: "comcast-too-many-sessions", Provider: "comcast", Kind: BounceReputation, Any: []string{"[too many sessions opened]"}},
	{Name: "comcast-rdns", Provider: "comcast", Kind: BounceAuth, Any: []string{"[reverse dns failure"}},
	{Name: "comcast-not-our-customer", Provider: "comcast", Kind: BounceUserUnknown, Any: []string{"not our customer"}},
	{Name: "comcast-account-closed", Provider: "comcast", Kind: BounceInactive, Any: []string{"account closed, please remove"}},

	// Cox (now on Yahoo's infrastructure, old codes still seen).
	{Name: "cox-block", Provider: "cox", Kind: BouncePolicy, Any: []string{"cxbl", "cdrbl", "ipbl0", "ipbl1"}},
	{Name: "cox-auth", Provider: "cox", Kind: BounceAuth, Any: []string{"cxdns", "cxsndr"}},
	{Name: "cox-rate", Provider: "cox", Kind: BounceReputation, Any: []string{"cxcnct", "cxmxrt"}},
	{Name: "cox-urlbl", Provider: "cox", Kind: BounceContent, Any: []string{"urlbl0", "urlbl1"}},

	// European and other providers.
	{Name: "orange-dmarc", Provider: "orange", Kind: BounceAuth, Any: []string{"mail rejected. dmarc check failed"}},
	{Name: "orange-blacklisted", Provider: "orange", Kind: BouncePolicy, Any: []string{"invalid sender. your domain has been blacklisted"}},
	{Name: "gmx-policy", Provider: "gmx", Kind: BouncePolicy, Any: []string{"reject due to policy restrictions"}},
	{Name: "webde-quota", Provider: "web.de", Kind: BounceMailboxFull, All: []string{"exceeded storage allocation", "quota exceeded"}},
	{Name: "mailru-invalid-mailbox", Provider: "mail.ru", Kind: BounceUserUnknown, Any: []string{"message was not accepted -- invalid mailbox"}},
	{Name: "mailru-spam", Provider: "mail.ru", Kind: BouncePolicy, Any: []string{"spam message rejected"}},
	{Name: "qq-content-denied", Provider: "qq", Kind: BounceContent, Any: []string{"mail content denied"}},
	{Name: "tonline-spam-virus", Provider: "t-online", Kind: BounceContent, Any: []string{"rejected due to spam or virus classification"}},
	{Name: "att-dnsbl", Provider: "att", Kind: BouncePolicy, Any: []string{"dnsbl:rbl 521", "att.net/blocks", "blocked for abuse"}},
	{Name: "esp-suppressed", Provider: "esp", Kind: BouncePolicy, Any: []string{"suppressed due to customer policy"}},

	// A block list named by its host, usually in a URL ("553 5.1.3
	// http://www.spamhaus.org/query/bl?ip=..."): the generic rules never see
	// host names, so without this the status code alone would decide.
	{Name: "dnsbl-url", Provider: "dnsbl", Kind: BouncePolicy, Any: []string{"spamhaus.org", "spamcop.net", "barracudacentral.org", "barracuda.com/", "sorbs.net", "uceprotect.net", "abuseat.org", "mailspike.", "spamrats.com", "psbl.org", "surbl.org", "senderscore.org", "backscatterer.org", "/query/bl", "dnsbl.", "blocklist.de", "rbl.jp", "spameatingmonkey", "abusix.", "invaluement.com", "dnswl.org", "/rbl/", "lashback.com", "nixspam"}},

	// Generic text rules: sender-side reasons first (see above).
	// Failures of a local delivery command are about the command, even
	// when the shell says it "does not exist".
	{Name: "local-command", Kind: BounceOther, Any: []string{"child process of", "transport returned", "command died with status", "command output", "unable to exec", "unknown mailer error", "pipe to |", "mail transport unavailable", "local delivery failed"}},
	// A name server that failed or answered garbage says nothing about
	// the domain (Postfix's TRY_AGAIN and malformed-reply texts).
	{Name: "dns-temporary", Kind: BounceOther, Any: []string{"host not found, try again", "malformed or unexpected name server reply", "temporary failure in name resolution", "dns lookup timed out", "dns timeout", "servfail", "name server failure", "temporary dns", "dns temporary", "temporarily unable to resolve", "domain lookup failed temporarily"}},
	{Name: "text-auth", Kind: BounceAuth, Any: []string{"dmarc", "spf", "dkim", "unauthenticated", "not authenticated", "authentication", "reverse dns", "ptr record", "rdns", "starttls", "tls required", "must issue a starttls"}},
	{Name: "text-virus", Kind: BounceContent, Any: []string{"virus", "malware", "infected", "prohibited attachment", "attachment not allowed", "message size", "too large", "too big", "exceeds size", "message length exceeds", "content rejected", "content denied", "content filter", "objectionable content"}},
	{Name: "text-block", Kind: BouncePolicy, Any: []string{"blocklist", "block list", "blacklist", "blocked", "banned", "denied", "spamhaus", "spamcop", "barracuda", "dnsbl", "is listed", "been listed", "listed by", "listed at", "spam", "junk", "policy", "not authorized", "unauthorized", "refused", "prohibited", "not allowed", "relay access", "relaying", "unable to relay"}},
	{Name: "text-rate", Kind: BounceReputation, Any: []string{"rate limit", "rate-limit", "ratelimit", "rate limited", "too many", "throttl", "too fast", "too quickly", "excessive", "unusual rate", "volume", "reputation", "greylist", "graylist", "temporarily deferred", "slow down", "connection limit", "concurrent connections"}},
	{Name: "text-host-unknown", Kind: BounceHostUnknown, Any: []string{"host unknown", "unknown host", "host not found", "domain not found", "no such domain", "domain does not exist", "domain doesn't exist", "unrouteable address", "unroutable address", "name service error", "nxdomain", "null mx", "nullmx", "no mx record", "domain has no mx", "mx records point to non-existent hosts", "does not accept mail", "invalid domain", "domain name not found", "unknown domain"}},
	{Name: "text-inactive", Kind: BounceInactive, Any: []string{"inactive", "disabled", "deactivated", "account closed", "account has been closed", "mailbox closed", "no longer in use", "no longer active", "no longer available", "no longer valid", "no longer accepting", "account suspended", "account has been suspended", "mailbox suspended", "has moved", "mailbox moved", "moved permanently", "expired account", "account expired", "account is locked"}},
	{Name: "text-mailbox-full", Kind: BounceMailboxFull, Any: []string{"mailbox full", "mailbox is full", "mailbox has exceeded", "over quota", "overquota", "quota exceeded", "exceeds quota", "exceeded quota", "exceeded storage", "insufficient storage", "insufficient system storage", "out of storage", "mailbox size limit", "full mailbox", "user's mailbox is full", "storage allocation"}},
	{Name: "text-user-unknown", Kind: BounceUserUnknown, Any: []string{"user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient", "no such account", "no such address", "unknown recipient", "recipient unknown", "unknown address", "address unknown", "user not found", "recipient not found", "mailbox not found", "address not found", "account not found", "does not exist", "doesn't exist", "not exist", "invalid recipient", "invalid mailbox", "invalid address", "not a valid mailbox", "mailbox unavailable", "mailbox is unavailable", "no mailbox", "unknown local part", "unknown or illegal", "bad destination mailbox", "undeliverable address", "recipient rejected", "user doesn't have", "not listed in", "unknown in virtual", "unknown in local", "unknown in relay"}},
	{Name: "text-expired", Kind: BounceOther, Any: []string{"retry timeout exceeded", "have been failing for a long time", "message expired", "delivery time expired", "too long in queue", "queue lifetime"}},
}

var gsmtp = []string{"gsmtp", "support.google.com", "gmail"}

// NamedSignature returns the name of the provider signature a reply
// matches ("gmail-4.7.28-rate", "ms-s3150-blocklist"), for the cockpit's
// response lists. Generic text rules are not names.
func NamedSignature(text string) (name string, ok bool) {
	if text == "" {
		return "", false
	}
	v := ClassifyBounce(BounceInput{Text: text})
	if v.Provider == "" {
		return "", false
	}
	return v.Rule, true
}

// ClassifyBounce classifies one failure: first the table (provider
// signatures, then generic text), then the enhanced status code when it is
// specific, then PowerMTA's bounce category, then the reply code.
//
// Hard needs all of: a mailbox-invalid kind, no sign of a temporary failure
// (4xx, 4.X.X), a reply about the recipient (not the sender or the
// session), and, under an X.7.X status, words that name the mailbox: see
// the rule written out after this function.
func ClassifyBounce(in BounceInput) BounceVerdict {
	var v BounceVerdict
	text := in.Text
	if len(text) > 2048 {
		text = text[:2048]
	}
	n := normalizeReply(text)
	st := cleanStatus(in.Status)
	if st == "" || isGenericStatus(st) && n.status != "" {
		st = cmpOr(n.status, st)
	}
	v.Status = st
	v.Code = in.Code
	if v.Code == 0 {
		v.Code = n.code
	}
	v.Temporary = st != "" && st[0] == '4' || st == "" && v.Code/100 == 4
	policy := subjectSeven(st) || subjectSeven(n.status) || subjectSeven(cleanStatus(in.Status))

	m := bounceMatcher()
	var inFull, inGeneric fragSet
	m.scan(n.full, &inFull)
	m.scan(n.generic, &inGeneric)
	for i := range m.rules {
		r := &m.rules[i]
		if r.Status != "" && !statusMatches(r.Status, st) && !statusMatches(r.Status, n.status) {
			continue
		}
		found := &inGeneric
		if r.Provider != "" {
			found = &inFull
		}
		if !found.any(r.any) || !found.all(r.all) {
			continue
		}
		v.Kind, v.Rule, v.Provider = r.Kind, r.Name, r.Provider
		break
	}
	if v.Kind == BounceNone {
		v.Kind = kindOfStatus(st)
	}
	if v.Kind == BounceNone {
		v.Kind = kindOfBounceCat(in.BounceCat)
	}
	if v.Kind == BounceNone {
		v.Kind = kindOfReply(v.Code)
	}
	if v.Kind == BounceNone {
		v.Kind = BounceOther
	}
	switch {
	case v.Kind.MailboxInvalid() && senderSide(st, n):
		// The reply is about the sender or the session, whatever its
		// words: "550 5.1.8 Sender address rejected: Domain not found".
		v.Kind, v.Rule, v.Provider = BounceAuth, "sender-stage", ""
	case v.Kind == BounceHostUnknown && otherName(text, in.Domain):
		v.Kind, v.Rule, v.Provider = BounceOther, "dns-other-name", ""
	}
	if policy && v.Kind.MailboxInvalid() && x7Mailbox(v, n) {
		policy = false // X.7: the words decide (see the rule below)
	}
	v.Hard = v.Kind.MailboxInvalid() && !v.Temporary && !policy && v.Code/100 != 4
	return v
}

// The hard-bounce rule, in full. An address is suppressed only when all of
// these hold:
//
//   - the kind is mailbox-invalid (user unknown, host unknown, inactive);
//   - nothing says the failure is temporary: no 4xx reply, no 4.X.X status;
//   - the reply is not about the sender or the session: no SMTP stage
//     before RCPT named ("after MAIL FROM", "in reply to MAIL FROM
//     command", HELO/EHLO, "Sender address rejected", "Helo command
//     rejected", "Domain of sender address", "my name was rejected"), and
//     no sender status X.1.7 / X.1.8 (RFC 3463: bad sender's mailbox
//     address syntax / system address);
//   - a host-unknown verdict from a name service error names the
//     recipient's own domain ("name=X" where X is another host, say an MX
//     target, tells nothing about the recipient);
//   - under X.7.0, X.7.1 or X.7.13 the words decide, never the code (the
//     other X.7 codes name a security reason and are never hard): the
//     reply must match a provider mailbox signature or the
//     generic user-unknown rule ("Mailbox does not exist", "Invalid
//     recipient", "User unknown"), or, for inactive, name the mailbox,
//     recipient or user account ("5.7.13 User account disabled": RFC 4954
//     defines X.7.13 for the authenticated client, but an MX answering
//     RCPT has no such client, so the account is the recipient's). Block,
//     spam, authentication and rate words come earlier in the table and
//     win, so "5.7.1 Recipient address rejected: Access denied" stays
//     policy. Host-unknown under X.7 is never hard.

// senderSide reports a reply about the sender or the session rather than
// the recipient: the SMTP stage it names, sender wording, or a sender
// status code.
func senderSide(st string, n normalized) bool {
	for _, s := range []string{st, n.status} {
		if len(s) >= 5 && (s[1:] == ".1.7" || s[1:] == ".1.8") {
			return true
		}
	}
	g := n.full // "after MAIL FROM:<a@b.example>" is a host-like token
	for _, f := range senderStage {
		if strings.Contains(g, f) {
			return true
		}
	}
	return false
}

// senderStage are the words that place a reply before RCPT TO or on the
// sender (normalised: lower case, addresses as <addr>).
var senderStage = []string{
	"after mail from", "after mail <addr>", "in reply to mail from", "mail from command", "reply to mail from",
	"after helo", "after ehlo", "in reply to helo", "in reply to ehlo", "helo command rejected", "ehlo command rejected",
	"my name was rejected", "sender address rejected", "domain of sender address", "sender domain", "sender verify failed",
	"sender rejected", "rejected sender", "sender address invalid", "invalid sender", "bad sender", "sender unknown",
	"unknown sender", "sender not found", "sender does not exist", "envelope sender", "return path", "return-path",
	"mail from address", "from address rejected", "in reply to initial greeting", "while connected", "after connect",
	"client host rejected", "helo/ehlo",
}

// otherName reports a name service error for a name that is not the
// recipient's domain ("Name service error for name=mx1.example.net type=A").
func otherName(text, domain string) bool {
	i := strings.Index(strings.ToLower(text), "name=")
	if i < 0 || domain == "" {
		return false
	}
	name := text[i+5:]
	if j := strings.IndexAny(name, " \t,;:)"); j >= 0 {
		name = name[:j]
	}
	name = strings.TrimSuffix(name, ".")
	return name != "" && !strings.EqualFold(name, strings.TrimSuffix(domain, "."))
}

// x7Mailbox reports whether a mailbox-invalid verdict under an X.7 status
// rests on words that name the mailbox (see the rule above).
func x7Mailbox(v BounceVerdict, n normalized) bool {
	// Only the unspecific X.7 codes (other, not authorized) and X.7.13; the
	// others name a security reason (authentication, encryption, banned IP).
	for _, s := range []string{v.Status, n.status} {
		if subjectSeven(s) && s[2:] != "7.0" && s[2:] != "7.1" && s[2:] != "7.13" {
			return false
		}
	}
	switch {
	case v.Provider != "" && v.Kind.MailboxInvalid():
		return true
	case v.Rule == "text-user-unknown":
		return true
	case v.Kind == BounceInactive:
		for _, w := range []string{"mailbox", "recipient", "user account"} {
			if strings.Contains(n.generic, w) {
				return true
			}
		}
	}
	return false
}

// EventClass is the hard/soft class of an MTA log event: a bounce is hard
// only when ClassifyBounce says so; deferrals, held and expired recipients
// are soft; deliveries and complaints have no class.
func EventClass(ev *Event) BounceClass {
	switch ev.Outcome {
	case Deferred, Held, Expired:
		return ClassSoft
	case Bounced:
		dom := ev.Domain
		if dom == "" {
			dom = DomainOf(ev.Recipient)
		}
		return bounceClassMemo(ev.Status, ev.Response, ev.BounceCat, dom)
	}
	return ClassNone
}

// The same reply for thousands of recipients differs only in addresses and
// ids, so hard/soft is memoised on the status, the bounceCat and a hash of
// the reply with addresses and long numbers masked (the tokens Signature
// replaces); classifying costs about 7 µs, a memo hit well under one.
//
// The memo is read by every scanning goroutine of the pipeline at once: a
// mutex made them queue behind each other (sync.Map reads take no lock).
var (
	classMemo    sync.Map // classKey → BounceClass
	classMemoLen atomic.Int64
)

type classKey struct {
	status, cat, domain string
	reply               uint64
}

func bounceClassMemo(status, text, cat, domain string) BounceClass {
	if len(text) > 2048 {
		text = text[:2048] // as ClassifyBounce
	}
	key := classKey{status: status, cat: cat, reply: maskedHash(text)}
	if strings.Contains(text, "ame=") || strings.Contains(text, "AME=") {
		// Only a name service error depends on the domain (otherName).
		key.domain = domain
	}
	if c, ok := classMemo.Load(key); ok {
		return c.(BounceClass)
	}
	c := ClassSoft
	if ClassifyBounce(BounceInput{Status: status, Text: text, BounceCat: cat, Domain: domain}).Hard {
		c = ClassHard
	}
	if classMemoLen.Add(1) > 8192 {
		classMemo.Clear()
		classMemoLen.Store(0)
	}
	classMemo.Store(key, c)
	return c
}

// maskedHash is FNV-1a over the reply's tokens, with a token holding an
// address or an id (the tokens Signature turns into <addr> and #) hashed as
// a fixed mark, so replies that differ only there share a key.
func maskedHash(text string) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(text); {
		start, j, kind := replyToken(text, i)
		if start == j {
			break
		}
		switch kind {
		case tokAddr:
			h = (h ^ 1) * prime
		case tokID:
			h = (h ^ 2) * prime
		default:
			for k := start; k < j; k++ {
				h = (h ^ uint64(text[k])) * prime
			}
		}
		h = (h ^ ' ') * prime
		i = j
	}
	return h
}

// IsFeedbackType reports an ARF Feedback-Type value (RFC 5965 and the IANA
// registry), which is what complaint events carry as their response text.
func IsFeedbackType(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "abuse", "fraud", "virus", "other", "not-spam", "auth-failure", "opt-out", "complaint":
		return true
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// normalized is a reply prepared for matching.
type normalized struct {
	full    string // lower case, addresses as <addr>, continuation codes dropped
	generic string // full without host names, URLs and IPs
	code    int    // first reply code
	status  string // first enhanced status code
}

// normalizeReply lower-cases the reply, collapses white space, replaces
// addresses (a recipient called "spam-desk@" must not read as a spam block),
// drops the repeated "550-5.1.1" prefixes of joined multi-line replies and,
// for the generic rules, host names and URLs ("mx.spamhero.example said:"
// is not a block either).
func normalizeReply(s string) normalized {
	var n normalized
	var full, gen strings.Builder
	full.Grow(len(s))
	gen.Grow(len(s))
	emit := func(tok string, generic bool) {
		if full.Len() > 0 {
			full.WriteByte(' ')
		}
		full.WriteString(tok)
		if !generic {
			return
		}
		if gen.Len() > 0 {
			gen.WriteByte(' ')
		}
		gen.WriteString(tok)
	}
	rest := strings.ToLower(s)
	for {
		lt, r, ok := nextToken(rest)
		if !ok {
			break
		}
		rest = r
		core := trimPunct(lt)
		if strings.HasPrefix(core, "smtp;") { // Diagnostic-Code type
			core = strings.TrimPrefix(core, "smtp;")
			lt = core
		}
		if code, word, ok := splitCodeWord(core); ok {
			// "550-Reject": a joined reply line without an enhanced
			// code. The first code is kept, the word always.
			if n.code == 0 {
				n.code = code
				emit(core[:3], true)
			}
			core, lt = word, word
		}
		if c, st, isCode := replyCodeToken(core); isCode {
			switch {
			case n.code == 0:
				n.code = c
			case c == n.code && (st == "" || st == n.status):
				continue // a continuation line's code
			}
			if st != "" && n.status == "" {
				n.status = st
			}
		} else if statusLike(core) && validStatus(trimStatusPunct(core)) {
			st := trimStatusPunct(core)
			if n.status == "" {
				n.status = st
			} else if st == n.status {
				continue
			}
		}
		if strings.IndexByte(core, '@') >= 0 {
			lt = "<addr>"
		}
		emit(lt, !hostLike(core))
	}
	n.full, n.generic = full.String(), gen.String()
	return n
}

// trimPunct cuts brackets, quotes and separators around a token.
func trimPunct(t string) string {
	isP := func(c byte) bool {
		switch c {
		case '[', ']', '(', ')', '<', '>', '{', '}', ',', ';', ':', '"', '\'', '#':
			return true
		}
		return false
	}
	for len(t) > 0 && isP(t[0]) {
		t = t[1:]
	}
	for len(t) > 0 && isP(t[len(t)-1]) {
		t = t[:len(t)-1]
	}
	return t
}

// nextToken returns the next run of non-space bytes.
func nextToken(s string) (tok, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] <= ' ' || s[i] == 0x7f) {
		i++
	}
	if i == len(s) {
		return "", "", false
	}
	j := i
	for j < len(s) && s[j] > ' ' && s[j] != 0x7f {
		j++
	}
	return s[i:j], s[j:], true
}

// splitCodeWord splits "550-reject" into 550 and "reject" (a word, not an
// enhanced code).
func splitCodeWord(t string) (int, string, bool) {
	if len(t) < 5 || t[3] != '-' || t[0] < '2' || t[0] > '5' || !isDigit(t[1]) || !isDigit(t[2]) || isDigit(t[4]) {
		return 0, "", false
	}
	return int(t[0]-'0')*100 + int(t[1]-'0')*10 + int(t[2]-'0'), t[4:], true
}

// replyCodeToken recognises "550", "550-5.1.1" and "550-" (the forms a
// reply code takes at the start of a reply line) and returns the code and
// an attached status.
func replyCodeToken(t string) (code int, status string, ok bool) {
	if len(t) < 3 || t[0] < '2' || t[0] > '5' || !isDigit(t[1]) || !isDigit(t[2]) {
		return 0, "", false
	}
	code = int(t[0]-'0')*100 + int(t[1]-'0')*10 + int(t[2]-'0')
	switch {
	case len(t) == 3:
		return code, "", true
	case t[3] == '-' || t[3] == ' ':
		st := trimStatusPunct(t[4:])
		if st == "" {
			return code, "", true
		}
		if validStatus(st) {
			return code, st, true
		}
	}
	return 0, "", false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// trimStatusPunct cuts what follows an enhanced code inside a token
// ("5.1.1:" or "5.7.1,").
func trimStatusPunct(t string) string {
	end := 0
	for end < len(t) && (isDigit(t[end]) || t[end] == '.') {
		end++
	}
	return strings.TrimRight(t[:end], ".")
}

// validStatus checks class.subject.detail: class 2, 4 or 5, subject and
// detail 1-3 digits.
func validStatus(s string) bool {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return false
	}
	parts := strings.Split(s[2:], ".")
	if len(parts) != 2 {
		return false
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return false
			}
		}
	}
	return true
}

// cleanStatus takes the code out of a reported status ("5.2.1 (mailbox
// disabled)", "smtp; 5.1.1"); "" when there is none.
func cleanStatus(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	if i := strings.IndexAny(s, " \t("); i >= 0 {
		s = s[:i]
	}
	s = trimStatusPunct(s)
	if !validStatus(s) {
		return ""
	}
	return s
}

// isGenericStatus: X.0.0 says nothing the reply text does not say better.
func isGenericStatus(s string) bool { return strings.HasSuffix(s, ".0.0") }

func subjectSeven(s string) bool { return len(s) >= 4 && s[2] == '7' && s[3] == '.' }

// hostLike reports host names, IP addresses and URLs: tokens with a dot or
// slash between word characters that are not status codes or numbers.
func hostLike(t string) bool {
	if strings.Contains(t, "://") || strings.HasPrefix(t, "www.") {
		return true
	}
	letters, dotInside := false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'a' && c <= 'z' {
			letters = true
		}
		if (c == '.' || c == '/') && i > 0 && i < len(t)-1 && isWord(t[i-1]) && isWord(t[i+1]) {
			dotInside = true
		}
	}
	if !dotInside {
		return false
	}
	if !letters {
		// 203.0.113.5 is an IP; 5.1.1 and 554.30 are codes.
		return strings.Count(t, ".") == 3
	}
	return true
}

func isWord(c byte) bool { return c >= 'a' && c <= 'z' || isDigit(c) || c == '-' || c == '_' }

// statusMatches matches a rule's Status pattern against a code.
func statusMatches(pat, st string) bool {
	if st == "" {
		return false
	}
	if pat[0] == '?' {
		if st[0] != '4' && st[0] != '5' {
			return false
		}
		pat, st = pat[1:], st[1:]
	}
	if i := strings.IndexByte(pat, '-'); i >= 0 {
		// "5.7.606-649": same class.subject, detail in range.
		lo := pat[:i]
		j := strings.LastIndexByte(lo, '.')
		if j < 0 || len(st) <= j || st[:j+1] != lo[:j+1] {
			return false
		}
		d, err1 := strconv.Atoi(st[j+1:])
		a, err2 := strconv.Atoi(lo[j+1:])
		b, err3 := strconv.Atoi(pat[i+1:])
		return err1 == nil && err2 == nil && err3 == nil && d >= a && d <= b
	}
	return pat == st
}

// kindOfStatus maps a specific enhanced status code (RFC 3463, with
// sisimai's reasons as a guide) to a kind; BounceNone for X.0.0 and codes
// that say nothing about the cause.
func kindOfStatus(st string) BounceKind {
	if st == "" || isGenericStatus(st) || st[0] == '2' {
		return BounceNone
	}
	sd := st[2:] // subject.detail
	switch sd {
	case "1.1", "1.3":
		return BounceUserUnknown
	case "1.2", "1.10", "4.4":
		return BounceHostUnknown
	case "1.6", "2.1":
		return BounceInactive
	case "2.2":
		return BounceMailboxFull
	case "2.3", "3.4":
		return BounceContent
	case "4.7":
		return BounceOther // expired
	case "7.13":
		return BounceInactive // user account disabled (never hard: X.7)
	case "7.20", "7.21", "7.22", "7.23", "7.24", "7.25", "7.26", "7.27", "7.29", "7.30", "7.32", "7.40", "7.8", "7.4", "7.5", "7.10", "7.11", "7.15":
		return BounceAuth
	case "7.28":
		return BounceReputation
	}
	switch sd[0] {
	case '6':
		return BounceContent
	case '7':
		return BouncePolicy
	case '1', '2', '3', '4', '5':
		return BounceOther
	}
	return BounceNone
}

// kindOfBounceCat maps PowerMTA's bounce categories.
func kindOfBounceCat(cat string) BounceKind {
	switch strings.ToLower(strings.TrimSpace(cat)) {
	case "bad-mailbox":
		return BounceUserUnknown
	case "bad-domain":
		return BounceHostUnknown
	case "inactive-mailbox":
		return BounceInactive
	case "quota-issues":
		return BounceMailboxFull
	case "policy-related", "spam-related":
		return BouncePolicy
	case "content-related", "virus-related":
		return BounceContent
	case "":
		return BounceNone
	}
	// bad-configuration, bad-connection, invalid-sender, message-expired,
	// no-answer-from-host, other, protocol-errors, relaying-issues,
	// routing-errors: not a verdict on the recipient.
	return BounceOther
}

// kindOfReply is the last resort: 552 is "exceeded storage allocation"
// (RFC 5321); the other codes are too ambiguous.
func kindOfReply(code int) BounceKind {
	switch code {
	case 0:
		return BounceNone
	case 452, 552:
		return BounceMailboxFull
	}
	return BounceOther
}

// The fragments of every rule are found in one pass over the reply with an
// Aho-Corasick automaton: testing some 260 fragments one strings.Contains
// at a time cost ~20 µs a reply, which a backfill of a bounce-heavy log
// notices.

// maxFrags bounds the fragments (fixed-size sets, no allocation per reply).
const maxFrags = 512

type fragSet [maxFrags / 64]uint64

func (s *fragSet) add(id uint16)      { s[id>>6] |= 1 << (id & 63) }
func (s *fragSet) has(id uint16) bool { return s[id>>6]&(1<<(id&63)) != 0 }

func (s *fragSet) any(ids []uint16) bool {
	if len(ids) == 0 {
		return true
	}
	for _, id := range ids {
		if s.has(id) {
			return true
		}
	}
	return false
}

func (s *fragSet) all(ids []uint16) bool {
	for _, id := range ids {
		if !s.has(id) {
			return false
		}
	}
	return true
}

type compiledRule struct {
	BounceRule
	any, all []uint16
}

type matcher struct {
	rules []compiledRule
	class [256]uint8 // byte → alphabet class; 0 = in no fragment
	width int        // classes
	delta []uint16   // state*width + class → state (a complete DFA)
	out   [][]uint16 // fragments ending in a state (with its suffixes')
}

var (
	matcherOnce sync.Once
	theMatcher  *matcher
)

// bounceMatcher compiles BounceRules on first use; the table is read-only
// from then on.
func bounceMatcher() *matcher {
	matcherOnce.Do(func() { theMatcher = compileRules(BounceRules) })
	return theMatcher
}

func compileRules(rules []BounceRule) *matcher {
	m := &matcher{}
	ids := map[string]uint16{}
	var frags []string
	idsOf := func(fs []string) []uint16 {
		var out []uint16
		for _, f := range fs {
			id, ok := ids[f]
			if !ok {
				if len(frags) >= maxFrags {
					panic("model: more than 512 bounce rule fragments")
				}
				id = uint16(len(frags))
				ids[f] = id
				frags = append(frags, f)
			}
			out = append(out, id)
		}
		return out
	}
	for _, r := range rules {
		m.rules = append(m.rules, compiledRule{BounceRule: r, any: idsOf(r.Any), all: idsOf(r.All)})
	}
	m.width = 1
	for _, f := range frags {
		for i := 0; i < len(f); i++ {
			if m.class[f[i]] == 0 {
				m.class[f[i]] = uint8(m.width)
				m.width++
			}
		}
	}
	// Trie, in a flat table (state*w + class → child; 0 = no edge, the
	// root being no one's child): maps per node made the compile cost
	// 25 ms on every start. Inserted in sorted order, the fragments share
	// each prefix with the one before, which gives the exact node count:
	// one allocation, where growing the table node by node was most of the
	// compile (this runs in every process that classifies a reply).
	w := m.width
	order := make([]int, len(frags))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return frags[order[a]] < frags[order[b]] })
	n := 1
	prev := ""
	for _, id := range order {
		f := frags[id]
		lcp := 0
		for lcp < len(f) && lcp < len(prev) && f[lcp] == prev[lcp] {
			lcp++
		}
		n += len(f) - lcp
		prev = f
	}
	// next becomes the DFA in place (below), so it is m.delta.
	next := make([]uint16, n*w)
	outs := make([][]uint16, n)
	nodes := 1
	for _, id := range order {
		f := frags[id]
		s := 0
		for i := 0; i < len(f); i++ {
			c := int(m.class[f[i]])
			nx := int(next[s*w+c])
			if nx == 0 {
				nx = nodes
				nodes++
				next[s*w+c] = uint16(nx)
			}
			s = nx
		}
		outs[s] = append(outs[s], uint16(id))
	}
	// Breadth-first: failure links folded into complete transitions. A
	// state's failure is shallower, so its row is final when the state's
	// own row is rewritten: the table can turn into the DFA in place.
	m.delta = next
	m.out = make([][]uint16, n)
	fail := make([]uint16, n)
	queue := make([]uint16, 0, n)
	for c := 1; c < w; c++ {
		if nx := next[c]; nx != 0 {
			queue = append(queue, nx)
		}
	}
	m.out[0] = outs[0]
	for q := 0; q < len(queue); q++ {
		s := int(queue[q])
		f := int(fail[s])
		if len(m.out[f]) == 0 {
			m.out[s] = outs[s]
		} else {
			m.out[s] = append(append([]uint16(nil), outs[s]...), m.out[f]...)
		}
		row, frow := m.delta[s*w:(s+1)*w], m.delta[f*w:(f+1)*w]
		for c := 1; c < w; c++ {
			if nx := row[c]; nx != 0 {
				fail[nx] = frow[c]
				queue = append(queue, nx)
			} else {
				row[c] = frow[c]
			}
		}
	}
	return m
}

// scan adds to set every fragment that occurs in s.
func (m *matcher) scan(s string, set *fragSet) {
	st := 0
	w := m.width
	for i := 0; i < len(s); i++ {
		st = int(m.delta[st*w+int(m.class[s[i]])])
		for _, id := range m.out[st] {
			set.add(id)
		}
	}
}

// FeedbackComplains reports whether a feedback report of this
// Feedback-Type is a recipient's complaint: abuse, fraud and other (and no
// type at all, as in Microsoft's JMRP), but not not-spam, auth-failure (a
// DMARC failure report) or virus (a filter's finding).
func FeedbackComplains(feedbackType string) bool {
	switch strings.ToLower(strings.TrimSpace(feedbackType)) {
	case "not-spam", "auth-failure", "virus", "dkim", "opt-out":
		return false
	}
	return true
}

// RedactedAddress reports an address a feedback loop hid: "redacted@",
// "xxxxxxx@", "****@", or an empty local part. Such an address names
// nobody and must not be suppressed.
func RedactedAddress(a string) bool {
	local := a
	if at := strings.LastIndexByte(a, '@'); at >= 0 {
		local = a[:at]
	}
	local = strings.ToLower(strings.Trim(local, "<>\" "))
	if local == "" || strings.Contains(local, "redacted") || strings.Contains(local, "*") {
		return true
	}
	return strings.Trim(local, "x") == "" && len(local) >= 3
}
