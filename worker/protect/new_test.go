package protect_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/protect"
)

// notCalled stands in for Vault where New is under test: New never calls it.
type notCalled struct{}

var errNotCalled = errors.New("not called")

func (notCalled) HMAC(context.Context, string, []string) ([]string, error) { return nil, errNotCalled }
func (notCalled) Encrypt(context.Context, string, [][]byte) ([]string, error) {
	return nil, errNotCalled
}

func TestNewAcceptsTheEmbeddedPolicy(t *testing.T) {
	if _, err := protect.New(protect.Config{Tokenizer: notCalled{}, Encrypter: notCalled{}, Policy: loadPolicy(t)}); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// TestNewRefusesAPolicyItCannotFollow: each change below would otherwise be
// ignored, or honoured only in part; New names the field.
func TestNewRefusesAPolicyItCannotFollow(t *testing.T) {
	rule := func(tr policy.Treatment, r policy.Retention) policy.Rule {
		return policy.Rule{Treatment: tr, Retention: r, Purpose: "test"}
	}
	cases := []struct {
		name  string
		rules map[string]policy.Rule
		edit  func(*policy.Policy)
		want  string
	}{
		{name: "a field the stage does not know",
			rules: map[string]policy.Rule{"buyer.nickname": rule(policy.Token, policy.Analytics)},
			want:  "policy field buyer.nickname: the protect stage does not know this field"},
		{name: "a field without a rule",
			rules: map[string]policy.Rule{"shipping_address.line2": {}},
			want:  "policy field shipping_address.line2: the policy has no rule for it"},
		{name: "personal data kept",
			rules: map[string]policy.Rule{"buyer.email": rule(policy.Keep, policy.Analytics)},
			want:  "policy field buyer.email: treatment keep is not one the stage implements for it (token, encrypt, drop)"},
		{name: "a kept field dropped",
			rules: map[string]policy.Rule{"lines.title": rule(policy.Drop, policy.None)},
			want:  "policy field lines.title: treatment drop is not one the stage implements for it (keep)"},
		{name: "a token without a slot",
			rules: map[string]policy.Rule{"buyer.tax_id": rule(policy.Token, policy.Analytics)},
			want:  "policy field buyer.tax_id: treatment token is not one the stage implements for it (encrypt, drop)"},
		{name: "free text kept",
			rules: map[string]policy.Rule{"free_text.text": rule(policy.Encrypt, policy.Label)},
			want:  "policy field free_text.text: treatment encrypt is not one the stage implements for it (drop)"},
		{name: "a field coarsened",
			rules: map[string]policy.Rule{"shipping_address.city": rule(policy.Coarsen, policy.Analytics)},
			want:  "policy field shipping_address.city: treatment coarsen is not one the stage implements"},
		{name: "encrypted for analytics",
			rules: map[string]policy.Rule{"shipping_address.line1": rule(policy.Encrypt, policy.Analytics)},
			want:  "policy field shipping_address.line1: encrypt with retention analytics"},
		{name: "an unknown derived value",
			edit: func(p *policy.Policy) {
				p.Derived["ship_city"] = policy.Rule{From: "shipping_address.city", Treatment: policy.Coarsen, Retention: policy.Analytics, Purpose: "x"}
			},
			want: "policy derived value ship_city: the protect stage does not compute it"},
		{name: "a derived value from another field",
			edit: func(p *policy.Policy) {
				r := p.Derived["ship_postcode_area"]
				r.From = "shipping_address.city"
				p.Derived["ship_postcode_area"] = r
			},
			want: "policy derived value ship_postcode_area: from shipping_address.city, but the stage computes it from shipping_address.postal_code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := withRules(loadPolicy(t), c.rules)
			if c.edit != nil {
				c.edit(p)
			}
			_, err := protect.New(protect.Config{Tokenizer: notCalled{}, Encrypter: notCalled{}, Policy: p})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New error = %v\nwant one containing %q", err, c.want)
			}
		})
	}
}

func TestNewChecksItsConfig(t *testing.T) {
	_, err := protect.New(protect.Config{Concurrency: 100})
	for _, want := range []string{"protect config Tokenizer: required", "protect config Encrypter: required", "protect config Concurrency: must be between 1 and 64, got 100", "protect config Policy: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error = %v\nwant one containing %q", err, want)
		}
	}
}

// TestAnEmptyBatchCallsNothing: no orders, no Vault calls, no error.
func TestAnEmptyBatchCallsNothing(t *testing.T) {
	s, err := protect.New(protect.Config{Tokenizer: notCalled{}, Encrypter: notCalled{}, Policy: loadPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Protect(context.Background(), nil)
	if err != nil || len(out) != 0 {
		t.Errorf("Protect(nil) = %v, %v", out, err)
	}
}
