package stacktest_test

import (
	"context"
	"errors"
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
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	createTopic(ctx, t, client, topic, partitions)

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
	ends := endOffsets(ctx, t, client, topic, partitions)
	committed := committedOffsets(ctx, t, client, group, topic, partitions)
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

func createTopic(ctx context.Context, t *testing.T, client *kafka.Client, topic string, partitions int) {
	t.Helper()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: partitions, ReplicationFactor: 1,
	}}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
	// The controller creates partitions asynchronously; wait until each has a leader.
	for {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && leadersReady(meta.Topics[0].Partitions, partitions) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leaders: %v", topic, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func leadersReady(parts []kafka.Partition, want int) bool {
	if len(parts) != want {
		return false
	}
	for _, p := range parts {
		if p.Error != nil || p.Leader.Host == "" {
			return false
		}
	}
	return true
}

func endOffsets(ctx context.Context, t *testing.T, client *kafka.Client, topic string, partitions int) map[int]int64 {
	t.Helper()
	req := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		req[p] = kafka.LastOffsetOf(p)
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	ends := make(map[int]int64, partitions)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("list offsets of partition %d: %v", po.Partition, po.Error)
		}
		ends[po.Partition] = po.LastOffset
	}
	return ends
}

func committedOffsets(ctx context.Context, t *testing.T, client *kafka.Client, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	ids := make([]int, partitions)
	for p := range partitions {
		ids[p] = p
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch: %v", resp.Error)
	}
	committed := make(map[int]int64, partitions)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("committed offset of partition %d: %v", po.Partition, po.Error)
		}
		committed[po.Partition] = po.CommittedOffset
	}
	return committed
}
