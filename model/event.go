// Package model holds cutover's pure domain types: recipient outcomes, sides,
// mailbox-provider classification and response signatures. It imports the
// standard library only, so every other package can share it.
package model

import (
	"fmt"
	"strings"
	"time"
)

// Side says which MTA of the cutover an event belongs to.
type Side uint8

const (
	SideUnknown Side = iota
	SideOld
	SideNew
)

func (s Side) String() string {
	switch s {
	case SideOld:
		return "old"
	case SideNew:
		return "new"
	}
	return "unknown"
}

// ParseSide accepts "old" or "new" (any case).
func ParseSide(s string) (Side, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "old":
		return SideOld, nil
	case "new":
		return SideNew, nil
	}
	return SideUnknown, fmt.Errorf("side %q: want old or new", s)
}

// Outcome is what happened to one recipient on one attempt.
type Outcome uint8

const (
	OutcomeNone Outcome = iota
	Delivered
	// Deferred is a temporary failure after a delivery attempt.
	Deferred
	// Held is a deferral logged without any delivery attempt (Postfix
	// "delivery temporarily suspended", Exim "retry time not reached"), kept
	// apart so that a dead destination does not inflate the attempt rate.
	Held
	// Bounced is a permanent failure that is not an expiry.
	Bounced
	// Expired is a recipient given up after retries.
	Expired
	Complaint
	numOutcomes
)

// NumOutcomes is the number of real outcomes (for fixed-width counters).
const NumOutcomes = int(numOutcomes)

var outcomeNames = [...]string{"none", "delivered", "deferred", "held", "bounced", "expired", "complaint"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", o)
}

// ParseOutcome is the inverse of String.
func ParseOutcome(s string) (Outcome, bool) {
	for i, n := range outcomeNames {
		if n == s && i != 0 {
			return Outcome(i), true
		}
	}
	return OutcomeNone, false
}

// BounceClass separates mailbox-invalid failures (hard) from everything else.
type BounceClass uint8

const (
	ClassNone BounceClass = iota
	ClassSoft
	ClassHard
)

func (c BounceClass) String() string {
	switch c {
	case ClassSoft:
		return "soft"
	case ClassHard:
		return "hard"
	}
	return ""
}

// Event is one recipient outcome read from an MTA log line.
type Event struct {
	Time      time.Time
	Side      Side
	MTA       string // configured MTA name, e.g. "pmta-new"
	Kind      string // pmta | postfix | exim
	SourceIP  string // local IP used for delivery, when logged
	VMTA      string // PowerMTA virtual MTA
	Pool      string // PowerMTA vmta pool
	Transport string // Postfix transport (syslog name) or Exim transport
	Router    string // Exim router
	Relay     string // remote host as logged
	QueueID   string
	Recipient string // as logged (not normalised)
	Domain    string // lower-case recipient domain
	Outcome   Outcome
	Status    string // enhanced status code, e.g. 5.1.1
	Class     BounceClass
	BounceCat string // PowerMTA bounceCat, when logged
	Response  string // remote reply or diagnostic text (untrusted)
	ISP       string // mailbox provider, filled by classification
}

// DomainOf returns the lower-cased domain part of an address, or "".
func DomainOf(addr string) string {
	addr = strings.TrimSpace(addr)
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "<"), ">")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(addr[i+1:], "."))
}

// ClassFor gives the hard/soft class of a failure from its enhanced status
// code. Only mailbox-invalid codes are hard: a 5.7.x policy or reputation block
// must never make an address look dead.
func ClassFor(o Outcome, status string) BounceClass {
	switch o {
	case Deferred, Held:
		return ClassSoft
	case Expired:
		return ClassSoft
	case Bounced:
	default:
		return ClassNone
	}
	switch {
	case strings.HasPrefix(status, "5.1.1"), strings.HasPrefix(status, "5.1.2"),
		strings.HasPrefix(status, "5.1.3"), strings.HasPrefix(status, "5.1.6"),
		strings.HasPrefix(status, "5.1.10"), strings.HasPrefix(status, "5.2.1"),
		strings.HasPrefix(status, "5.4.4"):
		return ClassHard
	}
	return ClassSoft
}
