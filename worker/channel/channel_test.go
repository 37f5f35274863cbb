package channel_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
)

// nopDecoder stands in for a channel's decoder where none is called.
type nopDecoder struct{}

func (nopDecoder) Decode([]byte, time.Time) (order.Order, error) { return order.Order{}, nil }

func testSpec() channel.Spec {
	return channel.Spec{Name: "test", Enum: 100, Topic: "orders.test", Decoder: nopDecoder{},
		SourceFormats: []string{"test.v1"}, Jurisdictions: map[string]string{"TEST_GB": "GB"}}
}

// The shipped channels, as DESIGN.md's external contract names them.
func TestDefaultIsAmazonAndEbay(t *testing.T) {
	r := channel.Default()
	if got := r.Names(); !slices.Equal(got, []order.Channel{order.ChannelAmazon, order.ChannelEbay}) {
		t.Fatalf("Names() = %v", got)
	}
	if got := r.Topics(); !reflect.DeepEqual(got, map[order.Channel]string{"amazon": "orders.amazon", "ebay": "orders.ebay"}) {
		t.Errorf("Topics() = %v", got)
	}
	if got := r.Enum8(); got != "Enum8('amazon' = 1, 'ebay' = 2)" {
		t.Errorf("Enum8() = %s", got)
	}
	if got := r.Decoders(); got[order.ChannelAmazon] != normalize.Amazon || got[order.ChannelEbay] != normalize.Ebay || len(got) != 2 {
		t.Errorf("Decoders() = %v", got)
	}
	want := []string{order.SourceAmazonOrdersV0, order.SourceAmazonOrders202601, order.SourceEbayFulfillmentV1}
	if got := r.SourceFormats(); !slices.Equal(got, want) {
		t.Errorf("SourceFormats() = %v, want %v", got, want)
	}
	if !r.Has(order.ChannelAmazon) || r.Has("walmart") || r.Has("") {
		t.Error("Has is wrong")
	}
	if channel.Default() != r {
		t.Error("Default() is not one registry")
	}
}

// With adds a channel beside the shipped ones, refusing a second registration of
// anything a channel owns; the registry it starts from is unchanged.
func TestWithRegistersOnceAndLeavesTheDefaultAlone(t *testing.T) {
	r, err := channel.Default().With(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); !slices.Equal(got, []order.Channel{"amazon", "ebay", "test"}) {
		t.Errorf("Names() = %v", got)
	}
	if got := r.Enum8(); got != "Enum8('amazon' = 1, 'ebay' = 2, 'test' = 100)" {
		t.Errorf("Enum8() = %s", got)
	}
	if channel.Default().Has("test") || len(channel.Default().Names()) != 2 {
		t.Error("With changed the default registry")
	}
	for name, edit := range map[string]func(s *channel.Spec){
		"the same name":          func(s *channel.Spec) { s.Name = order.ChannelEbay },
		"the same enum value":    func(s *channel.Spec) { s.Enum = 2 },
		"the same topic":         func(s *channel.Spec) { s.Topic = "orders.amazon" },
		"the same source format": func(s *channel.Spec) { s.SourceFormats = []string{order.SourceEbayFulfillmentV1} },
	} {
		s := testSpec()
		edit(&s)
		if _, err := channel.Default().With(s); err == nil {
			t.Errorf("With accepted a channel with %s as a shipped one's", name)
		}
	}
	if _, err := r.With(testSpec()); err == nil || !strings.Contains(err.Error(), "test is registered twice") {
		t.Errorf("registering test twice: %v", err)
	}
}

func TestNewRefusesABadSpec(t *testing.T) {
	for name, edit := range map[string]func(s *channel.Spec){
		"an empty name":               func(s *channel.Spec) { s.Name = "" },
		"a name in capitals":          func(s *channel.Spec) { s.Name = "Test" },
		"a name with an underscore":   func(s *channel.Spec) { s.Name = "dead_letter" },
		"a name starting with digits": func(s *channel.Spec) { s.Name = "1test" },
		"a name of 33 letters":        func(s *channel.Spec) { s.Name = order.Channel(strings.Repeat("t", 33)) },
		"enum 0":                      func(s *channel.Spec) { s.Enum = 0 },
		"a negative enum":             func(s *channel.Spec) { s.Enum = -3 },
		"no topic":                    func(s *channel.Spec) { s.Topic = "" },
		"a topic with a space":        func(s *channel.Spec) { s.Topic = "orders test" },
		"no decoder":                  func(s *channel.Spec) { s.Decoder = nil },
		"no source format":            func(s *channel.Spec) { s.SourceFormats = nil },
		"an empty source format":      func(s *channel.Spec) { s.SourceFormats = []string{""} },
		"a jurisdiction not ISO":      func(s *channel.Spec) { s.Jurisdictions = map[string]string{"TEST_UK": "UK "} },
		"an empty marketplace":        func(s *channel.Spec) { s.Jurisdictions = map[string]string{"": "GB"} },
	} {
		s := testSpec()
		edit(&s)
		if _, err := channel.New(s); err == nil {
			t.Errorf("New accepted %s", name)
		}
	}
	if _, err := channel.New(testSpec()); err != nil {
		t.Errorf("New refused the good spec: %v", err)
	}
}

// A registry cannot be changed through what it returns or what it was given.
func TestARegistryIsImmutable(t *testing.T) {
	s := testSpec()
	r, err := channel.New(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Jurisdictions["TEST_GB"] = "DE"
	s.SourceFormats[0] = "changed"
	got, _ := r.Lookup("test")
	got.Jurisdictions["TEST_GB"] = "FR"
	r.Specs()[0].SourceFormats[0] = "changed"
	r.Topics()["test"] = "changed"
	if j := r.Jurisdiction("test", "TEST_GB"); j != "GB" {
		t.Errorf("jurisdiction %s after changing copies, want GB", j)
	}
	if f := r.SourceFormats(); !slices.Equal(f, []string{"test.v1"}) || r.Topics()["test"] != "orders.test" {
		t.Errorf("source formats %v, topics %v after changing copies", f, r.Topics())
	}
}

func TestJurisdiction(t *testing.T) {
	r := channel.Default()
	for key, want := range map[[2]string]string{
		// Amazon (developer-docs.amazon.com/sp-api/docs/marketplace-ids).
		{"amazon", "A1F83G8C2ARO7P"}: "GB", {"amazon", "A1PA6795UKMFR9"}: "DE", {"amazon", "A13V1IB3VIYZZH"}: "FR",
		{"amazon", "APJ6JRA9NG5V4"}: "IT", {"amazon", "A1RKKUPIHCS9HS"}: "ES", {"amazon", "A1805IZSGTT6HS"}: "NL",
		{"amazon", "AMEN7PMS3EDWL"}: "BE", {"amazon", "A2NODRKZP88ZB9"}: "SE", {"amazon", "A1C3SOZRARQ6R3"}: "PL",
		{"amazon", "A28R8C7NBKEWEA"}: "IE", {"amazon", "ATVPDKIKX0DER"}: "US", {"amazon", "A2EUQ1WTGCTBG2"}: "CA",
		{"amazon", "A1AM78C64UM0Y8"}: "MX", {"amazon", "A2Q3Y263D00KWC"}: "BR", {"amazon", "A1VC38T7YXB528"}: "JP",
		{"amazon", "A39IBJ37TRP1C6"}: "AU", {"amazon", "A21TJRUUN4KGV"}: "IN", {"amazon", "A19VAU5U5O7RUS"}: "SG",
		{"amazon", "A2VIGQ35RCS4UG"}: "AE", {"amazon", "A17E79C6D8DWNP"}: "SA", {"amazon", "ARBP9OOSHTCHU"}: "EG",
		{"amazon", "A33AVAJ2PDY3EV"}: "TR", {"amazon", "AE08WJ6YKNBMC"}: "ZA",
		// eBay.
		{"ebay", "EBAY_GB"}: "GB", {"ebay", "EBAY_DE"}: "DE", {"ebay", "EBAY_MOTORS_US"}: "US", {"ebay", "EBAY_US"}: "US",
		{"ebay", "EBAY_AT"}: "AT", {"ebay", "EBAY_AU"}: "AU", {"ebay", "EBAY_CA"}: "CA", {"ebay", "EBAY_ENCA"}: "CA",
		{"ebay", "EBAY_FRCA"}: "CA", {"ebay", "EBAY_CH"}: "CH", {"ebay", "EBAY_ES"}: "ES", {"ebay", "EBAY_FR"}: "FR",
		{"ebay", "EBAY_BEFR"}: "BE", {"ebay", "EBAY_BENL"}: "BE", {"ebay", "EBAY_IE"}: "IE", {"ebay", "EBAY_IT"}: "IT",
		{"ebay", "EBAY_NL"}: "NL", {"ebay", "EBAY_PL"}: "PL", {"ebay", "EBAY_HK"}: "HK", {"ebay", "EBAY_SG"}: "SG",
		{"ebay", "EBAY_MY"}: "MY", {"ebay", "EBAY_PH"}: "PH", {"ebay", "EBAY_IN"}: "IN",
		// Unknown: no jurisdiction, so the default financial retention applies.
		{"amazon", ""}:               "",
		{"amazon", "A2ZV50J4W1RKNI"}: "", // Amazon US non-Amazon (multi-channel fulfilment)
		{"ebay", "EBAY_XX"}:          "",
		{"ebay", "ebay_gb"}:          "",
		{"amazon", "a1f83g8c2aro7p"}: "",
		{"ebay", "EBAY_UK"}:          "",
		// A marketplace is its own channel's: not another's, nor an unknown channel's.
		{"amazon", "EBAY_GB"}:         "",
		{"ebay", "A1F83G8C2ARO7P"}:    "",
		{"walmart", "A1F83G8C2ARO7P"}: "",
	} {
		if got := r.Jurisdiction(order.Channel(key[0]), key[1]); got != want {
			t.Errorf("Jurisdiction(%s, %q) = %q, want %q", key[0], key[1], got, want)
		}
	}
}

func TestEnum8(t *testing.T) {
	withTest, err := channel.Default().With(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*channel.Registry{channel.Default(), withTest} {
		got, err := channel.ParseEnum8(r.Enum8())
		want := map[string]int8{}
		for _, s := range r.Specs() {
			want[string(s.Name)] = s.Enum
		}
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("ParseEnum8(%s) = %v, %v; want %v", r.Enum8(), got, err, want)
		}
	}
	// As system.columns shows it, escapes included.
	if got, err := channel.ParseEnum8(`Enum8('a\'b' = -1, 'c' = 127)`); err != nil || !maps.Equal(got, map[string]int8{"a'b": -1, "c": 127}) {
		t.Errorf("escaped: %v, %v", got, err)
	}
	for _, bad := range []string{"String", "Enum16('amazon' = 1)", "Enum8()", "Enum8('amazon' = x)", "Enum8('amazon = 1)", "Enum8(amazon = 1)", "Enum8('amazon' = 300)"} {
		if got, err := channel.ParseEnum8(bad); err == nil {
			t.Errorf("ParseEnum8(%s) = %v, want an error", bad, got)
		}
	}

	// CheckEnum8: every channel with its value; more elements are no fault.
	if err := channel.Default().CheckEnum8(withTest.Enum8()); err != nil {
		t.Errorf("the shipped channels refused a column with one more: %v", err)
	}
	err = withTest.CheckEnum8(channel.Default().Enum8())
	if err == nil || err.Error() != "has no channel test (= 100): run orderflow migrate with the migration that adds it" {
		t.Errorf("a column without test: %v", err)
	}
	err = channel.Default().CheckEnum8("Enum8('amazon' = 1, 'ebay' = 3)")
	if err == nil || err.Error() != "has channel ebay = 3 where the registry has 2" {
		t.Errorf("a column with ebay = 3: %v", err)
	}
	if err := channel.Default().CheckEnum8("String"); err == nil {
		t.Error("a String column passed")
	}
}
