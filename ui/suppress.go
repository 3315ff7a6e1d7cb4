package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"cutover/mtactl"
	"cutover/state"
	ssup "cutover/state/suppress"
)

// SuppressionView is what the suppression view and the header warning
// show: totals of the canonical suppression log and the last verification
// of every target (`cutover suppress verify`).
type SuppressionView struct {
	Stats ssup.Stats
	// Targets are the last verification per target, sorted by name.
	Targets []mtactl.SuppressVerification
	Now     time.Time
	// Imports are the files of the import the owner runs now and of the
	// last ones it finished (running first); empty without an owner import.
	Imports []ImportFile `json:",omitempty"`
}

// SuppressionProvider is an optional interface of Data: a Data that has
// it gets the suppression view and the header warning.
type SuppressionProvider interface {
	SuppressionInfo() (*SuppressionView, error)
}

// MaxVerifyAge is how old a verification may be before the header calls it
// stale.
const MaxVerifyAge = 24 * time.Hour

// SuppressionData implements SuppressionProvider over the database: the
// log is opened read-only (no lock: fine next to an import or serve).
type SuppressionData struct {
	DB      *state.DB
	LogPath string // "" = suppressions.jsonl next to the database
	Now     func() time.Time
	// Imports, when set, are the owner's suppression imports (running and
	// recent files).
	Imports func() []ImportFile
}

// SuppressionInfo reads the log's index and the recorded verifications.
func (s *SuppressionData) SuppressionInfo() (*SuppressionView, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	v := &SuppressionView{Now: now()}
	if s.Imports != nil {
		v.Imports = s.Imports()
	}
	l, err := ssup.Open(s.DB, s.LogPath, ssup.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if v.Stats, err = l.Stats(); err != nil {
		return nil, err
	}
	if v.Targets, err = mtactl.SuppressVerifications(s.DB); err != nil {
		return nil, err
	}
	sort.Slice(v.Targets, func(i, j int) bool { return v.Targets[i].Target < v.Targets[j].Target })
	return v, nil
}

// TargetState is one target's line: "not verified", "verified at T with N
// addresses", "STALE ..." or "FAILED ...".
func (v *SuppressionView) TargetState(t *mtactl.SuppressVerification) string {
	when := t.Time.UTC().Format("2006-01-02 15:04Z")
	switch {
	case !t.OK:
		return fmt.Sprintf("FAILED at %s: %d of %d missing", when, t.MissingCount, t.Count)
	case t.Stale(v.Stats.LastSeq, v.Now, MaxVerifyAge):
		return fmt.Sprintf("STALE: verified at %s with %d addresses (log seq %d, now %d)", when, t.Count, t.LogSeq, v.Stats.LastSeq)
	}
	return fmt.Sprintf("verified at %s with %d addresses", when, t.Count)
}

// HeaderWarning is the cockpit header's warning while the NEW side carries
// traffic (ratioNew > 0) and no target holds a fresh, passing
// verification; "" when there is nothing to warn about.
func (v *SuppressionView) HeaderWarning(ratioNew float64) string {
	if v == nil || ratioNew <= 0 || v.Stats.Suppressed == 0 {
		return ""
	}
	if len(v.Targets) == 0 {
		// Key words first: at 80 columns the end of the line is cut.
		return fmt.Sprintf("NOT VERIFIED: suppression list (%d addresses) on NEW, which carries %.0f%%: cutover suppress verify", v.Stats.Suppressed, ratioNew)
	}
	for i := range v.Targets {
		t := &v.Targets[i]
		if t.OK && !t.Stale(v.Stats.LastSeq, v.Now, MaxVerifyAge) {
			return ""
		}
	}
	t := &v.Targets[0]
	st := v.TargetState(t)
	word, rest, _ := strings.Cut(st, " ")
	word = strings.TrimSuffix(word, ":")
	return fmt.Sprintf("SUPPRESSION %s on %s: %s (NEW carries %.0f%%)", word, t.Target, rest, ratioNew)
}

// RenderSuppression is the suppression view's text: totals by type and
// source, the verification state per target, and the progress of the
// imports the owner runs (a progress bar per file).
func RenderSuppression(v *SuppressionView, width int) string {
	var b strings.Builder
	st := v.Stats
	fmt.Fprintf(&b, "Suppression log: %d events, %d addresses, %d suppressed (seq %d)\n\n", st.Events, st.Addresses, st.Suppressed, st.LastSeq)
	b.WriteString(renderImports(v.Imports, width))
	table := func(title string, m map[string]ssup.Count) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "  %-32s %12s %12s\n", title, "ADDRESSES", "EVENTS")
		for _, k := range keys {
			fmt.Fprintf(&b, "  %-32s %12d %12d\n", Sanitize(k, 32), m[k].Addresses, m[k].Events)
		}
		b.WriteString("\n")
	}
	table("TYPE", st.ByType)
	table("SOURCE", st.BySource)
	b.WriteString("  TARGET\n")
	if len(v.Targets) == 0 {
		b.WriteString("  (no target verified yet: cutover suppress verify --config FILE)\n")
	}
	for i := range v.Targets {
		t := &v.Targets[i]
		fmt.Fprintf(&b, "  %-18s %s\n", Sanitize(t.Target, 18), v.TargetState(t))
		for _, p := range t.Problems {
			fmt.Fprintf(&b, "      %s\n", Sanitize(p, max(width-6, 20)))
		}
	}
	return b.String()
}
