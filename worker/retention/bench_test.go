package retention_test

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/retention"
)

var benchStep = flag.Duration("retention.bench-step", 9*day+7*time.Hour+13*time.Minute,
	"BenchmarkPurge: time between two orders of the seven-year data set (smaller is denser)")

// BenchmarkPurge measures real passes on the seven-year data set (two
// tenants, an order every -retention.bench-step, 5 rows per order):
//
//   - first-pass: the first pass ever, 22 days after the data set's today,
//     with the default periods: seven years of monthly label partitions and
//     five years of analytics months dropped, the straddling months' expired
//     rows deleted, and the expired GB records and those of no jurisdiction
//     deleted from the oldest financial year, which keeps its DE records
//     (mutations that rewrite the parts holding a deleted row).
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
		tenants := twoTenants("bench")
		f := newFixture(b, append(sevenYears(tenants, *benchStep, labelAt22d, analyticsAt22d),
			eventsAround(tenants, fyGB22d, fyGBDec22d, fyGB6y, fyGBDec6y, fyDE6y, fyDEDec6y)...))
		f.setNow(today.AddDate(6, 0, 0)) // every pass below is at or before it
		return f
	}

	b.Run("first-pass", func(b *testing.B) {
		var done passes
		var before uint64
		for range b.N {
			f := setup(b)
			before = sumCounts(f.model.counts())
			done.run(b, f.purger(b, defaultRetention(), nil), today.Add(22*day))
		}
		done.report(b, before)
	})
	b.Run("six-years-on", func(b *testing.B) {
		var done passes
		var before uint64
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
			done.run(b, p, today.AddDate(6, 0, 0))
		}
		done.report(b, before)
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
		var done passes
		for range b.N {
			done.run(b, p, asOf)
		}
		done.report(b, sumCounts(f.model.counts()))
	})
}

// passes tallies the timed passes of a benchmark.
type passes struct{ rows, actions uint64 }

// run makes one pass as of asOf and adds what it removed and did.
func (d *passes) run(b *testing.B, p *retention.Purger, asOf time.Time) {
	rep, err := p.Purge(context.Background(), asOf, false)
	if err != nil {
		b.Fatal(err)
	}
	d.rows += rep.Rows()
	d.actions += uint64(len(rep.Actions))
}

// report reports rows removed and actions per pass, and the rows the tables
// held before.
func (d *passes) report(b *testing.B, tableRows uint64) {
	b.ReportMetric(float64(d.rows)/float64(b.N), "rows-removed/op")
	b.ReportMetric(float64(d.actions)/float64(b.N), "actions/op")
	b.ReportMetric(float64(tableRows), "rows-before")
}
