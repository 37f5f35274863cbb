package normalize

import (
	"encoding/json"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

// FuzzNormalizeAmazon feeds arbitrary Amazon payloads, seeded from every fixture, to the
// normaliser directly and inside an envelope. Nothing may panic; every failure must be
// an *Error with a known Reason and a short message; every success must be a canonical
// order that holds the invariants, adds up, and marshals.
func FuzzNormalizeAmazon(f *testing.F) {
	for _, payload := range amazonFixturePayloads(f) {
		f.Add(payload)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if _, err := normalizeAmazon(payload, latestTime); err != nil {
			checkFuzzError(t, err)
		}
		msg := make([]byte, 0, len(payload)+100)
		msg = append(msg, `{"tenant_id":"fuzz","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":`...)
		msg = append(msg, payload...)
		msg = append(msg, '}')
		o, err := Normalize(msg)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		checkInvariants(t, o)
		checkAmazonSums(t, o)
		if _, err := json.Marshal(o); err != nil {
			t.Fatalf("canonical order does not marshal: %v", err)
		}
	})
}

// checkAmazonSums is the part of checkAmazonAmounts that holds for any input: the
// totals are the lines' sums (Amazon's own total is not checked, since a fuzzed one
// need not add up), quantities and discounts are not negative, and every amount is in
// the order's one currency.
func checkAmazonSums(t *testing.T, o order.Order) {
	t.Helper()
	var sub, ship, disc order.Money
	currency := ""
	for _, m := range allMoney(o) {
		if m.IsZero() {
			continue
		}
		if currency == "" {
			currency = m.Currency
		} else if m.Currency != currency {
			t.Fatalf("amounts in %s and %s", currency, m.Currency)
		}
	}
	for _, l := range o.Lines {
		if l.Discount.Amount < 0 || l.DiscountTax.Amount < 0 {
			t.Fatalf("line %s: negative discount", l.LineID)
		}
		sub, _ = sub.Add(l.LineTotal)
		ship, _ = ship.Add(l.Shipping)
		disc, _ = disc.Add(l.Discount)
	}
	if sub != o.Totals.Subtotal || ship != o.Totals.Shipping || disc != o.Totals.Discount {
		t.Fatalf("totals %+v are not the lines' sums %v %v %v", o.Totals, sub, ship, disc)
	}
	if o.ShippingAddress != nil && *o.ShippingAddress == (order.Address{}) {
		t.Fatalf("empty shipping address kept")
	}
}
