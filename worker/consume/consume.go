// Package consume reads the order topics as one Kafka consumer group and hands them
// out in batches (stream.Batch) bounded by count and time. It never commits by
// itself: Commit is called by the pipeline once every write for a batch has
// succeeded.
//
// It classifies Kafka's errors for the pipeline (worker/kafkafailure): a
// broker that refuses the worker's credentials or its access to a topic or
// group stops the worker; anything else is transient, and the pipeline
// retries. kafka-go retries below that on its own: the reader reconnects and
// rejoins the group in the background (a member's lifecycle, not a retry of a
// stage), and tries each commit up to 3 times (a constant of kafka-go's) before
// Commit returns the error.
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

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
// commits one batch while it fetches the next): kafka-go's Reader serialises
// commits through its own commit loop.
type Consumer struct {
	reader   *kafka.Reader
	maxBatch int
	// limit caps the next batch: with StartSmall it starts at a sixteenth
	// of maxBatch and doubles with every batch handed out.
	limit   int
	maxWait time.Duration
	idle    time.Duration
	log     *slog.Logger

	mu sync.Mutex
	// generation counts the group's rebalances so far (kafka-go's counter is
	// read-and-reset, so it is summed here).
	generation int64
	// lastID is the ID of the last batch handed out.
	lastID uint64
	// fetchedIn maps each batch's ID to the generation it was fetched in, or
	// -1 when a rebalance happened while it was fetched.
	fetchedIn map[uint64]int64
	// readerStats returns the rebalances since its last call (the reader's
	// counters are read-and-reset) and the messages waiting in the reader's
	// queue. A test replaces it.
	readerStats func() (rebalances, queued int64)

	// Owned by Fetch's goroutine: how far behind its partition's end each
	// partition's last message was when fetched, as of a generation.
	ends endTracker
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

// New joins nothing yet: the group is joined on the first Fetch.
func New(cfg Config) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "kafka-reader")
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.GroupID,
		GroupTopics:       cfg.Topics,
		Dialer:            cfg.Dialer,
		SessionTimeout:    cfg.SessionTimeout,
		RebalanceTimeout:  cfg.RebalanceTimeout,
		HeartbeatInterval: cfg.HeartbeatInterval,
		// A failed join (the group's coordinator not elected yet, as on a
		// fresh broker, or moving) is retried after this, not kafka-go's 5s:
		// the Java consumer retries within 100ms to 1s. It bounds how late the
		// first batch comes after a start.
		JoinGroupBackoff: 500 * time.Millisecond,
		// A new group starts at the beginning: an order must never be skipped.
		StartOffset: kafka.FirstOffset,
		// Commits are synchronous and only ever explicit (CommitInterval 0).
		CommitInterval: 0,
		// Fetch in large chunks: up to 10 MB per partition fetch, returning after
		// 100 ms when less is there.
		MinBytes: 1,
		MaxBytes: 10 << 20,
		MaxWait:  100 * time.Millisecond,
		// Room for a whole batch to be queued while the previous one is written.
		QueueCapacity:         cfg.BatchMaxMessages,
		WatchPartitionChanges: true,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			// Info: the reader retries these itself (joining the group, a
			// broker that moved), and what it cannot get past reaches Fetch
			// as an error, which the pipeline retries and logs.
			logger.Info("kafka reader", "detail", fmt.Sprintf(msg, args...))
		}),
	})
	limit := cfg.BatchMaxMessages
	if cfg.StartSmall {
		limit = max(1, limit/16)
	}
	return &Consumer{reader: reader, maxBatch: cfg.BatchMaxMessages, limit: limit,
		maxWait: cfg.BatchMaxWait, idle: cfg.BatchIdle,
		log: cfg.Logger.With("component", "consume"), fetchedIn: map[uint64]int64{},
		ends: endTracker{behind: map[topicPartition]int64{}},
		readerStats: func() (int64, int64) {
			s := reader.Stats()
			return s.Rebalances, s.QueueLength
		}}, nil
}

// Fetch waits for the next message, then gathers more until the batch holds
// BatchMaxMessages, or the member has caught up, or BatchMaxWait has passed
// since the first, or (with BatchIdle) no message has come for BatchIdle.
// Messages of one partition keep their order.
//
// Caught up means nothing more can be had without waiting for producers:
// every partition's last message was the last one its partition held when the
// broker sent it (its high watermark says so), and no fetched message waits
// in the reader's queue. So under a backlog batches fill to
// BatchMaxMessages, while on a live stream a batch is what came since the
// last one, handed out at once: its latency is the pipeline's own, not
// BatchMaxWait. (The pipeline's back-pressure groups a live stream: while a
// batch is written, the next ones queue up here.)
//
// With StartSmall, batches grow to BatchMaxMessages from a sixteenth of it
// after a start, doubling: the few smaller batches cost a handful of inserts.
//
// It returns ctx's error when ctx ends before the first message; a partly filled batch is returned as it is, also when the
// reader fails while it fills (its position has moved past what the batch
// holds: dropping them would let a later commit skip them). Errors are
// classified (kafkafailure).
func (c *Consumer) Fetch(ctx context.Context) (stream.Batch, error) {
	first, err := c.reader.FetchMessage(ctx)
	if err != nil {
		return stream.Batch{}, kafkafailure.Classify(fmt.Errorf("fetch: %w", err))
	}
	started := c.currentGeneration()
	if started != c.ends.generation {
		c.ends.reset(started)
	}
	limit := c.limit
	c.limit = min(c.maxBatch, 2*c.limit)
	msgs := make([]stream.Message, 1, min(limit, 256))
	msgs[0] = FromKafka(first)
	if c.ends.observe(&first) && c.queued() == 0 {
		return c.handOut(msgs, started), nil
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
		msg, err := c.reader.FetchMessage(fillCtx)
		if err != nil {
			if fillCtx.Err() == nil {
				c.log.Info("fetch failed while a batch filled; handing out what it holds",
					"messages", len(msgs), "err", err)
			}
			break // the batch's time is up (or ctx ended, or the reader failed): hand out what we have
		}
		msgs = append(msgs, FromKafka(msg))
		if idle != nil {
			idle.Reset(c.idle)
		}
		// The queue is looked at only when the high watermarks say the
		// member is at the end: at most once per fetch response.
		if c.ends.observe(&msg) && c.queued() == 0 {
			break
		}
	}
	return c.handOut(msgs, started), nil
}

// handOut identifies a batch and records the generation it was fetched in.
func (c *Consumer) handOut(msgs []stream.Message, started int64) stream.Batch {
	gen := c.currentGeneration()
	if gen != started {
		gen = -1 // fetched across a rebalance: some of it may belong to another member now
	}
	c.mu.Lock()
	c.lastID++
	id := c.lastID
	c.fetchedIn[id] = gen
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

// currentGeneration returns the number of rebalances the reader has been
// through.
func (c *Consumer) currentGeneration() int64 {
	generation, _ := c.readReader()
	return generation
}

// queued returns how many fetched messages wait in the reader's queue.
func (c *Consumer) queued() int64 {
	_, queued := c.readReader()
	return queued
}

// readReader reads the reader's counters once: the rebalances are added to
// the generation (they are read-and-reset, so never dropped).
func (c *Consumer) readReader() (generation, queued int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rebalances, queued := c.readerStats()
	c.generation += rebalances
	return c.generation, queued
}

// Commit commits the batch's offsets: for each partition, past the last message of
// the batch. Call it only after every write for the batch has succeeded.
//
// A batch fetched before the group's last rebalance is not committed: its
// partitions may have moved to another member, which reads them again from the
// last commit, and a late commit from here could move that member's committed
// offsets backwards. Skipping it costs only a re-read (writes are idempotent).
func (c *Consumer) Commit(ctx context.Context, batch stream.Batch) error {
	if len(batch.Messages) == 0 {
		return nil
	}
	c.mu.Lock()
	gen, known := c.fetchedIn[batch.ID]
	c.mu.Unlock()
	if known && gen != c.currentGeneration() {
		c.forget(batch.ID)
		c.log.Info("the group rebalanced since this batch was fetched: not committing it; its partitions' owners read it again",
			"batch", batch.ID, "messages", len(batch.Messages))
		return nil
	}
	if err := c.reader.CommitMessages(ctx, lastPerPartition(batch.Messages)...); err != nil {
		// Still known: the pipeline's retry of the commit checks the
		// generation again.
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

// lastPerPartition keeps the highest-offset message of each topic partition: a
// commit of it covers everything before it.
func lastPerPartition(batch []stream.Message) []kafka.Message {
	last := make(map[topicPartition]int, 16)
	out := make([]kafka.Message, 0, 16)
	for _, m := range batch {
		key := topicPartition{m.Topic, m.Partition}
		if i, ok := last[key]; ok {
			if m.Offset > out[i].Offset {
				out[i].Offset = m.Offset
			}
			continue
		}
		last[key] = len(out)
		out = append(out, kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset})
	}
	return out
}

// Close leaves the group. Uncommitted messages are read again by whoever next
// owns their partitions.
func (c *Consumer) Close() error {
	if err := c.reader.Close(); err != nil {
		return fmt.Errorf("close consumer: %w", err)
	}
	return nil
}
