package kafkaclient_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestSyncWriterKeepsAKeyOnOnePartition writes messages of three keys to a
// topic of several partitions in one call, more per key than one request
// carries, and reads them back: each key's messages are on one partition, in
// the order written, and all of them are there as soon as WriteMessages
// returns.
func TestSyncWriterKeepsAKeyOnOnePartition(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic := stacktest.UniqueName("syncwriter")
	stacktest.CreateTopic(t, brokers, topic, 4)
	w := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: brokers, Topic: topic})
	defer w.Close()
	var msgs []kafka.Message
	for i := range 3*kafkaclient.WriterBatchSize + 30 {
		msgs = append(msgs, kafka.Message{Key: []byte{byte('a' + i%3)}, Value: binary.BigEndian.AppendUint32(nil, uint32(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	got := stacktest.ReadAll(t, brokers, topic, 4)
	partitionOf := map[string]int{}
	last := map[string]int{}
	for _, m := range got {
		key, v := string(m.Key), int(binary.BigEndian.Uint32(m.Value))
		if p, seen := partitionOf[key]; seen && p != m.Partition {
			t.Errorf("key %s on partitions %d and %d", key, p, m.Partition)
		} else if seen && v <= last[key] {
			t.Errorf("key %s: message %d after %d", key, v, last[key])
		}
		partitionOf[key], last[key] = m.Partition, v
	}
	if len(got) != len(msgs) {
		t.Errorf("read %d messages back, wrote %d", len(got), len(msgs))
	}
}

// BenchmarkSyncWriterSmallCall writes 10 messages a call, as the dead-letter
// publisher does for a batch: the bytes allocated per call are what kafka-go
// preallocates per partition for BatchSize messages.
func BenchmarkSyncWriterSmallCall(b *testing.B) {
	brokers := stacktest.KafkaBrokers(b)
	topic := stacktest.UniqueName("syncwriter-bench")
	stacktest.CreateTopic(b, brokers, topic, 6)
	w := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: brokers, Topic: topic})
	defer w.Close()
	msgs := make([]kafka.Message, 10)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte{byte(i)}, Value: make([]byte, 300)}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
}
