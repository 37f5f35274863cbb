package normalize

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
	"github.com/orderflow/orderflow/worker/order"
)

func TestAmazonGolden(t *testing.T) {
	t.Run("v0", func(t *testing.T) { runGoldenDir(t, "amazon") })
	t.Run("v2026", func(t *testing.T) { runGoldenDir(t, "amazon2026") })
}

func TestAmazonBadInputs(t *testing.T) {
	runBadCases(t, "amazon/bad", []badCase{
		// A payload cut short is the message cut short, and malformed JSON outranks
		// every other fault.
		{"amazon/bad/truncated-payload.bad.json", "malformed_json: truncated JSON"},
		{"amazon/bad/payload-not-object.bad.json", "schema_mismatch: payload: JSON array where the schema has object"},
		{"amazon/bad/no-order.bad.json", "missing_field: payload.order: missing"},
		{"amazon/bad/no-items.bad.json", "missing_field: payload.items: missing"},
		{"amazon/bad/amount-number.bad.json", "schema_mismatch: payload.items[1].ItemPrice.Amount: JSON number where the schema has string"},
		{"amazon/bad/quantity-string.bad.json", "schema_mismatch: payload.items[0].QuantityOrdered: JSON string where the schema has integer"},
		{"amazon/bad/quantity-fraction.bad.json", "schema_mismatch: payload.items[0].QuantityOrdered: JSON number where the schema has integer"},
		{"amazon/bad/address-string.bad.json", "schema_mismatch: payload.order.ShippingAddress: JSON string where the schema has object"},
		{"amazon/bad/missing-amazon-order-id.bad.json", "missing_field: payload.order.AmazonOrderId: missing"},
		{"amazon/bad/missing-last-update-date.bad.json", "missing_field: payload.order.LastUpdateDate: missing"},
		{"amazon/bad/missing-order-item-id.bad.json", "missing_field: payload.items[1].OrderItemId: missing"},
		{"amazon/bad/missing-quantity.bad.json", "missing_field: payload.items[0].QuantityOrdered: missing"},
		{"amazon/bad/amount-two-points.bad.json", `bad_amount: payload.items[0].ItemPrice.Amount: amount is not a decimal number (6 characters: digits, punctuation)`},
		{"amazon/bad/amount-thousands.bad.json", `bad_amount: payload.order.OrderTotal.Amount: amount is not a decimal number (8 characters: digits, punctuation)`},
		{"amazon/bad/amount-exponent.bad.json", `bad_amount: payload.items[0].ShippingPrice.Amount: amount is not a decimal number (3 characters: letters, digits)`},
		{"amazon/bad/amount-five-places.bad.json", `bad_amount: payload.items[0].ItemTax.Amount: amount has more than 4 decimal places (7 characters: digits, punctuation)`},
		{"amazon/bad/currency-symbol.bad.json", `bad_amount: payload.order.OrderTotal.CurrencyCode: currency is not an ISO 4217 code (three capital letters) (1 character: punctuation)`},
		{"amazon/bad/currency-missing.bad.json", `bad_amount: payload.items[0].ItemTax.CurrencyCode: currency is not an ISO 4217 code (three capital letters) (empty)`},
		{"amazon/bad/mixed-currencies.bad.json", `bad_amount: payload.items[1].ItemPrice.CurrencyCode: differs from the order's currency`},
		{"amazon/bad/negative-quantity.bad.json", `invalid_value: payload.items[0].QuantityOrdered: quantity is negative`},
		{"amazon/bad/unknown-order-status.bad.json", `invalid_value: payload.order.OrderStatus: is not an Amazon order status (9 characters: letters)`},
		{"amazon/bad/unknown-fulfillment-channel.bad.json", `invalid_value: payload.order.FulfillmentChannel: is not MFN or AFN (3 characters: letters)`},
		{"amazon/bad/is-gift-yes.bad.json", `invalid_value: payload.items[0].IsGift: is not "true" or "false" (3 characters: letters)`},
		{"amazon/bad/unknown-deemed-reseller.bad.json", `invalid_value: payload.items[0].DeemedResellerCategory: is not IOSS or UOSS (3 characters: letters)`},
		{"amazon/bad/bad-timestamp.bad.json", `invalid_value: payload.order.PurchaseDate: timestamp is not RFC 3339 (16 characters: digits, spaces, punctuation)`},
		{"amazon/bad/bad-country.bad.json", "invalid_value: payload.order.ShippingAddress.CountryCode: not an ISO 3166-1 alpha-2 country code"},
		{"amazon/bad/v2026-missing-order-id.bad.json", "missing_field: payload.order.orderId: missing"},
		{"amazon/bad/v2026-unknown-fulfillment-status.bad.json", `invalid_value: payload.order.fulfillment.fulfillmentStatus: is not an Amazon fulfillment status (9 characters: letters)`},
		{"amazon/bad/v2026-missing-fulfillment-status.bad.json", "missing_field: payload.order.fulfillment.fulfillmentStatus: missing"},
		{"amazon/bad/v2026-quantity-string.bad.json", "schema_mismatch: payload.order.orderItems[1].quantityOrdered: JSON string where the schema has integer"},
		{"amazon/bad/v2026-breakdown-amount.bad.json", `bad_amount: payload.order.orderItems[0].proceeds.breakdowns[1].subtotal.amount: amount is not a decimal number (4 characters: digits, punctuation)`},
		{"amazon/bad/v2026-tax-mixed-currency.bad.json", `bad_amount: payload.order.orderItems[0].proceeds.breakdowns[2].detailedBreakdowns[1].value.currencyCode: differs from the order's currency`},
		{"amazon/bad/v2026-unknown-breakdown-type.bad.json", `invalid_value: payload.order.orderItems[0].proceeds.breakdowns[1].type: is not a proceeds type this normaliser knows (9 characters: letters)`},
		{"amazon/bad/v2026-unknown-fulfilled-by.bad.json", `invalid_value: payload.order.fulfillment.fulfilledBy: is not MERCHANT or AMAZON (7 characters: letters)`},
		{"amazon/bad/v2026-bad-timestamp.bad.json", `invalid_value: payload.order.lastUpdatedTime: timestamp is not RFC 3339 (19 characters: digits, spaces, punctuation)`},
		{"amazon/bad/v2026-negative-quantity.bad.json", `invalid_value: payload.order.orderItems[0].quantityOrdered: quantity is negative`},
	})
}

// TestAmazonStatuses maps every documented status value of both APIs (ordersV0.json
// definitions.Order.OrderStatus; orders_2026-01-01.json definitions.FulfillmentStatus).
func TestAmazonStatuses(t *testing.T) {
	// Each API's minimal message, the member that carries its status, and its status.
	shapes := map[string]struct{ msg, member, status string }{
		"v0":    {minimalV0, `"OrderStatus":`, `"Unshipped"`},
		"v2026": {minimal2026, `"fulfillmentStatus":`, `"UNSHIPPED"`},
	}
	cases := []struct {
		shape, status string
		want          order.Status
		payment       order.PaymentStatus
	}{
		{"v0", "Pending", order.StatusPending, order.PaymentPending},
		{"v0", "PendingAvailability", order.StatusPendingAvailability, order.PaymentPending},
		{"v0", "Unshipped", order.StatusUnshipped, order.PaymentPaid},
		{"v0", "PartiallyShipped", order.StatusPartiallyShipped, order.PaymentPaid},
		{"v0", "Shipped", order.StatusShipped, order.PaymentPaid},
		{"v0", "InvoiceUnconfirmed", order.StatusShipped, order.PaymentPaid},
		{"v0", "Canceled", order.StatusCancelled, order.PaymentVoided},
		{"v0", "Unfulfillable", order.StatusUnfulfillable, order.PaymentPaid},
		{"v2026", "PENDING_AVAILABILITY", order.StatusPendingAvailability, order.PaymentPending},
		{"v2026", "PENDING", order.StatusPending, order.PaymentPending},
		{"v2026", "UNSHIPPED", order.StatusUnshipped, order.PaymentPaid},
		{"v2026", "PARTIALLY_SHIPPED", order.StatusPartiallyShipped, order.PaymentPaid},
		{"v2026", "SHIPPED", order.StatusShipped, order.PaymentPaid},
		{"v2026", "CANCELLED", order.StatusCancelled, order.PaymentVoided},
		{"v2026", "UNFULFILLABLE", order.StatusUnfulfillable, order.PaymentPaid},
	}
	listed := map[string]int{}
	for _, c := range cases {
		listed[c.shape]++
	}
	if listed["v0"] != len(amazonV0Statuses) || listed["v2026"] != len(amazon2026Statuses) {
		t.Fatalf("the table here lists %d v0 and %d v2026 statuses, the normaliser maps %d and %d: keep them in step with the models",
			listed["v0"], listed["v2026"], len(amazonV0Statuses), len(amazon2026Statuses))
	}
	for _, c := range cases {
		t.Run(c.shape+"/"+c.status, func(t *testing.T) {
			s := shapes[c.shape]
			o, err := Normalize([]byte(strings.Replace(s.msg, s.member+s.status, s.member+`"`+c.status+`"`, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != c.want || o.PaymentStatus != c.payment || o.SourceStatus != c.status {
				t.Errorf("got %s/%s (source %q), want %s/%s", o.Status, o.PaymentStatus, o.SourceStatus, c.want, c.payment)
			}
		})
	}
	// The two spellings of the other API are not accepted: each shape has its own enum.
	for _, msg := range []string{
		strings.Replace(minimalV0, `"OrderStatus":"Unshipped"`, `"OrderStatus":"CANCELLED"`, 1),
		strings.Replace(minimal2026, `"fulfillmentStatus":"UNSHIPPED"`, `"fulfillmentStatus":"Canceled"`, 1),
	} {
		if _, err := Normalize([]byte(msg)); ReasonOf(err) != ReasonInvalidValue {
			t.Errorf("other API's spelling: got %v, want invalid_value", err)
		}
	}
}

const (
	minimalV0   = `{"tenant_id":"acme-uk","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"order":{"AmazonOrderId":"202-1000001-0000001","PurchaseDate":"2026-11-01T10:00:00Z","LastUpdateDate":"2026-11-01T11:00:00Z","OrderStatus":"Unshipped","MarketplaceId":"A1F83G8C2ARO7P"},"items":[{"ASIN":"B000000001","OrderItemId":"10000000000001","QuantityOrdered":1}]}}`
	minimal2026 = `{"tenant_id":"acme-uk","channel":"amazon","received_at":"2026-11-02T10:00:00Z","payload":{"order":{"orderId":"202-1000001-0000001","createdTime":"2026-11-01T10:00:00Z","lastUpdatedTime":"2026-11-01T11:00:00Z","salesChannel":{"channelName":"AMAZON","marketplaceId":"A1F83G8C2ARO7P"},"fulfillment":{"fulfillmentStatus":"UNSHIPPED"},"orderItems":[{"orderItemId":"10000000000001","quantityOrdered":1,"product":{"asin":"B000000001"}}]}}}`
)

// taxInclusiveMarketplaces price goods with VAT included: the order total is what the
// lines charge, less discounts, and the tax is a part of it. Elsewhere (US, and the
// other marketplaces in the fixtures) tax comes on top.
var taxInclusiveMarketplaces = vatMarketplaces

// TestAmazonAmountInvariants checks every fixture's totals to the penny: the canonical
// totals add up to Amazon's own order total, and each line's amounts agree.
func TestAmazonAmountInvariants(t *testing.T) {
	for _, dir := range []string{"amazon", "amazon2026"} {
		for _, f := range normalizetest.Files(t, filepath.Join("testdata", dir, "*.json")) {
			t.Run(dir+"/"+strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
				o, err := Normalize(normalizetest.Read(t, f))
				if err != nil {
					t.Fatal(err)
				}
				checkAmazonAmounts(t, o)
			})
		}
	}
}

// checkAmazonAmounts holds for every canonical order made from an Amazon snapshot.
func checkAmazonAmounts(t *testing.T, o order.Order) {
	t.Helper()
	sum := func(ms ...order.Money) order.Money {
		var s order.Money
		for _, m := range ms {
			var err error
			if s, err = s.Add(m); err != nil {
				t.Fatalf("adding %v: %v", ms, err)
			}
		}
		return s
	}
	neg := func(m order.Money) order.Money { m.Amount = -m.Amount; return m }
	same := func(a, b order.Money) bool {
		return a.Amount == b.Amount && (a.Currency == b.Currency || a.Amount == 0)
	}

	var subtotal, shipping, discount, tax, giftWrap order.Money
	for _, l := range o.Lines {
		if !l.UnitPrice.IsZero() {
			want := order.Money{Amount: l.UnitPrice.Amount * order.Amount(l.Quantity), Currency: l.UnitPrice.Currency}
			if !same(l.LineTotal, want) {
				t.Errorf("line %s: line total %s is not unit price %s x %d", l.LineID, l.LineTotal, l.UnitPrice, l.Quantity)
			}
		}
		if l.Discount.Amount < 0 || l.DiscountTax.Amount < 0 {
			t.Errorf("line %s: discount %s or its tax %s is negative", l.LineID, l.Discount, l.DiscountTax)
		}
		subtotal = sum(subtotal, l.LineTotal)
		shipping = sum(shipping, l.Shipping)
		discount = sum(discount, l.Discount)
		giftWrap = sum(giftWrap, l.GiftWrap)
		tax = sum(tax, l.Tax, l.ShippingTax, l.GiftWrapTax, neg(l.DiscountTax))
	}
	tt := o.Totals
	for _, c := range []struct {
		name      string
		got, want order.Money
	}{{"subtotal", tt.Subtotal, subtotal}, {"shipping", tt.Shipping, shipping}, {"discount", tt.Discount, discount}, {"tax", tt.Tax, tax}} {
		if !same(c.got, c.want) {
			t.Errorf("totals.%s = %s, want the lines' %s", c.name, c.got, c.want)
		}
	}
	if !tt.Total.IsZero() {
		charged := sum(tt.Subtotal, tt.Shipping, giftWrap, neg(tt.Discount))
		if !taxInclusiveMarketplaces[o.Marketplace] {
			charged = sum(charged, tt.Tax)
		}
		if !same(charged, tt.Total) {
			t.Errorf("total %s, but subtotal %s + shipping %s + gift wrap %s - discount %s (+ tax %s outside the UK/EU) = %s",
				tt.Total, tt.Subtotal, tt.Shipping, giftWrap, tt.Discount, tt.Tax, charged)
		}
	}
	lineTaxes := map[string]order.Money{}
	for _, l := range o.Lines {
		lineTaxes[l.LineID] = sum(l.Tax, l.ShippingTax, l.GiftWrapTax, neg(l.DiscountTax))
	}
	for _, mt := range o.MarketplaceTaxes {
		if want, ok := lineTaxes[mt.LineID]; !ok || !same(mt.Amount, want) {
			t.Errorf("marketplace tax on line %s is %s, want the line's tax %s", mt.LineID, mt.Amount, want)
		}
		wantType := "SALES_TAX"
		if vatMarketplaces[o.Marketplace] {
			wantType = "VAT"
		}
		if mt.TaxType != wantType || !slices.Contains([]string{"MarketplaceFacilitator", "IOSS", "UOSS"}, mt.Model) {
			t.Errorf("marketplace tax %+v: want type %s and a known model", mt, wantType)
		}
	}
}

// TestAmazonDetection covers the shape detection on the forms it must tell apart,
// with one reader for all of them, as a pooled decoder uses it.
func TestAmazonDetection(t *testing.T) {
	var r jsonReader
	for _, c := range []struct {
		payload string
		want    amazonShape
	}{
		{`{"order":{"AmazonOrderId":"1"},"items":[]}`, amazonShapeV0},
		{`{"items":[{"OrderItemId":"x","Title":"has \"orderId\": inside"}],"order":{"BuyerInfo":{"orderId":"nested"},"AmazonOrderId":"1"}}`, amazonShapeV0},
		{`{"order":{"orderId":"1"}}`, amazonShape2026},
		{` { "order" : { "programs" : ["PRIME"], "orderId" : "1" } } `, amazonShape2026},
		{`{"order":{"\u006frderId":"1"}}`, amazonShape2026},
		{`{"order":{"createdTime":"2026-11-01T10:00:00Z","orderItems":[]}}`, amazonShape2026},
		{`{"order":{"PurchaseDate":"2026-11-01T10:00:00Z"},"items":[]}`, amazonShapeV0},
		{`{"order":{}}`, amazonShapeV0},
		{`{"items":[]}`, amazonNoOrder},
		{`{"order":null}`, amazonNoOrder},
		{`{}`, amazonNoOrder},
		{`[]`, amazonShapeV0},
		{`"order"`, amazonShapeV0},
		{`{"order":{"orderId"`, amazonShapeV0}, // malformed: left to the decoder to report
		{`{"order":{"a":[1,{"b":"}"}],"orderId":"1"}}`, amazonShape2026},
		{`{"order":`, amazonShapeV0},
		{``, amazonShapeV0},
	} {
		if got := detectAmazonShape(&r, []byte(c.payload)); got != c.want {
			t.Errorf("detectAmazonShape(%s) = %d, want %d", c.payload, got, c.want)
		}
	}
}

// TestAmazonMarketplaceFulfilledAddress: Amazon ships FBA orders, so the canonical order
// keeps no street address or recipient for them even if a snapshot has one.
func TestAmazonMarketplaceFulfilledAddress(t *testing.T) {
	for _, msg := range []string{
		strings.Replace(minimalV0, `"MarketplaceId"`, `"FulfillmentChannel":"AFN","ShippingAddress":{"Name":"A Buyer","AddressLine1":"1 High St","City":"York","PostalCode":"YO1 7HH","CountryCode":"GB","Phone":"01904 000000"},"MarketplaceId"`, 1),
		strings.Replace(minimal2026, `"fulfillmentStatus":"UNSHIPPED"`, `"fulfillmentStatus":"UNSHIPPED","fulfilledBy":"AMAZON"},"recipient":{"deliveryAddress":{"name":"A Buyer","addressLine1":"1 High St","city":"York","postalCode":"YO1 7HH","countryCode":"GB","phone":"01904 000000"}`, 1),
	} {
		o, err := Normalize([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		want := order.Address{City: "York", PostalCode: "YO1 7HH", CountryCode: "GB"}
		if o.Fulfilment != order.FulfilmentMarketplace || o.ShippingAddress == nil || *o.ShippingAddress != want {
			t.Errorf("%s: got %s %+v, want marketplace %+v", o.SourceFormat, o.Fulfilment, o.ShippingAddress, want)
		}
	}
}

func TestAmazonUnitPrice(t *testing.T) {
	gbp := func(s string) order.Money {
		m, err := order.ParseMoney(s, "GBP")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, c := range []struct {
		total string
		qty   int
		want  order.Money
	}{
		{"39.98", 2, gbp("19.99")},
		{"100.00", 3, order.Money{}}, // 33.3333... is not exact at four places
		{"0.01", 4, gbp("0.0025")},
		{"0.01", 3, order.Money{}},
		{"12.00", 0, order.Money{}}, // no quantity, no unit price
		{"-10.00", 4, gbp("-2.50")},
	} {
		if got := unitPrice(gbp(c.total), c.qty); got != c.want {
			t.Errorf("unitPrice(%s, %d) = %v, want %v", c.total, c.qty, got, c.want)
		}
	}
}

func TestAmazonAmountOverflow(t *testing.T) {
	huge := `"99999999999999.9999"`
	msg := strings.Replace(minimal2026, `"product":{"asin":"B000000001"}`, `"product":{"asin":"B000000001","price":{"unitPrice":{"amount":`+huge+`,"currencyCode":"GBP"}}}`, 1)
	msg = strings.Replace(msg, `"quantityOrdered":1`, `"quantityOrdered":1000`, 1)
	_, err := Normalize([]byte(msg))
	if ReasonOf(err) != ReasonBadAmount || !strings.Contains(err.Error(), "unitPrice") {
		t.Errorf("unit price x quantity beyond int64: got %v, want bad_amount naming the unit price", err)
	}
	items := strings.Repeat(`{"ASIN":"B0","OrderItemId":"X","QuantityOrdered":1,"ItemPrice":{"CurrencyCode":"GBP","Amount":`+huge+`}},`, 10)
	msg = strings.Replace(minimalV0, `"items":[`, `"items":[`+items, 1)
	if _, err := Normalize([]byte(msg)); ReasonOf(err) != ReasonBadAmount {
		t.Errorf("subtotal beyond int64: got %v, want bad_amount", err)
	}
}

// TestAmazonErrorsNeverQuotePersonalData feeds wrong values into personal-data fields
// and checks that no error repeats them.
func TestAmazonErrorsNeverQuotePersonalData(t *testing.T) {
	secret := "Zoë Secret-Buyer, 1 Hidden Lane"
	for _, msg := range []string{
		strings.Replace(minimalV0, `"MarketplaceId"`, `"BuyerInfo":{"BuyerName":{"n":"`+secret+`"}},"MarketplaceId"`, 1),
		strings.Replace(minimalV0, `"MarketplaceId"`, `"ShippingAddress":{"Name":"`+secret+`","CountryCode":"`+secret+`"},"MarketplaceId"`, 1),
		strings.Replace(minimalV0, `"QuantityOrdered":1`, `"QuantityOrdered":1,"BuyerInfo":{"GiftMessageText":["`+secret+`"]}`, 1),
		strings.Replace(minimal2026, `"product":{`, `"fulfillment":{"packing":{"giftOption":{"giftMessage":7}}},"product":{"title":"`+secret+`",`, 1),
		strings.Replace(minimal2026, `"orderItems"`, `"buyer":{"buyerEmail":false,"buyerName":"`+secret+`"},"orderItems"`, 1),
	} {
		_, err := Normalize([]byte(msg))
		if err == nil {
			t.Fatalf("want an error for %s", msg)
		}
		if strings.Contains(err.Error(), "Secret") || strings.Contains(err.Error(), "Hidden") {
			t.Errorf("error %q quotes the payload", err)
		}
		var ne *Error
		if !errors.As(err, &ne) || ne.Field == "" {
			t.Errorf("error %v names no field", err)
		}
	}
}

// amazonFixturePayloads returns the payload of every Amazon fixture, good and bad, for
// the fuzz corpus and the benchmarks.
func amazonFixturePayloads(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range normalizetest.Files(t, "testdata/amazon/*.json", "testdata/amazon2026/*.json", "testdata/amazon/bad/*.json") {
		var env struct {
			Payload json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(normalizetest.Read(t, f), &env) != nil || len(env.Payload) == 0 {
			continue // a fixture whose envelope is the fault
		}
		out[f] = env.Payload
	}
	return out
}
