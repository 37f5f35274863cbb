package pipeline

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_orders_normalized_total",
			Help: "Orders normalised, written and committed, by channel.",
		}, []string{"channel"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_dead_letters_total",
			Help: "Messages published to the dead-letter topic, by stage and reason.",
		}, []string{"stage", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_pipeline_retries_total",
			Help: "Failed attempts that were retried, by stage (dead_letter, sink, commit).",
		}, []string{"stage"}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orderflow_batches_committed_total",
			Help: "Batches fully written and committed.",
		}),
		batchMessages: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_batch_messages",
			Help:    "Messages per committed batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_batch_duration_seconds",
			Help:    "Time from a batch's fetch to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}),
		lastCommit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orderflow_last_commit_timestamp_seconds",
			Help: "Unix time of the last committed batch.",
		}),
		// Freshness as the business sees it: from the message's Kafka timestamp
		// (when the platform produced the snapshot) to the commit after its
		// write. Fine buckets from 5ms to 10 minutes, so that p50 and p99 read
		// from them are close (make bench reports them).
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_end_to_end_seconds",
			Help:    "Time from a message's Kafka timestamp to the commit of its batch, per message.",
			Buckets: prometheus.ExponentialBucketsRange(0.005, 600, 40),
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orderflow_orders_refused_offboarded_total",
			Help: "Orders of offboarded tenants, committed without being written anywhere.",
		}),
	}
	for _, c := range []prometheus.Collector{m.orders, m.deadLetters, m.retries, m.batches, m.batchMessages, m.batchSeconds, m.lastCommit, m.endToEnd, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("pipeline metrics: %w", err)
		}
	}
	return m, nil
}
