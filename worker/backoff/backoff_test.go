package backoff

import (
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
