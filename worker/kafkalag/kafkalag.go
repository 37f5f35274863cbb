// Package kafkalag measures how far a consumer group is behind its topics:
// per partition, the log-end offset minus the group's committed offset
// (never negative), and the age of the oldest message not yet consumed
// (the one at the committed offset). It is what tells an SRE whether the
// worker keeps up: a lag that grows, or an oldest message that gets older,
// means orders wait.
package kafkalag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// Config configures a Monitor.
type Config struct {
	// Client asks the brokers (kafkaclient.Clients.Admin()).
	Client *kafka.Client
	// Group is the consumer group measured; Topics the topics it consumes.
	Group  string
	Topics []string
	// Interval is how often Run measures. Default 15s (a scrape interval).
	Interval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Registerer receives the gauges; nil keeps them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Monitor measures a group's lag.
type Monitor struct {
	cfg      Config
	lag      *prometheus.GaugeVec
	age      *prometheus.GaugeVec
	measured prometheus.Gauge
}

// New checks cfg and registers the gauges. Their labels are the group, the
// topic and the partition number: bounded by the configuration.
func New(cfg Config) (*Monitor, error) {
	if cfg.Client == nil || cfg.Group == "" || len(cfg.Topics) == 0 {
		return nil, errors.New("kafkalag config: Client, Group and Topics are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "kafka-lag")
	m := metricsreg.NewSet(cfg.Registerer)
	mon := &Monitor{
		cfg: cfg,
		lag: m.GaugeVec("orderflow_kafka_consumer_lag_messages",
			"Messages on the partition the group has not committed yet: the log-end offset minus the committed offset (all of the log when nothing is committed), never negative.",
			"group", "topic", "partition"),
		age: m.GaugeVec("orderflow_kafka_oldest_unconsumed_message_age_seconds",
			"Age of the oldest message the group has not committed (its Kafka timestamp), 0 when it has committed everything: how long an order has been waiting.",
			"group", "topic", "partition"),
		measured: m.Gauge("orderflow_kafka_lag_measured_timestamp_seconds",
			"When the consumer lag was last measured: a stale value means the lag gauges are stale too."),
	}
	if err := m.Err(); err != nil {
		return nil, fmt.Errorf("kafkalag metrics: %w", err)
	}
	return mon, nil
}

// Partition is one partition's measurement.
type Partition struct {
	Topic          string
	Partition      int
	First, End     int64 // the log's first and end offsets
	Committed      int64 // -1 when the group has committed nothing
	Lag            int64
	OldestAge      time.Duration
	OldestUnreadAt time.Time // zero when there is no lag
}

// Measure measures every partition of the topics once and sets the gauges.
func (m *Monitor) Measure(ctx context.Context) ([]Partition, error) {
	// One look at each topic's offsets serves both the partitions to ask
	// the group about and the lag.
	firsts, ends := map[string]map[int]int64{}, map[string]map[int]int64{}
	for _, topic := range m.cfg.Topics {
		f, e, err := kafkaclient.OffsetRange(ctx, m.cfg.Client, topic)
		if err != nil {
			return nil, fmt.Errorf("kafkalag: %w", err)
		}
		firsts[topic], ends[topic] = f, e
	}
	committed, err := m.committed(ctx, ends)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now()
	var out []Partition
	for _, topic := range m.cfg.Topics {
		for part, end := range ends[topic] {
			p := Partition{Topic: topic, Partition: part, First: firsts[topic][part], End: end, Committed: -1}
			if c, ok := committed[topic][part]; ok {
				p.Committed = c
			}
			// Nothing committed, or committed below what retention kept:
			// what waits starts at the log's first message.
			next := max(p.Committed, p.First)
			p.Lag = max(0, end-next)
			if p.Lag > 0 {
				at, err := m.timestampAt(ctx, topic, part, next)
				if err != nil {
					return nil, err
				}
				p.OldestUnreadAt = at
				p.OldestAge = max(0, now.Sub(at))
			}
			labels := []string{m.cfg.Group, topic, strconv.Itoa(part)}
			m.lag.WithLabelValues(labels...).Set(float64(p.Lag))
			m.age.WithLabelValues(labels...).Set(p.OldestAge.Seconds())
			out = append(out, p)
		}
	}
	m.measured.Set(float64(now.UnixNano()) / 1e9)
	return out, nil
}

// committed is the group's committed offsets of the partitions of ends, by
// topic and partition.
func (m *Monitor) committed(ctx context.Context, ends map[string]map[int]int64) (map[string]map[int]int64, error) {
	req := &kafka.OffsetFetchRequest{GroupID: m.cfg.Group, Topics: map[string][]int{}}
	for topic, parts := range ends {
		for p := range parts {
			req.Topics[topic] = append(req.Topics[topic], p)
		}
	}
	resp, err := m.cfg.Client.OffsetFetch(ctx, req)
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return nil, fmt.Errorf("kafkalag: committed offsets of group %s: %w", m.cfg.Group, err)
	}
	out := map[string]map[int]int64{}
	for topic, parts := range resp.Topics {
		out[topic] = map[int]int64{}
		for _, p := range parts {
			if p.Error != nil {
				return nil, fmt.Errorf("kafkalag: committed offset of %s/%d: %w", topic, p.Partition, p.Error)
			}
			if p.CommittedOffset >= 0 {
				out[topic][p.Partition] = p.CommittedOffset
			}
		}
	}
	return out, nil
}

// timestampAt is the Kafka timestamp of the message at offset.
func (m *Monitor) timestampAt(ctx context.Context, topic string, partition int, offset int64) (time.Time, error) {
	resp, err := m.cfg.Client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: offset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: time.Second})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("kafkalag: read %s/%d at %d: %w", topic, partition, offset, err)
	}
	// A fetch answers whole record batches: the first may start before
	// offset.
	for {
		r, err := resp.Records.ReadRecord()
		if err != nil {
			return time.Time{}, fmt.Errorf("kafkalag: read %s/%d at %d: %w", topic, partition, offset, err)
		}
		if r.Offset >= offset {
			return r.Time, nil
		}
	}
}

// Run measures every Interval until ctx ends. A failed measurement is
// logged and tried at the next tick: the lag of a worker is never a reason
// to stop it.
func (m *Monitor) Run(ctx context.Context) error {
	for {
		if _, err := m.Measure(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Logger.Warn("consumer lag not measured", "group", m.cfg.Group, "err", err)
		}
		if backoff.Sleep(ctx, m.cfg.Interval) != nil {
			return nil
		}
	}
}
