package xero_test

import (
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting/xero"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/worker/config"
)

func TestContract(t *testing.T) {
	connectortest.RunAccounting(t, connectortest.AccountingHarness{
		Kind: xero.Kind,
		New: func(t *testing.T, env connectortest.Env) (connectortest.Poster, connectortest.AccountingStandIn) {
			srv := xerotest.New(t, xerotest.Config{})
			cl, err := xero.New(xero.Config{
				TenantID: connectortest.Tenant, XeroTenantID: srv.XeroTenantID(), BaseURL: srv.URL, TokenURL: srv.TokenURL,
				ClientID: "test-client", ClientSecret: config.Secret("test-secret"), RefreshToken: config.Secret("refresh-0"),
				Mapping: mapping(), Registerer: env.Registerer, Logger: env.Logger, Clock: env.Clock, Timeout: env.Timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			return cl, standIn{srv}
		},
	})
}

// standIn is the suite's hold on the Xero stand-in: a posting's documents
// are filed under its Reference (a bill's under InvoiceNumber). With the
// mapping's refunds on lines, a posting is one document.
type standIn struct{ *xerotest.Server }

func (s standIn) Fail(faults ...connectortest.Fault) {
	for _, f := range faults {
		s.Server.Fail(xerotest.Fault{Status: f.Status, RetryAfter: f.RetryAfterHeader(), Delay: f.Delay, AfterApply: f.AfterApply})
	}
}

func (s standIn) Calls() int { return s.Requests() }

func (s standIn) Ledger(reference string) connectortest.Entry {
	var e connectortest.Entry
	for _, d := range s.Server.Documents() {
		if ref(d) == reference {
			e.Created++
		}
	}
	return e
}

func (s standIn) Documents() []connectortest.Document {
	var out []connectortest.Document
	for _, d := range s.Server.Documents() {
		fields, err := connectortest.Flatten(d.Body)
		if err != nil {
			panic(err) // the stand-in validated the body as JSON
		}
		out = append(out, connectortest.Document{Ref: ref(d), Fields: fields})
	}
	return out
}

// ref is what a document is filed under: a bill takes the reference in
// InvoiceNumber.
func ref(d xerotest.Document) string {
	if d.Type == xero.TypeBill {
		return d.InvoiceNumber
	}
	return d.Reference
}
