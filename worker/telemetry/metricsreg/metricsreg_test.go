package metricsreg_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

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

// TestSetDeclaresAndReportsEveryClash: each kind a Set declares is gathered
// under its name, labels and buckets; a second Set on the registry shares the
// first one's series; and Err names every clash, not only the first.
func TestSetDeclaresAndReportsEveryClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	declare := func() (*metricsreg.Set, prometheus.Counter, *prometheus.CounterVec, *prometheus.HistogramVec) {
		s := metricsreg.NewSet(reg)
		c := s.Counter("orderflow_test_c_total", "c")
		cv := s.CounterVec("orderflow_test_cv_total", "cv", "channel", "field")
		s.Gauge("orderflow_test_g", "g").Set(2)
		s.GaugeVec("orderflow_test_gv", "gv", "class").WithLabelValues("label").Set(3)
		s.Histogram("orderflow_test_h_seconds", "h", []float64{1, 2}).Observe(1.5)
		hv := s.HistogramVec("orderflow_test_hv_seconds", "hv", []float64{0.5}, "table")
		return s, c, cv, hv
	}
	first, c1, cv1, hv1 := declare()
	second, c2, cv2, hv2 := declare()
	if err := errors.Join(first.Err(), second.Err()); err != nil {
		t.Fatalf("errors: %v", err)
	}
	if c1 != c2 || cv1 != cv2 || hv1 != hv2 {
		t.Errorf("the second Set did not get the first one's collectors")
	}
	c2.Inc()
	cv2.WithLabelValues("amazon", "buyer.name").Add(2)
	hv2.WithLabelValues("orders").Observe(0.1)

	got := map[string]string{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		m := f.GetMetric()[0]
		var labels []string
		for _, l := range m.GetLabel() {
			labels = append(labels, l.GetName()+"="+l.GetValue())
		}
		got[f.GetName()] = fmt.Sprintf("%s %s %v", f.GetType(), f.GetHelp(), labels)
		if h := m.GetHistogram(); h != nil {
			got[f.GetName()] += fmt.Sprintf(" buckets=%d", len(h.GetBucket()))
		}
	}
	want := map[string]string{
		"orderflow_test_c_total":    "COUNTER c []",
		"orderflow_test_cv_total":   "COUNTER cv [channel=amazon field=buyer.name]",
		"orderflow_test_g":          "GAUGE g []",
		"orderflow_test_gv":         "GAUGE gv [class=label]",
		"orderflow_test_h_seconds":  "HISTOGRAM h [] buckets=2",
		"orderflow_test_hv_seconds": "HISTOGRAM hv [table=orders] buckets=1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gathered (-want +got):\n%s", diff)
	}

	clash := metricsreg.NewSet(reg)
	clash.Gauge("orderflow_test_c_total", "other")
	clash.Counter("orderflow_test_g", "other")
	clash.Counter("orderflow_test_new_total", "fine")
	var joined interface{ Unwrap() []error }
	if err := clash.Err(); !errors.As(err, &joined) || len(joined.Unwrap()) != 2 {
		t.Errorf("Err after two clashes: %v, want both", err)
	}
	if err := metricsreg.NewSet(nil); err.Err() != nil {
		t.Errorf("an empty Set: %v", err.Err())
	}
}
