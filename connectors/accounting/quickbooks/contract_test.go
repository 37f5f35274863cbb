package quickbooks_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/config"
)

func TestContract(t *testing.T) {
	connectortest.RunAccounting(t, connectortest.AccountingHarness{
		Kind: quickbooks.Kind,
		New: func(t *testing.T, env connectortest.Env) (connectortest.Poster, connectortest.AccountingStandIn) {
			srv := quickbookstest.New(t, quickbookstest.Config{})
			cfg := quickbooks.Config{
				TenantID: connectortest.Tenant, RealmID: "9341453172581902", BaseURL: srv.URL, TokenURL: srv.TokenURL,
				ClientID: "test-client-id", ClientSecret: config.Secret("test-client-secret"),
				RefreshToken: config.Secret("test-refresh-token-0"), Mapping: ukMapping(),
				Registerer: env.Registerer, Logger: env.Logger, Clock: env.Clock, Timeout: env.Timeout,
			}
			withItems(&cfg)
			cl, err := quickbooks.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// As a dispatcher runs: the mapping checked at start, and the
			// business already a customer from an earlier order, so that
			// the suite's faults meet the posting's own calls (the
			// customer's lookup, the document's create) rather than the
			// mapping's queries or the customer's create, which
			// TestInvoiceRedeliveryAfterLostAnswers covers.
			warm := connectortest.Invoice(t, 0)
			rs, err := cl.Post(t.Context(), []accounting.Posting{warm.Posting}, map[string]quickbooks.InvoiceParty{warm.Posting.IdempotencyKey: *warm.Party})
			if err != nil || rs[0].Outcome != courier.Done {
				t.Fatalf("the business's first invoice: %v %+v", err, rs)
			}
			return cl, standIn{srv}
		},
	})
}

// standIn is the suite's hold on the QuickBooks stand-in: a posting's
// document is filed under its reference, in PrivateNote; a customer under
// none.
type standIn struct{ *quickbookstest.Server }

func (s standIn) Fail(faults ...connectortest.Fault) {
	for _, f := range faults {
		s.Server.Fail(quickbookstest.Fault{Status: f.Status, RetryAfter: f.RetryAfterHeader(), Delay: f.Delay, AfterApply: f.AfterApply})
	}
}

func (s standIn) Calls() int { return s.Requests() }

func (s standIn) Ledger(reference string) connectortest.Entry {
	var e connectortest.Entry
	for _, d := range s.Documents() {
		if d.Ref == reference {
			e.Created++
		}
	}
	return e
}

// Documents are the ledger's journal entries, receipts, invoices and
// customers.
func (s standIn) Documents() []connectortest.Document {
	var out []connectortest.Document
	add := func(body []byte) {
		fields, err := connectortest.Flatten(body)
		if err != nil {
			panic(err) // the stand-in validated the body against its schema
		}
		out = append(out, connectortest.Document{Ref: fields["PrivateNote"], Fields: fields})
	}
	for _, e := range s.Entries() {
		add(e.Body)
	}
	for _, r := range s.Receipts() {
		add(r.Body)
	}
	for _, inv := range s.Invoices() {
		add(inv.Body)
	}
	for _, c := range s.Customers() {
		add(c.Body)
	}
	return out
}
