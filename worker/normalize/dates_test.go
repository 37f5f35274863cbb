package normalize

import (
	"strings"
	"testing"
	"time"
)

// TestTimesRetentionCannotReach sets each timestamp of each channel's payload, and
// the envelope's received_at, to instants retention could not handle: before 2000
// (1969 would wrap to 2105 in a ClickHouse DateTime), in 2150 (which wraps to
// 2013), 2099 for an event (a label kept for 73 years), and just past now plus the
// allowed skew. Event times (purchase, update, refund, received_at) must be in
// [2000-01-01, now + skew]; other times (ship-by and delivery windows) in
// [2000-01-01, 2100-01-01). Each refusal is invalid_value (bad_envelope for the
// envelope) naming the field.
func TestTimesRetentionCannotReach(t *testing.T) {
	n := mustNormalizer(t)
	latest := testNow.Add(DefaultMaxClockSkew)
	type field struct {
		fixture string
		path    []any // in the message
		errPath string
		event   bool
	}
	fields := []field{
		{"amazon/uk-two-lines-typical.json", []any{"payload", "order", "PurchaseDate"}, "payload.order.PurchaseDate", true},
		{"amazon/uk-two-lines-typical.json", []any{"payload", "order", "LastUpdateDate"}, "payload.order.LastUpdateDate", true},
		{"amazon/uk-two-lines-typical.json", []any{"payload", "order", "LatestShipDate"}, "payload.order.LatestShipDate", false},
		{"amazon/uk-two-lines-typical.json", []any{"payload", "order", "LatestDeliveryDate"}, "payload.order.LatestDeliveryDate", false},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "createdTime"}, "payload.order.createdTime", true},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "lastUpdatedTime"}, "payload.order.lastUpdatedTime", true},
		{"amazon2026/uk-two-lines-typical.json", []any{"payload", "order", "fulfillment", "shipByWindow", "latestDateTime"}, "payload.order.fulfillment.shipByWindow.latestDateTime", false},
		{"ebay/typical-two-line.json", []any{"payload", "creationDate"}, "payload.creationDate", true},
		{"ebay/typical-two-line.json", []any{"payload", "lastModifiedDate"}, "payload.lastModifiedDate", true},
		{"ebay/fully-refunded.json", []any{"payload", "paymentSummary", "refunds", 1, "refundDate"}, "payload.paymentSummary.refunds[1].refundDate", true},
		{"ebay/typical-two-line.json", []any{"payload", "lineItems", 0, "lineItemFulfillmentInstructions", "shipByDate"}, "payload.lineItems[0].lineItemFulfillmentInstructions.shipByDate", false},
		{"ebay/typical-two-line.json", []any{"received_at"}, "received_at", true},
		{"amazon/uk-two-lines-typical.json", []any{"received_at"}, "received_at", true},
	}
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for _, f := range fields {
		cases := []struct {
			value string
			rule  string // "" when it must normalise
		}{
			{"1969-12-31T23:59:59Z", ruleTimeTooEarly},
			{"1999-12-31T23:59:59Z", ruleTimeTooEarly},
			{"2000-01-01T00:00:00Z", ""},
			{"2150-06-01T00:00:00Z", ruleTimeTooLate},
			{"2100-01-01T00:00:00Z", ruleTimeTooLate},
			{"2099-12-31T23:59:59+01:00", ""}, // 22:59:59 UTC: late, but a window may be
		}
		if f.event {
			cases[len(cases)-1].rule = ruleEventInFuture
			cases = append(cases,
				struct{ value, rule string }{rfc(latest), ""},
				struct{ value, rule string }{rfc(latest.Add(time.Second)), ruleEventInFuture},
				struct{ value, rule string }{"2099-01-01T00:00:00Z", ruleEventInFuture},
			)
		}
		for _, c := range cases {
			name := strings.Join(strings.Split(f.errPath, "."), "/") + "=" + c.value
			t.Run(name, func(t *testing.T) {
				msg := setJSON(t, f.fixture, f.path, c.value)
				_, err := n.Normalize(msg)
				if c.rule == "" {
					// Other checks (update before purchase, say) are not this test's.
					if err != nil && strings.Contains(err.Error(), f.errPath+": timestamp") {
						t.Fatalf("refused a time in bounds: %v", err)
					}
					return
				}
				if err == nil {
					t.Fatalf("normalised; want %s", c.rule)
				}
				want := string(ReasonInvalidValue)
				if f.errPath == "received_at" {
					want = string(ReasonBadEnvelope)
				}
				want += ": " + f.errPath + ": " + c.rule
				if err.Error() != want {
					t.Errorf("error\n got: %v\nwant: %s", err, want)
				}
			})
		}
	}
}

// TestClockSkewIsConfigurable: a Normalizer allowing an hour refuses what one
// allowing a day accepts, and New refuses a skew that is negative or above 30
// days.
func TestClockSkewIsConfigurable(t *testing.T) {
	msg := setJSON(t, "ebay/typical-two-line.json", []any{"payload", "lastModifiedDate"},
		testNow.Add(2*time.Hour).Format(time.RFC3339))
	day := mustNormalizer(t)
	if _, err := day.Normalize(msg); err != nil {
		t.Errorf("a day's skew refused an update two hours ahead: %v", err)
	}
	hour, err := New(Config{Now: func() time.Time { return testNow }, MaxClockSkew: time.Hour, Decoders: testDecoders})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hour.Normalize(msg); err == nil || ReasonOf(err) != ReasonInvalidValue {
		t.Errorf("an hour's skew accepted an update two hours ahead (err %v)", err)
	}
	for _, bad := range []time.Duration{-time.Second, 31 * 24 * time.Hour} {
		if _, err := New(Config{MaxClockSkew: bad}); err == nil {
			t.Errorf("New accepted MaxClockSkew %s", bad)
		}
	}
}
