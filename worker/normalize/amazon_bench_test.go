package normalize

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

// BenchmarkNormalizeAmazon measures decode + normalise of a typical two-line order with
// a delivery address, compacted as it arrives from Kafka. "v0-typical" and
// "v2026-typical" time the whole message through Normalize, as the pipeline calls it
// (the channel before the payload, which is read in place); "-payload-first" the same
// message with the payload before the channel, which Normalize keeps as bytes and reads
// again once it knows the channel; "-payload" normalizeAmazon alone, that second read.
// Run it with -cpu 1: the goal is 50,000 orders/s per core.
func BenchmarkNormalizeAmazon(b *testing.B) {
	for _, c := range []struct{ name, file string }{
		{"v0-typical", "testdata/amazon/uk-two-lines-typical.json"},
		{"v2026-typical", "testdata/amazon2026/uk-two-lines-typical.json"},
	} {
		msg := compactAmazonFixture(b, c.file)
		var env struct{ Payload json.RawMessage }
		if err := json.Unmarshal(msg, &env); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			benchmarkAmazon(b, msg, Normalize)
		})
		b.Run(c.name+"-payload-first", func(b *testing.B) {
			benchmarkAmazon(b, payloadFirst(msg), Normalize)
		})
		b.Run(c.name+"-payload", func(b *testing.B) {
			benchmarkAmazon(b, env.Payload, func(p []byte) (order.Order, error) { return normalizeAmazon(p, latestTime) })
		})
	}
}

func benchmarkAmazon(b *testing.B, input []byte, normalize func([]byte) (order.Order, error)) {
	if _, err := normalize(input); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := normalize(input); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}

func compactAmazonFixture(b *testing.B, file string) []byte {
	b.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
