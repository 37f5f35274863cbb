package metricsreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Set declares one package's metrics on a registry: each method makes a
// collector, registers it through Register and returns the one to use, so
// that a package's newMetrics reads as the list of its metrics, name, help,
// labels and buckets, and reports every failed registration at once (Err).
// A nil registry registers nothing, as with Register.
type Set struct {
	reg  prometheus.Registerer
	errs []error
}

// NewSet declares metrics on reg.
func NewSet(reg prometheus.Registerer) *Set { return &Set{reg: reg} }

// Err joins every registration that failed so far; nil when none did.
func (s *Set) Err() error { return errors.Join(s.errs...) }

// Counter declares a counter without labels.
func (s *Set) Counter(name, help string) prometheus.Counter {
	return Register(s.reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), &s.errs)
}

// CounterVec declares a counter with the given labels.
func (s *Set) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return Register(s.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels), &s.errs)
}

// Gauge declares a gauge without labels.
func (s *Set) Gauge(name, help string) prometheus.Gauge {
	return Register(s.reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}), &s.errs)
}

// GaugeVec declares a gauge with the given labels. With none, the gauge has
// no series until the first WithLabelValues(): a timestamp that is absent
// until the event, rather than 0.
func (s *Set) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return Register(s.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels), &s.errs)
}

// Histogram declares a histogram without labels.
func (s *Set) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return Register(s.reg, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}), &s.errs)
}

// HistogramVec declares a histogram with the given labels.
func (s *Set) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return Register(s.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels), &s.errs)
}
