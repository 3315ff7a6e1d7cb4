package owner

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cutover/model"
	"cutover/state"
	"cutover/state/suppress"
	"cutover/ui"
	"cutover/ui/attach"
)

// metricsSource is what the collector reads on each scrape. Counters come
// from the database (day buckets, kept forever), not from in-process
// counting, so they are right after a restart and never reset to zero.
type metricsSource struct {
	DB       *state.DB
	Sources  func(now time.Time) ([]ui.SourceView, error) // nil: no source metrics
	Control  attach.Controller                            // nil: no ratio/throttle/apply metrics
	Suppress func() (suppress.Stats, error)               // nil or error: no suppression metrics
	Viewers  func() int
	// AlertHours is the [monitor] clock of the time-to-ack histogram.
	AlertHours *model.OperatingHours
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("cutover_"+name, help, labels, nil)
}

var (
	descOutcomes    = desc("outcomes_total", "Recipient outcomes counted from the logs, per side (old/new), MTA, mailbox provider and outcome (delivered, deferred, held, bounced, expired, complaint).", "side", "mta", "isp", "outcome")
	descHard        = desc("hard_bounces_total", "Hard bounces (a subset of outcome=\"bounced\"), per side, MTA and mailbox provider.", "side", "mta", "isp")
	descNewest      = desc("newest_event_timestamp_seconds", "Time of the newest event committed to the database.")
	descSrcLag      = desc("source_lag_bytes", "Bytes of the current file not yet consumed.", "source")
	descSrcState    = desc("source_state", "1 for the state the source is in (following, idle, waiting, stale, unreachable, unknown), 0 for the others.", "source", "state")
	descSrcLines    = desc("source_lines_total", "Lines read from the source.", "source")
	descSrcRejected = desc("source_rejected_lines_total", "Lines that looked like outcomes but could not be parsed.", "source")
	descSrcLast     = desc("source_last_line_timestamp_seconds", "Log time of the newest line read from the source.", "source")
	descSupEvents   = desc("suppression_events_total", "Events in the canonical suppression log, per type.", "type")
	descSupAddrs    = desc("suppression_addresses", "Distinct addresses in the suppression index, per type.", "type")
	descRatio       = desc("new_share_ratio", "Share of traffic routed to the NEW side by the last applied config (0-1).")
	descISPRatio    = desc("provider_new_share_ratio", "Share routed to NEW for one provider (0-1), where it differs from the global share or the provider is configured.", "isp")
	descThrRate     = desc("throttle_messages_per_hour", "NEW side's per-provider message rate limit (0: none).", "isp")
	descThrConn     = desc("throttle_connections", "NEW side's per-provider concurrent connection limit (0: none).", "isp")
	descThrPerConn  = desc("throttle_messages_per_connection", "NEW side's per-provider messages per connection (0: none).", "isp")
	descChanges     = desc("config_changes_total", "MTA config changes by action (apply, rollback, baseline) and result (ok, failed, pending).", "action", "result")
	descLastTime    = desc("last_config_change_timestamp_seconds", "Time of the last MTA config change.", "action", "result")
	descLastOK      = desc("last_config_change_success", "1 if the last MTA config change succeeded, 0 if it failed or is pending.")
	descViewers     = desc("attached_viewers", "Viewers attached to the control socket.")
)

type cutoverCollector struct{ src metricsSource }

func (c cutoverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutcomes, descHard, descNewest, descSrcLag, descSrcState, descSrcLines,
		descSrcRejected, descSrcLast, descSupEvents, descSupAddrs, descRatio, descISPRatio, descThrRate, descThrConn,
		descThrPerConn, descChanges, descLastTime, descLastOK, descViewers} {
		ch <- d
	}
	describeDNS(ch)
	describePacing(ch)
	describePlan(ch)
	describeAlerts(ch)
}

var sourceStates = []ui.SourceState{ui.SourceFollowing, ui.SourceIdle, ui.SourceWaiting, ui.SourceStale, ui.SourceUnreachable, ui.SourceUnknown}

func (c cutoverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}

	// Since zero: day buckets over the whole history, summed per series.
	rows, err := s.DB.Stats(state.Query{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descOutcomes, err)
	}
	for _, r := range rows {
		side := r.Side.String()
		for _, o := range []struct {
			name string
			v    uint64
		}{{"delivered", r.Delivered}, {"deferred", r.Deferred}, {"held", r.Held}, {"bounced", r.Bounced},
			{"expired", r.Expired}, {"complaint", r.Complaints}} {
			counter(descOutcomes, float64(o.v), side, r.MTA, r.ISP, o.name)
		}
		counter(descHard, float64(r.HardBounce), side, r.MTA, r.ISP)
	}
	if n := s.DB.Newest(); !n.IsZero() {
		gauge(descNewest, float64(n.UnixNano())/1e9)
	}

	if s.Sources != nil {
		srcs, err := s.Sources(time.Now())
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descSrcState, err)
		}
		for _, v := range srcs {
			gauge(descSrcLag, float64(max(v.Size-v.Offset, 0)), v.Name)
			for _, st := range sourceStates {
				on := 0.0
				if st == v.State {
					on = 1
				}
				gauge(descSrcState, on, v.Name, st.String())
			}
			counter(descSrcLines, float64(v.Lines), v.Name)
			counter(descSrcRejected, float64(v.Rejected), v.Name)
			if !v.LastLine.IsZero() {
				gauge(descSrcLast, float64(v.LastLine.UnixNano())/1e9, v.Name)
			}
		}
	}

	if s.Suppress != nil {
		if st, err := s.Suppress(); err == nil {
			for _, t := range model.SuppressionTypes {
				cnt := st.ByType[string(t)]
				counter(descSupEvents, float64(cnt.Events), string(t))
				gauge(descSupAddrs, float64(cnt.Addresses), string(t))
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			ch <- prometheus.NewInvalidMetric(descSupEvents, err)
		}
	}

	if s.Control != nil {
		cur := s.Control.Current()
		gauge(descRatio, float64(cur.RatioNew)/100)
		isps := map[string]bool{}
		for _, p := range s.Control.Providers() {
			isps[p] = true
		}
		for p := range cur.PerISP {
			isps[p] = true
		}
		for p := range isps {
			gauge(descISPRatio, float64(cur.RatioFor(p))/100, p)
		}
		for isp, t := range cur.Throttles {
			gauge(descThrRate, float64(t.PerHour), isp)
			gauge(descThrConn, float64(t.Connections), isp)
			gauge(descThrPerConn, float64(t.PerConnection), isp)
		}
		hist, err := s.Control.History()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descChanges, err)
		}
		type key struct{ action, result string }
		counts := map[key]int{}
		for _, e := range hist {
			counts[key{e.Action, e.Result}]++
		}
		for k, n := range counts {
			counter(descChanges, float64(n), k.action, k.result)
		}
		if len(hist) > 0 {
			e := hist[len(hist)-1]
			gauge(descLastTime, float64(e.Time.UnixNano())/1e9, e.Action, e.Result)
			ok := 0.0
			if e.Result == "ok" {
				ok = 1
			}
			gauge(descLastOK, ok)
		}
	}
	if s.Viewers != nil {
		gauge(descViewers, float64(s.Viewers()))
	}
	collectDNS(s.DB, ch) // dns.go
	collectPacing(s.DB, ch)
	collectPlan(s.DB, ch)                 // plan_status.go
	collectAlerts(s.DB, s.AlertHours, ch) // alerts.go
}

// newMetricsRegistry is a registry of its own (not the global default): the
// cutover collector plus the Go runtime and process collectors.
func newMetricsRegistry(src metricsSource) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(cutoverCollector{src}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// startMetrics serves /metrics on addr. It listens before returning, so a
// busy port is an error at startup, not a log line later.
func startMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*http.Server, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError, // one failing family must not blank the others
		Timeout:       30 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "cutover: metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	if w := MetricsExposure(ln.Addr()); w != "" {
		log.Warn(w, "addr", ln.Addr().String())
	}
	return srv, ln.Addr(), nil
}

// MetricsExposure is the warning for a metrics endpoint reachable from
// other hosts ("" on loopback): /metrics has no authentication, and its
// labels name providers, sources and the cutover's progress.
func MetricsExposure(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta.IP.IsLoopback() {
		return ""
	}
	return "metrics listen on a non-loopback address: /metrics has no authentication, anyone who can reach " +
		ta.String() + " reads it; bind 127.0.0.1 and scrape through a tunnel or an authenticating proxy"
}
