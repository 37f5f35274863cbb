package retention

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// Outcome label values of orderflow_purge_runs_total and
// orderflow_offboardings_total.
const (
	runOK      = "ok"
	runFailed  = "failed"
	runDryRun  = "dry_run"
	runSkipped = "skipped_lease_held" // another pass held the lease: nothing done
)

// jurisdiction label values of the per-jurisdiction financial gauges for
// records whose jurisdiction is not an ISO country code.
const (
	jurisdictionUnknown = "unknown" // the empty jurisdiction
	jurisdictionOther   = "other"   // anything else: bounded cardinality
)

// The metrics come in two kinds. Counters and the histogram count since the
// process started: right for `orderflow run`, which Prometheus scrapes. The
// gauges describe the last pass (or offboarding) and stand alone: they are
// what a one-shot `orderflow purge` or `orderflow offboard` pushes to a
// Pushgateway, where a counter of a process that lives for one run would
// restart from zero at every push and fool rate() and increase().
type metrics struct {
	runs        *prometheus.CounterVec
	rows        *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	lastSuccess *prometheus.GaugeVec
	oldestAge   *prometheus.GaugeVec
	limit       *prometheus.GaugeVec
	finAge      *prometheus.GaugeVec
	finLimit    *prometheus.GaugeVec
	futureRows  *prometheus.GaugeVec
	duration    prometheus.Histogram
	offboards   *prometheus.CounterVec
	erasures    *prometheus.CounterVec

	// The last pass that held the lease (or had none to take).
	lastRunRows    *prometheus.GaugeVec
	lastRunOutcome *prometheus.GaugeVec
	lastRunTime    *prometheus.GaugeVec // no labels: absent until the first pass
	lastSkip       *prometheus.GaugeVec // no labels: absent until a pass is skipped

	// The last offboarding.
	offboardRows        *prometheus.GaugeVec
	offboardOutcome     *prometheus.GaugeVec
	offboardTime        *prometheus.GaugeVec
	offboardLastSuccess *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	set := metricsreg.NewSet(reg)
	m := &metrics{
		runs: set.CounterVec("orderflow_purge_runs_total",
			"Retention passes, by outcome (ok, failed: at least one table's purge failed, dry_run, skipped_lease_held: another pass held the purge lease and this one did nothing).",
			"outcome"),
		rows: set.CounterVec("orderflow_purge_rows_total",
			"Rows removed by dropped partitions and deletes, by table and reason (the retention class: label, financial, analytics; or offboarding). Dry runs are not counted.",
			"table", "reason"),
		dropped: set.CounterVec("orderflow_purge_partitions_dropped_total",
			"Whole partitions dropped because every row they can hold had expired, by table. Dry runs are not counted.",
			"table"),
		lastSuccess: set.GaugeVec("orderflow_purge_last_success_timestamp_seconds",
			"When the last retention pass that purged the table without error finished (Unix seconds), by table. Absent until the first success; dry runs do not set it.",
			"table"),
		oldestAge: set.GaugeVec("orderflow_retention_oldest_row_age_seconds",
			"Age of the oldest row still stored in the class's tables after the last pass: the pass's as-of time minus the row's purchased_at (for financial, its last_financial_event_at); 0 when empty, negative when even the oldest row is dated after the as-of time (see orderflow_retention_future_dated_rows), by retention class. Compare with orderflow_retention_limit_seconds.",
			"class"),
		limit: set.GaugeVec("orderflow_retention_limit_seconds",
			"The longest a row of the class may be kept while purges run, in seconds (years of 365.25 days): the period; for financial, the default jurisdiction's period plus a financial year and two days (see orderflow_retention_financial_limit_seconds for each jurisdiction).",
			"class"),
		finAge: set.GaugeVec("orderflow_retention_financial_oldest_row_age_seconds",
			"Age of the oldest last financial event of the financial records still stored after the last pass (negative when all are dated after the pass's as-of time), by jurisdiction (ISO country code; unknown for none, other for anything else). Compare with orderflow_retention_financial_limit_seconds of the same jurisdiction.",
			"jurisdiction"),
		finLimit: set.GaugeVec("orderflow_retention_financial_limit_seconds",
			"The longest a financial record of the jurisdiction may be kept after its last financial event while purges run, in seconds (years of 365.25 days): its period (never below its statutory minimum), plus up to a financial year to the year's end, plus a calendar year where the statute counts from the calendar year's end, plus two days (the time zones' 26 hours, and leap days); for every jurisdiction stored or configured.",
			"jurisdiction"),
		futureRows: set.GaugeVec("orderflow_retention_future_dated_rows",
			"Rows dated after the last pass's as-of time (purchased_at; for financial, last_financial_event_at), by retention class: a clock or data problem, since such rows are kept until their date plus the period.",
			"class"),
		duration: set.Histogram("orderflow_purge_duration_seconds",
			"Duration of whole retention passes, dry runs included.",
			[]float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}),
		offboards: set.CounterVec("orderflow_offboardings_total",
			"Tenant offboardings (keys destroyed, rows deleted, deletion verified), by outcome (ok, failed).",
			"outcome"),
		erasures: set.CounterVec("orderflow_erasures_total",
			"Buyers' erasure requests run (tokens replaced, labels deleted, invoice parties cleared where the law allows, verified), by outcome (ok, failed).",
			"outcome"),
		lastRunRows: set.GaugeVec("orderflow_purge_last_run_rows",
			"Rows the last retention pass that deleted (not a dry run, not skipped) removed, by table and reason.",
			"table", "reason"),
		lastRunOutcome: set.GaugeVec("orderflow_purge_last_run_outcome",
			"1 for the outcome (ok, failed) of the last retention pass that deleted, 0 for the other.",
			"outcome"),
		lastRunTime: set.GaugeVec("orderflow_purge_last_run_timestamp_seconds",
			"When the last retention pass that deleted (not a dry run, not skipped) finished, whatever its outcome (Unix seconds)."),
		lastSkip: set.GaugeVec("orderflow_purge_last_skip_timestamp_seconds",
			"When a retention pass last found the purge lease held by another pass and did nothing (Unix seconds)."),
		offboardRows: set.GaugeVec("orderflow_offboard_last_run_rows",
			"Rows the last offboarding deleted, by table.",
			"table"),
		offboardOutcome: set.GaugeVec("orderflow_offboard_last_run_outcome",
			"1 for the outcome (ok, failed) of the last offboarding, 0 for the other.",
			"outcome"),
		offboardTime: set.GaugeVec("orderflow_offboard_last_run_timestamp_seconds",
			"When the last offboarding finished, whatever its outcome (Unix seconds)."),
		offboardLastSuccess: set.GaugeVec("orderflow_offboard_last_success_timestamp_seconds",
			"When the last offboarding that succeeded (keys destroyed, no row left) finished (Unix seconds)."),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("retention metrics: %w", err)
	}
	return m, nil
}

// preRegister creates the series whose label values are known, so that
// dashboards see zeros rather than gaps before the first purge.
func (m *metrics) preRegister(classes []config.RetentionClass, tables []table) {
	for _, o := range []string{runOK, runFailed, runDryRun, runSkipped} {
		m.runs.WithLabelValues(o)
	}
	for _, o := range []string{runOK, runFailed} {
		m.offboards.WithLabelValues(o)
		m.erasures.WithLabelValues(o)
	}
	for _, t := range tables {
		m.rows.WithLabelValues(t.name, t.reason())
		m.rows.WithLabelValues(t.name, reasonOffboarding)
		m.dropped.WithLabelValues(t.name)
	}
	for _, c := range classes {
		m.oldestAge.WithLabelValues(string(c.Name))
		m.futureRows.WithLabelValues(string(c.Name))
	}
}

// passDone sets the last-run gauges after a pass that deleted (outcome ok or
// failed): its rows per table and reason, from its actions.
func (m *metrics) passDone(tables []table, actions []Action, outcome string, now time.Time) {
	m.lastRunRows.Reset()
	for _, t := range tables {
		m.lastRunRows.WithLabelValues(t.name, t.reason())
		m.lastRunRows.WithLabelValues(t.name, reasonOffboarding)
	}
	for _, a := range actions {
		if a.Outcome == OutcomeOK && a.Table != "" && a.Kind != ActionPrune {
			m.lastRunRows.WithLabelValues(a.Table, a.Reason).Add(float64(a.Rows))
		}
	}
	for _, o := range []string{runOK, runFailed} {
		m.lastRunOutcome.WithLabelValues(o).Set(b2f(o == outcome))
	}
	m.lastRunTime.WithLabelValues().Set(unixSeconds(now))
}

// offboarded sets the last-offboarding gauges.
func (m *metrics) offboarded(tables []table, r OffboardReport, outcome string, now time.Time) {
	m.offboardRows.Reset()
	for _, t := range tables {
		m.offboardRows.WithLabelValues(t.name)
	}
	for _, a := range r.Actions {
		if a.Kind == ActionOffboardDelete && a.Outcome == OutcomeOK {
			m.offboardRows.WithLabelValues(a.Table).Add(float64(a.Rows))
		}
	}
	for _, o := range []string{runOK, runFailed} {
		m.offboardOutcome.WithLabelValues(o).Set(b2f(o == outcome))
	}
	m.offboardTime.WithLabelValues().Set(unixSeconds(now))
	if outcome == runOK {
		m.offboardLastSuccess.WithLabelValues().Set(unixSeconds(now))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as a timestamp gauge's value, to the millisecond.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }
