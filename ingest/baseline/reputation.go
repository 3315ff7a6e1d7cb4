package baseline

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"cutover/model"
)

// ReadReputationFile reads one reputation export of kind (model.RepPostmaster,
// RepPostmasterV2, RepSNDS, RepSNDSStatus). Errors name the file and row.
func ReadReputationFile(path, kind string) ([]model.ReputationRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxFileBytes>>20)
	}
	recs, err := ParseReputation(data, kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// ParseReputation parses an export held in memory.
func ParseReputation(data []byte, kind string) ([]model.ReputationRecord, error) {
	sum := sha256.Sum256(data)
	origin := "sha256:" + hex.EncodeToString(sum[:8])
	var recs []model.ReputationRecord
	var err error
	switch kind {
	case model.RepPostmaster:
		recs, err = postmasterV1(data)
	case model.RepPostmasterV2:
		recs, err = postmasterV2(data)
	case model.RepSNDS:
		recs, err = snds(data)
	case model.RepSNDSStatus:
		recs, err = sndsStatus(data)
	default:
		return nil, fmt.Errorf("reputation kind %q unknown", kind)
	}
	for i := range recs {
		recs[i].Source = fmt.Sprintf("%s:%d", origin, i+1)
	}
	return recs, err
}

// postmasterV1 reads trafficStats.list: {"trafficStats":[{"name":
// "domains/example.com/trafficStats/20260105","userReportedSpamRatio":0.001,
// "userReportedSpamRatioUpperBound":0.0012,"domainReputation":"HIGH",
// "spfSuccessRatio":1,…}]} (a bare array or a single TrafficStats works too).
func postmasterV1(data []byte) ([]model.ReputationRecord, error) {
	var list struct {
		TrafficStats []json.RawMessage `json:"trafficStats"`
	}
	var raws []json.RawMessage
	t := bytes.TrimSpace(data)
	switch {
	case len(t) > 0 && t[0] == '[':
		if err := json.Unmarshal(t, &raws); err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
	default:
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("JSON: %w", err)
		}
		raws = list.TrafficStats
		if raws == nil {
			raws = []json.RawMessage{t}
		}
	}
	var out []model.ReputationRecord
	for i, raw := range raws {
		var ts struct {
			Name       string   `json:"name"`
			Spam       *float64 `json:"userReportedSpamRatio"`
			SpamUpper  *float64 `json:"userReportedSpamRatioUpperBound"`
			DomainRep  string   `json:"domainReputation"`
			SPF        *float64 `json:"spfSuccessRatio"`
			DKIM       *float64 `json:"dkimSuccessRatio"`
			DMARC      *float64 `json:"dmarcSuccessRatio"`
			Encryption *float64 `json:"outboundEncryptionRatio"`
		}
		if err := json.Unmarshal(raw, &ts); err != nil {
			return nil, fmt.Errorf("trafficStats %d: %w", i+1, err)
		}
		// domains/{domain}/trafficStats/{YYYYMMDD}
		parts := strings.Split(ts.Name, "/")
		if len(parts) != 4 || parts[0] != "domains" || parts[2] != "trafficStats" {
			return nil, fmt.Errorf("trafficStats %d: name %q: want domains/DOMAIN/trafficStats/YYYYMMDD", i+1, ts.Name)
		}
		day, err := time.Parse("20060102", parts[3])
		if err != nil {
			return nil, fmt.Errorf("trafficStats %d: date %q: want YYYYMMDD", i+1, parts[3])
		}
		r := model.ReputationRecord{Kind: model.RepPostmaster, Subject: strings.ToLower(parts[1]), Date: day.Format(time.DateOnly),
			DomainReputation: strings.ToUpper(ts.DomainRep), Raw: append(json.RawMessage(nil), raw...)}
		// The upper bound when present: a low-volume day's point estimate
		// understates what Gmail may act on (wave2 §4.5).
		switch {
		case ts.SpamUpper != nil:
			r.SpamRate, r.HasSpam = *ts.SpamUpper, true
		case ts.Spam != nil:
			r.SpamRate, r.HasSpam = *ts.Spam, true
		}
		r.Metrics = map[string]float64{}
		for k, v := range map[string]*float64{"spf_success": ts.SPF, "dkim_success": ts.DKIM, "dmarc_success": ts.DMARC, "tls": ts.Encryption} {
			if v != nil {
				r.Metrics[k] = *v
			}
		}
		if len(r.Metrics) == 0 {
			r.Metrics = nil
		}
		out = append(out, r)
	}
	return out, nil
}

// postmasterV2 reads domainStats.query / batchQuery responses
// ({"domainStats":[{"name":"domains/example.com/domainStats/…","metric":
// "spam_rate","date":{"year":2026,"month":1,"day":5},"value":{"doubleValue":
// 0.001}}]}, batch results nest the same) and compliance rows: any object
// with a status COMPLIANT or NEEDS_WORK next to the requirement's name.
// Rows of one domain and day merge into one record.
func postmasterV2(data []byte) ([]model.ReputationRecord, error) {
	var root any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	recs := map[string]*model.ReputationRecord{}
	get := func(domain, date string) *model.ReputationRecord {
		k := domain + "/" + date
		if recs[k] == nil {
			recs[k] = &model.ReputationRecord{Kind: model.RepPostmasterV2, Subject: domain, Date: date}
		}
		return recs[k]
	}
	var walk func(v any, domain, date string) error
	walk = func(v any, domain, date string) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e, domain, date); err != nil {
					return err
				}
			}
		case map[string]any:
			if n, ok := x["name"].(string); ok && strings.HasPrefix(n, "domains/") {
				domain = strings.ToLower(strings.SplitN(strings.TrimPrefix(n, "domains/"), "/", 2)[0])
			}
			if dt, ok := x["date"].(map[string]any); ok {
				y, m, dd := intOf(dt["year"]), intOf(dt["month"]), intOf(dt["day"])
				if y > 0 && y < 10000 && m > 0 && m <= 12 && dd > 0 && dd <= 31 {
					date = fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
				}
			}
			if metric, ok := x["metric"].(string); ok {
				if val, ok := x["value"].(map[string]any); ok {
					if domain == "" {
						return fmt.Errorf("metric %q without a domains/… name", metric)
					}
					f, ok := statValue(val)
					if !ok {
						return nil // a string or list value: kept in Raw only
					}
					r := get(domain, date)
					if r.Metrics == nil {
						r.Metrics = map[string]float64{}
					}
					r.Metrics[metric] = f
					lm := strings.ToLower(metric)
					if strings.Contains(lm, "spam") && !strings.Contains(lm, "feedback") {
						r.SpamRate, r.HasSpam = f, true
					}
					return nil
				}
			}
			if req, status := complianceRow(x); req != "" {
				if domain == "" {
					return fmt.Errorf("compliance row %q without a domains/… name", req)
				}
				r := get(domain, date)
				if r.Compliance == nil {
					r.Compliance = map[string]string{}
				}
				r.Compliance[req] = status
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "value" || k == "date" {
					continue
				}
				if err := walk(x[k], domain, date); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, "", ""); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]model.ReputationRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, *recs[k])
	}
	if len(out) == 0 {
		return nil, errors.New("no domainStats or compliance rows found")
	}
	return out, nil
}

func intOf(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	i, err := n.Int64()
	if err != nil {
		return 0
	}
	return i
}

func statValue(v map[string]any) (float64, bool) {
	for _, k := range []string{"doubleValue", "floatValue", "intValue", "int64Value"} {
		switch x := v[k].(type) {
		case json.Number:
			f, err := x.Float64()
			return f, err == nil
		case string:
			f, err := strconv.ParseFloat(x, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// complianceRow finds {"<name field>":"SPF","<status field>":"NEEDS_WORK"}.
func complianceRow(x map[string]any) (req, status string) {
	for _, v := range x {
		if s, ok := v.(string); ok && (s == "COMPLIANT" || s == "NEEDS_WORK") {
			status = s
		}
	}
	if status == "" {
		return "", ""
	}
	for _, k := range []string{"requirement", "type", "complianceType", "check", "name"} {
		if s, ok := x[k].(string); ok && s != status && s != "" && !strings.Contains(s, "/") {
			return s, status
		}
	}
	return "", ""
}

// snds reads the data.aspx CSV (no header): IP, activity start, activity
// end, RCPT commands, DATA commands, message recipients, filter result,
// complaint rate, trap message start, trap message end, trap hits, sample
// HELO, sample MAIL FROM, comments. One record per IP per activity day.
func snds(data []byte) ([]model.ReputationRecord, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var out []model.ReputationRecord
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 11 {
			return nil, fmt.Errorf("line %d: %d fields, want at least 11 (IP … trap hits)", line, len(rec))
		}
		ip, err := netip.ParseAddr(strings.TrimSpace(rec[0]))
		if err != nil {
			return nil, fmt.Errorf("line %d: IP %q: %w", line, rec[0], err)
		}
		start, err := sndsTime(rec[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: activity start: %w", line, err)
		}
		rcpt, _ := strconv.ParseInt(strings.TrimSpace(rec[5]), 10, 64)
		traps, _ := strconv.ParseInt(strings.TrimSpace(rec[10]), 10, 64)
		filter := strings.ToUpper(strings.TrimSpace(rec[6]))
		switch filter {
		case "GREEN", "YELLOW", "RED", "":
		default:
			return nil, fmt.Errorf("line %d: filter result %q: want GREEN, YELLOW or RED", line, rec[6])
		}
		raw, _ := json.Marshal(rec)
		out = append(out, model.ReputationRecord{Kind: model.RepSNDS, Subject: ip.String(), Date: start.Format(time.DateOnly),
			Filter: filter, ComplaintRate: strings.TrimSpace(rec[7]), TrapHits: traps, Recipients: rcpt, Raw: raw})
	}
	return out, nil
}

// sndsTime reads SNDS's "12/7/2026 6:00 PM" (and ISO forms).
func sndsTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{"1/2/2006 3:04 PM", "1/2/2006 15:04", "1/2/2006", time.RFC3339, "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want M/D/YYYY h:mm AM/PM", s)
}

// sndsStatus reads ipStatus.aspx: first IP, last IP, blocked (Yes/No),
// details. Date is the import day (the file has none).
func sndsStatus(data []byte) ([]model.ReputationRecord, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var out []model.ReputationRecord
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: want first IP, last IP, blocked, details", line)
		}
		a, err1 := netip.ParseAddr(strings.TrimSpace(rec[0]))
		b, err2 := netip.ParseAddr(strings.TrimSpace(rec[1]))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("line %d: IP range %q-%q", line, rec[0], rec[1])
		}
		subj := a.String()
		if a != b {
			subj += "-" + b.String()
		}
		raw, _ := json.Marshal(rec)
		out = append(out, model.ReputationRecord{Kind: model.RepSNDSStatus, Subject: subj,
			Blocked: strings.EqualFold(strings.TrimSpace(rec[2]), "yes"), Raw: raw})
	}
	return out, nil
}

// ParseTalos reads --talos "192.0.2.1=Good,192.0.2.2=Poor" (Talos has no API:
// the consultant looks the IPs up and types the verdicts).
func ParseTalos(spec string) ([]model.ReputationRecord, error) {
	var out []model.ReputationRecord
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ipS, v, ok := strings.Cut(part, "=")
		ip, err := netip.ParseAddr(strings.TrimSpace(ipS))
		if !ok || err != nil {
			return nil, fmt.Errorf("--talos %q: want IP=Good|Neutral|Poor", part)
		}
		var verdict string
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "good":
			verdict = "Good"
		case "neutral":
			verdict = "Neutral"
		case "poor":
			verdict = "Poor"
		default:
			return nil, fmt.Errorf("--talos %q: verdict %q: want Good, Neutral or Poor", part, v)
		}
		out = append(out, model.ReputationRecord{Kind: model.RepTalos, Subject: ip.String(), Verdict: verdict, Source: "manual"})
	}
	if len(out) == 0 {
		return nil, errors.New("--talos: no IP=verdict given")
	}
	return out, nil
}
