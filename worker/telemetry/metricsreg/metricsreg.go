// Package metricsreg registers a package's metrics on the process's registry.
// It is apart from telemetry, which serves them over HTTP (with pprof), so
// that the stages declaring metrics import no server: a test in telemetry
// keeps it so.
package metricsreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns the collector to use: c itself,
// or the same collector registered before, so that a second Stage, Client,
// Writer or Purger on one registry shares the first one's series instead of
// failing. A nil reg registers nothing (the metrics are kept, unexported).
// Any other failure is appended to errs, for the caller to report at once.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T, errs *[]error) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
		*errs = append(*errs, err)
	}
	return c
}
