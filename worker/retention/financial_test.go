package retention

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

func utc(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// Worked examples of the rule: the end of the financial year holding the last
// event, plus the period; in DE from the end of that year's calendar year.
func TestFinancialExpiryExamples(t *testing.T) {
	march, december := config.YearEnd{Month: time.March, Day: 31}, config.YearEnd{Month: time.December, Day: 31}
	feb28, feb29 := config.YearEnd{Month: time.February, Day: 28}, config.YearEnd{Month: time.February, Day: 29}
	six, ten := config.Period{Years: 6}, config.Period{Years: 10}
	for _, c := range []struct {
		name     string
		event    time.Time
		end      config.YearEnd
		period   config.Period
		calendar bool
		want     time.Time
	}{
		{"refund after the year end", utc(2026, 5, 10, 9, 0, 0), march, six, false, utc(2033, 4, 1, 0, 0, 0)},
		{"last second of the year", utc(2026, 3, 31, 23, 59, 59), march, six, false, utc(2032, 4, 1, 0, 0, 0)},
		{"first second of the next", utc(2026, 4, 1, 0, 0, 0), march, six, false, utc(2033, 4, 1, 0, 0, 0)},
		{"29 February, 31 March year end", utc(2024, 2, 29, 12, 0, 0), march, six, false, utc(2030, 4, 1, 0, 0, 0)},
		{"02-29 year end in a leap year", utc(2028, 2, 29, 12, 0, 0), feb29, six, false, utc(2034, 3, 1, 0, 0, 0)},
		{"02-29 year end in a common year", utc(2027, 2, 28, 12, 0, 0), feb29, six, false, utc(2033, 3, 1, 0, 0, 0)},
		// The year ending 28 February 2028 ends at midnight on the 29th; six
		// years on, the year ending 28 February 2034 ends on 1 March.
		{"02-28 year end, leap year", utc(2028, 2, 28, 23, 0, 0), feb28, six, false, utc(2034, 3, 1, 0, 0, 0)},
		{"29 February is next year's", utc(2028, 2, 29, 10, 0, 0), feb28, six, false, utc(2035, 3, 1, 0, 0, 0)},
		{"four years onto a leap day", utc(2028, 2, 28, 23, 0, 0), feb28, config.Period{Years: 4}, false, utc(2032, 2, 29, 0, 0, 0)},
		{"DE, calendar year", utc(2025, 5, 2, 0, 0, 0), march, ten, true, utc(2037, 1, 1, 0, 0, 0)},
		{"DE, December year end", utc(2025, 12, 31, 23, 59, 59), december, ten, true, utc(2036, 1, 1, 0, 0, 0)},
	} {
		if got := financialExpiry(c.event, c.end, c.period, c.calendar); !got.Equal(c.want) {
			t.Errorf("%s: expiry of %s = %s, want %s", c.name, c.event, got, c.want)
		}
	}
}

// refYearEnd finds the end of the financial year holding e by walking the
// calendar a day at a time (independent of config.YearEnd.After): the first
// year-end day on or after e's date, and the midnight after it.
func refYearEnd(e time.Time, end config.YearEnd) time.Time {
	d := time.Date(e.Year(), e.Month(), e.Day(), 0, 0, 0, 0, time.UTC)
	for {
		next := d.AddDate(0, 0, 1)
		lastOfFeb := d.Month() == time.February && next.Month() == time.March
		if d.Month() == end.Month && (d.Day() == end.Day || end.Month == time.February && end.Day == 29 && lastOfFeb) {
			return next
		}
		d = next
	}
}

// refExpiry is the rule, on refYearEnd.
func refExpiry(e time.Time, end config.YearEnd, period config.Period, calendar bool) time.Time {
	start := refYearEnd(e, end)
	if calendar {
		start = time.Date(start.AddDate(0, 0, -1).Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
	}
	return period.After(start)
}

// TestFinancialCutoffIsExact: over many last events and as-of instants (the
// edges of years, leap days and each event's own expiry among them), for
// year ends that include 28 and 29 February, periods that include months and
// days, and both counting starts, a record is inside the cutoff exactly when
// its expiry (computed by a day-by-day walk of the calendar) has passed: none
// is deleted a second early, none kept a second late.
func TestFinancialCutoffIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 10))
	ye := func(m time.Month, d int) config.YearEnd { return config.YearEnd{Month: m, Day: d} }
	ends := []config.YearEnd{ye(time.March, 31), ye(time.December, 31), ye(time.February, 28), ye(time.February, 29),
		ye(time.January, 31), ye(time.April, 5), ye(time.June, 30), ye(time.September, 30), ye(time.February, 1)}
	periods := []config.Period{{Years: 6}, {Years: 10}, {Years: 7}, {Years: 4}, {Years: 1}, {Years: 6, Months: 6}, {Days: 2192}}
	lo, hi := utc(2000, 1, 1, 0, 0, 0).Unix(), utc(2040, 1, 1, 0, 0, 0).Unix()
	checks := 0
	for _, end := range ends {
		for _, period := range periods {
			for _, calendar := range []bool{false, true} {
				for range 150 {
					e := time.Unix(lo+rng.Int64N(hi-lo), 0).UTC()
					if rng.IntN(4) == 0 { // near a year end or a leap day
						y := 2000 + rng.IntN(40)
						edges := []time.Time{end.EndIn(y), utc(y, 2, 29, 0, 0, 0), utc(y, 3, 1, 0, 0, 0), utc(y, 1, 1, 0, 0, 0)}
						e = edges[rng.IntN(len(edges))].Add(time.Duration(rng.IntN(3)-1) * time.Second)
					}
					x := refExpiry(e, end, period, calendar)
					if got := financialExpiry(e, end, period, calendar); !got.Equal(x) {
						t.Fatalf("%s %s calendar=%v: expiry of %s = %s, reference %s", end, period, calendar, e, got, x)
					}
					for _, asOf := range []time.Time{x.Add(-time.Second), x, x.Add(time.Second),
						x.Add(time.Duration(rng.Int64N(int64(400*24*time.Hour))) - 200*24*time.Hour)} {
						c, ok := financialCutoff(end, period, calendar, asOf)
						inside := ok && !e.After(c)
						if inside != !x.After(asOf) {
							t.Fatalf("%s %s calendar=%v, event %s (expires %s), as of %s: cutoff %s (ok %v) says expired=%v",
								end, period, calendar, e, x, asOf, c, ok, inside)
						}
						checks++
					}
				}
			}
		}
	}
	t.Logf("%d checks", checks)
}

// TestPurchaseCutoffNeverDeletesEarly: for retentions counted from the
// purchase, nothing at or before the cutoff has an expiry after asOf; for
// periods of years and days (monotonic but for 29 February) the cutoff is
// exact within a day, and exact to the second away from 29 February.
func TestPurchaseCutoffNeverDeletesEarly(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 6))
	periods := []config.Period{{Days: 21}, {Years: 2}, {Years: 6}, {Months: 18}, {Months: 1}, {Years: 1, Months: 1, Days: 3}}
	lo, hi := utc(2004, 1, 1, 0, 0, 0).Unix(), utc(2040, 1, 1, 0, 0, 0).Unix()
	for _, period := range periods {
		for range 400 {
			asOf := time.Unix(lo+rng.Int64N(hi-lo), 0).UTC()
			if rng.IntN(3) == 0 {
				y := 2004 + rng.IntN(36)
				asOf = []time.Time{utc(y, 2, 29, 0, 0, 0), utc(y, 3, 1, 0, 0, 0), utc(y, 3, 3, 12, 0, 0)}[rng.IntN(3)]
			}
			c := purchaseCutoff(period, asOf)
			// Every second of the five days up to the cutoff has expired.
			for at := c; at.After(c.AddDate(0, 0, -5)); at = at.Add(-time.Duration(1+rng.IntN(600)) * time.Second) {
				if period.After(at).After(asOf) {
					t.Fatalf("%s as of %s: cutoff %s, yet %s (before it) expires at %s", period, asOf, c, at, period.After(at))
				}
			}
			if next := c.Add(time.Second); !period.After(next).After(asOf) && period.Months == 0 && !strings.Contains(next.Format("01-02"), "02-29") &&
				!strings.Contains(next.Format("01-02"), "03-01") {
				t.Fatalf("%s as of %s: cutoff %s, yet %s after it has expired too (at %s)", period, asOf, c, next, period.After(next))
			}
		}
	}
}

// The financial predicate has one term per financial-year-end group, the
// default group's excluding the other groups' tenants.
func TestFinancialPredicate(t *testing.T) {
	r := config.Defaults().Retention
	r.FinancialYearEndByTenant = map[string]config.YearEnd{
		"acme": {Month: time.December, Day: 31}, "beta": {Month: time.December, Day: 31},
		"gamma": {Month: time.June, Day: 30}, "same": {Month: time.March, Day: 31},
	}
	p := &Purger{cfg: Config{Retention: r}, fy: fyGroups(r)}
	got, ok := p.financialPredicate("GB", utc(2032, 11, 28, 12, 0, 0))
	want := "(tenant_id NOT IN ('acme', 'beta', 'gamma') AND last_financial_event_at <= toDateTime('2026-03-31 23:59:59', 'UTC')" +
		" OR tenant_id IN ('gamma') AND last_financial_event_at <= toDateTime('2026-06-30 23:59:59', 'UTC')" +
		" OR tenant_id IN ('acme', 'beta') AND last_financial_event_at <= toDateTime('2025-12-31 23:59:59', 'UTC'))"
	if !ok || got != want {
		t.Errorf("predicate\n got: %s\nwant: %s", got, want)
	}
	// DE: ten years from the end of the calendar year the financial year ends in.
	got, _ = p.financialPredicate("DE", utc(2032, 11, 28, 12, 0, 0))
	if !strings.Contains(got, "NOT IN ('acme', 'beta', 'gamma') AND last_financial_event_at <= toDateTime('2021-03-31 23:59:59', 'UTC')") ||
		!strings.Contains(got, "IN ('acme', 'beta') AND last_financial_event_at <= toDateTime('2021-12-31 23:59:59', 'UTC')") {
		t.Errorf("DE predicate %s", got)
	}
	if _, ok := p.financialPredicate("GB", utc(1976, 1, 1, 0, 0, 0)); ok {
		t.Error("a predicate as of 1976: nothing from after 1970 can have expired")
	}
}
