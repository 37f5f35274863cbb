package demo

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The worker's metrics the demo reads.
const (
	metricNormalized    = "orderflow_orders_normalized_total"
	metricDeadLetters   = "orderflow_dead_letters_total"
	metricCardsRedacted = "orderflow_card_numbers_redacted_total"
	metricLabelsExpired = "orderflow_facts_labels_expired_skipped_total"
	metricVaultRequests = "orderflow_vault_requests_total"
	metricTokenCache    = "orderflow_token_cache_requests_total"
)

// Metrics are what the worker's own metrics say it did.
type Metrics struct {
	OrdersWritten map[string]float64 // snapshots committed, by channel
	DeadLetters   map[string]float64 // by reason
	CardsRedacted map[string]float64 // by field
	// LabelsExpired counts label rows not written: the order was older than
	// the label retention when it arrived.
	LabelsExpired  float64
	VaultRequests  float64
	TokenCacheHits float64
	TokenCacheAll  float64 // every token cache lookup, hits and misses
}

// ReadMetrics reads the worker's metrics from g.
func ReadMetrics(g prometheus.Gatherer) Metrics {
	m := Metrics{
		OrdersWritten: gatheredBy(g, metricNormalized, "channel"),
		DeadLetters:   gatheredBy(g, metricDeadLetters, "reason"),
		CardsRedacted: gatheredBy(g, metricCardsRedacted, "field"),
		LabelsExpired: gatheredSum(g, metricLabelsExpired),
		VaultRequests: gatheredSum(g, metricVaultRequests),
	}
	cache := gatheredBy(g, metricTokenCache, "result")
	m.TokenCacheHits = cache["hit"]
	for _, n := range cache {
		m.TokenCacheAll += n
	}
	return m
}

// Committed is how many messages the worker has committed: orders written
// and messages dead-lettered.
func Committed(g prometheus.Gatherer) float64 {
	return gatheredSum(g, metricNormalized) + gatheredSum(g, metricDeadLetters)
}

// gatheredSum adds every series of a counter or gauge in g.
func gatheredSum(g prometheus.Gatherer, name string) float64 {
	var total float64
	for _, v := range gatheredBy(g, name, "") {
		total += v
	}
	return total
}

// gatheredBy sums a counter or gauge's series by one label's value ("" for
// no grouping). A metric g cannot gather reads as none.
func gatheredBy(g prometheus.Gatherer, name, label string) map[string]float64 {
	out := map[string]float64{}
	families, err := g.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			key := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					key = l.GetValue()
				}
			}
			out[key] += metricValue(m)
		}
	}
	return out
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}
