package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsWithJitterUpToTheCap(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for retry, full := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		full *= time.Millisecond
		for range 50 {
			if d := b.Delay(retry); d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", retry, d, full/2, full)
			}
		}
	}
	if d := b.Delay(1000); d > time.Second {
		t.Errorf("Delay(1000) = %s overflows the cap", d)
	}
}

func TestSleepWaitsOrEndsWithTheContext(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour: a Sleep that ignored ctx would outlast the test's timeout.
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled, 1h) = %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled, 0) = %v, want context.Canceled", err)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Errorf("Sleep(-1s) = %v, want nil", err)
	}
}
