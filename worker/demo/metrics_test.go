package demo

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReadMetrics reads a registry as the worker's would be after a run:
// counters summed by the label that matters, gauges and unlabelled counters
// summed whole, histograms and other metrics ignored, absent ones read as none.
func TestReadMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	normalized := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricNormalized}, []string{"channel"})
	dead := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricDeadLetters}, []string{"reason", "stage"})
	cards := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricCardsRedacted}, []string{"channel", "field"})
	cache := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricTokenCache}, []string{"result"})
	vault := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: metricVaultRequests}, []string{"op"})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "orderflow_end_to_end_seconds"})
	reg.MustRegister(normalized, dead, cards, cache, vault, latency)

	normalized.WithLabelValues("amazon").Add(7)
	normalized.WithLabelValues("ebay").Add(5)
	dead.WithLabelValues("malformed_json", "decode").Add(2)
	dead.WithLabelValues("malformed_json", "normalize").Add(1)
	dead.WithLabelValues("invalid_value", "normalize").Add(4)
	cards.WithLabelValues("amazon", "gift_message").Add(3)
	cards.WithLabelValues("ebay", "gift_message").Add(1)
	cards.WithLabelValues("ebay", "address_line1").Add(2)
	cache.WithLabelValues("hit").Add(9)
	cache.WithLabelValues("miss").Add(3)
	vault.WithLabelValues("hmac").Set(4)
	vault.WithLabelValues("encrypt").Set(6)
	latency.Observe(1)

	got := ReadMetrics(reg)
	want := Metrics{
		OrdersWritten: map[string]float64{"amazon": 7, "ebay": 5},
		DeadLetters:   map[string]float64{"malformed_json": 3, "invalid_value": 4},
		CardsRedacted: map[string]float64{"gift_message": 4, "address_line1": 2},
		LabelsExpired: 0, // not registered
		VaultRequests: 10, TokenCacheHits: 9, TokenCacheAll: 12,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadMetrics (-want +got):\n%s", diff)
	}
	if c := Committed(reg); c != 19 {
		t.Errorf("Committed = %v, want 12 orders + 7 dead letters", c)
	}
}
