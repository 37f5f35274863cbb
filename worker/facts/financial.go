package facts

import (
	"github.com/orderflow/orderflow/worker/protected"
)

// lastFinancialEvent is the financial_records row's last_financial_event_at,
// in Unix seconds: the latest instant the snapshot records for the order, its
// purchase, its last update or a refund's date. Financial retention counts
// from it (P8: to the end of the seller's financial year holding it, plus
// the period), so it must never be earlier than the order's real last
// financial event; the update time makes it an upper bound, since a channel
// does not say which of its changes moved money (Amazon charges at shipment,
// and reports refunds through another API than the orders'). At worst a
// record is kept one financial year longer. validateTimes has refused an
// order with a time outside DateTime's range, so nothing here can wrap.
func lastFinancialEvent(o *protected.Order) int64 {
	last := o.PurchasedAt
	if o.SourceUpdatedAt.After(last) {
		last = o.SourceUpdatedAt
	}
	for i := range o.Refunds {
		if at := o.Refunds[i].RefundedAt; at != nil && at.After(last) {
			last = *at
		}
	}
	return last.Unix()
}
