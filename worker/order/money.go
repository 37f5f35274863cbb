package order

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// AmountScale is the number of decimal places an Amount keeps. Four covers every
// currency's minor unit (two for GBP and EUR, three for KWD, none for JPY) and the
// sub-penny tax amounts that marketplaces sometimes report, so no input amount is
// ever rounded.
const AmountScale = 4

const amountUnit = 10_000 // 10^AmountScale (TestAmountUnitIsTheScale)

// ruleTooManyPlaces is the rule an amount with more decimal places than an
// Amount keeps breaks. Its number is spelt from AmountScale, as a constant
// (errors carry constant rules, never words built at run time): one digit,
// which the guard below holds it to.
const ruleTooManyPlaces = "amount has more than " + string(rune('0'+AmountScale)) + " decimal places"

// The build fails here if AmountScale ever needs two digits to spell.
const _ uint = 9 - AmountScale

// maxAmountDigits bounds the integer part so that the scaled value fits in int64
// with room to add amounts up.
const maxAmountDigits = 14

// Amount is an exact decimal amount of money in units of 10^-AmountScale of the
// currency's major unit: Amount(12345) is 1.2345. Never a float.
type Amount int64

// ErrBadAmount is matched (errors.Is) by every amount parsing error.
var ErrBadAmount = errors.New("bad amount")

// AmountError says why a text is not an exact amount. It holds the rule broken,
// never the text: an amount field of a hostile message can hold anything, and
// errors end up in logs and dead-letter headers.
type AmountError struct {
	// Rule is what is wrong, in fixed words: "amount is not a decimal number",
	// "amount has more than 4 decimal places" (AmountScale), ...
	Rule string
	// OfCurrency is true when the currency code is at fault, not the amount.
	OfCurrency bool
}

func (e *AmountError) Error() string { return "bad amount: " + e.Rule }

// Is makes errors.Is(err, ErrBadAmount) true.
func (e *AmountError) Is(target error) bool { return target == ErrBadAmount }

func amountError(rule string) error { return &AmountError{Rule: rule} }

// ParseAmount parses a decimal string such as "12.34", "-0.50", "1500" or "+3.1".
// It refuses exponents, thousands separators, more than AmountScale decimal places
// and values that could overflow; it never rounds.
func ParseAmount(s string) (Amount, error) {
	if s == "" {
		return 0, amountError("amount is empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, fracPart, hasPoint := strings.Cut(s, ".")
	if intPart == "" && fracPart == "" {
		return 0, amountError("amount has no digits")
	}
	if hasPoint && fracPart == "" || intPart == "" && !hasPoint {
		return 0, amountError("amount is not a decimal number")
	}
	if !allDigits(intPart) || !allDigits(fracPart) {
		return 0, amountError("amount is not a decimal number")
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > maxAmountDigits {
		return 0, amountError("amount is too large")
	}
	trimmedFrac := strings.TrimRight(fracPart, "0")
	if len(trimmedFrac) > AmountScale {
		return 0, amountError(ruleTooManyPlaces)
	}
	var v int64
	if intPart != "" {
		n, _ := strconv.ParseInt(intPart, 10, 64) // at most maxAmountDigits digits: cannot fail
		v = n * amountUnit
	}
	if trimmedFrac != "" {
		n, _ := strconv.ParseInt(trimmedFrac, 10, 64) // at most AmountScale digits: cannot fail
		for range AmountScale - len(trimmedFrac) {
			n *= 10
		}
		v += n
	}
	if neg {
		v = -v
	}
	return Amount(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with at least two decimal places and no trailing zeros
// beyond them: "12.34", "-0.50", "1500.00", "0.8333".
func (a Amount) String() string {
	v := int64(a)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	frac := fmt.Sprintf("%0*d", AmountScale, v%amountUnit)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatInt(v/amountUnit, 10) + "." + frac
}

// MinorUnits returns the amount in hundredths (pennies, cents) and whether that is
// exact.
func (a Amount) MinorUnits() (int64, bool) {
	const perMinor = amountUnit / 100
	return int64(a) / perMinor, int64(a)%perMinor == 0
}

// Money is an amount with its ISO 4217 currency. The zero Money means "absent" and
// is omitted from JSON; a present zero amount still carries its currency.
type Money struct {
	Amount   Amount `json:"amount"`
	Currency string `json:"currency"`
}

// IsZero reports whether m is absent (no currency), for encoding/json's omitzero.
func (m Money) IsZero() bool { return m.Currency == "" && m.Amount == 0 }

func (m Money) String() string {
	if m.IsZero() {
		return "none"
	}
	return m.Amount.String() + " " + m.Currency
}

// ParseMoney parses a decimal amount string and checks the currency code.
func ParseMoney(amount, currency string) (Money, error) {
	if !isCurrencyCode(currency) {
		return Money{}, &AmountError{Rule: "currency is not an ISO 4217 code (three capital letters)", OfCurrency: true}
	}
	a, err := ParseAmount(amount)
	if err != nil {
		return Money{}, err
	}
	return Money{Amount: a, Currency: currency}, nil
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// MarshalText makes Amount a JSON string ("12.34"), never a JSON number.
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses the form that MarshalText writes.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := ParseAmount(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ErrCurrencyMismatch is returned when amounts in different currencies are added.
var ErrCurrencyMismatch = errors.New("currency mismatch")

// ErrAmountOverflow is returned when a sum does not fit an Amount. Only absurd
// amounts (near ParseAmount's 14-digit limit) reach it; wrapping would turn them into
// amounts of the other sign.
var ErrAmountOverflow = errors.New("amount overflow")

// Add returns m + n. An absent operand takes the other's currency.
func (m Money) Add(n Money) (Money, error) {
	switch {
	case n.IsZero():
		return m, nil
	case m.IsZero():
		return n, nil
	case m.Currency != n.Currency:
		return Money{}, ErrCurrencyMismatch
	}
	s := m.Amount + n.Amount
	if (n.Amount > 0 && s < m.Amount) || (n.Amount < 0 && s > m.Amount) {
		return Money{}, ErrAmountOverflow
	}
	return Money{Amount: s, Currency: m.Currency}, nil
}
