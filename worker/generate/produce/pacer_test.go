package produce

import (
	"context"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/backoff"
)

// TestPacer runs the pacer on a fake clock: over a simulated minute it lets
// through the rate's worth of messages, give or take one burst, and never more
// than a burst at once.
func TestPacer(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	fakeSleep := func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
	const rate = 1000.0
	b := newPacer(rate, now, fakeSleep)
	start := clock
	taken := 0
	for clock.Sub(start) < time.Minute {
		n, err := b.take(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 || n > 100 || float64(n) > b.burst {
			t.Fatalf("took %d tokens (burst %v)", n, b.burst)
		}
		taken += n
		clock = clock.Add(time.Millisecond) // the work of producing them
	}
	if want := rate * 60; float64(taken) < want-b.burst-1 || float64(taken) > want+b.burst+1 {
		t.Errorf("%d messages in a minute at %v/s", taken, rate)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := newPacer(0.001, now, backoff.Sleep)
	slow.tokens = 0
	if _, err := slow.take(ctx, 1); err == nil {
		t.Error("take did not return when its context ended")
	}
}
