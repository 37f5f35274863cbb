package quickbooks_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// party is a business buyer whose name and address are privacy-corpus
// values, so that any of them surfacing in an error, a log line or a
// metric label is found.
var party = quickbooks.InvoiceParty{
	Name: "Siobhán Przybylski", Company: "Quarrendon Road Traders Ltd",
	AddressLines: []string{"Flat 9, 27 Quarrendon Road"}, City: "Aylesbury", PostalCode: "HP19 9XX",
	CountryCode: "GB", VATNumber: "GB123456789",
}

func withItems(c *quickbooks.Config) {
	c.Mapping.Items = map[accounting.LineKind]string{accounting.LineSales: "21", accounting.LineShipping: "22", accounting.LineDiscount: "23"}
}

// invoicePosting is a business order's invoice at 20%.
func invoicePosting(t *testing.T, orderID string, lines ...string) accounting.Posting {
	t.Helper()
	p := posting(t, accounting.KindInvoice, 0, "20", 9, 9, lines...)
	p.ChannelOrderID = orderID
	p.InvoiceParty = "vault:v1:ciphertext"
	p.IdempotencyKey = accounting.IdempotencyKey(p.TenantID, p.Marketplace, p.Currency, p.VATRate, p.Period, p.Kind, p.Sequence, orderID)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) postWith(t *testing.T, parties map[string]quickbooks.InvoiceParty, ps ...accounting.Posting) []accounting.Result {
	t.Helper()
	res, err := e.cl.Post(t.Context(), ps, parties)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	return res
}

func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		var pretty strings.Builder
		pretty.Write(indent(body))
		_ = os.WriteFile(path, []byte(pretty.String()+"\n"), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decode(t, want), decode(t, body)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// TestInvoice: a business order's invoice makes the party's customer (its
// name, company, billing address and VAT number: the golden customer) and
// the golden invoice on the tenant's items; a second order of the same
// business finds that customer instead of making another.
func TestInvoice(t *testing.T) {
	e := newEnv(t, withItems)
	a := invoicePosting(t, "203-1234567-7654321", "sales", "41.6667", "8.3333", "shipping", "3.33", "0.67", "discount", "-5.00", "-1.00")
	b := invoicePosting(t, "203-7654321-1234567", "sales", "10.00", "2.00")
	parties := map[string]quickbooks.InvoiceParty{a.IdempotencyKey: party, b.IdempotencyKey: party}
	res := e.postWith(t, parties, a, b)
	for i, r := range res {
		if r.Outcome != courier.Done || r.ProviderID == "" {
			t.Fatalf("invoice %d: %+v, want done", i, r)
		}
	}
	customers, invoices := e.srv.Customers(), e.srv.Invoices()
	if len(customers) != 1 || len(invoices) != 2 {
		t.Fatalf("%d customers, %d invoices; want 1 and 2", len(customers), len(invoices))
	}
	golden(t, "invoice_customer.golden.json", customers[0].Body)
	golden(t, "invoice.golden.json", invoices[0].Body)
	if invoices[0].CustomerID != customers[0].ID || invoices[1].CustomerID != customers[0].ID {
		t.Errorf("invoices of customers %s and %s, want both %s", invoices[0].CustomerID, invoices[1].CustomerID, customers[0].ID)
	}
	// To the penny: net 40.00 (41.67 + 3.33 - 5.00), VAT 8.00.
	if invoices[0].Net != 4000 || invoices[0].TotalTax != 800 {
		t.Errorf("invoice net %d, tax %d pennies; want 4000 and 800", invoices[0].Net, invoices[0].TotalTax)
	}
}

// TestInvoiceWithoutVATNumberGetsACustomerPerOrder: a party with no VAT
// number cannot be told from a namesake, so each order gets its own
// customer, named with the order.
func TestInvoiceWithoutVATNumberGetsACustomerPerOrder(t *testing.T) {
	e := newEnv(t, withItems)
	noVAT := party
	noVAT.VATNumber, noVAT.Company = "", ""
	a := invoicePosting(t, "203-1", "sales", "10.00", "2.00")
	b := invoicePosting(t, "203-2", "sales", "10.00", "2.00")
	e.postWith(t, map[string]quickbooks.InvoiceParty{a.IdempotencyKey: noVAT, b.IdempotencyKey: noVAT}, a, b)
	var names []string
	for _, c := range e.srv.Customers() {
		names = append(names, c.DisplayName)
	}
	if want := []string{"Siobhán Przybylski (order 203-1)", "Siobhán Przybylski (order 203-2)"}; !cmp.Equal(names, want) {
		t.Errorf("customers %q, want %q", names, want)
	}
}

// TestInvoiceRedeliveryAfterLostAnswers: the customer's and then the
// invoice's answers are lost after QuickBooks made them; redelivered, the
// posting makes neither again and is answered with the invoice made.
func TestInvoiceRedeliveryAfterLostAnswers(t *testing.T) {
	e := newEnv(t, withItems)
	p := invoicePosting(t, "203-9", "sales", "10.00", "2.00")
	parties := map[string]quickbooks.InvoiceParty{p.IdempotencyKey: party}
	e.srv.Fail(quickbookstest.Fault{Status: 500, AfterApply: true})
	if r := e.postWith(t, parties, p)[0]; r.Outcome != courier.Retry {
		t.Fatalf("customer's answer lost: %v (%v), want retry", r.Outcome, r.Err)
	}
	e.srv.Fail(quickbookstest.Fault{Status: 503, AfterApply: true})
	if r := e.postWith(t, parties, p)[0]; r.Outcome != courier.Retry {
		t.Fatalf("invoice's answer lost: %v (%v), want retry", r.Outcome, r.Err)
	}
	r := e.postWith(t, parties, p)[0]
	invoices := e.srv.Invoices()
	if r.Outcome != courier.Done || len(e.srv.Customers()) != 1 || len(invoices) != 1 || r.ProviderID != invoices[0].ID {
		t.Fatalf("redelivered: %+v; %d customers, %d invoices; want done with the one invoice", r, len(e.srv.Customers()), len(invoices))
	}
	if d := e.srv.Duplicates(); len(d) > 0 {
		t.Errorf("duplicates %v", d)
	}
}

// TestInvoicePartyNeverLeaks: with the party's values from the privacy
// corpus, a refused invoice (whose fault quotes personal data), a party
// too long for QuickBooks, and an invoice with no party given leave none
// of it in results, logs or metric labels.
func TestInvoicePartyNeverLeaks(t *testing.T) {
	e := newEnv(t, withItems)
	refused := invoicePosting(t, "203-10", "sales", "10.00", "2.00")
	long := invoicePosting(t, "203-11", "sales", "10.00", "2.00")
	orphan := invoicePosting(t, "203-12", "sales", "10.00", "2.00")
	longParty := party
	longParty.PostalCode = strings.Repeat("HP19 9XX ", 5)
	if err := e.cl.CheckMapping(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.Fail(quickbookstest.Fault{}, quickbookstest.Fault{}, quickbookstest.Fault{Status: 400}) // the customer query and create pass, the invoice is refused
	res := e.postWith(t, map[string]quickbooks.InvoiceParty{refused.IdempotencyKey: party, long.IdempotencyKey: longParty}, refused, long, orphan)
	for i, want := range []string{"codes 2500", "invoice_party.postcode: longer than 30 characters (45 characters)", "invoice_party: Post was given none"} {
		if res[i].Outcome != courier.Failed || !strings.Contains(res[i].Err.Error(), want) {
			t.Errorf("posting %d: %v (%v), want failed saying %q", i, res[i].Outcome, res[i].Err, want)
		}
	}
	var he *quickbooks.HTTPError
	if !errors.As(res[0].Err, &he) || he.MessageLen == 0 {
		t.Errorf("refused: %v, want an HTTPError withholding the message", res[0].Err)
	}
	text := fmt.Sprint(res) + fmt.Sprintf("%v %+v %#v", party, party, party) + e.logs.String() + labels(t, e.reg)
	if leaks := privacytest.Leaks(text); len(leaks) > 0 {
		t.Errorf("results, logs, metric labels or the party's own printing give away %v", leaks)
	}
}

// labels is every label value of every metric gathered.
func labels(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				b.WriteString(l.GetValue() + " ")
			}
		}
	}
	return b.String()
}
