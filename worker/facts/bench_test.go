package facts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protected"
)

const (
	benchBatch   = 5000 // orders per Write
	benchTenants = 5
)

// benchOrders makes n protected orders shaped like the fixtures, each with
// two or three lines, its own id and buyer, from a few tenants, bought within
// the last three weeks (so most have a label to write), protected by the
// real stage on Vault.
func benchOrders(b *testing.B, s *stack, n int) []protected.Order {
	b.Helper()
	tmpls := pipelinetest.Canonical(fixtures(b))
	orders := make([]order.Order, n)
	for i := range orders {
		o := tmpls[i%len(tmpls)]
		o.TenantID = fmt.Sprintf("tenant-%d", i%benchTenants)
		o.ChannelOrderID = fmt.Sprintf("%03d-%07d-%07d", 200+i%10, i, i*7%10_000_000)
		o.PurchasedAt = testNow.Add(-time.Duration(i%(20*24)) * time.Hour)
		o.SourceUpdatedAt = o.PurchasedAt.Add(time.Hour)
		o.Buyer = order.Buyer{
			Name:  fmt.Sprintf("Buyer %d Smith", i),
			Email: fmt.Sprintf("buyer.%d@example.co.uk", i),
			Phone: fmt.Sprintf("+44 7700 9%05d", i%100_000),
		}
		if o.ShippingAddress != nil {
			a := *o.ShippingAddress
			a.Name, a.Line1 = o.Buyer.Name, fmt.Sprintf("%d Church Lane", 1+i%200)
			o.ShippingAddress = &a
		}
		want := 2 + i%2
		lines := make([]order.Line, want)
		for j := range lines {
			lines[j] = o.Lines[j%len(o.Lines)]
			lines[j].LineID = fmt.Sprintf("%d%02d", 10_000_000+i, j)
		}
		o.Lines = lines
		// Amounts as varied as a catalogue's: a thousand price points.
		shift := order.Amount(i % 1000 * 100)
		for j := range o.Lines {
			l := &o.Lines[j]
			for _, m := range []*order.Money{&l.UnitPrice, &l.LineTotal, &l.Tax, &l.Shipping, &l.Discount} {
				if m.Amount != 0 {
					m.Amount += shift
				}
			}
		}
		for _, m := range []*order.Money{&o.Totals.Subtotal, &o.Totals.Tax, &o.Totals.Shipping, &o.Totals.Total} {
			if m.Amount != 0 {
				m.Amount += 3 * shift
			}
		}
		orders[i] = o
	}
	return s.protect(b, s.own(b, orders))
}

// BenchmarkWrite measures Write on the real ClickHouse: batches of 5,000
// orders of two or three lines, four block inserts each (5,000 facts, 12,500
// lines, 5,000 financial records and, for the orders shipped by the seller,
// labels). One op is one batch. Every iteration writes the same batch again,
// which the server treats as new rows (ReplacingMergeTree collapses them in
// later merges).
//
// On ClickHouse 18.16 the time goes to the server: it writes a part per
// partition an insert touches, two files per column each (two months of
// facts, lines and labels, one financial year of financial records: seven
// parts), and larger batches amortise it. client-cpu-us/order is the
// writer's own cost.
func BenchmarkWrite(b *testing.B) {
	s := newStack(b)
	batch := benchOrders(b, s, benchBatch)
	w, _ := s.writer(b, func(c *facts.Config) { c.LabelRetention = config.Period{Days: 21} })
	rows, err := facts.BuildBlocks(batch, testNow)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Write(ctx, 0, batch); err != nil { // connections dialled, server warm
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		if err := w.Write(ctx, 0, batch); err != nil {
			b.Fatal(err)
		}
	}
	cpu = cpuTime() - cpu
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*len(batch))/secs, "orders/s")
	b.ReportMetric(float64(b.N*rows)/secs, "rows/s")
	b.ReportMetric(float64(rows), "rows/op")
	// The server shares the machine and does most of the work: what the
	// writer itself costs is its CPU time.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(batch)), "client-cpu-us/order")
}

// BenchmarkBuildBlocks measures the row building alone: protected orders to
// the four tables' columns, without the driver or the server.
func BenchmarkBuildBlocks(b *testing.B) {
	s := newStack(b)
	batch := benchOrders(b, s, benchBatch)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := facts.BuildBlocks(batch, testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "orders/s")
}
