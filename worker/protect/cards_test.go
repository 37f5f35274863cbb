package protect_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestCardNumbersNeverLeaveTheStage hides card numbers where buyers and
// sellers put them (an address line, a billing line, a gift message, a listing
// title, a buyer's name) in realistic orders, and searches everything the
// stage returns, ciphertexts decrypted, for any run of their digits.
func TestCardNumbersNeverLeaveTheStage(t *testing.T) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig(t, "")
	s := newStage(t, newClient(t, cfg), reg, nil)
	tenant := newTenant(t, admin)

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
		"shipping_address.line2": "4111 1111 1111 1111",
		"free_text.text":         "5555-5555-5555-4444",
		"lines.title":            "378282246310005",
		"billing_address.line1":  "6011 0009 9013 9424",
		"buyer.name":             "4000056655665556",
	}
	a := *withShipping.ShippingAddress
	a.Line2 = "Flat 3, card " + cards["shipping_address.line2"] + " exp 09/28"
	withShipping.ShippingAddress = &a
	withShipping.FreeText = []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday Gran! If they ring, pay with " + cards["free_text.text"] + " x"}}
	withShipping.Lines = append([]order.Line(nil), withShipping.Lines...)
	withShipping.Lines[0].Title = "Gift card £50 — " + cards["lines.title"]
	b := *withBilling.BillingAddress
	b.Line1 = "PO Box 12, " + cards["billing_address.line1"]
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
		for _, tok := range []protect.Token{o.Buyer.Name, o.Buyer.Email, o.Buyer.Phone, o.Buyer.Username, o.Buyer.UserID} {
			everything.WriteString(tok.Value() + " ")
		}
		for _, c := range []protect.Ciphertext{o.DeliveryLabel, o.InvoiceParty} {
			if c.IsZero() {
				continue
			}
			d := decrypt(t, admin, tenant, c)
			for _, p := range d.Paths() {
				everything.WriteString(d.Get(p) + " ")
			}
		}
	}
	text := everything.String()
	compact := strings.NewReplacer(" ", "", "-", "").Replace(text)
	for where, card := range cards {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(card)
		if strings.Contains(text, card) || strings.Contains(compact, digits) || strings.Contains(compact, digits[4:12]) {
			t.Errorf("the card number hidden in %s is in the output", where)
		}
	}
	if !strings.Contains(text, "Flat 3, card "+cardnumber.Replacement+" exp 09/28") {
		t.Errorf("the rest of the address line was not kept in the label")
	}
	if outs[0].Lines[0].Title != "Gift card £50 — "+cardnumber.Replacement {
		t.Errorf("title = %q", outs[0].Lines[0].Title)
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
	if got := telemetrytest.Sum(t, reg, "orderflow_free_text_dropped_total", "channel=amazon", "kind=gift_message"); got != 1 {
		t.Errorf("free text dropped = %v, want 1", got)
	}
}
