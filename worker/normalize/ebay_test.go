package normalize

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

func TestEbayGolden(t *testing.T) { runGoldenDir(t, "ebay") }

func TestEbayBadInputs(t *testing.T) {
	runBadCases(t, "ebay/bad", []badCase{
		// A payload cut short is the message cut short, and malformed JSON outranks
		// every other fault.
		{"ebay/bad/truncated-payload.bad.json", "malformed_json: truncated JSON"},
		{"ebay/bad/value-number.bad.json", "schema_mismatch: payload.lineItems[0].lineItemCost.value: JSON number where the schema has string"},
		{"ebay/bad/quantity-string.bad.json", "schema_mismatch: payload.lineItems[1].quantity: JSON string where the schema has integer"},
		{"ebay/bad/missing-order-id.bad.json", "missing_field: payload.orderId: missing"},
		{"ebay/bad/missing-last-modified.bad.json", "missing_field: payload.lastModifiedDate: missing"},
		{"ebay/bad/amount-two-points.bad.json", `bad_amount: payload.lineItems[0].lineItemCost.value: amount is not a decimal number (6 characters: digits, punctuation)`},
		{"ebay/bad/amount-thousands-separator.bad.json", `bad_amount: payload.pricingSummary.priceSubtotal.value: amount is not a decimal number (8 characters: digits, punctuation)`},
		{"ebay/bad/amount-nan.bad.json", `bad_amount: payload.pricingSummary.total.value: amount is not a decimal number (3 characters: letters)`},
		{"ebay/bad/currency-four-letters.bad.json", `bad_amount: payload.lineItems[0].deliveryCost.shippingCost.currency: currency is not an ISO 4217 code (three capital letters) (4 characters: letters)`},
		{"ebay/bad/negative-quantity.bad.json", `invalid_value: payload.lineItems[0].quantity: quantity is negative`},
		{"ebay/bad/unknown-payment-status.bad.json", `invalid_value: payload.orderPaymentStatus: is not a known order payment status (7 characters: letters)`},
		{"ebay/bad/unknown-fulfilment-status.bad.json", `invalid_value: payload.orderFulfillmentStatus: is not a known order fulfilment status (7 characters: letters)`},
		{"ebay/bad/unknown-cancel-state.bad.json", `invalid_value: payload.cancelStatus.cancelState: is not a known cancel state (16 characters: letters, punctuation)`},
		{"ebay/bad/unknown-line-status.bad.json", `invalid_value: payload.lineItems[1].lineItemFulfillmentStatus: is not a known line fulfilment status (10 characters: letters)`},
		{"ebay/bad/mixed-currencies.bad.json", `bad_amount: payload.lineItems[1].lineItemCost.currency: differs from the order's currency`},
		{"ebay/bad/bad-timestamp.bad.json", `invalid_value: payload.creationDate: timestamp is not RFC 3339 (16 characters: digits, spaces, punctuation)`},
		{"ebay/bad/payload-array.bad.json", "schema_mismatch: payload: JSON array where the schema has object"},
		{"ebay/bad/no-line-items.bad.json", "missing_field: payload.lineItems: missing"},
		{"ebay/bad/missing-line-item-id.bad.json", "missing_field: payload.lineItems[1].lineItemId: missing"},
		{"ebay/bad/repeated-line-item-id.bad.json", `invalid_value: payload.lineItems[1].lineItemId: repeats the id of an earlier line (lineItems[0])`},
		{"ebay/bad/missing-total.bad.json", "missing_field: payload.pricingSummary.total: missing"},
		{"ebay/bad/name-wrong-type.bad.json", "schema_mismatch: payload.fulfillmentStartInstructions[0].shippingStep.shipTo.fullName: JSON array where the schema has string"},
		{"ebay/bad/missing-cancel-status.bad.json", "missing_field: payload.cancelStatus.cancelState: missing"},
		{"ebay/bad/refund-status-unknown.bad.json", `invalid_value: payload.paymentSummary.refunds[0].refundStatus: is not a known refund status (4 characters: letters)`},
	})
}

// TestEbayStatusMatrix covers every combination of eBay's three order states.
func TestEbayStatusMatrix(t *testing.T) {
	fulfilments := []string{"NOT_STARTED", "IN_PROGRESS", "FULFILLED"}
	// For each cancel state and payment status, the status for each fulfilment
	// status above, in order.
	want := []struct {
		cancel, payment string
		status          [3]order.Status
	}{
		{"NONE_REQUESTED", "PAID", [3]order.Status{"unshipped", "partially_shipped", "shipped"}},
		{"NONE_REQUESTED", "PARTIALLY_REFUNDED", [3]order.Status{"unshipped", "partially_shipped", "shipped"}},
		{"NONE_REQUESTED", "FULLY_REFUNDED", [3]order.Status{"cancelled", "partially_shipped", "shipped"}},
		{"NONE_REQUESTED", "PENDING", [3]order.Status{"pending", "pending", "pending"}},
		{"NONE_REQUESTED", "FAILED", [3]order.Status{"payment_failed", "payment_failed", "payment_failed"}},
		{"IN_PROGRESS", "PAID", [3]order.Status{"unshipped", "partially_shipped", "shipped"}},
		{"IN_PROGRESS", "PARTIALLY_REFUNDED", [3]order.Status{"unshipped", "partially_shipped", "shipped"}},
		{"IN_PROGRESS", "FULLY_REFUNDED", [3]order.Status{"cancelled", "partially_shipped", "shipped"}},
		{"IN_PROGRESS", "PENDING", [3]order.Status{"pending", "pending", "pending"}},
		{"IN_PROGRESS", "FAILED", [3]order.Status{"payment_failed", "payment_failed", "payment_failed"}},
		{"CANCELED", "PAID", [3]order.Status{"cancelled", "cancelled", "cancelled"}},
		{"CANCELED", "PARTIALLY_REFUNDED", [3]order.Status{"cancelled", "cancelled", "cancelled"}},
		{"CANCELED", "FULLY_REFUNDED", [3]order.Status{"cancelled", "cancelled", "cancelled"}},
		{"CANCELED", "PENDING", [3]order.Status{"cancelled", "cancelled", "cancelled"}},
		{"CANCELED", "FAILED", [3]order.Status{"cancelled", "cancelled", "cancelled"}},
	}
	payments := map[string]order.PaymentStatus{
		"PAID": "paid", "PARTIALLY_REFUNDED": "partially_refunded", "FULLY_REFUNDED": "refunded",
		"PENDING": "pending", "FAILED": "failed",
	}
	if len(want)*len(fulfilments) != 3*5*3 {
		t.Fatalf("the table covers %d combinations, want all 45", len(want)*len(fulfilments))
	}
	for _, w := range want {
		for k, f := range fulfilments {
			st, ps, requested, err := ebayStatus(f, w.payment, w.cancel)
			if err != nil {
				t.Errorf("%s/%s/%s: %v", f, w.payment, w.cancel, err)
				continue
			}
			if st != w.status[k] || ps != payments[w.payment] || requested != (w.cancel == "IN_PROGRESS") {
				t.Errorf("%s/%s/%s: got %s, %s, cancel requested %v; want %s, %s, %v",
					f, w.payment, w.cancel, st, ps, requested, w.status[k], payments[w.payment], w.cancel == "IN_PROGRESS")
			}
		}
	}
	// The same through Normalize, for one combination of each row, with SourceStatus.
	for _, w := range want {
		msg := ebayMessage(t, "typical-two-line", func(p map[string]any) {
			p["orderFulfillmentStatus"] = "FULFILLED"
			p["orderPaymentStatus"] = w.payment
			p["cancelStatus"].(map[string]any)["cancelState"] = w.cancel
		})
		o, err := Normalize(msg)
		if err != nil {
			t.Fatalf("%s/%s: %v", w.payment, w.cancel, err)
		}
		if o.Status != w.status[2] || o.SourceStatus != "FULFILLED/"+w.payment+"/"+w.cancel {
			t.Errorf("FULFILLED/%s/%s: status %s, source status %q", w.payment, w.cancel, o.Status, o.SourceStatus)
		}
	}
	for _, bad := range [][3]string{{"SHIPPED", "PAID", "NONE_REQUESTED"}, {"FULFILLED", "paid", "NONE_REQUESTED"}, {"FULFILLED", "PAID", "CANCELLED"}} {
		if _, _, _, err := ebayStatus(bad[0], bad[1], bad[2]); ReasonOf(err) != ReasonInvalidValue {
			t.Errorf("%v: error %v, want %s", bad, err, ReasonInvalidValue)
		}
	}
}

// ebayRaw is the part of a fixture's eBay payload that the amount checks read with
// encoding/json, independently of the normaliser.
type ebayRaw struct {
	Payload struct {
		PricingSummary map[string]struct{ Value string } `json:"pricingSummary"`
		LineItems      []struct {
			LineItemCost struct{ Value string } `json:"lineItemCost"`
			Total        struct{ Value string } `json:"total"`
			DeliveryCost struct {
				ShippingCost   struct{ Value string } `json:"shippingCost"`
				DiscountAmount struct{ Value string } `json:"discountAmount"`
			} `json:"deliveryCost"`
			AppliedPromotions []struct {
				DiscountAmount struct{ Value string } `json:"discountAmount"`
			} `json:"appliedPromotions"`
			Taxes []struct {
				Amount struct{ Value string } `json:"amount"`
			} `json:"taxes"`
		} `json:"lineItems"`
	} `json:"payload"`
}

func amountOf(t *testing.T, s string) order.Amount {
	t.Helper()
	if s == "" {
		return 0
	}
	a, err := order.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestEbayAmountInvariants checks, to the penny, for every fixture:
//   - eBay's own arithmetic (sel:PricingSummary, sel:LineItem), so that the fixtures
//     are orders eBay could send: priceSubtotal is the sum of lineItemCost; deliveryCost
//     the sum of shippingCost; total = priceSubtotal + priceDiscount + deliveryCost +
//     deliveryDiscount + tax (discounts negative); each line's total = lineItemCost -
//     promotions + shippingCost - shipping discount + taxes;
//   - the canonical order's: subtotal is the sum of the lines' totals; discount,
//     shipping (net of delivery discounts) the sums of the lines'; tax the sum of the lines' (seller) tax; total =
//     subtotal - discount + shipping + tax, plus the collect-and-remit tax exactly when
//     eBay includes it (it repeats it in the lines' taxes); a unit price times the
//     quantity is the line total; refunds never exceed the total, and make it up
//     exactly when the order is refunded in full.
func TestEbayAmountInvariants(t *testing.T) {
	// The bad messages are in testdata/ebay/bad, out of the pattern's reach.
	for _, input := range normalizetest.Files(t, "testdata/ebay/*.json") {
		t.Run(strings.TrimSuffix(filepath.Base(input), ".json"), func(t *testing.T) {
			msg := normalizetest.Read(t, input)
			var raw ebayRaw
			if err := json.Unmarshal(msg, &raw); err != nil {
				t.Fatal(err)
			}
			p := raw.Payload
			ps := func(k string) order.Amount { return amountOf(t, p.PricingSummary[k].Value) }
			var cost, shipping order.Amount
			for i, l := range p.LineItems {
				c, s := amountOf(t, l.LineItemCost.Value), amountOf(t, l.DeliveryCost.ShippingCost.Value)
				cost, shipping = cost+c, shipping+s
				total := c + s - amountOf(t, l.DeliveryCost.DiscountAmount.Value)
				for _, pr := range l.AppliedPromotions {
					total -= amountOf(t, pr.DiscountAmount.Value)
				}
				for _, tx := range l.Taxes {
					total += amountOf(t, tx.Amount.Value)
				}
				if got := amountOf(t, l.Total.Value); got != total {
					t.Errorf("eBay: lineItems[%d].total %s, want %s", i, got, total)
				}
			}
			if ps("priceSubtotal") != cost {
				t.Errorf("eBay: priceSubtotal %s, lines' cost %s", ps("priceSubtotal"), cost)
			}
			if ps("deliveryCost") != shipping {
				t.Errorf("eBay: deliveryCost %s, lines' shipping %s", ps("deliveryCost"), shipping)
			}
			discount := ps("priceDiscount") + ps("priceDiscountSubtotal")
			if want := ps("priceSubtotal") + discount + ps("deliveryCost") + ps("deliveryDiscount") + ps("tax"); ps("total") != want {
				t.Errorf("eBay: total %s, want %s", ps("total"), want)
			}

			o, err := Normalize(msg)
			if err != nil {
				t.Fatal(err)
			}
			var lineTotal, lineDiscount, lineShipping, lineTax, collected, refunded order.Amount
			for _, l := range o.Lines {
				lineTotal += l.LineTotal.Amount
				lineDiscount += l.Discount.Amount
				lineShipping += l.Shipping.Amount
				lineTax += l.Tax.Amount
				if !l.UnitPrice.IsZero() && l.UnitPrice.Amount*order.Amount(l.Quantity) != l.LineTotal.Amount {
					t.Errorf("line %s: unit price %s x %d is not the line total %s", l.LineID, l.UnitPrice, l.Quantity, l.LineTotal)
				}
			}
			for _, mt := range o.MarketplaceTaxes {
				collected += mt.Amount.Amount
			}
			tt := o.Totals
			if tt.Subtotal.Amount != lineTotal {
				t.Errorf("subtotal %s, lines %s", tt.Subtotal, lineTotal)
			}
			if tt.Discount.Amount != lineDiscount {
				t.Errorf("discount %s, lines %s", tt.Discount, lineDiscount)
			}
			if tt.Shipping.Amount != lineShipping {
				t.Errorf("shipping %s, lines %s", tt.Shipping, lineShipping)
			}
			if tt.Tax.Amount != lineTax {
				t.Errorf("tax %s, lines' seller tax %s", tt.Tax, lineTax)
			}
			want := tt.Subtotal.Amount - tt.Discount.Amount + tt.Shipping.Amount + tt.Tax.Amount
			// eBay includes collect-and-remit tax when it repeats it in the lines' taxes.
			included := len(p.LineItems) > 0 && len(p.LineItems[0].Taxes) > 0 && collected != 0
			if included {
				want += collected
			}
			if tt.Total.Amount != want {
				t.Errorf("total %s, want %s (collect-and-remit %s included: %v)", tt.Total, want, collected, included)
			}
			for _, r := range o.Refunds {
				if r.Status == "" || r.Status == "refunded" {
					refunded += r.Amount.Amount
				}
			}
			if refunded > tt.Total.Amount {
				t.Errorf("refunded %s, more than the total %s", refunded, tt.Total)
			}
			if o.PaymentStatus == order.PaymentRefunded && refunded != tt.Total.Amount {
				t.Errorf("refunded in full, but refunds make %s of %s", refunded, tt.Total)
			}
		})
	}
}

// TestEbayUnitPrice: a unit price is given only when the line total divides exactly.
func TestEbayUnitPrice(t *testing.T) {
	for _, c := range []struct {
		cost string
		qty  float64
		want string
	}{{"10.0", 3, ""}, {"10.02", 3, "3.34"}, {"0.0001", 1, "0.0001"}, {"1.0", 3, ""}, {"0.0", 2, "0.00"}, {"5.0", 0, ""}} {
		msg := ebayMessage(t, "typical-two-line", func(p map[string]any) {
			l := p["lineItems"].([]any)[0].(map[string]any)
			l["lineItemCost"].(map[string]any)["value"] = c.cost
			l["quantity"] = c.qty
		})
		o, err := Normalize(msg)
		if err != nil {
			t.Fatalf("%s x %v: %v", c.cost, c.qty, err)
		}
		got := ""
		if u := o.Lines[0].UnitPrice; !u.IsZero() {
			got = u.Amount.String()
		}
		if got != c.want {
			t.Errorf("%s / %v: unit price %q, want %q", c.cost, c.qty, got, c.want)
		}
	}
}

// TestEbayRepeatedLineIDs: a repeated line id is refused in short and long orders.
func TestEbayRepeatedLineIDs(t *testing.T) {
	for _, n := range []int{2, 40} {
		msg := ebayMessage(t, "typical-two-line", func(p map[string]any) {
			lines := p["lineItems"].([]any)
			for len(lines) < n {
				l := map[string]any{}
				for k, v := range lines[0].(map[string]any) {
					l[k] = v
				}
				l["lineItemId"] = fmt.Sprint(20000000000000 + len(lines))
				lines = append(lines, l)
			}
			lines[n-1].(map[string]any)["lineItemId"] = lines[0].(map[string]any)["lineItemId"]
			p["lineItems"] = lines
		})
		_, err := Normalize(msg)
		want := fmt.Sprintf("invalid_value: payload.lineItems[%d].lineItemId: repeats the id of an earlier line (lineItems[0])", n-1)
		if err == nil || err.Error() != want {
			t.Errorf("%d lines: error %v, want %s", n, err, want)
		}
	}
}

// TestEbayConvertedAmounts: amounts are read in the order's currency; an amount that
// eBay converted out of it is read from its pre-conversion pair.
func TestEbayConvertedAmounts(t *testing.T) {
	o, err := Normalize(ebayMessage(t, "eur-converted-refund", nil))
	if err != nil {
		t.Fatal(err)
	}
	if r := o.Refunds[0].Amount; r != (order.Money{Amount: 99000, Currency: "EUR"}) {
		t.Errorf("refund %s, want the pre-conversion 9.90 EUR", r)
	}
	// Converted amounts whose value is in the order's currency keep it.
	o, err = Normalize(ebayMessage(t, "international-shipping-hub", nil))
	if err != nil {
		t.Fatal(err)
	}
	if tot := o.Totals.Total; tot != (order.Money{Amount: 392500, Currency: "GBP"}) {
		t.Errorf("total %s, want 39.25 GBP", tot)
	}
}

func TestEbayErrorsNeverQuotePersonalData(t *testing.T) {
	for _, edit := range []func(p map[string]any){
		func(p map[string]any) { p["buyer"].(map[string]any)["username"] = 42.5 },
		func(p map[string]any) {
			p["buyer"].(map[string]any)["buyerRegistrationAddress"].(map[string]any)["email"] = map[string]any{"secret": "m.ellison@example.co.uk"}
		},
		func(p map[string]any) { p["buyerCheckoutNotes"] = []any{"Margaret Ellison"} },
	} {
		_, err := Normalize(ebayMessage(t, "typical-two-line", edit))
		if err == nil {
			t.Fatal("want an error")
		}
		for _, pii := range []string{"hollyhock", "Ellison", "m.ellison", "42.5", "Valley"} {
			if strings.Contains(err.Error(), pii) {
				t.Errorf("error %q quotes the payload", err)
			}
		}
	}
}

// TestEbayAmountsWithoutCurrency: an amount made from a discount or a tax that has no
// counterpart still carries the order's currency (found by FuzzNormalize: the
// subtraction in place left -1.00 with no currency).
func TestEbayAmountsWithoutCurrency(t *testing.T) {
	gbp := func(v string) map[string]any { return map[string]any{"value": v, "currency": "GBP"} }
	for _, c := range []struct {
		name  string
		edit  func(p map[string]any)
		check func(o order.Order) bool
	}{
		{"line delivery discount without shipping cost", func(p map[string]any) {
			p["lineItems"].([]any)[0].(map[string]any)["deliveryCost"] = map[string]any{"discountAmount": gbp("1.00")}
		}, func(o order.Order) bool { return o.Lines[0].Shipping == order.Money{Amount: -10000, Currency: "GBP"} }},
		{"negative collect-and-remit tax without an order tax", func(p map[string]any) {
			l := p["lineItems"].([]any)[0].(map[string]any)
			l["taxes"] = []any{map[string]any{"amount": gbp("-1.00")}}
			l["ebayCollectAndRemitTaxes"] = []any{map[string]any{"taxType": "VAT", "amount": gbp("-1.00")}}
		}, func(o order.Order) bool { return o.Totals.Tax.IsZero() }},
	} {
		o, err := Normalize(ebayMessage(t, "typical-two-line", c.edit))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkInvariants(t, o)
		if !c.check(o) {
			t.Errorf("%s: lines %+v, totals %+v", c.name, o.Lines, o.Totals)
		}
	}
}
