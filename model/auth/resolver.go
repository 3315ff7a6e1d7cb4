// Package auth holds the e-mail authentication rules cutover checks and plans
// for the dual-MTA window: SPF (RFC 7208), DKIM key records (RFC 6376/8301),
// DMARC (RFC 7489 and RFC 9989), forward-confirmed reverse DNS, DNSBL answers
// and TTL pre-staging. It is pure: every DNS answer comes through the Resolver
// interface (ingest/dnsq implements it against real servers, tests against
// in-process ones), and the organizational-domain function is injected, so the
// package imports the standard library only.
package auth

import (
	"context"
	"fmt"
	"strings"
)

// Type is a DNS RR type number (RFC 1035 and successors).
type Type uint16

// The RR types the rules ask for.
const (
	TypeA     Type = 1
	TypeNS    Type = 2
	TypeCNAME Type = 5
	TypeSOA   Type = 6
	TypePTR   Type = 12
	TypeMX    Type = 15
	TypeTXT   Type = 16
	TypeAAAA  Type = 28
)

func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeCNAME:
		return "CNAME"
	case TypeSOA:
		return "SOA"
	case TypePTR:
		return "PTR"
	case TypeMX:
		return "MX"
	case TypeTXT:
		return "TXT"
	case TypeAAAA:
		return "AAAA"
	}
	return fmt.Sprintf("TYPE%d", uint16(t))
}

// Rcode is what a query ended with. NODATA is NoError with no record of the
// asked type; it is kept apart from NXDomain by Answer.NoData.
type Rcode int

const (
	NoError  Rcode = iota
	NXDomain       // the name does not exist (RFC 1035 RCODE 3)
	ServFail       // the server failed (RCODE 2)
	Refused        // the server refused (RCODE 5)
	Timeout        // no answer in time (UDP and TCP)
	OtherErr       // any other RCODE or a transport error
)

func (r Rcode) String() string {
	switch r {
	case NoError:
		return "NOERROR"
	case NXDomain:
		return "NXDOMAIN"
	case ServFail:
		return "SERVFAIL"
	case Refused:
		return "REFUSED"
	case Timeout:
		return "TIMEOUT"
	}
	return "ERROR"
}

// RR is one resource record of an answer.
type RR struct {
	Name string // owner name, lower case, without the trailing dot
	Type Type
	TTL  uint32
	// Data: the address (A/AAAA), target name (MX, PTR, CNAME, NS, no
	// trailing dot) or, for TXT, the strings joined without separator.
	Data string
	// Strings are the TXT character-strings as published (TXT only).
	Strings []string
	Pref    uint16 // MX preference
	Serial  uint32 // SOA serial
}

// Answer is the outcome of one query.
type Answer struct {
	Rcode  Rcode
	RRs    []RR   // records of the asked type (CNAMEs followed)
	Server string // who answered, for reports
	Err    error  // transport detail when Rcode is Timeout or OtherErr
	Size   int    // wire size of the response in octets (0 when unknown)
}

// NoData reports a NOERROR answer without a record of the asked type.
func (a Answer) NoData() bool { return a.Rcode == NoError && len(a.RRs) == 0 }

// Void is RFC 7208 §4.6.4's void lookup: NXDOMAIN, or NOERROR with no answer.
func (a Answer) Void() bool { return a.Rcode == NXDomain || a.NoData() }

// Temporary reports an answer that says nothing about the data (RFC 7208
// temperror, "could not tell" elsewhere).
func (a Answer) Temporary() bool {
	return a.Rcode == ServFail || a.Rcode == Timeout || a.Rcode == Refused || a.Rcode == OtherErr
}

// Describe is the answer in one line for reports.
func (a Answer) Describe() string {
	switch {
	case a.Rcode == NoError && len(a.RRs) == 0:
		return "NODATA"
	case a.Rcode == NoError:
		return fmt.Sprintf("%d record(s)", len(a.RRs))
	case a.Err != nil:
		return a.Rcode.String() + " (" + a.Err.Error() + ")"
	}
	return a.Rcode.String()
}

// Resolver answers DNS queries. Implementations must be safe for concurrent
// use; they decide which server is asked (authoritative, or one --server).
type Resolver interface {
	Lookup(ctx context.Context, name string, t Type) Answer
}

// Canon lower-cases a domain name and drops the trailing dot.
func Canon(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// Severity orders findings; the worst decides a check's state.
type Severity int

const (
	OK Severity = iota
	Info
	Warn
	Crit
	Unknown // could not tell (DNS failure): never reported as OK
)

func (s Severity) String() string {
	switch s {
	case OK:
		return "OK"
	case Info:
		return "INFO"
	case Warn:
		return "WARN"
	case Crit:
		return "CRIT"
	}
	return "UNKNOWN"
}

// MarshalText writes the severity's word (JSON output).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a word MarshalText wrote (a stored report).
func (s *Severity) UnmarshalText(b []byte) error {
	for _, v := range []Severity{OK, Info, Warn, Crit, Unknown} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}

// Worse returns the more severe of a and b. Crit outranks Unknown: a known
// failure is worse than not knowing.
func Worse(a, b Severity) Severity {
	rank := func(s Severity) int {
		switch s {
		case Crit:
			return 4
		case Unknown:
			return 3
		}
		return int(s)
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Finding is one observation of a check, with the record it is about.
type Finding struct {
	Severity Severity `json:"severity"`
	Check    string   `json:"check"`            // spf, dkim, dmarc, ptr, dnsbl, ttl
	Name     string   `json:"name"`             // the DNS name concerned
	Record   string   `json:"record,omitempty"` // the record text concerned (untrusted)
	Message  string   `json:"message"`
}

// Findings is a list with its worst severity.
type Findings []Finding

// Worst is the most severe finding's severity (OK when empty).
func (fs Findings) Worst() Severity {
	s := OK
	for _, f := range fs {
		s = Worse(s, f.Severity)
	}
	return s
}
