package normalize

import "testing"

// BenchmarkNormalizeAmazon measures decode + normalise of a typical two-line order with
// a delivery address, compacted as it arrives from Kafka. "v0-typical" and
// "v2026-typical" time the whole message through Normalize, as the pipeline calls it
// (the channel before the payload, which is read in place); "-payload-first" the same
// message with the payload before the channel, which Normalize keeps as bytes and reads
// again once it knows the channel; "-payload" normalizeAmazon alone, that second read.
// Run it with -cpu 1: the goal is 50,000 orders/s per core.
func BenchmarkNormalizeAmazon(b *testing.B) {
	benchmarkFixtures(b, []benchFixture{
		{"v0-typical", "testdata/amazon/uk-two-lines-typical.json"},
		{"v2026-typical", "testdata/amazon2026/uk-two-lines-typical.json"},
	}, normalizeAmazon)
}
