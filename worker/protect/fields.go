package protect

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// What the stage knows how to do with each field of the canonical order. New
// checks the policy against these tables, field by field, so that a policy
// change the stage cannot honour stops the worker at start instead of being
// ignored: a field the stage does not know, a treatment it does not implement
// for that field, or a field the policy does not mention.

// keptPaths are the fields that keep copies into protected.Order. The policy
// must mark each one keep: the stage has no other way to treat them (it would
// need code to drop one, or a token or ciphertext slot for it).
var keptPaths = []string{
	"schema_version", "tenant_id", "channel", "source_format", "marketplace",
	"channel_order_id", "seller_order_id", "status", "payment_status", "source_status",
	"cancel_requested", "fulfilment", "is_prime", "is_business", "ship_service_level",
	"purchased_at", "source_updated_at", "received_at", "latest_ship_at", "latest_delivery_at",

	"shipping_address.country_code", "shipping_address.address_type",
	"billing_address.country_code", "billing_address.address_type",

	"lines.line_id", "lines.sku", "lines.asin", "lines.item_id", "lines.title",
	"lines.quantity", "lines.quantity_shipped", "lines.unit_price", "lines.line_total",
	"lines.tax", "lines.shipping", "lines.shipping_tax", "lines.discount", "lines.discount_tax",
	"lines.gift_wrap", "lines.gift_wrap_tax", "lines.promotion_ids", "lines.is_gift",
	"lines.cancel_requested",

	"totals.subtotal", "totals.tax", "totals.shipping", "totals.discount", "totals.total",

	"marketplace_taxes.line_id", "marketplace_taxes.tax_type", "marketplace_taxes.model",
	"marketplace_taxes.amount",

	"refunds.refund_id", "refunds.line_id", "refunds.amount", "refunds.refunded_at", "refunds.status",
}

// droppedPaths can only be dropped: buyers' free text (P4). Nothing reads them
// but the card number scrub, which counts what it finds in them.
var droppedPaths = []string{"free_text.kind", "free_text.line_id", "free_text.text"}

// personalFields are the personal-data strings, one per order: the policy may
// tokenise (where BuyerTokens has a slot), encrypt (into the delivery label or
// the invoice party, by retention class) or drop each of them.
var personalFields = func() map[string]func(*scrubbed) string {
	m := map[string]func(*scrubbed) string{
		"buyer.name":                  func(s *scrubbed) string { return s.o.Buyer.Name },
		"buyer.email":                 func(s *scrubbed) string { return s.o.Buyer.Email },
		"buyer.phone":                 func(s *scrubbed) string { return s.o.Buyer.Phone },
		"buyer.username":              func(s *scrubbed) string { return s.o.Buyer.Username },
		"buyer.user_id":               func(s *scrubbed) string { return s.o.Buyer.UserID },
		"buyer.company_name":          func(s *scrubbed) string { return s.o.Buyer.CompanyName },
		"buyer.tax_id":                func(s *scrubbed) string { return s.o.Buyer.TaxID },
		"buyer.purchase_order_number": func(s *scrubbed) string { return s.o.Buyer.PurchaseOrderNumber },
	}
	address := map[string]func(*order.Address) string{
		"name":            func(a *order.Address) string { return a.Name },
		"company_name":    func(a *order.Address) string { return a.CompanyName },
		"line1":           func(a *order.Address) string { return a.Line1 },
		"line2":           func(a *order.Address) string { return a.Line2 },
		"line3":           func(a *order.Address) string { return a.Line3 },
		"city":            func(a *order.Address) string { return a.City },
		"county":          func(a *order.Address) string { return a.County },
		"state_or_region": func(a *order.Address) string { return a.StateOrRegion },
		"postal_code":     func(a *order.Address) string { return a.PostalCode },
		"phone":           func(a *order.Address) string { return a.Phone },
		"email":           func(a *order.Address) string { return a.Email },
	}
	for name, get := range address {
		m["shipping_address."+name] = func(s *scrubbed) string {
			if s.o.ShippingAddress == nil {
				return ""
			}
			return get(s.o.ShippingAddress)
		}
		m["billing_address."+name] = func(s *scrubbed) string {
			if s.o.BillingAddress == nil {
				return ""
			}
			return get(s.o.BillingAddress)
		}
	}
	return m
}()

// tokenSlots are the personal fields that BuyerTokens has a place for.
var tokenSlots = map[string]func(*protected.BuyerTokens) *protected.Token{
	"buyer.name":     func(b *protected.BuyerTokens) *protected.Token { return &b.Name },
	"buyer.email":    func(b *protected.BuyerTokens) *protected.Token { return &b.Email },
	"buyer.phone":    func(b *protected.BuyerTokens) *protected.Token { return &b.Phone },
	"buyer.username": func(b *protected.BuyerTokens) *protected.Token { return &b.Username },
	"buyer.user_id":  func(b *protected.BuyerTokens) *protected.Token { return &b.UserID },
}

// derivedFields are the coarsened values the stage can compute, by the name the
// policy gives them, with the field each is computed from.
var derivedFields = map[string]string{
	"ship_postcode_area":    "shipping_address.postal_code",
	"billing_postcode_area": "billing_address.postal_code",
}

// stringField reads one personal-data string of a scrubbed order.
type stringField struct {
	path string
	get  func(*scrubbed) string
}

// tokenField is a personal field that the policy tokenises, and its slot.
type tokenField struct {
	stringField
	slot func(*protected.BuyerTokens) *protected.Token
}

// plan is the policy turned into what the stage does, checked once by New.
type plan struct {
	tokens  []tokenField  // sorted by path
	label   []stringField // encrypted into the delivery label, sorted by path
	invoice []stringField // encrypted into the invoice party, sorted by path
	// shipArea and billArea say whether the policy asks for the derived areas.
	shipArea, billArea bool
	cards              cardScan // which fields scrub scans for card numbers (scrub.go)
}

// newPlan checks every rule of p against what the stage knows how to do and
// returns the plan, or every reason it cannot follow p.
func newPlan(p *policy.Policy) (*plan, error) {
	if p == nil {
		return nil, errors.New("protect config Policy: required (policy.Load())")
	}
	var (
		pl   plan
		errs []error
	)
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("protect: policy field %s: "+format+"; change worker/protect with the policy", append([]any{path}, args...)...))
	}
	known := make(map[string]bool)
	for _, path := range keptPaths {
		known[path] = true
	}
	for _, path := range droppedPaths {
		known[path] = true
	}
	for path := range personalFields {
		known[path] = true
	}
	for _, path := range sortedKeys(p.Fields) {
		rule := p.Fields[path]
		errs = append(errs, pl.cards.add(path, rule))
		if !known[path] {
			bad(path, "the protect stage does not know this field")
			continue
		}
		supported := supportedTreatments(path)
		if !slices.Contains(supported, rule.Treatment) {
			bad(path, "treatment %s is not one the stage implements for it (%s)", rule.Treatment, joinTreatments(supported))
			continue
		}
		switch rule.Treatment {
		case policy.Token:
			pl.tokens = append(pl.tokens, tokenField{stringField{path, personalFields[path]}, tokenSlots[path]})
		case policy.Encrypt:
			f := stringField{path, personalFields[path]}
			switch rule.Retention {
			case policy.Label:
				pl.label = append(pl.label, f)
			case policy.Financial:
				pl.invoice = append(pl.invoice, f)
			default:
				// Each ciphertext is purged with its retention class: there is no
				// analytics ciphertext to put it in.
				bad(path, "encrypt with retention %s: the stage encrypts only into the delivery label (label) or the invoice party (financial)", rule.Retention)
			}
		}
	}
	for _, path := range sortedKeys(known) {
		if _, ok := p.Fields[path]; !ok {
			bad(path, "the policy has no rule for it, and the stage treats no field without one")
		}
	}
	for _, name := range sortedKeys(p.Derived) {
		rule := p.Derived[name]
		from, ok := derivedFields[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("protect: policy derived value %s: the protect stage does not compute it", name))
		case rule.From != from:
			errs = append(errs, fmt.Errorf("protect: policy derived value %s: from %s, but the stage computes it from %s", name, rule.From, from))
		case rule.Treatment != policy.Coarsen:
			errs = append(errs, fmt.Errorf("protect: policy derived value %s: treatment %s; the stage only coarsens", name, rule.Treatment))
		case name == "ship_postcode_area":
			pl.shipArea = true
		case name == "billing_postcode_area":
			pl.billArea = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &pl, nil
}

// supportedTreatments lists what the stage can do with the field at path.
func supportedTreatments(path string) []policy.Treatment {
	switch {
	case slices.Contains(keptPaths, path):
		return []policy.Treatment{policy.Keep}
	case slices.Contains(droppedPaths, path):
		return []policy.Treatment{policy.Drop}
	case tokenSlots[path] != nil:
		return []policy.Treatment{policy.Token, policy.Encrypt, policy.Drop}
	}
	return []policy.Treatment{policy.Encrypt, policy.Drop}
}

func joinTreatments(ts []policy.Treatment) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
