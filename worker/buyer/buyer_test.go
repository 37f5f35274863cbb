package buyer_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/buyer"
)

// The texts tokenised are the protect stage's (an email in lower case, white
// space trimmed), each once; the kinds name what was given, never a value.
func TestInputsAreWhatTheProtectStageTokenised(t *testing.T) {
	ids := buyer.Identifiers{Email: "  Ann.Erasure@Example.ORG ", Username: "ann_e", UserID: "ann_e", Name: " "}
	if got, want := ids.Inputs(), []string{"ann.erasure@example.org", "ann_e"}; !slices.Equal(got, want) {
		t.Errorf("inputs %q, want %q", got, want)
	}
	if got, want := ids.Kinds(), []string{"email", "username", "user_id"}; !slices.Equal(got, want) {
		t.Errorf("kinds %q, want %q", got, want)
	}
	if err := (buyer.Identifiers{Name: "John Smith"}).Check(); err == nil || strings.Contains(err.Error(), "John") {
		t.Errorf("a name alone: %v, want refused without quoting it", err)
	}
}

// Each identifier matches its own column only (an eBay username is no match
// for a name that happens to be the same text), and a name narrows the
// contact identifiers rather than widening them.
func TestHoldingMatchesEachIdentifierInItsOwnColumn(t *testing.T) {
	got := buyer.Holding(buyer.Tokens{"email": "tE", "username": "tU", "name": "tN"})
	want := "(buyer_email_token = 'tE' OR buyer_username_token = 'tU') AND buyer_name_token = 'tN'"
	if got != want {
		t.Errorf("condition\n%s\nwant\n%s", got, want)
	}
	if got := buyer.Holding(buyer.Tokens{"name": "tN"}); got != "0" {
		t.Errorf("a name alone: %s, want nothing matched", got)
	}
}

// A token cannot break out of its literal, and a redacted error quotes none.
func TestHoldingQuotesAndRedactHides(t *testing.T) {
	sql := buyer.Holding(buyer.Tokens{"email": `vault:v1:a'b\c`})
	if !strings.Contains(sql, `'vault:v1:a\'b\\c'`) {
		t.Errorf("condition %s", sql)
	}
	inner := errors.New("syntax error near 'vault:v1:secret-token'")
	err := buyer.Redact(inner, []string{"vault:v1:secret-token"})
	if strings.Contains(err.Error(), "secret-token") || !errors.Is(err, inner) {
		t.Errorf("redacted %q (is inner: %v)", err, errors.Is(err, inner))
	}
}
