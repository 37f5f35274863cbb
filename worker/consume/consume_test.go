package consume

import (
	"testing"

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
