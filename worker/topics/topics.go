// Package topics is the one definition of orderflow's Kafka topics and their
// configuration: the demo, the bench and the tests create their topics from
// it; deploy/kafka/topics.yaml, which orderflow kafka-apply applies to a
// cluster with its ACLs (ParseFile, Plan), is held to it by a test.
//
// Every topic orderflow uses carries personal data (raw orders, dead letters,
// connector jobs), so each keeps a message no longer than the label promise
// (P9, 21 days) allows. Kafka deletes a message only with its whole segment,
// once the segment's newest message is older than retention.ms, and never
// deletes the segment being written; a segment rolls after segment.ms (7 days
// by default). So a message can outlive retention.ms by up to a segment's age,
// plus the broker's retention check interval, plus how far in the future its
// timestamp may be. The configs here bound each of those and set retention.ms
// to what is left of the promise (Retention).
package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/channel"
)

// The parts of the promise. Promise = Retention + SegmentAge + FutureSkew +
// Slack: the longest a message can stay in a topic.
const (
	// Promise is how long raw personal data may stay in Kafka: the label
	// promise, 21 days (P9).
	Promise = 21 * 24 * time.Hour
	// SegmentAge is segment.ms: a segment rolls, and so becomes deletable,
	// at most a day after its first message.
	SegmentAge = 24 * time.Hour
	// FutureSkew is message.timestamp.after.max.ms: the broker refuses a
	// message whose timestamp is further in the future (retention counts
	// from the timestamp).
	FutureSkew = time.Hour
	// Slack covers the broker's retention check (log.retention.check.interval.ms,
	// 5 minutes by default) and the delay before a deleted segment's file goes
	// (file.delete.delay.ms, 1 minute).
	Slack = time.Hour
	// Retention is retention.ms: what is left of the promise.
	Retention = Promise - SegmentAge - FutureSkew - Slack
)

// Config names and the values every personal-data topic must have.
const (
	ConfigRetention       = "retention.ms"
	ConfigSegment         = "segment.ms"
	ConfigTimestampFuture = "message.timestamp.after.max.ms"
	// ConfigCleanup must be "delete": a compacted topic keeps each key's
	// latest message whatever retention.ms says.
	ConfigCleanup = "cleanup.policy"
)

// upperBounds are the configs whose value is a longest time: a topic with a
// shorter one (but not 0 or -1, which mean never) keeps its data for less
// and meets the promise all the same.
var upperBounds = map[string]bool{ConfigRetention: true, ConfigSegment: true, ConfigTimestampFuture: true}

// Meets reports whether a topic's effective value got of config key meets
// want: equal, or for an upper bound, a shorter positive time.
func Meets(key, got, want string) bool {
	if got == want {
		return true
	}
	if !upperBounds[key] {
		return false
	}
	g, err1 := strconv.ParseInt(got, 10, 64)
	w, err2 := strconv.ParseInt(want, 10, 64)
	return err1 == nil && err2 == nil && g > 0 && g <= w
}

// PersonalDataConfigs are the configs of a topic that carries personal data.
func PersonalDataConfigs() map[string]string {
	return map[string]string{
		ConfigRetention:       ms(Retention),
		ConfigSegment:         ms(SegmentAge),
		ConfigTimestampFuture: ms(FutureSkew),
		ConfigCleanup:         "delete",
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// Spec is a topic as orderflow wants it.
type Spec struct {
	Name       string
	Partitions int
	// ReplicationFactor of a new topic; 0 is the brokers' default.
	ReplicationFactor int
	// Configs are the topic configs that must hold (others are left alone).
	Configs map[string]string
}

// PersonalData is the spec of a topic that carries personal data.
func PersonalData(name string, partitions int) Spec {
	return Spec{Name: name, Partitions: partitions, Configs: PersonalDataConfigs()}
}

// Partitions of the pipeline's topics: the input topics and the courier and
// accounting outboxes take parallel consumers; the DLQ and the parked jobs
// are small.
const (
	InputPartitions      = 6
	DeadLetterPartitions = 3
	OutboxPartitions     = 6
	ParkedPartitions     = 3
)

// Names are the pipeline's topic names.
type Names struct {
	// Orders are the order streams, one per channel (kafka.topics.<channel>).
	Orders                      []string
	DeadLetter                  string
	Courier, Accounting, Parked string
	// Erasure carries buyers' erasure requests (kafka.topics.erasure).
	Erasure string
}

// DefaultNames are the names of DESIGN.md's external contract: each
// registered channel's own order stream (worker/channel), the DLQ and the
// connector outboxes.
func DefaultNames() Names {
	n := Names{DeadLetter: "orders.dlq", Courier: "connector.courier", Accounting: "connector.accounting", Parked: "connector.parked",
		Erasure: "requests.erasure"}
	for _, s := range channel.Default().Specs() {
		n.Orders = append(n.Orders, s.Topic)
	}
	return n
}

// Inputs are the specs of the worker's own topics: the order streams and the
// DLQ (what the demo, the bench and the tests create).
func Inputs(orders []string, deadLetter string) []Spec {
	specs := make([]Spec, 0, len(orders)+1)
	for _, name := range orders {
		specs = append(specs, PersonalData(name, InputPartitions))
	}
	return append(specs, PersonalData(deadLetter, DeadLetterPartitions))
}

// Worker are the specs of the topics `orderflow run` and `orderflow
// dispatch` read and write: the inputs and DLQ, the courier and accounting
// outboxes and the parked jobs (what the demo, the bench and the tests
// create).
func Worker(orders []string, deadLetter, courier, accounting, parked string) []Spec {
	return append(Inputs(orders, deadLetter),
		PersonalData(courier, OutboxPartitions),
		PersonalData(accounting, OutboxPartitions),
		PersonalData(parked, ParkedPartitions),
	)
}

// Pipeline are the specs of every topic of the pipeline: its inputs and DLQ,
// the connector outboxes, and the erasure requests' when named.
func Pipeline(n Names) []Spec {
	specs := Worker(n.Orders, n.DeadLetter, n.Courier, n.Accounting, n.Parked)
	if n.Erasure != "" {
		// One partition: the one eraser takes requests in order.
		specs = append(specs, PersonalData(n.Erasure, 1))
	}
	return specs
}

// replicationFactor is the brokers' default: the local stack has one broker,
// and a cluster's default.replication.factor is its operators' choice.
const replicationFactor = -1

// Create creates the topics that do not exist yet, leaving existing ones as
// they are (Reconcile checks those), waits until every partition of each has a
// leader, and returns the names it created.
func Create(ctx context.Context, client *kafka.Client, specs ...Spec) ([]string, error) {
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		rf := replicationFactor
		if s.ReplicationFactor > 0 {
			rf = s.ReplicationFactor
		}
		tc := kafka.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: rf}
		for _, k := range slices.Sorted(maps.Keys(s.Configs)) {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: s.Configs[k]})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("topics: create: %w", err)
	}
	var created []string
	for _, s := range specs {
		switch err := resp.Errors[s.Name]; {
		case err == nil:
			created = append(created, s.Name)
		case errors.Is(err, kafka.TopicAlreadyExists):
		default:
			return created, fmt.Errorf("topics: create %s: %w", s.Name, err)
		}
	}
	for _, s := range specs {
		if err := waitForLeaders(ctx, client, s.Name); err != nil {
			return created, err
		}
	}
	return created, nil
}

// waitForLeaders waits until every partition of the topic has a leader: the
// controller creates them asynchronously.
func waitForLeaders(ctx context.Context, client *kafka.Client, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(meta.Topics) == 1 && meta.Topics[0].Error == nil && leadersReady(meta.Topics[0].Partitions) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics: %s has partitions without a leader: %w", topic, errors.Join(err, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func leadersReady(parts []kafka.Partition) bool {
	if len(parts) == 0 {
		return false
	}
	for _, p := range parts {
		if p.Error != nil || p.Leader.Host == "" {
			return false
		}
	}
	return true
}
