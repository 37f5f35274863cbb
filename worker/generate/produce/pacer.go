package produce

import (
	"context"
	"time"
)

// pacer is a token bucket: it paces production at a rate, allowing bursts of
// burst's worth (by default a twentieth of a second's) so that messages go
// out in batches; a longer burst lets the pace catch up after a stall that
// long (a producer starved of CPU on a shared machine).
type pacer struct {
	rate, burst, tokens float64
	last                time.Time
	now                 func() time.Time
	sleep               func(context.Context, time.Duration) error
}

func newPacer(rate float64, burst time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{rate: rate, burst: max(1, rate*burst.Seconds()), tokens: 1, last: now(), now: now, sleep: sleep}
}

// take waits for at least one token and takes up to limit of them.
func (b *pacer) take(ctx context.Context, limit int) (int, error) {
	for {
		now := b.now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= 1 {
			n := min(limit, int(b.tokens))
			b.tokens -= float64(n)
			return n, nil
		}
		wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
		if err := b.sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return 0, err
		}
	}
}
