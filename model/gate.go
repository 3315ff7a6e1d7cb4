package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The state-based gate items of wave2 §6.4 (6–10). EvaluateGate holds the
// count-based ones (1–5); the caller gathers what these need from the
// database, the DNS check and the suppression log, and the verdict of the
// whole gate is the worst item of both (AddItems).

// BlockSignatures are the named reply signatures (model/bounce.go) that mean
// a provider blocks the NEW IPs or their mail, not that it slows them down.
// Ten of them in the gate window fail the gate (§6.4 item 6).
var BlockSignatures = []string{
	"gmail-5.7.28-block", "gmail-5.7.1-reputation",
	"ms-s3140-blocklist", "ms-s3150-blocklist", "ms-5.7.606-649-banned-ip", "ms-5.7.511-banned-sender",
	"yahoo-tss09-deferral", "yahoo-bl-blocklist",
	"comcast-bl-blocklist", "cox-block", "att-dnsbl", "proofpoint-dnsbl", "dnsbl-url",
}

// IsBlockSignature reports whether name is one of BlockSignatures.
func IsBlockSignature(name string) bool { return slices.Contains(BlockSignatures, name) }

// BlockMin is how many block replies in the window fail the gate.
const BlockMin = 10

// GateBlocks is item 6: counts are the NEW side's non-delivered replies in
// the window by named signature (any name; only block signatures count);
// overlay names an active pacing overlay of class block ("" = none).
func GateBlocks(counts map[string]uint64, overlay string) GateItem {
	var total uint64
	var named []string
	for _, n := range sortedNames(counts) {
		if IsBlockSignature(n) && counts[n] > 0 {
			total += counts[n]
			named = append(named, fmt.Sprintf("%s %d", n, counts[n]))
		}
	}
	switch {
	case overlay != "":
		return GateItem{Name: "blocks", Verdict: GateFail, Reason: "pacing overlay of class block is active: " + overlay}
	case total >= BlockMin:
		return GateItem{Name: "blocks", Verdict: GateFail, Reason: fmt.Sprintf("%d block replies (limit %d): %s", total, BlockMin, strings.Join(named, ", "))}
	case total > 0:
		return GateItem{Name: "blocks", Verdict: GatePass, Reason: fmt.Sprintf("%d block replies, under %d: %s", total, BlockMin, strings.Join(named, ", "))}
	}
	return GateItem{Name: "blocks", Verdict: GatePass, Reason: "no block signature"}
}

func sortedNames(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// AuthInput is what item 7 needs from the latest `dns check`.
type AuthInput struct {
	Configured bool      // a [dns] section exists
	Checked    time.Time // zero: never checked
	State      string    // OK, WARN, CRIT, UNKNOWN
	DKIM       string    // the DKIM test signature: pass, fail, temperror, "" = not run
	Blocked    bool      // DMARC transition rule: NEW must stay at 0 %
	Pending    []string  // DNS changes of this step not past safe_at
}

// AuthMaxAge is how old the DNS check may be.
const AuthMaxAge = time.Hour

// GateAuth is item 7: no CRIT within the last hour, the DKIM test signature
// passes, the DMARC transition rule holds, DNS changes are past safe_at;
// else HOLD. Without a [dns] section there is nothing to judge: PASS, said.
func GateAuth(in AuthInput, now time.Time) GateItem {
	it := GateItem{Name: "auth", Verdict: GateHold}
	switch {
	case !in.Configured:
		it.Verdict, it.Reason = GatePass, "n/a: no [dns] section configured"
	case in.Checked.IsZero():
		it.Reason = "no dns check yet: run cutover dns check"
	case now.Sub(in.Checked) > AuthMaxAge:
		it.Reason = fmt.Sprintf("dns check is %s old (max %s): run cutover dns check", now.Sub(in.Checked).Round(time.Minute), AuthMaxAge)
	case in.State == "CRIT" || in.State == "UNKNOWN":
		it.Reason = "dns check " + in.State + " at " + in.Checked.UTC().Format(time.RFC3339)
	case in.DKIM != "" && in.DKIM != "pass":
		it.Reason = "DKIM test signature: " + in.DKIM
	case in.Blocked:
		it.Reason = "DMARC transition rule: NEW's DKIM does not pass aligned under an enforcing policy"
	case len(in.Pending) > 0:
		it.Reason = "DNS changes not yet past safe_at: " + strings.Join(in.Pending, ", ")
	default:
		it.Verdict = GatePass
		it.Reason = fmt.Sprintf("dns check %s at %s", in.State, in.Checked.UTC().Format(time.RFC3339))
		if in.DKIM == "pass" {
			it.Reason += ", DKIM test signature pass"
		}
	}
	return it
}

// SuppressionInput is the result of verifying the suppression log.
type SuppressionInput struct {
	Exists bool   // there is a log
	OK     bool   // the chain (and the index) verify
	Lines  int64  // lines verified
	Detail string // what failed
}

// GateSuppression is item 8: the suppression log verifies now, that is
// after its last append. No log yet is nothing to verify: PASS, said.
func GateSuppression(in SuppressionInput) GateItem {
	switch {
	case !in.Exists:
		return GateItem{Name: "suppression", Verdict: GatePass, Reason: "n/a: no suppression log yet"}
	case !in.OK:
		return GateItem{Name: "suppression", Verdict: GateHold, Reason: "suppress verify failed: " + in.Detail}
	}
	return GateItem{Name: "suppression", Verdict: GatePass, Reason: fmt.Sprintf("suppress verify passed (%d lines)", in.Lines)}
}

// ReputationInput is the imported reputation of the NEW side (issue 17's
// bucket); Imported false means nothing was imported.
type ReputationInput struct {
	Imported    bool
	SpamUpper   float64  // Postmaster spam-rate upper bound (fraction); < 0 = unknown
	DomainRep   string   // HIGH, MEDIUM, LOW, BAD, "" = unknown
	SNDSRed     []string // NEW IPs SNDS shows RED
	Listed      []string // NEW IPs LISTED on a block list
	Unchecked   bool     // some source could not be read (UNCHECKED)
	Description string   // where it came from
}

// GateReputation is item 9 (§6.4): FAIL on a spam-rate upper bound ≥
// 0.30 %, domain reputation LOW/BAD, an SNDS RED or a LISTED NEW IP;
// UNCHECKED passes with a warning; not imported is n/a.
func GateReputation(in ReputationInput) GateItem {
	it := GateItem{Name: "reputation", Verdict: GatePass}
	if !in.Imported {
		it.Reason = "n/a: not imported"
		return it
	}
	var bad []string
	if in.SpamUpper >= 0.003 {
		bad = append(bad, fmt.Sprintf("Postmaster spam-rate upper bound %.2f %% ≥ 0.30 %%", 100*in.SpamUpper))
	}
	if r := strings.ToUpper(in.DomainRep); r == "LOW" || r == "BAD" {
		bad = append(bad, "domain reputation "+r)
	}
	if len(in.SNDSRed) > 0 {
		bad = append(bad, "SNDS RED: "+strings.Join(in.SNDSRed, ", "))
	}
	if len(in.Listed) > 0 {
		bad = append(bad, "LISTED: "+strings.Join(in.Listed, ", "))
	}
	switch {
	case len(bad) > 0:
		it.Verdict, it.Reason = GateFail, strings.Join(bad, "; ")
	case in.Unchecked:
		it.Reason = "WARN: some reputation sources UNCHECKED"
	default:
		it.Reason = "reputation clean"
	}
	if in.Description != "" {
		it.Reason += " (" + in.Description + ")"
	}
	return it
}

// SourceGap is a source that was stale or unreachable during the window,
// for how long.
type SourceGap struct {
	Source string
	Stale  time.Duration
	Error  string
}

// SourceStaleMax is how long a source may lag before the data is not whole.
const SourceStaleMax = 15 * time.Minute

// GateSources is item 10: no source stale longer than SourceStaleMax in the
// window; else HOLD (the counts the other items judged are incomplete).
func GateSources(gaps []SourceGap) GateItem {
	var bad []string
	for _, g := range gaps {
		if g.Stale > SourceStaleMax {
			s := fmt.Sprintf("%s stale %s", g.Source, g.Stale.Round(time.Minute))
			if g.Error != "" {
				s += " (" + g.Error + ")"
			}
			bad = append(bad, s)
		}
	}
	if len(bad) > 0 {
		return GateItem{Name: "sources", Verdict: GateHold, Reason: "data not whole: " + strings.Join(bad, "; ")}
	}
	return GateItem{Name: "sources", Verdict: GatePass, Reason: fmt.Sprintf("no source stale > %s", SourceStaleMax)}
}

// AddItems appends items to r and raises its verdict to the worst.
func (r *GateResult) AddItems(items ...GateItem) {
	for _, it := range items {
		r.Items = append(r.Items, it)
		r.Verdict = max(r.Verdict, it.Verdict)
	}
}

// GateShareMin is the share of the window's volume a provider needs to be
// gated on its own (§6.4: ≥ 1 %); smaller ones count only in the totals.
const GateShareMin = 0.01

// GatedProviders returns the providers whose attempts are ≥ GateShareMin of
// the total, busiest first (ties by name), and the rest.
func GatedProviders(attempts map[string]uint64) (gated, rest []string) {
	var total uint64
	for _, n := range attempts {
		total += n
	}
	names := sortedNames(attempts)
	sort.SliceStable(names, func(i, j int) bool { return attempts[names[i]] > attempts[names[j]] })
	for _, n := range names {
		if total > 0 && float64(attempts[n]) >= GateShareMin*float64(total) {
			gated = append(gated, n)
		} else {
			rest = append(rest, n)
		}
	}
	return gated, rest
}

// WarmupFullShare is the share of min(wanted, cap) NEW must deliver on a day
// for the warm-up day to advance (SparkPost's automated warm-up rule).
const WarmupFullShare = 0.9

// WarmupRestartGap restarts the schedule after this long without NEW
// sending (SendGrid: re-warm after 30 days).
const WarmupRestartGap = 30 * 24 * time.Hour

// WarmupDayLog is one UTC day of NEW deliveries to a provider, and what
// the plan wanted that day.
type WarmupDayLog struct {
	Day       time.Time // UTC midnight
	Delivered uint64
	Wanted    int // step share × the provider's daily volume
}

// WarmupDay replays days (in time order) through the warm-up rules of §6.4:
// the warm-up day advances only on a day when NEW delivered ≥ 90 % of
// min(wanted, cap at the current warm-up day); a day with less does not
// count; more than 30 days without NEW sending restarts the schedule at day
// 1. It returns the warm-up day the next day runs at (1-based).
func WarmupDay(days []WarmupDayLog, ws WarmupSchedule, newIPs int) int {
	day := 1
	var lastSent time.Time
	for _, d := range days {
		if d.Delivered > 0 {
			if !lastSent.IsZero() && d.Day.Sub(lastSent) > WarmupRestartGap {
				day = 1
			}
			lastSent = d.Day
		}
		target := d.Wanted
		if per := ws.PerIPDaily(day); per > 0 {
			target = min(target, per*max(newIPs, 1))
		}
		if target > 0 && float64(d.Delivered) >= WarmupFullShare*float64(target) {
			day++
		}
	}
	return day
}
