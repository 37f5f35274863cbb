package normalize

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/order"
)

// Decoder reads one channel's payload into a canonical order: the part of the
// worker that knows the channel's format. A channel registry (worker/channel)
// pairs each channel's name with its Decoder; Config.Decoders hands them to a
// Normalizer.
//
// Normalize calls Decode with the envelope's payload member, a JSON value it has
// already read whole (valid, no member name twice), and latest, the latest instant
// an event of the order may have (now plus the allowed clock skew). Decode returns
// the order without what the envelope gives (tenant, channel, received_at, schema
// version), which Normalize sets, or an error. Its *Error names the field by its
// path in the message ("payload.order.PurchaseDate"), the rule in fixed words and
// at most the value's shape, never the value: the error goes into DLQ headers and
// logs in the clear. Any other error is reported as an unreadable payload without
// its text. Normalize then holds the order to the rules retention counts on
// (checkDecoded), whichever decoder made it. The protect stage does not scan the
// marketplace's identifiers for card numbers (order, line and item ids), so a
// Decoder holds each to its documented format, as this package's do
// (identifiers.go); Normalize refuses a card-like one from a Decoder outside
// this package all the same (checkForeignIdentifiers). Decode must be safe for
// concurrent use and must not keep payload.
type Decoder interface {
	Decode(payload []byte, latest time.Time) (order.Order, error)
}

// Amazon is the decoder of Amazon SP-API order payloads (Orders v0 and
// v2026-01-01), and Ebay that of eBay Sell Fulfillment orders: the channels
// orderflow ships with (worker/channel registers them).
var (
	Amazon amazonChannel
	Ebay   ebayChannel
)

type (
	amazonChannel struct{}
	ebayChannel   struct{}
)

func (amazonChannel) Decode(payload []byte, latest time.Time) (order.Order, error) {
	return normalizeAmazon(payload, latest)
}

func (ebayChannel) Decode(payload []byte, latest time.Time) (order.Order, error) {
	return normalizeEbay(payload, latest)
}

func (amazonChannel) inPlace() payloadDecoder { return getAmazonDecoder() }
func (ebayChannel) inPlace() payloadDecoder   { return getEbayDecoder() }

// ownDecoder is a Decoder of this package's: it can also read its payload in
// place, in the message's one pass, when the channel comes before the payload.
type ownDecoder interface {
	Decoder
	inPlace() payloadDecoder
}

var (
	_ ownDecoder = Amazon
	_ ownDecoder = Ebay
)

// channelDecoder is one channel a Normalizer reads.
type channelDecoder struct {
	name string
	dec  Decoder
	own  ownDecoder // dec, when it reads in place; nil otherwise
}

// newChannelDecoders checks the decoders of Config.Decoders and lists them by name.
func newChannelDecoders(decoders map[order.Channel]Decoder) ([]channelDecoder, error) {
	if len(decoders) == 0 {
		return nil, errors.New("normalize: Decoders is empty: give it the channel registry's (channel.Registry.Decoders)")
	}
	out := make([]channelDecoder, 0, len(decoders))
	for name, dec := range decoders {
		if name == "" || dec == nil {
			return nil, errors.New("normalize: Decoders holds an empty channel name or a nil decoder")
		}
		own, _ := dec.(ownDecoder)
		out = append(out, channelDecoder{name: string(name), dec: dec, own: own})
	}
	slices.SortFunc(out, func(a, b channelDecoder) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// decode reads a payload that the envelope's reader kept as bytes.
func (c *channelDecoder) decode(payload []byte, latest time.Time) (order.Order, error) {
	o, err := c.dec.Decode(payload, latest)
	if err == nil || c.own != nil {
		return o, err // this package's errors are made to its rules
	}
	return order.Order{}, foreignError(err)
}

// foreignError holds another package's decoder's error to what a DLQ header may
// carry: a known Reason and a field under "payload"; any error other than an
// *Error is shown only as an unreadable payload.
func foreignError(err error) *Error {
	var ne *Error
	if !errors.As(err, &ne) {
		return &Error{Reason: ReasonInvalidValue, Field: "payload", Rule: "cannot be read by the channel's decoder", Err: err}
	}
	e := *ne // a copy: the decoder may share its errors
	if !slices.Contains(Reasons, e.Reason) {
		e.Reason = ReasonInvalidValue
	}
	if e.Field != "payload" && !strings.HasPrefix(e.Field, "payload.") && !strings.HasPrefix(e.Field, "payload[") {
		e.Field = joinPath("payload", e.Field)
	}
	return &e
}

// Rules checkDecoded and checkForeignIdentifiers hold decoded orders to.
const (
	ruleNoOrderID       = "the channel's decoder gave the order no channel order id"
	ruleEventOutOfRange = "the channel's decoder gave a purchase, update or refund time before 2000-01-01 or later than now plus the allowed clock skew"
	rulePromiseTooLate  = "the channel's decoder gave a ship-by or delivery time before 2000-01-01 or after 2099"
	ruleIDCardLike      = "the channel's decoder gave an order, line or item id holding a run of digits that could be a card number"
)

// checkDecoded holds an order from any decoder to the rules that keys and
// retention count on: an order id to key it, and times that retention can reach
// (purchase, update and refunds within [2000-01-01, latest]; ship-by and delivery
// promises before 2100). This package's decoders check each field where they read
// it, naming it; this is the floor under a decoder added later, so that a new
// channel cannot keep a label for 73 years by a typo in a year.
func checkDecoded(o *order.Order, latest time.Time) *Error {
	event := func(t time.Time) bool { return !t.Before(earliestTime) && !t.After(latest) }
	promise := func(t *time.Time) bool { return t == nil || !t.Before(earliestTime) && t.Before(latestTime) }
	if o.ChannelOrderID == "" {
		return fail(ReasonMissingField, "payload", ruleNoOrderID)
	}
	if !event(o.PurchasedAt) || !event(o.SourceUpdatedAt) {
		return fail(ReasonInvalidValue, "payload", ruleEventOutOfRange)
	}
	for i := range o.Refunds {
		if at := o.Refunds[i].RefundedAt; at != nil && !event(*at) {
			return fail(ReasonInvalidValue, "payload", ruleEventOutOfRange)
		}
	}
	if !promise(o.LatestShipAt) || !promise(o.LatestDeliveryAt) {
		return fail(ReasonInvalidValue, "payload", rulePromiseTooLate)
	}
	return nil
}

// checkForeignIdentifiers refuses an order from a decoder outside this package
// whose marketplace identifiers hold a card-like run of digits. The protect
// stage does not scan identifiers (a Luhn-valid window cut out of one would
// corrupt a ClickHouse key): it relies on the decoder to hold each to its
// documented format, as this package's do (identifiers.go). A decoder added
// later that does not is held to this instead, so a card number typed where an
// id belongs is dead-lettered, never stored (P3).
func checkForeignIdentifiers(o *order.Order) *Error {
	cardLike := func(s string) bool { return cardnumber.MayContain(s) && cardnumber.Find(s) != nil }
	bad := cardLike(o.ChannelOrderID)
	for i := range o.Lines {
		l := &o.Lines[i]
		bad = bad || cardLike(l.LineID) || cardLike(l.ASIN) || cardLike(l.ItemID)
	}
	for i := range o.MarketplaceTaxes {
		bad = bad || cardLike(o.MarketplaceTaxes[i].LineID)
	}
	for i := range o.Refunds {
		bad = bad || cardLike(o.Refunds[i].LineID)
	}
	for i := range o.FreeText {
		bad = bad || cardLike(o.FreeText[i].LineID)
	}
	if bad {
		return fail(ReasonInvalidValue, "payload", ruleIDCardLike)
	}
	return nil
}
