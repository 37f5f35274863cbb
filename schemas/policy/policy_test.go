package policy

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
)

// leafPaths lists every leaf field of the canonical order by its JSON path, array
// elements' fields under the array's name ("lines.sku"); Money is a leaf.
func leafPaths(typ reflect.Type, prefix string) []string {
	return slices.Sorted(maps.Keys(leafKinds(typ, prefix)))
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

// TestEveryFieldSaysWhetherItIsScanned: a string field (a Money's currency
// included) is scanned for card numbers or exempt as a marketplace
// identifier; anything else cannot hold typed text. A string field added to
// the canonical order must be classified here before it can be stored.
func TestEveryFieldSaysWhetherItIsScanned(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	kinds := leafKinds(reflect.TypeFor[order.Order](), "")
	for path, rule := range p.Fields {
		text := kinds[path] == reflect.String || kinds[path] == reflect.Slice
		switch mode := rule.CardScan.Mode; {
		case text && mode != Scan && mode != Exempt:
			t.Errorf("%s holds text, but card_scan is %s", path, mode)
		case !text && mode != NotText:
			t.Errorf("%s holds no text (%s), but card_scan is %s", path, kinds[path], mode)
		}
	}
	// The exemptions are the marketplace identifiers and their copies, and no more.
	want := []string{"channel_order_id", "free_text.line_id", "lines.asin", "lines.item_id", "lines.line_id", "marketplace_taxes.line_id", "refunds.line_id"}
	if got := p.CardScanPaths(Exempt); !slices.Equal(got, want) {
		t.Errorf("exempt from the card scan: %v, want %v", got, want)
	}
}

// leafKinds maps each leaf path of typ to its kind, pointers followed: a time
// is Invalid (no text), a Money String (its currency), []string a Slice.
func leafKinds(typ reflect.Type, prefix string) map[string]reflect.Kind {
	out := map[string]reflect.Kind{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[order.Money]():
			out[path] = reflect.String
		case ft == reflect.TypeFor[time.Time]():
			out[path] = reflect.Invalid
		case ft.Kind() == reflect.Struct && ft.PkgPath() == typ.PkgPath():
			maps.Copy(out, leafKinds(ft, path))
		default:
			out[path] = ft.Kind()
		}
	}
	return out
}

// The policy's classes are the declared ones: every stored field's class is
// declared (Load refuses any other), and every declared class governs some
// field, or it would govern tables nothing writes.
func TestThePolicysClassesAreTheDeclaredOnes(t *testing.T) {
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, rules := range []map[string]Rule{p.Fields, p.Derived} {
		for _, r := range rules {
			if r.Retention != None {
				used[string(r.Retention)] = true
			}
		}
	}
	if got, want := slices.Sorted(maps.Keys(used)), slices.Sorted(slices.Values(config.ClassNames())); !slices.Equal(got, want) {
		t.Errorf("the policy's classes are %v, the declared ones %v", got, want)
	}
}

func TestBadPoliciesAreRefused(t *testing.T) {
	cases := map[string]string{
		"version: 2\nfields: {}\n": "policy: version 2, want 1",
		"version: 1\nfields:\n  buyer.email: {treatment: hash, retention: analytics, purpose: x}\n":                                                                                                                `policy: buyer.email: treatment "hash" is not one of [keep token encrypt coarsen drop]`,
		"version: 1\nfields:\n  buyer.email: {treatment: token, retention: label, purpose: x}\n":                                                                                                                   "policy: buyer.email: tokens are analytics data",
		"version: 1\nfields:\n  free_text.text: {treatment: drop, retention: analytics, purpose: x}\n":                                                                                                             "policy: free_text.text: a dropped field, and only a dropped field, has retention none",
		"version: 1\nfields:\n  buyer.email: {treatment: token, retention: archive, purpose: x}\n":                                                                                                                 `policy: buyer.email: retention "archive" is not a retention class: the classes are analytics, label, financial (declared in worker/config/classes.go); or none, for a dropped field`,
		"version: 1\nfields:\n  tenant_id: {treatment: keep, retention: analytics}\n":                                                                                                                              "policy: tenant_id: no purpose",
		"version: 1\nfields: {}\nderived:\n  area: {from: nope, treatment: coarsen, retention: analytics, purpose: x}\n":                                                                                           `policy: derived area: from "nope" is not a field`,
		"version: 1\nfields:\n  lines.sku: {treatment: keep, retention: analytics, purpose: x}\n":                                                                                                                  "policy: lines.sku: no card_scan (scan, not_text or {exempt: <format, source>})",
		"version: 1\nfields:\n  lines.sku: {treatment: keep, retention: analytics, purpose: x, card_scan: skip}\n":                                                                                                 `policy: lines.sku: card_scan "skip" is not scan, not_text or {exempt: <format, source>}`,
		"version: 1\nfields:\n  lines.sku: {treatment: keep, retention: analytics, purpose: x, card_scan: {exempt: \"\"}}\n":                                                                                       "policy: lines.sku: card_scan exempt needs the format the normaliser checks instead, and its source",
		"version: 1\nfields:\n  lines.sku: {treatment: keep, retention: analytics, purpose: x, card_scan: {skip: y}}\n":                                                                                            "policy: line 3: card_scan: a mapping must be {exempt: <format, source>}",
		"version: 1\nfields:\n  a.b: {treatment: keep, retention: analytics, purpose: x, card_scan: scan}\nderived:\n  area: {from: a.b, treatment: coarsen, retention: analytics, purpose: x, card_scan: scan}\n": "policy: area: a derived value has no card_scan: it is computed from scanned fields",
	}
	for in, want := range cases {
		if _, err := parse([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("parse(%q) error = %v, want %s", in, err, want)
		}
	}
}
