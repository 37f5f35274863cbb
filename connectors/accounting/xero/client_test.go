package xero_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/xero"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const tenant = connectortest.Tenant

type env struct {
	srv     *xerotest.Server
	cl      *xero.Client
	reg     *prometheus.Registry
	logs    *privacytest.LogBuffer
	clock   *connectortest.Clock
	rotated []string
}

func mapping() xero.Mapping {
	return xero.Mapping{
		Accounts: map[accounting.LineKind]string{
			accounting.LineSales: "200", accounting.LineShipping: "205", accounting.LineDiscount: "210",
			accounting.LineRefund: "215", accounting.LineMarketplaceVAT: "825",
		},
		TaxTypes:     map[string]string{"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT"},
		BillTaxTypes: map[string]string{"20": "INPUT2", "5": "RRINPUT", "0": "ZERORATEDINPUT"},
		Contacts:     map[string]string{"amazon.co.uk": "Amazon UK (orderflow)"},
	}
}

func newEnv(t *testing.T, srvCfg xerotest.Config, mod func(*xero.Config)) *env {
	t.Helper()
	e := &env{
		srv:   xerotest.New(t, srvCfg),
		reg:   prometheus.NewRegistry(),
		logs:  &privacytest.LogBuffer{},
		clock: connectortest.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)),
	}
	cfg := xero.Config{
		TenantID: tenant, XeroTenantID: e.srv.XeroTenantID(), BaseURL: e.srv.URL, TokenURL: e.srv.TokenURL,
		ClientID: "test-client", ClientSecret: config.Secret("test-secret"), RefreshToken: config.Secret("refresh-0"),
		OnRefreshToken: func(s config.Secret) { e.rotated = append(e.rotated, s.Reveal()) },
		Mapping:        mapping(), Registerer: e.reg, Logger: e.logs.Logger(), Clock: e.clock, Timeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	cl, err := xero.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	return e
}

// posting makes a posting of lines "kind net tax" (tenant acme, amazon.co.uk,
// GBP, October 2026).
var posting = connectortest.Posting

// party is a business buyer, its values from the privacy corpus so that a
// leak anywhere is found.
var party = accounting.InvoiceParty{
	Name: "Siobhán Przybylski", AddressLines: []string{"Flat 9, 27 Quarrendon Road"}, City: "Aylesbury",
	PostalCode: "HP19 9XX", CountryCode: "GB", VATNumber: "GB123456789",
}

func (e *env) post(t *testing.T, ps ...accounting.Posting) []accounting.Result {
	t.Helper()
	parties := map[string]accounting.InvoiceParty{}
	for _, p := range ps {
		if p.Kind == accounting.KindInvoice {
			parties[p.IdempotencyKey] = party
		}
	}
	rs, err := e.cl.Post(context.Background(), ps, parties)
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if len(rs) != len(ps) {
		t.Fatalf("Post returned %d results for %d postings", len(rs), len(ps))
	}
	return rs
}

// A realistic day at 20%: sales, shipping, a promotion, two refunds, and
// VAT Amazon collected as deemed supplier on a sale to a UK consumer from
// an overseas seller's stock. Amounts carry four places, as the orders do.
var day20 = []string{
	"sales 1234.5678 246.9136",
	"shipping 41.6650 8.3330",
	"discount -12.4950 -2.4990",
	"refund -83.3325 -16.6665",
	"marketplace_vat 0 19.9950",
}

// TestDocuments maps postings to exactly the documents in testdata (golden
// files reviewed by hand; -update rewrites them).
func TestDocuments(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*xero.Config)
		p    func(t *testing.T) accounting.Posting
	}{
		{"summary_20_refund_lines", nil, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "20", 1, 1, day20...)
		}},
		{"summary_20_refund_credit_note", func(c *xero.Config) { c.Mapping.Refunds = xero.RefundsCreditNote }, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "20", 1, 1, day20...)
		}},
		{"summary_5_marketplace_vat_omitted_authorised", func(c *xero.Config) {
			c.Mapping.MarketplaceVAT, c.Mapping.Status, c.Mapping.DueDays = xero.MarketplaceVATOmit, xero.StatusAuthorised, 14
		}, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "5", 1, 7, "sales 99.9999 5.0000", "marketplace_vat 0 4.7619")
		}},
		{"adjustment_negative_credit_note", nil, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindAdjustment, 1, "20", 3, 3, "refund -41.6667 -8.3333", "sales 10.0000 2.0000")
		}},
		{"adjustment_negative_bill", func(c *xero.Config) { c.Mapping.Negative = xero.NegativeBill }, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindAdjustment, 2, "20", 3, 3, "refund -41.6667 -8.3333")
		}},
		{"invoice_business_buyer", nil, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindInvoice, 0, "20", 4, 4, "sales 250.0000 50.0000", "shipping 4.1667 0.8333")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, xerotest.Config{}, c.mod)
			r := e.post(t, c.p(t))[0]
			if r.Outcome != courier.Done {
				t.Fatalf("outcome %v, err %v", r.Outcome, r.Err)
			}
			var got bytes.Buffer
			got.WriteString("[\n")
			docs := e.srv.Documents()
			ids := make([]string, len(docs))
			for i, d := range docs {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, d.Body, "", "  "); err != nil {
					t.Fatal(err)
				}
				got.WriteString(d.Endpoint + " ")
				got.Write(pretty.Bytes())
				got.WriteString("\n")
				ids[i] = d.ID
			}
			got.WriteString("]\n")
			if r.ProviderID != strings.Join(ids, "+") {
				t.Errorf("ProviderID %q, the ledger's ids %q", r.ProviderID, ids)
			}
			golden := filepath.Join("testdata", c.name+".golden.txt")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got.String()); d != "" {
				t.Errorf("documents differ from %s (-want +got):\n%s", golden, d)
			}
		})
	}
}

// round2 is the test's own rounding of an exact sum to pennies, half away
// from zero.
func round2(a order.Amount) int64 {
	v := int64(a)
	q, r := v/100, v%100
	if r >= 50 {
		q++
	} else if r <= -50 {
		q--
	}
	return q
}

// TestTotalsToThePenny posts a month of summaries at three VAT rates, with
// shipping, discounts, refunds and marketplace VAT whose amounts have four
// places, refunds on lines and on credit notes, and checks that what Xero
// holds for each posting (invoices less credit notes) equals the posting's
// totals rounded to the penny: net, tax and gross. Marketplace VAT is no tax
// of the seller's: its whole amount counts in the net.
func TestTotalsToThePenny(t *testing.T) {
	for _, refunds := range []string{xero.RefundsLines, xero.RefundsCreditNote} {
		t.Run(refunds, func(t *testing.T) {
			e := newEnv(t, xerotest.Config{}, func(c *xero.Config) {
				c.Mapping.Refunds = refunds
				c.PerMinute = 1 << 20 // pacing is another test's
			})
			var ps []accounting.Posting
			seed := uint64(7)
			next := func(n int64) int64 { // a small deterministic generator
				seed = seed*6364136223846793005 + 1442695040888963407
				return int64(seed>>33) % n
			}
			rates := map[string]int64{"20": 20, "5": 5, "0": 0}
			for d := 1; d <= 31; d++ {
				for rate, pct := range rates {
					sales := next(5_000_000_00) + 1
					ship := next(20_000_00)
					disc := -next(50_000_0)
					ref := -next(sales / 3)
					if d%10 == 0 {
						ref = -sales * 2 // a refund-heavy day: a negative period
					}
					mvat := next(30_000_00)
					line := func(kind string, net int64) string {
						a, tax := order.Amount(net), order.Amount(net*pct/100)
						return kind + " " + a.String() + " " + tax.String()
					}
					ps = append(ps, posting(t, accounting.KindSummary, 0, rate, d, d,
						line("sales", sales), line("shipping", ship), line("discount", disc), line("refund", ref),
						"marketplace_vat 0 "+order.Amount(mvat).String()))
				}
			}
			rs := e.post(t, ps...)
			byKey := map[string][3]int64{}
			for _, d := range e.srv.Documents() {
				sign := int64(1)
				if d.Type != "ACCREC" {
					sign = -1
				}
				k := strings.TrimSuffix(d.IdempotencyKey, "-refunds")
				s := byKey[k]
				byKey[k] = [3]int64{s[0] + sign*d.SubTotal, s[1] + sign*d.TotalTax, s[2] + sign*d.Total}
			}
			for i, p := range ps {
				if rs[i].Outcome != courier.Done {
					t.Fatalf("posting %d: %v %v", i, rs[i].Outcome, rs[i].Err)
				}
				var net, tax order.Amount
				for _, l := range p.Lines {
					if l.Kind == accounting.LineMarketplaceVAT {
						net += l.Net + l.Tax
						continue
					}
					net += l.Net
					tax += l.Tax
				}
				want := [3]int64{round2(net), round2(tax), round2(net) + round2(tax)}
				if got := byKey[p.IdempotencyKey]; got != want {
					t.Errorf("posting %d (%s, VAT %s): Xero holds net/tax/gross %v pennies, the posting %v", i, p.Period, p.VATRate, got, want)
				}
				// The gross is the posting's to within a penny of rounding
				// net and tax apart.
				_, _, gross := p.Totals()
				if d := want[2] - round2(gross); d < -1 || d > 1 {
					t.Errorf("posting %d: gross %d pennies, the posting's %d", i, want[2], round2(gross))
				}
			}
			if len(byKey) != len(ps) {
				t.Errorf("%d postings in the ledger, want %d", len(byKey), len(ps))
			}
		})
	}
}

// TestOutcomes: 5xx and 429 are retried (429 after its Retry-After, and no
// call until then), other 4xx are not, and the limit Xero names is said.
func TestOutcomes(t *testing.T) {
	p1 := posting(t, accounting.KindSummary, 0, "20", 1, 1, "sales 100 20")
	p2 := posting(t, accounting.KindSummary, 0, "20", 2, 2, "sales 100 20")

	t.Run("server error", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, nil)
		e.srv.Fail(xerotest.Fault{Status: 503})
		r := e.post(t, p1)[0]
		if r.Outcome != courier.Retry || len(e.srv.Documents()) != 0 {
			t.Fatalf("503: outcome %v, %d documents; want Retry, none", r.Outcome, len(e.srv.Documents()))
		}
		if r = e.post(t, p1)[0]; r.Outcome != courier.Done {
			t.Fatalf("after the 503: %v %v", r.Outcome, r.Err)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, nil)
		e.srv.Fail(xerotest.Fault{Status: 429, RetryAfter: "37", RateLimitProblem: "minute"})
		rs := e.post(t, p1, p2)
		for i, r := range rs {
			if r.Outcome != courier.Retry || r.RetryAfter != 37*time.Second {
				t.Errorf("posting %d: %v after %s; want Retry after 37s", i, r.Outcome, r.RetryAfter)
			}
		}
		if !strings.Contains(rs[0].Err.Error(), "rate limit minute") {
			t.Errorf("the error does not name the limit: %v", rs[0].Err)
		}
		if n := len(e.srv.Calls()); n != 1 {
			t.Errorf("%d calls; the second posting must wait for Retry-After without calling", n)
		}
		e.clock.Advance(37 * time.Second)
		if r := e.post(t, p1)[0]; r.Outcome != courier.Done {
			t.Errorf("after Retry-After: %v %v", r.Outcome, r.Err)
		}
		if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_requests_total", "connector=xero", "outcome=rate_limited"); got != 1 {
			t.Errorf("rate_limited calls %v, want 1", got)
		}
	})
	t.Run("validation error", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, nil)
		e.srv.Fail(xerotest.Fault{Status: 400})
		r := e.post(t, p1)[0]
		var he *xero.HTTPError
		if r.Outcome != courier.Failed || !errors.As(r.Err, &he) || he.Type != "ValidationException" || he.Validation != 1 {
			t.Fatalf("400: %v %v; want Failed with Xero's ValidationException", r.Outcome, r.Err)
		}
		if n := len(e.srv.Calls()); n != 1 {
			t.Errorf("%d calls; a 400 is never retried", n)
		}
	})
	t.Run("account the organisation lacks", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, func(c *xero.Config) { c.Mapping.Accounts[accounting.LineSales] = "999" })
		r := e.post(t, p1)[0]
		if r.Outcome != courier.Failed {
			t.Fatalf("unknown account: %v %v; want Failed", r.Outcome, r.Err)
		}
	})
	t.Run("refused before sending", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, nil)
		other := p1
		other.TenantID = "globex"
		unmapped := posting(t, accounting.KindSummary, 0, "12.5", 1, 1, "sales 100 12.5")
		noParty := posting(t, accounting.KindInvoice, 0, "20", 1, 1, "sales 100 20")
		rs, err := e.cl.Post(context.Background(), []accounting.Posting{other, unmapped, noParty}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			if r.Outcome != courier.Failed {
				t.Errorf("posting %d: %v; want Failed", i, r.Outcome)
			}
		}
		if n := len(e.srv.Calls()); n != 0 {
			t.Errorf("%d calls for postings that cannot be sent", n)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, func(c *xero.Config) { c.Timeout = 50 * time.Millisecond })
		e.srv.Fail(xerotest.Fault{Delay: time.Second})
		if r := e.post(t, p1)[0]; r.Outcome != courier.Retry {
			t.Fatalf("slow answer: %v %v; want Retry", r.Outcome, r.Err)
		}
	})
	t.Run("ended context", func(t *testing.T) {
		e := newEnv(t, xerotest.Config{}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := e.cl.Post(ctx, []accounting.Posting{p1}, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Post on an ended context: %v", err)
		}
	})
}

// TestIdempotentRedelivery: a posting delivered again, after its answer
// came or after it was lost, makes one document, and both deliveries name it.
func TestIdempotentRedelivery(t *testing.T) {
	p := posting(t, accounting.KindSummary, 0, "20", 1, 1, day20...)
	for _, lost := range []bool{false, true} {
		name := map[bool]string{false: "after the answer", true: "after a lost answer"}[lost]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, xerotest.Config{}, func(c *xero.Config) { c.Mapping.Refunds = xero.RefundsCreditNote })
			if lost {
				e.srv.Fail(xerotest.Fault{Status: 502, AfterApply: true})
			}
			first := e.post(t, p)[0]
			second := e.post(t, p)[0]
			if lost && first.Outcome != courier.Retry {
				t.Fatalf("lost answer: %v; want Retry", first.Outcome)
			}
			if second.Outcome != courier.Done {
				t.Fatalf("redelivery: %v %v", second.Outcome, second.Err)
			}
			docs := e.srv.Documents()
			if len(docs) != 2 { // the invoice and the refunds' credit note
				t.Fatalf("%d documents, want 2", len(docs))
			}
			if second.ProviderID != docs[0].ID+"+"+docs[1].ID {
				t.Errorf("ProviderID %q names other documents", second.ProviderID)
			}
			if !lost && first.ProviderID != second.ProviderID {
				t.Errorf("the deliveries name %q and %q", first.ProviderID, second.ProviderID)
			}
			replayed := 0
			for _, c := range e.srv.Calls() {
				if c.Replayed {
					replayed++
				}
			}
			if replayed == 0 {
				t.Error("no create was answered from the idempotency key")
			}
		})
	}
}

// TestTokenRefresh: the first call refreshes; an expired access token is
// refreshed before a call, a refused one after its 401, once; each rotated
// refresh token is kept and handed on; a revoked one refuses the
// credentials.
func TestTokenRefresh(t *testing.T) {
	e := newEnv(t, xerotest.Config{}, nil)
	p := func(d int) accounting.Posting { return posting(t, accounting.KindSummary, 0, "20", d, d, "sales 10 2") }
	e.post(t, p(1))
	if e.srv.Refreshes() != 1 || len(e.rotated) != 1 || e.rotated[0] != e.srv.RefreshToken() {
		t.Fatalf("first call: %d refreshes, rotated %v", e.srv.Refreshes(), e.rotated)
	}
	e.clock.Advance(30 * time.Minute) // the access token's life
	e.post(t, p(2))
	if e.srv.Refreshes() != 2 {
		t.Errorf("an expired access token was not refreshed before the call")
	}
	e.srv.ExpireAccessTokens()
	if r := e.post(t, p(3))[0]; r.Outcome != courier.Done {
		t.Fatalf("after a 401: %v %v; want Done on the refreshed token", r.Outcome, r.Err)
	}
	if e.srv.Refreshes() != 3 || e.rotated[len(e.rotated)-1] != e.srv.RefreshToken() {
		t.Errorf("after a 401: %d refreshes, last rotated token kept: %v", e.srv.Refreshes(), e.rotated)
	}
	var unauthorized int
	for _, c := range e.srv.Calls() {
		if c.Status == 401 {
			unauthorized++
		}
	}
	if unauthorized != 1 {
		t.Errorf("%d calls answered 401, want 1", unauthorized)
	}
	e.srv.RevokeRefreshToken()
	e.srv.ExpireAccessTokens()
	_, err := e.cl.Post(context.Background(), []accounting.Posting{p(4)}, nil)
	if !errors.Is(err, courier.ErrCredentialsRefused) {
		t.Fatalf("revoked refresh token: %v; want ErrCredentialsRefused", err)
	}
	for _, s := range []string{err.Error(), e.logs.String()} {
		for _, secret := range []string{"test-secret", "refresh-", "access-"} {
			if strings.Contains(s, secret) {
				t.Errorf("a secret (%s...) shows: %q", secret, s)
			}
		}
	}
}

// TestCheckMapping names every mapped code the organisation lacks.
func TestCheckMapping(t *testing.T) {
	e := newEnv(t, xerotest.Config{}, nil)
	if err := e.cl.CheckMapping(context.Background()); err != nil {
		t.Fatalf("a good mapping: %v", err)
	}
	bad := newEnv(t, xerotest.Config{}, func(c *xero.Config) {
		c.Mapping.Accounts[accounting.LineShipping] = "999"
		c.Mapping.Accounts[accounting.LineRefund] = "299" // archived
		c.Mapping.TaxTypes["5"] = "OUTPUT2"               // 20%
		c.Mapping.TaxTypes["0"] = "ZEROOUTPUT"
	})
	err := bad.cl.CheckMapping(context.Background())
	if err == nil {
		t.Fatal("a bad mapping passed")
	}
	for _, want := range []string{
		`mapping.accounts.shipping: account code "999"`, `mapping.accounts.refund: account code "299"`,
		`mapping.tax_types.5: tax type "OUTPUT2" has another effective rate`, `mapping.tax_types.0: tax type "ZEROOUTPUT" is not`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"200"`) || strings.Contains(err.Error(), "tax_types.20") {
		t.Errorf("the error names codes that exist:\n%v", err)
	}
}

// TestPacing: calls are spaced by the minute limit, and the day's budget,
// once spent, gives Retry with the wait and makes no call.
func TestPacing(t *testing.T) {
	e := newEnv(t, xerotest.Config{}, func(c *xero.Config) { c.PerDay = 4 })
	var ps []accounting.Posting
	for d := 1; d <= 6; d++ {
		ps = append(ps, posting(t, accounting.KindSummary, 0, "20", d, d, "sales 10 2"))
	}
	rs := e.post(t, ps...)
	for i, r := range rs {
		want := courier.Done
		if i >= 4 {
			want = courier.Retry
		}
		if r.Outcome != want || (want == courier.Retry && r.RetryAfter <= 0) {
			t.Errorf("posting %d: %v after %s; want %v", i, r.Outcome, r.RetryAfter, want)
		}
	}
	if n := len(e.srv.Calls()); n != 4 {
		t.Errorf("%d calls, want 4 (the day's budget)", n)
	}
	if e.clock.Slept() != 3*time.Second {
		t.Errorf("slept %s between 4 calls at 60 a minute, want 3s", e.clock.Slept())
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_rate_limit_waits_total", "connector=xero"); got != 3 {
		t.Errorf("rate limit waits %v, want 3", got)
	}
}

// TestConcurrentLimit: many posters at once never have more than five calls
// in flight (the stand-in answers a sixth with 429 and fails the test).
func TestConcurrentLimit(t *testing.T) {
	e := newEnv(t, xerotest.Config{}, func(c *xero.Config) { c.PerMinute = 1 << 20 })
	e.post(t, posting(t, accounting.KindSummary, 0, "20", 31, 31, "sales 1 0.2")) // the token first
	var faults []xerotest.Fault
	for range 12 {
		faults = append(faults, xerotest.Fault{Delay: 50 * time.Millisecond})
	}
	e.srv.Fail(faults...)
	var wg sync.WaitGroup
	for d := 1; d <= 12; d++ {
		wg.Go(func() {
			p := posting(t, accounting.KindSummary, 0, "20", d, d, "sales 10 2")
			rs, err := e.cl.Post(context.Background(), []accounting.Posting{p}, nil)
			if err != nil || rs[0].Outcome != courier.Done {
				t.Errorf("day %d: %v %v", d, err, rs)
			}
		})
	}
	wg.Wait()
}

// TestNoPersonalData: an invoice party's name and address reach Xero and
// nothing else: not the error of a refusal that quotes them, not the logs,
// not the metric labels.
func TestNoPersonalData(t *testing.T) {
	e := newEnv(t, xerotest.Config{}, nil)
	p := posting(t, accounting.KindInvoice, 0, "20", 5, 5, "sales 250 50")
	e.srv.Fail(xerotest.Fault{Status: 400})
	r := e.post(t, p)[0]
	if r.Outcome != courier.Failed {
		t.Fatalf("%v %v", r.Outcome, r.Err)
	}
	e.srv.Fail(xerotest.Fault{Status: 500})
	good := posting(t, accounting.KindInvoice, 0, "20", 6, 6, "sales 250 50")
	if r := e.post(t, good)[0]; r.Outcome != courier.Retry {
		t.Fatalf("500: %v", r.Outcome)
	}
	if r := e.post(t, good)[0]; r.Outcome != courier.Done {
		t.Fatalf("after the 500: %v %v", r.Outcome, r.Err)
	}
	bad := posting(t, accounting.KindInvoice, 0, "20", 7, 7, "sales 250 50")
	long := party
	long.Name = strings.Repeat(party.Name, 20)
	rs, err := e.cl.Post(context.Background(), []accounting.Posting{bad}, map[string]accounting.InvoiceParty{bad.IdempotencyKey: long})
	if err != nil || rs[0].Outcome != courier.Failed {
		t.Fatalf("an overlong name: %v %v", err, rs)
	}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var labels strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels.WriteString(l.GetValue() + " ")
			}
		}
	}
	for what, text := range map[string]string{
		"error": r.Err.Error(), "length error": rs[0].Err.Error(), "logs": e.logs.String(), "labels": labels.String(),
		"party printed": strings.Join([]string{party.String(), party.GoString()}, " "),
	} {
		if leaks := privacytest.Leaks(text); len(leaks) > 0 {
			t.Errorf("%s leaks %v: %s", what, leaks, text)
		}
	}
	// The party did reach Xero on the invoice.
	docs := e.srv.Documents()
	if len(docs) != 1 || docs[0].ContactName != party.Name {
		t.Errorf("the invoice's contact is not the party")
	}
}
