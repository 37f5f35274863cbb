package retention

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/London and Europe/Berlin for the worked examples

	"github.com/orderflow/orderflow/worker/config"
)

func utc(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, time.UTC)
}

// Worked examples of the rule: the end of the financial year holding the last
// event, plus the period; in DE from the end of that year's calendar year.
// The seller's time zone is not known, so an event counts in the financial
// year it falls in at UTC+14 (the latest it falls in anywhere), and the
// period runs from the year's end at UTC-12 (where it ends last): 12:00 UTC
// on the day after the year's last day.
func TestFinancialExpiryExamples(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
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
		{"refund after the year end", utc(2026, 5, 10, 9, 0, 0), march, six, false, utc(2033, 4, 1, 12, 0, 0)},
		{"last second of the year anywhere", utc(2026, 3, 31, 9, 59, 59), march, six, false, utc(2032, 4, 1, 12, 0, 0)},
		{"first second of the next at UTC+14", utc(2026, 3, 31, 10, 0, 0), march, six, false, utc(2033, 4, 1, 12, 0, 0)},
		{"last second of the year in UTC", utc(2026, 3, 31, 23, 59, 59), march, six, false, utc(2033, 4, 1, 12, 0, 0)},
		// The review's cases: in zones east of UTC the first hours of a
		// financial year are the last of the previous one in UTC.
		{"GB, 00:30 BST on 1 April", time.Date(2021, 4, 1, 0, 30, 0, 0, london), march, six, false, utc(2028, 4, 1, 12, 0, 0)},
		{"DE, 00:30 CET on 1 January, December year end", time.Date(2021, 1, 1, 0, 30, 0, 0, berlin), december, ten, true, utc(2032, 1, 1, 12, 0, 0)},
		{"DE, 00:30 CEST on 1 April, March year end", time.Date(2021, 4, 1, 0, 30, 0, 0, berlin), march, ten, true, utc(2033, 1, 1, 12, 0, 0)},
		{"29 February, 31 March year end", utc(2024, 2, 29, 12, 0, 0), march, six, false, utc(2030, 4, 1, 12, 0, 0)},
		{"02-29 year end in a leap year", utc(2028, 2, 29, 9, 0, 0), feb29, six, false, utc(2034, 3, 1, 12, 0, 0)},
		{"02-29 year end in a common year", utc(2027, 2, 28, 9, 0, 0), feb29, six, false, utc(2033, 3, 1, 12, 0, 0)},
		// The year ending 28 February 2028 ends at midnight on the 29th; six
		// years on, the year ending 28 February 2034 ends on 1 March.
		{"02-28 year end, leap year", utc(2028, 2, 28, 9, 0, 0), feb28, six, false, utc(2034, 3, 1, 12, 0, 0)},
		{"29 February is next year's", utc(2028, 2, 28, 10, 0, 0), feb28, six, false, utc(2035, 3, 1, 12, 0, 0)},
		{"four years onto a leap day", utc(2028, 2, 28, 9, 0, 0), feb28, config.Period{Years: 4}, false, utc(2032, 2, 29, 12, 0, 0)},
		{"DE, calendar year", utc(2025, 5, 2, 0, 0, 0), march, ten, true, utc(2037, 1, 1, 12, 0, 0)},
		{"DE, December year end", utc(2025, 12, 31, 9, 59, 59), december, ten, true, utc(2036, 1, 1, 12, 0, 0)},
		{"DE, December year end, at UTC+14 the next", utc(2025, 12, 31, 10, 0, 0), december, ten, true, utc(2037, 1, 1, 12, 0, 0)},
	} {
		if got := financialExpiry(c.event, c.end, c.period, c.calendar); !got.Equal(c.want) {
			t.Errorf("%s: expiry of %s = %s, want %s", c.name, c.event, got, c.want)
		}
	}
}

// refYearEnd finds the end of the financial year holding e in the zone loc by
// walking the calendar of that zone (independent of config.YearEnd): the
// first year-end day on or after e's local date, and the local midnight after
// it.
func refYearEnd(e time.Time, end config.YearEnd, loc *time.Location) time.Time {
	l := e.In(loc)
	d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	for {
		next := d.AddDate(0, 0, 1)
		lastOfFeb := d.Month() == time.February && next.Month() == time.March
		switch {
		case d.Month() == end.Month && (d.Day() == end.Day || end.Month == time.February && end.Day == 29 && lastOfFeb):
			return next
		case d.Month() != end.Month: // no year end this month: to the first of the next
			d = time.Date(d.Year(), d.Month()+1, 1, 0, 0, 0, 0, loc)
		default:
			d = next
		}
	}
}

// refZoneExpiry is when a record expires for a seller in the zone loc: the
// end of the financial year holding e there (or the end of its calendar
// year), plus the period on that zone's calendar.
func refZoneExpiry(e time.Time, end config.YearEnd, period config.Period, calendar bool, loc *time.Location) time.Time {
	start := refYearEnd(e, end, loc)
	if calendar {
		start = time.Date(start.AddDate(0, 0, -1).Year()+1, time.January, 1, 0, 0, 0, 0, loc)
	}
	return period.After(start)
}

// refExpiry is the rule orderflow applies, on refYearEnd: the financial year
// e falls in at UTC+14, its end at UTC-12, plus the period.
func refExpiry(e time.Time, end config.YearEnd, period config.Period, calendar bool) time.Time {
	return refZoneExpiry(e.Add(14*time.Hour), end, period, calendar, time.UTC).Add(12 * time.Hour)
}

// zones are fixed offsets from UTC-12 to UTC+14: every whole hour, and the
// odd ones in use (-9:30, -3:30, +3:30, +4:30, +5:30, +5:45, +6:30, +8:45,
// +9:30, +10:30, +12:45, +13:45). Daylight saving only moves a zone within
// this range.
func zones() []*time.Location {
	var out []*time.Location
	for h := -12; h <= 14; h++ {
		out = append(out, time.FixedZone("", h*3600))
	}
	for _, m := range []int{-9*60 - 30, -3*60 - 30, 3*60 + 30, 4*60 + 30, 5*60 + 30, 5*60 + 45, 6*60 + 30, 8*60 + 45,
		9*60 + 30, 10*60 + 30, 12*60 + 45, 13*60 + 45} {
		out = append(out, time.FixedZone("", m*60))
	}
	return out
}

var (
	testEnds = []config.YearEnd{{Month: time.March, Day: 31}, {Month: time.December, Day: 31}, {Month: time.February, Day: 28},
		{Month: time.February, Day: 29}, {Month: time.January, Day: 31}, {Month: time.April, Day: 5}, {Month: time.June, Day: 30},
		{Month: time.September, Day: 30}, {Month: time.February, Day: 1}}
	testPeriods = []config.Period{{Years: 6}, {Years: 10}, {Years: 7}, {Years: 4}, {Years: 1}, {Years: 6, Months: 6}, {Days: 2192}}
)

// randomEvent is an instant from 2000 to 2040, one time in two within a day
// of a UTC year end, a leap day or a new year.
func randomEvent(rng *rand.Rand, end config.YearEnd) time.Time {
	lo, hi := utc(2000, 1, 1, 0, 0, 0).Unix(), utc(2040, 1, 1, 0, 0, 0).Unix()
	if rng.IntN(2) == 0 {
		return time.Unix(lo+rng.Int64N(hi-lo), 0).UTC()
	}
	y := 2000 + rng.IntN(40)
	edges := []time.Time{end.EndIn(y), utc(y, 2, 29, 0, 0, 0), utc(y, 3, 1, 0, 0, 0), utc(y, 1, 1, 0, 0, 0)}
	return edges[rng.IntN(len(edges))].Add(time.Duration(rng.Int64N(int64(52*time.Hour))) - 26*time.Hour).Truncate(time.Second)
}

// eachRandomEvent calls check with n random last events (randomEvent) for
// every test year end and period, counted both ways (from the financial
// year's end and from the calendar year's).
func eachRandomEvent(rng *rand.Rand, n int, check func(end config.YearEnd, period config.Period, calendar bool, e time.Time)) {
	for _, end := range testEnds {
		for _, period := range testPeriods {
			for _, calendar := range []bool{false, true} {
				for range n {
					check(end, period, calendar, randomEvent(rng, end))
				}
			}
		}
	}
}

// TestFinancialExpiryIsNeverEarlyInAnyZone: whatever the seller's time zone,
// from UTC-12 to UTC+14, a record's expiry is never before the end of the
// financial year holding its last event there plus the period (P8: never
// early). And it is exact, the expiry of a seller at UTC-12, whenever the
// event falls in the same financial year at UTC-12 and at UTC+14: only the
// events of the 26 hours around a year's end are kept longer than some zone
// needs.
func TestFinancialExpiryIsNeverEarlyInAnyZone(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	locs := zones()
	west, east := time.FixedZone("", -12*3600), time.FixedZone("", 14*3600)
	checks, exact := 0, 0
	eachRandomEvent(rng, 25, func(end config.YearEnd, period config.Period, calendar bool, e time.Time) {
		got := financialExpiry(e, end, period, calendar)
		var latest time.Time
		for _, loc := range locs {
			z := refZoneExpiry(e, end, period, calendar, loc)
			if got.Before(z) {
				t.Fatalf("%s %s calendar=%v: expiry of %s = %s, before its expiry at UTC%s, %s",
					end, period, calendar, e, got, z.In(loc).Format("-07:00"), z)
			}
			if z.After(latest) {
				latest = z
			}
			checks++
		}
		// The pass's cutoff agrees: a second before the latest
		// zone's expiry, the record is not among the expired.
		if c, ok := financialCutoff(end, period, calendar, latest.Add(-time.Second)); ok && !e.After(c) {
			t.Fatalf("%s %s calendar=%v: event %s is inside the cutoff %s a second before its expiry in some zone, %s",
				end, period, calendar, e, c, latest)
		}
		if refYearEnd(e, end, west).Format(time.DateOnly) == refYearEnd(e, end, east).Format(time.DateOnly) {
			if z := refZoneExpiry(e, end, period, calendar, west); !got.Equal(z) {
				t.Fatalf("%s %s calendar=%v: expiry of %s = %s, want exactly its expiry at UTC-12, %s", end, period, calendar, e, got, z)
			}
			exact++
		}
	})
	t.Logf("%d checks, %d exact", checks, exact)
}

// TestFinancialCutoffIsExact: over many last events and as-of instants (the
// edges of years, leap days and each event's own expiry among them), for
// year ends that include 28 and 29 February, periods that include months and
// days, and both counting starts, a record is inside the cutoff exactly when
// its expiry under the rule (computed by a walk of the calendar, refExpiry)
// has passed: none is deleted a second early, none kept a second late.
func TestFinancialCutoffIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 10))
	checks := 0
	eachRandomEvent(rng, 150, func(end config.YearEnd, period config.Period, calendar bool, e time.Time) {
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
	})
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
	tables, err := classTables(config.RetentionClasses(), "orderflow", "orderflow_restricted")
	if err != nil {
		t.Fatal(err)
	}
	fin := tables[slices.IndexFunc(tables, func(t table) bool { return t.class.FinancialYear })]
	got, ok := p.financialPredicate(fin, "GB", utc(2032, 11, 28, 12, 0, 0))
	want := "(tenant_id NOT IN ('acme', 'beta', 'gamma') AND last_financial_event_at <= toDateTime('2026-03-31 09:59:59', 'UTC')" +
		" OR tenant_id IN ('gamma') AND last_financial_event_at <= toDateTime('2026-06-30 09:59:59', 'UTC')" +
		" OR tenant_id IN ('acme', 'beta') AND last_financial_event_at <= toDateTime('2025-12-31 09:59:59', 'UTC'))"
	if !ok || got != want {
		t.Errorf("predicate\n got: %s\nwant: %s", got, want)
	}
	// DE: ten years from the end of the calendar year the financial year ends in.
	got, _ = p.financialPredicate(fin, "DE", utc(2032, 11, 28, 12, 0, 0))
	if !strings.Contains(got, "NOT IN ('acme', 'beta', 'gamma') AND last_financial_event_at <= toDateTime('2021-03-31 09:59:59', 'UTC')") ||
		!strings.Contains(got, "IN ('acme', 'beta') AND last_financial_event_at <= toDateTime('2021-12-31 09:59:59', 'UTC')") {
		t.Errorf("DE predicate %s", got)
	}
	if _, ok := p.financialPredicate(fin, "GB", utc(1976, 1, 1, 0, 0, 0)); ok {
		t.Error("a predicate as of 1976: nothing from after 1970 can have expired")
	}
}

// Financial records of every jurisdiction share their partitions, so the
// expired ones are found by one predicate: a term per retention rule, its
// jurisdictions named. GB, IE, the US (no statute: the platform's) and
// records of no jurisdiction keep 6 years from the end of the financial
// year; FR 10; DE 10 from the end of the calendar year the financial year
// ends in. A jurisdiction that is not a country code goes in hex.
func TestExpiredPredicate(t *testing.T) {
	r := config.Defaults().Retention
	p := &Purger{cfg: Config{Retention: r}, fy: fyGroups(r)}
	tables, err := classTables(config.RetentionClasses(), "orderflow", "orderflow_restricted")
	if err != nil {
		t.Fatal(err)
	}
	fin := tables[slices.IndexFunc(tables, func(t table) bool { return t.class.FinancialYear })]
	got, ok := p.expiredPredicate(fin, []string{"", "DE", "FR", "GB", "IE", "US", "x'"}, utc(2032, 11, 28, 12, 0, 0))
	want := "((jurisdiction IN ('', 'GB', 'IE', 'US', unhex('7827')) AND last_financial_event_at <= toDateTime('2026-03-31 09:59:59', 'UTC'))" +
		" OR (jurisdiction = 'DE' AND last_financial_event_at <= toDateTime('2021-03-31 09:59:59', 'UTC'))" +
		" OR (jurisdiction = 'FR' AND last_financial_event_at <= toDateTime('2022-03-31 09:59:59', 'UTC')))"
	if !ok || got != want {
		t.Errorf("predicate\n got: %s\nwant: %s", got, want)
	}
	got, ok = p.expiredPredicate(fin, []string{"GB"}, utc(2032, 11, 28, 12, 0, 0))
	if want := "jurisdiction = 'GB' AND last_financial_event_at <= toDateTime('2026-03-31 09:59:59', 'UTC')"; !ok || got != want {
		t.Errorf("predicate of GB alone\n got: %s\nwant: %s", got, want)
	}
	for _, js := range [][]string{nil, {"GB", "DE"}} {
		if got, ok := p.expiredPredicate(fin, js, utc(1976, 1, 1, 0, 0, 0)); ok {
			t.Errorf("a predicate for %v as of 1976 (nothing from after 1970 can have expired): %s", js, got)
		}
	}
}
