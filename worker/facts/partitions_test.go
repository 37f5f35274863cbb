package facts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestManyPartitions writes one batch whose orders span 130 purchase months:
// current ClickHouse refuses an insert block over more than 100 partitions
// (max_partitions_per_insert_block), so the writer splits the tables by
// month into blocks of at most 50 (UTC) partitions. Labels (kept a year at
// most: 13 months) and financial records (11 financial years) go in one
// block. Every row arrives, in one Write.
func TestManyPartitions(t *testing.T) {
	s := newStack(t)
	tmpl := fixtureOrders(t, 1, hasShippingAddress)[0]
	var orders []order.Order
	add := func(purchased time.Time) {
		o := tmpl
		o.ChannelOrderID = fmt.Sprintf("split-%03d", len(orders))
		o.PurchasedAt, o.SourceUpdatedAt = purchased, testNow.Add(-time.Minute)
		orders = append(orders, o)
	}
	for i := range 130 {
		add(testNow.AddDate(0, -i, 0))
	}
	for i := range 60 {
		add(testNow.AddDate(0, 0, -i-1).Add(time.Hour))
	}
	cs := s.own(t, orders)
	ps := s.protect(t, cs)
	w, reg := s.writer(t, nil) // labels kept 366 days
	write(t, w, ps)

	labels := 0
	for _, c := range cs {
		if c.PurchasedAt.After(config.Period{Days: 366}.Before(testNow)) {
			labels++
		}
	}
	for name, want := range map[string]struct{ rows, inserts int }{
		"order_facts":       {len(cs), 3},
		"order_line_facts":  {len(cs) * len(tmpl.Lines), 3},
		"financial_records": {len(cs), 1},
		"delivery_labels":   {labels, 1},
	} {
		if n := s.count(t, name); n != uint64(want.rows) {
			t.Errorf("%s: %d rows, want %d", name, n, want.rows)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != float64(want.inserts) {
			t.Errorf("%s: %v inserts, want %d", name, n, want.inserts)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name); n != float64(want.rows) {
			t.Errorf("%s: %v rows counted, want %d", name, n, want.rows)
		}
	}
}
