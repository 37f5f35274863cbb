// Package produce writes a generator's messages to Kafka: a number of them or
// for a while, as fast as the brokers acknowledge or at a steady rate, and
// tallies exactly what the brokers acknowledged. `orderflow generate`, the demo
// and the end-to-end benchmark all produce through it.
package produce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/semaphore"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
)

// Config configures a Producer. The zero value of each optional field means
// its default.
type Config struct {
	// Generator makes the messages. Required.
	Generator *generate.Generator
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// Transport carries the client id, TLS and SASL (worker/kafkaclient).
	// Default kafka-go's default transport.
	Transport kafka.RoundTripper
	// Topics maps each channel to its input topic. Required; a message of a
	// channel without one stops the run.
	Topics map[order.Channel]string
	// Count is how many messages to produce; 0 for no limit, when Duration
	// must be set.
	Count int64
	// Duration is how long to produce for; 0 for no limit, when Count must be
	// set. Whichever of the two comes first ends the run.
	Duration time.Duration
	// Rate is the pace in messages per second; 0 for as fast as the brokers
	// acknowledge.
	Rate float64
	// Burst is how far behind its pace the producer may fall, after a stall,
	// and still catch up at once. Default 50ms.
	Burst time.Duration
	// BatchTimeout is how long the writer waits to fill a partition's batch.
	// Default 10ms.
	BatchTimeout time.Duration
	// MaxInFlight bounds the messages produced but not yet acknowledged, and
	// so the memory they hold. Default 20000.
	MaxInFlight int64
	// CloseTimeout bounds the flush of what is still queued when the run
	// ends. Default 10s.
	CloseTimeout time.Duration
	// Progress, if set, is called every ProgressInterval while the run lasts,
	// on a goroutine of the run's own.
	Progress func(Status)
	// ProgressInterval is how often Progress is called. Default 1s.
	ProgressInterval time.Duration
	// Logger receives a line when the run starts and when it ends. Default:
	// discards.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultBurst            = 50 * time.Millisecond
	DefaultBatchTimeout     = 10 * time.Millisecond
	DefaultMaxInFlight      = 20000
	DefaultCloseTimeout     = 10 * time.Second
	DefaultProgressInterval = time.Second
)

// chunk is the most messages one WriteMessages call hands to the writer.
const chunk = 100

// Status is what a run has done so far.
type Status struct {
	Produced, Acknowledged, Failed int64
	// PerSecond is the rate of acknowledgements since the last Status.
	PerSecond float64
}

// Result is what a run did. Produced - Acknowledged - Failed messages were
// handed to the writer but their fate is unknown (the flush timed out).
type Result struct {
	Produced, Acknowledged, Failed int64
	// Elapsed runs from the start of Run to the end of the flush.
	Elapsed time.Duration
	// Stats is the tally of the acknowledged messages only: what a reader of
	// the topics finds.
	Stats generate.Stats
}

// Producer feeds a generator's messages to a kafka-go writer and tallies the
// acknowledged ones. It makes one run: Run may be called once.
type Producer struct {
	cfg    Config
	writer *kafka.Writer

	inFlight *semaphore.Weighted
	produced atomic.Int64
	ackedN   atomic.Int64
	failedN  atomic.Int64

	mu       sync.Mutex
	acked    *generate.Tally // guarded by mu
	firstErr error           // guarded by mu
}

// New checks cfg, fills its defaults and returns a Producer.
func New(cfg Config) (*Producer, error) {
	var errs []error
	if cfg.Generator == nil {
		errs = append(errs, errors.New("a generator is required"))
	}
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one is required"))
	}
	if len(cfg.Topics) == 0 {
		errs = append(errs, errors.New("topics: a topic for each channel is required"))
	}
	for ch, topic := range cfg.Topics {
		if topic == "" {
			errs = append(errs, fmt.Errorf("topics: channel %s has an empty topic name", ch))
		}
	}
	if cfg.Count < 0 || cfg.Duration < 0 || cfg.Rate < 0 || cfg.Rate != cfg.Rate || cfg.Burst < 0 {
		errs = append(errs, errors.New("count, duration, rate and burst cannot be negative"))
	}
	if cfg.Count == 0 && cfg.Duration == 0 {
		errs = append(errs, errors.New("a count or a duration is required: a run must end"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("produce: %w", errors.Join(errs...))
	}
	if cfg.BatchTimeout == 0 {
		cfg.BatchTimeout = DefaultBatchTimeout
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "generate")
	p := &Producer{cfg: cfg, acked: generate.NewTally(), inFlight: semaphore.NewWeighted(cfg.MaxInFlight)}
	p.writer = &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Balancer:     &kafka.Hash{}, // by key: an order's snapshots keep their order in one partition
		BatchSize:    1000,
		BatchTimeout: cfg.BatchTimeout,
		RequiredAcks: kafka.RequireAll,
		Async:        true, // acknowledgements arrive through Completion
		Completion:   p.completed,
		Transport:    cfg.Transport,
	}
	return p, nil
}

// Run produces until the count is reached, the duration is over, ctx ends
// or a write fails; then it flushes what is queued and waits for its
// acknowledgements (within CloseTimeout). It returns an error when a message
// was not acknowledged, and the Result in every case: a run that ctx stopped
// has no error if everything it produced was acknowledged.
func (p *Producer) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	runCtx := ctx
	if p.cfg.Duration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, p.cfg.Duration)
		defer cancel()
	}
	gen := p.cfg.Generator.Config()
	p.cfg.Logger.Info("generating", "brokers", p.writer.Addr.String(), "topics", p.topicList(),
		"count", p.cfg.Count, "rate_per_s", p.cfg.Rate, "duration", p.cfg.Duration.String(), "seed", gen.Seed, "now", gen.Now)

	progressDone := make(chan struct{})
	var progress sync.WaitGroup
	if p.cfg.Progress != nil {
		progress.Go(func() { p.reportProgress(progressDone) })
	}

	loopErr := p.produce(runCtx)
	switch {
	case ctx.Err() != nil:
		p.cfg.Logger.Info("stopped: flushing what was produced", "produced", p.produced.Load())
	case loopErr != nil:
		p.cfg.Logger.Error("stopping", "err", loopErr)
	}

	// Close flushes the batches still open and waits for their acknowledgements.
	closed := make(chan error, 1)
	go func() { closed <- p.writer.Close() }()
	var closeErr error
	select {
	case closeErr = <-closed:
	case <-time.After(p.cfg.CloseTimeout):
		closeErr = fmt.Errorf("the writer did not flush within %s", p.cfg.CloseTimeout)
	}
	close(progressDone)
	progress.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	res := Result{
		Produced: p.produced.Load(), Acknowledged: p.ackedN.Load(), Failed: p.failedN.Load(),
		Elapsed: time.Since(start), Stats: p.acked.Stats(),
	}
	if p.firstErr != nil {
		loopErr = errors.Join(loopErr, fmt.Errorf("%d messages not acknowledged: %w", res.Failed, p.firstErr))
	}
	err := errors.Join(loopErr, closeErr)
	if err == nil && res.Produced != res.Acknowledged {
		err = fmt.Errorf("%d of %d messages were not acknowledged", res.Produced-res.Acknowledged, res.Produced)
	}
	p.cfg.Logger.Info("generated", "produced", res.Produced, "acknowledged", res.Acknowledged, "failed", res.Failed,
		"seconds", res.Elapsed.Seconds())
	return res, err
}

// produce writes messages until the count is reached, ctx ends or a write fails.
func (p *Producer) produce(ctx context.Context) error {
	var bucket *pacer
	if p.cfg.Rate > 0 {
		bucket = newPacer(p.cfg.Rate, p.cfg.Burst, time.Now, backoff.Sleep)
	}
	batch := make([]kafka.Message, 0, chunk)
	for ctx.Err() == nil {
		if p.failedN.Load() > 0 {
			return nil // the reason is in firstErr
		}
		n := int64(chunk)
		if p.cfg.Count > 0 {
			n = min(n, p.cfg.Count-p.produced.Load())
			if n == 0 {
				return nil
			}
		}
		if bucket != nil {
			got, err := bucket.take(ctx, int(n))
			if err != nil {
				return nil // ctx ended while waiting
			}
			n = int64(got)
		}
		if err := p.inFlight.Acquire(ctx, n); err != nil {
			return nil
		}
		// The timestamp is the moment of the handoff, so that the worker's
		// end-to-end latency counts the writer's batching too (kafka-go would
		// stamp a message only when it encodes its batch).
		now := time.Now()
		batch = batch[:0]
		for range n {
			m := p.cfg.Generator.Next()
			topic, ok := p.cfg.Topics[m.Topic]
			if !ok {
				// Nothing of this chunk was produced: the tally must not count it.
				p.inFlight.Release(n)
				return fmt.Errorf("no topic for channel %s", m.Topic)
			}
			batch = append(batch, kafka.Message{Topic: topic, Key: m.Key, Value: m.Value, Time: now, WriterData: m.Meta})
		}
		p.produced.Add(n)
		// Async: this queues the messages (after a metadata request for a topic
		// not seen yet); Completion reports each batch's fate.
		wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := p.writer.WriteMessages(wctx, batch...)
		cancel()
		if err != nil {
			p.failedN.Add(n)
			p.inFlight.Release(n)
			if errors.Is(err, kafka.UnknownTopicOrPartition) {
				return fmt.Errorf("writing to kafka: %w (the input topics %s must exist)", err, p.topicList())
			}
			return fmt.Errorf("writing to kafka: %w", err)
		}
	}
	return nil
}

// completed is the writer's Completion callback: it tallies the messages the
// brokers acknowledged. It runs on the writer's goroutines.
func (p *Producer) completed(msgs []kafka.Message, err error) {
	p.mu.Lock()
	if err != nil {
		if p.firstErr == nil {
			p.firstErr = err
		}
		p.failedN.Add(int64(len(msgs)))
	} else {
		for i := range msgs {
			p.acked.Add(msgs[i].WriterData.(generate.Meta))
		}
		p.ackedN.Add(int64(len(msgs)))
	}
	p.mu.Unlock()
	p.inFlight.Release(int64(len(msgs)))
}

// reportProgress calls Progress every interval until done closes.
func (p *Producer) reportProgress(done <-chan struct{}) {
	tick := time.NewTicker(p.cfg.ProgressInterval)
	defer tick.Stop()
	last, lastAt := int64(0), time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			acked := p.ackedN.Load()
			p.cfg.Progress(Status{
				Produced: p.produced.Load(), Acknowledged: acked, Failed: p.failedN.Load(),
				PerSecond: float64(acked-last) / now.Sub(lastAt).Seconds(),
			})
			last, lastAt = acked, now
		}
	}
}

// topicList names the topics for logs and errors, in channel order.
func (p *Producer) topicList() string {
	names := make([]string, 0, len(p.cfg.Topics))
	for _, ch := range sortedChannels(p.cfg.Topics) {
		names = append(names, p.cfg.Topics[ch])
	}
	return strings.Join(names, ", ")
}

func sortedChannels(m map[order.Channel]string) []order.Channel {
	chs := make([]order.Channel, 0, len(m))
	for ch := range m {
		chs = append(chs, ch)
	}
	slices.Sort(chs)
	return chs
}
