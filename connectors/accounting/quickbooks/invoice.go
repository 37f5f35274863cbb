package quickbooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/courier"
)

// InvoiceParty is a business buyer's invoice party (accounting's one type),
// decrypted by the dispatcher just before Post.
type InvoiceParty = accounting.InvoiceParty

// Documented maximum lengths of the Customer members this connector fills.
const (
	maxDisplayName = 500
	maxCompanyName = 100
	maxAddressLine = 500
	maxCity        = 255
	maxPostcode    = 30
	maxCountry     = 255
	maxTaxID       = 20
	maxAddrLines   = 5
)

type customerBody struct {
	DisplayName          string   `json:"DisplayName"`
	CompanyName          string   `json:"CompanyName,omitempty"`
	BillAddr             *address `json:"BillAddr,omitempty"`
	PrimaryTaxIdentifier string   `json:"PrimaryTaxIdentifier,omitempty"`
}

type address struct {
	Line1      string `json:"Line1,omitempty"`
	Line2      string `json:"Line2,omitempty"`
	Line3      string `json:"Line3,omitempty"`
	Line4      string `json:"Line4,omitempty"`
	Line5      string `json:"Line5,omitempty"`
	City       string `json:"City,omitempty"`
	PostalCode string `json:"PostalCode,omitempty"`
	Country    string `json:"Country,omitempty"`
}

type invoiceBody struct {
	header
	CustomerRef          ref           `json:"CustomerRef"`
	BillAddr             *address      `json:"BillAddr,omitempty"`
	GlobalTaxCalculation string        `json:"GlobalTaxCalculation"`
	Line                 []invoiceLine `json:"Line"`
	TxnTaxDetail         *txnTaxDetail `json:"TxnTaxDetail,omitempty"`
}

type invoiceLine struct {
	Description         string      `json:"Description"`
	Amount              money       `json:"Amount"`
	DetailType          string      `json:"DetailType"`
	SalesItemLineDetail salesDetail `json:"SalesItemLineDetail"`
}

type salesDetail struct {
	ItemRef    ref `json:"ItemRef"`
	TaxCodeRef ref `json:"TaxCodeRef"`
}

// invoiceKinds are the line kinds a per-order invoice carries.
var invoiceKinds = map[accounting.LineKind]bool{accounting.LineSales: true, accounting.LineShipping: true, accounting.LineDiscount: true}

// customer is the party as a Customer, checked against the documented
// lengths. Its DisplayName (unique in a company, no colon) is the business
// and its VAT number, so that one business's orders share one customer; a
// party without a VAT number gets one customer per order.
func customer(p *accounting.Posting, party InvoiceParty) (customerBody, *address, error) {
	v := &checker{}
	who := party.Company
	if who == "" {
		who = party.Name
	}
	v.required("invoice_party.name", who)
	suffix := " (order " + p.ChannelOrderID + ")"
	if party.VATNumber != "" {
		suffix = " (VAT " + party.VATNumber + ")"
	}
	c := customerBody{
		DisplayName:          strings.ReplaceAll(who, ":", "-") + suffix,
		CompanyName:          party.Company,
		PrimaryTaxIdentifier: party.VATNumber,
	}
	v.max("invoice_party.name", c.DisplayName, maxDisplayName)
	v.max("invoice_party.company", c.CompanyName, maxCompanyName)
	v.max("invoice_party.vat_number", c.PrimaryTaxIdentifier, maxTaxID)
	if len(party.AddressLines) > maxAddrLines {
		v.fail(fmt.Sprintf("invoice_party.address_lines: more than %d lines", maxAddrLines))
	}
	a := &address{City: party.City, PostalCode: party.PostalCode, Country: party.CountryCode}
	lines := []*string{&a.Line1, &a.Line2, &a.Line3, &a.Line4, &a.Line5}
	for i, l := range party.AddressLines {
		if i < maxAddrLines {
			*lines[i] = l
			v.max(fmt.Sprintf("invoice_party.address_lines[%d]", i), l, maxAddressLine)
		}
	}
	v.max("invoice_party.city", a.City, maxCity)
	v.max("invoice_party.postcode", a.PostalCode, maxPostcode)
	v.max("invoice_party.country_code", a.Country, maxCountry)
	c.BillAddr = a
	return c, a, v.err()
}

// invoice maps a per-order invoice posting onto an Invoice of customerID:
// one sales item line per posting line, on the tenant's item for its kind,
// amounts net of VAT (TaxExcluded) rounded as a journal entry's are.
func (m *resolved) invoice(p *accounting.Posting, customerID string, bill *address) (invoiceBody, error) {
	var inv invoiceBody
	lines, err := m.rounded(p)
	if err != nil {
		return inv, err
	}
	code, rate, percent, err := m.tax(p)
	if err != nil {
		return inv, err
	}
	var net, tax money
	for _, l := range lines {
		if !invoiceKinds[l.kind] {
			return inv, fmt.Errorf("lines: an invoice carries sales, shipping and discount lines, not %s", safeKind(l.kind))
		}
		item, ok := m.cfg.Items[l.kind]
		if !ok {
			return inv, fmt.Errorf("mapping.items.%s: no item for an invoice's %s line", l.kind, l.kind)
		}
		if l.net == 0 && l.tax == 0 {
			continue
		}
		inv.Line = append(inv.Line, invoiceLine{
			Description: lineLabels[l.kind], Amount: l.net, DetailType: "SalesItemLineDetail",
			SalesItemLineDetail: salesDetail{ItemRef: ref{item}, TaxCodeRef: ref{code}},
		})
		net += l.net
		tax += l.tax
	}
	if len(inv.Line) == 0 || net+tax < 0 {
		return inv, errors.New("lines: an invoice needs a total of zero or more")
	}
	inv.TxnTaxDetail = &txnTaxDetail{TotalTax: tax, TaxLine: []taxLine{{
		Amount: tax, DetailType: "TaxLineDetail",
		TaxLineDetail: taxLineDetail{TaxRateRef: ref{rate}, PercentBased: true, TaxPercent: []byte(percent.String()), NetAmountTaxable: net},
	}}}
	inv.header = headerOf(p)
	inv.CustomerRef = ref{customerID}
	inv.BillAddr = bill
	inv.GlobalTaxCalculation = "TaxExcluded"
	return inv, nil
}

// postInvoice finds or creates the party's customer and creates the
// invoice. Both creates carry a requestid derived from the posting's key,
// so a redelivery creates neither twice.
func (c *Client) postInvoice(ctx context.Context, m *resolved, p *accounting.Posting, party InvoiceParty) (accounting.Result, error) {
	cust, bill, err := customer(p, party)
	if err != nil {
		return c.invalid(err), nil
	}
	if _, err := m.invoice(p, "0", bill); err != nil { // refuse before any call
		return c.invalid(err), nil
	}
	id, err := c.findCustomer(ctx, cust.DisplayName)
	if err != nil {
		if stop := c.fatal(err); stop != nil {
			return accounting.Result{}, stop
		}
		return accounting.Result{Result: judge(err)}, nil
	}
	if id == "" {
		r, err := c.create(ctx, "customer", p.IdempotencyKey+"-customer", cust)
		if err != nil || r.Outcome != courier.Done {
			return r, err
		}
		id = r.ProviderID
	}
	inv, err := m.invoice(p, id, bill)
	if err != nil {
		return c.invalid(err), nil
	}
	return c.create(ctx, "invoice", p.IdempotencyKey, inv)
}

// findCustomer returns the Id of the customer named displayName, "" when
// there is none.
func (c *Client) findCustomer(ctx context.Context, displayName string) (string, error) {
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(displayName)
	var answer struct {
		QueryResponse struct {
			Customer []struct {
				ID string `json:"Id"`
			} `json:"Customer"`
		} `json:"QueryResponse"`
	}
	stmt := "select * from Customer where DisplayName = '" + quoted + "'"
	if err := c.call(ctx, "query", http.MethodGet, "/query", url.Values{"query": {stmt}}, nil, &answer); err != nil {
		return "", fmt.Errorf("quickbooks: find the invoice party's customer: %w", err)
	}
	if len(answer.QueryResponse.Customer) == 0 {
		return "", nil
	}
	return answer.QueryResponse.Customer[0].ID, nil
}

// checker gathers what is wrong with a party, naming fields and rules and
// at most a length, never a value.
type checker struct{ errs []error }

func (v *checker) fail(msg string) { v.errs = append(v.errs, errors.New(msg)) }

func (v *checker) required(field, s string) {
	if strings.TrimSpace(s) == "" {
		v.fail(field + ": required")
	}
}

func (v *checker) max(field, s string, n int) {
	if l := utf8.RuneCountInString(s); l > n {
		v.fail(fmt.Sprintf("%s: longer than %d characters (%d characters)", field, n, l))
	}
}

func (v *checker) err() error { return errors.Join(v.errs...) }
