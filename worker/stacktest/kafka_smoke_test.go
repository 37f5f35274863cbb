package stacktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestKafkaConsumerGroupCommitsOffsets proves the real broker with kafka-go: messages
// produced to a multi-partition topic are all read once by a consumer group, the
// group's committed offsets reach the end offsets, and a new member of the group
// resumes after them.
func TestKafkaConsumerGroupCommitsOffsets(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const partitions, messages = 3, 300
	topic := stacktest.UniqueName("smoke.orders")
	stacktest.CreateTopic(t, brokers, topic, partitions)

	writer := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer writer.Close()
	batch := make([]kafka.Message, messages)
	for i := range batch {
		batch[i] = kafka.Message{
			Key:   fmt.Appendf(nil, "tenant-%d/order-%d", i%7, i),
			Value: fmt.Appendf(nil, "order %d", i),
		}
	}
	if err := writer.WriteMessages(ctx, batch...); err != nil {
		t.Fatalf("produce: %v", err)
	}

	group := stacktest.UniqueName("smoke-group")
	seen := consume(ctx, t, brokers, group, topic, messages)
	for i := range messages {
		if n := seen[fmt.Sprintf("order %d", i)]; n != 1 {
			t.Errorf("order %d read %d times, want once", i, n)
		}
	}

	// The group's committed offsets must equal the partitions' end offsets.
	ends := stacktest.EndOffsets(t, brokers, topic, partitions)
	committed := stacktest.CommittedOffsets(t, brokers, group, topic, partitions)
	var total int64
	for p := range partitions {
		if committed[p] != ends[p] {
			t.Errorf("partition %d: committed offset %d, end offset %d", p, committed[p], ends[p])
		}
		total += ends[p]
	}
	if total != messages {
		t.Errorf("end offsets add up to %d, want %d", total, messages)
	}

	// A new member of the same group starts from the committed offsets: it sees only
	// what was produced after them.
	if err := writer.WriteMessages(ctx, kafka.Message{Key: []byte("tenant-0/late"), Value: []byte("late order")}); err != nil {
		t.Fatalf("produce late message: %v", err)
	}
	if got := consume(ctx, t, brokers, group, topic, 1); got["late order"] != 1 || len(got) != 1 {
		t.Errorf("after the commit the group read %v, want only the late order", got)
	}
}

// consume reads want messages in consumer group group, committing each batch after it
// is read, and returns how often each value was seen.
func consume(ctx context.Context, t *testing.T, brokers []string, group, topic string, want int) map[string]int {
	t.Helper()
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		Topic:       topic,
		StartOffset: kafka.FirstOffset,
		MaxWait:     100 * time.Millisecond,
	})
	defer reader.Close()
	seen := make(map[string]int, want)
	var pending []kafka.Message
	for read := 0; read < want; read++ {
		msg, err := reader.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch after %d of %d messages: %v", read, want, err)
		}
		seen[string(msg.Value)]++
		pending = append(pending, msg)
		if len(pending) == 50 || read == want-1 {
			if err := reader.CommitMessages(ctx, pending...); err != nil {
				t.Fatalf("commit: %v", err)
			}
			pending = pending[:0]
		}
	}
	return seen
}
