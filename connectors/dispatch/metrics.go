package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// noConnector is the connector label of a job parked before it had one
// (malformed, or no connector lists its tenant).
const noConnector = "none"

// Outcomes of a job (the outcome label of orderflow_connector_jobs_total).
const (
	jobDelivered = "delivered"
	jobParked    = "parked"
	jobDuplicate = "duplicate" // a second copy of a job in one batch
	jobDiscarded = "discarded" // its tenant was offboarded or its buyer erased: nothing to deliver
)

// metrics are labelled by connector name, job kind, outcome and park reason:
// bounded sets, never a tenant or an order.
type metrics struct {
	jobs     *prometheus.CounterVec
	retries  *prometheus.CounterVec
	parked   *prometheus.CounterVec
	replayed *prometheus.CounterVec
	waits    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	shared, err := courier.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := metricsreg.NewSet(reg)
	m := &metrics{
		jobs: s.CounterVec("orderflow_connector_jobs_total",
			"Courier jobs the dispatcher finished, by connector, kind (create, cancel) and outcome (delivered, parked, duplicate, discarded).",
			"connector", "kind", "outcome"),
		retries: s.CounterVec("orderflow_connector_retries_total",
			"Deliveries the dispatcher tried again after a transient failure (5xx, 429, timeout, connection), by connector.", "connector"),
		parked: s.CounterVec("orderflow_connector_parked_total",
			"Jobs parked on the parked topic, by connector and reason.", "connector", "reason"),
		replayed: s.CounterVec("orderflow_connector_replayed_total",
			"Jobs orderflow replay-parked put back that the dispatcher then finished, by connector and outcome (delivered, parked again).",
			"connector", "outcome"),
		waits: shared.RateLimitWaits,
	}
	return m, s.Err()
}

// parkReasons are every reason a job is parked for.
var parkReasons = []string{ReasonRefused, ReasonRetriesExhausted, ReasonNoConnector, ReasonMalformed, ReasonUndecryptable, ReasonProjection}

// start makes the series of parks, replays and retries exist at zero for
// every connector before the first of them happens, so that a dashboard
// shows 0 rather than "no data", and an alert on their increase sees the
// first one (increase() needs a sample before it).
func (m *metrics) start(connectors []string) {
	for _, c := range append(connectors, noConnector) {
		for _, reason := range parkReasons {
			m.parked.WithLabelValues(c, reason)
		}
		if c == noConnector {
			continue
		}
		m.retries.WithLabelValues(c)
		for _, outcome := range []string{jobDelivered, jobParked} {
			m.replayed.WithLabelValues(c, outcome)
		}
	}
}
