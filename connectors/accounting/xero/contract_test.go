package xero_test

import (
	"strings"
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
// are filed under its idempotency key (its refunds' credit note under the
// key and "-refunds").
type standIn struct{ *xerotest.Server }

func (s standIn) Fail(faults ...connectortest.Fault) {
	for _, f := range faults {
		s.Server.Fail(xerotest.Fault{Status: f.Status, RetryAfter: f.RetryAfterHeader(), Delay: f.Delay, AfterApply: f.AfterApply})
	}
}

func (s standIn) Calls() int { return s.Requests() }

func (s standIn) Ledger(key string) connectortest.Entry {
	var e connectortest.Entry
	for _, d := range s.Server.Documents() {
		if d.IdempotencyKey == key {
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
		out = append(out, connectortest.Document{Ref: strings.TrimSuffix(d.IdempotencyKey, "-refunds"), Fields: fields})
	}
	return out
}
