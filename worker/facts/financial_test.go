package facts_test

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// TestLastFinancialEvent: financial retention counts from the order's last
// financial event, so the row's last_financial_event_at is the latest of the
// purchase, the snapshot's update and every refund's date (a refund dated
// after the update included). A date out of DateTime's range is refused
// (TestInvalidOrder), never wrapped.
func TestLastFinancialEvent(t *testing.T) {
	s := newStack(t)
	tmpl := fixtureOrders(t, 1, func(o order.Order) bool { return o.Channel == order.ChannelEbay })[0]
	purchased := time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC) // two days before a 31 March year end
	updated := purchased.Add(3 * time.Hour)
	refundedAt := time.Date(2026, 4, 2, 9, 30, 0, 0, time.UTC) // in the next financial year
	gbp := order.Money{Amount: 1000, Currency: "GBP"}
	mk := func(id string, refunds ...order.Refund) order.Order {
		o := tmpl
		o.ChannelOrderID, o.PurchasedAt, o.SourceUpdatedAt, o.Refunds = id, purchased, updated, refunds
		return o
	}
	orders := []order.Order{
		mk("no-refund"),
		mk("refund-after-update", order.Refund{Amount: gbp, Status: "refunded", RefundedAt: &refundedAt},
			order.Refund{Amount: gbp, Status: "refunded", RefundedAt: &purchased}),
		mk("undated-refund", order.Refund{Amount: gbp}),
	}
	cs := s.own(t, orders)
	w, _ := s.writer(t, nil)
	write(t, w, s.protect(t, cs))

	got := byKey(t, s.rows(t, "financial_records"))
	for i, want := range []time.Time{updated, refundedAt, updated} {
		if at := got[keyOf(cs[i])]["last_financial_event_at"]; at != ts(want) {
			t.Errorf("%s: last_financial_event_at = %s, want %s", cs[i].ChannelOrderID, at, ts(want))
		}
	}
}
