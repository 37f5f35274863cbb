package normalize

import (
	"errors"
	"fmt"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Helpers that read one field of a channel payload into its canonical form, or fail
// with an *Error naming the field's path. The normalisers of every channel use them,
// so that the same fault gets the same reason and message whatever its channel.

// requireString fails with ReasonMissingField when s is empty.
func requireString(field, s string) error {
	if s == "" {
		return fail(ReasonMissingField, field, "missing")
	}
	return nil
}

// requiredTime parses a required timestamp into UTC.
func requiredTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fail(ReasonMissingField, field, "missing")
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, &Error{Reason: ReasonInvalidValue, Field: field, Err: err}
	}
	return t, nil
}

// optionalTime parses a timestamp that may be absent.
func optionalTime(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalidValue, Field: field, Err: err}
	}
	return &t, nil
}

// money reads an amount and currency pair; both empty means absent (zero Money).
// The amount's text is quoted in the error: amounts are not personal data.
func money(field, amount, currency string) (order.Money, error) {
	if amount == "" && currency == "" {
		return order.Money{}, nil
	}
	if amount == "" {
		return order.Money{}, fail(ReasonMissingField, field, "amount missing")
	}
	m, err := order.ParseMoney(amount, currency)
	if err != nil {
		var ae *order.AmountError
		if errors.As(err, &ae) {
			err = fmt.Errorf("%q %s", ae.Input, ae.Problem) // the reason already says "bad amount"
		}
		return order.Money{}, &Error{Reason: ReasonBadAmount, Field: field, Err: err}
	}
	return m, nil
}

// quantity checks a non-negative item count.
func quantity(field string, n int) (int, error) {
	if n < 0 {
		return 0, fail(ReasonInvalidValue, field, "negative quantity %d", n)
	}
	return n, nil
}

// enumValue quotes an unexpected enum value for an error message, shortened: enum
// fields hold channel codes, not personal data, but a corrupt message could put
// anything there.
func enumValue(s string) string { return fmt.Sprintf("%q", truncate(s, 40)) }

// sum adds amounts, failing if their currencies differ.
func sum(field string, ms ...order.Money) (order.Money, error) {
	var total order.Money
	for _, m := range ms {
		var err error
		if total, err = total.Add(m); err != nil {
			return order.Money{}, &Error{Reason: ReasonBadAmount, Field: field, Err: err}
		}
	}
	return total, nil
}
