package facts_test

import (
	"strings"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
)

// TestNoPlaintextPersonalData writes every fixture and searches every String
// and Array(String) column of every row of the four tables, found through
// system.columns so that a column added later is searched too, for every
// personal value of the canonical orders: the buyer's identifiers, every
// address field but the country and address type, and the free text.
func TestNoPlaintextPersonalData(t *testing.T) {
	s := newStack(t)
	cs := s.own(t, canonical(fixtures(t)))
	ps := s.protect(t, cs)
	w, _ := s.writer(t, nil)
	write(t, w, ps)

	secrets := personalData(cs)
	if len(secrets) < 200 {
		t.Fatalf("only %d personal values in the fixtures: the collection is broken", len(secrets))
	}
	columns, cells := 0, 0
	for _, name := range tables {
		db, tbl, _ := strings.Cut(s.table(name), ".")
		for _, c := range queryRows(t, s.conn, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, tbl) {
			if !strings.Contains(c["type"], "String") {
				continue
			}
			columns++
			for _, r := range queryRows(t, s.conn, "SELECT "+c["name"]+" FROM "+s.table(name)+" FINAL") {
				cell := r[c["name"]]
				cells++
				for _, secret := range secrets {
					// A 4-letter value can turn up in base64 by chance; a
					// leak of plaintext into a ciphertext column is what
					// the longer values would catch anyway.
					if strings.HasPrefix(cell, "vault:") && len(secret) < 8 {
						continue
					}
					if strings.Contains(cell, secret) {
						t.Errorf("%s.%s holds the personal value %q", name, c["name"], secret)
					}
				}
			}
		}
	}
	if columns < 40 || cells < 1000 {
		t.Errorf("searched only %d columns, %d cells", columns, cells)
	}
}

// personalData is every personal value of the orders of at least 4 bytes.
func personalData(orders []order.Order) []string {
	seen := map[string]bool{}
	add := func(vs ...string) {
		for _, v := range vs {
			if len(v) >= 4 {
				seen[v] = true
			}
		}
	}
	addPhone := func(p string) { add(p, strings.ReplaceAll(p, " ", "")) }
	for _, o := range orders {
		b := o.Buyer
		add(b.Name, b.Email, b.Username, b.UserID, b.CompanyName, b.TaxID, b.PurchaseOrderNumber)
		addPhone(b.Phone)
		for _, a := range []*order.Address{o.ShippingAddress, o.BillingAddress} {
			if a == nil {
				continue
			}
			add(a.Name, a.CompanyName, a.Line1, a.Line2, a.Line3, a.City, a.County, a.StateOrRegion, a.PostalCode, a.Email)
			addPhone(a.Phone)
		}
		for _, ft := range o.FreeText {
			add(ft.Text)
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	return out
}
