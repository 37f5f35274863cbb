package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/topics"
)

// On the real Kafka: an input topic that exists with the wrong retention and
// no segment.ms (as every local stack's did before) is reported by --check,
// which exits 1 and changes nothing; a plain run creates the missing topics
// and fixes the configs; --check then finds nothing.
func TestTopicToolReportsAndFixesDrift(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	client := stacktest.KafkaClient(brokers)
	prefix := stacktest.UniqueName("tool") + "."
	n := topics.DefaultNames()
	all := slices.Concat(n.Orders, []string{n.DeadLetter, n.Courier, n.Accounting, n.Parked})
	for i := range all {
		all[i] = prefix + all[i]
	}
	t.Cleanup(func() { _, _ = client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: all}) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// As deploy/local/topics made it before: 21 days, no segment.ms.
	old := prefix + n.Orders[0]
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: old, NumPartitions: 6, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "1814400000"}},
	}}})
	if err != nil || resp.Errors[old] != nil {
		t.Fatalf("create: %v %v", err, resp.Errors[old])
	}

	tool := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-brokers", brokers[0], "-prefix", prefix}, args...), &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	code, out := tool("-check")
	if code != 1 {
		t.Fatalf("--check with drift: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"drift: " + old + ": retention.ms = 1814400000, want 1720800000",
		"drift: " + old + ": segment.ms = 604800000, want 86400000",
		"drift: " + prefix + n.Orders[1] + ": missing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--check output lacks %q:\n%s", want, out)
		}
	}
	if drifts, _ := topics.Check(ctx, client, topics.PersonalData(old, 6)); len(drifts) != 2 {
		t.Errorf("--check changed the topic: %v", drifts)
	}

	if code, out := tool(); code != 0 || !strings.Contains(out, fmt.Sprintf("%d created, 1 already present, 2 differences found", len(all)-1)) {
		t.Fatalf("fix: exit %d\n%s", code, out)
	}
	if code, out := tool("-check"); code != 0 || !strings.Contains(out, fmt.Sprintf("all %d as specified", len(all))) {
		t.Errorf("--check after the fix: exit %d\n%s", code, out)
	}
}
