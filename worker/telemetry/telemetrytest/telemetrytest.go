// Package telemetrytest reads metrics back in tests.
package telemetrytest

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Sum adds up the samples of the metric name whose labels include every "k=v" pair
// of want: counter and gauge values, histogram sample counts. A metric with no
// matching sample sums to 0.
func Sum(t testing.TB, g prometheus.Gatherer, name string, want ...string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for _, kv := range want {
				k, v, _ := strings.Cut(kv, "=")
				if labels[k] != v {
					continue samples
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}
