package normalize

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// fakeDecoder is a channel's decoder from outside this package: it returns
// what it is told to, and records the payload it was given.
type fakeDecoder struct {
	o       order.Order
	err     error
	payload *string
}

func (d fakeDecoder) Decode(payload []byte, _ time.Time) (order.Order, error) {
	if d.payload != nil {
		*d.payload = string(payload)
	}
	return d.o, d.err
}

func goodForeignOrder() order.Order {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	return order.Order{
		Channel: "somewhere-else", ChannelOrderID: "T-1", SourceFormat: "test.v1", Marketplace: "TEST_GB",
		Status: order.StatusUnshipped, PaymentStatus: order.PaymentPaid, Fulfilment: order.FulfilmentMerchant,
		PurchasedAt: at, SourceUpdatedAt: at,
	}
}

func foreignNormalizer(t *testing.T, dec Decoder) *Normalizer {
	t.Helper()
	decoders := map[order.Channel]Decoder{order.ChannelAmazon: Amazon, order.ChannelEbay: Ebay, "test": dec}
	n, err := New(Config{Now: func() time.Time { return testNow }, Decoders: decoders})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A channel registered from outside is read whether its envelope names the
// channel before or after the payload, gets the envelope's parts and the
// registered name (not whatever its decoder wrote), and is unknown to a
// Normalizer without it.
func TestAForeignDecoderReadsItsChannel(t *testing.T) {
	var got string
	n := foreignNormalizer(t, fakeDecoder{o: goodForeignOrder(), payload: &got})
	const payload = `{"id":"T-1","x":[1,{"y":"z"}]}`
	for _, msg := range []string{
		`{"tenant_id":"acme","channel":"test","received_at":"2026-11-02T10:00:00Z","payload":` + payload + `}`,
		`{"payload":` + payload + `,"tenant_id":"acme","received_at":"2026-11-02T10:00:00Z","channel":"test"}`,
	} {
		got = ""
		o, err := n.Normalize([]byte(msg))
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		if got != payload {
			t.Errorf("%s: the decoder was given %s, want the payload", msg, got)
		}
		if o.Channel != "test" || o.TenantID != "acme" || o.SchemaVersion != order.SchemaVersion || o.ReceivedAt.IsZero() || o.ChannelOrderID != "T-1" {
			t.Errorf("%s: channel %q tenant %q schema %d received %v order %q", msg, o.Channel, o.TenantID, o.SchemaVersion, o.ReceivedAt, o.ChannelOrderID)
		}
	}
	// The shipped channels still read in place beside it.
	if o, err := n.Normalize(mustRead(t, "testdata/ebay/typical-two-line.json")); err != nil || o.Channel != order.ChannelEbay {
		t.Errorf("eBay beside a foreign channel: %v, channel %q", err, o.Channel)
	}
	_, err := testNormalizer.Normalize([]byte(`{"tenant_id":"acme","channel":"test","received_at":"2026-11-02T10:00:00Z","payload":` + payload + `}`))
	if ReasonOf(err) != ReasonUnknownChannel {
		t.Errorf("a Normalizer without the channel: %v, want unknown_channel", err)
	}
}

// A foreign decoder's errors reach the DLQ only in this package's terms: a
// known reason, a field under payload, and no text of an error that is not an
// *Error (it could quote the payload).
func TestAForeignDecodersErrorsAreHeldToTheRules(t *testing.T) {
	const msg = `{"tenant_id":"acme","channel":"test","received_at":"2026-11-02T10:00:00Z","payload":{"id":"jane@example.com"}}`
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"an *Error with a relative field", &Error{Reason: ReasonMissingField, Field: "id", Rule: "missing"}, "missing_field: payload.id: missing"},
		{"an *Error with the message's path", &Error{Reason: ReasonBadAmount, Field: "payload.total", Rule: "is not a decimal"}, "bad_amount: payload.total: is not a decimal"},
		{"an *Error with a reason of its own", &Error{Reason: "made_up", Field: "id", Rule: "is odd"}, "invalid_value: payload.id: is odd"},
		{"any other error", errors.New("bad id jane@example.com"), "invalid_value: payload: cannot be read by the channel's decoder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shared := c.err
			n := foreignNormalizer(t, fakeDecoder{err: shared})
			_, err := n.Normalize([]byte(msg))
			if err == nil || err.Error() != c.want {
				t.Fatalf("error %v, want %s", err, c.want)
			}
			if TenantOf(err) != "acme" {
				t.Errorf("the error lost the envelope's tenant")
			}
			if strings.Contains(err.Error(), "jane") {
				t.Errorf("error %q quotes the payload", err)
			}
			if ne, ok := shared.(*Error); ok && (ne.Field == "payload.id" && c.name != "an *Error with the message's path" || ne.TenantID != "") {
				t.Errorf("the decoder's own error was changed: %+v", ne)
			}
		})
	}
}

// Whichever decoder made an order, it has an id to key it and times that
// retention can reach: a decoder added later cannot keep a label for decades.
func TestDecodedOrdersAreHeldToRetentionsTimes(t *testing.T) {
	const msg = `{"tenant_id":"acme","channel":"test","received_at":"2026-11-02T10:00:00Z","payload":{}}`
	late := testNow.Add(48 * time.Hour)
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]func(o *order.Order){
		"no order id":                 func(o *order.Order) { o.ChannelOrderID = "" },
		"a purchase before 2000":      func(o *order.Order) { o.PurchasedAt = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) },
		"an update beyond the skew":   func(o *order.Order) { o.SourceUpdatedAt = late },
		"a refund beyond the skew":    func(o *order.Order) { o.Refunds = []order.Refund{{RefundedAt: &late}} },
		"a delivery promise for 2100": func(o *order.Order) { o.LatestDeliveryAt = &far },
		"no purchase time":            func(o *order.Order) { o.PurchasedAt = time.Time{} },
		// Identifiers are not scanned by the protect stage: a foreign decoder's are here.
		"a card number as the order id": func(o *order.Order) { o.ChannelOrderID = "T-4111111111111111" },
		"a card number as a line id":    func(o *order.Order) { o.Lines = []order.Line{{LineID: "4111 1111 1111 1111"}} },
		"a card number as an item id":   func(o *order.Order) { o.Lines = []order.Line{{LineID: "L1", ItemID: "4111-1111-1111-1111"}} },
		"a card number as a refund's line": func(o *order.Order) {
			o.Refunds = []order.Refund{{LineID: "4111111111111111"}}
		},
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			o := goodForeignOrder()
			spoil(&o)
			_, err := foreignNormalizer(t, fakeDecoder{o: o}).Normalize([]byte(msg))
			if r := ReasonOf(err); r != ReasonInvalidValue && r != ReasonMissingField {
				t.Errorf("error %v, want invalid_value or missing_field", err)
			}
		})
	}
	if _, err := foreignNormalizer(t, fakeDecoder{o: goodForeignOrder()}).Normalize([]byte(msg)); err != nil {
		t.Errorf("the good order: %v", err)
	}
}

func TestNewNeedsDecoders(t *testing.T) {
	for name, decoders := range map[string]map[order.Channel]Decoder{
		"none":          nil,
		"a nil decoder": {"test": nil},
		"an empty name": {"": Amazon},
	} {
		if _, err := New(Config{Decoders: decoders}); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
