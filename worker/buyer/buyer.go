// Package buyer finds one buyer of a tenant in orderflow's tables by the
// identifiers a request gives (an email, a phone number, a marketplace
// username or id, a name): they are tokenised under the tenant's key exactly
// as the protect stage tokenised them (protect.TokenInput) and matched
// against order_facts' token columns. Erasure (worker/retention) and the
// access export (worker/access) both start here.
package buyer

import (
	"context"
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
// Any one suffices; several match the orders any of them names. A name alone
// matches every buyer of that name, so prefer a contact identifier.
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

// Tokenizer tokenises values under a tenant's HMAC key (*transit.Client).
type Tokenizer interface {
	HMAC(ctx context.Context, tenant string, values []string) ([]string, error)
}

// Tokens tokenises the identifiers under the tenant's key.
func (i Identifiers) Tokens(ctx context.Context, tz Tokenizer, tenant string) ([]string, error) {
	tokens, err := tz.HMAC(ctx, tenant, i.Inputs())
	if err != nil {
		return nil, fmt.Errorf("tokenising the identifiers: %w", err)
	}
	return tokens, nil
}

// Holding is the SQL condition that a buyer token column of order_facts
// holds one of tokens. It holds the tokens: never log or record it.
func Holding(tokens []string) string {
	quoted := make([]string, len(tokens))
	for i, t := range tokens {
		quoted[i] = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(t) + "'"
	}
	list := "(" + strings.Join(quoted, ", ") + ")"
	terms := make([]string, 0, len(kinds))
	for _, c := range TokenColumns() {
		terms = append(terms, c+" IN "+list)
	}
	return strings.Join(terms, " OR ")
}

// Order is one order of a tenant.
type Order struct {
	Channel, ID string
}

func (o Order) String() string { return o.Channel + "/" + o.ID }

// Compare orders Orders by channel, then id.
func Compare(a, b Order) int { return strings.Compare(a.String(), b.String()) }

// FindOrders returns the orders of the tenant (a valid tenant id) any row of
// which, in facts (the qualified order_facts), holds one of tokens: every
// snapshot counts, not only the latest; with each its purchase. The error
// never quotes a token.
func FindOrders(ctx context.Context, conn driver.Conn, facts, tenant string, tokens []string) (map[Order]time.Time, error) {
	out := map[Order]time.Time{}
	if len(tokens) == 0 {
		return out, nil
	}
	err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var o Order
		var purchased time.Time
		if err := rows.Scan(&o.Channel, &o.ID, &purchased); err != nil {
			return err
		}
		out[o] = purchased
		return nil
	}, "SELECT toString(channel), channel_order_id, min(purchased_at) FROM "+facts+" WHERE tenant_id = ? AND ("+Holding(tokens)+
		") GROUP BY channel, channel_order_id", tenant)
	if err != nil {
		return nil, fmt.Errorf("finding the buyer's orders: %w", Redact(err, tokens))
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
