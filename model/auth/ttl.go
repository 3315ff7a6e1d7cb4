package auth

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Obs is one authoritative server's answer for a record at one moment.
type Obs struct {
	At     time.Time `json:"at"`
	NS     string    `json:"ns"`
	Rcode  string    `json:"rcode"`
	TTL    uint32    `json:"ttl"`
	Data   string    `json:"rdata_sha256"` // hash of the sorted record data, TTL excluded
	Serial uint32    `json:"soa_serial"`
}

// TTLStatus is the pre-staging state of one record (§5.7).
type TTLStatus struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	TTLOld    uint32    `json:"ttl_old"`
	TTLLow    uint32    `json:"ttl_low"`
	LoweredAt time.Time `json:"lowered_at,omitzero"`
	SafeAt    time.Time `json:"safe_at,omitzero"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
	InSync    bool      `json:"in_sync"`
	State     string    `json:"state"` // proposed, lowered, safe, changed, early
	Findings  Findings  `json:"findings"`
	Severity  Severity  `json:"severity"`
}

// EvalTTL derives the pre-staging state from observations (each round of
// queries to all servers shares one At): TTL_old is the largest TTL any
// server served before lowering; lowered_at the first round where every
// server is in sync and serves at most ttlLow; safe_at = lowered_at +
// TTL_old; a data change seen before safe_at is early, by the time missing.
func EvalTTL(name, typ string, obs []Obs, ttlLow time.Duration, now time.Time) TTLStatus {
	st := TTLStatus{Name: name, Type: typ, TTLLow: uint32(ttlLow / time.Second), State: "proposed"}
	add := func(s Severity, msg string) {
		st.Findings = append(st.Findings, Finding{Severity: s, Check: "ttl", Name: name, Message: msg})
	}
	if ttlLow < time.Minute {
		add(Warn, fmt.Sprintf("ttl_low %s is below 60 s: some resolvers clamp very low TTLs", ttlLow))
	}
	rounds := map[time.Time][]Obs{}
	var times []time.Time
	for _, o := range obs {
		if _, ok := rounds[o.At]; !ok {
			times = append(times, o.At)
		}
		rounds[o.At] = append(rounds[o.At], o)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) == 0 {
		add(Unknown, "no observation yet")
		st.Severity = st.Findings.Worst()
		return st
	}
	baseline := ""
	for _, at := range times {
		round := rounds[at]
		inSync, maxTTL, allLow, data := true, uint32(0), true, round[0].Data
		for _, o := range round {
			if o.Rcode != "NOERROR" || o.Data != data || o.Serial != round[0].Serial {
				inSync = false
			}
			if o.TTL > maxTTL {
				maxTTL = o.TTL
			}
			if o.TTL > st.TTLLow {
				allLow = false
			}
		}
		st.InSync = inSync
		if st.LoweredAt.IsZero() {
			if maxTTL > st.TTLOld {
				st.TTLOld = maxTTL
			}
			if inSync && allLow {
				st.LoweredAt = at
			}
		}
		if baseline == "" && inSync {
			baseline = data
		}
		if st.ChangedAt.IsZero() && baseline != "" {
			for _, o := range round {
				if o.Rcode == "NOERROR" && o.Data != baseline {
					st.ChangedAt = at
				}
			}
		}
	}
	if !st.InSync {
		add(Warn, "NS not in sync (servers disagree on data or SOA serial): not pre-staged")
	}
	if !st.LoweredAt.IsZero() {
		st.SafeAt = st.LoweredAt.Add(time.Duration(st.TTLOld) * time.Second)
		st.State = "lowered"
		if !now.Before(st.SafeAt) {
			st.State = "safe"
		}
	}
	switch {
	case !st.ChangedAt.IsZero() && st.LoweredAt.IsZero():
		st.State = "early"
		add(Warn, fmt.Sprintf("HOLD: changed at %s before its TTL was lowered: resolvers may serve the old data for up to %d s", st.ChangedAt.UTC().Format(time.RFC3339), st.TTLOld))
	case !st.ChangedAt.IsZero() && st.ChangedAt.Before(st.SafeAt):
		st.State = "early"
		early := st.SafeAt.Sub(st.ChangedAt)
		add(Warn, fmt.Sprintf("HOLD: changed %d min before safe_at %s", int(math.Ceil(early.Minutes())), st.SafeAt.UTC().Format(time.RFC3339)))
	case !st.ChangedAt.IsZero():
		st.State = "changed"
		add(OK, "changed after safe_at")
	case st.State == "lowered":
		add(Info, fmt.Sprintf("lowered at %s; safe to change from %s", st.LoweredAt.UTC().Format(time.RFC3339), st.SafeAt.UTC().Format(time.RFC3339)))
	case st.State == "safe":
		add(OK, "TTL lowered long enough: safe to change since "+st.SafeAt.UTC().Format(time.RFC3339))
	default:
		add(Info, fmt.Sprintf("TTL %d s not yet lowered to %d s", st.TTLOld, st.TTLLow))
	}
	st.Severity = st.Findings.Worst()
	return st
}
