package stacktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/topics"
)

// CreateTopic creates topic with the given partitions and the configs of
// every orderflow topic (worker/topics: it holds personal data) on the
// stack's Kafka, waits until every partition has a leader, and deletes it when
// the test ends.
func CreateTopic(t testing.TB, brokers []string, topic string, partitions int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := KafkaClient(brokers)
	created, err := topics.Create(ctx, client, topics.PersonalData(topic, partitions))
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if len(created) != 1 {
		t.Fatalf("create topic %s: it exists already", topic)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}}); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	})
}

// KafkaClient returns a kafka-go admin client for brokers.
func KafkaClient(brokers []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
}

// EndOffsets returns each partition's end offset (the offset the next message gets).
func EndOffsets(t testing.TB, brokers []string, topic string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := make([]kafka.OffsetRequest, partitions)
	for p := range partitions {
		req[p] = kafka.LastOffsetOf(p)
	}
	// A topic created a moment ago may have no leader yet for some partition
	// (Not Leader For Partition, Leader Not Available): ask again a few times
	// before failing the test.
	ends := make(map[int]int64, partitions)
	for attempt := 0; ; attempt++ {
		resp, err := KafkaClient(brokers).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
		if err != nil {
			t.Fatalf("list offsets of %s: %v", topic, err)
		}
		var retry error
		for _, po := range resp.Topics[topic] {
			var ke kafka.Error
			switch {
			case po.Error == nil:
				ends[po.Partition] = po.LastOffset
			case errors.As(po.Error, &ke) && ke.Temporary() && attempt < 20:
				retry = fmt.Errorf("%s/%d: %w", topic, po.Partition, po.Error)
			default:
				t.Fatalf("list offsets of %s/%d: %v", topic, po.Partition, po.Error)
			}
		}
		if retry == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return ends
}

// CommittedOffsets returns group's committed offset for each partition of topic
// (-1 where nothing is committed).
func CommittedOffsets(t testing.TB, brokers []string, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := make([]int, partitions)
	for p := range partitions {
		ids[p] = p
	}
	// A connection the broker has just closed answers "unexpected EOF", and a
	// group that is still being set up has no coordinator yet: ask again a few
	// times before failing the test.
	var resp *kafka.OffsetFetchResponse
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		resp, err = KafkaClient(brokers).OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
		if err == nil && resp.Error != nil && isTemporaryGroupError(resp.Error) {
			err = resp.Error
		}
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("offset fetch for %s: %v", group, err)
	}
	if resp.Error != nil {
		t.Fatalf("offset fetch for %s: %v", group, resp.Error)
	}
	committed := make(map[int]int64, partitions)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("committed offset of %s/%d: %v", topic, po.Partition, po.Error)
		}
		committed[po.Partition] = po.CommittedOffset
	}
	return committed
}

// isTemporaryGroupError reports the errors a group's coordinator gives while it
// is moving or loading.
func isTemporaryGroupError(err error) bool {
	return errors.Is(err, kafka.NotCoordinatorForGroup) || errors.Is(err, kafka.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafka.GroupLoadInProgress)
}

// ReadAll reads every message of topic from the beginning to its current end
// offsets, partition by partition, without a consumer group.
func ReadAll(t testing.TB, brokers []string, topic string, partitions int) []kafka.Message {
	t.Helper()
	ends := EndOffsets(t, brokers, topic, partitions)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []kafka.Message
	for p := range partitions {
		if ends[p] == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				_ = r.Close()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= ends[p] {
				break
			}
		}
		_ = r.Close()
	}
	return out
}
