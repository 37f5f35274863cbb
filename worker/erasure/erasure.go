// Package erasure runs buyers' erasure requests from Kafka (the
// requests.erasure topic): a seller's tooling or orderflow's eBay
// account-deletion endpoint (worker/ebaydeletion) writes them, and
// `orderflow erase --consume` erases each (worker/retention, Erase) and
// commits it only once it is done, so a request is never lost: a failure is
// retried with backoff, and a request delivered again runs again, which
// erasure's idempotence makes harmless (the same request id finds the same
// orders already erased).
//
// A message is one JSON request (retention.ErasureRequest). One with no
// tenant_id, from eBay's account deletion, is for every tenant holding eBay
// orders: it fans out to one request per tenant, each with an id derived
// from the message's and the tenant, so that a redelivery reuses them.
// A message that is not a valid request is refused: counted, logged by its
// topic, partition and offset (never its content) and committed, since no
// retry can make it valid.
package erasure

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// SourceEbayAccountDeletion is the source of requests made from eBay's
// marketplace account-deletion notifications.
const SourceEbayAccountDeletion = "ebay_account_deletion"

// namespace derives request ids (UUID version 5) from message coordinates
// and notification ids.
var namespace = uuid.MustParse("6f1c2b8e-4c1e-4d53-9a53-0e6b1d3c7a10")

// RequestID is the id of a request derived from name (a notification id, or
// a message's coordinates): the same name gives the same id.
func RequestID(name string) uuid.UUID { return uuid.NewSHA1(namespace, []byte(name)) }

// Source is the request stream (*consume.Consumer).
type Source interface {
	Fetch(ctx context.Context) (stream.Batch, error)
	Commit(ctx context.Context, batch stream.Batch) error
}

// Eraser runs one request (*retention.Purger).
type Eraser interface {
	Erase(ctx context.Context, req retention.ErasureRequest) (retention.ErasureAnswer, error)
}

// Tenants lists the tenants that hold orders of a channel and have not been
// offboarded: those an eBay account deletion fans out to.
type Tenants interface {
	TenantsWithOrders(ctx context.Context, channel string) ([]string, error)
}

// Config configures a Runner.
type Config struct {
	Source  Source  // required
	Eraser  Eraser  // required
	Tenants Tenants // required
	// Retry spaces the attempts at a request that failed. Default 1s to 1m.
	Retry backoff.Backoff
	// MaxAttempts bounds the attempts at one request: one that keeps
	// failing is recorded failed and the stream moves on, rather than hold
	// up every request behind it until the topic's retention deletes them.
	// Default 8 (about four minutes with the default Retry).
	MaxAttempts int
	// Registerer receives the metrics. Default nil: kept but not registered.
	Registerer prometheus.Registerer
	// Logger: default slog.Default().
	Logger *slog.Logger
}

// Runner erases the requests of a stream, in order.
type Runner struct {
	cfg Config
	log *slog.Logger

	requests *prometheus.CounterVec
	retries  prometheus.Counter

	// tenants caches the tenants with eBay orders for tenantsTTL: eBay
	// sends up to about 1,500 deletions a day.
	tenants     []string
	tenantsRead time.Time
}

// tenantsTTL is how long the list of tenants with eBay orders is reused.
const tenantsTTL = time.Minute

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Source == nil || cfg.Eraser == nil || cfg.Tenants == nil {
		return nil, errors.New("erasure: a source, an eraser and the tenants are required")
	}
	if cfg.Retry == (backoff.Backoff{}) {
		cfg.Retry = backoff.Backoff{Initial: time.Second, Max: time.Minute}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	set := metricsreg.NewSet(cfg.Registerer)
	r := &Runner{
		cfg: cfg,
		log: cfg.Logger.With("component", "erasure"),
		requests: set.CounterVec("orderflow_erasure_requests_total",
			"Erasure requests read from Kafka, by outcome: erased, nothing_held, refused (not a valid request: committed without running), failed (failed every attempt: recorded as failed, then committed).",
			"outcome"),
		retries: set.Counter("orderflow_erasure_request_retries_total",
			"Attempts at an erasure request that failed and will be tried again (the request stays uncommitted)."),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("erasure metrics: %w", err)
	}
	for _, o := range []string{string(retention.ErasureErased), string(retention.ErasureNothingHeld), "refused", string(retention.ErasureFailed)} {
		r.requests.WithLabelValues(o)
	}
	return r, nil
}

// Run erases the stream's requests until ctx ends, committing each batch
// once every request in it is done; it returns nil when ctx ends, and an
// error only when the stream fails for good.
func (r *Runner) Run(ctx context.Context) error {
	for {
		batch, err := r.cfg.Source.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("erasure: reading the requests: %w", err)
		}
		for _, msg := range batch.Messages {
			if err := r.handle(ctx, msg); err != nil {
				return nil // ctx ended: the batch stays uncommitted
			}
		}
		if err := r.cfg.Source.Commit(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Uncommitted requests run again: harmless.
			r.log.Warn("erasure requests done but not committed; they will run again", "err", err)
		}
	}
}

// handle runs one message's requests, retrying each until it is done; it
// returns an error only when ctx ends.
func (r *Runner) handle(ctx context.Context, msg stream.Message) error {
	reqs, err := r.expand(ctx, msg)
	for attempt := 0; err != nil && !IsRefused(err); attempt++ {
		r.log.Warn("listing the tenants of an eBay account deletion failed; retrying", "err", err)
		r.retries.Inc()
		if err := backoff.Sleep(ctx, r.cfg.Retry.Delay(attempt)); err != nil {
			return err
		}
		reqs, err = r.expand(ctx, msg)
	}
	if err != nil {
		r.requests.WithLabelValues("refused").Inc()
		r.log.Error("not an erasure request: refused", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
		return nil
	}
	for _, req := range reqs {
		for attempt := 0; ; attempt++ {
			ans, err := r.cfg.Eraser.Erase(ctx, req)
			if err == nil {
				r.requests.WithLabelValues(string(ans.Outcome)).Inc()
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if attempt+1 == r.cfg.MaxAttempts {
				// The failure is in erasure_requests (outcome failed) and
				// purge_log; the request stays on the topic for its
				// retention, named here, for an operator to run again
				// (orderflow erase --request-id) once the cause is fixed.
				r.requests.WithLabelValues(string(retention.ErasureFailed)).Inc()
				r.log.Error("erasure failed for good: recorded as failed, moving on to the next request", "request_id", req.ID, "tenant", req.Tenant,
					"attempt", attempt+1, "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
				break
			}
			r.retries.Inc()
			r.log.Warn("erasure failed; retrying", "request_id", req.ID, "tenant", req.Tenant, "attempt", attempt+1, "err", err)
			if err := backoff.Sleep(ctx, r.cfg.Retry.Delay(attempt)); err != nil {
				return err
			}
		}
	}
	return nil
}

// refusedError is a message that is not a valid request.
type refusedError struct{ err error }

func (e refusedError) Error() string { return e.err.Error() }
func (e refusedError) Unwrap() error { return e.err }

// IsRefused reports whether err says a message is not a valid request.
func IsRefused(err error) bool {
	var r refusedError
	return errors.As(err, &r)
}

// expand decodes a message into the requests it makes: one, or for an eBay
// account deletion without a tenant, one per tenant with eBay orders.
func (r *Runner) expand(ctx context.Context, msg stream.Message) ([]retention.ErasureRequest, error) {
	req, err := Decode(msg)
	if err != nil {
		return nil, err
	}
	if req.Tenant != "" {
		return []retention.ErasureRequest{req}, nil
	}
	if r.tenants == nil || time.Since(r.tenantsRead) > tenantsTTL {
		tenants, err := r.cfg.Tenants.TenantsWithOrders(ctx, "ebay")
		if err != nil {
			return nil, err
		}
		r.tenants, r.tenantsRead = tenants, time.Now()
	}
	tenants := r.tenants
	out := make([]retention.ErasureRequest, 0, len(tenants))
	for _, t := range tenants {
		each := req
		each.Tenant = t
		each.ID = uuid.NewSHA1(req.ID, []byte(t))
		out = append(out, each)
	}
	return out, nil
}

// ReadRequest reads one request's JSON (a message's value, or the file of
// orderflow erase --request): a retention.ErasureRequest with no unknown
// member, and nothing after it. Its errors name members and offsets, never
// values.
func ReadRequest(r io.Reader) (retention.ErasureRequest, error) {
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	var req retention.ErasureRequest
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("erasure request: %w", err)
	}
	if dec.More() {
		return req, errors.New("erasure request: more than one JSON value")
	}
	return req, nil
}

// Decode reads one request message: JSON of a retention.ErasureRequest with
// no unknown member. A request without an id gets one derived from the
// message's coordinates; one without a tenant must be an eBay account
// deletion naming the eBay user only.
func Decode(msg stream.Message) (retention.ErasureRequest, error) {
	req, err := ReadRequest(bytes.NewReader(msg.Value))
	if err != nil {
		return req, refusedError{err}
	}
	if req.ID == uuid.Nil {
		req.ID = RequestID(fmt.Sprintf("%s/%d/%d", msg.Topic, msg.Partition, msg.Offset))
	}
	if req.Source == "" {
		req.Source = "kafka"
	}
	if req.Tenant == "" {
		i := req.Identifiers
		if req.Source != SourceEbayAccountDeletion || i.Email != "" || i.Phone != "" || i.Name != "" || (i.Username == "" && i.UserID == "") {
			return req, refusedError{errors.New("erasure request: tenant_id: required, except in an eBay account deletion naming the eBay user (username, user_id) only")}
		}
		return req, nil
	}
	if err := req.Check(); err != nil {
		return req, refusedError{err}
	}
	return req, nil
}
