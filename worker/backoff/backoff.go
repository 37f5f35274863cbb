// Package backoff computes the waits between retries: capped exponential backoff
// with "equal jitter" (half the delay fixed, half random), so that clients retrying
// together spread out but none retries at once.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff doubles from Initial up to Max.
type Backoff struct {
	Initial, Max time.Duration
}

// Delay is the wait before retry number retry (0 for the first): within
// [d/2, d] where d = min(Initial * 2^retry, Max).
func (b Backoff) Delay(retry int) time.Duration {
	d := b.Initial
	for range min(retry, 30) {
		d *= 2
		if d >= b.Max {
			d = b.Max
			break
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

// Sleep waits d between two tries, or until ctx ends: then it returns
// ctx.Err() at once, so a retry loop stops with its context. A d of zero or
// less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
