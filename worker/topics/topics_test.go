package topics_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/topics"
)

// The promise's arithmetic: a message stays at most retention.ms, plus the
// age of a segment, plus how far in the future its timestamp may be, plus
// the broker's check; that adds up to the 21 days of P9, not more.
func TestConfigsKeepAMessageNoLongerThanThePromise(t *testing.T) {
	// From the configs a topic is given, not from the constants they are
	// made of: what the broker will do.
	c := topics.PersonalDataConfigs()
	var longest time.Duration
	for _, k := range []string{"retention.ms", "segment.ms", "message.timestamp.after.max.ms"} {
		v, err := strconv.ParseInt(c[k], 10, 64)
		if err != nil || v <= 0 {
			t.Fatalf("%s = %q is not a positive number of milliseconds", k, c[k])
		}
		longest += time.Duration(v) * time.Millisecond
	}
	// The broker checks retention every 5 minutes and deletes a segment's
	// file a minute later (its defaults); an hour covers both.
	if longest += time.Hour; longest > 21*24*time.Hour {
		t.Errorf("a message may stay %s, more than 21 days", longest)
	}
	if c["cleanup.policy"] != "delete" {
		t.Errorf("cleanup.policy = %q: a compacted topic keeps each key's last message for ever", c["cleanup.policy"])
	}
	want := map[string]string{"retention.ms": "1720800000", "segment.ms": "86400000", "message.timestamp.after.max.ms": "3600000", "cleanup.policy": "delete"}
	if diff := cmp.Diff(want, topics.PersonalDataConfigs()); diff != "" {
		t.Errorf("configs (-want +got):\n%s", diff)
	}
	for _, s := range topics.Pipeline(topics.DefaultNames()) {
		if diff := cmp.Diff(want, s.Configs); diff != "" {
			t.Errorf("%s does not carry the personal-data configs (-want +got):\n%s", s.Name, diff)
		}
	}
}

// A topic created by hand with a longer retention, compaction, no segment.ms
// and too few partitions is reported; Reconcile sets its configs (leaving the
// partitions, and every other config, alone), after which nothing drifts but
// the partitions. A missing topic is reported as such.
func TestReconcileFixesTheConfigsOfAnExistingTopic(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	client := stacktest.KafkaClient(brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name, missing := stacktest.UniqueName("test.drift"), stacktest.UniqueName("test.missing")
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: name, NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "retention.ms", ConfigValue: "2592000000"}, {ConfigName: "cleanup.policy", ConfigValue: "compact"},
			{ConfigName: "max.message.bytes", ConfigValue: "2000000"}},
	}}})
	if err != nil || resp.Errors[name] != nil {
		t.Fatalf("create: %v %v", err, resp.Errors[name])
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{name}})
	})
	spec, gone := topics.PersonalData(name, 3), topics.PersonalData(missing, 3)

	drifts, err := topics.Check(ctx, client, spec, gone)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]topics.Drift{}
	for _, d := range drifts {
		got[d.Topic+" "+d.Setting] = d
	}
	for key, want := range map[string]topics.Drift{
		name + " partitions":     {Topic: name, Setting: "partitions", Want: "3", Got: "2"},
		name + " retention.ms":   {Topic: name, Setting: "retention.ms", Want: "1720800000", Got: "2592000000", Fixable: true},
		name + " cleanup.policy": {Topic: name, Setting: "cleanup.policy", Want: "delete", Got: "compact", Fixable: true},
		name + " segment.ms":     {Topic: name, Setting: "segment.ms", Want: "86400000", Got: "604800000", Fixable: true},
		missing + " topic":       {Topic: missing, Setting: "topic", Want: "present", Got: "missing"},
	} {
		if diff := cmp.Diff(want, got[key]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", key, diff)
		}
	}

	if _, err := topics.Reconcile(ctx, client, spec); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	after, err := topics.Check(ctx, client, spec)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 || after[0].Setting != "partitions" {
		t.Errorf("drifts after Reconcile: %v, want only the partitions", after)
	}
	// Another config set on the topic is left as it was.
	cfg, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: name, ConfigNames: []string{"max.message.bytes"},
	}}})
	if err != nil || len(cfg.Resources) != 1 || len(cfg.Resources[0].ConfigEntries) != 1 || cfg.Resources[0].ConfigEntries[0].ConfigValue != "2000000" {
		t.Errorf("max.message.bytes after Reconcile: %+v, %v", cfg, err)
	}
}

// Create makes topics with the personal-data configs, and leaves an existing
// one as it is.
func TestCreateMakesTopicsWithTheirConfigs(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	client := stacktest.KafkaClient(brokers)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b, dlq := stacktest.UniqueName("test.a"), stacktest.UniqueName("test.b"), stacktest.UniqueName("test.dlq")
	t.Cleanup(func() {
		_, _ = client.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{a, b, dlq}})
	})
	specs := topics.Inputs([]string{a, b}, dlq)
	created, err := topics.Create(ctx, client, specs...)
	if err != nil || len(created) != 3 {
		t.Fatalf("Create = %v, %v; want the three created", created, err)
	}
	if drifts, err := topics.Check(ctx, client, specs...); err != nil || len(drifts) != 0 {
		t.Errorf("drifts of new topics: %v, %v", drifts, err)
	}
	if again, err := topics.Create(ctx, client, specs...); err != nil || len(again) != 0 {
		t.Errorf("Create again = %v, %v; want nothing created, no error", again, err)
	}
}

// A shorter retention than ours keeps data for less: it meets the promise
// and is not drift; a longer one, 0 or -1 (never) does not.
func TestShorterTimesMeetThePromise(t *testing.T) {
	cases := []struct {
		key, got string
		meets    bool
	}{
		{"retention.ms", "1720800000", true},
		{"retention.ms", "86400000", true},
		{"retention.ms", "1814400000", false},
		{"retention.ms", "-1", false},
		{"retention.ms", "0", false},
		{"segment.ms", "3600000", true},
		{"segment.ms", "604800000", false},
		{"message.timestamp.after.max.ms", "9223372036854775807", false},
		{"cleanup.policy", "compact", false},
		{"cleanup.policy", "delete", true},
	}
	want := topics.PersonalDataConfigs()
	for _, c := range cases {
		if got := topics.Meets(c.key, c.got, want[c.key]); got != c.meets {
			t.Errorf("Meets(%s, %s, %s) = %v, want %v", c.key, c.got, want[c.key], got, c.meets)
		}
	}
}
