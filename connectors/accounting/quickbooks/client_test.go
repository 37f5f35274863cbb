package quickbooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func indent(b []byte) []byte {
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, b, "", "  ")
	return pretty.Bytes()
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJournalEntries: each posting reaches QuickBooks as exactly the golden
// journal entry (reviewed by hand): a 20% day with every line kind and
// marketplace VAT on its own no-VAT line; a 5% week with sub-penny amounts;
// a zero-rated day; a negative adjustment (a late refund), whose lines
// swap sides; and the 20% day again with marketplace VAT omitted.
func TestJournalEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		omitVAT bool
		p       func(t *testing.T) accounting.Posting
	}{
		{"summary_20", false, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "20", 5, 5,
				"sales", "1250.00", "250.00", "shipping", "41.60", "8.32", "discount", "-25.00", "-5.00",
				"refund", "-99.99", "-20.00", "marketplace_vat", "12.40", "0")
		}},
		{"summary_5_subpenny", false, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "5", 1, 7,
				"sales", "333.3333", "16.6667", "shipping", "9.5238", "0.4762", "discount", "-1.0050", "-0.0502")
		}},
		{"summary_0", false, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "0", 12, 12, "sales", "80.00", "0", "shipping", "3.99", "0")
		}},
		{"adjustment_negative", false, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindAdjustment, 1, "20", 5, 5, "refund", "-41.66", "-8.33", "shipping", "-4.16", "-0.83")
		}},
		{"summary_20_vat_omitted", true, func(t *testing.T) accounting.Posting {
			return posting(t, accounting.KindSummary, 0, "20", 5, 5,
				"sales", "1250.00", "250.00", "marketplace_vat", "12.40", "0")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *quickbooks.Config) {
				if tc.omitVAT {
					c.Mapping.MarketplaceVAT = quickbooks.MarketplaceVATOmit
				}
			})
			res := e.post(t, tc.p(t))
			if res[0].Outcome != courier.Done || res[0].ProviderID == "" {
				t.Fatalf("result %+v, want done with an id", res[0])
			}
			entries := e.srv.Entries()
			if len(entries) != 1 || entries[0].ID != res[0].ProviderID {
				t.Fatalf("ledger %+v, want the one entry %s", entries, res[0].ProviderID)
			}
			golden := filepath.Join("testdata", tc.name+".journal.golden.json")
			if *update {
				var pretty bytes.Buffer
				_ = json.Indent(&pretty, entries[0].Body, "", "  ")
				_ = os.WriteFile(golden, append(pretty.Bytes(), '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decode(t, want), decode(t, entries[0].Body)); diff != "" {
				t.Errorf("journal entry sent (-want +got):\n%s", diff)
			}
		})
	}
}

// roundPennies rounds an exact amount to pennies, half away from zero: the
// test's own arithmetic, not the connector's.
func roundPennies(a order.Amount) int64 {
	v := int64(a)
	if v < 0 {
		return -((-v + 50) / 100)
	}
	return (v + 50) / 100
}

// TestTotalsToThePenny: for a month of realistic postings (three VAT
// rates, sub-penny taxes, discounts, refunds, marketplace VAT, negative
// adjustments), each journal entry QuickBooks holds balances, and its
// revenue lines' net and tax (credits less debits) and its clearing line
// equal the posting's Totals() rounded to the penny.
func TestTotalsToThePenny(t *testing.T) {
	e := newEnv(t, func(c *quickbooks.Config) { c.RatePerSecond, c.Burst = 1000, 1000 })
	rng := rand.New(rand.NewPCG(13, 2026))
	rates := map[string]int64{"20": 20, "5": 5, "0": 0}
	var ps []accounting.Posting
	for d := 1; d <= 31; d++ {
		for _, rate := range []string{"20", "5", "0"} {
			pct := rates[rate]
			line := func(kind string, sign int64) string {
				net := sign * (rng.Int64N(5_000_000) + 1) // up to 500.0000, in 10^-4
				tax := net * pct / 100
				if rng.IntN(3) == 0 { // a marketplace's sub-penny tax
					tax += sign * rng.Int64N(99)
				}
				return fmt.Sprintf("%s %s %s", kind, order.Amount(net), order.Amount(tax))
			}
			var spec []string
			for _, l := range []string{line("sales", 1), line("shipping", 1), line("discount", -1), line("refund", -1)} {
				spec = append(spec, strings.Fields(l)...)
			}
			spec = append(spec, "marketplace_vat", order.Amount(rng.Int64N(300_000)).String(), "0")
			ps = append(ps, posting(t, accounting.KindSummary, 0, rate, d, d, spec...))
			if d%7 == 0 {
				adj := strings.Fields(line("refund", -1))
				ps = append(ps, posting(t, accounting.KindAdjustment, 1, rate, d, d, adj...))
			}
		}
	}
	for i, r := range e.post(t, ps...) {
		if r.Outcome != courier.Done {
			t.Fatalf("posting %d: %v (%v)", i, r.Outcome, r.Err)
		}
	}
	entries := e.srv.Entries()
	if len(entries) != len(ps) {
		t.Fatalf("ledger holds %d entries, want %d", len(entries), len(ps))
	}
	for i, p := range ps {
		net, tax, gross := p.Totals()
		je := entries[i]
		var gotNet, gotTax, clearing int64
		for _, l := range je.Lines {
			sign := int64(1)
			if l.Side == "Debit" {
				sign = -1
			}
			if l.Account == "91" {
				clearing = -sign * l.Amount // the debit side is what is due
				continue
			}
			gotNet += sign * l.Amount
			gotTax += sign * l.TaxAmount
		}
		want := [3]int64{roundPennies(net), roundPennies(tax), roundPennies(net) + roundPennies(tax)}
		if got := [3]int64{gotNet, gotTax, clearing}; got != want {
			t.Errorf("posting %d (%s): net, tax, gross in pennies %v, want %v", i, p.Reference(), got, want)
		}
		// And to the penny of the exact totals: never more than half a
		// penny from net and tax, a penny from gross.
		if d := int64(gross) - clearing*100; d > 100 || d < -100 {
			t.Errorf("posting %d: gross %s is %d ten-thousandths from the document's", i, gross, d)
		}
		if je.Debits != je.Credits {
			t.Errorf("posting %d: unbalanced", i)
		}
	}
}

// TestFaultsAreClassified: 429 is a Retry after its Retry-After (60s when
// it names none, Intuit's advice), 5xx and a timeout are Retries, a
// validation fault fails for good with its codes and element, none of its
// message (which quotes personal data).
func TestFaultsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   quickbookstest.Fault
		outcome courier.Outcome
		after   time.Duration
		label   string
	}{
		{"429_retry_after", quickbookstest.Fault{Status: 429, RetryAfter: "7"}, courier.Retry, 7 * time.Second, courier.LabelRateLimited},
		{"429_bare", quickbookstest.Fault{Status: 429}, courier.Retry, quickbooks.Throttled, courier.LabelRateLimited},
		{"500", quickbookstest.Fault{Status: 500}, courier.Retry, 0, courier.LabelServerError},
		{"503_retry_after", quickbookstest.Fault{Status: 503, RetryAfter: "3"}, courier.Retry, 3 * time.Second, courier.LabelServerError},
		{"slow", quickbookstest.Fault{Delay: 2 * time.Second}, courier.Retry, 0, courier.LabelTimeout},
		{"400", quickbookstest.Fault{Status: 400}, courier.Failed, 0, courier.LabelRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *quickbooks.Config) { c.Timeout = 300 * time.Millisecond })
			if err := e.cl.CheckMapping(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.srv.Fail(tc.fault)
			p := posting(t, accounting.KindSummary, 0, "20", 5, 5, "sales", "100.00", "20.00")
			r := e.post(t, p)[0]
			if r.Outcome != tc.outcome || r.RetryAfter != tc.after {
				t.Fatalf("result %v after %v (%v), want %v after %v", r.Outcome, r.RetryAfter, r.Err, tc.outcome, tc.after)
			}
			if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_requests_total", "connector=quickbooks", "outcome="+tc.label); got != 1 {
				t.Errorf("requests_total{outcome=%s} = %v, want 1", tc.label, got)
			}
			if tc.outcome == courier.Failed {
				var he *quickbooks.HTTPError
				if !errors.As(r.Err, &he) || he.FaultType != "ValidationFault" || he.Code != "2500" || !cmp.Equal(he.Elements, []string{"Line.AccountRef"}) {
					t.Errorf("error %v, want a ValidationFault with code 2500 on Line.AccountRef", r.Err)
				}
			}
			if leaks := privacytest.Leaks(fmt.Sprint(r.Err) + e.logs.String()); len(leaks) > 0 {
				t.Errorf("the error or the logs give away %v", leaks)
			}
			if len(e.srv.Entries()) != 0 {
				t.Errorf("ledger holds %d entries, want none", len(e.srv.Entries()))
			}
		})
	}
}

// TestThrottleHoldsTheRestBack: once QuickBooks answers 429, the postings
// after it in the call are not sent; each is a Retry after the same wait. A
// 500 holds nothing back.
func TestThrottleHoldsTheRestBack(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.cl.CheckMapping(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.Fail(quickbookstest.Fault{Status: 500}, quickbookstest.Fault{}, quickbookstest.Fault{Status: 429, RetryAfter: "7"})
	var ps []accounting.Posting
	for day := range 4 {
		ps = append(ps, posting(t, accounting.KindSummary, 0, "20", 5+day, 5+day, "sales", "100.00", "20.00"))
	}
	before := e.srv.Requests()
	res := e.post(t, ps...)
	want := []struct {
		outcome courier.Outcome
		after   time.Duration
	}{{courier.Retry, 0}, {courier.Done, 0}, {courier.Retry, 7 * time.Second}, {courier.Retry, 7 * time.Second}}
	for i, w := range want {
		if res[i].Outcome != w.outcome || res[i].RetryAfter != w.after {
			t.Errorf("posting %d: %s after %s (%v), want %s after %s", i, res[i].Outcome, res[i].RetryAfter, res[i].Err, w.outcome, w.after)
		}
	}
	if n := e.srv.Requests() - before; n != 3 {
		t.Errorf("%d calls, want 3: none after the 429", n)
	}
}

// TestRedeliveryIsIdempotent: a posting delivered again, and one whose
// first answer was lost after QuickBooks made the entry, each make one
// journal entry; the redelivery is answered with the first entry's Id.
func TestRedeliveryIsIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	a := posting(t, accounting.KindSummary, 0, "20", 5, 5, "sales", "100.00", "20.00")
	b := posting(t, accounting.KindSummary, 0, "5", 5, 5, "sales", "100.00", "5.00")
	first := e.post(t, a)[0]
	again := e.post(t, a)[0]
	if first.Outcome != courier.Done || again.Outcome != courier.Done || again.ProviderID != first.ProviderID {
		t.Fatalf("first %+v, again %+v: want both done with one id", first, again)
	}
	e.srv.Fail(quickbookstest.Fault{Status: 502, AfterApply: true})
	if r := e.post(t, b)[0]; r.Outcome != courier.Retry {
		t.Fatalf("lost answer: %v (%v), want retry", r.Outcome, r.Err)
	}
	r := e.post(t, b)[0]
	entries := e.srv.Entries()
	if r.Outcome != courier.Done || len(entries) != 2 || r.ProviderID != entries[1].ID {
		t.Fatalf("after the lost answer: %+v, ledger of %d; want done with the entry made by the lost call", r, len(entries))
	}
	if d := e.srv.Duplicates(); len(d) > 0 {
		t.Errorf("duplicates %v", d)
	}
	ids := e.srv.RequestIDs()
	if want := []string{a.IdempotencyKey, a.IdempotencyKey, b.IdempotencyKey, b.IdempotencyKey}; !cmp.Equal(ids, want) {
		t.Errorf("requestids %v, want %v", ids, want)
	}
}

// TestTokenRefresh: the first call refreshes; a 401 refreshes once and the
// call goes through; an access token past its expiry (on the client's
// clock) is refreshed before the call; each rotated refresh token reaches
// the callback and is the one the next grant uses; a revoked refresh
// token stops Post with ErrCredentialsRefused.
func TestTokenRefresh(t *testing.T) {
	e := newEnv(t, nil)
	p := func(d int) accounting.Posting {
		return posting(t, accounting.KindSummary, 0, "20", d, d, "sales", "10.00", "2.00")
	}
	if r := e.post(t, p(1))[0]; r.Outcome != courier.Done {
		t.Fatalf("first post: %v (%v)", r.Outcome, r.Err)
	}
	if e.srv.Refreshes() != 1 {
		t.Fatalf("%d refreshes, want 1", e.srv.Refreshes())
	}
	e.srv.ExpireAccessTokens()
	if r := e.post(t, p(2))[0]; r.Outcome != courier.Done {
		t.Fatalf("after a 401: %v (%v)", r.Outcome, r.Err)
	}
	e.clock.Advance(time.Hour)
	if r := e.post(t, p(3))[0]; r.Outcome != courier.Done {
		t.Fatalf("after the expiry: %v (%v)", r.Outcome, r.Err)
	}
	if e.srv.Refreshes() != 3 {
		t.Errorf("%d refreshes, want 3 (start, 401, expiry)", e.srv.Refreshes())
	}
	var creates401 int
	for _, c := range e.srv.Calls() {
		if c.Op == "journalentry" && c.Status == 401 {
			creates401++
		}
	}
	if creates401 != 1 {
		t.Errorf("%d creates answered 401, want 1 (the expired token found out once)", creates401)
	}
	e.mu.Lock()
	rotated := append([]string(nil), e.rotated...)
	e.mu.Unlock()
	if len(rotated) != 3 || rotated[2] != e.srv.RefreshToken() || e.cl.RefreshToken().Reveal() != e.srv.RefreshToken() {
		t.Errorf("rotated refresh tokens %v, client holds another than the server's", rotated)
	}
	e.srv.RevokeRefreshToken()
	e.srv.ExpireAccessTokens()
	res, err := e.cl.Post(t.Context(), []accounting.Posting{p(4)}, nil)
	if !errors.Is(err, courier.ErrCredentialsRefused) || res != nil {
		t.Fatalf("revoked: results %v, error %v; want none and ErrCredentialsRefused", res, err)
	}
	if strings.Contains(err.Error()+e.logs.String(), "test-refresh-token") || strings.Contains(e.logs.String(), "test-access-token") {
		t.Errorf("a token reached the error or the logs")
	}
}

// TestCheckMappingNamesWhatIsMissing: every mismatch is named by its
// mapping key and Id: an account the company lacks, an inactive one, an
// invoice item inactive, missing or for a kind an invoice has not, a tax
// code whose sales rate is not the mapped VAT rate, an inactive code, and
// a no-VAT code that is not zero-rated.
func TestCheckMappingNamesWhatIsMissing(t *testing.T) {
	e := newEnv(t, func(c *quickbooks.Config) {
		c.Mapping.Accounts[accounting.LineRefund] = "77"
		c.Mapping.ClearingAccount = "99"
		c.Mapping.TaxCodes["5"] = "2"
		c.Mapping.TaxCodes["17.5"] = "8"
		c.Mapping.NoVATTaxCode = "3"
		c.Mapping.Items = map[accounting.LineKind]string{accounting.LineSales: "21", accounting.LineShipping: "29",
			accounting.LineDiscount: "404", accounting.LineRefund: "23"}
	})
	err := e.cl.CheckMapping(t.Context())
	var me *quickbooks.MappingError
	if !errors.As(err, &me) {
		t.Fatalf("CheckMapping: %v, want a MappingError", err)
	}
	want := []string{
		"mapping.accounts.refund: account 77 is not in the company",
		"mapping.clearing_account: account 99 is inactive",
		"mapping.items.shipping: item 29 is inactive",
		"mapping.items.discount: item 404 is not in the company",
		"mapping.items.refund: an invoice has no refund line",
		"mapping.tax_codes.17.5: tax code 8 is inactive",
		"mapping.tax_codes.5: tax code 2 has no active sales rate of 5.00%",
		"mapping.no_vat_tax_code: tax code 3 has no active sales rate of 0.00%",
	}
	if diff := cmp.Diff(want, me.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	// Post refuses every posting until the mapping is right, and sends none.
	r := e.post(t, posting(t, accounting.KindSummary, 0, "20", 5, 5, "sales", "10.00", "2.00"))[0]
	if r.Outcome != courier.Failed || !errors.As(r.Err, &me) {
		t.Errorf("post with a wrong mapping: %v (%v), want failed", r.Outcome, r.Err)
	}
	if len(e.srv.Entries()) != 0 {
		t.Errorf("ledger holds entries")
	}
	good := newEnv(t, nil)
	if err := good.cl.CheckMapping(t.Context()); err != nil {
		t.Errorf("CheckMapping of the UK mapping: %v", err)
	}
}

// TestRefusedBeforeSending: postings the connector cannot map fail alone,
// before any call, naming the field and rule, never a value: another
// tenant's, a VAT rate with no tax code, a marketplace VAT line carrying
// tax, and a per-order invoice (whose party is never read).
func TestRefusedBeforeSending(t *testing.T) {
	e := newEnv(t, nil)
	other := posting(t, accounting.KindSummary, 0, "20", 5, 5, "sales", "10.00", "2.00")
	other.TenantID = "globex"
	noCode := posting(t, accounting.KindSummary, 0, "12.5", 5, 5, "sales", "10.00", "1.25")
	taxedVAT := posting(t, accounting.KindSummary, 0, "20", 6, 6, "marketplace_vat", "10.00", "2.00")
	inv := posting(t, accounting.KindInvoice, 0, "20", 7, 7, "sales", "10.00", "2.00")
	inv.ChannelOrderID = "203-1234567-7654321"
	inv.InvoiceParty = "vault:v1:Siobhán Przybylski, Flat 9, 27 Quarrendon Road"
	good := posting(t, accounting.KindSummary, 0, "20", 8, 8, "sales", "10.00", "2.00")
	res := e.post(t, other, noCode, taxedVAT, inv, good)
	want := []string{"tenant_id: not this connector's tenant", "vat_rate: the rate has no tax code in the mapping",
		"lines: a marketplace_vat line carries tax; it is never the seller's output VAT", "invoice_party: Post was given none for this invoice", ""}
	for i, w := range want {
		if w == "" {
			if res[i].Outcome != courier.Done {
				t.Errorf("posting %d: %v (%v), want done", i, res[i].Outcome, res[i].Err)
			}
			continue
		}
		if res[i].Outcome != courier.Failed || !strings.HasSuffix(res[i].Err.Error(), w) {
			t.Errorf("posting %d: %v (%v), want failed: %s", i, res[i].Outcome, res[i].Err, w)
		}
	}
	if len(e.srv.Entries()) != 1 {
		t.Errorf("ledger holds %d entries, want 1", len(e.srv.Entries()))
	}
	if leaks := privacytest.Leaks(fmt.Sprint(res) + e.logs.String()); len(leaks) > 0 {
		t.Errorf("results or logs give away %v", leaks)
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_requests_total", "outcome=invalid"); got != 4 {
		t.Errorf("requests_total{outcome=invalid} = %v, want 4", got)
	}
}

// TestRateLimitIsRespected: at 8 calls a second with a burst of 2 (never
// more than 10 in a second nor 500 in a minute), every call after the
// burst waits its turn, on an injected clock: a count, not a timing.
func TestRateLimitIsRespected(t *testing.T) {
	e := newEnv(t, nil)
	var ps []accounting.Posting
	for d := 1; d <= 12; d++ {
		ps = append(ps, posting(t, accounting.KindSummary, 0, "20", d, d, "sales", "10.00", "2.00"))
	}
	e.post(t, ps...)
	calls := len(e.srv.Calls())
	if calls != 16 {
		t.Fatalf("%d calls, want 16 (a token, three queries, twelve creates)", calls)
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_rate_limit_waits_total", "connector=quickbooks"); got != 14 {
		t.Errorf("rate-limit waits %v, want 14 (every call after the burst of 2)", got)
	}
	if e.clock.Slept() != 14*125*time.Millisecond {
		t.Errorf("waited %v in all, want 14 x 125ms", e.clock.Slept())
	}
}

// TestEndedContextReturnsNoResults: a context that ends in the middle of
// Post (here as the token arrives, before the mapping's first query) gives
// no results and the context's error, and nothing is created.
func TestEndedContextReturnsNoResults(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e := newEnv(t, func(c *quickbooks.Config) { c.OnRefreshToken = func(config.Secret) { cancel() } })
	res, err := e.cl.Post(ctx, []accounting.Posting{posting(t, accounting.KindSummary, 0, "20", 5, 5, "sales", "10.00", "2.00")}, nil)
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("results %v, error %v; want none and context.Canceled", res, err)
	}
	if len(e.srv.Entries()) != 0 || e.srv.Refreshes() != 1 {
		t.Errorf("ledger holds %d entries after %d refreshes; want none after 1", len(e.srv.Entries()), e.srv.Refreshes())
	}
}

// TestConcurrentPostsShareOneToken: posts from several goroutines at once
// (the dispatcher's workers) refresh the access token once between them
// and make one journal entry per posting.
func TestConcurrentPostsShareOneToken(t *testing.T) {
	e := newEnv(t, func(c *quickbooks.Config) { c.RatePerSecond, c.Burst = 1000, 1000 })
	postConcurrently(t, e, 1)
	if n := e.srv.Refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if n := len(e.srv.Entries()); n != 8 {
		t.Errorf("%d entries, want 8", n)
	}
}

// TestConcurrent401sShareOneRefresh: posts that all carried an access
// token the API then refused (401) refresh it once between them, not once
// each (each refresh rotates the refresh token: a refresh per call would
// spend the grant's rate for nothing).
func TestConcurrent401sShareOneRefresh(t *testing.T) {
	e := newEnv(t, func(c *quickbooks.Config) { c.RatePerSecond, c.Burst = 1000, 1000 })
	if r := e.post(t, posting(t, accounting.KindSummary, 0, "20", 1, 1, "sales", "10.00", "2.00"))[0]; r.Outcome != courier.Done {
		t.Fatalf("first post: %v (%v)", r.Outcome, r.Err)
	}
	e.srv.ExpireAccessTokens()
	postConcurrently(t, e, 2)
	if n := e.srv.Refreshes(); n != 2 {
		t.Errorf("%d refreshes, want 2 (the first, one after the 401s)", n)
	}
}

// postConcurrently posts eight summaries from eight goroutines at once (the
// dispatcher's workers), on the days from firstDay, each expected Done.
func postConcurrently(t *testing.T, e *env, firstDay int) {
	t.Helper()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := posting(t, accounting.KindSummary, 0, "20", firstDay+g, firstDay+g, "sales", "10.00", "2.00")
			res, err := e.cl.Post(t.Context(), []accounting.Posting{p}, nil)
			if err != nil || res[0].Outcome != courier.Done {
				t.Errorf("goroutine %d: %v %v", g, res, err)
			}
		}()
	}
	wg.Wait()
}
