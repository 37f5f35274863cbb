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
	b := newPacer(rate, DefaultBurst, now, fakeSleep)
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
	slow := newPacer(0.001, DefaultBurst, now, backoff.Sleep)
	slow.tokens = 0
	if _, err := slow.take(ctx, 1); err == nil {
		t.Error("take did not return when its context ended")
	}
}

// TestPacerCatchesUp: after a stall no longer than its burst the pacer lets
// the missed messages out at once, so the pace over the stall holds; a
// stall longer than the burst loses the excess.
func TestPacerCatchesUp(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	fakeSleep := func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }
	for _, c := range []struct {
		burst, stall time.Duration
		want         int
	}{
		{time.Second, 800 * time.Millisecond, 4000},
		{time.Second, 3 * time.Second, 5000},
		{DefaultBurst, 800 * time.Millisecond, 250},
	} {
		b := newPacer(5000, c.burst, now, fakeSleep)
		clock = clock.Add(c.stall)
		got := 0
		for {
			n, err := b.take(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			got += n
			if n < 100 {
				break
			}
		}
		// Give or take the few tokens that accrue while the loop's last take
		// waits.
		if got < c.want || got > c.want+10 {
			t.Errorf("burst %s, stall %s: %d messages at once, want %d", c.burst, c.stall, got, c.want)
		}
	}
}
