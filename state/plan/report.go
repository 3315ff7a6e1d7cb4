package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cutover/model"
)

// Report is a checkpoint report: the gate's verdict with every item's
// numbers, per provider. It is written once and named by the sha256 of its
// JSON bytes; the customer signs off that hash.
type Report struct {
	Version   int            `json:"version"`
	Plan      string         `json:"plan"`
	At        time.Time      `json:"at"`
	Step      int            `json:"step"`
	Steps     int            `json:"steps"`
	Ratio     int            `json:"ratio"`
	Day       int            `json:"day"`
	Window    string         `json:"window"`
	Since     time.Time      `json:"since"`
	Until     time.Time      `json:"until"`
	Verdict   string         `json:"verdict"`
	Common    []Item         `json:"common"` // plan-wide items (auth, suppression, reputation, sources)
	Providers []ProviderGate `json:"providers"`
	Ungated   []string       `json:"ungated,omitempty"` // under 1 % of the volume: only in Totals
	Totals    ProviderGate   `json:"totals"`
	// AcceptWarn: NEW's health is WARN somewhere; the signoff must accept it.
	AcceptWarn bool       `json:"accept_warn,omitempty"`
	Overrides  []Override `json:"overrides,omitempty"` // every override so far
	Baseline   bool       `json:"baseline,omitempty"`  // evaluated at step 0: no NEW traffic to judge
	// WarmupDays is each provider's warm-up day today (full days only).
	WarmupDays map[string]int `json:"warmup_days,omitempty"`
}

// Item is a gate item in a report, the verdict as its word.
type Item struct {
	Name    string `json:"name"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
}

// ProviderGate is one provider's items and counts over the window.
type ProviderGate struct {
	ISP            string      `json:"isp"`
	Verdict        string      `json:"verdict"`
	Old            model.Tally `json:"old"`
	New            model.Tally `json:"new"`
	ComplaintRate  float64     `json:"complaint_rate"`
	ComplaintUpper float64     `json:"complaint_upper"`
	Items          []Item      `json:"items"`
}

// Items converts model items for a report.
func Items(in []model.GateItem) []Item {
	out := make([]Item, len(in))
	for i, it := range in {
		out[i] = Item{Name: it.Name, Verdict: it.Verdict.String(), Reason: it.Reason}
	}
	return out
}

// Encode is the report's canonical JSON (indented, newline-terminated) and
// its sha256.
func (r *Report) Encode() ([]byte, string, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, "", err
	}
	b = append(b, '\n')
	h := sha256.Sum256(b)
	return b, hex.EncodeToString(h[:]), nil
}

// WriteReport writes the JSON and its Markdown rendering as
// reports/checkpoint-<sha256>.{json,md} next to the database and returns
// the sha256 and the JSON path. Files are created exclusively, never
// through a symlink; the same report twice is the same file.
func WriteReport(dbPath string, r *Report, markdown string) (sha, path string, err error) {
	b, sha, err := r.Encode()
	if err != nil {
		return "", "", err
	}
	dir := ReportDir(dbPath)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", err
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return "", "", fmt.Errorf("%s is not a directory", dir)
	}
	base := filepath.Join(dir, "checkpoint-"+sha)
	for _, f := range []struct {
		path string
		data []byte
	}{{base + ".json", b}, {base + ".md", []byte(markdown)}} {
		if err := writeExcl(f.path, f.data); err != nil {
			return "", "", err
		}
	}
	syncDir(dir)
	return sha, base + ".json", nil
}

func writeExcl(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o640)
	if errors.Is(err, os.ErrExist) {
		// Same name = same sha256 = same bytes (for the JSON); keep it.
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode().IsRegular() {
			return nil
		}
		return fmt.Errorf("%s exists and is not a regular file", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadReport reads the report whose sha256 is sha (or a unique prefix of
// at least 8 hex digits) and checks that its bytes still hash to it.
func LoadReport(dbPath, sha string) (*Report, string, error) {
	sha = strings.ToLower(strings.TrimSpace(sha))
	if len(sha) < 8 || strings.Trim(sha, "0123456789abcdef") != "" {
		return nil, "", fmt.Errorf("report %q: want its sha256 (at least 8 hex digits)", sha)
	}
	m, _ := filepath.Glob(filepath.Join(ReportDir(dbPath), "checkpoint-"+sha+"*.json"))
	switch len(m) {
	case 0:
		return nil, "", fmt.Errorf("no checkpoint report %s in %s", sha, ReportDir(dbPath))
	case 1:
	default:
		return nil, "", fmt.Errorf("report %s is ambiguous: %d reports start with it", sha, len(m))
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(b)
	full := hex.EncodeToString(h[:])
	if !strings.HasPrefix(filepath.Base(m[0]), "checkpoint-"+full) {
		return nil, "", fmt.Errorf("%s was changed: its bytes hash to %s", m[0], full)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, "", fmt.Errorf("%s: %v", m[0], err)
	}
	return &r, full, nil
}
