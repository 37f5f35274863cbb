package protect

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
)

// TestScrubScansEveryStringField puts a card number into every string of the
// canonical order, at every depth, and checks that each one is removed and
// counted under its field's policy path: a string field added to the canonical
// order and forgotten by scrub fails here.
func TestScrubScansEveryStringField(t *testing.T) {
	const card = "4111 1111 1111 1111"
	var o order.Order
	Fill(&o, func(path string) string { return "see " + card + " (" + path + ")" })
	want := map[string]int{}
	Strings(o, func(path, _ string) { want[path]++ })
	if len(want) < 50 {
		t.Fatalf("only %d string fields found: the walk is broken", len(want))
	}
	before := deepCopy(t, o)

	var tl tally
	s := scrub(o, &tl)

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
		if strings.Contains(v, card) || strings.Contains(v, "1111 1111") {
			t.Errorf("%s still holds the card number: %q", path, v)
		}
	})
	if s.o.FreeText != nil {
		t.Errorf("scrub kept free text")
	}
	if diff := cmp.Diff(before, o); diff != "" {
		t.Errorf("scrub modified its input (-before +after):\n%s", diff)
	}
}

// TestScrubFindsNothingInTheFixtures: real-looking order ids, phone numbers,
// SKUs, ASINs and barcodes are not card numbers; and an order without one is
// not copied.
func TestScrubFindsNothingInTheFixtures(t *testing.T) {
	for _, o := range Fixtures(t) {
		var tl tally
		s := scrub(o, &tl)
		Strings(o, func(path, v string) {
			if spans := cardnumber.Find(v); len(spans) > 0 {
				t.Errorf("%s: %s: a fixture value is taken for a card number", o.ChannelOrderID, path)
			}
		})
		if len(tl.cards) == 0 && (s.o.ShippingAddress != o.ShippingAddress || len(o.Lines) > 0 && &s.o.Lines[0] != &o.Lines[0]) {
			t.Errorf("%s: scrub copied an order without card numbers", o.ChannelOrderID)
		}
	}
}

// TestScrubAllocatesNothingWithoutCardNumbers: the common case is free (free
// text costs the tally's map, once per batch).
func TestScrubAllocatesNothingWithoutCardNumbers(t *testing.T) {
	for _, o := range Fixtures(t) {
		var tl tally // one per batch, not per order
		allocs := testing.AllocsPerRun(20, func() { _ = scrub(o, &tl) })
		if len(tl.cards) == 0 && len(o.FreeText) == 0 && allocs != 0 {
			t.Errorf("%s: scrub of an order without card numbers allocates %v times, want 0", o.ChannelOrderID, allocs)
		}
	}
}

// TestScrubRealisticHidingPlaces: the places buyers and sellers put card
// numbers, counted by channel and field.
func TestScrubRealisticHidingPlaces(t *testing.T) {
	o := Fixtures(t)[0]
	o.Channel = order.ChannelAmazon
	ship := *o.ShippingAddress
	ship.Line2 = "Flat 3 card 5555-5555-5555-4444 exp 09/28"
	o.ShippingAddress = &ship
	o.Lines = append([]order.Line(nil), o.Lines...)
	o.Lines[0].Title = "Gift card top-up 378282246310005"
	o.FreeText = []order.FreeText{{Kind: order.FreeTextGiftMessage, Text: "Happy birthday! My card is 4012888888881881 if they call"}}

	var tl tally
	s := scrub(o, &tl)
	want := map[cardKey]int{
		{"amazon", "shipping_address.line2"}: 1,
		{"amazon", "lines.title"}:            1,
		{"amazon", "free_text.text"}:         1,
	}
	if diff := cmp.Diff(want, tl.cards); diff != "" {
		t.Errorf("cards (-want +got):\n%s", diff)
	}
	if got := s.o.ShippingAddress.Line2; got != "Flat 3 card "+cardnumber.Replacement+" exp 09/28" {
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
