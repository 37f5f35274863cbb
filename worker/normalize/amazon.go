package normalize

import "github.com/orderflow/orderflow/worker/order"

// normalizeAmazon is being written (issue 3).
func normalizeAmazon(payload []byte) (order.Order, error) {
	return order.Order{}, fail(ReasonSchemaMismatch, "payload", "amazon normaliser not written yet")
}
