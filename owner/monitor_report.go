package owner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"cutover/ingest/dnsq"
	"cutover/model"
	"cutover/mtactl"
	"cutover/state"
	"cutover/state/alerts"
	"cutover/ui/attach"
	"cutover/ui/notify"
	"cutover/ui/report"
)

// ReportRequest asks for one report (cutover report, OpReport).
type ReportRequest struct {
	Kind   string    `json:"kind"`   // weekly | daily
	Period string    `json:"period"` // 2026-W03 | 2026-01-12; "" = the last complete one before Now
	Format string    `json:"format"` // md | html | json
	Now    time.Time `json:"now"`
}

// ReportReply is the rendered report.
type ReportReply struct {
	Period string `json:"period"`
	Data   []byte `json:"data"`
}

// OpReport renders a report in the owner (the CLI cannot open the
// database while the owner holds it).
const OpReport = "report.render"

// RenderReport builds and renders a report from db. history gives the MTA
// config changes (nil: none known).
func RenderReport(db *state.DB, m *Monitor, th model.Thresholds, history func() ([]mtactl.AuditEntry, error), req ReportRequest) (ReportReply, error) {
	var out ReportReply
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	var from, to time.Time
	var err error
	switch req.Kind {
	case "weekly":
		if req.Period == "" {
			req.Period, from, to = report.WeekOf(req.Now.AddDate(0, 0, -7), m.Zone)
		} else if from, to, err = report.Week(req.Period, m.Zone); err != nil {
			return out, err
		}
	case "daily":
		if req.Period == "" {
			req.Period = req.Now.In(m.Zone).AddDate(0, 0, -1).Format("2006-01-02")
		}
		if from, to, err = report.Day(req.Period, m.Zone); err != nil {
			return out, err
		}
	default:
		return out, fmt.Errorf("report kind %q: want weekly or daily", req.Kind)
	}
	start, err := m.MonitorStart(db)
	if err != nil {
		return out, err
	}
	all, _, err := alerts.All(db)
	if err != nil {
		return out, err
	}
	in := report.Input{DB: db, Kind: req.Kind, From: from, To: to, Period: req.Period, Zone: m.Zone, Now: req.Now, Start: start,
		Days: m.Days, Hours: m.Hours, Thresholds: th, Alerts: all, Pacing: m.Pacing}
	if dr, err := dnsq.LoadReport(db); err == nil && dr != nil {
		in.DNS = &report.DNSInfo{State: dr.State, Checked: dr.Checked, Findings: dr.Findings, DNSBL: dr.DNSBL}
	}
	if history != nil {
		entries, err := history()
		if err != nil {
			return out, err
		}
		for _, e := range entries {
			in.Changes = append(in.Changes, report.Change{At: e.Time, Action: e.Action, From: desiredText(e.From), To: desiredText(e.To),
				Who: e.Who.String(), Result: e.Result})
		}
	}
	r, err := report.Build(in)
	if err != nil {
		return out, err
	}
	out.Period = req.Period
	switch req.Format {
	case "", "md":
		out.Data = report.Markdown(r)
	case "html":
		out.Data, err = report.HTML(r)
	case "json":
		out.Data, err = report.JSON(r)
	default:
		err = fmt.Errorf("--format %q: want md, html or json", req.Format)
	}
	return out, err
}

// desiredText is a config state in one line: "NEW 30 %" plus per-provider
// ratios and throttles, sorted.
func desiredText(d model.Desired) string {
	s := "NEW " + strconv.Itoa(d.RatioNew) + " %"
	for _, k := range sortedMapKeys(d.PerISP) {
		s += fmt.Sprintf(", %s %d %%", k, d.PerISP[k])
	}
	if n := len(d.Throttles); n > 0 {
		s += fmt.Sprintf(", %d throttle(s)", n)
	}
	return s
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (o *Owner) history() func() ([]mtactl.AuditEntry, error) {
	if o.Control == nil {
		return nil
	}
	return o.Control.History
}

func (o *Owner) registerReportOp() {
	o.srv.Handle(OpReport, func(ctx context.Context, s *attach.Session, body json.RawMessage) (any, error) {
		var r ReportRequest
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%w: %v", attach.ErrBadRequest, err)
		}
		m := o.Monitoring()
		if m == nil {
			return nil, fmt.Errorf("monitoring is not configured correctly")
		}
		return RenderReport(o.DB, m.cfg, o.Thresholds, o.history(), r)
	})
}

// WriteReportFile writes data to path without following a planted symlink
// (a temporary file created O_EXCL|O_NOFOLLOW next to it, then renamed).
func WriteReportFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|state.NoFollow, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// scheduleReports wires the weekly report into the evaluator: at the
// configured weekday and time (owner clock, [monitor] zone) the previous
// ISO week is written to reports_dir, indexed in bucket `reports`, and
// announced on the ordinary channels. A week already in the index is not
// written again (a restart at 07:05 does not send a second mail).
func (m *Monitoring) scheduleReports() {
	if m.cfg.WeeklyAt < 0 {
		return
	}
	m.report = func(ctx context.Context, now time.Time) error {
		local := now.In(m.cfg.Zone)
		if local.Weekday() != m.cfg.WeeklyDay || local.Hour()*60+local.Minute() < m.cfg.WeeklyAt {
			return nil
		}
		period, _, _ := report.WeekOf(local.AddDate(0, 0, -7), m.cfg.Zone)
		if period == m.lastWeekly || alerts.HasReport(m.o.DB, "weekly", period) {
			m.lastWeekly = period
			return nil
		}
		rep, err := RenderReport(m.o.DB, m.cfg, m.o.Thresholds, m.o.history(), ReportRequest{Kind: "weekly", Period: period, Format: m.cfg.ReportFormat, Now: now})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(m.cfg.ReportsDir, 0o750); err != nil {
			return err
		}
		ext := m.cfg.ReportFormat
		path := filepath.Join(m.cfg.ReportsDir, "weekly-"+period+"."+ext)
		if err := WriteReportFile(path, rep.Data); err != nil {
			return err
		}
		sum := sha256.Sum256(rep.Data)
		if err := alerts.PutReport(m.o.DB, alerts.Report{Kind: "weekly", Period: period, Format: ext, Path: path,
			SHA256: hex.EncodeToString(sum[:]), Written: now.UTC()}); err != nil {
			return err
		}
		m.lastWeekly = period
		url := m.cfg.URL
		m.deliverLocked(ctx, notify.Message{Kind: string(model.NoticeReport), ID: "weekly-" + period, Rule: "weekly-report",
			FiredAt: now.UTC(), Summary: "weekly report " + period + " written to " + path, URL: url}, now)
		m.o.log.Info("weekly report written", "period", period, "path", path)
		return nil
	}
}
