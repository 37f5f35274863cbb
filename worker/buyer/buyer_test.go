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
}

// A token cannot break out of its literal, and a redacted error quotes none.
func TestHoldingQuotesAndRedactHides(t *testing.T) {
	sql := buyer.Holding([]string{`vault:v1:a'b\c`})
	if !strings.Contains(sql, `'vault:v1:a\'b\\c'`) || strings.Count(sql, " IN ") != len(buyer.TokenColumns()) {
		t.Errorf("condition %s", sql)
	}
	inner := errors.New("syntax error near 'vault:v1:secret-token'")
	err := buyer.Redact(inner, []string{"vault:v1:secret-token"})
	if strings.Contains(err.Error(), "secret-token") || !errors.Is(err, inner) {
		t.Errorf("redacted %q (is inner: %v)", err, errors.Is(err, inner))
	}
}
