// Package dispatch is the connectors' dispatcher: it reads an outbox as a
// consumer group of its own and takes each batch's jobs to their providers
// through a Work (the couriers' here, Couriers; the accounting postings' in
// connectors/accounting/booking): jobs read and routed, made ready per
// tenant in one Vault call, sent one call per connector and tenant under a
// token bucket each, one order's jobs in order, retried with backoff (a
// provider's Retry-After honoured), parked on the parked topic (still
// encrypted) when they fail for good or run out of attempts, and the batch
// committed only then. `orderflow dispatch` runs one for the courier outbox
// (delivery labels decrypted at once, projected through each connector's
// allow-list).
//
// Delivery is at least once: a crash between a provider's answer and the
// commit delivers the batch again, and the provider's own de-duplication
// makes it effectively once (Click & Drop: a lookup by order reference
// before a create; a webhook, Xero, QuickBooks: the idempotency key).
package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stream"
)

// Source is the outbox's consumer (worker/consume.Consumer): batches of
// jobs, committed once each is delivered or parked.
type Source interface {
	Fetch(ctx context.Context) (stream.Batch, error)
	Commit(ctx context.Context, batch stream.Batch) error
}

// Config configures a Dispatcher.
type Config struct {
	Source Source
	// Work is the kind of work the outbox holds: how its jobs are read, made
	// ready and sent. Default: the couriers' (Couriers), from Decrypter,
	// Erased, Connectors, Deliverers and AllowLists.
	Work      Work
	Decrypter Decrypter
	// Erased are the orders whose buyers asked for erasure, for the
	// couriers' work. Default: none.
	Erased ErasedOrders
	// Connectors are the configured connectors (config's connectors
	// section): routing by tenant, and each one's settings.
	Connectors config.Connectors
	// Deliverers are the connectors built from Connectors, by name: one for
	// every delivery connector.
	Deliverers map[string]Connector
	// AllowLists are schemas/policy/connectors.yaml's. Default: loaded.
	AllowLists *policy.AllowLists
	// Brokers, Transport and ParkedTopic are where parked jobs go.
	Brokers     []string
	Transport   kafka.RoundTripper
	ParkedTopic string
	// MaxAttempts is how many times a job is delivered before it is parked
	// as out of retries; an attempt answered with a Retry-After (the
	// provider pacing its clients) is not counted. Default 8.
	MaxAttempts int
	// Backoff spaces attempts. Default 500ms doubling to 30s.
	Backoff backoff.Backoff
	// MaxRetryAfter caps how long a provider's Retry-After holds a job.
	// Default 15m.
	MaxRetryAfter time.Duration
	Registerer    prometheus.Registerer
	Logger        *slog.Logger
	// Now is the clock of parked-at stamps and attempt times. Default time.Now.
	Now func() time.Time
}

// Dispatcher delivers the outbox's jobs. Run it in one goroutine.
type Dispatcher struct {
	cfg     Config
	work    Work
	parked  *kafka.Writer
	metrics *metrics
	log     *slog.Logger

	mu       sync.Mutex
	limiters map[limiterKey]*rate.Limiter
	// paused is when a provider's Retry-After to a tenant's calls at a
	// connector ends: none of its jobs is sent before.
	paused map[limiterKey]time.Time
}

type limiterKey struct{ connector, tenant string }

// New checks cfg and returns a Dispatcher; the couriers' work refuses a
// delivery connector without a Deliverer or an allow-list.
func New(cfg Config) (*Dispatcher, error) {
	switch {
	case cfg.Source == nil:
		return nil, errors.New("dispatch config Source: required")
	case len(cfg.Brokers) == 0 || cfg.ParkedTopic == "":
		return nil, errors.New("dispatch config Brokers and ParkedTopic: required, for parked jobs")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff = backoff.Backoff{Initial: 500 * time.Millisecond, Max: 30 * time.Second}
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dispatch metrics: %w", err)
	}
	m.start(slices.Sorted(maps.Keys(cfg.Connectors)))
	work := cfg.Work
	if work == nil {
		if work, err = Couriers(CouriersConfig{
			Decrypter: cfg.Decrypter, Erased: cfg.Erased, Connectors: cfg.Connectors, Deliverers: cfg.Deliverers, AllowLists: cfg.AllowLists,
			Logger: cfg.Logger,
		}); err != nil {
			return nil, err
		}
	}
	return &Dispatcher{
		cfg:      cfg,
		work:     work,
		parked:   newWriter(cfg.Brokers, cfg.Transport, cfg.ParkedTopic),
		metrics:  m,
		log:      cfg.Logger.With("component", "dispatch"), // cfg.Logger goes on to Couriers, which tags its own
		limiters: map[limiterKey]*rate.Limiter{},
		paused:   map[limiterKey]time.Time{},
	}, nil
}

// Close closes the parked topic's writer.
func (d *Dispatcher) Close() error {
	if err := d.parked.Close(); err != nil {
		return fmt.Errorf("close the parked writer: %w", err)
	}
	return nil
}

// Run fetches, delivers and commits batches until ctx ends (then it returns
// nil: what is not committed is delivered again by the next dispatcher) or
// a failure needs an operator (refused credentials, a topic or group it may
// not read).
func (d *Dispatcher) Run(ctx context.Context) error {
	for retry := 0; ; {
		batch, err := d.cfg.Source.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if failure.Of(err) == failure.Worker {
				return fmt.Errorf("dispatch: fetch: %w", err)
			}
			d.log.Log(ctx, retryLevel(retry), "dispatch: fetch failed; retrying", "attempt", retry+1, "err", err)
			if backoff.Sleep(ctx, d.cfg.Backoff.Delay(retry)) != nil {
				return nil
			}
			retry++
			continue
		}
		retry = 0
		if err := d.Dispatch(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// Dispatch delivers or parks every job of batch and commits it, retrying
// transient failures (Vault, Kafka, a connector that could not answer at
// all) until it succeeds, ctx ends (ctx.Err()) or a failure needs an
// operator (that failure). Jobs finished in a failed attempt are not sent
// again in the next.
func (d *Dispatcher) Dispatch(ctx context.Context, batch stream.Batch) error {
	st := d.newState(batch)
	for retry := 0; ; retry++ {
		err := d.finish(ctx, st)
		if err == nil {
			err = d.cfg.Source.Commit(ctx, batch)
		}
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case failure.Of(err) == failure.Worker:
			return fmt.Errorf("dispatch: %w", err)
		}
		d.log.Log(ctx, retryLevel(retry), "dispatch: batch failed; retrying it", "batch", batch.ID, "jobs", len(batch.Messages), "attempt", retry+1, "err", err)
		if err := backoff.Sleep(ctx, d.cfg.Backoff.Delay(retry)); err != nil {
			return err
		}
	}
}

// retryLevel is the level of a retry's line: info for the first failure,
// debug for the next ones (a retry is expected, and counted in the metrics;
// an outage would otherwise give a line per attempt).
func retryLevel(retry int) slog.Level {
	if retry == 0 {
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// status is where a job stands.
type status uint8

const (
	pending status = iota
	delivered
	parked
	duplicate
	discarded
)

// state is a batch in progress, kept across the attempts of Dispatch.
type state struct {
	batch stream.Batch
	items []*Job
}

// newState reads and routes the batch's jobs. What cannot be read or
// routed is parked; a job a batch holds twice (the outboxes write at least
// once) is sent once.
func (d *Dispatcher) newState(batch stream.Batch) *state {
	st := &state{batch: batch}
	seen := map[string]bool{}
	for _, m := range batch.Messages {
		it, err := d.work.Read(m)
		if it == nil {
			it = &Job{}
		}
		it.msg = m
		if it.OrderKey == "" {
			it.OrderKey = string(m.Key)
		}
		st.items = append(st.items, it)
		if err != nil {
			it.Connector, it.Kind = "", "unknown"
			it.Refuse(ReasonMalformed, err)
			continue
		}
		if _, _, ok := d.work.Rate(it.Connector); !ok {
			it.Connector = ""
			it.Refuse(ReasonNoConnector, errors.New("no connector of this work lists the tenant (connectors.<name>.tenants)"))
			continue
		}
		if seen[it.IdempotencyKey] {
			it.status = duplicate
			d.metrics.jobs.WithLabelValues(it.Connector, it.Kind, jobDuplicate).Inc()
			continue
		}
		seen[it.IdempotencyKey] = true
	}
	return st
}

// finish takes the batch's pending jobs to delivered or parked, and writes
// the parked ones.
func (d *Dispatcher) finish(ctx context.Context, st *state) error {
	if err := d.prepare(ctx, st); err != nil {
		return err
	}
	if err := d.deliver(ctx, st); err != nil {
		return err
	}
	return d.writeParked(ctx, st)
}

// prepare has the work ready the pending jobs not ready yet, tenant by
// tenant (one Vault call per tenant).
func (d *Dispatcher) prepare(ctx context.Context, st *state) error {
	byTenant := map[string][]*Job{}
	for _, it := range st.items {
		if it.status == pending && !it.prepared {
			byTenant[it.Tenant] = append(byTenant[it.Tenant], it)
		}
	}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		if err := d.work.Prepare(ctx, tenant, byTenant[tenant]); err != nil {
			return err
		}
		for _, it := range byTenant[tenant] {
			it.prepared = true
			if it.status == discarded {
				d.metrics.jobs.WithLabelValues(it.Connector, it.Kind, jobDiscarded).Inc()
			}
		}
	}
	return nil
}

// deliver sends the pending jobs in rounds: each round sends, for every
// order, its first pending job (one order's jobs go in order: a cancel never
// overtakes its create), grouped by connector and tenant, until every job
// is delivered or parked.
func (d *Dispatcher) deliver(ctx context.Context, st *state) error {
	for {
		now := d.cfg.Now()
		heads := map[string]bool{}
		var ready []*Job
		var wake time.Time
		for _, it := range st.items {
			if it.status != pending || heads[it.OrderKey] {
				continue
			}
			heads[it.OrderKey] = true
			if until := d.pausedUntil(limiterKey{it.Connector, it.Tenant}); until.After(it.notBefore) {
				it.notBefore = until
			}
			if it.notBefore.After(now) {
				if wake.IsZero() || it.notBefore.Before(wake) {
					wake = it.notBefore
				}
				continue
			}
			ready = append(ready, it)
		}
		if len(heads) == 0 {
			return nil
		}
		if len(ready) == 0 {
			if err := backoff.Sleep(ctx, wake.Sub(now)); err != nil {
				return err
			}
			continue
		}
		if err := d.round(ctx, ready); err != nil {
			return err
		}
	}
}

// round delivers ready, one call per connector and tenant, the calls in
// parallel.
func (d *Dispatcher) round(ctx context.Context, ready []*Job) error {
	groups := map[limiterKey][]*Job{}
	for _, it := range ready {
		k := limiterKey{it.Connector, it.Tenant}
		groups[k] = append(groups[k], it)
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(groups))
	var mu sync.Mutex
	for k, items := range groups {
		wg.Go(func() {
			if err := d.call(ctx, k, items); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, courier.ErrCredentialsRefused) {
			return failure.Stop(err)
		}
	}
	return errors.Join(errs...)
}

// withdraw discards the items the work has withdrawn since they were made
// ready, and returns the rest.
func (d *Dispatcher) withdraw(items []*Job) []*Job {
	w, ok := d.work.(Withdrawer)
	if !ok {
		return items
	}
	n := len(items)
	items = slices.DeleteFunc(items, func(it *Job) bool {
		if !w.Withdrawn(it) {
			return false
		}
		it.Discard()
		d.metrics.jobs.WithLabelValues(it.Connector, it.Kind, jobDiscarded).Inc()
		return true
	})
	if withdrawn := n - len(items); withdrawn > 0 {
		d.log.Info("dispatch: jobs withdrawn while they waited are discarded (a buyer's erasure)", "jobs", withdrawn)
	}
	return items
}

// call makes one connector call for one tenant's items, under the tenant's
// token bucket at the connector, and applies the results.
func (d *Dispatcher) call(ctx context.Context, k limiterKey, items []*Job) error {
	lim := d.limiter(k)
	if lim.Tokens() < 1 {
		d.metrics.waits.WithLabelValues(k.connector).Inc()
	}
	if err := lim.Wait(ctx); err != nil {
		return err
	}
	if items = d.withdraw(items); len(items) == 0 {
		return nil
	}
	results, err := d.work.Send(ctx, k.connector, items)
	if err == nil && len(results) != len(items) {
		err = fmt.Errorf("connector %s answered %d results for %d jobs", k.connector, len(results), len(items))
	}
	if err != nil {
		return fmt.Errorf("connector %s: %w", k.connector, err)
	}
	now := d.cfg.Now()
	for i, it := range items {
		it.attempts++
		r := results[i]
		switch r.Outcome {
		case courier.Done:
			it.status = delivered
			d.metrics.jobs.WithLabelValues(k.connector, it.Kind, jobDelivered).Inc()
			if header(it.msg, HeaderReplayedFrom) != "" {
				d.metrics.replayed.WithLabelValues(k.connector, jobDelivered).Inc()
			}
		case courier.Retry:
			it.lastErr = r.Err
			if r.RetryAfter > 0 {
				// The provider named when to come back (a 429, a 503 in
				// maintenance): waiting is what it asked, not a failure of
				// the job, so a storm of 429s holds the batch back instead
				// of parking good jobs.
				it.paced++
			}
			if it.attempts-it.paced >= d.cfg.MaxAttempts {
				it.Refuse(ReasonRetriesExhausted, r.Err)
				continue
			}
			// The backoff grows with the failures, not with the waits a
			// provider asked for.
			wait := d.cfg.Backoff.Delay(max(it.attempts-it.paced-1, 0))
			if ra := min(r.RetryAfter, d.cfg.MaxRetryAfter); ra > 0 {
				wait = max(wait, ra)
				// The wait is the tenant's at the connector, not this job's:
				// a job whose own retry comes sooner waits too.
				d.pause(k, now.Add(ra))
			}
			it.notBefore = now.Add(wait)
			d.metrics.retries.WithLabelValues(k.connector).Inc()
		default:
			it.Refuse(ReasonRefused, r.Err)
		}
	}
	return nil
}

// pause holds a tenant's jobs at a connector back until until.
func (d *Dispatcher) pause(k limiterKey, until time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if until.After(d.paused[k]) {
		d.paused[k] = until
	}
}

// pausedUntil is when a tenant's pause at a connector ends (zero: none).
func (d *Dispatcher) pausedUntil(k limiterKey) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused[k]
}

// limiter returns the token bucket of a tenant at a connector.
func (d *Dispatcher) limiter(k limiterKey) *rate.Limiter {
	d.mu.Lock()
	defer d.mu.Unlock()
	lim := d.limiters[k]
	if lim == nil {
		perSecond, burst, _ := d.work.Rate(k.connector)
		lim = rate.NewLimiter(rate.Limit(perSecond), burst)
		d.limiters[k] = lim
	}
	return lim
}

// writeParked writes the batch's parked jobs that are not on the parked
// topic yet, and counts them once they are.
func (d *Dispatcher) writeParked(ctx context.Context, st *state) error {
	var msgs []kafka.Message
	var todo []*Job
	now := d.cfg.Now()
	for _, it := range st.items {
		if it.park != nil && !it.written {
			msgs = append(msgs, parkMessage(it, now))
			todo = append(todo, it)
		}
	}
	if err := write(ctx, d.parked, msgs); err != nil {
		return err
	}
	if len(todo) > 0 {
		// One WARN per write: parked jobs need an operator (replay-parked
		// after a fix), and each is logged below at info with its reason.
		d.log.Warn("dispatch: jobs parked", "batch", st.batch.ID, "jobs", len(todo))
	}
	for _, it := range todo {
		it.written = true
		connector := cmp.Or(it.Connector, noConnector)
		d.metrics.parked.WithLabelValues(connector, it.reason).Inc()
		d.metrics.jobs.WithLabelValues(connector, it.Kind, jobParked).Inc()
		if header(it.msg, HeaderReplayedFrom) != "" {
			d.metrics.replayed.WithLabelValues(connector, jobParked).Inc()
		}
		d.log.Info("dispatch: job parked", "batch", st.batch.ID, "connector", connector, "reason", it.reason, "tenant", it.Tenant,
			"attempts", it.attempts, "topic", it.msg.Topic, "partition", it.msg.Partition, "offset", it.msg.Offset, "err", it.err)
	}
	return nil
}
