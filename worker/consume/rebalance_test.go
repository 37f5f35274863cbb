package consume_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// A batch fetched before a rebalance is not committed: its partitions may
// belong to another member now, whose committed offsets a late commit would
// move backwards. On the real Kafka: the first member fetches everything, a
// second member joins, and the first member's commit of its old batch leaves
// the group's offsets where they were.
func TestABatchFetchedBeforeARebalanceIsNotCommitted(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	topic, group := stacktest.UniqueName("consume.rebalance"), stacktest.UniqueName("consume-group")
	stacktest.CreateTopic(t, brokers, topic, 2)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, BatchTimeout: time.Millisecond, Balancer: &kafka.RoundRobin{}}
	var msgs []kafka.Message
	for i := range 20 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newMember := func() *consume.Consumer {
		c, err := consume.New(consume.Config{Brokers: brokers, GroupID: group, Topics: []string{topic},
			SessionTimeout: 6 * time.Second, RebalanceTimeout: 5 * time.Second, HeartbeatInterval: 300 * time.Millisecond,
			BatchMaxMessages: 20, BatchMaxWait: 2 * time.Second, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	first := newMember()
	defer first.Close()
	old, err := first.Fetch(ctx)
	if err != nil || len(old) == 0 {
		t.Fatalf("first fetch: %d messages, %v", len(old), err)
	}

	// A second member joins; the first learns of the rebalance at its next
	// heartbeat and takes part in it while it keeps fetching.
	second := newMember()
	defer second.Close()
	go func() { _, _ = second.Fetch(ctx) }() // joins the group
	fresh := make(chan []kafka.Message, 1)
	go func() {
		b, _ := first.Fetch(ctx) // blocks until the new generation hands it messages
		fresh <- b
	}()
	select {
	case <-fresh:
	case <-ctx.Done():
		t.Fatal("the first member got nothing after the rebalance")
	}

	if err := first.Commit(ctx, old); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for p, off := range stacktest.CommittedOffsets(t, brokers, group, topic, 2) {
		if off > 0 {
			t.Errorf("partition %d committed at %d by a batch fetched before the rebalance", p, off)
		}
	}
}
