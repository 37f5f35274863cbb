package retention

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry"
)

// Outcome label values of orderflow_purge_runs_total and
// orderflow_offboardings_total.
const (
	runOK     = "ok"
	runFailed = "failed"
	runDryRun = "dry_run"
)

// jurisdiction label values of the per-jurisdiction financial gauges for
// records whose jurisdiction is not an ISO country code.
const (
	jurisdictionUnknown = "unknown" // the empty jurisdiction
	jurisdictionOther   = "other"   // anything else: bounded cardinality
)

type metrics struct {
	runs        *prometheus.CounterVec
	rows        *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	oldestAge   *prometheus.GaugeVec
	limit       *prometheus.GaugeVec
	finAge      *prometheus.GaugeVec
	finLimit    *prometheus.GaugeVec
	duration    prometheus.Histogram
	offboards   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_purge_runs_total",
			Help: "Retention passes, by outcome (ok, failed: at least one table's purge failed, dry_run).",
		}, []string{"outcome"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_purge_rows_total",
			Help: "Rows removed by dropped partitions and deletes, by table and reason (the retention class: label, financial, analytics; or offboarding). Dry runs are not counted.",
		}, []string{"table", "reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_purge_partitions_dropped_total",
			Help: "Whole partitions dropped because every row they can hold had expired, by table. Dry runs are not counted.",
		}, []string{"table"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderflow_purge_last_success_timestamp_seconds",
			Help: "When the last retention pass that purged the table without error finished (Unix seconds), by table. Absent until the first success; dry runs do not set it.",
		}, []string{"table"}),
		oldestAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderflow_retention_oldest_row_age_seconds",
			Help: "Age of the oldest row still stored in the class's tables after the last pass (the pass's as-of time minus its purchased_at; 0 when empty), by retention class. Compare with orderflow_retention_limit_seconds.",
		}, []string{"class"}),
		limit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderflow_retention_limit_seconds",
			Help: "Configured retention of the class, in seconds (years of 365.25 days); for financial the default period, see orderflow_retention_financial_limit_seconds for jurisdictions.",
		}, []string{"class"}),
		finAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderflow_retention_financial_oldest_row_age_seconds",
			Help: "Age of the oldest financial record still stored after the last pass, by jurisdiction (ISO country code; unknown for none, other for anything else).",
		}, []string{"jurisdiction"}),
		finLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "orderflow_retention_financial_limit_seconds",
			Help: "Configured financial retention of the jurisdiction, in seconds (years of 365.25 days), for every jurisdiction stored or configured.",
		}, []string{"jurisdiction"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_purge_duration_seconds",
			Help:    "Duration of whole retention passes, dry runs included.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600},
		}),
		offboards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_offboardings_total",
			Help: "Tenant offboardings (keys destroyed, rows deleted, deletion verified), by outcome (ok, failed).",
		}, []string{"outcome"}),
	}
	var errs []error
	m.runs = telemetry.Register(reg, m.runs, &errs)
	m.rows = telemetry.Register(reg, m.rows, &errs)
	m.dropped = telemetry.Register(reg, m.dropped, &errs)
	m.lastSuccess = telemetry.Register(reg, m.lastSuccess, &errs)
	m.oldestAge = telemetry.Register(reg, m.oldestAge, &errs)
	m.limit = telemetry.Register(reg, m.limit, &errs)
	m.finAge = telemetry.Register(reg, m.finAge, &errs)
	m.finLimit = telemetry.Register(reg, m.finLimit, &errs)
	m.duration = telemetry.Register(reg, m.duration, &errs)
	m.offboards = telemetry.Register(reg, m.offboards, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("retention metrics: %w", err)
	}
	return m, nil
}

// preRegister creates the series whose label values are known, so that
// dashboards see zeros rather than gaps before the first purge.
func (m *metrics) preRegister(tables []table) {
	for _, o := range []string{runOK, runFailed, runDryRun} {
		m.runs.WithLabelValues(o)
	}
	for _, o := range []string{runOK, runFailed} {
		m.offboards.WithLabelValues(o)
	}
	for _, t := range tables {
		m.rows.WithLabelValues(t.name, string(t.class))
		m.rows.WithLabelValues(t.name, reasonOffboarding)
		m.dropped.WithLabelValues(t.name)
	}
	for _, c := range []Class{ClassLabel, ClassFinancial, ClassAnalytics} {
		m.oldestAge.WithLabelValues(string(c))
	}
}
