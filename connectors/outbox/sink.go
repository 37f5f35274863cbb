package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/protected"
)

// Config configures a Sink.
type Config struct {
	// Brokers are the bootstrap addresses, host:port. Required.
	Brokers []string
	// Transport carries the client id, TLS and SASL (kafkaclient.Clients).
	// Default kafka-go's default transport.
	Transport kafka.RoundTripper
	// Topic is the outbox topic (topics.ConnectorCourier in the worker).
	// Required.
	Topic string
	// Registerer receives orderflow_outbox_jobs_written_total. Default: none
	// (the metrics are kept, unexported).
	Registerer prometheus.Registerer
	// Now is the clock of the jobs' CreatedAt. Default time.Now.
	Now func() time.Time
}

// Sink is the pipeline's outbox sink (pipeline.Sink): it writes the courier
// jobs of each batch's orders (Jobs) to the outbox topic, keyed by Job.Key so
// that one order's jobs share a partition and keep their order, and returns
// once every in-sync replica has them, so that the pipeline commits a batch
// only after its jobs are durable. Safe for concurrent use; Close it when
// done.
//
// Delivery is at least once. A Write that fails is repeated by the pipeline
// under the same batch ID: the Sink then skips the jobs Kafka acknowledged in
// the failed attempt (unless an earlier job of the same order was not, so
// that no order's jobs are reordered), and writes the rest again. What Kafka
// wrote without saying so (a timeout, a cancelled context, a crash before the
// commit) is written again, so a job may be on the topic more than once,
// always with the same IdempotencyKey (CreatedAt may differ): the dispatcher
// de-duplicates by that key.
type Sink struct {
	writer  *kafka.Writer
	now     func() time.Time
	metrics *metrics

	mu sync.Mutex
	// batch is the ID of the last batch written, and acked the idempotency
	// keys Kafka acknowledged in its failed attempts.
	batch uint64
	acked map[string]bool
}

// New returns a Sink ready to Write.
func New(cfg Config) (*Sink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("outbox config Brokers: at least one broker is required")
	}
	if cfg.Topic == "" {
		return nil, errors.New("outbox config Topic: required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	return &Sink{
		// By key, so one order's jobs stay on one partition, in order. The
		// pipeline is the one retrier of its stages.
		writer: kafkaclient.SyncWriter(kafkaclient.WriterConfig{
			Brokers: cfg.Brokers, Transport: cfg.Transport, Topic: cfg.Topic, MaxAttempts: 1,
		}),
		now:     cfg.Now,
		metrics: m,
	}, nil
}

// Write writes the jobs of orders (Jobs) in one produce call and returns once
// all are acknowledged by every in-sync replica. A batch without a job writes
// nothing.
//
// Errors: an order whose job is larger than a produce request may be is named
// (failure.InOrder), to be dead-lettered; a broker that refuses this worker
// stops it (kafkafailure); anything else is transient.
func (s *Sink) Write(ctx context.Context, batch uint64, orders []protected.Order) error {
	now := s.now()
	var jobs []Job
	var from []int // the place in orders of each job's order
	for i := range orders {
		if j, ok := JobOf(&orders[i], now); ok {
			jobs = append(jobs, j)
			from = append(from, i)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if batch != s.batch {
		s.batch, s.acked = batch, nil
	}
	send := s.unacked(jobs)
	if len(send) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(send))
	for n, k := range send {
		value, err := json.Marshal(&jobs[k])
		if err != nil {
			return failure.InOrder(from[k], fmt.Errorf("encode the %s job of order %d of the batch: %w", jobs[k].Kind, from[k], err))
		}
		msgs[n] = kafka.Message{Key: []byte(jobs[k].Key()), Value: value}
	}

	err := s.writer.WriteMessages(ctx, msgs...)
	var perMessage kafka.WriteErrors
	switch {
	case err == nil:
		s.count(jobs, send, nil)
		s.acked = nil // the pipeline does not write a batch again once it is taken
		return nil
	case errors.As(err, &perMessage) && len(perMessage) == len(msgs):
		s.count(jobs, send, perMessage)
		if s.acked == nil {
			s.acked = map[string]bool{}
		}
		for n, k := range send {
			if perMessage[n] == nil {
				s.acked[jobs[k].IdempotencyKey] = true
			}
		}
	}
	var tooLarge kafka.MessageTooLargeError
	if errors.As(err, &tooLarge) {
		// The writer checks sizes before it sends anything, and says which
		// message by value only: the first equal one is the first too large.
		for n, m := range msgs {
			if bytes.Equal(m.Value, tooLarge.Message.Value) && bytes.Equal(m.Key, tooLarge.Message.Key) {
				k := send[n]
				return failure.InOrder(from[k], fmt.Errorf("the %s job of order %d of the batch is larger than a produce request may be (%d bytes): %w",
					jobs[k].Kind, from[k], len(m.Value), err))
			}
		}
	}
	return kafkafailure.Classify(fmt.Errorf("write %d courier jobs to %s: %w", len(msgs), s.writer.Topic, err))
}

// unacked returns the places in jobs of those to send: all but those Kafka
// acknowledged in a failed attempt of the same batch, except that once a job
// of an order is sent, every later job of the order is sent too, so that a
// retry never puts an order's later job on the topic before an earlier one.
func (s *Sink) unacked(jobs []Job) []int {
	send := make([]int, 0, len(jobs))
	resent := map[string]bool{} // order keys with a job sent
	for k := range jobs {
		key := jobs[k].Key()
		if s.acked[jobs[k].IdempotencyKey] && !resent[key] {
			continue
		}
		resent[key] = true
		send = append(send, k)
	}
	return send
}

// count adds the sent jobs that were acknowledged (perMessage nil for each,
// or nil for all) to the metric.
func (s *Sink) count(jobs []Job, send []int, perMessage kafka.WriteErrors) {
	for n, k := range send {
		if perMessage == nil || perMessage[n] == nil {
			s.metrics.written.WithLabelValues(string(jobs[k].Kind)).Inc()
		}
	}
}

// Close flushes and closes the writer.
func (s *Sink) Close() error {
	if err := s.writer.Close(); err != nil {
		return fmt.Errorf("close the outbox writer: %w", err)
	}
	return nil
}
