package normalize

import "testing"

// BenchmarkNormalizeEbay measures decode + normalise of one message, the way the
// pipeline calls it (Normalize, envelope included, the payload read in place after the
// channel), with the payload before the channel (-payload-first: kept as bytes and read
// again once the channel is known) and the eBay normaliser alone (-payload, that second
// read). Messages are the fixtures compacted, as they travel on Kafka: typical is a
// two-line order with its addresses (about 3.5 KB), large ten lines.
func BenchmarkNormalizeEbay(b *testing.B) {
	benchmarkFixtures(b, []benchFixture{
		{"typical", "testdata/ebay/typical-two-line.json"},
		{"large", "testdata/ebay/large-ten-line.json"},
	}, normalizeEbay)
}
