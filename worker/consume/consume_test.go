package consume

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

func TestLastPerPartitionKeepsTheHighestOffsetOfEach(t *testing.T) {
	batch := []stream.Message{
		{Topic: "orders.amazon", Partition: 0, Offset: 7},
		{Topic: "orders.ebay", Partition: 0, Offset: 3},
		{Topic: "orders.amazon", Partition: 1, Offset: 40},
		{Topic: "orders.amazon", Partition: 0, Offset: 9},
		// After a rebalance the same partition can come round again from an
		// earlier offset: the commit must still cover the highest.
		{Topic: "orders.amazon", Partition: 0, Offset: 8},
		{Topic: "orders.ebay", Partition: 0, Offset: 4},
	}
	got := map[string]int64{}
	for _, m := range lastPerPartition(batch) {
		key := m.Topic + "/" + string(rune('0'+m.Partition))
		if _, dup := got[key]; dup {
			t.Errorf("%s committed twice", key)
		}
		got[key] = m.Offset
	}
	want := map[string]int64{"orders.amazon/0": 9, "orders.amazon/1": 40, "orders.ebay/0": 4}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: commit at offset %d, want %d", k, got[k], v)
		}
	}
}

// A batch fetched before the group's latest rebalance, or across one, is not
// committed; one fetched in the current generation is. No broker is needed:
// the skipped commits never reach one, and the attempted commit fails for
// want of one, which is how the test sees it was attempted.
func TestABatchFetchedBeforeARebalanceIsNotCommitted(t *testing.T) {
	c, err := New(Config{Brokers: []string{"127.0.0.1:1"}, GroupID: "g", Topics: []string{"t"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pending atomic.Int64
	c.readerStats = func() (int64, int64) { return pending.Swap(0), 0 }
	fetched := func(gen int64) stream.Batch {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lastID++
		c.fetchedIn[c.lastID] = gen
		return stream.Batch{ID: c.lastID, Messages: []stream.Message{{Topic: "t", Partition: 0, Offset: 5}}}
	}
	commit := func(b stream.Batch) error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		return c.Commit(ctx, b)
	}

	before := fetched(c.currentGeneration())
	across := fetched(-1)
	pending.Add(1) // the group rebalances
	if err := commit(before); err != nil {
		t.Errorf("a batch from before the rebalance: Commit = %v, want nil without committing", err)
	}
	if err := commit(across); err != nil {
		t.Errorf("a batch fetched across a rebalance: Commit = %v, want nil without committing", err)
	}
	current := fetched(c.currentGeneration())
	if err := commit(current); err == nil {
		t.Error("a batch of the current generation was not committed (no broker, so the attempt must fail)")
	}
	// The pipeline retries the failed commit; the group rebalances meanwhile:
	// the retry must not commit what may now be another member's.
	pending.Add(1)
	if err := commit(current); err != nil {
		t.Errorf("the retried commit of a batch from before a rebalance: Commit = %v, want nil without committing", err)
	}
	if len(c.fetchedIn) != 0 {
		t.Errorf("%d batches still tracked after their commits", len(c.fetchedIn))
	}
}

// On the real Kafka: batches carry the messages as they were produced
// (key, value, headers, timestamp, position), each batch has an ID of its own
// although the same consumer made them all, and Commit by that ID commits past
// the batch.
func TestFetchHandsOutIdentifiedBatchesAndCommitsThem(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group := stacktest.UniqueName("test.consume"), stacktest.UniqueName("test-consume")
	stacktest.CreateTopic(t, brokers, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stamp := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	var produced []kafka.Message
	for i := range 4 {
		produced = append(produced, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i), Time: stamp,
			Headers: []kafka.Header{{Key: "traceparent", Value: fmt.Appendf(nil, "h%d", i)}}})
	}
	if err := w.WriteMessages(ctx, produced...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	c, err := New(Config{Brokers: brokers, GroupID: group, Topics: []string{topic}, BatchMaxMessages: 2,
		SessionTimeout: 6 * time.Second, HeartbeatInterval: 200 * time.Millisecond, BatchMaxWait: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []stream.Message
	ids := map[uint64]bool{}
	for len(got) < len(produced) {
		b, err := c.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if b.ID == 0 || ids[b.ID] {
			t.Fatalf("batch ID %d: want a new non-zero ID per batch (seen %v)", b.ID, ids)
		}
		ids[b.ID] = true
		got = append(got, b.Messages...)
		if err := c.Commit(ctx, b); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	for i, m := range got {
		want := produced[i]
		if m.Topic != topic || m.Partition != 0 || m.Offset != int64(i) || string(m.Key) != string(want.Key) ||
			string(m.Value) != string(want.Value) || !m.Time.Equal(stamp) ||
			len(m.Headers) != 1 || m.Headers[0].Key != "traceparent" || string(m.Headers[0].Value) != string(want.Headers[0].Value) {
			t.Errorf("message %d = %+v, want %+v at offset %d", i, m, want, i)
		}
	}
	if committed := stacktest.CommittedOffsets(t, brokers, group, topic, 1); committed[0] != int64(len(produced)) {
		t.Errorf("committed offset %d, want %d", committed[0], len(produced))
	}
}

// On the real Kafka: a backlog comes in full batches (with StartSmall, after
// the first few, growing from a sixteenth), the batch that catches
// up with the partitions' ends is handed out at once rather than after
// BatchMaxWait (an hour here: a Fetch that waited for it would end only with
// the test's context), and so is a message produced after that.
func TestABacklogComesInFullBatchesAndTheBatchThatCatchesUpAtOnce(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group := stacktest.UniqueName("test.consume.caughtup"), stacktest.UniqueName("test-consume-caughtup")
	// One partition: its messages all carry the high watermark of their fetch,
	// so only the last is at the end whatever the load. (With several, a
	// partition that is at its end while another's first fetch is still on
	// its way can end a batch early: a smaller batch, nothing lost; the
	// tracker's arithmetic across partitions is TestEndTracker's.)
	const partitions, total, batchMax = 1, 5000, 2000
	stacktest.CreateTopic(t, brokers, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchSize: 1000, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll, Balancer: &kafka.RoundRobin{}}
	defer w.Close()
	msgs := make([]kafka.Message, total)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	c := newTestConsumer(t, Config{Brokers: brokers, GroupID: group, Topics: []string{topic}, BatchMaxMessages: batchMax,
		BatchMaxWait: time.Hour, StartSmall: true})
	var sizes []int
	next := map[int]int64{}
	read := 0
	fetch := func() {
		t.Helper()
		b, err := c.Fetch(ctx)
		if err != nil || ctx.Err() != nil {
			t.Fatalf("batches %v, then Fetch = %v (context %v): the last one waited for BatchMaxWait instead of handing out what had come", sizes, err, ctx.Err())
		}
		for _, m := range b.Messages {
			if m.Offset != next[m.Partition] {
				t.Fatalf("partition %d: offset %d, want %d: a message lost or repeated", m.Partition, m.Offset, next[m.Partition])
			}
			next[m.Partition]++
		}
		read += len(b.Messages)
		sizes = append(sizes, len(b.Messages))
	}
	for read < total {
		fetch()
	}
	// With StartSmall, batches grow from a sixteenth of the most, doubling:
	// the backlog's first batch is small, and later ones are full.
	limit, full := batchMax/16, 0
	for i, n := range sizes {
		if n > limit {
			t.Errorf("batch %d of %v: %d messages, above its limit %d (a sixteenth of %d, doubling)", i, sizes, n, limit, batchMax)
		}
		if n == batchMax {
			full++
		}
		limit = min(batchMax, 2*limit)
	}
	if sizes[0] != batchMax/16 {
		t.Errorf("batches %v: the backlog's first batch holds %d messages, want %d", sizes, sizes[0], batchMax/16)
	}
	if full == 0 {
		t.Errorf("batches %v: the backlog came in no full batch", sizes)
	}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("live")}); err != nil {
		t.Fatal(err)
	}
	fetch()
	if last := sizes[len(sizes)-1]; last != 1 {
		t.Errorf("after the backlog, one message produced: a batch of %d, want 1", last)
	}
}

// A partition whose end its messages cannot show (a transaction's marker
// takes its last offset; here the reader's queue is made to look never
// empty) is handed out after BatchIdle without a message, not BatchMaxWait.
func TestBatchIdleHandsOutABatchWhoseEndCannotBeSeen(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group := stacktest.UniqueName("test.consume.idle"), stacktest.UniqueName("test-consume-idle")
	stacktest.CreateTopic(t, brokers, topic, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	c := newTestConsumer(t, Config{Brokers: brokers, GroupID: group, Topics: []string{topic}, BatchMaxMessages: 100,
		BatchMaxWait: time.Hour, BatchIdle: 200 * time.Millisecond})
	real := c.readerStats
	c.readerStats = func() (int64, int64) {
		rebalances, _ := real()
		return rebalances, 1
	}
	b, err := c.Fetch(ctx)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Fetch = %v (context %v): the batch waited for BatchMaxWait", err, ctx.Err())
	}
	if len(b.Messages) != 2 {
		t.Errorf("a batch of %d messages, want both", len(b.Messages))
	}
}

func newTestConsumer(t *testing.T, cfg Config) *Consumer {
	t.Helper()
	cfg.SessionTimeout, cfg.HeartbeatInterval = 6*time.Second, 200*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The tracker says the member is at its end only when the last message seen
// of every partition was its partition's last when fetched; a partition that
// has a message missing keeps it behind; a reset forgets them all.
func TestEndTrackerNeedsEveryPartitionAtItsEnd(t *testing.T) {
	e := endTracker{behind: map[topicPartition]int64{}}
	msg := func(topic string, partition int, offset, hwm int64) *kafka.Message {
		return &kafka.Message{Topic: topic, Partition: partition, Offset: offset, HighWaterMark: hwm}
	}
	steps := []struct {
		m    *kafka.Message
		want bool
	}{
		{msg("a", 0, 0, 3), false}, // two more to come on a/0
		{msg("b", 0, 7, 8), false}, // b/0 at its end, a/0 still behind
		{msg("a", 0, 2, 3), true},  // a/0 at its end too
		{msg("a", 1, 4, 9), false}, // a/1: a new partition, behind
		{msg("a", 1, 8, 9), true},
		{msg("b", 0, 8, 10), false}, // more came on b/0
		{msg("b", 0, 9, 10), true},
		{msg("a", 0, 3, 0), false}, // no high watermark: its end is unknown
		{msg("a", 0, 4, 5), true},
	}
	for i, s := range steps {
		if got := e.observe(s.m); got != s.want {
			t.Fatalf("step %d (%s/%d offset %d of %d): at the end = %v, want %v", i, s.m.Topic, s.m.Partition, s.m.Offset, s.m.HighWaterMark, got, s.want)
		}
	}
	e.observe(msg("a", 0, 5, 9))
	e.reset(1)
	if !e.observe(msg("b", 0, 10, 11)) {
		t.Error("after a reset, a partition behind before is still counted")
	}
}
