package pipeline

import (
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with "equal jitter": half the delay is
// fixed, half random, so retrying workers spread out but never retry at once.
type backoff struct {
	initial, max time.Duration
}

func (b backoff) delay(attempt int) time.Duration {
	d := b.initial
	for range min(attempt, 30) {
		d *= 2
		if d >= b.max {
			d = b.max
			break
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}
