package metricsreg_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// TestRegisterSharesTheFirstCollector: a second component on one registry
// counts into the first one's series; a collector that clashes with another
// kind is an error, not a silent second series.
func TestRegisterSharesTheFirstCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "orderflow_test_total", Help: "h"}
	var errs []error
	first := metricsreg.Register(reg, prometheus.NewCounter(opts), &errs)
	second := metricsreg.Register(reg, prometheus.NewCounter(opts), &errs)
	second.Inc()
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if first != second {
		t.Errorf("the second registration did not return the first collector")
	}
	clash := metricsreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "orderflow_test_total", Help: "other"}), &errs)
	if len(errs) != 1 || clash == nil {
		t.Errorf("a clashing collector: errors %v, collector %v", errs, clash)
	}
	unregistered := prometheus.NewCounter(opts)
	if got := metricsreg.Register(nil, unregistered, &errs); got != unregistered || len(errs) != 1 {
		t.Errorf("a nil registry: got another collector or an error")
	}
}
