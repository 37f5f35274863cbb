package protect

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
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
	s := scrub(o, &tl, policyCardScan(t))

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
		s := scrub(o, &tl, cs)
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
		allocs := testing.AllocsPerRun(20, func() { _ = scrub(o, &tl, cs) })
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
	s := scrub(o, &tl, policyCardScan(t))
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

// Fixtures are the normalize package's realistic orders, normalised.
func Fixtures(t testing.TB) []order.Order {
	t.Helper()
	var out []order.Order
	for _, dir := range []string{"amazon", "amazon2026", "ebay"} {
		files, err := filepath.Glob(filepath.Join("..", "normalize", "testdata", dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".golden.json") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			o, err := normalize.Normalize(data)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, o)
		}
	}
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
