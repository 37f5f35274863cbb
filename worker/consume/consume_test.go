package consume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

func TestNextOffsetsArePastTheHighestOffsetOfEachPartition(t *testing.T) {
	batch := []stream.Message{
		{Topic: "orders.amazon", Partition: 0, Offset: 7},
		{Topic: "orders.ebay", Partition: 0, Offset: 3},
		{Topic: "orders.amazon", Partition: 1, Offset: 40},
		{Topic: "orders.amazon", Partition: 0, Offset: 9},
		// A partition can come round again from an earlier offset in one
		// batch: the commit must still cover the highest.
		{Topic: "orders.amazon", Partition: 0, Offset: 8},
		{Topic: "orders.ebay", Partition: 0, Offset: 4},
		{Topic: "orders.ebay", Partition: 2, Offset: 0},
	}
	got := nextOffsets(batch)
	want := map[string]map[int]int64{"orders.amazon": {0: 10, 1: 41}, "orders.ebay": {0: 5, 2: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("nextOffsets = %v, want %v", got, want)
	}
}

// A batch is committed under the generation it was read in, and not at all
// once that generation has ended: whatever the group has become since, the
// commit goes nowhere else. A commit refused while the generation still
// looked current fails, and its retry, once the generation has ended, commits
// nothing. No broker: each generation's commits are recorded.
func TestABatchIsCommittedOnlyInItsOwnGeneration(t *testing.T) {
	c := offline(Config{})
	var commits [3][]map[string]map[int]int64
	refuse := false
	gens := make([]*generation, 3)
	for i := range gens {
		gens[i] = &generation{seq: int64(i + 1), over: make(chan struct{}), commit: func(o map[string]map[int]int64) error {
			if refuse {
				return kafka.IllegalGeneration
			}
			commits[i] = append(commits[i], o)
			return nil
		}}
	}
	batch := func(g *generation, offset int64) stream.Batch {
		return c.handOut([]stream.Message{{Topic: "t", Partition: 0, Offset: offset}}, g)
	}
	ctx := context.Background()

	// Read in generation 1, which then ends (the member was dropped, or the
	// group rebalanced); generation 2 is current when it is committed.
	old := batch(gens[0], 5)
	close(gens[0].over)
	current := batch(gens[1], 9)
	if err := c.Commit(ctx, old); err != nil {
		t.Errorf("a batch of an ended generation: Commit = %v, want nil without committing", err)
	}
	if err := c.Commit(ctx, current); err != nil {
		t.Errorf("a batch of the current generation: Commit = %v", err)
	}
	if len(commits[0]) != 0 || len(commits[1]) != 1 || commits[1][0]["t"][0] != 10 {
		t.Errorf("commits by generation %v, want only generation 2's, at offset 10", commits)
	}

	// The coordinator refuses a commit (the group moved on before this member
	// heard): an error, for the pipeline to retry; by the retry the
	// generation has ended, and nothing is committed anywhere.
	late := batch(gens[1], 12)
	refuse = true
	if err := c.Commit(ctx, late); err == nil {
		t.Error("a refused commit: Commit = nil, want the refusal")
	}
	refuse = false
	close(gens[1].over)
	if err := c.Commit(ctx, late); err != nil {
		t.Errorf("the retry once the generation ended: Commit = %v, want nil without committing", err)
	}
	if len(commits[1]) != 1 || len(commits[2]) != 0 {
		t.Errorf("commits by generation %v after the refusal, want generation 2's first only", commits)
	}
	if err := c.Commit(ctx, late); failure.Of(err) != failure.Worker {
		t.Errorf("a batch committed (or dropped) already: Commit = %v, want an error that stops the worker", err)
	}
	if len(c.fetchedIn) != 0 {
		t.Errorf("%d batches still tracked after their commits", len(c.fetchedIn))
	}
}

// Fetch never mixes generations in a batch, and drops what an ended
// generation's readers had queued: their partitions' owners read it again.
func TestFetchKeepsABatchToOneGenerationAndDropsEndedOnes(t *testing.T) {
	c := offline(Config{BatchMaxMessages: 10, BatchMaxWait: 50 * time.Millisecond})
	g1 := &generation{seq: 1, over: make(chan struct{})}
	g2 := &generation{seq: 2, over: make(chan struct{})}
	msg := func(g *generation, offset int64) fetched {
		// Behind the partition's end: the batch keeps filling.
		return fetched{gen: g, msg: kafka.Message{Topic: "t", Partition: 0, Offset: offset, HighWaterMark: 100}}
	}
	for _, m := range []fetched{msg(g1, 0), msg(g1, 1), msg(g2, 0), msg(g2, 1), msg(g1, 2)} {
		c.msgs <- m
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	close(g1.over) // generation 2 has begun: 1 is over
	second, err := c.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offsets := func(b stream.Batch) (out []int64) {
		for _, m := range b.Messages {
			out = append(out, m.Offset)
		}
		return out
	}
	if fmt.Sprint(offsets(first)) != "[0 1]" || c.fetchedIn[first.ID] != g1 {
		t.Errorf("first batch %v of generation %v, want [0 1] of generation 1", offsets(first), c.fetchedIn[first.ID].seq)
	}
	if fmt.Sprint(offsets(second)) != "[0 1]" || c.fetchedIn[second.ID] != g2 {
		t.Errorf("second batch %v, want generation 2's [0 1] (generation 1's late message dropped)", offsets(second))
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
	c.queued = func() int { return 1 }
	b, err := c.Fetch(ctx)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Fetch = %v (context %v): the batch waited for BatchMaxWait", err, ctx.Err())
	}
	if len(b.Messages) != 2 {
		t.Errorf("a batch of %d messages, want both", len(b.Messages))
	}
}

// offline is a Consumer in no group, for tests that hand it generations and
// messages themselves.
func offline(cfg Config) *Consumer {
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.setDefaults()
	return newConsumer(cfg, readerConfig{})
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

// On the real Kafka: a member reads a batch, a second member joins and the
// group rebalances before the first commits it. The late commit records
// nothing (the partitions are read again by their new owners from where they
// were), and the two members then read and commit every message: committed
// offsets end at the partitions' ends, none moved backwards by the stale
// batch.
func TestABatchOfAGenerationThatEndedIsNotCommittedOnTheRealBroker(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group := stacktest.UniqueName("test.consume.stale"), stacktest.UniqueName("test-consume-stale")
	const partitions, total = 4, 400
	stacktest.CreateTopic(t, brokers, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll, Balancer: &kafka.RoundRobin{}}
	msgs := make([]kafka.Message, total)
	for i := range msgs {
		msgs[i] = kafka.Message{Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	cfg := Config{Brokers: brokers, GroupID: group, Topics: []string{topic}, BatchMaxMessages: 50, BatchMaxWait: 200 * time.Millisecond}
	first := newTestConsumer(t, cfg)
	stale, err := first.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.mu.Lock()
	gen := first.fetchedIn[stale.ID]
	first.mu.Unlock()

	second := newTestConsumer(t, cfg)
	seen := map[int]map[int64]bool{}
	var mu sync.Mutex
	drainCtx, stopDrain := context.WithCancel(ctx)
	defer stopDrain()
	drain := func(c *Consumer) error {
		for {
			b, err := c.Fetch(drainCtx)
			if err != nil {
				return err
			}
			mu.Lock()
			for _, m := range b.Messages {
				if seen[m.Partition] == nil {
					seen[m.Partition] = map[int64]bool{}
				}
				seen[m.Partition][m.Offset] = true
			}
			mu.Unlock()
			// As the pipeline does: a refused commit is retried, and
			// dropped once its generation has ended.
			for c.Commit(drainCtx, b) != nil {
				if drainCtx.Err() != nil {
					return drainCtx.Err()
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = drain(second) })
	select {
	case <-gen.over:
	case <-ctx.Done():
		t.Fatal("the first member's generation never ended after a second joined")
	}
	if err := first.Commit(ctx, stale); err != nil {
		t.Fatalf("the stale batch: Commit = %v, want nil without committing", err)
	}
	wg.Go(func() { _ = drain(first) })

	for {
		committed := stacktest.CommittedOffsets(t, brokers, group, topic, partitions)
		var sum int64
		for _, o := range committed {
			sum += max(o, 0)
		}
		if sum == total {
			break
		}
		if drainCtx.Err() != nil {
			t.Fatalf("committed %v (%d of %d)", committed, sum, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopDrain()
	_ = first.Close()
	_ = second.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, offsets := range seen {
		n += len(offsets)
	}
	if n != total {
		t.Errorf("%d distinct messages read by the members, want %d", n, total)
	}
}

// A Fetch waiting when the consumer is closed returns rather than waiting for
// its context (the group's readers are gone: nothing more will come).
func TestFetchEndsWhenTheConsumerIsClosed(t *testing.T) {
	c := offline(Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetched := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx)
		fetched <- err
	}()
	close(c.done) // as run does when the group is closed
	if err := <-fetched; !errors.Is(err, errClosed) || ctx.Err() != nil {
		t.Errorf("Fetch = %v (context %v), want errClosed at once", err, ctx.Err())
	}
}

// A broker that refuses the worker while a batch fills: the batch is handed
// out (its messages are read), and the next Fetch returns the refusal, which
// stops the worker, rather than waiting for kafka-go to report it again.
func TestARefusalMetWhileABatchFillsComesWithTheNextFetch(t *testing.T) {
	c := offline(Config{BatchMaxMessages: 10, BatchMaxWait: 5 * time.Second})
	g := &generation{seq: 1, over: make(chan struct{})}
	c.msgs <- fetched{gen: g, msg: kafka.Message{Topic: "t", Offset: 0, HighWaterMark: 100}}
	// Once the batch has its first message and waits for more.
	time.AfterFunc(100*time.Millisecond, func() { c.report(fmt.Errorf("read t/0: %w", kafka.TopicAuthorizationFailed)) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := c.Fetch(ctx)
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Fetch = %d messages, %v; want the message read before the refusal", len(b.Messages), err)
	}
	if _, err := c.Fetch(ctx); !errors.Is(err, kafka.TopicAuthorizationFailed) || failure.Of(err) != failure.Worker {
		t.Errorf("the next Fetch = %v, want the refusal, stopping the worker", err)
	}
}
