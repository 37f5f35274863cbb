package kafkalag_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/kafkalag"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// On the real Kafka: partition 0 holds 5 messages of which the group
// committed 2, partition 1 holds 3 all committed, partition 2 holds 4 and
// nothing is committed. The lag is 3, 0 and 4; the oldest unconsumed
// message's age is measured from the message at the committed offset (the
// log's first where nothing is committed), 0 without lag; the gauges say
// the same. Committing everything brings every lag and age to 0.
func TestLagAndOldestMessageAge(t *testing.T) {
	ctx := context.Background()
	brokers := stacktest.KafkaBrokers(t)
	client := stacktest.KafkaClient(brokers)
	topic, group := stacktest.UniqueName("lag"), stacktest.UniqueName("lag-group")
	stacktest.CreateTopic(t, brokers, topic, 3)
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	counts := []int{5, 3, 4}
	for part, n := range counts {
		var records []kafka.Record
		for i := range n {
			records = append(records, kafka.Record{Time: base.Add(time.Duration(part*100+i) * time.Minute), Value: kafka.NewBytes([]byte("m" + strconv.Itoa(i)))})
		}
		// A partition just created may not have its leader yet.
		for try := 0; ; try++ {
			resp, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: part, RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(records...)})
			if err == nil {
				err = resp.Error
			}
			if err == nil {
				break
			}
			if !errors.Is(err, kafka.NotLeaderForPartition) && !errors.Is(err, kafka.LeaderNotAvailable) || try == 100 {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	commit := func(offsets map[int]int64) {
		t.Helper()
		var cs []kafka.OffsetCommit
		for p, o := range offsets {
			cs = append(cs, kafka.OffsetCommit{Partition: p, Offset: o})
		}
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: cs}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Topics[topic] {
			if p.Error != nil {
				t.Fatal(p.Error)
			}
		}
	}
	commit(map[int]int64{0: 2, 1: 3})

	now := base.Add(24 * time.Hour)
	reg := prometheus.NewRegistry()
	m, err := kafkalag.New(kafkalag.Config{Client: client, Group: group, Topics: []string{topic}, Now: func() time.Time { return now }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	parts, err := m.Measure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]struct {
		lag int64
		age time.Duration
	}{
		0: {3, now.Sub(base.Add(2 * time.Minute))},   // the third message waits
		1: {0, 0},                                    // all consumed
		2: {4, now.Sub(base.Add(200 * time.Minute))}, // nothing committed: the first waits
	}
	if len(parts) != 3 {
		t.Fatalf("%d partitions measured, want 3", len(parts))
	}
	for _, p := range parts {
		w := want[p.Partition]
		if p.Lag != w.lag || p.OldestAge != w.age {
			t.Errorf("partition %d: lag %d, oldest %s; want %d, %s", p.Partition, p.Lag, p.OldestAge, w.lag, w.age)
		}
		labels := []string{"group=" + group, "topic=" + topic, "partition=" + strconv.Itoa(p.Partition)}
		if got := telemetrytest.Sum(t, reg, "orderflow_kafka_consumer_lag_messages", labels...); got != float64(w.lag) {
			t.Errorf("partition %d: lag gauge %v, want %d", p.Partition, got, w.lag)
		}
		if got := telemetrytest.Sum(t, reg, "orderflow_kafka_oldest_unconsumed_message_age_seconds", labels...); got != w.age.Seconds() {
			t.Errorf("partition %d: age gauge %v, want %v", p.Partition, got, w.age.Seconds())
		}
	}

	commit(map[int]int64{0: 5, 2: 4})
	if _, err := m.Measure(ctx); err != nil {
		t.Fatal(err)
	}
	if lag, age := telemetrytest.Sum(t, reg, "orderflow_kafka_consumer_lag_messages"), telemetrytest.Sum(t, reg, "orderflow_kafka_oldest_unconsumed_message_age_seconds"); lag != 0 || age != 0 {
		t.Errorf("with everything committed: lag %v, age %v; want 0", lag, age)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_kafka_lag_measured_timestamp_seconds"); got != float64(now.Unix()) {
		t.Errorf("measured at %v, want %d", got, now.Unix())
	}
}
