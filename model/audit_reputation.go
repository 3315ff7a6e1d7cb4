package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Reputation baseline kinds (wave2 §4.4: bucket "reputation").
const (
	RepPostmaster   = "postmaster"    // Gmail Postmaster Tools v1 TrafficStats, per domain per day
	RepPostmasterV2 = "postmaster-v2" // Postmaster Tools v2 metric or compliance rows, per domain per day
	RepSNDS         = "snds"          // Microsoft SNDS data, per IP per day
	RepSNDSStatus   = "snds-status"   // SNDS ipStatus: blocked ranges
	RepTalos        = "talos"         // Cisco Talos verdict, entered by hand
)

// ReputationRecord is one imported reputation row. Fields a kind does not
// have stay zero; Raw keeps the row as received (JSON) for what the fields
// leave out. Other features read these: the plan gate's "reputation when
// imported" item and the "Postmaster spam rate" alert.
type ReputationRecord struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject"`        // domain (Postmaster) or IP / range (SNDS, Talos)
	Date    string `json:"date,omitempty"` // YYYY-MM-DD; "" for Talos

	// Postmaster: the user-reported spam ratio as a fraction, at its upper
	// bound when the row has one (wave2 §4.5); HasSpam tells 0 from absent.
	SpamRate         float64            `json:"spam_rate,omitempty"`
	HasSpam          bool               `json:"has_spam,omitempty"`
	DomainReputation string             `json:"domain_reputation,omitempty"` // HIGH|MEDIUM|LOW|BAD (v1 only)
	Compliance       map[string]string  `json:"compliance,omitempty"`        // v2: SPF → COMPLIANT|NEEDS_WORK …
	Metrics          map[string]float64 `json:"metrics,omitempty"`           // v2 metric rows, v1 ratios

	// SNDS: GREEN|YELLOW|RED, the complaint rate as printed ("< 0.1%"), trap
	// hits, recipients; snds-status: Blocked.
	Filter        string `json:"filter,omitempty"`
	ComplaintRate string `json:"complaint_rate,omitempty"`
	TrapHits      int64  `json:"trap_hits,omitempty"`
	Recipients    int64  `json:"recipients,omitempty"`
	Blocked       bool   `json:"blocked,omitempty"`

	// Talos: Good|Neutral|Poor.
	Verdict string `json:"verdict,omitempty"`

	Source string          `json:"source,omitempty"` // file sha256:row, or "manual"
	Raw    json.RawMessage `json:"raw,omitempty"`
}

// Key is the record's identity in the bucket: kind/subject/date. A second
// import of the same row replaces it.
func (r ReputationRecord) Key() string {
	return r.Kind + "/" + strings.ToLower(r.Subject) + "/" + r.Date
}

// Bad reports whether the row is a warning sign: Postmaster spam rate at or
// above the complaint warn level or a LOW/BAD reputation, SNDS RED/YELLOW
// or trap hits, a blocked range, a Talos Poor, a v2 NEEDS_WORK row.
func (r ReputationRecord) Bad(th Thresholds) bool {
	th = th.WithDefaults()
	switch {
	case r.HasSpam && r.SpamRate >= th.Complaint.Warn,
		r.DomainReputation == "LOW" || r.DomainReputation == "BAD",
		r.Filter == "RED" || r.Filter == "YELLOW", r.TrapHits > 0, r.Blocked,
		strings.EqualFold(r.Verdict, "Poor"):
		return true
	}
	for _, v := range r.Compliance {
		if v == "NEEDS_WORK" {
			return true
		}
	}
	return false
}

// Summary is one line for the report and `reputation show`.
func (r ReputationRecord) Summary() string {
	var parts []string
	if r.HasSpam {
		parts = append(parts, fmt.Sprintf("spam %.2f%%", r.SpamRate*100))
	}
	if r.DomainReputation != "" {
		parts = append(parts, "domain "+r.DomainReputation)
	}
	var needs []string
	for _, k := range slices.Sorted(maps.Keys(r.Compliance)) {
		if r.Compliance[k] == "NEEDS_WORK" {
			needs = append(needs, k)
		}
	}
	if len(needs) > 0 {
		parts = append(parts, "NEEDS_WORK "+strings.Join(needs, ","))
	} else if len(r.Compliance) > 0 {
		parts = append(parts, "compliant")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
		parts = append(parts, fmt.Sprintf("%s %.4g", k, r.Metrics[k]))
	}
	if r.Filter != "" {
		parts = append(parts, "filter "+r.Filter)
	}
	if r.ComplaintRate != "" {
		parts = append(parts, "complaints "+r.ComplaintRate)
	}
	if r.Kind == RepSNDS {
		parts = append(parts, fmt.Sprintf("traps %d", r.TrapHits))
	}
	if r.Kind == RepSNDSStatus {
		parts = append(parts, map[bool]string{true: "blocked", false: "not blocked"}[r.Blocked])
	}
	if r.Verdict != "" {
		parts = append(parts, "talos "+r.Verdict)
	}
	return strings.Join(parts, " · ")
}
