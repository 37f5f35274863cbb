package order

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	good := map[string]Amount{
		"0":              0,
		"0.00":           0,
		"12.34":          123400,
		"12.3":           123000,
		"-0.50":          -5000,
		"+3.1":           31000,
		"1500":           15000000,
		"0.8333":         8333,
		"19.990000":      199900, // trailing zeros past the fourth place lose nothing
		".5":             5000,
		"00012.10":       121000,
		"99999999999999": 999999999999990000,
	}
	for in, want := range good {
		got, err := ParseAmount(in)
		if err != nil || got != want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                `bad amount: amount is empty`,
		"12.3.4":          `bad amount: amount is not a decimal number`,
		"1,299.00":        `bad amount: amount is not a decimal number`,
		"1e3":             `bad amount: amount is not a decimal number`,
		"12.":             `bad amount: amount is not a decimal number`,
		"-":               `bad amount: amount has no digits`,
		"12.34567":        `bad amount: amount has more than 4 decimal places`,
		"NaN":             `bad amount: amount is not a decimal number`,
		" 12.00":          `bad amount: amount is not a decimal number`,
		"£12.00":          `bad amount: amount is not a decimal number`,
		"100000000000000": `bad amount: amount is too large`,
	}
	for in, want := range bad {
		_, err := ParseAmount(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseAmount(%q) error = %v; want %s", in, err, want)
		}
		if !errors.Is(err, ErrBadAmount) {
			t.Errorf("ParseAmount(%q) error does not match ErrBadAmount", in)
		}
		if in != "" && err != nil && strings.Contains(err.Error(), in) {
			t.Errorf("ParseAmount(%q) error %q quotes its input: amount fields can hold anything, errors go to logs", in, err)
		}
	}
}

// TestAmountUnitIsTheScale: the unit, the refusal's rule and the decimal
// places accepted all follow AmountScale.
func TestAmountUnitIsTheScale(t *testing.T) {
	unit := int64(1)
	for range AmountScale {
		unit *= 10
	}
	if amountUnit != unit {
		t.Errorf("amountUnit = %d, want 10^%d", amountUnit, AmountScale)
	}
	if want := "amount has more than " + strconv.Itoa(AmountScale) + " decimal places"; ruleTooManyPlaces != want {
		t.Errorf("rule %q, want %q", ruleTooManyPlaces, want)
	}
	if a, err := ParseAmount("0." + strings.Repeat("0", AmountScale-1) + "1"); err != nil || a != 1 {
		t.Errorf("the smallest amount: %d, %v", a, err)
	}
	var ae *AmountError
	if _, err := ParseAmount("0." + strings.Repeat("0", AmountScale) + "1"); !errors.As(err, &ae) || ae.Rule != ruleTooManyPlaces {
		t.Errorf("one place too many: %v", err)
	}
}

func TestAmountStringRoundTrips(t *testing.T) {
	cases := map[Amount]string{0: "0.00", 123400: "12.34", -5000: "-0.50", 15000000: "1500.00", 8333: "0.8333", 1: "0.0001", -1: "-0.0001", 121000: "12.10"}
	for a, want := range cases {
		if got := a.String(); got != want {
			t.Errorf("Amount(%d).String() = %q, want %q", a, got, want)
		}
		back, err := ParseAmount(want)
		if err != nil || back != a {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d", want, back, err, a)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	type wrap struct {
		Present Money `json:"present,omitzero"`
		ZeroGBP Money `json:"zero_gbp,omitzero"`
		Absent  Money `json:"absent,omitzero"`
	}
	b, err := json.Marshal(wrap{Present: Money{Amount: 199900, Currency: "GBP"}, ZeroGBP: Money{Currency: "GBP"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"present":{"amount":"19.99","currency":"GBP"},"zero_gbp":{"amount":"0.00","currency":"GBP"}}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back wrap
	if err := json.Unmarshal(b, &back); err != nil || back.Present.Amount != 199900 || back.ZeroGBP.Currency != "GBP" {
		t.Errorf("round trip: %+v, %v", back, err)
	}
}

func TestMoneyAdd(t *testing.T) {
	a := Money{Amount: 100, Currency: "GBP"}
	sum, err := a.Add(Money{Amount: 50, Currency: "GBP"})
	if err != nil || sum != (Money{Amount: 150, Currency: "GBP"}) {
		t.Errorf("sum %v, %v", sum, err)
	}
	if sum, err := (Money{}).Add(a); err != nil || sum != a {
		t.Errorf("absent + a = %v, %v", sum, err)
	}
	if _, err := a.Add(Money{Amount: 1, Currency: "EUR"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("GBP + EUR: %v", err)
	}
	// A sum past int64 is refused, never wrapped to an amount of the other sign.
	huge := Money{Amount: math.MaxInt64 - 10, Currency: "GBP"}
	for _, c := range []struct{ a, b Money }{
		{huge, Money{Amount: 11, Currency: "GBP"}},
		{Money{Amount: -huge.Amount, Currency: "GBP"}, Money{Amount: -12, Currency: "GBP"}},
	} {
		if sum, err := c.a.Add(c.b); !errors.Is(err, ErrAmountOverflow) {
			t.Errorf("%d + %d = %v, %v; want ErrAmountOverflow", c.a.Amount, c.b.Amount, sum, err)
		}
	}
	if sum, err := huge.Add(Money{Amount: 10, Currency: "GBP"}); err != nil || sum.Amount != math.MaxInt64 {
		t.Errorf("the largest amount: %v, %v", sum, err)
	}
}

func TestParseMoneyRefusesBadCurrency(t *testing.T) {
	for _, c := range []string{"", "gbp", "GBPX", "£", "GB"} {
		if _, err := ParseMoney("1.00", c); err == nil {
			t.Errorf("currency %q accepted", c)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	if p, exact := Amount(123400).MinorUnits(); p != 1234 || !exact {
		t.Errorf("12.34 = %d pennies, exact %v", p, exact)
	}
	if p, exact := Amount(8333).MinorUnits(); p != 83 || exact {
		t.Errorf("0.8333 = %d pennies, exact %v", p, exact)
	}
}
