package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/generate/produce"
)

// prefill produces n messages as fast as the brokers acknowledge them,
// reporting progress every second, and returns the tally of what they
// acknowledged. It is not timed.
func (r *run) prefill(ctx context.Context, n int64) (generate.Stats, error) {
	res, err := r.produce(ctx, produce.Config{Count: n, Progress: func(s produce.Status) {
		r.progress("prefill: %d of %d messages acknowledged (%.0f/s)", s.Acknowledged, n, s.PerSecond)
	}})
	if err != nil {
		return res.Stats, fmt.Errorf("prefill: %d of %d messages acknowledged: %w", res.Acknowledged, n, err)
	}
	r.progress("prefill: %d messages in %.1fs", n, res.Elapsed.Seconds())
	return res.Stats, nil
}

// produceAtRate produces rate messages per second for d, rate × d messages
// in all, and returns how many the brokers acknowledged, which must be all.
// Writes are asynchronous, so a slow acknowledgement does not hold up the pace.
func (r *run) produceAtRate(ctx context.Context, rate float64, d time.Duration) (int64, error) {
	// A count, not a duration: the pace makes the time, and the count stays
	// exact whatever the scheduler does to the pacer's first and last steps.
	res, err := r.produce(ctx, produce.Config{Rate: rate, Count: int64(rate * d.Seconds()), BatchTimeout: 5 * time.Millisecond})
	if err != nil {
		return res.Acknowledged, fmt.Errorf("latency phase: %d of %d messages acknowledged: %w", res.Acknowledged, res.Produced, err)
	}
	return res.Acknowledged, nil
}

// produce runs a producer of the run's generator to its input topics, as
// `orderflow generate` does: each message is stamped with the moment it is
// handed over, so that the worker's end-to-end histogram measures from
// produce to commit.
func (r *run) produce(ctx context.Context, pc produce.Config) (produce.Result, error) {
	pc.Generator, pc.Brokers, pc.Transport = r.gen, r.clients.Brokers, r.clients.Transport
	pc.Topics = r.names.Topics.Channels
	p, err := produce.New(pc)
	if err != nil {
		return produce.Result{}, err
	}
	return p.Run(ctx)
}
