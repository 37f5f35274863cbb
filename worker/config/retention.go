package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Retention says how long each retention class is kept (schemas/policy names a
// class for every stored field) and how often the worker purges.
type Retention struct {
	// Label is how long delivery label data is kept, counted from the order's
	// purchase (P9). Default "21d".
	Label Period `yaml:"label"`
	// Financial is how long financial records are kept, counted from the
	// order's purchase (P8, HMRC: 6 years). Default "6y".
	Financial Period `yaml:"financial"`
	// FinancialByJurisdiction overrides Financial for the records of a
	// jurisdiction (the marketplace's ISO 3166-1 country: GB, DE): {DE: 10y}.
	// From the environment: "DE=10y,FR=10y". Default none.
	FinancialByJurisdiction map[string]Period `yaml:"financial_by_jurisdiction"`
	// Analytics is how long order and line facts (tokens, amounts) are kept.
	// Default "2y".
	Analytics Period `yaml:"analytics"`
	// Interval is how often `orderflow run` purges; 0 turns the schedule off
	// (for deployments that run `orderflow purge` as a CronJob). Default 1h.
	Interval time.Duration `yaml:"interval"`
}

func defaultRetention() Retention {
	return Retention{
		Label:     Period{Days: 21},
		Financial: Period{Years: 6},
		Analytics: Period{Years: 2},
		Interval:  time.Hour,
	}
}

// FinancialFor returns the financial retention of a jurisdiction.
func (r Retention) FinancialFor(jurisdiction string) Period {
	if p, ok := r.FinancialByJurisdiction[jurisdiction]; ok {
		return p
	}
	return r.Financial
}

var jurisdictionCode = regexp.MustCompile(`^[A-Z]{2}$`)

func (r Retention) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Purging sooner than a day after writing would race the writer; longer
	// than 30 years is a typo.
	add(periodBetween("retention.label", r.Label, Period{Days: 1}, Period{Days: 366}))
	add(periodBetween("retention.financial", r.Financial, Period{Days: 1}, Period{Years: 30}))
	add(periodBetween("retention.analytics", r.Analytics, Period{Days: 1}, Period{Years: 30}))
	for _, j := range slices.Sorted(maps.Keys(r.FinancialByJurisdiction)) {
		key := "retention.financial_by_jurisdiction." + j
		if !jurisdictionCode.MatchString(j) {
			add(keyErr(key, "%q is not an ISO 3166-1 alpha-2 country code such as GB", j))
			continue
		}
		add(periodBetween(key, r.FinancialByJurisdiction[j], Period{Days: 1}, Period{Years: 30}))
	}
	if r.Interval != 0 {
		add(between("retention.interval", r.Interval, time.Minute, 24*time.Hour))
	}
	return errs
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

// UnmarshalYAML reads a Period from a YAML scalar.
func (p *Period) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a period such as 21d or 6y", node.Line)
	}
	v, err := ParsePeriod(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*p = v
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
	out := map[string]Period{}
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("not a list of KEY=PERIOD such as DE=10y,FR=10y")
		}
		p, err := ParsePeriod(v)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSpace(k)] = p
	}
	return out, nil
}
