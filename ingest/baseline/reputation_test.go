package baseline

import (
	"strings"
	"testing"

	"cutover/model"
)

// Shapes from the Postmaster Tools v1 TrafficStats and v2 DomainStat
// references and the SNDS automated-data CSV (wave2 §1.1).
func TestPostmasterV1UpperBound(t *testing.T) {
	data := `{"trafficStats":[
 {"name":"domains/News.Example.com/trafficStats/20260105","userReportedSpamRatio":0.0008,
  "userReportedSpamRatioLowerBound":0.0005,"userReportedSpamRatioUpperBound":0.0014,"domainReputation":"HIGH",
  "ipReputations":[{"reputation":"HIGH","ipCount":"2","sampleIps":["192.0.2.1"]}],
  "spfSuccessRatio":1,"dkimSuccessRatio":0.99,"dmarcSuccessRatio":0.98,"outboundEncryptionRatio":1},
 {"name":"domains/news.example.com/trafficStats/20260106","domainReputation":"LOW"}],"nextPageToken":""}`
	recs, err := ParseReputation([]byte(data), model.RepPostmaster)
	if err != nil || len(recs) != 2 {
		t.Fatal(recs, err)
	}
	r := recs[0]
	if r.Subject != "news.example.com" || r.Date != "2026-01-05" || !r.HasSpam || r.SpamRate != 0.0014 || r.DomainReputation != "HIGH" || r.Metrics["dkim_success"] != 0.99 {
		t.Errorf("%+v", r)
	}
	if !r.Bad(model.Thresholds{}) { // upper bound 0.14 % ≥ warn 0.1 %
		t.Error("upper bound above the warn level is not bad")
	}
	if recs[1].HasSpam || !recs[1].Bad(model.Thresholds{}) {
		t.Errorf("LOW day %+v", recs[1])
	}
	if _, err := ParseReputation([]byte(`{"trafficStats":[{"name":"x"}]}`), model.RepPostmaster); err == nil || !strings.Contains(err.Error(), "trafficStats 1") {
		t.Errorf("bad name: %v", err)
	}
}

func TestPostmasterV2(t *testing.T) {
	data := `{"results":[{"domainStats":[
 {"name":"domains/example.com/domainStats/abc","metric":"spam_rate","date":{"year":2026,"month":1,"day":5},"value":{"doubleValue":0.002}},
 {"name":"domains/example.com/domainStats/def","metric":"tls","date":{"year":2026,"month":1,"day":5},"value":{"doubleValue":1}},
 {"name":"domains/example.com/domainStats/ghi","metric":"delivery_errors","date":{"year":2026,"month":1,"day":6},"value":{"intValue":"12"}}]}],
 "complianceStatus":{"name":"domains/example.com/complianceStatus","rows":[{"requirement":"SPF","status":"COMPLIANT"},{"requirement":"ONE_CLICK_UNSUBSCRIBE","status":"NEEDS_WORK"}]}}`
	recs, err := ParseReputation([]byte(data), model.RepPostmasterV2)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	var comp, day5 model.ReputationRecord
	for _, r := range recs {
		switch r.Date {
		case "":
			comp = r
		case "2026-01-05":
			day5 = r
		}
	}
	if !day5.HasSpam || day5.SpamRate != 0.002 || day5.Metrics["tls"] != 1 {
		t.Errorf("day 5 %+v", day5)
	}
	if comp.Compliance["ONE_CLICK_UNSUBSCRIBE"] != "NEEDS_WORK" || comp.Compliance["SPF"] != "COMPLIANT" || !comp.Bad(model.Thresholds{}) {
		t.Errorf("compliance %+v", comp)
	}
	if !strings.Contains(comp.Summary(), "NEEDS_WORK ONE_CLICK_UNSUBSCRIBE") {
		t.Errorf("summary %q", comp.Summary())
	}
}

func TestSNDSAndTalos(t *testing.T) {
	data := "192.0.2.1,12/7/2026 6:00 PM,12/8/2026 5:00 PM,1200,1100,1300,GREEN,< 0.1%,,,0,mta1.example.com,bounce@example.com,\n" +
		"192.0.2.2,12/7/2026 6:00 PM,12/8/2026 5:00 PM,900,800,950,RED,0.5%,12/7/2026 7:00 PM,12/7/2026 9:00 PM,3,mta2.example.com,bounce@example.com,\n"
	recs, err := ParseReputation([]byte(data), model.RepSNDS)
	if err != nil || len(recs) != 2 {
		t.Fatal(recs, err)
	}
	if r := recs[1]; r.Subject != "192.0.2.2" || r.Date != "2026-12-07" || r.Filter != "RED" || r.TrapHits != 3 || r.Recipients != 950 || !r.Bad(model.Thresholds{}) {
		t.Errorf("%+v", r)
	}
	if recs[0].Bad(model.Thresholds{}) {
		t.Errorf("green IP bad: %+v", recs[0])
	}
	if _, err := ParseReputation([]byte("192.0.2.1,x\n"), model.RepSNDS); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("short line: %v", err)
	}
	st, err := ParseReputation([]byte("192.0.2.0,192.0.2.255,Yes,Blocked due to user complaints\n"), model.RepSNDSStatus)
	if err != nil || len(st) != 1 || !st[0].Blocked || st[0].Subject != "192.0.2.0-192.0.2.255" {
		t.Errorf("status %+v %v", st, err)
	}
	tl, err := ParseTalos("192.0.2.1=good, 192.0.2.2=Poor")
	if err != nil || len(tl) != 2 || tl[0].Verdict != "Good" || !tl[1].Bad(model.Thresholds{}) {
		t.Errorf("talos %+v %v", tl, err)
	}
	for _, bad := range []string{"192.0.2.1", "x=Good", "192.0.2.1=Great", ""} {
		if _, err := ParseTalos(bad); err == nil {
			t.Errorf("talos %q accepted", bad)
		}
	}
}
