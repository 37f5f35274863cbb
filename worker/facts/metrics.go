package facts

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

type metrics struct {
	rows, batches, errors [numTables]prometheus.Counter
	duration              [numTables]prometheus.Observer
	labelsSkipped         prometheus.Counter
}

// durationBuckets span a small block on a idle server (1ms) to a large one
// behind a busy merge (30s).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderflow_clickhouse_insert_rows_total",
		Help: "Rows inserted into ClickHouse by the facts writer, by table (successful inserts only).",
	}, []string{"table"})
	batches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderflow_clickhouse_insert_batches_total",
		Help: "Block inserts into ClickHouse that succeeded, by table.",
	}, []string{"table"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "orderflow_clickhouse_insert_errors_total",
		Help: "Failed block insert attempts into ClickHouse, by table; each attempt counts.",
	}, []string{"table"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "orderflow_clickhouse_insert_duration_seconds",
		Help:    "Time of a successful block insert into ClickHouse, from prepare to send, by table.",
		Buckets: durationBuckets,
	}, []string{"table"})
	skipped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "orderflow_facts_labels_expired_skipped_total",
		Help: "Delivery labels not written because the label's retention had ended when the snapshot was written (P9).",
	})
	var all []error
	rows = metricsreg.Register(reg, rows, &all)
	batches = metricsreg.Register(reg, batches, &all)
	errs = metricsreg.Register(reg, errs, &all)
	duration = metricsreg.Register(reg, duration, &all)
	skipped = metricsreg.Register(reg, skipped, &all)
	if err := errors.Join(all...); err != nil {
		return nil, fmt.Errorf("facts metrics: %w", err)
	}
	m := &metrics{labelsSkipped: skipped}
	// Every table's series exists from the start, at zero.
	for t := range numTables {
		m.rows[t] = rows.WithLabelValues(t.String())
		m.batches[t] = batches.WithLabelValues(t.String())
		m.errors[t] = errs.WithLabelValues(t.String())
		m.duration[t] = duration.WithLabelValues(t.String())
	}
	return m, nil
}
