// Package consume reads the order topics as one Kafka consumer group and hands them
// out in batches (stream.Batch) bounded by count and time. It never commits by
// itself: Commit is called by the pipeline once every write for a batch has
// succeeded.
//
// It classifies Kafka's errors for the pipeline (worker/kafkafailure): a
// broker that refuses the worker's credentials or its access to a topic or
// group stops the worker; anything else is transient, and the pipeline
// retries. kafka-go retries below that on its own: the group is rejoined and
// each partition's reader reconnects in the background (a member's lifecycle,
// not a retry of a stage). A commit is one request; the pipeline retries it.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/stream"
)

// Config configures a Consumer. Zero fields take the stated defaults.
type Config struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// GroupID is the consumer group. Required.
	GroupID string
	// Topics are read together in the one group. Required.
	Topics []string
	// Dialer carries client id, TLS and SASL. Default: kafka-go's default dialer.
	Dialer *kafka.Dialer
	// SessionTimeout and RebalanceTimeout: defaults 30s each.
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// HeartbeatInterval is how often the member heartbeats, and so how soon it
	// learns of a rebalance. Default 3s (a tenth of the default session timeout).
	HeartbeatInterval time.Duration
	// BatchMaxMessages caps a batch. Default 2000.
	BatchMaxMessages int
	// BatchMaxWait caps how long a batch keeps filling after its first message.
	// A batch is handed out before that as soon as the member has caught up
	// (see Fetch), so this bounds only a batch whose partitions' ends cannot be
	// seen. Default 250ms.
	BatchMaxWait time.Duration
	// BatchIdle hands a filling batch out once no message has come for this
	// long, for partitions whose end a member cannot see from its messages (a
	// transaction's marker takes the last offset). 0 waits the full
	// BatchMaxWait. Default 0.
	BatchIdle time.Duration
	// StartSmall makes the batches after a start grow to BatchMaxMessages
	// from a sixteenth of it, doubling: a backlog's first batch is then
	// committed within a moment of the start rather than after a full
	// batch's write (the worker's choice). Off, every batch may fill.
	StartSmall bool
	// Logger receives kafka-go's errors. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 30 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 30 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.BatchMaxMessages == 0 {
		c.BatchMaxMessages = 2000
	}
	if c.BatchMaxWait == 0 {
		c.BatchMaxWait = 250 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("consume: no brokers")
	case c.GroupID == "":
		return errors.New("consume: no group id")
	case len(c.Topics) == 0:
		return errors.New("consume: no topics")
	case c.BatchMaxMessages < 1:
		return errors.New("consume: batch size below 1")
	}
	return nil
}

// Consumer is a consumer-group member over the configured topics. Fetch is meant
// for one goroutine; Commit may run in another at the same time (the pipeline
// commits one batch while it fetches the next).
//
// It drives kafka-go's ConsumerGroup itself rather than a group Reader, so that
// every batch stays tied to the generation it was read in and is committed
// under that generation's ID and member ID: the coordinator refuses the commit
// once the group has moved on. A group Reader commits under whatever
// generation it is in when the commit reaches it, so a commit checked against
// one generation could land in the next, after the member had been dropped
// and had rejoined, and move another member's committed offsets backwards:
// at the end of a stream nothing committed them forward again, and the group
// looked stalled (the long session-timeout fault case found it).
type Consumer struct {
	group    *kafka.ConsumerGroup
	readers  readerConfig
	maxBatch int
	// limit caps the next batch: with StartSmall it starts at a sixteenth
	// of maxBatch and doubles with every batch handed out.
	limit   int
	maxWait time.Duration
	idle    time.Duration
	log     *slog.Logger

	// msgs carries the partitions' messages, each with its generation; errs
	// the group's and the partitions' errors, the latest kept.
	msgs chan fetched
	errs chan error
	// stop ends the group loop (run); done is closed when it has ended.
	stop context.CancelFunc
	done chan struct{}

	mu sync.Mutex
	// lastID is the ID of the last batch handed out.
	lastID uint64
	// fetchedIn maps each batch's ID to the generation it was read in.
	fetchedIn map[uint64]*generation

	// Owned by Fetch's goroutine: a message of a newer generation than the
	// batch being filled, kept for the next batch; and how far behind its
	// partition's end each partition's last message was when fetched, as of
	// a generation.
	held *fetched
	ends endTracker
	// refused is a refusal (failure.Worker) that a read met while a batch
	// filled: the batch is handed out, and the next Fetch returns it.
	refused error
	// queued is how many fetched messages wait to be handed out. A test
	// replaces it.
	queued func() int
}

// generation is one generation of the group as this member saw it.
type generation struct {
	seq int64 // 1 for the first generation joined, and so on
	// commit commits offsets under the generation's ID and member ID
	// (kafka.Generation.CommitOffsets). A test replaces it.
	commit func(map[string]map[int]int64) error
	// over is closed when the generation has ended for this member.
	over chan struct{}
}

func (g *generation) ended() bool {
	select {
	case <-g.over:
		return true
	default:
		return false
	}
}

// fetched is a message and the generation it was read in.
type fetched struct {
	msg kafka.Message
	gen *generation
}

// readerConfig is what each partition's reader is made with.
type readerConfig struct {
	brokers []string
	dialer  *kafka.Dialer
	logger  kafka.Logger
}

// endTracker knows, from the high watermarks the messages carry, whether the
// last message handed over from every partition read so far was its
// partition's last when it was fetched.
type endTracker struct {
	generation int64
	behind     map[topicPartition]int64
	lagging    int // partitions whose behind is above 0
}

// observe records m as its partition's latest message and says whether every
// partition is now at its end.
func (e *endTracker) observe(m *kafka.Message) bool {
	key := topicPartition{m.Topic, m.Partition}
	// HighWaterMark is the offset the next message will take; 0 when the
	// broker sent none (then the partition's end is unknown: not at it).
	behind := int64(1)
	if m.HighWaterMark > 0 {
		behind = m.HighWaterMark - m.Offset - 1
	}
	before, seen := e.behind[key]
	e.behind[key] = behind
	switch {
	case behind > 0 && (!seen || before <= 0):
		e.lagging++
	case behind <= 0 && seen && before > 0:
		e.lagging--
	}
	return e.lagging == 0
}

// reset forgets every partition: after a rebalance, some may be another
// member's, and would hold the tracker behind for good.
func (e *endTracker) reset(generation int64) {
	clear(e.behind)
	e.lagging = 0
	e.generation = generation
}

// New starts joining the group: the first Fetch waits for the first
// generation's messages.
func New(cfg Config) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "kafka-reader")
	errorLogger := kafka.LoggerFunc(func(msg string, args ...any) {
		// Info: kafka-go retries these itself (joining the group, a broker
		// that moved), and what it cannot get past reaches Fetch as an
		// error, which the pipeline retries and logs.
		logger.Info("kafka reader", "detail", fmt.Sprintf(msg, args...))
	})
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                cfg.GroupID,
		Brokers:           cfg.Brokers,
		Dialer:            cfg.Dialer,
		Topics:            cfg.Topics,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		// A failed join (the group's coordinator not elected yet, as on a
		// fresh broker, or moving) is retried after this, not kafka-go's 5s:
		// the Java consumer retries within 100ms to 1s. It bounds how late the
		// first batch comes after a start.
		JoinGroupBackoff: 500 * time.Millisecond,
		// A new group starts at the beginning: an order must never be skipped.
		StartOffset:           kafka.FirstOffset,
		WatchPartitionChanges: true,
		ErrorLogger:           errorLogger,
	})
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	c := newConsumer(cfg, readerConfig{brokers: cfg.Brokers, dialer: cfg.Dialer, logger: errorLogger})
	c.group = group
	ctx, stop := context.WithCancel(context.Background())
	c.stop = stop
	go c.run(ctx)
	return c, nil
}

// newConsumer is a Consumer not yet in a group: New starts it.
func newConsumer(cfg Config, readers readerConfig) *Consumer {
	limit := cfg.BatchMaxMessages
	if cfg.StartSmall {
		limit = max(1, limit/16)
	}
	c := &Consumer{readers: readers,
		maxBatch: cfg.BatchMaxMessages, limit: limit, maxWait: cfg.BatchMaxWait, idle: cfg.BatchIdle,
		log: cfg.Logger.With("component", "consume"),
		// Room for a whole batch to be queued while the previous one is written.
		msgs: make(chan fetched, cfg.BatchMaxMessages), errs: make(chan error, 1),
		done: make(chan struct{}), fetchedIn: map[uint64]*generation{}, ends: endTracker{behind: map[topicPartition]int64{}}}
	c.queued = func() int { return len(c.msgs) }
	return c
}

// run takes the group's generations one after the other until ctx ends or the
// group is closed: for each, a reader per assigned partition from its
// committed offset, all stopped when the generation ends. kafka-go joins the
// next generation once every one of them has returned (a reader started on a
// generation that had already ended returns at once: kafka-go runs it
// without waiting for it).
func (c *Consumer) run(ctx context.Context) {
	defer close(c.done)
	var joined int64 // the generations joined so far
	for {
		gen, err := c.group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return
			}
			c.report(fmt.Errorf("join group: %w", err))
			continue // kafka-go backs off before its next attempt
		}
		// An error reported before this join (a failed attempt, a reader
		// of the generation before) is over: the next Fetch must not
		// return it.
		select {
		case <-c.errs:
		default:
		}
		joined++
		g := &generation{seq: joined, commit: gen.CommitOffsets, over: make(chan struct{})}
		// kafka-go ends a generation when any of its goroutines returns: the
		// readers return only once it has ended.
		gen.Start(func(ctx context.Context) {
			<-ctx.Done()
			close(g.over)
		})
		for topic, assigned := range gen.Assignments {
			for _, a := range assigned {
				gen.Start(func(ctx context.Context) { c.readPartition(ctx, g, topic, a.ID, a.Offset) })
			}
		}
	}
}

// readPartition reads one partition from offset for generation g until g
// ends, handing its messages to Fetch.
func (c *Consumer) readPartition(ctx context.Context, g *generation, topic string, partition int, offset int64) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: c.readers.brokers, Dialer: c.readers.dialer, Topic: topic, Partition: partition,
		// Fetch in large chunks: up to 10 MB per fetch. The broker answers
		// as soon as it has a byte (MinBytes), so MaxWait only bounds how
		// long an idle partition's fetch waits: 500ms, the Java consumer's
		// fetch.max.wait.ms. kafka-go asks the broker for a quarter less
		// than it waits itself; at 100ms the 25ms margin was overrun on a
		// busy machine and every overrun cost a reconnection.
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond,
		// Little queued here: Fetch's queue (msgs) holds a batch's worth, and
		// what waits here is out of sight of its caught-up test.
		QueueCapacity: 64,
		// No lag polling: it would open a connection of its own per
		// partition per generation (worker/kafkalag reports the lag).
		ReadLagInterval: -1,
		ErrorLogger:     c.readers.logger,
	})
	defer r.Close()
	if ctx.Err() != nil {
		return // the generation ended before this reader started
	}
	if err := r.SetOffset(offset); err != nil {
		// Returning ends the generation: the member rejoins.
		c.report(fmt.Errorf("read %s/%d from offset %d: %w", topic, partition, offset, err))
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The reader goes on retrying by itself; the caller hears of it.
			// The pause keeps an error that comes back at once from
			// spinning.
			c.report(fmt.Errorf("read %s/%d: %w", topic, partition, err))
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			continue
		}
		select {
		case c.msgs <- fetched{msg: m, gen: g}:
		case <-ctx.Done():
			return
		}
	}
}

// report hands err to Fetch, replacing an older error not yet taken.
func (c *Consumer) report(err error) {
	for {
		select {
		case c.errs <- err:
			return
		default:
		}
		select {
		case <-c.errs:
		default:
		}
	}
}

// Fetch waits for the next message, then gathers more until the batch holds
// BatchMaxMessages, or the member has caught up, or BatchMaxWait has passed
// since the first, or (with BatchIdle) no message has come for BatchIdle.
// Messages of one partition keep their order, and a batch holds messages of
// one generation of the group only.
//
// Caught up means nothing more can be had without waiting for producers:
// every partition read in this generation so far had its last message the
// last one it held when the broker sent it (its high watermark says so), and no fetched message waits
// in the consumer's queue. So under a backlog batches fill to
// BatchMaxMessages, while on a live stream a batch is what came since the
// last one, handed out at once: its latency is the pipeline's own, not
// BatchMaxWait. (The pipeline's back-pressure groups a live stream: while a
// batch is written, the next ones queue up here.)
//
// With StartSmall, batches grow to BatchMaxMessages from a sixteenth of it
// after a start, doubling: the few smaller batches cost a handful of inserts.
//
// It returns ctx's error when ctx ends before the first message; a partly
// filled batch is returned as it is, also when a read fails while it fills
// (the readers' positions have moved past what the batch holds: dropping them
// would let a later commit skip them). Errors are classified (kafkafailure).
func (c *Consumer) Fetch(ctx context.Context) (stream.Batch, error) {
	if err := c.refused; err != nil {
		c.refused = nil
		return stream.Batch{}, err
	}
	first, err := c.next(ctx)
	if err != nil {
		return stream.Batch{}, kafkafailure.Classify(fmt.Errorf("fetch: %w", err))
	}
	g := first.gen
	if g.seq != c.ends.generation {
		c.ends.reset(g.seq)
	}
	limit := c.limit
	c.limit = min(c.maxBatch, 2*c.limit)
	msgs := make([]stream.Message, 1, min(limit, 256))
	msgs[0] = FromKafka(first.msg)
	if c.ends.observe(&first.msg) && c.queued() == 0 {
		return c.handOut(msgs, g), nil
	}
	fillCtx, cancel := context.WithTimeout(ctx, c.maxWait)
	defer cancel()
	var idle *time.Timer
	if c.idle > 0 {
		// One timer per batch, pushed back at every message (no allocation
		// per message): when it fires, the batch is handed out.
		fillCtx, cancel = context.WithCancel(fillCtx)
		defer cancel()
		idle = time.AfterFunc(c.idle, cancel)
		defer idle.Stop()
	}
	for len(msgs) < limit {
		m, err := c.next(fillCtx)
		if err != nil {
			if fillCtx.Err() == nil {
				c.log.Info("fetch failed while a batch filled; handing out what it holds",
					"messages", len(msgs), "err", err)
				if err := kafkafailure.Classify(fmt.Errorf("fetch: %w", err)); failure.Of(err) == failure.Worker {
					c.refused = err // the broker refuses this worker: the next Fetch says so
				}
			}
			break // the batch's time is up (or ctx ended, or a read failed): hand out what we have
		}
		if m.gen.seq < g.seq {
			continue // an older generation's, ended since it was sent: its partitions' owners read it again
		}
		if m.gen != g {
			// A newer generation's: a batch is committed under one
			// generation, so this one starts the next batch.
			c.held = &m
			break
		}
		msgs = append(msgs, FromKafka(m.msg))
		if idle != nil {
			idle.Reset(c.idle)
		}
		// The queue is looked at only when the high watermarks say the
		// member is at the end: at most once per fetch response.
		if c.ends.observe(&m.msg) && c.queued() == 0 {
			break
		}
	}
	return c.handOut(msgs, g), nil
}

// next returns the next message of a generation still running, or the latest
// error reported. Messages of a generation that has ended are dropped: their
// partitions' owners read them again from the last commit.
func (c *Consumer) next(ctx context.Context) (fetched, error) {
	if m := c.held; m != nil {
		c.held = nil
		if !m.gen.ended() {
			return *m, nil
		}
	}
	for {
		select {
		case m := <-c.msgs:
			if m.gen.ended() {
				continue
			}
			return m, nil
		case err := <-c.errs:
			return fetched{}, err
		case <-ctx.Done():
			return fetched{}, ctx.Err()
		case <-c.done:
			return fetched{}, errClosed
		}
	}
}

// errClosed is what Fetch returns once the consumer is closed.
var errClosed = errors.New("the consumer is closed")

// handOut identifies a batch and records the generation it was read in.
func (c *Consumer) handOut(msgs []stream.Message, g *generation) stream.Batch {
	c.mu.Lock()
	c.lastID++
	id := c.lastID
	c.fetchedIn[id] = g
	c.mu.Unlock()
	return stream.Batch{ID: id, Messages: msgs}
}

// FromKafka is the pipeline's copy of a kafka-go message: the slices are
// shared, the headers converted. The dispatcher's replay reads with it too.
func FromKafka(m kafka.Message) stream.Message {
	out := stream.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}
	if len(m.Headers) > 0 {
		out.Headers = make([]stream.Header, len(m.Headers))
		for i, h := range m.Headers {
			out.Headers[i] = stream.Header{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// Commit commits the batch's offsets: for each partition, past the last
// message of the batch. Call it only after every write for the batch has
// succeeded.
//
// It commits under the generation the batch was read in. Once that generation
// has ended, the batch is not committed: its partitions may have moved to
// another member, which reads them again from the last commit, and a late
// commit from here could move that member's committed offsets backwards.
// Skipping it costs only a re-read (writes are idempotent). A commit refused
// because the group moved on while it was sent fails, and so do the
// pipeline's retries until the member's heartbeat learns of the rebalance
// (within kafka.heartbeat_interval) and the generation ends; then the batch is
// dropped.
func (c *Consumer) Commit(ctx context.Context, batch stream.Batch) error {
	if len(batch.Messages) == 0 {
		return nil
	}
	c.mu.Lock()
	g, known := c.fetchedIn[batch.ID]
	c.mu.Unlock()
	if !known {
		// A caller's mistake, which no retry mends.
		return failure.Stop(fmt.Errorf("commit offsets: batch %d was not fetched by this consumer, or is committed already", batch.ID))
	}
	if g.ended() {
		c.forget(batch.ID)
		c.log.Info("the group rebalanced since this batch was fetched: not committing it; its partitions' owners read it again",
			"batch", batch.ID, "messages", len(batch.Messages))
		return nil
	}
	// kafka-go's commit takes no context: it is bounded by the group's
	// request timeout. A caller's ended context is still honoured here.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	if err := g.commit(nextOffsets(batch.Messages)); err != nil {
		// Still known: the pipeline's retry looks at the generation again.
		return kafkafailure.Classify(fmt.Errorf("commit offsets: %w", err))
	}
	c.forget(batch.ID)
	return nil
}

func (c *Consumer) forget(id uint64) {
	c.mu.Lock()
	delete(c.fetchedIn, id)
	c.mu.Unlock()
}

type topicPartition struct {
	topic     string
	partition int
}

// nextOffsets is what a commit of batch records: for each topic partition,
// the offset after its highest in the batch, where its next reader starts.
func nextOffsets(batch []stream.Message) map[string]map[int]int64 {
	out := make(map[string]map[int]int64, 2)
	for _, m := range batch {
		byPartition := out[m.Topic]
		if byPartition == nil {
			byPartition = make(map[int]int64, 8)
			out[m.Topic] = byPartition
		}
		if next := m.Offset + 1; next > byPartition[m.Partition] {
			byPartition[m.Partition] = next
		}
	}
	return out
}

// Close leaves the group. Uncommitted messages are read again by whoever next
// owns their partitions.
func (c *Consumer) Close() error {
	c.stop()
	err := c.group.Close()
	<-c.done
	if err != nil {
		return fmt.Errorf("close consumer: %w", err)
	}
	return nil
}
