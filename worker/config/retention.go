package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/orderflow/orderflow/worker/order"
)

// Retention says how long each retention class is kept (schemas/policy names a
// class for every stored field), how often the worker purges, and how purge
// passes keep out of each other's way. Each class declared in classes.go has
// its period here, under its name, with the declaration's default and bounds.
//
// Financial records (P8) are kept from their order's last financial event
// (the purchase or the latest refund) to the end of the seller's financial
// year containing it, plus the period of the order's jurisdiction, and never
// less than that jurisdiction's statutory minimum (StatutoryMinimums): with
// the defaults, a refund on 10 May 2026 keeps its order's record until the
// end of the financial year on 31 March 2027, plus six years: 1 April 2033.
// The sellers' time zones are not known, so worker/retention applies the
// rule in the zones that make it latest (an event counts in the financial
// year it falls in at UTC+14, and a year ends when it ends at UTC-12): never
// early, whatever the seller's zone.
type Retention struct {
	// Label is how long delivery label data is kept, counted from the order's
	// purchase (P9). Default "21d".
	Label Period `yaml:"label"`
	// Financial is how long financial records are kept after the end of the
	// seller's financial year that holds the order's last financial event
	// (P8, HMRC: 6 years). At least the platform's statutory minimum (GB, 6
	// years). Default "6y".
	Financial Period `yaml:"financial"`
	// FinancialByJurisdiction overrides Financial for the records of a
	// jurisdiction (the marketplace's ISO 3166-1 country: GB, DE): {DE: 10y}.
	// Each is at least the jurisdiction's statutory minimum, and a
	// jurisdiction without an entry is kept for the longer of Financial and
	// its minimum. From the environment: "DE=10y,FR=10y". Default none.
	FinancialByJurisdiction map[string]Period `yaml:"financial_by_jurisdiction"`
	// FinancialYearEnd is the last day of the sellers' financial year,
	// "MM-DD", in whatever zone the seller keeps its books (worker/retention
	// takes the zone that keeps records longest); "02-29" means the last day
	// of February, every year. Default "03-31".
	FinancialYearEnd YearEnd `yaml:"financial_year_end"`
	// FinancialYearEndByTenant overrides FinancialYearEnd per tenant:
	// {acme: "12-31"}. From the environment: "acme=12-31,beta=06-30". Default
	// none.
	FinancialYearEndByTenant map[string]YearEnd `yaml:"financial_year_end_by_tenant"`
	// Analytics is how long order and line facts (tokens, amounts) are kept.
	// Default "2y".
	Analytics Period `yaml:"analytics"`
	// Interval is how often `orderflow run` purges; 0 turns the schedule off
	// (for deployments that run `orderflow purge` as a CronJob). Default 1h.
	Interval time.Duration `yaml:"interval"`
	// Lease makes purge passes take turns across replicas and CronJobs.
	Lease Lease `yaml:"lease"`
}

// Lease is the lease that lets one purge pass at a time delete (worker/lease):
// a record in Vault's KV version 2 secrets engine, written with check-and-set
// by the pass that holds it. It uses the vault section's address and login.
type Lease struct {
	// Enabled makes every purge pass that deletes (not a dry run) take the
	// lease first; a pass that finds it held deletes nothing and is counted as
	// skipped_lease_held. Default true.
	Enabled bool `yaml:"enabled"`
	// KVMount is the mount path of the KV version 2 engine. Default "secret".
	KVMount string `yaml:"kv_mount"`
	// Path is where leases live under the mount: the purge lease of
	// clickhouse.database D is "<path>/purge-D". Default "orderflow/leases".
	Path string `yaml:"path"`
	// TTL is how long a holder that stops renewing (a killed pod) keeps others
	// out; the holder renews every third of it. Default 1m; 5s to 1h.
	TTL time.Duration `yaml:"ttl"`
}

func defaultRetention() Retention {
	r := Retention{
		Interval: time.Hour,
		// 31 March: the UK's government financial year end, and the most
		// common company year end.
		FinancialYearEnd: YearEnd{Month: time.March, Day: 31},
		Lease:            Lease{Enabled: true, KVMount: "secret", Path: "orderflow/leases", TTL: time.Minute},
	}
	for _, c := range classes {
		*c.period(&r) = c.Default
	}
	return r
}

// FinancialFor returns the financial retention of a jurisdiction: its own
// period (financial_by_jurisdiction), else Financial, raised to the
// jurisdiction's statutory minimum (MinimumFor) where that is longer.
func (r Retention) FinancialFor(jurisdiction string) Period {
	return declared(ClassFinancial).PeriodIn(r, jurisdiction)
}

// YearEndFor returns the last day of a tenant's financial year.
func (r Retention) YearEndFor(tenant string) YearEnd {
	if y, ok := r.FinancialYearEndByTenant[tenant]; ok {
		return y
	}
	return r.FinancialYearEnd
}

// leasePath is a KV mount or path: segments of letters, digits, '_', '-'
// and '.' (not first, so never "..") separated by '/'.
var leasePath = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$`)

// Validate checks the section as Load does, each error naming its key: for a
// Retention built in code (worker/retention.New checks what it is given with
// it, so the rules are written once).
func (r Retention) Validate() error { return errors.Join(r.validate()...) }

func (r Retention) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range classes {
		errs = append(errs, c.validate(r)...)
	}
	if !r.FinancialYearEnd.valid() {
		add(keyErr("retention.financial_year_end", "must be a day of the year, MM-DD, such as 03-31"))
	}
	for _, tenant := range slices.Sorted(maps.Keys(r.FinancialYearEndByTenant)) {
		key := "retention.financial_year_end_by_tenant." + tenant
		if !order.ValidTenantID(tenant) {
			add(keyErr("retention.financial_year_end_by_tenant", "a key of %d bytes is not a tenant id (%s)", len(tenant), order.TenantIDRule))
			continue
		}
		if !r.FinancialYearEndByTenant[tenant].valid() {
			add(keyErr(key, "must be a day of the year, MM-DD, such as 12-31"))
		}
	}
	if r.Interval != 0 {
		add(between("retention.interval", r.Interval, time.Minute, 24*time.Hour))
	}
	if r.Lease.Enabled {
		add(matches("retention.lease.kv_mount", r.Lease.KVMount, leasePath, "a mount path such as secret"))
		add(matches("retention.lease.path", r.Lease.Path, leasePath, "a path such as orderflow/leases"))
		add(between("retention.lease.ttl", r.Lease.TTL, 5*time.Second, time.Hour))
	}
	return errs
}

// atLeastStatutory refuses a period shorter than a statutory minimum, saying
// which law.
func atLeastStatutory(key string, p Period, m StatutoryMinimum) error {
	if p.AtLeast(m.Period) {
		return nil
	}
	return keyErr(key, "%s is below the statutory minimum of %s for %s records (%s)", p, m.Period, m.Jurisdiction, m.Cite)
}

// YearEnd is the last day of a financial year: a month and a day, the same
// every year. Day 29 of February stands for the last day of February, so that
// such a year ends on the 28th in common years.
type YearEnd struct {
	Month time.Month
	Day   int
}

// ParseYearEnd reads "MM-DD".
func ParseYearEnd(s string) (YearEnd, error) {
	t, err := time.Parse("01-02", strings.TrimSpace(s))
	if err != nil {
		// time.Parse refuses 02-29 without a year: try it in a leap year.
		if t2, err2 := time.Parse("2006-01-02", "2000-"+strings.TrimSpace(s)); err2 == nil {
			t, err = t2, nil
		}
	}
	if err != nil || len(strings.TrimSpace(s)) != 5 {
		return YearEnd{}, fmt.Errorf("%q is not a day of the year, MM-DD, such as 03-31", s)
	}
	return YearEnd{Month: t.Month(), Day: t.Day()}, nil
}

func (y YearEnd) valid() bool {
	if y.Month < time.January || y.Month > time.December || y.Day < 1 {
		return false
	}
	// The days of the month in a leap year: 02-29 is allowed.
	return y.Day <= time.Date(2000, y.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// String writes y as ParseYearEnd reads it.
func (y YearEnd) String() string { return fmt.Sprintf("%02d-%02d", int(y.Month), y.Day) }

// MarshalText writes y as ParseYearEnd reads it.
func (y YearEnd) MarshalText() ([]byte, error) { return []byte(y.String()), nil }

// UnmarshalYAML reads a YearEnd from a YAML scalar ("03-31"; quoted or not).
func (y *YearEnd) UnmarshalYAML(node *yaml.Node) error {
	return unmarshalScalar(node, y, "a day of the year, MM-DD, such as 03-31", ParseYearEnd)
}

// EndIn returns the first instant after the financial year that ends in the
// given calendar year, in UTC: midnight UTC at the start of the day after its
// last day (1 April for 03-31, 1 March for 02-28 and 02-29 in a common year, 29
// February for 02-28 in a leap year).
func (y YearEnd) EndIn(year int) time.Time {
	last := min(y.Day, time.Date(year, y.Month+1, 0, 0, 0, 0, 0, time.UTC).Day())
	return time.Date(year, y.Month, last+1, 0, 0, 0, 0, time.UTC)
}

// After returns the end of the financial year that holds t: the first
// year-end instant (EndIn) after t. An instant exactly at a year end belongs
// to the year it starts.
func (y YearEnd) After(t time.Time) time.Time {
	t = t.UTC()
	for year := t.Year() - 1; ; year++ {
		if end := y.EndIn(year); end.After(t) {
			return end
		}
	}
}

// Period is a calendar span: years, months and days, added to a time with
// time.AddDate, so that "6y" ends on the same calendar date six years on. It is
// written "21d", "3w", "18mo", "6y", or a sum such as "1y6mo".
type Period struct {
	Years, Months, Days int
}

var periodPart = regexp.MustCompile(`(\d+)(y|mo|w|d)`)

// ParsePeriod reads a Period.
func ParsePeriod(s string) (Period, error) {
	var p Period
	rest := strings.TrimSpace(s)
	if rest == "" {
		return p, fmt.Errorf("empty period")
	}
	for rest != "" {
		m := periodPart.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 {
			return Period{}, fmt.Errorf("%q is not a period such as 21d, 3w, 18mo or 6y", s)
		}
		n, err := strconv.Atoi(rest[m[2]:m[3]])
		if err != nil || n > 100_000 {
			return Period{}, fmt.Errorf("%q is not a period such as 21d, 3w, 18mo or 6y", s)
		}
		switch rest[m[4]:m[5]] {
		case "y":
			p.Years += n
		case "mo":
			p.Months += n
		case "w":
			p.Days += 7 * n
		case "d":
			p.Days += n
		}
		rest = rest[m[1]:]
	}
	return p, nil
}

// String writes p as ParsePeriod reads it.
func (p Period) String() string {
	var b strings.Builder
	for _, part := range []struct {
		n    int
		unit string
	}{{p.Years, "y"}, {p.Months, "mo"}, {p.Days, "d"}} {
		if part.n != 0 {
			fmt.Fprintf(&b, "%d%s", part.n, part.unit)
		}
	}
	if b.Len() == 0 {
		return "0d"
	}
	return b.String()
}

// Before returns the instant p before t: what is older has expired at t.
func (p Period) Before(t time.Time) time.Time { return t.AddDate(-p.Years, -p.Months, -p.Days) }

// After returns the instant p after t.
func (p Period) After(t time.Time) time.Time { return t.AddDate(p.Years, p.Months, p.Days) }

// Approx is p as a duration, with years of 365.25 days and months of a twelfth
// of that: for metrics and comparisons, not for deciding what expires.
func (p Period) Approx() time.Duration {
	const day = 24 * time.Hour
	year := time.Duration(365.25 * float64(day))
	return time.Duration(p.Years)*year + time.Duration(p.Months)*year/12 + time.Duration(p.Days)*day
}

// AtLeast reports whether p, added to any instant, never ends before m added to
// the same instant: calendar periods compare by where they end, not by
// their Approx length ("2192d" is at least "6y", "71mo30d" is not). It tries
// every day of eight years (2020-2027: two leap-year cycles, so every month
// length and leap position) as the start.
func (p Period) AtLeast(m Period) bool {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for t := start; t.Year() < 2028; t = t.AddDate(0, 0, 1) {
		if p.After(t).Before(m.After(t)) {
			return false
		}
	}
	return true
}

// UnmarshalYAML reads a Period from a YAML scalar.
func (p *Period) UnmarshalYAML(node *yaml.Node) error {
	return unmarshalScalar(node, p, "a period such as 21d or 6y", ParsePeriod)
}

// unmarshalScalar sets *dst to parse's reading of a YAML scalar; an error
// names the line, and a node that is not a scalar is told what was expected.
func unmarshalScalar[T any](node *yaml.Node, dst *T, expected string, parse func(string) (T, error)) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected %s", node.Line, expected)
	}
	v, err := parse(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*dst = v
	return nil
}

// MarshalText writes p as ParsePeriod reads it.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func periodBetween(key string, p, lo, hi Period) error {
	if p.Years < 0 || p.Months < 0 || p.Days < 0 || p.Approx() < lo.Approx() || p.Approx() > hi.Approx() {
		return keyErr(key, "must be between %s and %s, got %s", lo, hi, p)
	}
	return nil
}

// parsePeriodMap reads "DE=10y,FR=10y".
func parsePeriodMap(raw string) (map[string]Period, error) {
	return parseMap(raw, ParsePeriod, "KEY=PERIOD such as DE=10y,FR=10y")
}

// parseYearEndMap reads "acme=12-31,beta=06-30".
func parseYearEndMap(raw string) (map[string]YearEnd, error) {
	return parseMap(raw, ParseYearEnd, "TENANT=MM-DD such as acme=12-31,beta=06-30")
}

// parseMap reads a comma-separated list of KEY=VALUE.
func parseMap[T any](raw string, parse func(string) (T, error), form string) (map[string]T, error) {
	out := map[string]T{}
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("not a list of %s", form)
		}
		value, err := parse(v)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSpace(k)] = value
	}
	return out, nil
}
