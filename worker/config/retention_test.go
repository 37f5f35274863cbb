package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

func TestParseYearEnd(t *testing.T) {
	for in, want := range map[string]YearEnd{
		"03-31": {time.March, 31}, "12-31": {time.December, 31}, "02-29": {time.February, 29},
		"02-28": {time.February, 28}, "01-01": {time.January, 1}, " 06-30 ": {time.June, 30},
	} {
		got, err := ParseYearEnd(in)
		if err != nil || got != want || !got.valid() {
			t.Errorf("ParseYearEnd(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got.String() != strings.TrimSpace(in) {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), strings.TrimSpace(in))
		}
	}
	for _, in := range []string{"", "3-31", "02-30", "04-31", "13-01", "00-10", "12-32", "31-03", "2026-03-31", "03/31"} {
		if y, err := ParseYearEnd(in); err == nil {
			t.Errorf("ParseYearEnd(%q) = %v, want an error", in, y)
		}
	}
}

// EndIn is the first instant of the next financial year: the day after the
// year-end date, with 02-29 meaning February's last day and 02-28 ending on
// the 28th even in leap years.
func TestYearEndEndIn(t *testing.T) {
	utc := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		end  YearEnd
		year int
		want time.Time
	}{
		{YearEnd{time.March, 31}, 2026, utc(2026, 4, 1)},
		{YearEnd{time.December, 31}, 2026, utc(2027, 1, 1)},
		{YearEnd{time.February, 29}, 2028, utc(2028, 3, 1)}, // leap: 29 Feb is the last day
		{YearEnd{time.February, 29}, 2027, utc(2027, 3, 1)}, // common: 28 Feb is
		{YearEnd{time.February, 28}, 2028, utc(2028, 2, 29)},
		{YearEnd{time.February, 28}, 2027, utc(2027, 3, 1)},
		{YearEnd{time.June, 30}, 2100, utc(2100, 7, 1)},
	} {
		if got := c.end.EndIn(c.year); !got.Equal(c.want) {
			t.Errorf("%s.EndIn(%d) = %s, want %s", c.end, c.year, got, c.want)
		}
	}
}

// After is the end of the financial year holding t: an instant exactly at a
// year end starts the next year.
func TestYearEndAfter(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		end      YearEnd
		in, want string
	}{
		{YearEnd{time.March, 31}, "2026-03-31T23:59:59Z", "2026-04-01T00:00:00Z"},
		{YearEnd{time.March, 31}, "2026-04-01T00:00:00Z", "2027-04-01T00:00:00Z"},
		{YearEnd{time.March, 31}, "2024-02-29T12:00:00Z", "2024-04-01T00:00:00Z"},
		{YearEnd{time.December, 31}, "2025-12-31T23:59:59Z", "2026-01-01T00:00:00Z"},
		{YearEnd{time.December, 31}, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{YearEnd{time.February, 28}, "2028-02-28T23:00:00Z", "2028-02-29T00:00:00Z"},
		{YearEnd{time.February, 28}, "2028-02-29T10:00:00Z", "2029-03-01T00:00:00Z"},
		{YearEnd{time.February, 29}, "2028-02-29T10:00:00Z", "2028-03-01T00:00:00Z"},
		{YearEnd{time.February, 29}, "2027-02-28T23:59:59Z", "2027-03-01T00:00:00Z"},
		{YearEnd{time.February, 29}, "2027-03-01T00:00:00Z", "2028-03-01T00:00:00Z"},
		// Another zone is the same instant.
		{YearEnd{time.March, 31}, "2026-04-01T00:30:00+01:00", "2026-04-01T00:00:00Z"},
	} {
		if got := c.end.After(at(c.in)); !got.Equal(at(c.want)) || got.Location() != time.UTC {
			t.Errorf("%s.After(%s) = %s, want %s", c.end, c.in, got, c.want)
		}
	}
}

func TestPeriodAtLeast(t *testing.T) {
	for _, c := range []struct {
		p, m Period
		want bool
	}{
		{Period{Years: 6}, Period{Years: 6}, true},
		{Period{Years: 7}, Period{Years: 6}, true},
		{Period{Months: 72}, Period{Years: 6}, true},
		{Period{Days: 2192}, Period{Years: 6}, true},  // six calendar years have at most 2192 days
		{Period{Days: 2191}, Period{Years: 6}, false}, // ... and sometimes exactly that many
		{Period{Months: 71, Days: 30}, Period{Years: 6}, false},
		{Period{Years: 5, Months: 11, Days: 31}, Period{Years: 6}, true},  // the 31 days spill past every month's end
		{Period{Years: 5, Months: 11, Days: 30}, Period{Years: 6}, false}, // 1 April + 5y11mo30d = 31 March
		{Period{Years: 5}, Period{Years: 6}, false},
		{Period{Years: 1}, Period{Days: 366}, false}, // a common year is 365 days
		{Period{Days: 366}, Period{Years: 1}, true},
	} {
		if got := c.p.AtLeast(c.m); got != c.want {
			t.Errorf("%s.AtLeast(%s) = %v, want %v", c.p, c.m, got, c.want)
		}
	}
}

// The table of minimums: one row per jurisdiction, each with a citation and a
// source to read; GB, the platform's, is six years from the financial year's
// end.
func TestStatutoryMinimumsTable(t *testing.T) {
	rows := StatutoryMinimums()
	if len(rows) < 5 {
		t.Fatalf("%d rows", len(rows))
	}
	var codes []string
	for _, m := range rows {
		codes = append(codes, m.Jurisdiction)
		if !order.ValidCountryCode(m.Jurisdiction) || m.Cite == "" || len(m.Source) < 40 || !m.Period.AtLeast(Period{Years: 1}) {
			t.Errorf("row %+v: want an ISO code, a citation, a source and a period of years", m)
		}
	}
	if !slices.IsSorted(codes) || len(slices.Compact(slices.Clone(codes))) != len(codes) {
		t.Errorf("jurisdictions %v: want each once, sorted", codes)
	}
	if gb := MinimumFor("GB"); gb.Period != (Period{Years: 6}) || gb.FromCalendarYearEnd {
		t.Errorf("GB minimum %+v, want 6y from the end of the financial year", gb)
	}
	// Every jurisdiction is bound by at least the platform's six years.
	for _, j := range append(codes, "", "US", "JP") {
		if m := MinimumFor(j); !m.Period.AtLeast(Period{Years: 6}) {
			t.Errorf("MinimumFor(%q) = %s, below the platform's 6y", j, m.Period)
		}
	}
	if de := MinimumFor("DE"); de.Period != (Period{Years: 10}) || !de.FromCalendarYearEnd {
		t.Errorf("DE minimum %+v, want 10y from the end of the calendar year", de)
	}
}

// The configured period is raised to the statutory minimum of a jurisdiction
// that has no entry of its own, and a longer entry is kept.
func TestFinancialForNeverGoesBelowTheMinimum(t *testing.T) {
	r := Defaults().Retention
	r.FinancialByJurisdiction = map[string]Period{"FR": {Years: 12}}
	for j, want := range map[string]Period{
		"GB": {Years: 6}, "": {Years: 6}, "US": {Years: 6}, "PL": {Years: 6},
		"DE": {Years: 10}, "IT": {Years: 10}, "NL": {Years: 7}, "FR": {Years: 12},
	} {
		if got := r.FinancialFor(j); got != want {
			t.Errorf("FinancialFor(%q) = %s, want %s", j, got, want)
		}
	}
	r.Financial = Period{Years: 8}
	if got := r.FinancialFor("NL"); got != (Period{Years: 8}) {
		t.Errorf("FinancialFor(NL) with financial 8y = %s, want 8y", got)
	}
}

func TestYearEndFor(t *testing.T) {
	cfg, err := Load("testdata/full.good.yaml", fullFileEnv)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Retention
	if got := r.YearEndFor("acme"); got != (YearEnd{time.June, 30}) {
		t.Errorf("acme: %s", got)
	}
	if got := r.YearEndFor("someone-else"); got != (YearEnd{time.December, 31}) {
		t.Errorf("default: %s", got)
	}
	if got := Defaults().Retention.YearEndFor("x"); got != (YearEnd{time.March, 31}) {
		t.Errorf("built-in default: %s, want 03-31", got)
	}
}

func TestYearEndFromTheEnvironment(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yaml", []string{
		"ORDERFLOW_RETENTION_FINANCIAL_YEAR_END=02-29",
		"ORDERFLOW_RETENTION_FINANCIAL_YEAR_END_BY_TENANT=acme=12-31,beta=06-30",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention.FinancialYearEnd != (YearEnd{time.February, 29}) || cfg.Retention.YearEndFor("beta") != (YearEnd{time.June, 30}) {
		t.Errorf("year ends %+v", cfg.Retention)
	}
	for env, want := range map[string]string{
		"ORDERFLOW_RETENTION_FINANCIAL_YEAR_END=31-03": "config: retention.financial_year_end: from ORDERFLOW_RETENTION_FINANCIAL_YEAR_END: " +
			`"31-03" is not a day of the year, MM-DD, such as 03-31`,
		"ORDERFLOW_RETENTION_FINANCIAL_YEAR_END_BY_TENANT=acme:12-31": "config: retention.financial_year_end_by_tenant: from " +
			"ORDERFLOW_RETENTION_FINANCIAL_YEAR_END_BY_TENANT: not a list of TENANT=MM-DD such as acme=12-31,beta=06-30",
		"ORDERFLOW_RETENTION_FINANCIAL=5y": "config: retention.financial: 5y is below the statutory minimum of 6y for GB records " +
			"(HMRC: FA 1998 Sch. 18 para. 21, VATA 1994 Sch. 11 para. 6)",
		"ORDERFLOW_RETENTION_FINANCIAL_BY_JURISDICTION=FR=9y": "config: retention.financial_by_jurisdiction.FR: 9y is below the " +
			"statutory minimum of 10y for FR records (Code de commerce L123-22)",
	} {
		if _, err := Load("testdata/minimal.good.yaml", []string{env}); err == nil || err.Error() != want {
			t.Errorf("%s: error\n got: %v\nwant: %s", env, err, want)
		}
	}
}
