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
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"cutover/model"
	sb "cutover/state/baseline"
)

// Format names an ESP statistics export.
type Format string

const (
	SendGrid  Format = "sendgrid"  // GET /v3/mailbox_providers/stats (aggregated_by=day)
	Mailgun   Format = "mailgun"   // POST /v1/analytics/metrics (resolution hour|day)
	SES       Format = "ses"       // sesv2 BatchGetMetricData queries + results
	SparkPost Format = "sparkpost" // /api/v1/metrics/deliverability/mailbox-provider (per day)
	Postmark  Format = "postmark"  // /stats/outbound/* Days (no provider split)
	CSV       Format = "csv"       // date,provider,delivered,deferred,bounced,hard_bounced,complaints
)

// Formats lists the accepted formats.
var Formats = []Format{SendGrid, Mailgun, SES, SparkPost, Postmark, CSV}

// ParseFormat checks a --provider value.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("provider %q: want sendgrid, mailgun, ses, sparkpost, postmark or csv", s)
}

// Unsplit is the provider of Postmark rows: its stats have no mailbox
// provider dimension (wave2 §1.1), so its volume is known only in total.
const Unsplit = "unsplit"

// MaxFileBytes bounds one export: statistics are small (90 days × 20
// providers × 24 hours is ~40k rows); a bigger file is a mistake, not data.
const MaxFileBytes = 256 << 20

// Options of one import.
type Options struct {
	Format Format
	Source string         // stored source name (default: the format)
	Map    *Mapper        // provider names (default: the table only)
	TZ     *time.Location // zone of date-only values (default UTC)
}

// Parsed is one file's rows and what went wrong where.
type Parsed struct {
	File sb.File
	Rows []sb.Row
}

// ReadFile reads and parses one export. Every error names the file and the
// row; nothing is returned on error (all or nothing).
func ReadFile(path string, o Options) (Parsed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Parsed{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return Parsed{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return Parsed{}, fmt.Errorf("%s: larger than %d MiB: not a statistics export", path, MaxFileBytes>>20)
	}
	return Parse(path, data, o)
}

// Parse parses one export held in memory.
func Parse(name string, data []byte, o Options) (Parsed, error) {
	if o.Map == nil {
		o.Map, _ = NewMapper("")
	}
	if o.TZ == nil {
		o.TZ = time.UTC
	}
	if o.Source == "" {
		o.Source = string(o.Format)
	}
	sum := sha256.Sum256(data)
	p := Parsed{File: sb.File{SHA256: hex.EncodeToString(sum[:]), Path: name, Source: o.Source}}
	r := &reader{o: o, digest: p.File.SHA256[:16]}
	var err error
	switch o.Format {
	case SendGrid:
		err = r.sendgrid(data)
	case Mailgun:
		err = r.mailgun(data)
	case SES:
		err = r.ses(data)
	case SparkPost:
		err = r.sparkpost(data)
	case Postmark:
		err = r.postmark(data)
	case CSV:
		err = r.csv(data)
	default:
		err = fmt.Errorf("format %q unknown", o.Format)
	}
	if err != nil {
		return Parsed{}, fmt.Errorf("%s: %w", name, err)
	}
	p.Rows = r.rows
	return p, nil
}

type reader struct {
	o      Options
	digest string
	rows   []sb.Row
}

func (r *reader) add(row int, name string, start time.Time, hour bool, c model.Tally, req, proc uint64) {
	r.rows = append(r.rows, sb.Row{Source: r.o.Source, Name: name, ISP: r.o.Map.ISP(name), Start: start.UTC(), Hour: hour,
		Counts: c, Requested: req, Processed: proc, Origin: fmt.Sprintf("sha256:%s:%d", r.digest, row)})
}

// num reads a JSON count: a non-negative whole number (floats with a zero
// fraction are accepted, the ESPs' JSON sometimes writes 12.0).
func num(v any, what string) (uint64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		if n, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil || f < 0 || f != math.Trunc(f) || f > 1<<53 {
			return 0, fmt.Errorf("%s %q: want a whole non-negative count", what, x)
		}
		return uint64(f), nil
	case string:
		if strings.TrimSpace(x) == "" {
			return 0, nil
		}
		return num(json.Number(strings.TrimSpace(x)), what)
	}
	return 0, fmt.Errorf("%s: want a number, got %T", what, v)
}

func decode(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("JSON: %w", err)
	}
	return nil
}

// day parses a date-only value in the import's zone, or a full timestamp.
func (r *reader) day(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation(time.DateOnly, s, r.o.TZ); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.RFC3339, time.RFC1123Z, time.RFC1123, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, r.o.TZ); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD or a timestamp", s)
}

// SendGrid: [{"date":"2026-01-05","stats":[{"type":"mailbox_provider",
// "name":"Gmail","metrics":{"blocks":0,"bounces":0,"deferred":0,"delivered":…,
// "drops":0,"processed":…,"requests":…,"spam_reports":0,…}}]}].
func (r *reader) sendgrid(data []byte) error {
	var days []struct {
		Date  string `json:"date"`
		Stats []struct {
			Type    string         `json:"type"`
			Name    string         `json:"name"`
			Metrics map[string]any `json:"metrics"`
		} `json:"stats"`
	}
	if err := decode(data, &days); err != nil {
		return err
	}
	for i, d := range days {
		start, err := r.day(d.Date)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i+1, err)
		}
		for j, s := range d.Stats {
			at := fmt.Sprintf("entry %d stat %d", i+1, j+1)
			if s.Name == "" {
				return fmt.Errorf("%s: no name", at)
			}
			m, err := counts(s.Metrics, at, "delivered", "deferred", "bounces", "blocks", "spam_reports", "requests", "processed")
			if err != nil {
				return err
			}
			c := model.Tally{Delivered: m[0], Deferred: m[1], Bounced: m[2] + m[3], HardBounce: m[2], Complaints: m[4]}
			r.add(i*10000+j+1, s.Name, start, false, c, m[5], m[6])
		}
	}
	return nil
}

func counts(m map[string]any, at string, keys ...string) ([]uint64, error) {
	out := make([]uint64, len(keys))
	for i, k := range keys {
		v, err := num(m[k], k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		out[i] = v
	}
	return out, nil
}

// Mailgun: {"resolution":"hour","dimensions":["time","recipient_provider"],
// "items":[{"dimensions":[{"dimension":"time","value":"Mon, 05 Jan 2026
// 00:00:00 +0000"},{"dimension":"recipient_provider","value":"Gmail"}],
// "metrics":{"accepted_count":…,"delivered_count":…,"temporary_failed_count":…,
// "permanent_failed_count":…,"complained_count":…}}]}. An ip or ip_pool
// dimension keeps the split (pool composition).
func (r *reader) mailgun(data []byte) error {
	var doc struct {
		Resolution string `json:"resolution"`
		Items      []struct {
			Dimensions []struct {
				Dimension string `json:"dimension"`
				Value     string `json:"value"`
			} `json:"dimensions"`
			Metrics map[string]any `json:"metrics"`
		} `json:"items"`
	}
	if err := decode(data, &doc); err != nil {
		return err
	}
	hour := false
	switch strings.ToLower(doc.Resolution) {
	case "hour":
		hour = true
	case "day", "":
	default:
		return fmt.Errorf("resolution %q: want hour or day (a month cannot give per-day counts)", doc.Resolution)
	}
	for i, it := range doc.Items {
		at := fmt.Sprintf("item %d", i+1)
		var ts, prov, dim, dimVal string
		for _, d := range it.Dimensions {
			switch d.Dimension {
			case "time":
				ts = d.Value
			case "recipient_provider":
				prov = d.Value
			case "ip", "ip_pool":
				dim, dimVal = d.Dimension, d.Value
			}
		}
		if ts == "" || prov == "" {
			return fmt.Errorf("%s: want the time and recipient_provider dimensions", at)
		}
		start, err := r.day(ts)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		m, err := counts(it.Metrics, at, "delivered_count", "temporary_failed_count", "permanent_failed_count", "complained_count", "accepted_count", "hard_bounces_count")
		if err != nil {
			return err
		}
		hard := m[2]
		if _, ok := it.Metrics["hard_bounces_count"]; ok {
			hard = min(m[5], m[2])
		}
		r.add(i+1, prov, start, hour, model.Tally{Delivered: m[0], Deferred: m[1], Bounced: m[2], HardBounce: hard, Complaints: m[3]}, m[4], 0)
		last := &r.rows[len(r.rows)-1]
		last.Dim, last.DimValue = dim, dimVal
	}
	return nil
}

// SES: the VDM BatchGetMetricData queries and their results in one object,
// {"Queries":[{"Id":"q1","Metric":"SEND","Dimensions":{"ISP":"Gmail"}}],
// "Results":[{"Id":"q1","Timestamps":[…],"Values":[…]}]} (the AWS CLI prints
// the results; the queries are the file it was given: `jq -s '.[0]*.[1]'`).
// SEND is the attempts; SEND neither delivered nor bounced counts as
// deferred (still retrying).
func (r *reader) ses(data []byte) error {
	var doc struct {
		Queries []struct {
			ID         string            `json:"Id"`
			Metric     string            `json:"Metric"`
			Dimensions map[string]string `json:"Dimensions"`
		} `json:"Queries"`
		Results []struct {
			ID         string   `json:"Id"`
			Timestamps []string `json:"Timestamps"`
			Values     []any    `json:"Values"`
		} `json:"Results"`
	}
	if err := decode(data, &doc); err != nil {
		return err
	}
	type q struct{ metric, isp string }
	qs := map[string]q{}
	for i, x := range doc.Queries {
		if x.Dimensions["ISP"] == "" {
			return fmt.Errorf("query %d (%s): no ISP dimension: the audit needs the per-provider split", i+1, x.ID)
		}
		qs[x.ID] = q{strings.ToUpper(x.Metric), x.Dimensions["ISP"]}
	}
	type k struct {
		isp string
		at  int64
	}
	agg := map[k]map[string]uint64{}
	var order []k
	for i, res := range doc.Results {
		at := fmt.Sprintf("result %d (%s)", i+1, res.ID)
		qq, ok := qs[res.ID]
		if !ok {
			return fmt.Errorf("%s: no query with this Id in the file", at)
		}
		if len(res.Timestamps) != len(res.Values) {
			return fmt.Errorf("%s: %d timestamps, %d values", at, len(res.Timestamps), len(res.Values))
		}
		for j, ts := range res.Timestamps {
			t, err := r.day(ts)
			if err != nil {
				return fmt.Errorf("%s value %d: %w", at, j+1, err)
			}
			v, err := num(res.Values[j], qq.metric)
			if err != nil {
				return fmt.Errorf("%s value %d: %w", at, j+1, err)
			}
			kk := k{qq.isp, t.Unix()}
			if agg[kk] == nil {
				agg[kk] = map[string]uint64{}
				order = append(order, kk)
			}
			agg[kk][qq.metric] += v
		}
	}
	for i, kk := range order {
		m := agg[kk]
		bounced := m["PERMANENT_BOUNCE"] + m["TRANSIENT_BOUNCE"]
		c := model.Tally{Delivered: m["DELIVERY"], Bounced: bounced, HardBounce: m["PERMANENT_BOUNCE"], Complaints: m["COMPLAINT"]}
		if s := m["SEND"]; s > c.Delivered+bounced {
			c.Deferred = s - c.Delivered - bounced
		}
		r.add(i+1, kk.isp, time.Unix(kk.at, 0), false, c, m["SEND"], 0)
	}
	return nil
}

// SparkPost: {"results":[{"mailbox_provider":"Gmail","ts":"2026-01-05",
// "count_targeted":…,"count_delivered":…,"count_delayed":…,"count_bounce":…,
// "count_hard_bounce":…,"count_spam_complaint":…}]} — the mailbox-provider
// endpoint sums its whole from/to range, so a per-day pull is one query per
// day: either each result carries "ts", or the file is an array of
// {"from":"2026-01-05…","results":[…]}.
func (r *reader) sparkpost(data []byte) error {
	type res struct {
		From    string           `json:"from"`
		Results []map[string]any `json:"results"`
	}
	var pages []res
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := decode(data, &pages); err != nil {
			return err
		}
	} else {
		var one res
		if err := decode(data, &one); err != nil {
			return err
		}
		pages = []res{one}
	}
	n := 0
	for pi, p := range pages {
		for i, m := range p.Results {
			n++
			at := fmt.Sprintf("page %d result %d", pi+1, i+1)
			name, _ := m["mailbox_provider"].(string)
			if name == "" {
				return fmt.Errorf("%s: no mailbox_provider", at)
			}
			ts, _ := m["ts"].(string)
			if ts == "" {
				ts = p.From
			}
			if ts == "" {
				return fmt.Errorf("%s: no day: add \"ts\" to each result or wrap each day's pull as {\"from\":…,\"results\":…}", at)
			}
			start, err := r.day(ts)
			if err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
			v, err := counts(m, at, "count_delivered", "count_delayed", "count_bounce", "count_hard_bounce", "count_spam_complaint", "count_targeted", "count_injected")
			if err != nil {
				return err
			}
			r.add(n, name, start, false, model.Tally{Delivered: v[0], Deferred: v[1], Bounced: v[2], HardBounce: min(v[3], v[2]), Complaints: v[4]}, v[5], v[6])
		}
	}
	return nil
}

// Postmark: {"Days":[{"Date":"2026-01-05","Sent":…}]} from
// /stats/outbound/sends, and the same Days with HardBounce/SoftBounce from
// /stats/outbound/bounces and SpamComplaint from /stats/outbound/spam (one
// file may hold any of them; a day's fields are merged). No provider split.
func (r *reader) postmark(data []byte) error {
	var doc struct {
		Days []map[string]any `json:"Days"`
	}
	if err := decode(data, &doc); err != nil {
		return err
	}
	type acc struct {
		c    model.Tally
		sent uint64
	}
	days := map[int64]*acc{}
	var order []int64
	for i, d := range doc.Days {
		at := fmt.Sprintf("day %d", i+1)
		ds, _ := d["Date"].(string)
		start, err := r.day(ds)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		v, err := counts(d, at, "Sent", "HardBounce", "SoftBounce", "SpamComplaint")
		if err != nil {
			return err
		}
		a := days[start.Unix()]
		if a == nil {
			a = &acc{}
			days[start.Unix()] = a
			order = append(order, start.Unix())
		}
		a.sent += v[0]
		a.c.Bounced += v[1] + v[2]
		a.c.HardBounce += v[1]
		a.c.Complaints += v[3]
	}
	for i, u := range order {
		a := days[u]
		c := a.c
		if a.sent > c.Bounced {
			c.Delivered = a.sent - c.Bounced
		}
		r.rows = append(r.rows, sb.Row{Source: r.o.Source, Name: "(all)", ISP: Unsplit, Start: time.Unix(u, 0).UTC(), Counts: c, Requested: a.sent,
			Origin: fmt.Sprintf("sha256:%s:%d", r.digest, i+1)})
	}
	return nil
}

// csvColumns are the plain CSV's header names; date and provider are
// required, a missing count column is 0. "date" is YYYY-MM-DD (a day) or a
// timestamp on the hour (an hour).
var csvColumns = []string{"date", "provider", "delivered", "deferred", "bounced", "hard_bounced", "complaints", "requested"}

func (r *reader) csv(data []byte) error {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("line 1: %w", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	for _, need := range csvColumns[:2] {
		if _, ok := idx[need]; !ok {
			return fmt.Errorf("line 1: no %q column (want %s)", need, strings.Join(csvColumns, ","))
		}
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		get := func(k string) string {
			if i, ok := idx[k]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		at := fmt.Sprintf("line %d", line)
		ds := get("date")
		start, err := r.day(ds)
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		hour := len(ds) > len(time.DateOnly)
		if hour && start.Truncate(time.Hour) != start {
			return fmt.Errorf("%s: %q is not on the hour", at, ds)
		}
		m := map[string]any{}
		for _, k := range csvColumns[2:] {
			m[k] = get(k)
		}
		v, err := counts(m, at, csvColumns[2:]...)
		if err != nil {
			return err
		}
		name := get("provider")
		if name == "" {
			return fmt.Errorf("%s: empty provider", at)
		}
		r.add(line, name, start, hour, model.Tally{Delivered: v[0], Deferred: v[1], Bounced: v[2], HardBounce: min(v[3], v[2]), Complaints: v[4]}, v[5], 0)
	}
}
