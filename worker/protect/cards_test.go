package protect_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// TestCardNumbersNeverLeaveTheStage hides card numbers where buyers and
// sellers put them (address lines, a gift message, a listing title, a SKU, the
// seller's order reference, a buyer's name), spelt every way the scanner must
// read (odd separators, invisible characters, Unicode digits, a leading plus,
// an issuer outside the old table), in realistic orders, and searches
// everything the stage returns, ciphertexts decrypted and digits of every
// script read as ASCII, for any 12 digits of any of them.
func TestCardNumbersNeverLeaveTheStage(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig("")
	s := newStage(t, newClient(t, cfg), reg, nil)
	tenant := transittest.NewTenant(t, admin)

	var withShipping, withBilling order.Order
	for _, o := range protect.Fixtures(t) {
		if o.ShippingAddress != nil && o.Channel == order.ChannelAmazon && withShipping.ChannelOrderID == "" {
			withShipping = o
		}
		if o.BillingAddress != nil && o.Channel == order.ChannelEbay && withBilling.ChannelOrderID == "" {
			withBilling = o
		}
	}
	cards := map[string]string{ // where -> card as typed
		"shipping_address.line2": "4111.1111.1111.1111",
		"free_text.text":         "5555\u200b5555\u200b5555\u200b4444",
		"lines.title":            "３７８２ ８２２４６３ １０００５",
		"lines.sku":              "6011–0009–9013–9424",
		"seller_order_id":        "+2200 1234 5678 9010",
		"billing_address.line1":  "6011\t0009\t9013\t9424",
		"buyer.name":             "٤٠٠٠٠٥٦٦٥٥٦٦٥٥٥٦",
	}
	a := *withShipping.ShippingAddress
	a.Line2 = "Flat B, card " + cards["shipping_address.line2"] + " exp 09/28"
	withShipping.ShippingAddress = &a
	withShipping.SellerOrderID = "ref " + cards["seller_order_id"]
	withShipping.FreeText = []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday Gran! If they ring, pay with " + cards["free_text.text"] + " x"}}
	withShipping.Lines = append([]order.Line(nil), withShipping.Lines...)
	withShipping.Lines[0].Title = "Gift card top-up — " + cards["lines.title"]
	withShipping.Lines[0].SKU = "GC-" + cards["lines.sku"]
	b := *withBilling.BillingAddress
	b.Line1 = "PO Box, " + cards["billing_address.line1"]
	withBilling.BillingAddress = &b
	withBilling.Buyer.Name = "Ann Smith " + cards["buyer.name"]

	outs, err := s.Protect(ctx, forTenant([]order.Order{withShipping, withBilling}, tenant))
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}

	var everything strings.Builder
	for _, o := range outs {
		j, _ := json.Marshal(o)
		fmt.Fprintf(&everything, "%s %v %+v %#v ", j, o, o, o)
		for _, tok := range []protected.Token{o.Buyer.Name, o.Buyer.Email, o.Buyer.Phone, o.Buyer.Username, o.Buyer.UserID} {
			everything.WriteString(tok.Value() + " ")
		}
		for _, c := range []protected.Ciphertext{o.DeliveryLabel, o.InvoiceParty} {
			if c.IsZero() {
				continue
			}
			d := decrypt(t, admin, tenant, c)
			for _, p := range d.Paths() {
				everything.WriteString(d.Get(p) + " ")
			}
		}
	}
	digits := privacytest.Digits(everything.String())
	for where, card := range cards {
		d := privacytest.Digits(card)
		for k := 0; k+12 <= len(d); k++ {
			if strings.Contains(digits, d[k:k+12]) {
				t.Errorf("12 digits of the card number hidden in %s are in the output", where)
				break
			}
		}
	}
	text := everything.String()
	if !strings.Contains(text, "Flat B, card "+cardnumber.Replacement+" exp 09/28") {
		t.Errorf("the rest of the address line was not kept in the label")
	}
	if got := outs[0].Lines[0].Title; got != "Gift card top-up — "+cardnumber.Replacement {
		t.Errorf("title = %q", got)
	}
	if got := outs[0].Lines[0].SKU; got != "GC-"+cardnumber.Replacement {
		t.Errorf("sku = %q", got)
	}
	for where := range cards {
		ch := "amazon"
		if where == "billing_address.line1" || where == "buyer.name" {
			ch = "ebay"
		}
		if got := telemetrytest.Sum(t, reg, "orderflow_card_numbers_redacted_total", "channel="+ch, "field="+where); got != 1 {
			t.Errorf("orderflow_card_numbers_redacted_total{channel=%q,field=%q} = %v, want 1", ch, where, got)
		}
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_card_numbers_redacted_total"); got != float64(len(cards)) {
		t.Errorf("%v card numbers counted, want %d", got, len(cards))
	}
	for scheme, want := range map[string]float64{"visa": 2, "mastercard": 1, "amex": 1, "discover": 2, "other": 1} {
		if got := telemetrytest.Sum(t, reg, "orderflow_card_numbers_redacted_by_scheme_total", "scheme="+scheme); got != want {
			t.Errorf("orderflow_card_numbers_redacted_by_scheme_total{scheme=%q} = %v, want %v", scheme, got, want)
		}
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_free_text_dropped_total", "channel=amazon", "kind=gift_message"); got != 1 {
		t.Errorf("free text dropped = %v, want 1", got)
	}
}
