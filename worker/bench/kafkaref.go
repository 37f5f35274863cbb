package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// refCommitEvery is how many messages reference (a) reads between commits:
// the worker's default batch.
const refCommitEvery = 10_000

// kafkaReference is reference (a): a bare kafka-go consumer-group reader with
// the worker's fetch settings (worker/consume) that reads n messages from the
// two input topics and commits every refCommitEvery messages, doing nothing
// else with them. It is the ceiling for consuming on this machine.
func kafkaReference(ctx context.Context, brokers []string, group string, topics []string, n int64, interval time.Duration) (Throughput, error) {
	start := time.Now()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:     brokers,
		GroupID:     group,
		GroupTopics: topics,
		StartOffset: kafka.FirstOffset,
		// As worker/consume: explicit synchronous commits, 10 MB fetches that
		// return after 100 ms when less is there, a batch's room in the queue.
		CommitInterval: 0,
		MinBytes:       1,
		MaxBytes:       10 << 20,
		MaxWait:        100 * time.Millisecond,
		QueueCapacity:  refCommitEvery,
		ErrorLogger:    kafka.LoggerFunc(func(string, ...any) {}),
	})
	var done atomic.Int64
	s := newSampler(start, interval, func() float64 { return float64(done.Load()) })
	first, err := consumeAll(ctx, r, n, &done, start)
	end := time.Since(start).Seconds()
	samples := s.stop(end, float64(done.Load()))
	closeErr := r.Close()
	if err != nil {
		return Throughput{}, fmt.Errorf("reference (a): after %d of %d messages: %w", done.Load(), n, err)
	}
	if closeErr != nil && !errors.Is(closeErr, io.EOF) {
		return Throughput{}, fmt.Errorf("reference (a): closing the reader: %w", closeErr)
	}
	return newThroughput(n, first, end, samples, samples), nil
}

// consumeAll fetches n messages, committing every refCommitEvery and at the
// end, and returns when the first message arrived (seconds after start).
func consumeAll(ctx context.Context, r *kafka.Reader, n int64, done *atomic.Int64, start time.Time) (float64, error) {
	type tp struct {
		topic     string
		partition int
	}
	pending := map[tp]kafka.Message{}
	commit := func() error {
		if len(pending) == 0 {
			return nil
		}
		msgs := make([]kafka.Message, 0, len(pending))
		for _, m := range pending {
			msgs = append(msgs, m)
		}
		clear(pending)
		if err := r.CommitMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	first := 0.0
	for i := int64(1); i <= n; i++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return first, fmt.Errorf("fetch: %w", err)
		}
		if i == 1 {
			first = time.Since(start).Seconds()
		}
		pending[tp{m.Topic, m.Partition}] = m
		if i%refCommitEvery == 0 {
			if err := commit(); err != nil {
				return first, err
			}
		}
		done.Store(i)
	}
	return first, commit()
}
