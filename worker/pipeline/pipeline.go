// Package pipeline is the worker's loop: fetch a batch from the order topics,
// normalise each message, dead-letter what cannot be read, protect the rest (card
// numbers and free text removed, personal data tokenised or encrypted), write them
// to every sink, and only then commit the batch's offsets.
//
// # One error policy
//
// Every error of a stage is classified once, by the edge that knows it
// (worker/failure), and acted on here, in one place:
//
//   - transient (a server down, overloaded or unreachable): the stage is
//     retried with capped exponential backoff and jitter until it succeeds or
//     the worker stops; a batch is never skipped, and a stopped batch is never
//     committed, so its messages are read again (writes are idempotent);
//   - permanent for one order (the protect stage or a sink can never take
//     it): that order's message is dead-lettered with its stage and reason,
//     and the rest of the batch goes on at once, so one order never stalls
//     its partition;
//   - permanent for the worker (bad credentials, permission denied, an
//     unknown table or column): Run returns the error, and `orderflow run`
//     exits non-zero with it, rather than retry what only an operator can fix.
//
// # Who retries what
//
// The pipeline is the one retrier of its stages: fetch, protect, dead_letter,
// write and commit. Below it, each edge makes one attempt per call: the
// ClickHouse writer one insert per table per Write (remembering, per batch
// ID, the tables that succeeded, so that a retry re-sends only the others),
// the worker's Vault client one request (its logins and token renewals are
// not stage retries and keep their own loop), the dead-letter publisher one
// write. What the Kafka client does on its own is its lifecycle, not a stage
// retry: the reader reconnects and rejoins the group in the background, and
// kafka-go tries a commit up to 3 times (a constant of its own) before Commit
// fails.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
)

// Source yields batches of messages and commits them (consume.Consumer). Its
// errors are classified (worker/failure): unclassified ones are retried.
type Source interface {
	Fetch(ctx context.Context) (stream.Batch, error)
	// Commit commits the batch's offsets; it is called once every write of
	// the batch has succeeded, with the batch Fetch returned.
	Commit(ctx context.Context, batch stream.Batch) error
}

// Protector turns canonical orders into orders that hold personal data only as
// tokens and ciphertexts (protect.Stage), one for each order, in input order.
// An error of class failure.Order names an order (by its place in orders)
// that can never be protected: it is dead-lettered and the others are
// protected again at once. Other errors are handled by their class.
type Protector interface {
	Protect(ctx context.Context, orders []order.Order) ([]protected.Order, error)
}

// Sink receives the protected orders of a batch, in the batch's order, with
// the batch's ID (facts.Writer; next, the connector outbox). It must be
// idempotent: after a restart the same orders arrive again, in a batch of
// another ID.
//
// When a Write fails, the batch is written again under the same ID, with the
// same orders or fewer (those dead-lettered or refused meanwhile), so a sink
// may skip what it remembers writing for that ID. Once a sink's Write of a
// batch has succeeded it is not written that batch again, even when another
// sink's failure has the batch retried. An error of class failure.Order names
// orders (by their place in orders) that the sink can never take: they are
// dead-lettered (stage write, reason unwritable) and the rest written again at
// once. Other errors are handled by their class.
type Sink interface {
	Write(ctx context.Context, batch uint64, orders []protected.Order) error
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
//
// EraseOrders, called under Hold before every write, erases in place the
// snapshots of orders whose buyer asked to be erased (a later snapshot of an
// erased order) and returns how many: a buyer's erasure waits for the writes
// held before it was seen, as an offboarding does.
type Blocklist interface {
	Offboarded(tenant string) bool
	Hold() (release func(), err error)
	EraseOrders(orders []protected.Order) int
}

// Observer watches the orders as they are read (anomaly.Detector).
type Observer interface {
	Observe(o *order.Order)
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

// Stages of the pipeline: the stage of a dead letter, of a retry (the label
// of orderflow_pipeline_retries_total) and of an error that stops the worker.
const (
	StageFetch      = "fetch"
	StageNormalize  = "normalize"
	StageRoute      = "route"
	StageProtect    = "protect"
	StageDeadLetter = "dead_letter"
	StageWrite      = "write"
	StageCommit     = "commit"
)

// Reasons the pipeline itself gives dead letters (normalize.Reasons are the
// normaliser's).
const (
	// ReasonUnprotectable: the protect stage refuses the order whatever Vault does.
	ReasonUnprotectable = "unprotectable"
	// ReasonUnwritable: a sink refuses the order whatever is retried (a value
	// its tables cannot hold).
	ReasonUnwritable = "unwritable"
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
	Normalizer Normalizer
	Protector  Protector
	// Sinks receive every batch, concurrently; its offsets are committed once
	// all of them have it. At least one.
	Sinks       []Sink
	DeadLetters DeadLetters
	// Blocklist refuses the messages of offboarded tenants. Optional.
	Blocklist Blocklist
	// Observer is shown every order the pipeline reads, before it is
	// protected (worker/anomaly: the hacked-account pattern). It must keep
	// nothing of the order but what it needs, in memory. Optional.
	Observer Observer
	// TopicChannels maps each input topic to the channel its messages must carry.
	TopicChannels map[string]order.Channel
	// MinWriteInterval is the least time between the starts of two batch
	// writes (0: none). While it holds the writer back, messages gather in the
	// next batches, so it caps inserts a second at the cost of latency.
	MinWriteInterval time.Duration
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
	if cfg.Source == nil || cfg.Protector == nil || len(cfg.Sinks) == 0 || cfg.DeadLetters == nil {
		return nil, errors.New("pipeline: source, protector, sinks and dead letters are required")
	}
	if slices.Contains(cfg.Sinks, nil) {
		return nil, errors.New("pipeline: a nil sink")
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
		n, err := channel.Default().Normalizer(normalize.Config{})
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
// when ctx ends are abandoned uncommitted. An error that is permanent for the
// worker (failure.Worker) is returned, naming the stage.
//
// Two stages overlap: while a batch is written and committed, the next is
// fetched, normalised and protected. The worker's own CPU work (decoding, card
// scans, Vault) thus runs while ClickHouse ingests. They are joined by an
// unbuffered channel: a prepared batch is handed over when the writer is free,
// and only then is the next one fetched. So a slow write holds up the fetching
// (back-pressure), and on a live stream (where a fetch ends as soon as the
// consumer has caught up) the next batch is everything that came while the
// last one was written: at most one batch waits between a message and its
// write, whatever the rate. Batches are written and committed strictly in
// fetch order, so a commit never passes an unwritten message.
func (p *Pipeline) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ready := make(chan prepared)
	writerDone := make(chan error, 1)
	go func() { // owned by Run: it waits for writerDone below
		err := p.writeLoop(ctx, ready)
		if err != nil {
			cancel(err) // the preparing side stops too
		}
		writerDone <- err
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
	batch     stream.Batch
	orders    int
	refused   int // orders of offboarded tenants, committed unwritten
	protected []protected.Order
	// sources is the place in batch.Messages of each protected order's message.
	sources []int
	letters []deadletter.Letter
	start   time.Time
}

// prepareLoop fetches, normalises, protects and dead-letters batches and hands
// them to the write stage, until ctx ends (nil) or a stage fails for good.
func (p *Pipeline) prepareLoop(ctx context.Context, ready chan<- prepared) error {
	for {
		var batch stream.Batch
		err := p.retry(ctx, StageFetch, 0, func() (err error) {
			batch, err = p.cfg.Source.Fetch(ctx)
			return err
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		b, err := p.prepare(ctx, batch)
		if ctx.Err() != nil {
			if context.Cause(ctx) == ctx.Err() { // stopped, not failed: say what is dropped
				p.log.Info("stopping: batch in flight abandoned uncommitted", "batch", batch.ID, "messages", len(batch.Messages))
			}
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
	var lastWrite time.Time
	for b := range ready {
		err := backoff.Sleep(ctx, time.Until(lastWrite.Add(p.cfg.MinWriteInterval)))
		if err == nil {
			lastWrite = time.Now()
			err = p.writeAndCommit(ctx, b)
		}
		if ctx.Err() != nil {
			if context.Cause(ctx) == ctx.Err() { // stopped, not failed: say what is dropped
				p.log.Info("stopping: batch in flight abandoned uncommitted", "batch", b.batch.ID, "messages", len(b.batch.Messages))
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
// So does an attempt that names orders the stage can never protect: they are
// dead-lettered.
func (p *Pipeline) prepare(ctx context.Context, batch stream.Batch) (prepared, error) {
	start := time.Now()
	msgs := batch.Messages
	orders, letters, refused := p.normalize(msgs)
	p.observeStage(StageNormalize, start)
	if p.cfg.Observer != nil {
		for i := range orders {
			p.cfg.Observer.Observe(&orders[i].order)
		}
	}
	var out []protected.Order
	if len(orders) > 0 {
		protectStart := time.Now()
		err := p.retry(ctx, StageProtect, batch.ID, func() error {
			for {
				var n int
				orders, n = dropRefused(orders, p.refuses(""), func(o normalized) string { return o.order.TenantID })
				refused += n
				if len(orders) == 0 {
					out = nil
					return nil
				}
				canonical := make([]order.Order, len(orders))
				for i, n := range orders {
					canonical[i] = n.order
				}
				res, err := p.cfg.Protector.Protect(ctx, canonical)
				if tenant := offboardedTenant(err); tenant != "" {
					if orders, n = dropRefused(orders, p.refuses(tenant), func(o normalized) string { return o.order.TenantID }); n > 0 {
						refused += n
						continue
					}
				}
				if bad := refusedOrders(err, len(orders)); bad != nil {
					// Appends below must not write into a caller's array.
					letters = slices.Clip(letters)
					for _, i := range slices.Sorted(maps.Keys(bad)) { // in batch order
						// Its tenant id cannot name a key (the stage's one
						// refusal today): the platform key encrypts it.
						letters = append(letters, deadletter.Letter{Source: msgs[orders[i].index], Reason: ReasonUnprotectable,
							Stage: StageProtect, Err: bad[i]})
					}
					orders = without(orders, bad)
					continue
				}
				if err == nil && len(res) != len(orders) {
					return failure.Stop(fmt.Errorf("the protect stage returned %d orders for %d", len(res), len(orders)))
				}
				if err == nil {
					out = res
				}
				return err
			}
		})
		p.observeStage(StageProtect, protectStart)
		if err != nil {
			return prepared{}, err
		}
	}
	// Letters first: once they are durable, the batch may be committed past them.
	letters, n, err := p.publish(ctx, batch.ID, letters)
	if err != nil {
		return prepared{}, err
	}
	sources := make([]int, len(orders))
	for i, o := range orders {
		sources[i] = o.index
	}
	return prepared{batch: batch, orders: len(orders), refused: refused + n, protected: out, sources: sources, letters: letters, start: start}, nil
}

// publish writes letters to the dead-letter topic, retrying until it
// succeeds, and returns the letters written and how many it dropped because
// their tenant has been offboarded (checked before each attempt, and when the
// publisher's encryption refuses a tenant).
func (p *Pipeline) publish(ctx context.Context, batch uint64, letters []deadletter.Letter) ([]deadletter.Letter, int, error) {
	refused := 0
	if len(letters) > 0 {
		defer p.observeStage(StageDeadLetter, time.Now())
	}
	err := p.retry(ctx, StageDeadLetter, batch, func() error {
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
	return letters, refused, err
}

// refusedOrders returns the causes of the orders that err says can never
// pass, by their place among n orders, or nil when err is of another class.
// An Order error that names no order, or one that is not there, is not one
// the pipeline can act on: nil, and retry stops the worker with it.
func refusedOrders(err error, n int) map[int]error {
	if err == nil || failure.Of(err) != failure.Order {
		return nil
	}
	bad := failure.Orders(err)
	if len(bad) == 0 {
		return nil
	}
	for i := range bad {
		if i < 0 || i >= n {
			return nil
		}
	}
	return bad
}

// without returns items without those at the places in drop, in order. The
// input is not modified.
func without[T any, V any](items []T, drop map[int]V) []T {
	kept := make([]T, 0, len(items)-len(drop))
	for i, it := range items {
		if _, ok := drop[i]; !ok {
			kept = append(kept, it)
		}
	}
	return kept
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
	kept, _, n := dropRefusedAlong(items, []struct{}(nil), refused, tenantOf)
	return kept, n
}

// dropRefusedAlong is dropRefused that drops the same places of along, a
// slice as long as items (or nil).
func dropRefusedAlong[T, A any](items []T, along []A, refused func(string) bool, tenantOf func(T) string) ([]T, []A, int) {
	drop := map[int]struct{}{}
	for i, it := range items {
		if refused(tenantOf(it)) {
			drop[i] = struct{}{}
		}
	}
	if len(drop) == 0 {
		return items, along, 0
	}
	if along != nil {
		along = without(along, drop)
	}
	return without(items, drop), along, len(drop)
}

// writeAndCommit writes a prepared batch to every sink, dead-letters the
// orders a sink refuses for good, commits the batch's offsets and counts it.
func (p *Pipeline) writeAndCommit(ctx context.Context, b prepared) error {
	if len(b.protected) > 0 {
		letters, err := p.write(ctx, &b)
		if err != nil {
			return err
		}
		if len(letters) > 0 {
			letters, n, err := p.publish(ctx, b.batch.ID, letters)
			if err != nil {
				return err
			}
			b.refused += n
			b.letters = append(slices.Clip(b.letters), letters...)
		}
	}
	commitStart := time.Now()
	if err := p.retry(ctx, StageCommit, b.batch.ID, func() error { return p.cfg.Source.Commit(ctx, b.batch) }); err != nil {
		return err
	}
	p.observeStage(StageCommit, commitStart)

	for _, l := range b.letters {
		p.metrics.deadLetters.WithLabelValues(l.Stage, l.Reason).Inc()
	}
	for _, o := range b.protected {
		p.metrics.orders.WithLabelValues(string(o.Channel)).Inc()
	}
	p.metrics.refused.Add(float64(b.refused))
	committed := time.Now()
	for _, m := range b.batch.Messages {
		if !m.Time.IsZero() {
			p.metrics.endToEnd.Observe(committed.Sub(m.Time).Seconds())
		}
	}
	p.metrics.batches.Inc()
	p.metrics.batchMessages.Observe(float64(len(b.batch.Messages)))
	p.metrics.batchSeconds.Observe(time.Since(b.start).Seconds())
	p.metrics.lastCommit.SetToCurrentTime()
	p.logCommitted(b)
	return nil
}

// observeStage records the time a batch spent in stage since start.
func (p *Pipeline) observeStage(stage string, start time.Time) {
	p.metrics.stageSeconds.WithLabelValues(stage).Observe(time.Since(start).Seconds())
}

// logCommitted writes the one line of a committed batch. Dead letters are
// expected (a malformed message is the sender's to fix, and the DLQ keeps
// it), so they give one WARN line per batch, with counts, not one per
// message; a batch without any is logged at debug.
func (p *Pipeline) logCommitted(b prepared) {
	attrs := []any{"batch", b.batch.ID, "messages", len(b.batch.Messages), "orders", b.orders,
		"dead_letters", len(b.letters), "duration", time.Since(b.start)}
	if len(b.letters) == 0 {
		p.log.Debug("batch committed", attrs...)
		return
	}
	reasons := map[string]bool{}
	for _, l := range b.letters {
		reasons[l.Reason] = true
	}
	attrs = append(attrs, "reasons", strings.Join(slices.Sorted(maps.Keys(reasons)), ","))
	p.log.Warn("batch committed; messages dead-lettered", attrs...)
}

// write writes b's protected orders to every sink until all have them, and
// returns the letters of the orders a sink refused for good, which it removes
// from b. A sink that has the batch is not written it again when another
// fails and the batch is retried. Before each attempt the orders of tenants
// offboarded meanwhile are dropped.
func (p *Pipeline) write(ctx context.Context, b *prepared) ([]deadletter.Letter, error) {
	var letters []deadletter.Letter
	done := make([]bool, len(p.cfg.Sinks))
	defer p.observeStage(StageWrite, time.Now())
	err := p.retry(ctx, StageWrite, b.batch.ID, func() error {
		for {
			err := p.writeHeld(ctx, b, done)
			if bad := refusedOrders(err, len(b.protected)); bad != nil {
				letters = append(letters, p.unwritable(b, bad)...)
				continue
			}
			return err
		}
	})
	return letters, err
}

// writeHeld is writeOnce under the blocklist's hold, if there is one: an
// offboarding waits for it (see Blocklist).
func (p *Pipeline) writeHeld(ctx context.Context, b *prepared, done []bool) error {
	if p.cfg.Blocklist == nil {
		return p.writeOnce(ctx, b, done)
	}
	release, err := p.cfg.Blocklist.Hold()
	if err != nil {
		return fmt.Errorf("holding the write: %w", err)
	}
	defer release()
	return p.writeOnce(ctx, b, done)
}

// writeOnce drops the orders of offboarded tenants from b, then writes it to
// every sink not yet done, concurrently, marking those that succeed.
func (p *Pipeline) writeOnce(ctx context.Context, b *prepared, done []bool) error {
	var n int
	b.protected, b.sources, n = dropRefusedAlong(b.protected, b.sources, p.refuses(""), func(o protected.Order) string { return o.TenantID })
	b.refused += n
	if len(b.protected) == 0 {
		return nil
	}
	if p.cfg.Blocklist != nil {
		if n := p.cfg.Blocklist.EraseOrders(b.protected); n > 0 {
			p.log.Info("snapshots of orders whose buyer was erased: written erased", "batch", b.batch.ID, "orders", n)
		}
	}
	errs := make([]error, len(p.cfg.Sinks))
	var wg sync.WaitGroup
	for i, sink := range p.cfg.Sinks {
		if done[i] {
			continue
		}
		wg.Go(func() { // owned here: waited for below
			errs[i] = sink.Write(ctx, b.batch.ID, b.protected)
			done[i] = errs[i] == nil
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// unwritable removes the orders at the places in bad from b and returns
// their letters, under their tenants' keys.
func (p *Pipeline) unwritable(b *prepared, bad map[int]error) []deadletter.Letter {
	letters := make([]deadletter.Letter, 0, len(bad))
	for _, i := range slices.Sorted(maps.Keys(bad)) {
		o := b.protected[i]
		// Debug: the batch's committed line counts its dead letters.
		p.log.Debug("a sink refuses an order for good: dead-lettered", "batch", b.batch.ID, "tenant", o.TenantID,
			"channel", o.Channel, "index", i, "err", bad[i])
		letters = append(letters, deadletter.Letter{Source: b.batch.Messages[b.sources[i]], Reason: ReasonUnwritable,
			Stage: StageWrite, TenantID: o.TenantID, Err: bad[i]})
	}
	b.protected, b.sources = without(b.protected, bad), without(b.sources, bad)
	return letters
}

// normalized is a canonical order and the index of its message in the batch.
type normalized struct {
	order order.Order
	index int
}

// normalize splits a batch into canonical orders (in batch order, so each
// partition's order holds) and dead letters, and counts the messages refused
// because their tenant has been offboarded.
func (p *Pipeline) normalize(batch []stream.Message) ([]normalized, []deadletter.Letter, int) {
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

// retry calls fn for the batch numbered batch (0 for none) until it
// succeeds, ctx ends, or it fails for good: a
// transient error (failure.Transient, and any error that declares no class)
// is retried after capped exponential backoff with jitter; any other is
// returned, marked as permanent for the worker and naming the stage (fn acts
// itself on the orders an error names, and returns only what it cannot act
// on).
//
// A retry is expected (a server restarts, a leader moves) and counted in
// orderflow_pipeline_retries_total: the first failure of a call is logged at
// info, the next ones at debug, so an outage does not give a WARN line per
// attempt; one that lasts shows in the metric and its alerts.
func (p *Pipeline) retry(ctx context.Context, stage string, batch uint64, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", stage, ctx.Err())
		}
		switch failure.Of(err) {
		case failure.Worker:
			p.log.Error("stopping: the error is permanent for the worker", "stage", stage, "batch", batch, "err", err)
			return &StopError{Stage: stage, Err: err}
		case failure.Order: // that names no order it can act on
			p.log.Error("stopping: an order can never pass and the error does not say which", "stage", stage, "batch", batch, "err", err)
			return &StopError{Stage: stage, Err: err}
		}
		wait := p.backoff.Delay(attempt)
		p.metrics.retries.WithLabelValues(stage).Inc()
		// A failing server is worth one WARN per batch (the on-call engineer
		// reads it beside the alert), and one every tenth attempt while it
		// lasts, so that a long outage stays in the log without one line per
		// retry; the attempts between are debug.
		level := slog.LevelDebug
		if attempt%10 == 0 {
			level = slog.LevelWarn
		}
		p.log.Log(ctx, level, "stage failed; retrying", "stage", stage, "batch", batch, "attempt", attempt+1, "wait", wait, "err", err)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
	}
}

// StopError is what Run returns when a stage fails for good: the worker
// cannot go on until an operator acts on Err.
type StopError struct {
	Stage string
	Err   error
}

func (e *StopError) Error() string {
	return "stopped: stage " + e.Stage + " failed for good (" + failure.Of(e.Err).String() + "): " + e.Err.Error()
}

func (e *StopError) Unwrap() error { return e.Err }

// FailureClass is failure.Worker: whatever Err's class, nothing more can be done.
func (e *StopError) FailureClass() failure.Class { return failure.Worker }
