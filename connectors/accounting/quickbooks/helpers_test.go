package quickbooks_test

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
)

const tenant = "acme"

type env struct {
	srv     *quickbookstest.Server
	cl      *quickbooks.Client
	reg     *prometheus.Registry
	logs    *privacytest.LogBuffer
	clock   *connectortest.Clock
	mu      sync.Mutex
	rotated []string
}

// ukMapping is the mapping onto quickbookstest.UKCompany.
func ukMapping() quickbooks.Mapping {
	return quickbooks.Mapping{
		Accounts: map[accounting.LineKind]string{
			accounting.LineSales: "41", accounting.LineShipping: "42", accounting.LineDiscount: "43",
			accounting.LineRefund: "44", accounting.LineMarketplaceVAT: "81", accounting.LineOther: "41",
		},
		ClearingAccount: "91",
		TaxCodes:        map[string]string{"20": "2", "5": "3", "0": "4"},
		NoVATTaxCode:    "6",
	}
}

func newEnv(t *testing.T, mod func(*quickbooks.Config)) *env {
	t.Helper()
	e := &env{
		srv:   quickbookstest.New(t, quickbookstest.Config{}),
		reg:   prometheus.NewRegistry(),
		logs:  &privacytest.LogBuffer{},
		clock: connectortest.NewClock(time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC)),
	}
	cfg := quickbooks.Config{
		TenantID: tenant, RealmID: "9341453172581902",
		BaseURL: e.srv.URL, TokenURL: e.srv.TokenURL,
		ClientID: "test-client-id", ClientSecret: config.Secret("test-client-secret"),
		RefreshToken: config.Secret("test-refresh-token-0"),
		OnRefreshToken: func(s config.Secret) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rotated = append(e.rotated, s.Reveal())
		},
		Mapping:    ukMapping(),
		Registerer: e.reg, Logger: e.logs.Logger(), Clock: e.clock, Timeout: 2 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	cl, err := quickbooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	return e
}

func (e *env) post(t *testing.T, ps ...accounting.Posting) []accounting.Result {
	t.Helper()
	res, err := e.cl.Post(t.Context(), ps, nil)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if len(res) != len(ps) {
		t.Fatalf("Post: %d results for %d postings", len(res), len(ps))
	}
	return res
}

func amt(t testing.TB, s string) order.Amount {
	t.Helper()
	a, err := order.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func day(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }

// posting is a summary of one day on amazon.co.uk in GBP at rate, with
// lines given as kind, net, tax triples.
func posting(t testing.TB, kind accounting.Kind, seq int, rate string, from, to int, lines ...string) accounting.Posting {
	t.Helper()
	p := accounting.Posting{
		Version: accounting.PostingVersion, Kind: kind, TenantID: tenant, Marketplace: "amazon.co.uk",
		Currency: "GBP", VATRate: rate, Period: accounting.Period{From: day(from), To: day(to)}, Sequence: seq,
		Orders: 3, CreatedAt: time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC),
	}
	for i := 0; i+2 < len(lines); i += 3 {
		p.Lines = append(p.Lines, accounting.Line{Kind: accounting.LineKind(lines[i]), Net: amt(t, lines[i+1]), Tax: amt(t, lines[i+2])})
	}
	p.IdempotencyKey = accounting.IdempotencyKey(p.TenantID, p.Marketplace, p.Currency, p.VATRate, p.Period, p.Kind, p.Sequence, "")
	if err := p.Check(); err != nil && kind != accounting.KindInvoice { // an invoice's party is the caller's to add
		t.Fatal(err)
	}
	return p
}
