// Package buyer finds one buyer of a tenant in orderflow's tables by the
// identifiers a request gives (an email, a phone number, a marketplace
// username or id, a name): they are tokenised under the tenant's key exactly
// as the protect stage tokenised them (protect.TokenInput) and matched
// against order_facts' token columns. Erasure (worker/retention) and the
// access export (worker/access) both start here.
package buyer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/protect"
)

// Identifiers name one buyer of a tenant as the channels give them: the
// values as typed (surrounding space and an email's case do not matter).
// The contact identifiers (email, phone, username, user id) each match their
// own column, and several match the orders any of them names; a name only
// narrows them (a name alone would match every buyer of that name, and is
// refused).
type Identifiers struct {
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
	UserID   string `json:"user_id,omitempty"`
}

// kinds are the identifiers, each with the policy path its value was
// tokenised under and the order_facts column holding the token.
var kinds = []struct {
	kind, path, column string
	get                func(Identifiers) string
}{
	{"email", "buyer.email", "buyer_email_token", func(i Identifiers) string { return i.Email }},
	{"phone", "buyer.phone", "buyer_phone_token", func(i Identifiers) string { return i.Phone }},
	{"name", "buyer.name", "buyer_name_token", func(i Identifiers) string { return i.Name }},
	{"username", "buyer.username", "buyer_username_token", func(i Identifiers) string { return i.Username }},
	{"user_id", "buyer.user_id", "buyer_user_id_token", func(i Identifiers) string { return i.UserID }},
}

// TokenColumns are order_facts' buyer token columns.
func TokenColumns() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.column
	}
	return out
}

// Kinds names the identifiers given, never their values.
func (i Identifiers) Kinds() []string {
	var out []string
	for _, k := range kinds {
		if protect.TokenInput(k.path, k.get(i)) != "" {
			out = append(out, k.kind)
		}
	}
	return out
}

// Check refuses identifiers that cannot name one buyer: none, or a name
// alone. The error names kinds, never values.
func (i Identifiers) Check() error {
	switch k := i.Kinds(); {
	case len(k) == 0:
		return errors.New("identifiers: none given (email, phone, username or user_id, and optionally name)")
	case len(k) == 1 && k[0] == "name":
		return errors.New("identifiers: a name alone matches every buyer of that name: give an email, phone, username or user_id, which the name then narrows")
	}
	return nil
}

// Inputs are the distinct texts to tokenise: each identifier as the
// protect stage tokenised it.
func (i Identifiers) Inputs() []string {
	var out []string
	for _, k := range kinds {
		if v := protect.TokenInput(k.path, k.get(i)); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Tokens are the tokens of a buyer's identifiers, by kind: each matched in
// its own column only.
type Tokens map[string]string

// Values are the distinct tokens.
func (t Tokens) Values() []string {
	var out []string
	for _, k := range kinds {
		if v, ok := t[k.kind]; ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// Tokenizer tokenises values under a tenant's HMAC key (*transit.Client).
type Tokenizer interface {
	HMAC(ctx context.Context, tenant string, values []string) ([]string, error)
}

// Tokens tokenises the identifiers under the tenant's key.
func (i Identifiers) Tokens(ctx context.Context, tz Tokenizer, tenant string) (Tokens, error) {
	inputs := i.Inputs()
	tokens, err := tz.HMAC(ctx, tenant, inputs)
	if err != nil {
		return nil, fmt.Errorf("tokenising the identifiers: %w", err)
	}
	out := Tokens{}
	for _, k := range kinds {
		if v := protect.TokenInput(k.path, k.get(i)); v != "" {
			out[k.kind] = tokens[slices.Index(inputs, v)]
		}
	}
	return out, nil
}

// Holding is the SQL condition that a row of order_facts is the buyer's:
// any contact identifier's token in its own column, and the name's in the
// name column when a name is given too. It holds the tokens: never log or
// record it.
func Holding(t Tokens) string {
	quote := clickhousedb.Quote
	var contacts []string
	name := ""
	for _, k := range kinds {
		v, ok := t[k.kind]
		switch {
		case !ok:
		case k.kind == "name":
			name = k.column + " = " + quote(v)
		default:
			contacts = append(contacts, k.column+" = "+quote(v))
		}
	}
	if len(contacts) == 0 {
		return "0" // a name alone names no one (Check refuses it)
	}
	cond := "(" + strings.Join(contacts, " OR ") + ")"
	if name != "" {
		cond += " AND " + name
	}
	return cond
}

// Order is one order of a tenant.
type Order struct {
	Channel, ID string
}

func (o Order) String() string { return o.Channel + "/" + o.ID }

// Compare orders Orders by channel, then id.
func Compare(a, b Order) int { return strings.Compare(a.String(), b.String()) }

// FindOrders returns the orders of the tenant (a valid tenant id), of
// channel unless it is "", any row of which, in facts (the qualified
// order_facts), is the buyer's (Holding): every snapshot counts, not only the
// latest; with each its purchase. The error never quotes a token.
func FindOrders(ctx context.Context, conn driver.Conn, facts, tenant, channel string, tokens Tokens) (map[Order]time.Time, error) {
	out := map[Order]time.Time{}
	if len(tokens) == 0 {
		return out, nil
	}
	where := "tenant_id = ?"
	args := []any{tenant}
	if channel != "" {
		where += " AND channel = ?"
		args = append(args, channel)
	}
	err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var o Order
		var purchased time.Time
		if err := rows.Scan(&o.Channel, &o.ID, &purchased); err != nil {
			return err
		}
		out[o] = purchased
		return nil
	}, "SELECT toString(channel), channel_order_id, min(purchased_at) FROM "+facts+" WHERE "+where+" AND ("+Holding(tokens)+
		") GROUP BY channel, channel_order_id", args...)
	if err != nil {
		return nil, fmt.Errorf("finding the buyer's orders: %w", Redact(err, tokens.Values()))
	}
	return out, nil
}

// redactedError hides tokens that a server's error may quote from the
// statement.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// Redact returns err with every token in its text replaced by "<token>".
func Redact(err error, tokens []string) error {
	msg := err.Error()
	for _, t := range tokens {
		if t != "" {
			msg = strings.ReplaceAll(msg, t, "<token>")
		}
	}
	return redactedError{msg: msg, err: err}
}
