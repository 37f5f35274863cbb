package retention_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
)

var benchStep = flag.Duration("retention.bench-step", 9*day+7*time.Hour+13*time.Minute,
	"BenchmarkPurge: time between two orders of the seven-year data set (smaller is denser)")

// BenchmarkPurge measures real passes on the seven-year data set (two
// tenants, an order every -retention.bench-step, 5 rows per order):
//
//   - first-pass: the first pass ever, 22 days after the data set's today,
//     with the default periods: seven years of daily label partitions, five
//     years of analytics months and the months of financial years that
//     expired dropped (by a count of each month's expired records), and
//     the straddling partitions' expired rows deleted (mutations that rewrite
//     their whole table on ClickHouse 18.16).
//   - six-years-on: then a pass six years later (DE kept 10 years).
//   - no-op: a pass right after a pass, what every hourly run costs when
//     nothing has expired since.
//
// Each iteration of the first two inserts a fresh data set, untimed.
func BenchmarkPurge(b *testing.B) {
	ctx := context.Background()
	setup := func(b *testing.B) *fixture {
		b.StopTimer()
		defer b.StartTimer()
		cfg, conn := clickhousetest.Migrated(b)
		tenants := twoTenants("bench")
		orders := append(sevenYears(tenants, *benchStep, labelAt22d, analyticsAt22d),
			eventsAround(tenants, fyGB22d, fyGBDec22d, fyGB6y, fyGBDec6y, fyDE6y, fyDEDec6y)...)
		insertOrders(b, conn, cfg, orders, nil)
		f := &fixture{cfg: cfg, conn: conn, reg: prometheus.NewRegistry(), log: &syncBuffer{}, model: newModel(b, conn, orders), orders: orders}
		f.setNow(today.AddDate(6, 0, 0)) // every pass below is at or before it
		return f
	}
	report := func(b *testing.B, rows, actions, tableRows uint64) {
		b.ReportMetric(float64(rows)/float64(b.N), "rows-removed/op")
		b.ReportMetric(float64(actions)/float64(b.N), "actions/op")
		b.ReportMetric(float64(tableRows), "rows-before")
	}

	b.Run("first-pass", func(b *testing.B) {
		var rows, actions, before uint64
		for range b.N {
			f := setup(b)
			before = sumCounts(f.model.counts())
			rep, err := f.purger(b, defaultRetention(), nil).Purge(ctx, today.Add(22*day), false)
			if err != nil {
				b.Fatal(err)
			}
			rows += rep.Rows()
			actions += uint64(len(rep.Actions))
		}
		report(b, rows, actions, before)
	})
	b.Run("six-years-on", func(b *testing.B) {
		var rows, actions, before uint64
		for range b.N {
			f := setup(b)
			p := f.purger(b, defaultRetention(), nil)
			b.StopTimer()
			if _, err := p.Purge(ctx, today.Add(22*day), false); err != nil {
				b.Fatal(err)
			}
			f.model.purge(defaultRetention(), today.Add(22*day))
			before = sumCounts(f.model.counts())
			b.StartTimer()
			rep, err := p.Purge(ctx, today.AddDate(6, 0, 0), false)
			if err != nil {
				b.Fatal(err)
			}
			rows += rep.Rows()
			actions += uint64(len(rep.Actions))
		}
		report(b, rows, actions, before)
	})
	b.Run("no-op", func(b *testing.B) {
		f := setup(b)
		p := f.purger(b, defaultRetention(), nil)
		asOf := today.Add(22 * day)
		b.StopTimer()
		if _, err := p.Purge(ctx, asOf, false); err != nil {
			b.Fatal(err)
		}
		f.model.purge(defaultRetention(), asOf)
		b.StartTimer()
		var rows, actions uint64
		for range b.N {
			rep, err := p.Purge(ctx, asOf, false)
			if err != nil {
				b.Fatal(err)
			}
			rows += rep.Rows()
			actions += uint64(len(rep.Actions))
		}
		report(b, rows, actions, sumCounts(f.model.counts()))
	})
}
