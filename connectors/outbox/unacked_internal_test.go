package outbox

import (
	"slices"
	"testing"
)

// TestRetrySkipsOnlyAnAcknowledgedPrefixOfEachOrder: a retry of a batch
// skips the jobs Kafka acknowledged in the failed attempt, unless an earlier
// job of the same order was not acknowledged (a partition's later request can
// succeed after an earlier one failed): sending the earlier job alone would
// put it after the later one on the topic, a cancel before its create.
func TestRetrySkipsOnlyAnAcknowledgedPrefixOfEachOrder(t *testing.T) {
	job := func(order, id string) Job {
		return Job{TenantID: "acme-uk", Channel: "ebay", ChannelOrderID: order, IdempotencyKey: id}
	}
	jobs := []Job{
		job("A", "a-create"), job("B", "b-create"), job("A", "a-cancel"),
		job("C", "c-create"), job("C", "c-cancel"), job("D", "d-create"),
	}
	s := &Sink{acked: map[string]bool{
		"a-create": true,                   // A: create acknowledged, cancel not: send the cancel
		"b-create": true,                   // B: acknowledged: skip
		"c-cancel": true,                   // C: cancel acknowledged, create not: send both, in order
		"d-create": false, "x-other": true, // D: not acknowledged: send
	}}
	got := s.unacked(jobs)
	if want := []int{2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if got := (&Sink{}).unacked(jobs); len(got) != len(jobs) {
		t.Errorf("a first attempt sends %d of %d jobs", len(got), len(jobs))
	}
}
