package normalize

import (
	"bytes"
	"encoding/json"
	"testing"
)

// BenchmarkNormalizeEbay measures decode + normalise of one message, the way the
// pipeline calls it (Normalize, envelope included, the payload read in place after the
// channel), with the payload before the channel (-payload-first: kept as bytes and read
// again once the channel is known) and the eBay normaliser alone (-payload, that second
// read). Messages are the fixtures compacted, as they travel on Kafka: typical is a
// two-line order with its addresses (about 3.5 KB), large ten lines.
func BenchmarkNormalizeEbay(b *testing.B) {
	for _, c := range []struct{ name, fixture string }{
		{"typical", "typical-two-line"},
		{"large", "large-ten-line"},
	} {
		var compact bytes.Buffer
		if err := json.Compact(&compact, ebayMessage(b, c.fixture, nil)); err != nil {
			b.Fatal(err)
		}
		msg := compact.Bytes()
		var env struct{ Payload json.RawMessage }
		if err := json.Unmarshal(msg, &env); err != nil {
			b.Fatal(err)
		}
		payload := []byte(env.Payload)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
		})
		b.Run(c.name+"-payload-first", func(b *testing.B) {
			first := payloadFirst(msg)
			b.SetBytes(int64(len(first)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(first); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
		})
		b.Run(c.name+"-payload", func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := normalizeEbay(payload, latestTime); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
		})
	}
}
