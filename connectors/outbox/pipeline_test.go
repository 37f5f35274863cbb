package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

// watchedSource is the real consumer, with each Commit checked against what
// the sinks have done: a commit while a sink has not yet taken the first
// batch is counted.
type watchedSource struct {
	pipeline.Source
	pending     *atomic.Int32 // sinks that have not yet taken the first batch
	early       atomic.Int32  // commits while pending > 0
	commitCalls atomic.Int32
}

func (s *watchedSource) Commit(ctx context.Context, b stream.Batch) error {
	s.commitCalls.Add(1)
	if s.pending.Load() > 0 {
		s.early.Add(1)
	}
	return s.Source.Commit(ctx, b)
}

// failingFirst fails a sink's first n writes (a broker or server down), then
// passes them on, and tells pending once one has succeeded.
type failingFirst struct {
	sink    pipeline.Sink
	n       int32
	calls   atomic.Int32
	pending *atomic.Int32
	once    sync.Once
}

var errDown = errors.New("connection refused (injected)")

func (f *failingFirst) Write(ctx context.Context, batch uint64, orders []protected.Order) error {
	if f.calls.Add(1) <= f.n {
		return errDown
	}
	if err := f.sink.Write(ctx, batch, orders); err != nil {
		return err
	}
	f.once.Do(func() { f.pending.Add(-1) })
	return nil
}

// withTenant returns a fixture message with its envelope's tenant replaced.
func withTenant(t *testing.T, value []byte, tenant string) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(value, &env); err != nil {
		t.Fatal(err)
	}
	env["tenant_id"], _ = json.Marshal(tenant)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOffsetsCommittedOnlyAfterFactsAndOutbox: the pipeline on the real
// Kafka and Vault writes each batch to two sinks, a memory sink standing for
// the facts and the outbox; each fails its first writes (the memory sink
// twice, the outbox four times). No offset is committed until both have the
// batch; in the end every fixture order is in the memory sink and the
// outbox topic holds exactly the expected jobs, once each (a sink's retry
// does not write the other again), with no personal value in the clear.
func TestOffsetsCommittedOnlyAfterFactsAndOutbox(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	amazon, ebay := stacktest.UniqueName("test.orders.amazon"), stacktest.UniqueName("test.orders.ebay")
	dlq, courier := stacktest.UniqueName("test.orders.dlq"), stacktest.UniqueName("test.connector.courier")
	group := stacktest.UniqueName("test-orderflow")
	inputs := map[string]int{amazon: 3, ebay: 3}
	for topic, parts := range map[string]int{amazon: 3, ebay: 3, dlq: 1, courier: outboxPartitions} {
		stacktest.CreateTopic(t, brokers, topic, parts)
	}
	s := outboxtest.NewVault(t)

	// Every good fixture once, under this test's tenants.
	var msgs []kafka.Message
	var orders []order.Order
	wantJobs := map[string]outbox.Kind{}
	for _, f := range fixtures(t) {
		o := f.Order
		o.TenantID = s.Tenant(t, o.TenantID)
		orders = append(orders, o)
		topic := ebay
		if strings.HasPrefix(f.Name, "amazon") {
			topic = amazon
		}
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(o.TenantID + "/" + o.ChannelOrderID), Value: withTenant(t, f.Value, o.TenantID)})
		if k := wantKind[f.Name].kind; k != "" {
			wantJobs[outbox.IdempotencyKey(o.TenantID, o.Channel, o.ChannelOrderID, k, o.SourceUpdatedAt.UnixMilli())] = k
		}
	}
	producer := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := producer.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	_ = producer.Close()

	consumer, err := consume.New(consume.Config{
		Brokers: brokers, GroupID: group, Topics: []string{amazon, ebay},
		SessionTimeout: 6 * time.Second, RebalanceTimeout: 10 * time.Second, HeartbeatInterval: 200 * time.Millisecond,
		BatchMaxMessages: 10, BatchMaxWait: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	letters, err := deadletter.New(deadletter.Config{Brokers: brokers, Topic: dlq, Encrypter: s.Client})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	out, err := outbox.New(outbox.Config{Brokers: brokers, Topic: courier, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var pending atomic.Int32
	pending.Store(2)
	facts := pipelinetest.NewMemorySink()
	src := &watchedSource{Source: consumer, pending: &pending}
	factsSink := &failingFirst{sink: facts, n: 2, pending: &pending}
	outboxSink := &failingFirst{sink: out, n: 4, pending: &pending}
	p, err := pipeline.New(pipeline.Config{
		Source: src, Protector: s.Stage, Sinks: []pipeline.Sink{factsSink, outboxSink}, DeadLetters: letters,
		TopicChannels: map[string]order.Channel{amazon: order.ChannelAmazon, ebay: order.ChannelEbay},
		RetryInitial:  10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- errors.Join(p.Run(runCtx), consumer.Close(), letters.Close(), out.Close()) }()
	waitCommitted(t, brokers, group, inputs, 2*time.Minute)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}

	if n := src.early.Load(); n != 0 {
		t.Errorf("%d commits before both sinks had the first batch", n)
	}
	if src.commitCalls.Load() < 2 || factsSink.calls.Load() < 3 || outboxSink.calls.Load() < 5 {
		t.Errorf("commits %d, facts writes %d, outbox writes %d: the test proves little",
			src.commitCalls.Load(), factsSink.calls.Load(), outboxSink.calls.Load())
	}
	if got := len(facts.Orders()); got != len(orders) {
		t.Errorf("the facts sink holds %d orders, want %d", got, len(orders))
	}
	if facts.Received() != len(orders) {
		t.Errorf("the facts sink was given %d orders, want each of %d once: a failing outbox must not re-write it", facts.Received(), len(orders))
	}

	topicMsgs := stacktest.ReadAll(t, brokers, courier, outboxPartitions)
	got := map[string]int{}
	for _, m := range topicMsgs {
		j := outboxtest.Decode(t, m.Value)
		if wantJobs[j.IdempotencyKey] != j.Kind {
			t.Errorf("an unexpected %s job on the topic", j.Kind)
		}
		got[j.IdempotencyKey]++
	}
	for id, kind := range wantJobs {
		if got[id] != 1 {
			t.Errorf("%s job %s on the topic %d times, want once", kind, id, got[id])
		}
	}
	if len(topicMsgs) != len(wantJobs) {
		t.Errorf("%d jobs on the topic, want %d", len(topicMsgs), len(wantJobs))
	}
	checkTopicHoldsNoPersonalValue(t, topicMsgs, orders)
}

// waitCommitted waits until the group's committed offsets reach the end of
// every input partition.
func waitCommitted(t *testing.T, brokers []string, group string, inputs map[string]int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		behind := int64(0)
		for topic, parts := range inputs {
			ends := stacktest.EndOffsets(t, brokers, topic, parts)
			committed := stacktest.CommittedOffsets(t, brokers, group, topic, parts)
			for p, end := range ends {
				behind += end - min(end, max(committed[p], 0))
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still uncommitted after %s", behind, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
