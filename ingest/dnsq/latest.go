package dnsq

import (
	"encoding/json"
	"fmt"

	"cutover/model/auth"
	"cutover/state"
	"cutover/state/dnsobs"
)

// SaveReport stores rep as the latest check (bucket dnsobs).
func SaveReport(db *state.DB, rep *Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return dnsobs.PutLatest(db, b)
}

// LoadReport returns the latest stored check (nil, nil when none yet).
func LoadReport(db *state.DB) (*Report, error) {
	b, err := dnsobs.Latest(db)
	if err != nil || b == nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("stored dns check report: %w", err)
	}
	return &rep, nil
}

// Sample is one Prometheus gauge value of a report.
type Sample struct {
	Name   string // without the cutover_ prefix
	Labels []string
	Values []string
	Value  float64
}

// SampleHelp documents the gauges Samples returns.
var SampleHelp = map[string]struct {
	Help   string
	Labels []string
}{
	"dns_check":                     {"Worst severity per dns check group (0 OK, 1 WARN, 2 CRIT, 3 could not tell), from the latest check.", []string{"check"}},
	"spf_lookups":                   {"DNS lookups of an SPF record's tree: count=\"rfc\" (RFC 7208) or \"strict\" (plus one per MX host, as checkdmarc counts).", []string{"name", "count"}},
	"dnsbl_listed":                  {"1 when a NEW IP is LISTED on a DNSBL zone, 0 when clean, -1 when it could not be checked.", []string{"ip", "zone"}},
	"dns_checked_timestamp_seconds": {"Time of the latest dns check.", nil},
}

// Samples turns the report into gauges (wave2 §9 names).
func (r *Report) Samples() []Sample {
	var out []Sample
	worst := map[string]auth.Severity{}
	for _, c := range Checks {
		worst[c] = -1
	}
	for _, f := range r.Findings {
		if w, ok := worst[f.Check]; ok {
			if w < 0 {
				worst[f.Check] = f.Severity
			} else {
				worst[f.Check] = auth.Worse(w, f.Severity)
			}
		}
	}
	for _, c := range Checks {
		if worst[c] >= 0 {
			out = append(out, Sample{Name: "dns_check", Labels: []string{"check"}, Values: []string{c}, Value: float64(ExitCode(worst[c]))})
		}
	}
	for _, s := range r.SPF {
		out = append(out,
			Sample{Name: "spf_lookups", Labels: []string{"name", "count"}, Values: []string{s.Domain, "rfc"}, Value: float64(s.RFC)},
			Sample{Name: "spf_lookups", Labels: []string{"name", "count"}, Values: []string{s.Domain, "strict"}, Value: float64(s.Strict)})
	}
	for _, l := range r.DNSBL {
		v := 0.0
		switch l.Status {
		case auth.Listed:
			v = 1
		case auth.Unchecked:
			v = -1
		}
		out = append(out, Sample{Name: "dnsbl_listed", Labels: []string{"ip", "zone"}, Values: []string{l.IP, l.Zone}, Value: v})
	}
	if !r.Checked.IsZero() {
		out = append(out, Sample{Name: "dns_checked_timestamp_seconds", Value: float64(r.Checked.UnixNano()) / 1e9})
	}
	return out
}
