package normalize

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-json-experiment/json/jsontext"

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

// Every timestamp of a message must lie in [earliestTime, latestTime): no order
// of either marketplace is older than 2000, nothing about an order is planned
// past 2099, and ClickHouse's DateTime, which ends in February 2106 and starts in
// 1970, would wrap anything outside (1969 becomes 2105, 2150 becomes 2013), and
// retention would then keep or drop the row for the wrong decades.
var (
	earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	latestTime   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// The rules a timestamp can break, in the words of its error.
const (
	ruleTimeTooEarly  = "timestamp is before 2000-01-01"
	ruleTimeTooLate   = "timestamp is after 2099"
	ruleEventInFuture = "timestamp is later than now plus the allowed clock skew"
)

// requiredTime parses a required timestamp into UTC, within the bounds above.
func requiredTime(field, s string) (time.Time, error) {
	return eventTime(field, s, latestTime)
}

// optionalTime parses a timestamp that may be absent, within the bounds above.
func optionalTime(field, s string) (*time.Time, error) {
	return optionalEventTime(field, s, latestTime)
}

// eventTime parses a required timestamp of something that has happened (a
// purchase, an update, a refund), which must also be no later than latest: now
// plus the clock skew allowed (Config.MaxClockSkew). Retention counts from these
// times, so one dated in the future would keep its data for as long.
func eventTime(field, s string, latest time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, fail(ReasonMissingField, field, "missing")
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, failValue(ReasonInvalidValue, field, "timestamp is not RFC 3339", s)
	}
	switch {
	case t.Before(earliestTime):
		return time.Time{}, fail(ReasonInvalidValue, field, ruleTimeTooEarly)
	case !t.Before(latestTime):
		return time.Time{}, fail(ReasonInvalidValue, field, ruleTimeTooLate)
	case t.After(latest):
		return time.Time{}, fail(ReasonInvalidValue, field, ruleEventInFuture)
	}
	return t, nil
}

// optionalEventTime is eventTime for a timestamp that may be absent.
func optionalEventTime(field, s string, latest time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := eventTime(field, s, latest)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// money reads an amount and currency pair; both empty means absent (zero Money).
// The error gives the rule the text breaks and its shape, not the text: an amount
// field can hold anything a corrupt or hostile message puts there.
func money(field, amount, currency string) (order.Money, error) {
	if amount == "" && currency == "" {
		return order.Money{}, nil
	}
	if amount == "" {
		return order.Money{}, fail(ReasonMissingField, field, "amount missing")
	}
	m, err := order.ParseMoney(amount, currency)
	if err != nil {
		e := &Error{Reason: ReasonBadAmount, Field: field, Err: err}
		var ae *order.AmountError
		switch {
		case errors.As(err, &ae) && ae.OfCurrency:
			e.Rule, e.Detail = ae.Rule, shapeOf(currency)
		case errors.As(err, &ae):
			e.Rule, e.Detail = ae.Rule, shapeOf(amount)
		default:
			e.Rule = "amount and currency cannot be read exactly"
		}
		return order.Money{}, e
	}
	return m, nil
}

// quantity checks a non-negative item count.
func quantity(field string, n int) (int, error) {
	if n < 0 {
		return 0, fail(ReasonInvalidValue, field, "quantity is negative")
	}
	return n, nil
}

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

// addMoney adds two amounts of one order with order.Money.Add, in this package's
// errors. The normalisers have already held the amounts to the order's currency; what
// remains to catch is an int64 overflow, which only absurd amounts (near the 14-digit
// limit of order.ParseAmount) can reach.
func addMoney(a, b order.Money) (order.Money, error) {
	s, err := a.Add(b)
	switch {
	case errors.Is(err, order.ErrCurrencyMismatch):
		return order.Money{}, &Error{Reason: ReasonBadAmount, Rule: "amounts in more than one currency", Err: err}
	case err != nil:
		return order.Money{}, &Error{Reason: ReasonBadAmount, Rule: "amounts too large to add up", Err: err}
	}
	return s, nil
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
	return &Error{Reason: ReasonInvalidValue, Rule: "cannot be read", Err: err}
}

// under puts an error's relative field path under prefix.
func under(err *Error, prefix string) *Error {
	err.Field = joinPath(prefix, err.Field)
	return err
}

// kindMismatch is the rule a value of JSON kind got breaks where the schema has
// want (a JSON type name).
func kindMismatch(got jsontext.Kind, want string) string {
	return "JSON " + kindName(got) + " where the schema has " + want
}

// atByte is an Error's Detail for a fault at a byte offset of the message.
func atByte(offset int64) string { return "at byte " + strconv.FormatInt(offset, 10) }

// shapeOf describes a value for an error without revealing it: its length in
// characters and the classes of characters it has, such as "19 characters:
// digits, spaces". Enough to tell a truncated code from an email typed into the
// wrong field; too little to read a card number, an email or a name back.
func shapeOf(s string) string {
	if s == "" {
		return "empty"
	}
	var letters, digits, spaces, punct, other bool
	n := 0
	for _, r := range s {
		n++
		switch {
		case unicode.IsLetter(r):
			letters = true
		case unicode.IsDigit(r):
			digits = true
		case unicode.IsSpace(r):
			spaces = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			punct = true
		default:
			other = true
		}
	}
	classes := make([]string, 0, 5)
	for _, c := range []struct {
		has  bool
		name string
	}{{letters, "letters"}, {digits, "digits"}, {spaces, "spaces"}, {punct, "punctuation"}, {other, "other characters"}} {
		if c.has {
			classes = append(classes, c.name)
		}
	}
	unit := " characters: "
	if n == 1 {
		unit = " character: "
	}
	return strconv.Itoa(n) + unit + strings.Join(classes, ", ")
}
