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

// sum adds amounts with addMoney, failing with field's path.
func sum(field string, ms ...order.Money) (order.Money, error) {
	var total order.Money
	for _, m := range ms {
		var err error
		if total, err = addMoney(total, m); err != nil {
			return order.Money{}, at(err, field)
		}
	}
	return total, nil
}

// addMoney adds two amounts of one order. The normalisers have already held them to
// the order's currency; what remains to catch is an int64 overflow, which only absurd
// amounts (near the 14-digit limit of order.ParseAmount) can reach: order.Money.Add
// would wrap.
func addMoney(a, b order.Money) (order.Money, error) {
	switch {
	case b.IsZero():
		return a, nil
	case a.IsZero():
		return b, nil
	case a.Currency != b.Currency:
		return order.Money{}, &Error{Reason: ReasonBadAmount, Err: fmt.Errorf("%w: %s + %s", order.ErrCurrencyMismatch, a.Currency, b.Currency)}
	}
	s := a.Amount + b.Amount
	if (b.Amount > 0 && s < a.Amount) || (b.Amount < 0 && s > a.Amount) {
		return order.Money{}, &Error{Reason: ReasonBadAmount, Err: errors.New("amounts too large to add up")}
	}
	return order.Money{Amount: s, Currency: a.Currency}, nil
}

// magnitude returns m without its sign: the channels give discounts with either sign,
// and the canonical order holds them as positive amounts.
func magnitude(m order.Money) order.Money {
	if m.Amount < 0 {
		m.Amount = -m.Amount
	}
	return m
}

func negate(m order.Money) order.Money {
	m.Amount = -m.Amount
	return m
}

// unitPrice is a line total divided by its quantity, when that is exact at the
// canonical four decimal places; otherwise (or for no quantity) it is absent.
func unitPrice(lineTotal order.Money, qty int) order.Money {
	if lineTotal.IsZero() || qty <= 0 || int64(lineTotal.Amount)%int64(qty) != 0 {
		return order.Money{}
	}
	return order.Money{Amount: lineTotal.Amount / order.Amount(qty), Currency: lineTotal.Currency}
}

// isISOCurrency is order.ParseMoney's test of a currency code: three capital letters.
// A normaliser uses it to say which of an amount's two fields is at fault.
func isISOCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// at sets the field path of an *Error made without one: the helpers here are called
// with an empty field and given the path only when they fail, so that no path is
// built for a field that is fine.
func at(err error, field string) error {
	var e *Error
	if errors.As(err, &e) {
		e.Field = field
		return e
	}
	return err
}

// asError returns the *Error in err's chain; the field helpers only make *Errors.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Reason: ReasonInvalidValue, Err: err}
}

// under puts an error's relative field path under prefix.
func under(err *Error, prefix string) *Error {
	err.Field = joinPath(prefix, err.Field)
	return err
}
