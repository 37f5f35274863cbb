package outbox_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

const outboxPartitions = 3

// newTopic is a fresh outbox topic on the real Kafka and a sink writing to
// it, closed when the test ends.
func newTopic(t *testing.T, reg prometheus.Registerer) (brokers []string, topic string, sink *outbox.Sink) {
	t.Helper()
	brokers = stacktest.KafkaBrokers(t)
	topic = stacktest.UniqueName("test.connector.courier")
	stacktest.CreateTopic(t, brokers, topic, outboxPartitions)
	sink, err := outbox.New(outbox.Config{Brokers: brokers, Topic: topic, Registerer: reg, Now: func() time.Time { return outboxtest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sink.Close(); err != nil {
			t.Error(err)
		}
	})
	return brokers, topic, sink
}

// write writes a batch as the pipeline does: it retries transient errors
// (a partition's leader still moving after the topic's creation) with the
// same batch ID, and returns any other.
func write(t *testing.T, sink *outbox.Sink, batch uint64, orders []protected.Order) error {
	t.Helper()
	for attempt := 0; ; attempt++ {
		err := sink.Write(context.Background(), batch, orders)
		if err == nil || failure.Of(err) != failure.Transient || attempt == 50 {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cancelledLater is a later snapshot of o, cancelled and refunded.
func cancelledLater(o order.Order) order.Order {
	o.Status, o.PaymentStatus = order.StatusCancelled, order.PaymentRefunded
	o.SourceUpdatedAt = o.SourceUpdatedAt.Add(time.Hour)
	return o
}

// checkTopicHoldsNoPersonalValue: no personal value of the orders, places
// included, in any key, value or header of the messages.
func checkTopicHoldsNoPersonalValue(t *testing.T, msgs []kafka.Message, orders []order.Order) {
	t.Helper()
	values := (privacytest.OrderValues{MinLen: 4, Places: true}).Of(orders)
	if len(values) < 50 {
		t.Fatalf("only %d personal values to look for: the check proves little", len(values))
	}
	for _, m := range msgs {
		texts := []string{string(m.Key), string(m.Value)}
		for _, h := range m.Headers {
			texts = append(texts, h.Key, string(h.Value))
		}
		for _, text := range texts {
			for _, v := range values {
				if strings.Contains(text, v) {
					t.Errorf("message %d/%d holds a personal value in the clear (%d bytes)", m.Partition, m.Offset, len(v))
				}
			}
		}
	}
}

// TestSinkWritesTheBatchsJobs: a batch of every fixture, plus a later
// cancelled snapshot of a ready order, protected on the real Vault and
// written to the real Kafka: the topic holds exactly the expected jobs, once
// each, keyed by order, an order's create before its cancel, and no personal
// value in the clear; the metric counts them by kind.
func TestSinkWritesTheBatchsJobs(t *testing.T) {
	reg := prometheus.NewRegistry()
	brokers, topic, sink := newTopic(t, reg)
	s := outboxtest.NewVault(t)
	var ready order.Order
	var cs []order.Order
	for _, f := range fixtures(t) {
		cs = append(cs, f.Order)
		if f.Name == "ebay/typical-two-line" {
			ready = f.Order
		}
	}
	cs = append(cs, cancelledLater(ready))
	cs = s.Own(t, cs)
	prot := s.Protect(t, cs)

	want := map[string]outbox.Kind{}   // idempotency key -> kind
	wantOrder := map[string][]string{} // order key -> its jobs' idempotency keys, in batch order
	for _, j := range outbox.Jobs(prot, outboxtest.Now) {
		want[j.IdempotencyKey] = j.Kind
		wantOrder[j.Key()] = append(wantOrder[j.Key()], j.IdempotencyKey)
	}
	if err := write(t, sink, 7, prot); err != nil {
		t.Fatalf("write: %v", err)
	}

	msgs := stacktest.ReadAll(t, brokers, topic, outboxPartitions)
	got := map[string]int{}
	gotOrder := map[string][]string{}
	kinds := map[outbox.Kind]int{}
	for _, m := range msgs {
		j := outboxtest.Decode(t, m.Value)
		if string(m.Key) != j.Key() {
			t.Errorf("a job keyed %q, want its order's key %q", m.Key, j.Key())
		}
		if want[j.IdempotencyKey] != j.Kind {
			t.Errorf("an unexpected %s job for %s", j.Kind, j.Key())
		}
		got[j.IdempotencyKey]++
		gotOrder[j.Key()] = append(gotOrder[j.Key()], j.IdempotencyKey)
		kinds[j.Kind]++
	}
	for key, n := range got {
		if n != 1 {
			t.Errorf("job %s written %d times, want once", key, n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d jobs on the topic, want %d", len(got), len(want))
	}
	twoJobs := 0
	for key, ids := range wantOrder {
		if !slices.Equal(gotOrder[key], ids) {
			t.Errorf("order %s: jobs on the topic in another order than the batch's", key)
		}
		if len(ids) > 1 {
			twoJobs++
		}
	}
	if twoJobs != 1 {
		t.Errorf("%d orders with two jobs, want the one cancelled after it was ready", twoJobs)
	}
	checkTopicHoldsNoPersonalValue(t, msgs, cs)
	for _, k := range []outbox.Kind{outbox.KindCreate, outbox.KindCancel} {
		if n := telemetrytest.Sum(t, reg, "orderflow_outbox_jobs_written_total", "kind="+string(k)); n != float64(kinds[k]) || n == 0 {
			t.Errorf("orderflow_outbox_jobs_written_total{kind=%s} = %v, want %d", k, n, kinds[k])
		}
	}
}

// TestSinkWritesARetriedBatchAgain: the pipeline never writes a sink again
// a batch it took, but a restart does (a crash after the write, before the
// commit). The jobs are then on the topic twice, under the same idempotency
// keys, which is what the dispatcher de-duplicates by.
func TestSinkWritesARetriedBatchAgain(t *testing.T) {
	brokers, topic, sink := newTopic(t, nil)
	orders := []protected.Order{readyOrder(), readyOrder()}
	orders[1].ChannelOrderID = "21-13579-99999"
	for range 2 {
		if err := write(t, sink, 1, orders); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, m := range stacktest.ReadAll(t, brokers, topic, outboxPartitions) {
		seen[outboxtest.Decode(t, m.Value).IdempotencyKey]++
	}
	if len(seen) != 2 || seen[outbox.Jobs(orders, outboxtest.Now)[0].IdempotencyKey] != 2 {
		t.Errorf("idempotency keys on the topic %v, want the two jobs' keys twice each", seen)
	}
}

// TestSinkWritesNothingWithoutJobs: a batch of orders that call for no
// courier work writes no message (a ready order written after it is the
// topic's only message).
func TestSinkWritesNothingWithoutJobs(t *testing.T) {
	brokers, topic, sink := newTopic(t, nil)
	shipped, fba := readyOrder(), readyOrder()
	shipped.Status = order.StatusShipped
	fba.Fulfilment = order.FulfilmentMarketplace
	if err := write(t, sink, 1, []protected.Order{shipped, fba}); err != nil {
		t.Fatal(err)
	}
	ready := readyOrder()
	ready.ChannelOrderID = "21-13579-00001"
	if err := write(t, sink, 2, []protected.Order{ready}); err != nil {
		t.Fatal(err)
	}
	msgs := stacktest.ReadAll(t, brokers, topic, outboxPartitions)
	if len(msgs) != 1 || outboxtest.Decode(t, msgs[0].Value).ChannelOrderID != ready.ChannelOrderID {
		t.Errorf("%d messages on the topic, want only the ready order's job", len(msgs))
	}
}

// TestSinkNamesTheOrderWhoseJobIsTooLarge: an order whose job cannot fit in
// a produce request is named (failure.Order, by its place in the batch), so
// that the pipeline dead-letters it and writes the rest, rather than retry
// the batch for ever; the error holds no value of the order.
func TestSinkNamesTheOrderWhoseJobIsTooLarge(t *testing.T) {
	_, _, sink := newTopic(t, nil)
	shipped, small, huge := readyOrder(), readyOrder(), readyOrder()
	shipped.Status = order.StatusShipped
	small.ChannelOrderID = "21-00000-00001"
	huge.ChannelOrderID = "21-00000-00002"
	title := strings.Repeat("Oak mug tree with six hooks ", 20)
	for i := range 3000 {
		huge.Lines = append(huge.Lines, protected.Line{LineID: "L" + string(rune('a'+i%26)), Title: title, Quantity: 1})
	}
	err := write(t, sink, 1, []protected.Order{shipped, small, huge})
	if failure.Of(err) != failure.Order {
		t.Fatalf("error %v of class %v, want one order's", err, failure.Of(err))
	}
	bad := failure.Orders(err)
	if _, ok := bad[2]; !ok || len(bad) != 1 {
		t.Errorf("orders named %v, want only the third (2)", bad)
	}
	if strings.Contains(err.Error(), "Oak mug") || strings.Contains(err.Error(), huge.ChannelOrderID) {
		t.Errorf("the error quotes the order: %v", err)
	}
}

// TestSinkRefusesAnIncompleteConfig: brokers and a topic are required.
func TestSinkRefusesAnIncompleteConfig(t *testing.T) {
	for _, cfg := range []outbox.Config{{Topic: "connector.courier"}, {Brokers: []string{"localhost:9092"}}} {
		if _, err := outbox.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		} else if !strings.Contains(err.Error(), "outbox config") {
			t.Errorf("error %q does not name the config key", err)
		}
	}
}
