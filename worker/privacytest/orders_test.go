package privacytest_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// TestOrderValuesListsEveryPersonalField: each personal field of the buyer,
// both addresses and the free text, once; phones also without their spaces;
// places only when asked; nothing shorter than MinLen; nothing that is not
// personal (the order id, the SKU, the country).
func TestOrderValuesListsEveryPersonalField(t *testing.T) {
	addr := func(p string) *order.Address {
		return &order.Address{Name: p + " Name", CompanyName: p + " Company", Line1: p + " Line1", Line2: p + " Line2", Line3: p + " Line3",
			City: p + " City", County: p + " County", StateOrRegion: p + " Region", PostalCode: p + " Postcode", CountryCode: "GB",
			Email: p + "@example.com", Phone: "+44 " + p}
	}
	o := order.Order{
		ChannelOrderID: "202-1234567-7654321",
		Buyer: order.Buyer{Name: "Buyer Name", Email: "buyer@example.com", Username: "buyer-user", UserID: "buyer-id",
			CompanyName: "Buyer Co", TaxID: "GB123456789", PurchaseOrderNumber: "PO-98765", Phone: "+44 7700 900461"},
		ShippingAddress: addr("Ship"), BillingAddress: addr("Bill"),
		Lines:    []order.Line{{SKU: "MUG-000001"}},
		FreeText: []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday"}, {Kind: order.FreeTextCheckoutNote, Text: "short"}},
	}
	// Two copies: each value is listed once.
	got := privacytest.OrderValues{MinLen: 6}.Of([]order.Order{o, o})
	slices.Sort(got)
	want := []string{"+44 7700 900461", "+447700900461", "Buyer Co", "Buyer Name", "GB123456789", "Happy birthday", "PO-98765",
		"buyer-id", "buyer-user", "buyer@example.com"}
	for _, p := range []string{"Ship", "Bill"} {
		want = append(want, p+" Name", p+" Company", p+" Line1", p+" Line2", p+" Line3", p+"@example.com", "+44 "+p, "+44"+p)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OrderValues{MinLen: 6} (-want +got):\n%s", diff)
	}

	got = privacytest.OrderValues{MinLen: 4, Places: true}.Of([]order.Order{o})
	for _, v := range []string{"short", "Ship City", "Bill County", "Ship Region", "Bill Postcode"} {
		if !slices.Contains(got, v) {
			t.Errorf("OrderValues{MinLen: 4, Places: true} lacks %q", v)
		}
	}
	for _, v := range []string{"GB", "MUG-000001", "202-1234567-7654321"} {
		if slices.Contains(got, v) {
			t.Errorf("OrderValues lists %q, which is not personal", v)
		}
	}
}
