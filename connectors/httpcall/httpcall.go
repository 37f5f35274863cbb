// Package httpcall is how the connectors' HTTP clients (Click & Drop, Xero,
// QuickBooks Online) make one call to their provider, written once: the
// per-call timeout, the metrics and the debug log of every call, reading a
// bounded answer, errors that never quote a URL or an answer, and the
// caller's context ending told apart from a transient fault. What a call
// says (its URL, headers, body) and what an answer means (the provider's
// error format, its rate limits) stay the connector's.
package httpcall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/failure"
)

// DefaultTimeout bounds each call when the connector's Config sets none.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds how much of an answer is read: no answer the connectors
// ask for is near it (they carry no labels).
const maxAnswer = 8 << 20

// Clock is the time a client reads and waits on: its rate limiter's, its
// tokens' expiry and Retry-After's. Tests inject one that never sleeps.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends, and returns ctx.Err() if it ended.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// Sleep waits d or until ctx ends.
func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return backoff.Sleep(ctx, d) }

// Config configures a Caller. HTTPClient, Timeout, Logger and Clock are the
// connector's Config's, as the operator set them; New gives them their
// defaults.
type Config struct {
	// Provider prefixes errors and log messages ("xero"). Required.
	Provider string
	// Name is the connector's name: its label in metrics and logs.
	Name string
	// HTTPClient makes the calls. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each call. Default DefaultTimeout.
	Timeout time.Duration
	// Logger logs each call at debug level. Default: discard.
	Logger *slog.Logger
	// Clock defaults to RealClock.
	Clock Clock
	// Registerer receives the connectors' metrics (courier.NewMetrics).
	Registerer prometheus.Registerer
	// CtxDone is the connector's mark of the caller's context ending: an
	// error that matches it is no transient fault but the end of the work.
	// Required.
	CtxDone error
}

// Caller makes a connector's calls. Its Config, defaults filled in, is
// exported for the connector to read (its clock, its logger).
type Caller struct {
	Config
	Metrics *courier.Metrics
}

// New fills in cfg's defaults and declares the metrics.
func New(cfg Config) (*Caller, error) {
	if cfg.Provider == "" || cfg.CtxDone == nil {
		return nil, errors.New("httpcall: Provider and CtxDone are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The connector's lines (this Caller's and, through Caller.Logger, the
	// connector's own) are its provider's component; httpcall has none.
	cfg.Logger = cfg.Logger.With("component", cfg.Provider)
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	m, err := courier.NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return &Caller{Config: cfg, Metrics: m}, nil
}

// Request is one call.
type Request struct {
	// Op names the call in errors, logs ("create invoice").
	Op     string
	Method string
	URL    string
	// Authorization is the header's value ("Bearer ...").
	Authorization string
	// Body is sent with ContentType (default application/json); nil sends
	// none.
	Body        []byte
	ContentType string
	// Header holds the provider's own headers (an idempotency key).
	Header map[string]string
	// Answers are statuses that answer the question rather than fail the
	// call (a lookup's 404: "no such order"); the metrics count them done.
	Answers []int
}

// Answer is what the provider answered, whatever its status.
type Answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (a Answer) OK() bool { return a.Status >= 200 && a.Status <= 299 }

// Do sends r within the timeout, records it (metrics, debug log) and reads
// the answer. The error is a call that got no whole answer: the caller's
// context ending (it matches CtxDone and ctx.Err()), or a transport fault
// (a timeout, a refused connection, a cut answer) worth a retry; it never
// holds the URL, which can name an order or a token endpoint's query.
func (c *Caller) Do(ctx context.Context, r Request) (Answer, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, r.Method, r.URL, body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s %s: build request: %w", c.Provider, r.Op, err)
	}
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	req.Header.Set("Accept", "application/json")
	if r.Body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	start := time.Now() // wall time: the duration metric is real whatever the clock
	resp, err := c.HTTPClient.Do(req)
	if err != nil {
		c.Metrics.Record(c.Name, courier.TransportLabel(err), time.Since(start))
		if ctx.Err() != nil {
			return Answer{}, fmt.Errorf("%w: %w", c.CtxDone, ctx.Err())
		}
		// The url.Error names the URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Answer{}, fmt.Errorf("%s %s: %w", c.Provider, r.Op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	took := time.Since(start)
	label := courier.LabelDone
	if err != nil {
		label = courier.TransportLabel(err)
	} else if !slices.Contains(r.Answers, resp.StatusCode) {
		_, label = courier.Classify(resp.StatusCode)
	}
	c.Metrics.Record(c.Name, label, took)
	c.Logger.Debug(c.Provider+" call", "connector", c.Name, "op", r.Op, "status", resp.StatusCode, "outcome", label,
		"duration", took.Round(time.Millisecond).String())
	if err != nil {
		if ctx.Err() != nil {
			return Answer{}, fmt.Errorf("%w: %w", c.CtxDone, ctx.Err())
		}
		return Answer{}, fmt.Errorf("%s %s: read answer: %w", c.Provider, r.Op, err)
	}
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// Encode is a request's JSON body; nil when body is nil (no body).
func (c *Caller) Encode(op string, body any) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", c.Provider, op, err)
	}
	return b, nil
}

// Decode decodes a 2xx answer's JSON into v. The error keeps only the
// answer's size: a json error may quote the answer, which can quote the
// order.
func (c *Caller) Decode(op string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s %s: the answer is not the documented JSON (%d bytes)", c.Provider, op, len(data))
	}
	return nil
}

// Wait takes a token of l, sleeping on the clock for one if need be (and
// counting the wait). The error is the caller's context ending, matching
// CtxDone.
func (c *Caller) Wait(ctx context.Context, l *rate.Limiter) error {
	now := c.Clock.Now()
	r := l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	c.Metrics.RateLimitWaits.WithLabelValues(c.Name).Inc()
	if err := c.Clock.Sleep(ctx, d); err != nil {
		r.CancelAt(c.Clock.Now())
		return fmt.Errorf("%w: %w", c.CtxDone, err)
	}
	return nil
}

// Stops reports an error after which no result of the batch can be
// trusted, which the connector returns instead of results: the caller's
// context ended, or the provider refused the credentials (the dispatcher
// stops rather than park every job).
func (c *Caller) Stops(err error) bool {
	return errors.Is(err, c.CtxDone) || errors.Is(err, courier.ErrCredentialsRefused)
}

// HTTPURL reports whether raw is an absolute http(s) URL: what a
// connector's base and token URLs must be.
func HTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// Judge is the Result of a call the provider answered with status: the
// connectors' one policy (courier.Classify), with the provider's
// Retry-After on a Retry. err says why.
func Judge(status int, retryAfter time.Duration, err error) courier.Result {
	o, _ := courier.Classify(status)
	r := courier.Result{Outcome: o, Err: err}
	if o == courier.Retry {
		r.RetryAfter = retryAfter
	}
	return r
}

// FailureClass is how failure.Of classifies a provider's HTTP error (a
// connector's HTTPError.FailureClass): refused credentials stop the
// worker; 429 and 5xx are transient; any other status is the job's fault.
func FailureClass(status int, credentialsRefused bool) failure.Class {
	if credentialsRefused {
		return failure.Worker
	}
	if o, _ := courier.Classify(status); o == courier.Retry {
		return failure.Transient
	}
	return failure.Order
}
