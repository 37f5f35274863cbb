package outbox

import (
	"cmp"
	"time"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Jobs returns the courier jobs of a batch's orders, in the orders' order:
// at most one for each order (JobOf), none for most. now is the jobs'
// CreatedAt.
func Jobs(orders []protected.Order, now time.Time) []Job {
	var out []Job
	for i := range orders {
		if j, ok := JobOf(&orders[i], now); ok {
			out = append(out, j)
		}
	}
	return out
}

// KindOf says what courier work a snapshot of an order calls for, if any:
//
//   - KindCreate when a merchant-fulfilled order is ready to ship: paid in
//     full, unshipped or partially shipped, no cancellation requested (the
//     seller has not yet decided; the next snapshot says), and with a
//     delivery label to ship to;
//   - KindCancel when a merchant-fulfilled order is cancelled. The pipeline
//     keeps no state, so it cannot know whether a create job went out for
//     the order before: every cancelled snapshot makes a cancel job, and a
//     cancel for an order the courier does not have is done (Kind's
//     contract);
//   - nothing otherwise. Marketplace-fulfilled orders (Amazon FBA/AFN, eBay
//     managed shipping) never: the marketplace ships them, and the seller has
//     no address to send. Nor pending, unfulfillable, payment-failed or
//     shipped orders, nor partly refunded ones (PaymentStatus is not paid):
//     what is left to ship of those is for the seller to decide.
//
// Each later snapshot of a ready order makes a create job again, under a new
// idempotency key (its source version differs); a connector recognises the
// order by its reference (Job.Key's order id) where the provider allows.
func KindOf(o *protected.Order) (Kind, bool) {
	if o.Fulfilment != order.FulfilmentMerchant {
		return "", false
	}
	switch o.Status {
	case order.StatusCancelled:
		return KindCancel, true
	case order.StatusUnshipped, order.StatusPartiallyShipped:
		if o.PaymentStatus == order.PaymentPaid && !o.CancelRequested && !o.DeliveryLabel.IsZero() {
			return KindCreate, true
		}
	}
	return "", false
}

// JobOf returns the job an order's snapshot calls for (KindOf), made at now,
// and false when it calls for none. A create job carries the delivery label
// as its Recipient; a cancel job carries none, since cancelling needs no
// address (minimal data, P5).
func JobOf(o *protected.Order, now time.Time) (Job, bool) {
	kind, ok := KindOf(o)
	if !ok {
		return Job{}, false
	}
	version := o.SourceUpdatedAt.UnixMilli()
	j := Job{
		Version:          JobVersion,
		Kind:             kind,
		IdempotencyKey:   IdempotencyKey(o.TenantID, o.Channel, o.ChannelOrderID, kind, version),
		TenantID:         o.TenantID,
		Channel:          o.Channel,
		Marketplace:      o.Marketplace,
		ChannelOrderID:   o.ChannelOrderID,
		SellerOrderID:    o.SellerOrderID,
		SourceVersion:    version,
		PurchasedAt:      o.PurchasedAt.UTC(),
		ShipServiceLevel: o.ShipServiceLevel,
		// The normaliser holds an order's amounts to one currency; the
		// total is the amount every channel states.
		Currency:  cmp.Or(o.Totals.Total.Currency, o.Totals.Subtotal.Currency),
		Subtotal:  o.Totals.Subtotal,
		Shipping:  o.Totals.Shipping,
		Total:     o.Totals.Total,
		Lines:     make([]Line, len(o.Lines)),
		CreatedAt: now.UTC(),
	}
	if a := o.ShippingAddress; a != nil {
		j.DestinationCountry, j.AddressType = a.CountryCode, a.AddressType
	}
	for i, l := range o.Lines {
		j.Lines[i] = Line{LineID: l.LineID, SKU: l.SKU, Title: l.Title, Quantity: l.Quantity, UnitPrice: l.UnitPrice, LineTotal: l.LineTotal}
	}
	if kind == KindCreate {
		j.Recipient = o.DeliveryLabel.Value()
	}
	return j, true
}
