package facts

import (
	"time"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/protected"
)

// BuildBlocks is the row building of Write alone, for BenchmarkBuildBlocks:
// it returns the rows of the four blocks.
func BuildBlocks(orders []protected.Order, now time.Time) (int, error) {
	bs, err := build(orders, channel.Default(), now, now.AddDate(0, 0, -21))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range bs.blocks {
		n += b.rows
	}
	return n, nil
}
