package baseline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cutover/model"
	"cutover/model/audittest"
	"cutover/state"
	sb "cutover/state/baseline"
)

// espName is how each ESP writes the fixture's providers; "Seznam" is a
// provider the table does not know: it must land in other and be listed.
var espName = map[Format]map[string]string{
	SendGrid:  {"google": "Gmail", "microsoft": "Microsoft Outlook Live", "yahoo": "Yahoo", "other": "Seznam"},
	Mailgun:   {"google": "gmail", "microsoft": "microsoft", "yahoo": "yahoo", "other": "Seznam"},
	SES:       {"google": "Gmail", "microsoft": "Outlook", "yahoo": "Yahoo", "other": "Seznam"},
	SparkPost: {"google": "Gmail", "microsoft": "Hotmail / Outlook", "yahoo": "Yahoo", "other": "Seznam"},
	CSV:       {"google": "Google", "microsoft": "Hotmail", "yahoo": "AOL", "other": "Seznam"},
}

type dayKey struct {
	isp string
	day time.Time
}

// truthDays is the fixture per provider and UTC day.
func truthDays() map[dayKey]model.Tally {
	out := map[dayKey]model.Tally{}
	for isp, s := range audittest.Hourly(1) {
		for i, t := range s {
			k := dayKey{isp, audittest.Start.Add(time.Duration(i/24) * 24 * time.Hour)}
			c := out[k]
			c.Add(t)
			out[k] = c
		}
	}
	return out
}

// writeExport writes the fixture in one ESP's shape, as its API returns it.
func writeExport(t *testing.T, f Format, dir string) string {
	t.Helper()
	days := truthDays()
	var b strings.Builder
	var v any
	names := espName[f]
	sortedDays := func() []time.Time {
		var ds []time.Time
		for d := 0; d < 28; d++ {
			ds = append(ds, audittest.Start.Add(time.Duration(d)*24*time.Hour))
		}
		return ds
	}
	switch f {
	case SendGrid:
		var out []map[string]any
		for _, d := range sortedDays() {
			var stats []map[string]any
			for _, isp := range audittest.Providers {
				c := days[dayKey{isp, d}]
				stats = append(stats, map[string]any{"type": "mailbox_provider", "name": names[isp], "metrics": map[string]any{
					"blocks": 0, "bounces": 0, "clicks": 0, "deferred": c.Deferred, "delivered": c.Delivered, "drops": 0,
					"opens": 0, "processed": c.Attempts(), "requests": c.Attempts(), "spam_reports": 0, "unique_clicks": 0, "unique_opens": 0}})
			}
			out = append(out, map[string]any{"date": d.Format(time.DateOnly), "stats": stats})
		}
		v = out
	case Mailgun: // hourly resolution, every hour of every provider
		var items []map[string]any
		fx := audittest.Hourly(1)
		for i := 0; i < audittest.Hours; i++ {
			at := audittest.Start.Add(time.Duration(i) * time.Hour)
			for _, isp := range audittest.Providers {
				c := fx[isp][i]
				items = append(items, map[string]any{
					"dimensions": []map[string]any{{"dimension": "time", "value": at.Format(time.RFC1123Z), "display_value": at.Format(time.RFC1123Z)},
						{"dimension": "recipient_provider", "value": names[isp], "display_value": names[isp]}},
					"metrics": map[string]any{"accepted_count": c.Attempts(), "delivered_count": c.Delivered, "temporary_failed_count": c.Deferred,
						"permanent_failed_count": 0, "complained_count": 0}})
			}
		}
		v = map[string]any{"start": audittest.Start.Format(time.RFC1123Z), "resolution": "hour", "dimensions": []string{"time", "recipient_provider"},
			"items": items, "pagination": map[string]any{"sort": "", "skip": 0, "limit": 1500, "total": len(items)}}
	case SES:
		var qs, rs []map[string]any
		for _, isp := range audittest.Providers {
			for _, m := range []string{"SEND", "DELIVERY", "PERMANENT_BOUNCE"} {
				id := fmt.Sprintf("%s_%s", strings.ToLower(m), isp)
				qs = append(qs, map[string]any{"Id": id, "Namespace": "VDM", "Metric": m, "Dimensions": map[string]string{"ISP": names[isp]},
					"StartDate": audittest.Start.Format(time.RFC3339), "EndDate": audittest.Start.Add(28 * 24 * time.Hour).Format(time.RFC3339)})
				var ts []string
				var vals []uint64
				for _, d := range sortedDays() {
					c := days[dayKey{isp, d}]
					ts = append(ts, d.Format(time.RFC3339))
					switch m {
					case "SEND":
						vals = append(vals, c.Attempts())
					case "DELIVERY":
						vals = append(vals, c.Delivered)
					default:
						vals = append(vals, 0)
					}
				}
				rs = append(rs, map[string]any{"Id": id, "Timestamps": ts, "Values": vals})
			}
		}
		v = map[string]any{"Queries": qs, "Results": rs, "Errors": []any{}}
	case SparkPost: // one mailbox-provider pull per day
		var pages []map[string]any
		for _, d := range sortedDays() {
			var res []map[string]any
			for _, isp := range audittest.Providers {
				c := days[dayKey{isp, d}]
				res = append(res, map[string]any{"mailbox_provider": names[isp], "count_targeted": c.Attempts(), "count_injected": c.Attempts(),
					"count_sent": c.Attempts(), "count_delivered": c.Delivered, "count_delayed": c.Deferred, "count_bounce": 0,
					"count_hard_bounce": 0, "count_spam_complaint": 0})
			}
			pages = append(pages, map[string]any{"from": d.Format("2006-01-02T15:04"), "results": res})
		}
		v = pages
	case CSV:
		b.WriteString("date,provider,delivered,deferred,bounced,hard_bounced,complaints\n")
		for _, d := range sortedDays() {
			for _, isp := range audittest.Providers {
				c := days[dayKey{isp, d}]
				fmt.Fprintf(&b, "%s,%s,%d,%d,0,0,0\n", d.Format(time.DateOnly), names[isp], c.Delivered, c.Deferred)
			}
		}
	}
	if v != nil {
		j, err := json.MarshalIndent(v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
	}
	p := filepath.Join(dir, string(f)+".export")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestESPImportsMatchTheFixture(t *testing.T) {
	want := truthDays()
	for _, f := range []Format{SendGrid, Mailgun, SES, SparkPost, CSV} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			path := writeExport(t, f, dir)
			db, err := state.Open(filepath.Join(dir, "c.db"), state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			m, _ := NewMapper("")
			p, err := ReadFile(path, Options{Format: f, Map: m})
			if err != nil {
				t.Fatal(err)
			}
			if u := m.Unknown(); len(u) != 1 || u["Seznam"] == 0 {
				t.Errorf("unknown names %v, want Seznam listed", u)
			}
			res, err := sb.Put(db, p.File, p.Rows)
			if err != nil || res.Added == 0 {
				t.Fatalf("%+v %v", res, err)
			}
			// a second import adds nothing
			p2, _ := ReadFile(path, Options{Format: f})
			res2, err := sb.Put(db, p2.File, p2.Rows)
			if err != nil || res2.Added != 0 || res2.Replaced != 0 || !res2.KnownFile {
				t.Fatalf("second import %+v %v", res2, err)
			}
			rows, err := sb.ReadRows(db, time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[dayKey]model.Tally{}
			for _, r := range rows {
				k := dayKey{r.ISP, r.Start.Truncate(24 * time.Hour)}
				c := got[k]
				c.Add(r.Counts)
				got[k] = c
			}
			if len(got) != len(want) {
				t.Fatalf("%d provider-days, want %d", len(got), len(want))
			}
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("%s %s: %+v, want %+v", k.isp, k.day.Format(time.DateOnly), got[k], w)
				}
			}
		})
	}
}

func TestPostmarkHasNoProviderSplit(t *testing.T) {
	var days []map[string]any
	total := map[string]uint64{}
	for d, c := range truthDays() {
		total[d.day.Format(time.DateOnly)] += c.Attempts()
	}
	for d, n := range total {
		days = append(days, map[string]any{"Date": d, "Sent": n})
	}
	days = append(days, map[string]any{"Date": "2026-01-05", "HardBounce": 3, "SoftBounce": 2, "SpamComplaint": 1})
	j, _ := json.Marshal(map[string]any{"Days": days, "Sent": 0})
	p, err := Parse("postmark.json", j, Options{Format: Postmark})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Rows) != 28 {
		t.Fatalf("%d rows", len(p.Rows))
	}
	for _, r := range p.Rows {
		d := r.Start.Format(time.DateOnly)
		if r.ISP != Unsplit || r.Counts.Attempts() != total[d] || r.Requested != total[d] {
			t.Fatalf("%s: %+v", d, r)
		}
		if d == "2026-01-05" && (r.Counts.HardBounce != 3 || r.Counts.Bounced != 5 || r.Counts.Complaints != 1) {
			t.Fatalf("merged bounces %+v", r.Counts)
		}
	}
}

func TestProviderNameTable(t *testing.T) {
	m, err := NewMapper("Seznam=seznam, Web.de = gmx")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Gmail": "google", "Google Workspace": "google", "gmail.com": "google", "Microsoft Outlook Live": "microsoft",
		"Hotmail / Outlook": "microsoft", "Office 365": "microsoft", "outlook.com": "microsoft", "Yahoo": "yahoo", "AOL": "yahoo",
		"Verizon Media": "yahoo", "Apple iCloud": "apple", "iCloud": "apple", "me.com": "apple", "Comcast": "comcast",
		"T-Online": "t-online", "Orange": "orange", "Mail.ru": "mailru", "QQ": "tencent", "Seznam": "seznam", "web.de": "gmx",
		"Some ISP": "other", "": "other",
	} {
		if got := m.ISP(name); got != want {
			t.Errorf("%q → %s, want %s", name, got, want)
		}
	}
	if u := m.Unknown(); len(u) != 2 || u["Some ISP"] != 1 {
		t.Errorf("unknown %v", u)
	}
	if _, err := NewMapper("Gmail"); err == nil {
		t.Error("--map without = accepted")
	}
}

func TestBadInputNamesTheRow(t *testing.T) {
	for _, c := range []struct {
		f    Format
		data string
		want string
	}{
		{SendGrid, `[{"date":"2026-01-05","stats":[{"name":"Gmail","metrics":{"delivered":-1}}]}]`, "entry 1 stat 1"},
		{SendGrid, `[{"date":"yesterday","stats":[]}]`, "entry 1"},
		{Mailgun, `{"resolution":"month","items":[]}`, "resolution"},
		{Mailgun, `{"resolution":"hour","items":[{"dimensions":[{"dimension":"time","value":"Mon, 05 Jan 2026 00:00:00 +0000"}],"metrics":{}}]}`, "item 1"},
		{SES, `{"Queries":[{"Id":"a","Metric":"SEND","Dimensions":{}}],"Results":[]}`, "query 1"},
		{SES, `{"Queries":[{"Id":"a","Metric":"SEND","Dimensions":{"ISP":"Gmail"}}],"Results":[{"Id":"a","Timestamps":["2026-01-05T00:00:00Z"],"Values":[]}]}`, "result 1"},
		{SparkPost, `{"results":[{"mailbox_provider":"Gmail","count_delivered":1}]}`, "no day"},
		{CSV, "date,provider,delivered\n2026-01-05,Gmail,1.5\n", "line 2"},
		{CSV, "day,isp\n", "line 1"},
		{SendGrid, strings.Repeat("[", 20000), "JSON"},
	} {
		_, err := Parse("x", []byte(c.data), Options{Format: c.f})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "x: ") {
			t.Errorf("%s %.40q: %v, want the file and %q", c.f, c.data, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`[{"date":"2026-01-05","stats":[{"name":"Gmail","metrics":{"delivered":1}}]}]`, 0)
	f.Add(`{"resolution":"hour","items":[{"dimensions":[{"dimension":"time","value":"2026-01-05T00:00:00Z"},{"dimension":"recipient_provider","value":"x"}],"metrics":{"delivered_count":"2"}}]}`, 1)
	f.Add("date,provider,delivered\n2026-01-05T01:00:00Z,Gmail,3\n", 5)
	f.Add(`{"domainStats":[{"name":"domains/a.example/domainStats/x","metric":"spam","date":{"year":2026,"month":1,"day":5},"value":{"doubleValue":0.1}}]}`, 7)
	f.Add("192.0.2.1,12/7/2026 6:00 PM,12/8/2026 6:00 PM,1,1,1,GREEN,< 0.1%,,,0,h,m,\n", 8)
	f.Fuzz(func(t *testing.T, data string, which int) {
		all := append(append([]Format(nil), Formats...), "", "")
		which = ((which % len(all)) + len(all)) % len(all)
		if which < len(Formats) {
			p, err := Parse("f", []byte(data), Options{Format: all[which]})
			if err == nil {
				for _, r := range p.Rows {
					if r.Start.IsZero() || r.Source == "" {
						t.Fatalf("row without start or source: %+v", r)
					}
				}
			}
			return
		}
		for _, k := range []string{model.RepPostmaster, model.RepPostmasterV2, model.RepSNDS, model.RepSNDSStatus} {
			ParseReputation([]byte(data), k)
		}
	})
}
