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

// ReadMetrics reads the worker's metrics from g, gathered once.
func ReadMetrics(g prometheus.Gatherer) Metrics {
	f := gather(g)
	m := Metrics{
		OrdersWritten: f.sumBy(metricNormalized, "channel"),
		DeadLetters:   f.sumBy(metricDeadLetters, "reason"),
		CardsRedacted: f.sumBy(metricCardsRedacted, "field"),
		LabelsExpired: f.sum(metricLabelsExpired),
		VaultRequests: f.sum(metricVaultRequests),
	}
	cache := f.sumBy(metricTokenCache, "result")
	m.TokenCacheHits = cache["hit"]
	for _, n := range cache {
		m.TokenCacheAll += n
	}
	return m
}

// Committed is how many messages the worker has committed: orders written
// and messages dead-lettered.
func Committed(g prometheus.Gatherer) float64 {
	f := gather(g)
	return f.sum(metricNormalized) + f.sum(metricDeadLetters)
}

// families are the metric families of one gathering, by name.
type families map[string]*dto.MetricFamily

// gather gathers g; what g cannot gather reads as no metric.
func gather(g prometheus.Gatherer) families {
	gathered, _ := g.Gather()
	f := make(families, len(gathered))
	for _, mf := range gathered {
		f[mf.GetName()] = mf
	}
	return f
}

// sum adds every series of a counter or gauge; 0 when it is absent.
func (f families) sum(name string) float64 {
	var total float64
	for _, m := range f[name].GetMetric() {
		total += metricValue(m)
	}
	return total
}

// sumBy sums a counter or gauge's series by one label's value.
func (f families) sumBy(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range f[name].GetMetric() {
		out[labelValue(m, label)] += metricValue(m)
	}
	return out
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
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
