// Package dispatch is the courier dispatcher (orderflow dispatch): it reads
// the courier outbox as a consumer group of its own, decrypts each batch's
// delivery labels at once (one transit batch_input per tenant), projects
// every job through its connector's allow-list, hands the jobs to the
// connectors under a token bucket per connector and tenant, retries what
// failed transiently with backoff (a provider's Retry-After honoured), parks
// what failed for good or ran out of attempts on the parked topic, still
// encrypted, and commits the batch only then.
//
// Delivery is at least once: a crash between a provider's answer and the
// commit delivers the batch again, and the provider's own de-duplication
// makes it effectively once (Click & Drop: a lookup by order reference
// before a create; a webhook: its idempotency key).
package dispatch

import (
	"context"
	"encoding/json"
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
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/transit"
)

// Connector is what the dispatcher needs of a courier connector
// (connectors/courier/clickanddrop, connectors/courier/webhook): one Result
// per Delivery, at the same index. Its error means no Result can be trusted;
// one matching courier.ErrCredentialsRefused stops the dispatcher.
type Connector interface {
	Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error)
}

// Decrypter decrypts a tenant's ciphertexts in one call (transit.Client).
type Decrypter interface {
	Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error)
}

// Source is the outbox's consumer (worker/consume.Consumer): batches of
// jobs, committed once each is delivered or parked.
type Source interface {
	Fetch(ctx context.Context) (stream.Batch, error)
	Commit(ctx context.Context, batch stream.Batch) error
}

// Config configures a Dispatcher.
type Config struct {
	Source    Source
	Decrypter Decrypter
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
	// as out of retries. Default 8.
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
	routes  map[string]route
	parked  *kafka.Writer
	metrics *metrics
	log     *slog.Logger

	mu       sync.Mutex
	limiters map[limiterKey]*rate.Limiter
}

// route is one delivery connector as the dispatcher uses it.
type route struct {
	name      string
	connector Connector
	allow     policy.AllowList
	settings  config.Connector
}

type limiterKey struct{ connector, tenant string }

// New checks cfg and returns a Dispatcher; it refuses a delivery connector
// without a Deliverer or an allow-list.
func New(cfg Config) (*Dispatcher, error) {
	switch {
	case cfg.Source == nil:
		return nil, errors.New("dispatch config Source: required")
	case cfg.Decrypter == nil:
		return nil, errors.New("dispatch config Decrypter: required")
	case len(cfg.Brokers) == 0 || cfg.ParkedTopic == "":
		return nil, errors.New("dispatch config Brokers and ParkedTopic: required, for parked jobs")
	}
	if cfg.AllowLists == nil {
		lists, err := policy.LoadConnectors()
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		cfg.AllowLists = lists
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
	routes := map[string]route{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		c := cfg.Connectors[name]
		if c.Purpose != config.PurposeDelivery {
			continue
		}
		d := cfg.Deliverers[name]
		if d == nil {
			return nil, fmt.Errorf("dispatch: connectors.%s has no connector built", name)
		}
		allow, err := cfg.AllowLists.For(c.Kind)
		if err != nil {
			return nil, fmt.Errorf("dispatch: connectors.%s: %w", name, err)
		}
		routes[name] = route{name: name, connector: d, allow: allow, settings: c}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dispatch metrics: %w", err)
	}
	return &Dispatcher{
		cfg:      cfg,
		routes:   routes,
		parked:   newWriter(cfg.Brokers, cfg.Transport, cfg.ParkedTopic),
		metrics:  m,
		log:      cfg.Logger,
		limiters: map[limiterKey]*rate.Limiter{},
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
			d.log.Warn("dispatch: fetch failed; retrying", "error", err)
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
		d.log.Warn("dispatch: batch failed; retrying it", "batch", batch.ID, "jobs", len(batch.Messages), "error", err)
		if err := backoff.Sleep(ctx, d.cfg.Backoff.Delay(retry)); err != nil {
			return err
		}
	}
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

// item is one job of a batch.
type item struct {
	msg       stream.Message
	job       outbox.Job
	key       string // the order's: its jobs go in order
	connector string
	status    status
	// delivery is set once the job's label is decrypted and projected.
	delivery  *courier.Delivery
	attempts  int
	notBefore time.Time
	lastErr   error
	// park is set when the job is to be parked; written says it is on the
	// parked topic.
	park    *parking
	written bool
}

// state is a batch in progress, kept across the attempts of Dispatch.
type state struct {
	batch stream.Batch
	items []*item
}

// newState decodes and routes the batch's jobs. What cannot be decoded or
// routed is parked; a job a batch holds twice (the outbox writes at least
// once) is delivered once.
func (d *Dispatcher) newState(batch stream.Batch) *state {
	st := &state{batch: batch}
	seen := map[string]bool{}
	for _, m := range batch.Messages {
		it := &item{msg: m, key: string(m.Key)}
		st.items = append(st.items, it)
		if err := json.Unmarshal(m.Value, &it.job); err != nil || it.job.Version < 1 || it.job.Version > outbox.JobVersion ||
			(it.job.Kind != outbox.KindCreate && it.job.Kind != outbox.KindCancel) || it.job.TenantID == "" {
			d.toPark(it, ReasonMalformed, errors.New("not a courier job of a version this dispatcher reads"))
			continue
		}
		name, ok := d.cfg.Connectors.Route(it.job.TenantID)
		if _, built := d.routes[name]; !ok || !built {
			d.toPark(it, ReasonNoConnector, errors.New("no delivery connector lists the tenant (connectors.<name>.tenants)"))
			continue
		}
		it.connector = name
		if seen[it.job.IdempotencyKey] {
			it.status = duplicate
			d.metrics.jobs.WithLabelValues(name, string(it.job.Kind), jobDuplicate).Inc()
			continue
		}
		seen[it.job.IdempotencyKey] = true
	}
	return st
}

// toPark marks it to be parked for reason.
func (d *Dispatcher) toPark(it *item, reason string, err error) {
	connector := it.connector
	if connector == "" {
		connector = noConnector
	}
	it.status = parked
	it.park = &parking{msg: it.msg, reason: reason, err: err, connector: connector, tenant: it.job.TenantID, attempts: it.attempts}
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

// prepare decrypts the labels of the pending jobs that have none yet, one
// Vault call per tenant, and projects each job through its connector's
// allow-list.
func (d *Dispatcher) prepare(ctx context.Context, st *state) error {
	byTenant := map[string][]*item{}
	for _, it := range st.items {
		if it.status == pending && it.delivery == nil {
			byTenant[it.job.TenantID] = append(byTenant[it.job.TenantID], it)
		}
	}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		items := byTenant[tenant]
		labels, err := d.decrypt(ctx, tenant, items)
		if err != nil {
			return err
		}
		for i, it := range items {
			if it.status != pending {
				continue
			}
			r := d.routes[it.connector]
			p, err := projection.Project(r.allow, projection.Input{
				Label:         labels[i],
				Job:           &it.job,
				Notifications: r.settings.NotificationsOn(tenant),
				Parcel: projection.Parcel{
					WeightGrams: r.settings.Parcel.WeightGrams,
					Format:      r.settings.Parcel.Format,
					ServiceCode: r.settings.Service(it.job.ShipServiceLevel),
					TariffCode:  r.settings.Parcel.TariffCode,
				},
			})
			if err != nil {
				d.toPark(it, ReasonProjection, err)
				continue
			}
			it.delivery = &courier.Delivery{
				Kind:           it.job.Kind,
				IdempotencyKey: it.job.IdempotencyKey,
				OrderReference: it.job.ChannelOrderID,
				Fields:         p,
			}
		}
	}
	return nil
}

// decrypt returns the label of each of a tenant's items, at the same index
// (an empty Document for a cancel, which carries none). Items Vault refuses
// alone are parked; a tenant whose keys are gone (offboarded) has its jobs
// discarded, since nothing of the tenant may leave the platform any more.
func (d *Dispatcher) decrypt(ctx context.Context, tenant string, items []*item) ([]protected.Document, error) {
	labels := make([]protected.Document, len(items))
	for {
		var at []int
		var cts []string
		for i, it := range items {
			if it.status == pending && it.job.Recipient != "" {
				at = append(at, i)
				cts = append(cts, it.job.Recipient)
			}
		}
		if len(cts) == 0 {
			return labels, nil
		}
		plain, err := d.cfg.Decrypter.Decrypt(ctx, tenant, cts)
		var be *transit.BatchError
		switch {
		case errors.Is(err, transit.ErrTenantOffboarded) || errors.Is(err, transit.ErrKeyNotFound):
			for _, it := range items {
				if it.status == pending {
					it.status = discarded
					d.metrics.jobs.WithLabelValues(it.connector, string(it.job.Kind), jobDiscarded).Inc()
				}
			}
			d.log.Info("dispatch: the tenant's keys are gone; its courier jobs are discarded", "tenant", tenant, "jobs", len(items))
			return labels, nil
		case errors.As(err, &be) && len(be.Items) > 0:
			for _, ie := range be.Items {
				if ie.Index >= 0 && ie.Index < len(at) {
					d.toPark(items[at[ie.Index]], ReasonUndecryptable, fmt.Errorf("transit decrypt: %s", ie.Reason))
				}
			}
			continue // the rest again, without the refused ones
		case err != nil:
			return nil, fmt.Errorf("decrypt %d labels of tenant %s: %w", len(cts), tenant, err)
		}
		for n, i := range at {
			doc, err := protected.ParseDocument(plain[n])
			if err != nil {
				d.toPark(items[i], ReasonUndecryptable, fmt.Errorf("the decrypted label: %w", err))
				continue
			}
			labels[i] = doc
		}
		return labels, nil
	}
}

// deliver sends the pending jobs in rounds: each round sends, for every
// order, its first pending job (one order's jobs go in order: a cancel never
// overtakes its create), grouped by connector and tenant, until every job
// is delivered or parked.
func (d *Dispatcher) deliver(ctx context.Context, st *state) error {
	for {
		now := d.cfg.Now()
		heads := map[string]bool{}
		var ready []*item
		var wake time.Time
		for _, it := range st.items {
			if it.status != pending || heads[it.key] {
				continue
			}
			heads[it.key] = true
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
func (d *Dispatcher) round(ctx context.Context, ready []*item) error {
	groups := map[limiterKey][]*item{}
	for _, it := range ready {
		k := limiterKey{it.connector, it.job.TenantID}
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

// call makes one connector call for one tenant's items, under the tenant's
// token bucket at the connector, and applies the results.
func (d *Dispatcher) call(ctx context.Context, k limiterKey, items []*item) error {
	lim := d.limiter(k)
	if lim.Tokens() < 1 {
		d.metrics.waits.WithLabelValues(k.connector).Inc()
	}
	if err := lim.Wait(ctx); err != nil {
		return err
	}
	ds := make([]courier.Delivery, len(items))
	for i, it := range items {
		ds[i] = *it.delivery
	}
	results, err := d.routes[k.connector].connector.Deliver(ctx, ds)
	if err == nil && len(results) != len(ds) {
		err = fmt.Errorf("connector %s answered %d results for %d deliveries", k.connector, len(results), len(ds))
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
			d.metrics.jobs.WithLabelValues(k.connector, string(it.job.Kind), jobDelivered).Inc()
			if header(it.msg, HeaderReplayedFrom) != "" {
				d.metrics.replayed.WithLabelValues(k.connector, jobDelivered).Inc()
			}
		case courier.Retry:
			it.lastErr = r.Err
			if it.attempts >= d.cfg.MaxAttempts {
				d.toPark(it, ReasonRetriesExhausted, r.Err)
				continue
			}
			wait := d.cfg.Backoff.Delay(it.attempts - 1)
			if ra := min(r.RetryAfter, d.cfg.MaxRetryAfter); ra > wait {
				wait = ra
			}
			it.notBefore = now.Add(wait)
			d.metrics.retries.WithLabelValues(k.connector).Inc()
		default:
			d.toPark(it, ReasonRefused, r.Err)
		}
	}
	return nil
}

// limiter returns the token bucket of a tenant at a connector.
func (d *Dispatcher) limiter(k limiterKey) *rate.Limiter {
	d.mu.Lock()
	defer d.mu.Unlock()
	lim := d.limiters[k]
	if lim == nil {
		perSecond, burst := d.routes[k.connector].settings.Rate()
		lim = rate.NewLimiter(rate.Limit(perSecond), burst)
		d.limiters[k] = lim
	}
	return lim
}

// writeParked writes the batch's parked jobs that are not on the parked
// topic yet, and counts them once they are.
func (d *Dispatcher) writeParked(ctx context.Context, st *state) error {
	var msgs []kafka.Message
	var todo []*item
	now := d.cfg.Now()
	for _, it := range st.items {
		if it.park != nil && !it.written {
			msgs = append(msgs, parkMessage(*it.park, now))
			todo = append(todo, it)
		}
	}
	if err := write(ctx, d.parked, msgs); err != nil {
		return err
	}
	for _, it := range todo {
		it.written = true
		p := it.park
		d.metrics.parked.WithLabelValues(p.connector, p.reason).Inc()
		d.metrics.jobs.WithLabelValues(p.connector, kindLabel(it.job.Kind), jobParked).Inc()
		if header(it.msg, HeaderReplayedFrom) != "" {
			d.metrics.replayed.WithLabelValues(p.connector, jobParked).Inc()
		}
		d.log.Warn("dispatch: job parked", "connector", p.connector, "reason", p.reason, "tenant", p.tenant,
			"attempts", p.attempts, "topic", it.msg.Topic, "partition", it.msg.Partition, "offset", it.msg.Offset, "error", p.err)
	}
	return nil
}

// kindLabel bounds the kind label: a malformed job's kind is anything.
func kindLabel(k outbox.Kind) string {
	if k == outbox.KindCreate || k == outbox.KindCancel {
		return string(k)
	}
	return "unknown"
}
