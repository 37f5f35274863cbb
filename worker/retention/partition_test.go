package retention

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

func TestParseJurisdictionMonth(t *testing.T) {
	for _, c := range []struct {
		in    string
		j     string
		month uint32
		bad   bool
	}{
		{in: `('GB',202611)`, j: "GB", month: 202611},
		{in: `('',201912)`, j: "", month: 201912},
		{in: `('a\'b\\c',202610)`, j: `a'b\c`, month: 202610},
		{in: `('x\ny', 202001)`, j: "x\ny", month: 202001},
		{in: `202611`, bad: true},
		{in: `('GB')`, bad: true},
		{in: `('GB',)`, bad: true},
		{in: `('GB',2026x1)`, bad: true},
		{in: `('GB,202611)`, bad: true},
		{in: `('GB',202611`, bad: true},
		{in: `('GB\`, bad: true},
	} {
		j, month, err := parseJurisdictionMonth(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("parseJurisdictionMonth(%s) = %q, %d; want an error", c.in, j, month)
			}
			continue
		}
		if err != nil || j != c.j || month != c.month {
			t.Errorf("parseJurisdictionMonth(%s) = %q, %d, %v; want %q, %d", c.in, j, month, err, c.j, c.month)
		}
	}
}

func TestPartitionParseRefusesOddIDs(t *testing.T) {
	for _, id := range []string{"", "20261128'; DROP TABLE x", "a b"} {
		pt := partition{text: "20261128", id: id}
		if err := pt.parse(false); err == nil {
			t.Errorf("partition id %q accepted", id)
		}
	}
	pt := partition{text: "20261128", id: "20261128"}
	if err := pt.parse(false); err != nil || pt.key != 20261128 {
		t.Errorf("parse = %v, key %d", err, pt.key)
	}
}

// Only country codes and the empty string go into SQL as they are; anything
// else is hex-encoded, so that no jurisdiction a writer stored can break out.
func TestStringLiteral(t *testing.T) {
	for in, want := range map[string]string{
		"GB":        "'GB'",
		"":          "''",
		"gb":        "unhex('6762')",
		"G'B":       "unhex('472742')",
		`\' OR 1=1`: "unhex('5c27204f5220313d31')",
	} {
		if got := stringLiteral(in); got != want {
			t.Errorf("stringLiteral(%q) = %s, want %s", in, got, want)
		}
	}
}

// The cutoff is calendar arithmetic in UTC, floored to the second.
func TestCutoff(t *testing.T) {
	asOf := time.Date(2026, 11, 28, 12, 0, 0, 999_000_000, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		period config.Period
		want   time.Time
	}{
		{config.Period{Days: 21}, time.Date(2026, 11, 7, 11, 0, 0, 0, time.UTC)},
		{config.Period{Years: 6}, time.Date(2020, 11, 28, 11, 0, 0, 0, time.UTC)},
		{config.Period{Years: 2}, time.Date(2024, 11, 28, 11, 0, 0, 0, time.UTC)},
	} {
		if got := cutoff(c.period, asOf); !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("cutoff(%s) = %s, want %s", c.period, got, c.want)
		}
	}
	if got := dateTime(time.Date(2026, 11, 7, 11, 0, 0, 0, time.UTC)); got != "toDateTime('2026-11-07 11:00:00', 'UTC')" {
		t.Errorf("dateTime = %s", got)
	}
	// 29 February minus a year is 1 March: AddDate normalises.
	leap := time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)
	if got := cutoff(config.Period{Years: 1}, leap); !got.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a year before 29 Feb 2028 = %s", got)
	}
}
