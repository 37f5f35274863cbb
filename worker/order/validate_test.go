package order_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

func TestTenantIDRule(t *testing.T) {
	for id, want := range map[string]error{
		"acme":                     nil,
		"brightside-books":         nil,
		"shop_42":                  nil,
		"0":                        nil,
		strings.Repeat("a", 64):    nil,
		"shop-411111111111":        nil, // 12 digits, not Luhn-valid
		"12345678901":              nil, // 11 digits: too short for a card
		"":                         order.ErrTenantIDForm,
		strings.Repeat("a", 65):    order.ErrTenantIDForm,
		"Acme":                     order.ErrTenantIDForm,
		"acme/other":               order.ErrTenantIDForm,
		"acme.":                    order.ErrTenantIDForm,
		"acme'":                    order.ErrTenantIDForm,
		"acme ":                    order.ErrTenantIDForm,
		"café":                     order.ErrTenantIDForm,
		"acme\x00":                 order.ErrTenantIDForm,
		"4111111111111111":         order.ErrTenantIDCardLike, // the Visa test number
		"shop-4111-1111-1111-1111": order.ErrTenantIDCardLike, // dashes join a run
		"x_5555555555554444_y":     order.ErrTenantIDCardLike,
	} {
		if err := order.CheckTenantID(id); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckTenantID(%q) = %v, want %v", id, err, want)
		}
		if got := order.ValidTenantID(id); got != (want == nil) {
			t.Errorf("ValidTenantID(%q) = %v, want %v", id, got, want == nil)
		}
	}
}

// The JSON schemas publish the tenant id's form as a pattern (the card rule
// in words beside it): the pattern accepts exactly the ids of the right form.
func TestSchemasPublishTheTenantIDForm(t *testing.T) {
	probes := []string{"", strings.Repeat("a", 64), strings.Repeat("a", 65), "acme", "a-b_c9"}
	for b := range 256 {
		probes = append(probes, "a"+string(rune(b)))
	}
	for _, path := range []string{"../../schemas/envelope/v1.schema.json", "../../schemas/order/v1.schema.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var schema struct {
			Properties struct {
				TenantID struct {
					Pattern string `json:"pattern"`
				} `json:"tenant_id"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(data, &schema); err != nil {
			t.Fatal(err)
		}
		pattern, err := regexp.Compile(schema.Properties.TenantID.Pattern)
		if err != nil || schema.Properties.TenantID.Pattern == "" {
			t.Fatalf("%s: tenant_id pattern %q: %v", path, schema.Properties.TenantID.Pattern, err)
		}
		for _, id := range probes {
			form := !errors.Is(order.CheckTenantID(id), order.ErrTenantIDForm)
			if pattern.MatchString(id) != form {
				t.Errorf("%s: pattern matches %q: %v; the rule's form: %v", path, id, pattern.MatchString(id), form)
			}
		}
	}
}

func TestCountryCodeRule(t *testing.T) {
	for code, want := range map[string]bool{
		"GB": true, "DE": true, "US": true,
		"": false, "G": false, "gb": false, "Gb": false, "UK ": false, "GBR": false, "G1": false, "ÄB": false,
	} {
		if got := order.ValidCountryCode(code); got != want {
			t.Errorf("ValidCountryCode(%q) = %v, want %v", code, got, want)
		}
	}
	// The order schema publishes the rule as a pattern: the two agree on every
	// two-byte string.
	data, err := os.ReadFile("../../schemas/order/v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Address struct {
				Properties struct {
					CountryCode struct {
						Pattern string `json:"pattern"`
					} `json:"country_code"`
				} `json:"properties"`
			} `json:"address"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	pattern := regexp.MustCompile(schema.Defs.Address.Properties.CountryCode.Pattern)
	for a := range 128 {
		for b := range 128 {
			s := string([]byte{byte(a), byte(b)})
			if pattern.MatchString(s) != order.ValidCountryCode(s) {
				t.Fatalf("%q: the schema's pattern says %v, ValidCountryCode %v", s, pattern.MatchString(s), order.ValidCountryCode(s))
			}
		}
	}
}
