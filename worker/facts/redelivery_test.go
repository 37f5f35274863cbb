package facts_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestRedelivery writes what at-least-once delivery brings: the same batch
// twice, an older snapshot after a newer one, and both in one batch in either
// order. Under FINAL each key has one row, the newest snapshot's.
func TestRedelivery(t *testing.T) { testRedelivery(t, newStack(t)) }

// On the cluster, every snapshot of an order goes to one shard, where FINAL
// collapses them.
func TestClusterRedelivery(t *testing.T) { testRedelivery(t, newClusterStack(t)) }

func testRedelivery(t *testing.T, s *stack) {
	newer := s.own(t, fixtureOrders(t, 4, func(o order.Order) bool { return o.ShippingAddress != nil && len(o.Lines) > 0 }))
	older := make([]order.Order, len(newer))
	for i, o := range newer {
		o.SourceUpdatedAt = o.SourceUpdatedAt.Add(-time.Hour)
		o.Status, o.PaymentStatus = order.StatusPending, order.PaymentPending
		o.Totals.Total.Amount += 10_000
		o.Lines = append([]order.Line(nil), o.Lines...)
		o.Lines[0].Quantity += 5
		older[i] = o
	}
	ps := s.protect(t, append(append([]order.Order(nil), newer...), older...))
	pNew, pOld := ps[:len(newer)], ps[len(newer):]
	w, reg := s.writer(t, func(c *facts.Config) { c.Concurrency = 1 }) // one table at a time
	want := expected(newer, pNew, testNow, config.Period{Days: 366}.Before(testNow))

	check := func(step string) {
		t.Helper()
		s.sync(t)
		for _, name := range tables {
			if n := s.count(t, name); n != uint64(len(want[name])) {
				t.Errorf("%s: %s has %d rows under FINAL, want %d", step, name, n, len(want[name]))
			}
			if diff := cmp.Diff(want[name], byKey(t, s.rows(t, name))); diff != "" {
				t.Errorf("%s: %s (-want +got):\n%s", step, name, diff)
			}
		}
	}
	write(t, w, pNew)
	write(t, w, pNew)
	check("same batch twice")
	write(t, w, pOld)
	check("older snapshots after newer")
	var mixed []protected.Order
	for i := range pNew {
		mixed = append(mixed, pOld[i], pNew[i], pOld[i])
	}
	write(t, w, mixed)
	check("older and newer in one batch")

	if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table=order_facts"); n != float64(3*len(newer)+len(mixed)) {
		t.Errorf("insert_rows_total{order_facts} = %v: every snapshot is written, want %d", n, 3*len(newer)+len(mixed))
	}
}
