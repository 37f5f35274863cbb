package outbox

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

type metrics struct {
	// written counts jobs acknowledged by the topic, by kind (create,
	// cancel: bounded). A batch written again after a failure counts again.
	written *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	s := metricsreg.NewSet(reg)
	m := &metrics{
		written: s.CounterVec("orderflow_outbox_jobs_written_total",
			"Courier jobs written to the outbox topic and acknowledged by every in-sync replica, by kind; a batch retried after a failed write counts again.",
			"kind"),
	}
	// Both series exist from the start, so that a rate over them is 0, not absent.
	for _, k := range []Kind{KindCreate, KindCancel} {
		m.written.WithLabelValues(string(k))
	}
	return m, s.Err()
}
