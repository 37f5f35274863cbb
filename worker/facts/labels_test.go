package facts_test

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestLabelExpiry: a snapshot of an order whose label retention (21 days from
// purchase) has ended writes its facts and financial record but no label,
// and the skip is counted; a label still within retention is written.
func TestLabelExpiry(t *testing.T) {
	s := newStack(t)
	orders := fixtureOrders(t, 3, hasShippingAddress)
	day := 24 * time.Hour
	orders[0].PurchasedAt = testNow.Add(-30 * day)              // expired
	orders[1].PurchasedAt = testNow.Add(-21 * day)              // expires at this very instant
	orders[2].PurchasedAt = testNow.Add(-20*day - 23*time.Hour) // kept
	for i := range orders {
		orders[i].SourceUpdatedAt = testNow.Add(-time.Hour)
	}
	cs := s.own(t, orders)
	ps := s.protect(t, cs)
	for i, p := range ps {
		if p.DeliveryLabel.IsZero() {
			t.Fatalf("order %d has no delivery label to expire", i)
		}
	}
	w, reg := s.writer(t, func(c *facts.Config) { c.LabelRetention = config.Period{} }) // the default: 21 days
	write(t, w, ps)

	for name, want := range map[string]uint64{"order_facts": 3, "financial_records": 3, "delivery_labels": 1} {
		if n := s.count(t, name); n != want {
			t.Errorf("%s: %d rows, want %d", name, n, want)
		}
	}
	labels := byKey(t, s.rows(t, "delivery_labels"))
	if _, ok := labels[keyOf(cs[2])]; !ok {
		t.Errorf("the label within retention was not written")
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_facts_labels_expired_skipped_total"); n != 2 {
		t.Errorf("labels_expired_skipped_total = %v, want 2", n)
	}
}
