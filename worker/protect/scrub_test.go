package protect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
)

// policyCardScan is the embedded policy's card_scan, as the stage uses it.
func policyCardScan(t testing.TB) *cardScan {
	t.Helper()
	p, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := newPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	return &pl.cards
}

// TestScrubFollowsThePolicy puts a card number into every string of the
// canonical order, at every depth, and checks that each field the policy
// marks scan has it removed and counted under its policy path, and each field
// it marks exempt (a marketplace identifier) is left exactly as it was: the
// policy and the scrub agree field by field. A string field added to the
// canonical order and forgotten by scrub fails here, and so does one the
// policy does not classify.
func TestScrubFollowsThePolicy(t *testing.T) {
	const card = "4111 1111 1111 1111"
	p, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	var o order.Order
	Fill(&o, func(path string) string { return "see " + card + " (" + path + ")" })
	want := map[string]int{}
	exempt := map[string]bool{}
	Strings(o, func(path, _ string) {
		switch mode := p.Fields[path].CardScan.Mode; mode {
		case policy.Scan:
			want[path]++
		case policy.Exempt:
			exempt[path] = true
		default:
			t.Errorf("%s is a string, but its card_scan is %q", path, mode)
		}
	})
	if len(want) < 50 || len(exempt) != len(p.CardScanPaths(policy.Exempt)) {
		t.Fatalf("%d string fields scanned, %d exempt: the walk is broken", len(want), len(exempt))
	}
	before := deepCopy(t, o)

	var tl tally
	s := scrub(o, channelLabel(channel.Default(), o.Channel), &tl, policyCardScan(t))

	got := map[string]int{}
	for k, n := range tl.cards {
		if k.channel != "other" { // the channel field itself held a card number
			t.Errorf("card counted under channel %q, want other", k.channel)
		}
		got[k.field] += n
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("card numbers counted per field (-want +got):\n%s", diff)
	}
	Strings(s.o, func(path, v string) {
		has := strings.Contains(v, card)
		if has != exempt[path] {
			t.Errorf("%s: %q (exempt from the scan: %v)", path, v, exempt[path])
		}
	})
	if s.o.FreeText != nil {
		t.Errorf("scrub kept free text")
	}
	if diff := cmp.Diff(before, o); diff != "" {
		t.Errorf("scrub modified its input (-before +after):\n%s", diff)
	}
}

// TestScrubFindsNothingInTheFixtures: the fixtures' names, addresses, SKUs,
// titles and references hold no Luhn-valid run of 12-19 digits outside the
// exempt identifiers, except the few below, which the rule takes for card
// numbers as it must (a run of 12 digits holds one Luhn-valid window, which
// passes one time in ten; one of 17 digits, 21 windows): three phone numbers
// in international format and two Amazon promotion ids that end in a date and
// time. A regression that takes anything else fails; and an order without a
// card number is not copied.
func TestScrubFindsNothingInTheFixtures(t *testing.T) {
	want := map[[2]string]bool{
		{"202-8850147-3315596", "shipping_address.phone"}: true, // "+44 28 7126 0000"
		{"203-1184025-6619347", "shipping_address.phone"}: true, // "+44 113 496 0877"
		{"203-1184025-6619347", "lines.promotion_ids"}:    true, // both: "UK Free Shipping 2026/10/01 09-00-00-001", "Kitchen Autumn 20% 2026/10/14 10-30-00-112"
		{"171-9876543-2109876", "shipping_address.phone"}: true, // "+55 11 98765-4321"
	}
	cs := policyCardScan(t)
	got := map[[2]string]bool{}
	for _, o := range Fixtures(t) {
		var tl tally
		s := scrub(o, string(o.Channel), &tl, cs)
		for k := range tl.cards {
			got[[2]string{o.ChannelOrderID, k.field}] = true
		}
		if len(tl.cards) == 0 && (s.o.ShippingAddress != o.ShippingAddress || len(o.Lines) > 0 && &s.o.Lines[0] != &o.Lines[0]) {
			t.Errorf("%s: scrub copied an order without card numbers", o.ChannelOrderID)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fixture values taken for card numbers (-want +got):\n%s", diff)
	}
}

// TestScrubAllocatesNothingWithoutCardNumbers: the common case is free (free
// text costs the tally's map, once per batch).
func TestScrubAllocatesNothingWithoutCardNumbers(t *testing.T) {
	cs := policyCardScan(t)
	for _, o := range Fixtures(t) {
		var tl tally // one per batch, not per order
		allocs := testing.AllocsPerRun(20, func() { _ = scrub(o, string(o.Channel), &tl, cs) })
		if len(tl.cards) == 0 && len(o.FreeText) == 0 && allocs != 0 {
			t.Errorf("%s: scrub of an order without card numbers allocates %v times", o.ChannelOrderID, allocs)
		}
	}
}

// TestScrubRealisticHidingPlaces: the places buyers and sellers put card
// numbers, counted by channel, field and scheme.
func TestScrubRealisticHidingPlaces(t *testing.T) {
	o := Fixtures(t)[0]
	o.Channel = order.ChannelAmazon
	ship := *o.ShippingAddress
	ship.Line2 = "Flat B card 5555-5555-5555-4444 exp 09/28"
	o.ShippingAddress = &ship
	o.Lines = append([]order.Line(nil), o.Lines...)
	o.Lines[0].Title = "Gift card top-up 378282246310005"
	o.FreeText = []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday! My card is ２２００ １２３４ ５６７８ ９０１０ if they call"}}

	var tl tally
	s := scrub(o, string(o.Channel), &tl, policyCardScan(t))
	want := map[cardKey]int{
		{"amazon", "shipping_address.line2"}: 1,
		{"amazon", "lines.title"}:            1,
		{"amazon", "free_text.text"}:         1,
	}
	if diff := cmp.Diff(want, tl.cards); diff != "" {
		t.Errorf("cards (-want +got):\n%s", diff)
	}
	wantSchemes := map[schemeKey]int{{"amazon", cardnumber.Mastercard}: 1, {"amazon", cardnumber.Amex}: 1, {"amazon", cardnumber.Other}: 1}
	if diff := cmp.Diff(wantSchemes, tl.schemes); diff != "" {
		t.Errorf("schemes (-want +got):\n%s", diff)
	}
	if got := s.o.ShippingAddress.Line2; got != "Flat B card "+cardnumber.Replacement+" exp 09/28" {
		t.Errorf("line2 = %q", got)
	}
	if got := s.o.Lines[0].Title; got != "Gift card top-up "+cardnumber.Replacement {
		t.Errorf("title = %q", got)
	}
	if diff := cmp.Diff(map[freeTextKey]int{{"amazon", "gift_message"}: 1}, tl.freeText); diff != "" {
		t.Errorf("free text (-want +got):\n%s", diff)
	}
}

// TestTypedCardsThroughNormalize writes card numbers into the raw payloads of
// each channel, where sellers and buyers type them (a line's title and SKU,
// the seller's order reference), as JSON text: ASCII punctuation that Unicode
// classes as symbols (| ~ ^ = $ < > `), other symbols, U+FFFD as a JSON lone
// surrogate, an escape or a byte that is not UTF-8 becomes it, and the dashes
// that are modifier letters (ー). Each must come out of normalize and scrub
// removed and counted under its field, and no 12 of its digits left in any
// string of the order.
func TestTypedCardsThroughNormalize(t *testing.T) {
	cards := []struct{ name, json string }{ // as the JSON string's text, escapes included
		{"pipes", "4111|1111|1111|1111"},
		{"tildes", "4111~1111~1111~1111"},
		{"carets", "5555^5555^5555^4444"},
		{"equals signs", "4111=1111=1111=1111"},
		{"dollar signs", "4111$1111$1111$1111"},
		{"less-than signs", "4111<1111<1111<1111"},
		{"greater-than signs", "4111>1111>1111>1111"},
		{"backticks", "4111`1111`1111`1111"},
		{"degree signs", "4111°1111°1111°1111"},
		{"fraction slashes", "6011⁄0009⁄9013⁄9424"},
		{"currency and emoji", "4111£1111😀1111€1111"},
		{"lone high surrogate", `4111\ud8001111 1111 1111`},
		{"lone low surrogate", `4111\udc001111\udc001111\udc001111`},
		{"escaped U+FFFD", `3782\ufffd822463\ufffd10005`},
		{"bytes that are not UTF-8", "4111\xff1111\xc31111\xed\xa0\x801111"},
		{"katakana prolonged sound marks", "4111ー1111ー1111ー1111"},
		{"half-width prolonged sound marks", "４１１１ｰ１１１１ｰ１１１１ｰ１１１１"},
		{"modifier letter minus", "4111˗1111˗1111˗1111"},
		{"full-width hyphen-minus", "4111－1111－1111－1111"},
		{"tatweel", "4111ـ1111ـ1111ـ1111"},
		{"modifier letter apostrophes", "4111ʼ1111ʼ1111ʼ1111"},
	}
	type place struct {
		field string // policy path
		at    []any  // where in the payload: member names and array indices
		text  string // the value around the card: %s is the card
	}
	payloads := []struct {
		file   string
		places []place
	}{
		{"amazon/uk-two-lines-typical.json", []place{
			{"lines.title", []any{"payload", "items", 0, "Title"}, "Gift card top-up %s"},
			{"lines.sku", []any{"payload", "items", 0, "SellerSKU"}, "GC-%s"},
			{"seller_order_id", []any{"payload", "order", "SellerOrderId"}, "ref %s"},
		}},
		{"amazon2026/uk-two-lines-typical.json", []place{
			{"lines.title", []any{"payload", "order", "orderItems", 0, "product", "title"}, "Gift card top-up %s"},
			{"lines.sku", []any{"payload", "order", "orderItems", 0, "product", "sellerSku"}, "GC-%s"},
			{"seller_order_id", []any{"payload", "order", "orderAliases", 0, "aliasId"}, "ref %s"},
		}},
		{"ebay/typical-two-line.json", []place{
			{"lines.title", []any{"payload", "lineItems", 0, "title"}, "Gift card top-up %s"},
			{"lines.sku", []any{"payload", "lineItems", 0, "sku"}, "GC-%s"},
			{"seller_order_id", []any{"payload", "salesRecordReference"}, "ref %s"},
		}},
	}
	cs := policyCardScan(t)
	for _, p := range payloads {
		raw, err := os.ReadFile(filepath.Join("..", "normalize", "testdata", p.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.places {
			for _, c := range cards {
				t.Run(p.file+"/"+pl.field+"/"+c.name, func(t *testing.T) {
					msg := withRawString(t, raw, pl.at, fmt.Sprintf(pl.text, c.json))
					o, err := normalizer.Normalize(msg)
					if err != nil {
						t.Fatalf("Normalize: %v", err)
					}
					var tl tally
					s := scrub(o, string(o.Channel), &tl, cs)
					ch := string(o.Channel)
					if got := tl.cards[cardKey{ch, pl.field}]; got != 1 || len(tl.cards) != 1 {
						t.Errorf("cards counted %v, want 1 under %s", tl.cards, pl.field)
					}
					digits, found := cardDigits(c.json), false
					Strings(s.o, func(path, v string) {
						left := cardDigits(v)
						for k := 0; k+12 <= len(digits); k++ {
							if strings.Contains(left, digits[k:k+12]) {
								t.Errorf("%s = %q keeps 12 of the card's digits", path, v)
								return
							}
						}
						if path == pl.field && strings.Count(v, cardnumber.Replacement) == 1 {
							found = true
						}
					})
					if !found {
						t.Errorf("%s: no %q in the scrubbed order", pl.field, cardnumber.Replacement)
					}
				})
			}
		}
	}
}

// withRawString returns the JSON message raw with the string at path set to
// text, which goes in as JSON text as it is (escapes, invalid UTF-8 and all).
func withRawString(t *testing.T, raw []byte, path []any, text string) []byte {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	const mark = "\x00here\x00"
	v := doc
	for i, k := range path {
		last := i == len(path)-1
		switch k := k.(type) {
		case string:
			m := v.(map[string]any)
			if _, ok := m[k]; !ok {
				t.Fatalf("no %v in the payload", path[:i+1])
			}
			if last {
				m[k] = mark
			}
			v = m[k]
		case int:
			if last {
				v.([]any)[k] = mark
			}
			v = v.([]any)[k]
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(mark)
	if bytes.Count(out, quoted) != 1 {
		t.Fatalf("%s placed %d times", quoted, bytes.Count(out, quoted))
	}
	return bytes.Replace(out, quoted, []byte(`"`+text+`"`), 1)
}

// cardDigits returns the ASCII and full-width digits of s as ASCII (the
// digits the cards above are written in).
func cardDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		}
	}
	return b.String()
}

// Fixtures are the normalize package's realistic orders, normalised.
func Fixtures(t testing.TB) []order.Order {
	t.Helper()
	out := pipelinetest.Canonical(pipelinetest.Orders(t, "../normalize/testdata/amazon", "../normalize/testdata/amazon2026", "../normalize/testdata/ebay"))
	if len(out) < 40 {
		t.Fatalf("only %d fixtures found", len(out))
	}
	return out
}

func deepCopy(t *testing.T, o order.Order) order.Order {
	t.Helper()
	cp := reflect.New(reflect.TypeFor[order.Order]()).Elem()
	deepCopyValue(cp, reflect.ValueOf(o))
	return cp.Interface().(order.Order)
}

func deepCopyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			deepCopyValue(dst.Elem(), src.Elem())
		}
	case reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
			for i := range src.Len() {
				deepCopyValue(dst.Index(i), src.Index(i))
			}
		}
	case reflect.Struct:
		if src.Type().PkgPath() != orderPkg {
			dst.Set(src)
			return
		}
		for i := range src.NumField() {
			deepCopyValue(dst.Field(i), src.Field(i))
		}
	default:
		dst.Set(src)
	}
}

// TestOnlyIdentifiersCanBeExempt: a policy that exempts a field of personal
// data from the card scan is refused at start; a buyer can type anything there.
func TestOnlyIdentifiersCanBeExempt(t *testing.T) {
	p, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	cp := *p
	cp.Fields = maps.Clone(p.Fields)
	r := cp.Fields["buyer.name"]
	r.CardScan = policy.CardScan{Mode: policy.Exempt, Format: "anything"}
	cp.Fields["buyer.name"] = r
	_, err = newPlan(&cp)
	if err == nil || !strings.Contains(err.Error(), "policy field buyer.name: card_scan exempt, but a field treated token is personal data") {
		t.Errorf("newPlan error = %v", err)
	}
}

// normalizer reads the shipped channels' fixtures, as the worker does.
var normalizer = func() *normalize.Normalizer {
	n, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		panic(err)
	}
	return n
}()
