package retention

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// Financial records (P8) expire at the end of the seller's financial year
// that holds the order's last financial event (financial_records.
// last_financial_event_at), plus the period of the record's jurisdiction.
//
// A financial year ends at midnight in the seller's time zone, which
// orderflow does not know; every instant it stores is UTC. So the rule is
// taken in the zone that makes it latest, never early for any seller:
//
//	expiry(E) = start(F(E + 14h)) + period + 12h
//
// where F(t) is the first year end after t at midnight UTC
// (config.YearEnd.After), and start is F itself, or, in jurisdictions whose
// statute counts from the end of the calendar year
// (config.StatutoryMinimum.FromCalendarYearEnd), the end of the calendar
// year in which that financial year ends. An event belongs to the financial
// year it falls in at UTC+14, the latest it falls in anywhere (zoneAhead):
// 00:30 BST on 1 April is 23:30 UTC on 31 March, yet already the new year in
// London. The period runs from the year's end at UTC-12, where it comes last
// (zoneBehind). For a seller in any zone from UTC-12 to UTC+14 the expiry is
// therefore never early; it is exactly that of a seller at UTC-12 unless the
// event falls in the 26 hours that are in different financial years at
// UTC-12 and UTC+14 (then the record is kept up to a year longer, which P8
// allows: "at least").
//
// A pass never subtracts a period from its as-of instant (which would land a
// day off around 29 February): it adds the period forward to candidate year
// ends, newest first, and takes the first whose expiry has passed. Every
// record whose last event is more than 14 hours before that year end has
// expired, and no other: expiry is the same for every event of a financial
// year, and grows with the year. So the purge is exact to the second under
// the rule, with no slack: a record goes at the first pass at or after its
// expiry.

// zoneAhead and zoneBehind are how far the time zones furthest ahead of and
// behind UTC are: UTC+14 (Kiribati's Line Islands) and UTC-12 (Baker and
// Howland Islands). Daylight saving moves no zone outside them.
const (
	zoneAhead  = 14 * time.Hour
	zoneBehind = 12 * time.Hour
)

// fyGroup is the tenants that share a financial year end: the default one
// (every tenant without an override of another end) or one override's.
type fyGroup struct {
	end config.YearEnd
	// scope is the SQL condition on tenant_id that selects the group's rows
	// ("" when every tenant has the default year end), with a trailing AND.
	scope string
}

// fyGroups groups the tenants by financial year end: the default group first,
// then one per other year end (in calendar order), tenants in id order.
// Tenant ids are checked by config (a-z, 0-9, '-', '_'), so they quote as
// they are.
func fyGroups(r config.Retention) []fyGroup {
	byEnd := map[config.YearEnd][]string{}
	for _, tenant := range slices.Sorted(maps.Keys(r.FinancialYearEndByTenant)) {
		if end := r.FinancialYearEndByTenant[tenant]; end != r.FinancialYearEnd {
			byEnd[end] = append(byEnd[end], "'"+tenant+"'")
		}
	}
	ends := slices.SortedFunc(maps.Keys(byEnd), func(a, b config.YearEnd) int {
		return cmp.Or(cmp.Compare(a.Month, b.Month), cmp.Compare(a.Day, b.Day))
	})
	var others []string
	for _, end := range ends {
		others = append(others, byEnd[end]...)
	}
	groups := []fyGroup{{end: r.FinancialYearEnd}}
	if len(others) > 0 {
		slices.Sort(others)
		groups[0].scope = "tenant_id NOT IN (" + strings.Join(others, ", ") + ") AND "
	}
	for _, end := range ends {
		groups = append(groups, fyGroup{end: end, scope: "tenant_id IN (" + strings.Join(byEnd[end], ", ") + ") AND "})
	}
	return groups
}

// countingStart is the instant a jurisdiction's period starts for a
// financial year that ends at yearEnd (exclusive).
func countingStart(yearEnd time.Time, fromCalendarYearEnd bool) time.Time {
	if !fromCalendarYearEnd {
		return yearEnd
	}
	// The year's last day is the day before yearEnd; its calendar year ends
	// on the next 1 January.
	return time.Date(yearEnd.Add(-time.Nanosecond).Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
}

// financialExpiry is when a financial record whose last financial event was
// at e expires, for a year end, a period and its counting start.
func financialExpiry(e time.Time, end config.YearEnd, period config.Period, fromCalendarYearEnd bool) time.Time {
	return yearExpiry(end.After(e.Add(zoneAhead)), period, fromCalendarYearEnd)
}

// yearExpiry is when the records of the financial year that ends at yearEnd
// (midnight UTC) expire: the period after its counting start, at UTC-12.
func yearExpiry(yearEnd time.Time, period config.Period, fromCalendarYearEnd bool) time.Time {
	return period.After(countingStart(yearEnd, fromCalendarYearEnd)).Add(zoneBehind)
}

// financialCutoff returns the latest last_financial_event_at (a whole
// second) of the records that have expired at asOf, for a year end, a period
// and its counting start; false when none can have (nothing from after
// 1970).
func financialCutoff(end config.YearEnd, period config.Period, fromCalendarYearEnd bool, asOf time.Time) (time.Time, bool) {
	// A year's expiry is after its end: no year ending after asOf has expired.
	for year := asOf.UTC().Year() + 1; year >= 1969; year-- {
		yearEnd := end.EndIn(year)
		if yearExpiry(yearEnd, period, fromCalendarYearEnd).After(asOf) {
			continue
		}
		// The year's events at UTC+14: those before its end there.
		c := yearEnd.Add(-zoneAhead - time.Second)
		if c.Unix() < 0 {
			return time.Time{}, false
		}
		// Beyond DateTime's range every stored instant is before c.
		return time.Unix(min(c.Unix(), math.MaxUint32), 0).UTC(), true
	}
	return time.Time{}, false
}

// financialPredicate is the SQL condition that a row of t (a table of a
// FinancialYear class: financial records) of jurisdiction j has expired at
// asOf: one term per financial-year-end group with a cutoff; false when no
// group has one.
func (p *Purger) financialPredicate(t table, j string, asOf time.Time) (string, bool) {
	period := p.period(t, j)
	calendar := t.class.FromCalendarYearEnd(j)
	var terms []string
	for _, g := range p.fy {
		if c, ok := financialCutoff(g.end, period, calendar, asOf); ok {
			terms = append(terms, g.scope+t.class.TimeColumn+" <= "+dateTime(c))
		}
	}
	switch len(terms) {
	case 0:
		return "", false
	case 1:
		return terms[0], true
	}
	return "(" + strings.Join(terms, " OR ") + ")", true
}

// financialLimit is the longest a financial record of jurisdiction j may be
// kept after its last financial event while purges run: the period, plus up
// to a financial year to its end, plus up to a calendar year more where the
// period counts from the calendar year's end, plus two days: 26 hours for
// the time zones (an event up to 14 hours before a year's end counts in the
// next year, and the period runs from 12 hours after it) and the rest for
// leap days, which Approx's years of 365.25 days average out.
func financialLimit(c config.RetentionClass, r config.Retention, j string) time.Duration {
	p := c.PeriodIn(r, j)
	p.Years++
	if c.FromCalendarYearEnd(j) {
		p.Years++
	}
	p.Days += 2
	return p.Approx()
}

// purchaseCutoff returns the latest purchased_at that has expired at asOf for
// a retention counted from the purchase: every instant at or before it
// expires (period.After(t) <= asOf) at asOf. It is found by adding the period
// forward, not by subtracting it from asOf: six years before 29 February 2032
// is 1 March 2026 by subtraction, yet a row of 1 March 2026 does not expire
// until 1 March 2032. Around a month's end a calendar period can map
// a later instant to an earlier one (31 January + 1 month is 3 March, 1
// February + 1 month is 1 March): the cutoff stops before the first instant
// that has not expired, keeping such rows a few days longer rather than
// deleting any early.
func purchaseCutoff(period config.Period, asOf time.Time) time.Time {
	asOf = asOf.UTC().Truncate(time.Second)
	// A calendar period's normalisation moves an end by at most three days:
	// before guess - 4 days everything has expired.
	guess := period.Before(asOf).Truncate(24 * time.Hour)
	day := guess.AddDate(0, 0, -4)
	for {
		// Within a day, the time of day carries over unchanged (UTC has no
		// daylight saving): a day's rows expire in order.
		dayEnd := period.After(day)
		if dayEnd.After(asOf) {
			// Even midnight has not expired: the cutoff is the second before.
			return day.Add(-time.Second)
		}
		if last := dayEnd.Add(24*time.Hour - time.Second); last.After(asOf) {
			// Part of the day has expired: up to asOf's time of day.
			return day.Add(asOf.Sub(dayEnd))
		}
		day = day.AddDate(0, 0, 1)
	}
}
