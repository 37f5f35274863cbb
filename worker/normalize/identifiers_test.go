package normalize

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/normalize/normalizetest"
)

// Values that must never pass as a marketplace identifier: what a person
// types (card numbers however written, an email, a name) and ids of the wrong
// shape. A 14-digit card number (Diners Club) has an item id's shape and
// would pass as one: nobody can type into these fields, and the rule cannot
// tell it apart from the ids Amazon and eBay assign.
var notIdentifiers = []string{
	"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "４１１１１１１１１１１１１１１１",
	"zoe.buyer@example.com", "Zoë Brontë", "202-8362759-3910736 ", " 21-12833-40939",
	"x", "-", "0", "../../etc/passwd", "12345678901234567890",
}

func TestIdentifierRules(t *testing.T) {
	cases := []struct {
		name      string
		valid     func(string) bool
		good, bad []string
	}{
		{"Amazon order id", isAmazonOrderID,
			[]string{"902-3159896-1390916", "026-1949570-7182311", "S01-4419035-7752106", "171-9876543-2109876"},
			[]string{"902-3159896-139091", "902-3159896-13909160", "9023159896-1390916", "902 3159896 1390916", "s01-4419035-7752106", "902-315989A-1390916", "９０２-3159896-1390916", "21-12833-40939"}},
		{"Amazon order item id", func(s string) bool { return isDigits(s, 14) },
			[]string{"68828574383266", "07215539908146", "20212345678901"},
			[]string{"6882857438326", "688285743832660", "6882857438326A", "68828 574383266", "６８８２８５７４３８３２６６"}},
		{"ASIN", isASIN,
			[]string{"B08N5WRWNW", "B000000001", "1399617834"},
			[]string{"b08n5wrwnw", "B08N5WRWN", "B08N5WRWNW1", "B08N5-WRWN", "B08N5WRWN "}},
		{"eBay order id", isEbayOrderID,
			[]string{"21-12833-40939", "04-09876-54321"},
			[]string{"21-12833-4093", "211-2833-40939", "21 12833 40939", "2112833-40939", "110234567890-2123456789006", "1900123456017", "21-12833-4093X"}},
		{"eBay line item id", func(s string) bool { return isDigits(s, 14) },
			[]string{"10075789881221", "10064938271501"},
			[]string{"1007578988122", "100757898812210"}},
		{"eBay item id", func(s string) bool { return isDigits(s, 12) && s[0] != '0' },
			[]string{"143894109894", "296512873401"},
			[]string{"043894109894", "14389410989", "1438941098940"}},
	}
	for _, c := range cases {
		for _, s := range c.good {
			if !c.valid(s) {
				t.Errorf("%s: %q refused", c.name, s)
			}
		}
		for _, s := range append(c.bad, notIdentifiers...) {
			if c.valid(s) {
				t.Errorf("%s: %q accepted", c.name, s)
			}
		}
	}
}

// TestIdentifiersAreDeadLettered puts each value that is not an identifier
// into each identifier of a good message of each shape: every one fails as
// invalid_value, naming the field and the rule and nothing of the value.
func TestIdentifiersAreDeadLettered(t *testing.T) {
	fields := []struct {
		fixture string
		path    []any // where the identifier is in the message
		field   string
		rule    string
	}{
		{"amazon/uk-two-lines-typical.json", []any{"payload", "order", "AmazonOrderId"}, "payload.order.AmazonOrderId", ruleAmazonOrderID},
		{"amazon/uk-two-lines-typical.json", []any{"payload", "items", 1, "OrderItemId"}, "payload.items[1].OrderItemId", ruleAmazonOrderItemID},
		{"amazon/uk-two-lines-typical.json", []any{"payload", "items", 1, "ASIN"}, "payload.items[1].ASIN", ruleASIN},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "orderId"}, "payload.order.orderId", ruleAmazonOrderID},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "orderItems", 1, "orderItemId"}, "payload.order.orderItems[1].orderItemId", ruleAmazonOrderItemID},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "orderItems", 1, "product", "asin"}, "payload.order.orderItems[1].product.asin", ruleASIN},
		{"ebay/typical-two-line.json", []any{"payload", "orderId"}, "payload.orderId", ruleEbayOrderID},
		{"ebay/typical-two-line.json", []any{"payload", "lineItems", 1, "lineItemId"}, "payload.lineItems[1].lineItemId", ruleEbayLineItemID},
		{"ebay/typical-two-line.json", []any{"payload", "lineItems", 1, "legacyItemId"}, "payload.lineItems[1].legacyItemId", ruleEbayItemID},
	}
	for _, f := range fields {
		good := readMessage(t, f.fixture)
		if _, err := Normalize(marshal(t, good)); err != nil {
			t.Fatalf("%s: the good message fails: %v", f.fixture, err)
		}
		for _, bad := range notIdentifiers {
			t.Run(f.field+"="+strconv.Quote(bad), func(t *testing.T) {
				msg := readMessage(t, f.fixture)
				set(t, msg, f.path, bad)
				_, err := Normalize(marshal(t, msg))
				want := "invalid_value: " + f.field + ": " + f.rule
				if err == nil || err.Error() != want || ReasonOf(err) != ReasonInvalidValue {
					t.Fatalf("error %v, want %s", err, want)
				}
				for k := 0; k+5 <= len(bad); k++ {
					if strings.Contains(err.Error(), bad[k:k+5]) && strings.TrimSpace(bad[k:k+5]) == bad[k:k+5] {
						t.Errorf("the error quotes the value: %v", err)
						break
					}
				}
			})
		}
	}
}

// TestOptionalIdentifiersMayBeAbsent: v2026's ASIN and eBay's legacyItemId
// are optional in their models; absent, there is nothing to check.
func TestOptionalIdentifiersMayBeAbsent(t *testing.T) {
	for fixture, path := range map[string][]any{
		"amazon2026/uk-two-lines-typical.json": {"payload", "order", "orderItems", 0, "product", "asin"},
		"ebay/typical-two-line.json":           {"payload", "lineItems", 0, "legacyItemId"},
	} {
		msg := readMessage(t, fixture)
		set(t, msg, path, nil)
		if _, err := Normalize(marshal(t, msg)); err != nil {
			t.Errorf("%s without %v: %v", fixture, path[len(path)-1], err)
		}
	}
}

// TestEveryFixtureIdentifierHasItsFormat: the good fixtures' ids are real
// ids' shapes (their goldens pass only if the rules accept them; this says
// which rule each one meets), and every line id elsewhere in an order is one
// of its lines' ids.
func TestEveryFixtureIdentifierHasItsFormat(t *testing.T) {
	for _, dir := range []string{"amazon", "amazon2026", "ebay"} {
		n := 0
		for _, file := range normalizetest.Files(t, filepath.Join("testdata", dir, "*.json")) {
			o, err := Normalize(normalizetest.Read(t, file))
			if err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			n++
			check := map[string]func() error{"amazon": func() error { return amazonV0IDs(&o) }, "ebay": func() error { return ebayIDs(&o) }}[dir]
			if dir == "amazon2026" {
				check = func() error { return amazon2026IDs(&o) }
			}
			if err := check(); err != nil {
				t.Errorf("%s: %v", file, err)
			}
			// The policy exempts refunds.line_id, marketplace_taxes.line_id and
			// free_text.line_id as copies of a checked line id: they must be.
			lines := map[string]bool{"": true}
			for _, l := range o.Lines {
				lines[l.LineID] = true
			}
			for _, r := range o.Refunds {
				if !lines[r.LineID] {
					t.Errorf("%s: a refund's line id is not a line's", file)
				}
			}
			for _, m := range o.MarketplaceTaxes {
				if !lines[m.LineID] {
					t.Errorf("%s: a marketplace tax's line id is not a line's", file)
				}
			}
			for _, f := range o.FreeText {
				if !lines[f.LineID] {
					t.Errorf("%s: a free text's line id is not a line's", file)
				}
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d fixtures", dir, n)
		}
	}
}
