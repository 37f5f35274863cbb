package normalize

import "github.com/orderflow/orderflow/worker/order"

// normalizeEbay is being written (issue 3).
func normalizeEbay(payload []byte) (order.Order, error) {
	return order.Order{}, fail(ReasonSchemaMismatch, "payload", "ebay normaliser not written yet")
}
