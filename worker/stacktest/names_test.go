package stacktest

import (
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

// A unique name is a valid tenant id whatever the random bytes, including the
// ones whose hex is all decimal digits (a Luhn-valid run of 12 would read as a
// card number).
func TestUniqueNameIsAlwaysAValidTenantID(t *testing.T) {
	for range 20000 {
		if n := UniqueName("t"); !order.ValidTenantID(n) {
			t.Fatalf("UniqueName gave %q, not a valid tenant id", n)
		}
	}
}
