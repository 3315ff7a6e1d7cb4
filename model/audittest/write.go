package audittest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// MailgunNames is how Mailgun's recipient_provider dimension names the
// fixture's providers ("Seznam" is one the table does not know).
var MailgunNames = map[string]string{"google": "gmail", "microsoft": "microsoft", "yahoo": "yahoo", "other": "Seznam"}

// WriteMailgunHourly writes the fixture at 1/div as the response of Mailgun's
// POST /v1/analytics/metrics with resolution "hour" and the dimensions time
// and recipient_provider (RFC 2822 times, as the API returns them).
func WriteMailgunHourly(w io.Writer, div uint64) error {
	fx := Hourly(div)
	type dim struct {
		Dimension    string `json:"dimension"`
		Value        string `json:"value"`
		DisplayValue string `json:"display_value"`
	}
	type item struct {
		Dimensions []dim          `json:"dimensions"`
		Metrics    map[string]any `json:"metrics"`
	}
	var items []item
	for i := 0; i < Hours; i++ {
		at := Start.Add(time.Duration(i) * time.Hour).Format(time.RFC1123Z)
		for _, isp := range Providers {
			c := fx[isp][i]
			items = append(items, item{
				Dimensions: []dim{{"time", at, at}, {"recipient_provider", MailgunNames[isp], MailgunNames[isp]}},
				Metrics: map[string]any{"accepted_count": c.Attempts(), "delivered_count": c.Delivered,
					"temporary_failed_count": c.Deferred, "permanent_failed_count": 0, "complained_count": 0}})
		}
	}
	end := Start.Add(Hours * time.Hour)
	return json.NewEncoder(w).Encode(map[string]any{
		"start": Start.Format(time.RFC1123Z), "end": end.Format(time.RFC1123Z), "resolution": "hour",
		"dimensions": []string{"time", "recipient_provider"}, "items": items,
		"pagination": map[string]any{"sort": "", "skip": 0, "limit": len(items), "total": len(items)},
	})
}

// Domains is one recipient domain per fixture provider, as the ISP table
// classifies them (example.net is no provider: other).
var Domains = map[string]string{"google": "gmail.com", "microsoft": "outlook.com", "yahoo": "yahoo.com", "other": "example.net"}

// Source IPs of the PowerMTA fixture: everything leaves from IPGood except
// Yahoo's deferrals, which all come from IPBad (a pool the audit must flag).
const (
	IPGood = "192.0.2.1"
	IPBad  = "192.0.2.2"
)

// WritePMTA writes the fixture at 1/div as one PowerMTA accounting CSV (d
// and t records, header line first), records spread evenly over each hour.
func WritePMTA(w io.Writer, div uint64) error {
	fx := Hourly(div)
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "type,timeLogged,orig,rcpt,dsnAction,dsnStatus,dsnDiag,vmta,dlvSourceIp")
	n := 0
	for i := 0; i < Hours; i++ {
		at := Start.Add(time.Duration(i) * time.Hour)
		for _, isp := range Providers {
			c := fx[isp][i]
			tot := c.Attempts()
			for k := uint64(0); k < tot; k++ {
				ts := at.Add(time.Duration(k*3600/tot) * time.Second).Format("2006-01-02 15:04:05-0700")
				n++
				rcpt := fmt.Sprintf("u%d@%s", n, Domains[isp])
				if k < c.Deferred {
					fmt.Fprintf(bw, "t,%s,news@sender.example,%s,delayed,4.7.0 (delivery temporarily suspended),smtp;421 4.7.0 [TSS04] try later,vmta-old,%s\n", ts, rcpt, IPBad)
				} else {
					fmt.Fprintf(bw, "d,%s,news@sender.example,%s,relayed,2.0.0 (success),smtp;250 ok,vmta-old,%s\n", ts, rcpt, IPGood)
				}
			}
		}
	}
	return bw.Flush()
}
