package protect_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// TestEveryFieldIsTreatedAsThePolicySays feeds the stage an order whose every
// field, at every depth, holds a value of its own (strings a unique marker),
// then checks the output against the policy, field by field: kept fields
// appear in protected.Order at the same path and unchanged; tokenised fields
// appear only as their token (computed independently with Vault); encrypted
// fields appear only in the ciphertext of their retention class (decrypted
// with Vault); dropped fields appear nowhere; and protected.Order has nothing
// the policy does not account for. It runs on the embedded policy and on a
// variant, so that the stage is seen to follow the policy, not to agree with
// it by coincidence.
func TestEveryFieldIsTreatedAsThePolicySays(t *testing.T) {
	base := loadPolicy(t)
	rule := func(tr policy.Treatment, r policy.Retention) policy.Rule {
		return policy.Rule{Treatment: tr, Retention: r, Purpose: "test"}
	}
	variant := withRules(base, map[string]policy.Rule{
		"buyer.phone":            rule(policy.Drop, policy.None),
		"buyer.username":         rule(policy.Encrypt, policy.Financial),
		"buyer.company_name":     rule(policy.Encrypt, policy.Label),
		"shipping_address.email": rule(policy.Drop, policy.None),
		"billing_address.email":  rule(policy.Encrypt, policy.Financial),
	})
	delete(variant.Derived, "billing_postcode_area")
	for name, p := range map[string]*policy.Policy{"embedded policy": base, "variant policy": variant} {
		t.Run(name, func(t *testing.T) { checkConformance(t, p) })
	}
}

func checkConformance(t *testing.T, p *policy.Policy) {
	ctx := ctxFor(t)
	admin := directClient(t)
	cfg, reg := transitConfig("")
	s := newStage(t, newClient(t, cfg), reg, p)
	tenant := transittest.NewTenant(t, admin)

	var in order.Order
	n := 0
	protect.Fill(&in, func(path string) string {
		n++
		return fmt.Sprintf("zq%03d-%s", n, path)
	})
	in.TenantID = tenant
	in.ShippingAddress.CountryCode, in.ShippingAddress.PostalCode = "GB", "ZE2 9XP"
	in.BillingAddress.CountryCode, in.BillingAddress.PostalCode = "GB", "KW15 1AB"

	outs, err := s.Protect(ctx, []order.Order{in})
	if err != nil {
		t.Fatalf("Protect: %v", err)
	}
	out := outs[0]

	inLeaves, outLeaves := leaves(in), leaves(out)
	docs := map[string]protected.Document{} // by retention class
	if !out.DeliveryLabel.IsZero() {
		docs[string(policy.Label)] = decrypt(t, admin, tenant, out.DeliveryLabel)
	}
	if !out.InvoiceParty.IsZero() {
		docs[string(policy.Financial)] = decrypt(t, admin, tenant, out.InvoiceParty)
	}
	// Everything of the output but the documents, in every form it takes.
	j, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	visible := string(j) + fmt.Sprintf("%v %+v %#v", out, out, out)
	for _, tok := range []protected.Token{out.Buyer.Name, out.Buyer.Email, out.Buyer.Phone, out.Buyer.Username, out.Buyer.UserID} {
		visible += " " + tok.Value()
	}
	// inDoc reports the documents and paths where marker is.
	inDoc := func(marker string) []string {
		var at []string
		for class, d := range docs {
			for _, path := range d.Paths() {
				if strings.Contains(d.Get(path), marker) {
					at = append(at, class+":"+path)
				}
			}
		}
		return at
	}
	markers := func(path string) []string {
		var ms []string
		for _, v := range inLeaves[path] {
			if v.Kind() != reflect.String {
				t.Fatalf("%s is %s, not a string: this test cannot follow it, teach it", path, v.Type())
			}
			ms = append(ms, v.String())
		}
		return ms
	}

	expected := map[string]bool{"delivery_label": true, "invoice_party": true} // paths protected.Order may have
	docPaths := map[string][]string{}
	for _, path := range slices.Sorted(maps.Keys(p.Fields)) {
		r := p.Fields[path]
		switch r.Treatment {
		case policy.Keep:
			expected[path] = true
			if !reflect.DeepEqual(values(inLeaves[path]), values(outLeaves[path])) {
				t.Errorf("keep %s: output has %v, want %v", path, values(outLeaves[path]), values(inLeaves[path]))
			}
		case policy.Token:
			expected[path] = true
			m := markers(path)[0]
			want, err := admin.HMAC(ctx, tenant, []string{protect.TokenInput(path, m)})
			if err != nil {
				t.Fatal(err)
			}
			got := outLeaves[path]
			if len(got) != 1 || got[0].Interface().(protected.Token).Value() != want[0] {
				t.Errorf("token %s: output has %v, want the tenant's HMAC of the value", path, got)
			}
			if strings.Contains(visible, m) || len(inDoc(m)) > 0 {
				t.Errorf("token %s: the value itself is in the output", path)
			}
		case policy.Encrypt:
			docPaths[string(r.Retention)] = append(docPaths[string(r.Retention)], path)
			m := markers(path)[0]
			if at := inDoc(m); !slices.Equal(at, []string{string(r.Retention) + ":" + path}) {
				t.Errorf("encrypt %s (%s): the value is in documents %v, want only %s:%s", path, r.Retention, at, r.Retention, path)
			}
			if strings.Contains(visible, m) {
				t.Errorf("encrypt %s: the value is in the output outside its ciphertext", path)
			}
		case policy.Drop:
			for _, m := range markers(path) {
				if strings.Contains(visible, m) || len(inDoc(m)) > 0 {
					t.Errorf("drop %s: the value is in the output (documents %v)", path, inDoc(m))
				}
			}
		default:
			t.Errorf("%s: treatment %s: teach this test", path, r.Treatment)
		}
	}
	for class, d := range docs {
		if want := docPaths[class]; !slices.Equal(d.Paths(), want) {
			t.Errorf("%s document has fields %v, want %v", class, d.Paths(), want)
		}
	}
	for class := range docPaths {
		if _, ok := docs[class]; !ok {
			t.Errorf("no %s document, though the policy encrypts fields into it", class)
		}
	}

	areas := map[string]string{"ship_postcode_area": "ZE", "billing_postcode_area": "KW"}
	for name, want := range areas {
		if _, ok := p.Derived[name]; !ok {
			want = ""
		}
		expected[name] = true
		if got := outLeaves[name]; len(got) != 1 || got[0].String() != want {
			t.Errorf("derived %s = %v, want %q", name, got, want)
		}
	}
	for path, vs := range outLeaves {
		if expected[path] {
			continue
		}
		// A token slot the policy does not fill must stay empty.
		if tok, ok := vs[0].Interface().(protected.Token); ok && len(vs) == 1 {
			if !tok.IsZero() {
				t.Errorf("%s holds a token, but the policy treats it as %s", path, p.Fields[path].Treatment)
			}
			continue
		}
		t.Errorf("protected.Order has %s, which the policy does not account for", path)
	}
}

// leaves maps each leaf path of v to its values, in order.
func leaves(v any) map[string][]reflect.Value {
	m := map[string][]reflect.Value{}
	protect.WalkLeaves(v, func(path string, leaf reflect.Value) { m[path] = append(m[path], leaf) })
	return m
}

func values(vs []reflect.Value) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v.Interface()
	}
	return out
}
