package webhook

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// The outcome label's values: bounded, and finer than Outcome, so that a
// dashboard tells a rate limit from an outage.
const (
	labelDone        = "done"
	labelDuplicate   = "duplicate"    // 409: the courier had it already
	labelRateLimited = "rate_limited" // 429
	labelServerError = "server_error" // 5xx
	labelTimeout     = "timeout"
	labelConnection  = "connection_error"
	labelRejected    = "rejected" // another 4xx, or a 3xx
	labelInvalid     = "invalid"  // refused before sending: never reached the courier
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// The names, help texts and buckets are the connectors' shared series: every
// connector declares them identically, so that metricsreg hands the second
// one the first one's collectors.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	s := metricsreg.NewSet(reg)
	m := &metrics{
		requests: s.CounterVec("orderflow_connector_requests_total",
			"Requests a connector made to its provider, by connector and outcome.", "connector", "outcome"),
		duration: s.HistogramVec("orderflow_connector_request_duration_seconds",
			"Time from sending a connector's request to its provider's answer, by connector.",
			[]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "connector"),
	}
	return m, s.Err()
}
