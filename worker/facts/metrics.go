package facts

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

type metrics struct {
	rows, batches [numTables]prometheus.Counter
	// errors holds each table's counter by reason (insertReasons).
	errors        [numTables]map[string]prometheus.Counter
	duration      [numTables]prometheus.Observer
	labelsSkipped prometheus.Counter

	// diskFull is each table's count of shards whose last insert attempt
	// failed for a full disk (full, by shard index and table).
	diskFull [numTables]prometheus.Gauge
	mu       sync.Mutex
	full     map[int]*[numTables]bool
}

// durationBuckets span a small block on a idle server (1ms) to a large one
// behind a busy merge (30s).
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	set := metricsreg.NewSet(reg)
	rows := set.CounterVec("orderflow_clickhouse_insert_rows_total",
		"Rows inserted into ClickHouse by the facts writer, by table (successful inserts only).",
		"table")
	batches := set.CounterVec("orderflow_clickhouse_insert_batches_total",
		"Block inserts into ClickHouse that succeeded, by table.",
		"table")
	errs := set.CounterVec("orderflow_clickhouse_insert_errors_total",
		"Failed block insert attempts into ClickHouse, by table and reason (disk_full, too_many_parts, "+
			"refused, unreachable, other); each attempt counts.",
		"table", "reason")
	duration := set.HistogramVec("orderflow_clickhouse_insert_duration_seconds",
		"Time of a successful block insert into ClickHouse, from prepare to send, by table.",
		durationBuckets,
		"table")
	diskFull := set.GaugeVec("orderflow_clickhouse_disk_full",
		"1 while the last insert attempt into the table failed because ClickHouse's disk is full (in cluster mode, "+
			"the number of shards where it did), else 0. It stays 1 while no insert is attempted: the alert's signal.",
		"table")
	skipped := set.Counter("orderflow_facts_labels_expired_skipped_total",
		"Delivery labels not written because the label's retention had ended when the snapshot was written (P9).")
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("facts metrics: %w", err)
	}
	m := &metrics{labelsSkipped: skipped, full: map[int]*[numTables]bool{}}
	// Every table's series exists from the start, at zero.
	for t := range numTables {
		m.rows[t] = rows.WithLabelValues(t.String())
		m.batches[t] = batches.WithLabelValues(t.String())
		m.errors[t] = map[string]prometheus.Counter{}
		for _, r := range insertReasons {
			m.errors[t][r] = errs.WithLabelValues(t.String(), r)
		}
		m.duration[t] = duration.WithLabelValues(t.String())
		m.diskFull[t] = diskFull.WithLabelValues(t.String())
	}
	return m, nil
}

// attempted records the outcome of an insert attempt into table t on the
// shard at index shard: whether it failed because the disk is full.
// Anything else (a success, another failure) says the disk is not known to
// be full there.
func (m *metrics) attempted(shard int, t table, full bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tables, ok := m.full[shard]
	if !ok {
		tables = &[numTables]bool{}
		m.full[shard] = tables
	}
	tables[t] = full
	n := 0
	for _, tables := range m.full {
		if tables[t] {
			n++
		}
	}
	m.diskFull[t].Set(float64(n))
}
