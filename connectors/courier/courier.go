// Package courier is what every courier connector and the dispatcher share:
// a Delivery (one courier job as a connector receives it: what identifies
// the work and the allow-listed fields, already decrypted), the Result of
// each, and the connectors' metrics, declared once. A connector
// (connectors/courier/clickanddrop, connectors/courier/webhook) turns
// Deliveries into its provider's requests; the dispatcher
// (connectors/dispatch) decides what a Result calls for: commit, retry or
// park.
package courier

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// Delivery is one courier job as a connector receives it. Fields is the
// only source of what the provider's request may carry (P5): a connector
// maps each of its sources to the provider's field, as its allow-list's "as"
// column says (schemas/policy/connectors.yaml), and has no way to reach
// anything else of the order.
type Delivery struct {
	// Kind is outbox.KindCreate or outbox.KindCancel.
	Kind outbox.Kind
	// IdempotencyKey is the job's (outbox.IdempotencyKey): the same on every
	// redelivery of the job. A provider with idempotency keys gets it; one
	// without finds earlier work by OrderReference.
	IdempotencyKey string
	// OrderReference is what the courier files the shipment under (the
	// channel's order id); a cancel names the order to cancel by it.
	OrderReference string
	// Fields is the job's projection through the connector's allow-list.
	// A cancel's carries the job's clear fields only.
	Fields projection.Projection
}

// Outcome is what became of one Delivery.
type Outcome uint8

const (
	// Done: the courier has the work (made now or by an earlier delivery of
	// the job), or, for a cancel, no longer has the order (or never had it).
	Done Outcome = iota + 1
	// Retry: send the delivery again later: after Result.RetryAfter when the
	// courier said, else after the dispatcher's backoff.
	Retry
	// Failed: the courier refused it, or it cannot be sent; sending it again
	// cannot help. The dispatcher parks it.
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Failed:
		return "failed"
	}
	return "outcome " + strconv.Itoa(int(o))
}

// Result is the answer to the Delivery at the same index.
type Result struct {
	Outcome Outcome
	// RetryAfter is the courier's Retry-After on a Retry (a 429's or a 503's),
	// 0 when it gave none.
	RetryAfter time.Duration
	// Err says why a delivery is not Done. It names fields, rules, HTTP
	// statuses and the provider's error codes, never a value of the order nor
	// any text the provider sent back (which can quote the order).
	Err error
}

// ErrCredentialsRefused is matched (errors.Is) by the error a connector's
// Deliver returns when the provider refuses its credentials (401, 403): no
// delivery can succeed until an operator acts, so the dispatcher stops
// rather than park every job.
var ErrCredentialsRefused = errors.New("courier: the provider refused the connector's credentials")

// Outcome labels of orderflow_connector_requests_total: bounded, and finer
// than Outcome, so that a dashboard tells a rate limit from an outage.
const (
	LabelDone        = "done"
	LabelDuplicate   = "duplicate"    // the provider had the work already
	LabelRateLimited = "rate_limited" // 429
	LabelServerError = "server_error" // 5xx
	LabelTimeout     = "timeout"
	LabelConnection  = "connection_error"
	LabelRejected    = "rejected" // another 4xx: refused for good
	LabelInvalid     = "invalid"  // refused before sending: never reached the provider
)

// Metrics are the connectors' series, labelled by connector name (and
// outcome) only: never by tenant, order or anything a provider answered.
type Metrics struct {
	// Requests counts API calls by outcome label (Label*).
	Requests *prometheus.CounterVec
	// Duration times each API call, from sending it to its answer.
	Duration *prometheus.HistogramVec
	// RateLimitWaits counts calls that waited for the account's token bucket.
	RateLimitWaits *prometheus.CounterVec
}

// NewMetrics declares the connectors' metrics on reg; every connector on one
// registry shares them (metricsreg).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	s := metricsreg.NewSet(reg)
	m := &Metrics{
		Requests: s.CounterVec("orderflow_connector_requests_total",
			"API calls a connector made to its provider, by connector and outcome.", "connector", "outcome"),
		Duration: s.HistogramVec("orderflow_connector_request_duration_seconds",
			"Time from sending a connector's API call to its provider's answer, by connector.",
			[]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "connector"),
		RateLimitWaits: s.CounterVec("orderflow_connector_rate_limit_waits_total",
			"API calls that waited for the provider account's rate limit, by connector.", "connector"),
	}
	return m, s.Err()
}

// Record counts one API call under its outcome label and times it.
func (m *Metrics) Record(connector, label string, took time.Duration) {
	m.Requests.WithLabelValues(connector, label).Inc()
	m.Duration.WithLabelValues(connector).Observe(took.Seconds())
}

// Classify is the connectors' one retry policy for an HTTP answer: 2xx is
// Done; 429 and 5xx are worth a Retry; 401 and 403 refuse the credentials
// (CredentialsRefused), any other status refuses the request for good. It
// returns the outcome label too. A provider's own meanings (a 409 that says
// "had it already") are its connector's to decide first.
func Classify(status int) (Outcome, string) {
	switch {
	case status >= 200 && status < 300:
		return Done, LabelDone
	case status == http.StatusTooManyRequests:
		return Retry, LabelRateLimited
	case status >= 500:
		return Retry, LabelServerError
	}
	return Failed, LabelRejected
}

// CredentialsRefused reports whether a status refuses the connector's
// credentials rather than one request: no request can succeed until an
// operator acts.
func CredentialsRefused(status int) bool {
	return status == http.StatusUnauthorized || status == http.StatusForbidden
}

// TransportLabel is the outcome label of a call that got no answer: a
// timeout, or any other connection error. Either is worth a Retry.
func TransportLabel(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return LabelTimeout
	}
	return LabelConnection
}

// maxRetryAfter caps a Retry-After: a provider asking for more than a day
// is parked by the dispatcher's own limits, not slept on.
const maxRetryAfter = 24 * time.Hour

// RetryAfter reads a Retry-After header, seconds or an HTTP date (RFC 9110
// 10.2.3); 0 when absent, unreadable or past, at most a day.
func RetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), maxRetryAfter)
	}
	return 0
}
