package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

type metrics struct {
	orders        *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	retries       *prometheus.CounterVec
	batches       prometheus.Counter
	batchMessages prometheus.Histogram
	batchSeconds  prometheus.Histogram
	lastCommit    prometheus.Gauge
	endToEnd      prometheus.Histogram
	refused       prometheus.Counter
	// stageSeconds is where a batch's time goes, one observation per batch
	// and stage (retries included): what to look at when latency grows.
	stageSeconds *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	set := metricsreg.NewSet(reg)
	m := &metrics{
		orders: set.CounterVec("orderflow_orders_normalized_total",
			"Orders normalised, written and committed, by channel.",
			"channel"),
		deadLetters: set.CounterVec("orderflow_dead_letters_total",
			"Messages published to the dead-letter topic, by stage and reason.",
			"stage", "reason"),
		retries: set.CounterVec("orderflow_pipeline_retries_total",
			"Failed attempts that were retried, by stage (fetch, protect, dead_letter, write, commit).",
			"stage"),
		batches: set.Counter("orderflow_batches_committed_total",
			"Batches fully written and committed."),
		batchMessages: set.Histogram("orderflow_batch_messages",
			"Messages per committed batch.",
			prometheus.ExponentialBuckets(1, 4, 9)),
		batchSeconds: set.Histogram("orderflow_batch_duration_seconds",
			"Time from a batch's fetch to its commit.",
			prometheus.ExponentialBuckets(0.001, 4, 9)),
		lastCommit: set.Gauge("orderflow_last_commit_timestamp_seconds",
			"Unix time of the last committed batch."),
		// Freshness as the business sees it: from the message's Kafka timestamp
		// (when the platform produced the snapshot) to the commit after its
		// write. Fine buckets from 5ms to 10 minutes, so that p50 and p99 read
		// from them are close (make bench reports them).
		endToEnd: set.Histogram("orderflow_end_to_end_seconds",
			"Time from a message's Kafka timestamp to the commit of its batch, per message.",
			prometheus.ExponentialBucketsRange(0.005, 600, 40)),
		refused: set.Counter("orderflow_orders_refused_offboarded_total",
			"Orders of offboarded tenants, committed without being written anywhere."),
		stageSeconds: set.HistogramVec("orderflow_pipeline_stage_seconds",
			"Time a batch spent in each stage after its fetch (normalize, protect, dead_letter, write: all sinks, commit), retries included.",
			prometheus.ExponentialBuckets(0.0005, 2.5, 12), "stage"),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("pipeline metrics: %w", err)
	}
	// At zero from the start: a dashboard shows 0, not "no data", and the
	// first retry is an increase.
	for _, stage := range []string{StageFetch, StageProtect, StageDeadLetter, StageWrite, StageCommit} {
		m.retries.WithLabelValues(stage)
	}
	for _, stage := range []string{StageNormalize, StageProtect, StageDeadLetter, StageWrite, StageCommit} {
		m.stageSeconds.WithLabelValues(stage)
	}
	return m, nil
}
