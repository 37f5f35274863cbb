package consume

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestLastPerPartitionKeepsTheHighestOffsetOfEach(t *testing.T) {
	batch := []kafka.Message{
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
	c.rebalances = func() int64 { return pending.Swap(0) }
	fetched := func(gen int64) []kafka.Message {
		b := []kafka.Message{{Topic: "t", Partition: 0, Offset: 5}}
		c.mu.Lock()
		c.fetchedIn[&b[0]] = gen
		c.mu.Unlock()
		return b
	}
	commit := func(b []kafka.Message) error {
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
	if err := commit(fetched(c.currentGeneration())); err == nil {
		t.Error("a batch of the current generation was not committed (no broker, so the attempt must fail)")
	}
	if len(c.fetchedIn) != 0 {
		t.Errorf("%d batches still tracked after their commits", len(c.fetchedIn))
	}
}
