package retention

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// A partition's key is its value as a number: a month or a financial year.
// Anything else (a day's date, a tuple with a jurisdiction, of schemas before
// 0013) is refused, and so is an id that could not go into SQL as it is.
func TestPartitionParse(t *testing.T) {
	for text, want := range map[string]uint32{"202611": 202611, "2027": 2027} {
		pt := partition{text: text, id: text}
		if err := pt.parse(); err != nil || pt.key != want {
			t.Errorf("parse(%s) = %v, key %d; want %d", text, err, pt.key, want)
		}
	}
	for _, text := range []string{"('GB',202611)", "'2026-11-23'", "", "-1", "4294967296"} {
		pt := partition{text: text, id: "x"}
		if err := pt.parse(); err == nil {
			t.Errorf("partition %q accepted, key %d", text, pt.key)
		}
	}
	for _, id := range []string{"", "202611'; DROP TABLE x", "a b"} {
		pt := partition{text: "202611", id: id}
		if err := pt.parse(); err == nil {
			t.Errorf("partition id %q accepted", id)
		}
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

// The cutoff of a retention counted from the purchase is calendar arithmetic
// in UTC, floored to the second, and never early around 29 February.
func TestPurchaseCutoff(t *testing.T) {
	asOf := time.Date(2026, 11, 28, 12, 0, 0, 999_000_000, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		period config.Period
		asOf   time.Time
		want   time.Time
	}{
		{config.Period{Days: 21}, asOf, time.Date(2026, 11, 7, 11, 0, 0, 0, time.UTC)},
		{config.Period{Years: 6}, asOf, time.Date(2020, 11, 28, 11, 0, 0, 0, time.UTC)},
		{config.Period{Years: 2}, asOf, time.Date(2024, 11, 28, 11, 0, 0, 0, time.UTC)},
		// Subtraction says 1 March 2027, but a row of 1 March 2027 expires
		// on 1 March 2028, after 29 February: the whole of 28 February goes,
		// not a second more.
		{config.Period{Years: 1}, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 28, 23, 59, 59, 0, time.UTC)},
		{config.Period{Years: 6}, time.Date(2032, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC)},
		// 29 February 2028 plus a year is 1 March 2029 (AddDate normalises),
		// with the time of day: at midnight that day only 29 February's first
		// second has expired (and 1 March 2028's, kept a little longer rather
		// than deleting the rest of 29 February early).
		{config.Period{Years: 1}, time.Date(2029, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{config.Period{Years: 1}, time.Date(2029, 2, 28, 23, 59, 59, 0, time.UTC), time.Date(2028, 2, 28, 23, 59, 59, 0, time.UTC)},
	} {
		got := purchaseCutoff(c.period, c.asOf)
		if !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("purchaseCutoff(%s, %s) = %s, want %s", c.period, c.asOf, got, c.want)
		}
	}
	if got := dateTime(time.Date(2026, 11, 7, 11, 0, 0, 0, time.UTC)); got != "toDateTime('2026-11-07 11:00:00', 'UTC')" {
		t.Errorf("dateTime = %s", got)
	}
}
