package xero

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/worker/order"
)

// Document types (Xero's Invoice.Type and CreditNote.Type).
const (
	TypeSales        = "ACCREC"       // a sales invoice
	TypeBill         = "ACCPAY"       // a bill: a negative posting, when Mapping.Negative is NegativeBill
	TypeSalesCredit  = "ACCRECCREDIT" // a sales credit note
	lineAmountTypeEx = "Exclusive"    // amounts are net; tax is on top, per line
)

// money is an amount in pennies (cents): what Xero takes, two places. It
// marshals as the decimal text of a JSON number ("12.34", "-0.05"), never
// through a float.
type money int64

func (m money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

func (m money) String() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// pennies rounds an exact amount (scale 4) to two places, half away from
// zero (half a penny rounds to the penny further from zero, either sign).
func pennies(a order.Amount) money {
	v := int64(a)
	q, r := v/100, v%100
	switch {
	case r >= 50:
		q++
	case r <= -50:
		q--
	}
	return money(q)
}

// roundGroup rounds each exact amount to pennies so that the rounded amounts
// sum to the rounded sum of the exact ones: each is rounded half away from
// zero, then the pennies the sum is short (or over) go one at a time to the
// amounts whose rounding moved them furthest the other way (largest
// remainder; ties to the earlier line). Every rounded amount stays within a
// penny of its exact value.
func roundGroup(exact []order.Amount) []money {
	out := make([]money, len(exact))
	var sum order.Amount
	var got money
	for i, e := range exact {
		out[i] = pennies(e)
		sum += e
		got += out[i]
	}
	diff := pennies(sum) - got
	for diff != 0 {
		step := money(1)
		if diff < 0 {
			step = -1
		}
		best, bestRest := -1, int64(0)
		for i, e := range exact {
			// rest is how far the exact amount lies beyond its rounded one,
			// in the direction of the step, in units of 10^-4.
			rest := (int64(e) - int64(out[i])*100) * int64(step)
			if best < 0 || rest > bestRest {
				best, bestRest = i, rest
			}
		}
		out[best] += step
		diff -= step
	}
	return out
}

// lineItem is Xero's LineItem as this connector writes it: quantity one, a
// net LineAmount and an explicit TaxAmount (so that Xero's own rounding
// never differs from the posting's).
type lineItem struct {
	Description string `json:"Description"`
	Quantity    json1  `json:"Quantity"`
	UnitAmount  money  `json:"UnitAmount"`
	LineAmount  money  `json:"LineAmount"`
	AccountCode string `json:"AccountCode"`
	TaxType     string `json:"TaxType"`
	TaxAmount   money  `json:"TaxAmount"`
	kind        accounting.LineKind
}

// json1 is the quantity one, as a JSON number.
type json1 struct{}

func (json1) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

// address is Xero's Address.
type address struct {
	AddressType  string `json:"AddressType"`
	AddressLine1 string `json:"AddressLine1,omitempty"`
	AddressLine2 string `json:"AddressLine2,omitempty"`
	AddressLine3 string `json:"AddressLine3,omitempty"`
	AddressLine4 string `json:"AddressLine4,omitempty"`
	City         string `json:"City,omitempty"`
	Region       string `json:"Region,omitempty"`
	PostalCode   string `json:"PostalCode,omitempty"`
	Country      string `json:"Country,omitempty"`
}

// contact is Xero's Contact, by name: Xero files the document under the
// contact of that name, creating it the first time.
type contact struct {
	Name      string    `json:"Name"`
	TaxNumber string    `json:"TaxNumber,omitempty"`
	Addresses []address `json:"Addresses,omitempty"`
}

// document is one Invoice or CreditNote as sent.
type document struct {
	Type            string     `json:"Type"`
	Contact         contact    `json:"Contact"`
	Date            string     `json:"Date"`
	DueDate         string     `json:"DueDate,omitempty"`
	LineAmountTypes string     `json:"LineAmountTypes"`
	InvoiceNumber   string     `json:"InvoiceNumber,omitempty"`
	Reference       string     `json:"Reference,omitempty"`
	CurrencyCode    string     `json:"CurrencyCode"`
	Status          string     `json:"Status"`
	LineItems       []lineItem `json:"LineItems"`
}

// creditNote reports whether the document goes to /CreditNotes.
func (d *document) creditNote() bool { return d.Type == TypeSalesCredit }

// totals are the document's net, tax and gross, as Xero computes them from
// the lines.
func (d *document) totals() (net, tax money) {
	for _, l := range d.LineItems {
		net += l.LineAmount
		tax += l.TaxAmount
	}
	return net, tax
}

// work is one create call: a document and its idempotency key.
type work struct {
	key string
	doc document
}

// maxText bounds Xero's text fields this connector fills (Contact.Name,
// InvoiceNumber: 255; Address lines 500, City and Region 255, PostalCode and
// Country and TaxNumber 50).
const (
	maxName       = 255
	maxAddrLine   = 500
	maxCityRegion = 255
	maxShort      = 50
)

// build maps a posting to the documents that post it: one, or two when
// refunds go on their own credit note. A posting whose lines round to
// nothing gives none. The error names the field and rule, never a value.
func (c *Client) build(p *accounting.Posting, party *accounting.InvoiceParty) ([]work, error) {
	m := &c.cfg.Mapping
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("posting: %w", err)
	}
	if p.TenantID != c.cfg.TenantID {
		return nil, errors.New("posting: tenant_id is not this connector's tenant")
	}
	salesTax, ok := m.TaxTypes[p.VATRate]
	if !ok {
		return nil, errors.New("posting: vat_rate has no tax type in mapping.tax_types")
	}
	type row struct {
		kind     accounting.LineKind
		net, tax order.Amount
		taxType  string
	}
	var rows []row
	for _, l := range p.Lines {
		r := row{kind: l.Kind, net: l.Net, tax: l.Tax, taxType: salesTax}
		if l.Kind == accounting.LineMarketplaceVAT {
			if m.MarketplaceVAT == MarketplaceVATOmit {
				continue
			}
			// Never the seller's output VAT: the whole amount on its own
			// account, with no tax.
			r = row{kind: l.Kind, net: l.Net + l.Tax, taxType: m.NoTaxType}
		}
		if _, ok := m.Accounts[l.Kind]; !ok {
			return nil, fmt.Errorf("posting: line kind %q has no account in mapping.accounts", lineKindName(l.Kind))
		}
		rows = append(rows, r)
	}
	nets := make([]order.Amount, len(rows))
	taxes := make([]order.Amount, len(rows))
	for i, r := range rows {
		nets[i], taxes[i] = r.net, r.tax
	}
	rn, rt := roundGroup(nets), roundGroup(taxes)

	var ct contact
	if p.Kind == accounting.KindInvoice {
		if party == nil {
			return nil, errors.New("posting: an invoice's party was not given")
		}
		var err error
		if ct, err = partyContact(party); err != nil {
			return nil, err
		}
	} else {
		ct = contact{Name: m.Contacts[p.Marketplace]}
		if ct.Name == "" {
			ct.Name = "orderflow " + p.Marketplace
		}
		if len(ct.Name) > maxName {
			return nil, errors.New("mapping.contacts: the marketplace's contact name is longer than 255")
		}
	}
	date := p.Date()
	main := document{
		Contact: ct, Date: date.Format(time.DateOnly), LineAmountTypes: lineAmountTypeEx,
		Reference: p.Reference(), CurrencyCode: p.Currency, Status: m.Status,
	}
	refunds := main
	for i, r := range rows {
		if rn[i] == 0 && rt[i] == 0 {
			continue
		}
		li := lineItem{
			Description: lineLabel(r.kind) + ", " + p.Marketplace + ", " + p.Period.String(),
			UnitAmount:  rn[i], LineAmount: rn[i], TaxAmount: rt[i],
			AccountCode: m.Accounts[r.kind], TaxType: r.taxType, kind: r.kind,
		}
		if r.kind == accounting.LineRefund && m.Refunds == RefundsCreditNote {
			refunds.LineItems = append(refunds.LineItems, li)
		} else {
			main.LineItems = append(main.LineItems, li)
		}
	}
	var out []work
	if len(main.LineItems) > 0 {
		if net, tax := main.totals(); net+tax < 0 {
			if m.Negative == NegativeBill {
				main.Type = TypeBill
				// Bills take the supplier's reference in InvoiceNumber;
				// Reference is ACCREC's only.
				main.InvoiceNumber, main.Reference = main.Reference, ""
			} else {
				main.Type = TypeSalesCredit
			}
			negate(&main, m)
		} else {
			main.Type = TypeSales
		}
		out = append(out, work{key: p.IdempotencyKey, doc: main})
	}
	if len(refunds.LineItems) > 0 {
		refunds.Type = TypeSalesCredit
		negate(&refunds, m)
		out = append(out, work{key: p.IdempotencyKey + "-refunds", doc: refunds})
	}
	for i := range out {
		d := &out[i].doc
		if d.Type == TypeSales || d.Type == TypeBill {
			// Required when AUTHORISED; harmless on a draft.
			d.DueDate = date.AddDate(0, 0, m.DueDays).Format(time.DateOnly)
		}
	}
	return out, nil
}

// negate turns a document's lines into the positive amounts of a credit
// note or bill, on the bill's tax types when it is a bill.
func negate(d *document, m *Mapping) {
	for i := range d.LineItems {
		l := &d.LineItems[i]
		l.UnitAmount, l.LineAmount, l.TaxAmount = -l.UnitAmount, -l.LineAmount, -l.TaxAmount
		if d.Type == TypeBill && l.kind != accounting.LineMarketplaceVAT {
			for rate, tt := range m.TaxTypes {
				if tt == l.TaxType && m.BillTaxTypes[rate] != "" {
					l.TaxType = m.BillTaxTypes[rate]
					break
				}
			}
		}
	}
}

// partyContact is an invoice party as a Xero contact: name, billing address
// (POBOX, Xero's postal address) and VAT number, nothing else.
func partyContact(p *accounting.InvoiceParty) (contact, error) {
	var errs []error
	check := func(field, v string, max int, required bool) {
		switch n := len([]rune(v)); {
		case required && n == 0:
			errs = append(errs, fmt.Errorf("invoice_party.%s: required", field))
		case n > max:
			errs = append(errs, fmt.Errorf("invoice_party.%s: %d characters, more than %d", field, n, max))
		}
	}
	name := p.Name
	if p.Company != "" {
		name = p.Company // a business's invoice goes to the business
	}
	check("name", name, maxName, true)
	if len(p.AddressLines) > 4 {
		errs = append(errs, fmt.Errorf("invoice_party.address_lines: %d lines, more than 4", len(p.AddressLines)))
	}
	for i, l := range p.AddressLines {
		check("address_lines["+strconv.Itoa(i)+"]", l, maxAddrLine, false)
	}
	check("city", p.City, maxCityRegion, false)
	check("region", p.Region, maxCityRegion, false)
	check("postal_code", p.PostalCode, maxShort, false)
	check("country_code", p.CountryCode, maxShort, false)
	check("vat_number", p.VATNumber, maxShort, false)
	if err := errors.Join(errs...); err != nil {
		return contact{}, err
	}
	a := address{AddressType: "POBOX", City: p.City, Region: p.Region, PostalCode: p.PostalCode, Country: p.CountryCode}
	lines := []*string{&a.AddressLine1, &a.AddressLine2, &a.AddressLine3, &a.AddressLine4}
	for i, l := range p.AddressLines {
		*lines[i] = l
	}
	return contact{Name: name, TaxNumber: p.VATNumber, Addresses: []address{a}}, nil
}

// lineLabel is a line's description for a finance reader.
func lineLabel(k accounting.LineKind) string {
	switch k {
	case accounting.LineSales:
		return "Sales"
	case accounting.LineShipping:
		return "Shipping charged"
	case accounting.LineDiscount:
		return "Discounts"
	case accounting.LineRefund:
		return "Refunds"
	case accounting.LineMarketplaceVAT:
		return "VAT collected and paid by the marketplace"
	}
	return "Other"
}

// lineKindName is a line kind fit for an error: one of the known kinds, or
// "unknown" (an unknown kind's text is not ours to repeat).
func lineKindName(k accounting.LineKind) string {
	for _, known := range accounting.LineKinds() {
		if k == known {
			return string(k)
		}
	}
	return "unknown"
}
