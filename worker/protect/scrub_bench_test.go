package protect

import (
	"testing"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// BenchmarkScrub measures the card scan of whole orders: every string field
// of the fixtures (both channels, every shape), without Vault. One op scrubs
// every fixture once; MB/s counts the bytes of their strings.
func BenchmarkScrub(b *testing.B) {
	orders := Fixtures(b)
	benchCardScan = policyCardScan(b)
	var n int64
	for _, o := range orders {
		Strings(o, func(_, v string) { n += int64(len(v)) })
	}
	b.ReportAllocs()
	b.SetBytes(n)
	var tl tally
	for b.Loop() {
		for _, o := range orders {
			_ = benchScrub(o, &tl)
		}
	}
}

func benchScrub(o order.Order, t *tally) scrubbed {
	return scrub(o, string(o.Channel), t, benchCardScan)
}

var benchCardScan *cardScan

// BenchmarkKeep measures copying the kept fields of every fixture, scrubbed,
// into protected orders through one batch's arena, as Protect does. One op
// is the whole batch.
func BenchmarkKeep(b *testing.B) {
	orders := Fixtures(b)
	benchCardScan = policyCardScan(b)
	var tl tally
	scrubbedOrders := make([]scrubbed, len(orders))
	for i, o := range orders {
		scrubbedOrders[i] = benchScrub(o, &tl)
	}
	out := make([]protected.Order, len(orders))
	b.ReportAllocs()
	for b.Loop() {
		a := newArena(orders)
		for i := range scrubbedOrders {
			keep(&out[i], &scrubbedOrders[i], &a)
		}
	}
}
