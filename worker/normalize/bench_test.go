package normalize

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

// benchFixture is a message to benchmark: its sub-benchmarks' name and its file.
type benchFixture struct{ name, file string }

// benchmarkFixtures times each fixture, compacted as messages travel on Kafka, three
// ways: the whole message through Normalize with the payload after the channel (read
// in place, as the pipeline's messages come); name-payload-first, the payload before
// the channel (kept as bytes and read again once the channel is known); and
// name-payload, the channel's payload normaliser alone, that second read.
func benchmarkFixtures(b *testing.B, fixtures []benchFixture, payloadOnly func([]byte, time.Time) (order.Order, error)) {
	for _, c := range fixtures {
		var compact bytes.Buffer
		if err := json.Compact(&compact, normalizetest.Read(b, c.file)); err != nil {
			b.Fatal(err)
		}
		msg := compact.Bytes()
		var env struct{ Payload json.RawMessage }
		if err := json.Unmarshal(msg, &env); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			benchmarkNormalize(b, msg, Normalize)
		})
		b.Run(c.name+"-payload-first", func(b *testing.B) {
			benchmarkNormalize(b, payloadFirst(msg), Normalize)
		})
		b.Run(c.name+"-payload", func(b *testing.B) {
			benchmarkNormalize(b, env.Payload, func(p []byte) (order.Order, error) { return payloadOnly(p, latestTime) })
		})
	}
}

func benchmarkNormalize(b *testing.B, input []byte, normalize func([]byte) (order.Order, error)) {
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
