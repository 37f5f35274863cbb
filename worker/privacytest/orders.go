package privacytest

import (
	"strings"

	"github.com/orderflow/orderflow/worker/order"
)

// OrderValues lists the personal values of canonical orders, for a test to
// search what a stage wrote, logged or returned: the buyer's name, email,
// username, user id, company, tax id, purchase order number and phone; each
// address's name, company, lines, email and phone; and the free text. Phones
// are listed as typed and without their spaces.
type OrderValues struct {
	// MinLen leaves out values shorter than this many bytes: a short value
	// ("Flat 2") would be found by chance where it was never written.
	MinLen int
	// Places adds each address's city, county, region and postal code: for a
	// search of what holds none of them (a stage that keeps a coarsened
	// place, such as the postcode area, would be found holding part of one).
	Places bool
}

// Of lists the personal values of orders, each once, in no order.
func (c OrderValues) Of(orders []order.Order) []string {
	seen := map[string]bool{}
	var out []string
	add := func(vs ...string) {
		for _, v := range vs {
			if v != "" && len(v) >= c.MinLen && !seen[v] {
				seen[v] = true
				out = append(out, v)
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
			add(a.Name, a.CompanyName, a.Line1, a.Line2, a.Line3, a.Email)
			if c.Places {
				add(a.City, a.County, a.StateOrRegion, a.PostalCode)
			}
			addPhone(a.Phone)
		}
		for _, ft := range o.FreeText {
			add(ft.Text)
		}
	}
	return out
}
