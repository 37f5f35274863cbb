package generate

import (
	"testing"
	"time"
)

// BenchmarkNext measures generating one message (rendering, copying out and
// tallying it): the generator must far outpace the worker.
func BenchmarkNext(b *testing.B) {
	g, err := New(Config{Seed: 1, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	b.ReportAllocs()
	for b.Loop() {
		m := g.Next()
		bytes += int64(len(m.Key) + len(m.Value))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(bytes)/float64(b.N), "B/msg")
}
