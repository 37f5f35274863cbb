package policy

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

// leafPaths lists every leaf field of the canonical order by its JSON path, array
// elements' fields under the array's name ("lines.sku"); Money is a leaf.
func leafPaths(typ reflect.Type, prefix string) []string {
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Struct {
				break // []string is a leaf
			}
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[order.Money]() && ft.PkgPath() == typ.PkgPath() {
			out = append(out, leafPaths(ft, path)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func TestEveryFieldOfTheCanonicalOrderHasATreatment(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	leaves := leafPaths(reflect.TypeFor[order.Order](), "")
	if len(leaves) < 60 {
		t.Fatalf("only %d leaf fields found: the walk is broken", len(leaves))
	}
	for _, path := range leaves {
		if _, ok := p.Fields[path]; !ok {
			t.Errorf("canonical order field %s has no treatment in order-fields.yaml", path)
		}
	}
	for path := range p.Fields {
		if !slices.Contains(leaves, path) {
			t.Errorf("order-fields.yaml names %s, which the canonical order does not have", path)
		}
	}
}

// TestPersonalDataIsNeverKept: every field the schema marks as personal data is
// tokenised, encrypted or dropped, never kept.
func TestPersonalDataIsNeverKept(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			PersonalData string `json:"x-personal-data"`
		} `json:"$defs"`
	}
	data, err := os.ReadFile("../order/v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	personal := map[string]string{"buyer.": "buyer", "shipping_address.": "address", "billing_address.": "address", "free_text.": "free_text"}
	for path, rule := range p.Fields {
		for prefix := range personal {
			if !strings.HasPrefix(path, prefix) {
				continue
			}
			if strings.HasSuffix(path, ".country_code") || strings.HasSuffix(path, ".address_type") {
				continue // the schema's stated exceptions
			}
			if rule.Treatment == Keep {
				t.Errorf("%s is personal data but its treatment is keep", path)
			}
		}
	}
	if schema.Defs["buyer"].PersonalData == "" || schema.Defs["address"].PersonalData == "" {
		t.Errorf("the schema no longer marks buyer and address as personal data; update this test with it")
	}
}

func TestBadPoliciesAreRefused(t *testing.T) {
	cases := map[string]string{
		"version: 2\nfields: {}\n": "policy: version 2, want 1",
		"version: 1\nfields:\n  buyer.email: {treatment: hash, retention: analytics, purpose: x}\n":                      `policy: buyer.email: treatment "hash" is not one of [keep token encrypt coarsen drop]`,
		"version: 1\nfields:\n  buyer.email: {treatment: token, retention: label, purpose: x}\n":                         "policy: buyer.email: tokens are analytics data",
		"version: 1\nfields:\n  free_text.text: {treatment: drop, retention: analytics, purpose: x}\n":                   "policy: free_text.text: a dropped field, and only a dropped field, has retention none",
		"version: 1\nfields:\n  tenant_id: {treatment: keep, retention: analytics}\n":                                    "policy: tenant_id: no purpose",
		"version: 1\nfields: {}\nderived:\n  area: {from: nope, treatment: coarsen, retention: analytics, purpose: x}\n": `policy: derived area: from "nope" is not a field`,
	}
	for in, want := range cases {
		if _, err := parse([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("parse(%q) error = %v, want %s", in, err, want)
		}
	}
}
