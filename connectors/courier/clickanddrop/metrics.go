package clickanddrop

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// metrics are labelled by connector only (and outcome): never by tenant,
// order or anything a provider answered, so labels stay bounded and clean.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	rateLimitWaits *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	s := metricsreg.NewSet(reg)
	m := &metrics{
		requests: s.CounterVec("orderflow_connector_requests_total",
			"Connector requests (courier jobs) by outcome: done, retry or failed (for good).", "connector", "outcome"),
		duration: s.HistogramVec("orderflow_connector_request_duration_seconds",
			"Duration of each API call a connector made.", prometheus.ExponentialBuckets(0.01, 2.5, 10), "connector"),
		rateLimitWaits: s.CounterVec("orderflow_connector_rate_limit_waits_total",
			"API calls that waited for the account's rate limit.", "connector"),
	}
	return m, s.Err()
}
