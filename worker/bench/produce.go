package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
)

// producer turns the generator's messages into Kafka messages for the run's
// topics. Each message's timestamp is the moment it is handed to the writer,
// so that the worker's end-to-end histogram measures from produce to commit.
type producer struct {
	gen    *generate.Generator
	topics map[order.Channel]string
}

func (p *producer) next(now time.Time) kafka.Message {
	m := p.gen.Next()
	return kafka.Message{Topic: p.topics[m.Topic], Key: m.Key, Value: m.Value, Time: now}
}

// newWriter returns a writer that spreads messages over partitions by key,
// as `orderflow generate` does, so that an order's snapshots keep their order.
func newWriter(brokers []string, batchTimeout time.Duration) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Balancer:     &kafka.Hash{},
		BatchSize:    1000,
		BatchTimeout: batchTimeout,
		RequiredAcks: kafka.RequireAll,
	}
}

// prefill produces n messages as fast as the broker acknowledges them, in
// synchronous chunks, reporting progress every second. It is not timed.
func prefill(ctx context.Context, brokers []string, p *producer, n int64, progress func(format string, args ...any)) error {
	w := newWriter(brokers, 10*time.Millisecond)
	const chunk = 5000
	batch := make([]kafka.Message, 0, chunk)
	start, lastReport := time.Now(), time.Now()
	var done int64
	for done < n {
		batch = batch[:0]
		now := time.Now()
		for range min(chunk, n-done) {
			batch = append(batch, p.next(now))
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			_ = w.Close()
			return fmt.Errorf("prefill: writing messages %d-%d: %w", done, done+int64(len(batch)), err)
		}
		done += int64(len(batch))
		if time.Since(lastReport) >= time.Second {
			progress("prefill: %d of %d messages acknowledged (%.0f/s)", done, n, float64(done)/time.Since(start).Seconds())
			lastReport = time.Now()
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("prefill: closing the writer: %w", err)
	}
	progress("prefill: %d messages in %.1fs", n, time.Since(start).Seconds())
	return nil
}

// produceAtRate produces rate messages per second for d, paced in 10 ms
// steps, and returns how many the broker acknowledged. Writes are
// asynchronous, so a slow acknowledgement does not hold up the pace; every
// message must be acknowledged.
func produceAtRate(ctx context.Context, brokers []string, p *producer, rate float64, d time.Duration) (int64, error) {
	w := newWriter(brokers, 5*time.Millisecond)
	var (
		acked    atomic.Int64
		mu       sync.Mutex
		firstErr error // guarded by mu
	)
	w.Async = true
	w.Completion = func(msgs []kafka.Message, err error) {
		if err != nil {
			mu.Lock()
			firstErr = errors.Join(firstErr, err)
			mu.Unlock()
			return
		}
		acked.Add(int64(len(msgs)))
	}
	var produced int64
	loopErr := func() error {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for {
			elapsed := time.Since(start)
			if elapsed >= d {
				elapsed = d
			}
			due := int64(rate*elapsed.Seconds()) - produced
			if due > 0 {
				now := time.Now()
				batch := make([]kafka.Message, due)
				for i := range batch {
					batch[i] = p.next(now)
				}
				// Async: this only queues the messages.
				if err := w.WriteMessages(ctx, batch...); err != nil {
					return fmt.Errorf("latency phase: writing: %w", err)
				}
				produced += due
			}
			if elapsed >= d {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}()
	// Close flushes what is queued and waits for its acknowledgements.
	closeErr := w.Close()
	mu.Lock()
	defer mu.Unlock()
	if err := errors.Join(loopErr, firstErr, closeErr); err != nil {
		return acked.Load(), fmt.Errorf("latency phase: %d of %d messages acknowledged: %w", acked.Load(), produced, err)
	}
	if acked.Load() != produced {
		return acked.Load(), fmt.Errorf("latency phase: %d of %d messages acknowledged", acked.Load(), produced)
	}
	return produced, nil
}
