// Package pipeline is the worker's loop: fetch a batch from the order topics,
// normalise each message, dead-letter what cannot be read, protect the rest (card
// numbers and free text removed, personal data tokenised or encrypted), write them,
// and only then commit the batch's offsets. A failing write is retried with backoff until it
// succeeds or the worker stops; a batch is never skipped, and a stopped batch is
// never committed, so its messages are read again (writes are idempotent).
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protected"
)

// Source yields batches of messages and commits them (consume.Consumer).
type Source interface {
	Fetch(ctx context.Context) ([]kafka.Message, error)
	Commit(ctx context.Context, batch []kafka.Message) error
}

// Protector turns canonical orders into orders that hold personal data only as
// tokens and ciphertexts (protect.Stage). An error matching protect.ErrInvalidOrder
// means an order of the batch can never be protected; any other error is retried.
type Protector interface {
	Protect(ctx context.Context, orders []order.Order) ([]protected.Order, error)
}

// Sink receives the protected orders of a batch, in the batch's order. It must be
// idempotent: after a restart the same orders arrive again.
type Sink interface {
	Write(ctx context.Context, orders []protected.Order) error
}

// DeadLetters receives the messages that cannot be processed (deadletter.Publisher).
type DeadLetters interface {
	Publish(ctx context.Context, letters []deadletter.Letter) error
}

// Blocklist says which tenants have left the platform (retention.Blocklist):
// their messages are refused, neither written nor dead-lettered, since keeping
// their buyers' data anywhere would break the promise made at offboarding (P10).
// The pipeline asks again before every attempt to protect, dead-letter or
// write a batch, since a tenant may be offboarded while its batch is retried.
//
// Hold admits one sink write: an offboarding's acknowledgement waits for the
// writes held before the tenant entered the list, so that none of them lands
// after the tenant's rows are deleted. The pipeline reads Offboarded after
// Hold and releases once the write has returned.
type Blocklist interface {
	Offboarded(tenant string) bool
	Hold() (release func(), err error)
}

// offboardedTenant is the tenant named by an error that refuses it because it
// has been offboarded (*transit.OffboardedError, wrapped by the protect stage
// or the dead-letter publisher), or "".
func offboardedTenant(err error) string {
	var refused interface{ OffboardedTenant() string }
	if errors.As(err, &refused) {
		return refused.OffboardedTenant()
	}
	return ""
}

// Stages and reasons the pipeline itself gives dead letters.
const (
	StageNormalize = "normalize"
	StageRoute     = "route"
	StageProtect   = "protect"
	// ReasonUnprotectable: the protect stage refuses the order whatever Vault does.
	ReasonUnprotectable = "unprotectable"
	// ReasonWrongTopic: the envelope's channel is not the channel of its topic.
	ReasonWrongTopic = "wrong_topic"
	// ReasonNormalizerPanic: the normaliser panicked on the message, a bug of
	// ours; the message waits in the DLQ for the fix instead of crash-looping the
	// worker.
	ReasonNormalizerPanic = "normalizer_panic"
)

// Normalizer turns a message into a canonical order (normalize.Normalizer); its
// errors are *normalize.Error.
type Normalizer interface {
	Normalize(msg []byte) (order.Order, error)
}

// Config configures a Pipeline.
type Config struct {
	Source Source
	// Normalizer reads the messages. Default: normalize's defaults (the wall
	// clock, a day's skew) with the shipped channels (channel.Default).
	Normalizer  Normalizer
	Protector   Protector
	Sink        Sink
	DeadLetters DeadLetters
	// Blocklist refuses the messages of offboarded tenants. Optional.
	Blocklist Blocklist
	// TopicChannels maps each input topic to the channel its messages must carry.
	TopicChannels map[string]order.Channel
	// RetryInitial and RetryMax bound the backoff between failed attempts.
	// Defaults 100ms and 30s.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// Registerer receives the pipeline's metrics. Default: a private registry.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Pipeline runs the loop. Run it from one goroutine.
type Pipeline struct {
	cfg     Config
	metrics *metrics
	log     *slog.Logger
	backoff backoff.Backoff
}

// New checks cfg and returns a Pipeline ready to Run.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Source == nil || cfg.Protector == nil || cfg.Sink == nil || cfg.DeadLetters == nil {
		return nil, errors.New("pipeline: source, protector, sink and dead letters are required")
	}
	if len(cfg.TopicChannels) == 0 {
		return nil, errors.New("pipeline: no input topics")
	}
	if cfg.RetryInitial == 0 {
		cfg.RetryInitial = 100 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 30 * time.Second
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Normalizer == nil {
		n, err := normalize.New(normalize.Config{Decoders: channel.Default().Decoders()})
		if err != nil {
			return nil, err
		}
		cfg.Normalizer = n
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Pipeline{
		cfg:     cfg,
		metrics: m,
		log:     cfg.Logger.With("component", "pipeline"),
		backoff: backoff.Backoff{Initial: cfg.RetryInitial, Max: cfg.RetryMax},
	}, nil
}

// Run processes batches until ctx ends, then returns nil. The batches in flight
// when ctx ends are abandoned uncommitted. Any other error is returned.
//
// Two stages overlap, joined by a channel of one: while a batch is written and
// committed, the next is fetched, normalised and protected. The worker's own
// CPU work (decoding, card scans) thus runs while ClickHouse ingests, and a slow
// write holds up the fetching (back-pressure) once one prepared batch waits.
// Batches are written and committed strictly in fetch order, so a commit never
// passes an unwritten message.
func (p *Pipeline) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := make(chan prepared, 1)
	writerDone := make(chan error, 1)
	go func() { // owned by Run: it waits for writerDone below
		writerDone <- p.writeLoop(ctx, ready)
	}()

	prepErr := p.prepareLoop(ctx, ready)
	close(ready)
	if prepErr != nil {
		cancel(prepErr)
	}
	writeErr := <-writerDone
	if err := cmp.Or(prepErr, writeErr); err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	return nil
}

// prepared is a batch whose protected orders and dead letters are ready to be
// written and committed.
type prepared struct {
	batch     []kafka.Message
	orders    int
	refused   int // orders of offboarded tenants, committed unwritten
	protected []protected.Order
	letters   []deadletter.Letter
	start     time.Time
}

// prepareLoop fetches, normalises, protects and dead-letters batches and hands
// them to the write stage, until ctx ends (nil) or a stage fails for good.
func (p *Pipeline) prepareLoop(ctx context.Context, ready chan<- prepared) error {
	for {
		batch, err := p.cfg.Source.Fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := p.prepare(ctx, batch)
		if ctx.Err() != nil {
			p.log.Info("stopping: batch in flight abandoned uncommitted", "messages", len(batch))
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case ready <- b:
		case <-ctx.Done():
			return nil
		}
	}
}

// writeLoop writes and commits the prepared batches in order until ready is
// closed or ctx ends (nil), or a write fails for good.
func (p *Pipeline) writeLoop(ctx context.Context, ready <-chan prepared) error {
	for b := range ready {
		err := p.writeAndCommit(ctx, b)
		if ctx.Err() != nil {
			if context.Cause(ctx) == ctx.Err() { // stopped, not failed: say what is dropped
				p.log.Info("stopping: batch in flight abandoned uncommitted", "messages", len(b.batch))
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepare takes one batch through normalise, protect and dead-letter. Each
// attempt first drops the orders and letters of tenants offboarded since the
// last one; an attempt refused because a tenant has been offboarded drops that
// tenant's and tries again at once, rather than retrying what can never pass.
func (p *Pipeline) prepare(ctx context.Context, batch []kafka.Message) (prepared, error) {
	start := time.Now()
	orders, letters, refused := p.normalize(batch)
	var protected []protected.Order
	if len(orders) > 0 {
		err := p.retry(ctx, StageProtect, func() error {
			for {
				var n int
				orders, n = dropRefused(orders, p.refuses(""), func(o normalized) string { return o.order.TenantID })
				refused += n
				if len(orders) == 0 {
					protected = nil
					return nil
				}
				out, more, err := p.protect(ctx, batch, orders, letters)
				if tenant := offboardedTenant(err); tenant != "" {
					if orders, n = dropRefused(orders, p.refuses(tenant), func(o normalized) string { return o.order.TenantID }); n > 0 {
						refused += n
						continue
					}
				}
				if err == nil {
					protected, letters = out, more
				}
				return err
			}
		})
		if err != nil {
			return prepared{}, err
		}
	}
	// Letters first: once they are durable, the batch may be committed past them.
	err := p.retry(ctx, "dead_letter", func() error {
		for {
			var n int
			letters, n = dropRefused(letters, p.refuses(""), func(l deadletter.Letter) string { return l.TenantID })
			refused += n
			err := p.cfg.DeadLetters.Publish(ctx, letters)
			if tenant := offboardedTenant(err); tenant != "" {
				if letters, n = dropRefused(letters, p.refuses(tenant), func(l deadletter.Letter) string { return l.TenantID }); n > 0 {
					refused += n
					continue
				}
			}
			return err
		}
	})
	if err != nil {
		return prepared{}, err
	}
	return prepared{batch: batch, orders: len(orders), refused: refused, protected: protected, letters: letters, start: start}, nil
}

// refuses returns the test of a tenant to drop: offboarded by the blocklist,
// or named (an error just refused it).
func (p *Pipeline) refuses(named string) func(string) bool {
	return func(tenant string) bool {
		return tenant != "" && (tenant == named || p.cfg.Blocklist != nil && p.cfg.Blocklist.Offboarded(tenant))
	}
}

// dropRefused returns items without those whose tenant refused says to drop,
// in order, and how many it dropped. The input is not modified.
func dropRefused[T any](items []T, refused func(string) bool, tenantOf func(T) string) ([]T, int) {
	var kept []T
	for i, it := range items {
		if !refused(tenantOf(it)) {
			if kept != nil {
				kept = append(kept, it)
			}
			continue
		}
		if kept == nil {
			kept = append(make([]T, 0, len(items)-1), items[:i]...)
		}
	}
	if kept == nil {
		return items, 0
	}
	return kept, len(items) - len(kept)
}

// writeAndCommit writes a prepared batch, commits its offsets and counts it.
func (p *Pipeline) writeAndCommit(ctx context.Context, b prepared) error {
	if len(b.protected) > 0 {
		err := p.retry(ctx, "sink", func() error {
			if p.cfg.Blocklist != nil {
				release, err := p.cfg.Blocklist.Hold()
				if err != nil {
					return fmt.Errorf("holding the write: %w", err)
				}
				defer release()
			}
			var n int
			b.protected, n = dropRefused(b.protected, p.refuses(""), func(o protected.Order) string { return o.TenantID })
			b.refused += n
			if len(b.protected) == 0 {
				return nil
			}
			return p.cfg.Sink.Write(ctx, b.protected)
		})
		if err != nil {
			return err
		}
	}
	if err := p.retry(ctx, "commit", func() error { return p.cfg.Source.Commit(ctx, b.batch) }); err != nil {
		return err
	}

	for _, l := range b.letters {
		p.metrics.deadLetters.WithLabelValues(l.Stage, l.Reason).Inc()
	}
	for _, o := range b.protected {
		p.metrics.orders.WithLabelValues(string(o.Channel)).Inc()
	}
	p.metrics.refused.Add(float64(b.refused))
	committed := time.Now()
	for _, m := range b.batch {
		if !m.Time.IsZero() {
			p.metrics.endToEnd.Observe(committed.Sub(m.Time).Seconds())
		}
	}
	p.metrics.batches.Inc()
	p.metrics.batchMessages.Observe(float64(len(b.batch)))
	p.metrics.batchSeconds.Observe(time.Since(b.start).Seconds())
	p.metrics.lastCommit.SetToCurrentTime()
	p.log.Debug("batch committed", "messages", len(b.batch), "orders", b.orders, "dead_letters", len(b.letters),
		"duration", time.Since(b.start))
	return nil
}

// protect protects the batch's orders in one call. When the stage refuses an order
// outright (protect.ErrInvalidOrder), it protects them one by one instead and
// dead-letters the refused ones, so one bad order cannot hold up its batch.
func (p *Pipeline) protect(ctx context.Context, batch []kafka.Message, orders []normalized, letters []deadletter.Letter) ([]protected.Order, []deadletter.Letter, error) {
	canonical := make([]order.Order, len(orders))
	for i, n := range orders {
		canonical[i] = n.order
	}
	out, err := p.cfg.Protector.Protect(ctx, canonical)
	if err == nil || !errors.Is(err, protect.ErrInvalidOrder) {
		return out, letters, err
	}
	out = nil
	letters = slices.Clip(letters) // appends below must not write into the caller's array
	for _, n := range orders {
		one, err := p.cfg.Protector.Protect(ctx, []order.Order{n.order})
		switch {
		case errors.Is(err, protect.ErrInvalidOrder):
			// Its tenant id cannot name a key: the platform key encrypts it.
			letters = append(letters, deadletter.Letter{Source: batch[n.index], Reason: ReasonUnprotectable, Stage: StageProtect, Err: err})
		case err != nil:
			return nil, letters, err
		default:
			out = append(out, one...)
		}
	}
	return out, letters, nil
}

// normalized is a canonical order and the index of its message in the batch.
type normalized struct {
	order order.Order
	index int
}

// normalize splits a batch into canonical orders (in batch order, so each
// partition's order holds) and dead letters, and counts the messages refused
// because their tenant has been offboarded.
func (p *Pipeline) normalize(batch []kafka.Message) ([]normalized, []deadletter.Letter, int) {
	orders := make([]normalized, 0, len(batch))
	var letters []deadletter.Letter
	refused := 0
	for i, msg := range batch {
		o, err := safeNormalize(p.cfg.Normalizer, msg.Value)
		if err != nil {
			// The envelope's tenant, when valid, whatever else is wrong: an
			// offboarded tenant's message is refused, not dead-lettered, and
			// any other's letter is encrypted under its tenant's key.
			tenant := normalize.TenantOf(err)
			if p.refuses("")(tenant) {
				refused++
				continue
			}
			reason := string(normalize.ReasonOf(err))
			if errors.Is(err, errNormalizerPanic) {
				reason = ReasonNormalizerPanic
				p.log.Error("normaliser panicked; message dead-lettered", "topic", msg.Topic, "partition", msg.Partition, "offset", msg.Offset, "err", err)
			}
			letters = append(letters, deadletter.Letter{Source: msg, Reason: reason, Stage: StageNormalize, TenantID: tenant, Err: err})
			continue
		}
		if p.refuses("")(o.TenantID) {
			refused++
			continue
		}
		if want, ok := p.cfg.TopicChannels[msg.Topic]; ok && o.Channel != want {
			letters = append(letters, deadletter.Letter{Source: msg, Reason: ReasonWrongTopic, Stage: StageRoute, TenantID: o.TenantID,
				Err: routeError("an order of another channel on the " + string(want) + " topic")})
			continue
		}
		orders = append(orders, normalized{order: o, index: i})
	}
	return orders, letters, refused
}

// errNormalizerPanic is the dead letter's error when the normaliser panics.
var errNormalizerPanic = routeError("the normaliser panicked on this message")

// routeError is an error of the pipeline's own about a message, in fixed words
// and names of the pipeline's configuration (never a value of the message): a
// deadletter.SafeError.
type routeError string

func (e routeError) Error() string       { return string(e) }
func (e routeError) SafeMessage() string { return string(e) }

// safeNormalize turns a panic in the normaliser into an error. The panic value is
// not kept: it could quote the message.
func safeNormalize(n Normalizer, value []byte) (o order.Order, err error) {
	defer func() {
		if recover() != nil {
			o, err = order.Order{}, errNormalizerPanic
		}
	}()
	return n.Normalize(value)
}

// retry calls fn until it succeeds or ctx ends, waiting with capped exponential
// backoff and jitter between attempts.
func (p *Pipeline) retry(ctx context.Context, stage string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", stage, ctx.Err())
		}
		wait := p.backoff.Delay(attempt)
		p.metrics.retries.WithLabelValues(stage).Inc()
		p.log.Warn("write failed; retrying", "stage", stage, "attempt", attempt+1, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", stage, ctx.Err())
		case <-time.After(wait):
		}
	}
}
