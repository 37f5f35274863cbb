package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/ledger/ledgertest"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/accounting/quickbooks/quickbookstest"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The accounting side end to end on the real stack: a generated month of
// two sellers' orders (refunds, cancellations, mixed VAT rates, business
// buyers, marketplace-collected VAT) in financial_records; `orderflow
// dispatch` as a child process posts the first seller's books to Xero
// (weekly, with per-order VAT invoices) and the second's to QuickBooks
// Online (daily), both standing in and answering every third call 429 (some
// 503 after doing the work), and is SIGKILLed after its first postings and
// started again. Every period's posting is made exactly once at its
// provider and recorded once in the ledger, nothing is parked, and
// `orderflow reconcile` shows no difference. A refund of an order in a
// posted period, written later, shows as that period's difference, becomes
// exactly one adjustment at the next start, and reconciles again.
func TestBooksArePostedOnceAndReconcile(t *testing.T) {
	r := newBooks(t, booksConfig{Days: 30, Orders: 1000})
	ctx, xs, qs, env, cfgPath, group, books, from, to := r.ctx, r.xs, r.qs, r.env, r.cfgPath, r.group, r.books, r.from, r.to
	e, w, stage, orders := r.e, r.w, r.stage, r.orders
	due, postedOf := r.due, r.postedOf
	qboTenant := books[1].tenant

	// The stand-ins, every third call failing: 429 with Retry-After (and
	// Xero's X-Rate-Limit-Problem), every twelfth 503 after doing the work.
	var xFaults []xerotest.Fault
	var qFaults []quickbookstest.Fault
	for i := range 2000 {
		switch {
		case i%3 != 1:
			xFaults, qFaults = append(xFaults, xerotest.Fault{}), append(qFaults, quickbookstest.Fault{})
		case i%12 == 1:
			xFaults = append(xFaults, xerotest.Fault{Status: http.StatusServiceUnavailable, AfterApply: true})
			qFaults = append(qFaults, quickbookstest.Fault{Status: http.StatusServiceUnavailable, AfterApply: true})
		default:
			xFaults = append(xFaults, xerotest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", RateLimitProblem: "minute"})
			qFaults = append(qFaults, quickbookstest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"})
		}
	}
	xs.Fail(xFaults...)
	qs.Fail(qFaults...)
	invoices := 0
	for _, p := range books[0].want {
		if p.Kind == accounting.KindInvoice {
			invoices++
		}
	}
	if invoices == 0 {
		t.Fatal("no business order asks for a VAT invoice: the generator changed?")
	}

	// The dispatcher, killed once the providers have some postings, then
	// started again.
	started := time.Now()
	first := startDispatcher(t, env, cfgPath)
	waitFor(t, "the first postings", func() bool { return len(xs.Documents())+len(qs.Entries()) >= 3 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	second := startDispatcher(t, env, cfgPath)
	for _, b := range books {
		waitFor(t, "seller "+b.tenant+"'s postings in the ledger", func() bool { return len(postedOf(b)) >= len(b.want) })
	}
	waitCommitted(t, e, group, []string{e.accounting}, 3)
	stopDispatcher(t, second)
	t.Logf("%d and %d postings posted in %s, through %d Xero and %d QuickBooks calls",
		len(books[0].want), len(books[1].want), time.Since(started).Round(time.Second), len(xs.Calls()), len(qs.Calls()))

	for _, b := range books {
		checkPostedOnce(t, b, postedOf(b), b.want)
	}
	checkProviders(t, xs, qs, books)
	checkXeroTotals(t, xs, postedOf(books[0]))
	if parked := stacktest.ReadAll(t, e.brokers, e.parked, 3); len(parked) != 0 {
		t.Fatalf("%d postings parked, want none", len(parked))
	}
	for _, b := range books {
		if out := reconcile(t, env, cfgPath, b.tenant, from, to); strings.Contains(out, "DIFFERENCE") || !strings.Contains(out, "reconciles to the penny") {
			t.Errorf("orderflow reconcile --tenant %s:\n%s", b.tenant, out)
		}
	}
	var throttled, afterApply int
	for _, c := range xs.Calls() {
		switch c.Status {
		case http.StatusTooManyRequests:
			throttled++
		case http.StatusServiceUnavailable:
			afterApply++
		}
	}
	if throttled == 0 || afterApply == 0 {
		t.Errorf("Xero answered %d 429s and %d 503s: the faults proved nothing", throttled, afterApply)
	}

	// A refund of a summarised order in a posted period, written later.
	var refunded order.Order
	for _, o := range orders {
		if o.TenantID == qboTenant && o.PaymentStatus == order.PaymentPaid && len(o.Refunds) == 0 && len(o.Lines) == 1 &&
			o.Totals.Total.Amount > 0 && len(o.MarketplaceTaxes) == 0 {
			refunded = o
			break
		}
	}
	if refunded.ChannelOrderID == "" {
		t.Fatal("no paid single-line order to refund")
	}
	refundedAt := refunded.PurchasedAt.Add(time.Hour)
	refunded.Refunds = []order.Refund{{RefundID: "R-late-1", Amount: refunded.Totals.Total, RefundedAt: &refundedAt, Status: "refunded"}}
	refunded.PaymentStatus = order.PaymentRefunded
	refunded.SourceUpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	again, err := stage.Protect(ctx, []order.Order{refunded})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, 0, again); err != nil {
		t.Fatal(err)
	}
	qbo := books[1]
	if out := reconcile(t, env, cfgPath, qboTenant, from, to); strings.Count(out, "DIFFERENCE") != 1 || !strings.Contains(out, "-"+refunded.Totals.Total.Amount.String()+" DIFFERENCE") {
		t.Errorf("after the late refund of %s, orderflow reconcile --tenant %s:\n%s\nwant that one period off by the refund", refunded.Totals.Total.Amount, qboTenant, out)
	}
	adjustments := due(qbo)
	if len(adjustments) != 1 || adjustments[0].Kind != accounting.KindAdjustment {
		t.Fatalf("after the late refund, due: %+v; want one adjustment", adjustments)
	}
	entriesBefore := len(qs.Entries())
	started = time.Now()
	third := startDispatcher(t, env, cfgPath)
	waitFor(t, "the adjustment in the ledger", func() bool { return len(postedOf(qbo)) > len(qbo.want) })
	waitCommitted(t, e, group, []string{e.accounting}, 3)
	stopDispatcher(t, third)
	t.Logf("the adjustment posted in %s", time.Since(started).Round(time.Second))
	qbo.want = append(qbo.want, adjustments...)
	checkPostedOnce(t, qbo, postedOf(qbo), qbo.want)
	if n := len(qs.Entries()) - entriesBefore; n != 1 {
		t.Errorf("the late refund made %d QuickBooks entries, want one adjustment", n)
	}
	books[1] = qbo
	checkProviders(t, xs, qs, books)
	if out := reconcile(t, env, cfgPath, qboTenant, from, to); strings.Contains(out, "DIFFERENCE") || !strings.Contains(out, "reconciles to the penny") {
		t.Errorf("after the adjustment, orderflow reconcile --tenant %s:\n%s", qboTenant, out)
	}
}

// booksConfig shapes a run of the accounting side (newBooks).
type booksConfig struct {
	// Days of two sellers' orders, ending four days ago, and how many.
	Days, Orders int
	// Proxy, when not nil, puts a connectortest.FaultProxy of this
	// configuration (its Target filled in) in front of each stand-in's API;
	// the token endpoints are reached directly.
	Proxy *connectortest.ProxyConfig
	// Timeout bounds each connector call; 0 for the connectors' default.
	Timeout time.Duration
}

// booksRun is the accounting side of a test, ready for a dispatcher: the
// generated orders in financial_records, the Xero and QuickBooks stand-ins
// and the configuration posting the first seller's books to Xero (weekly,
// with per-order VAT invoices) and the second's to QuickBooks (daily).
type booksRun struct {
	ctx     context.Context
	e       *stackEnv
	w       *facts.Writer
	stage   *protect.Stage
	orders  []order.Order
	l       *ledger.Ledger
	xs      *xerotest.Server
	qs      *quickbookstest.Server
	proxies []*connectortest.FaultProxy // Xero's, QuickBooks', when asked for
	cfgPath string
	env     []string
	group   string // the accounting outbox's consumer group
	books   []booksOf
	// from and to bound the ledger's reads.
	from, to time.Time
	t        *testing.T
	// log keeps the output of dispatchers started by startDispatcher.
	log lineLog
}

func newBooks(t *testing.T, c booksConfig) *booksRun {
	t.Helper()
	e := newStackEnv(t)
	_, conn := e.useMigrated(t)
	r := &booksRun{ctx: context.Background(), e: e, t: t}
	keyPrefix := e.ownVaultKeys("of-books")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	r.stage = protecttest.NewStage(t, vault, protect.Config{})

	// Orders ending four days ago: every day has closed and is past the two
	// days' grace.
	genNow := time.Now().UTC().AddDate(0, 0, -4)
	r.orders = ledgertest.Generated(t, generate.Config{Seed: 2027, Tenants: 2, Now: genNow, Days: c.Days, MalformedRate: -1}, c.Orders)
	var tenants []string
	for _, o := range r.orders {
		if !slices.Contains(tenants, o.TenantID) {
			tenants = append(tenants, o.TenantID)
		}
	}
	if len(tenants) != 2 {
		t.Fatalf("the generator made orders of %d sellers, want 2", len(tenants))
	}
	t.Cleanup(func() {
		for _, tenant := range tenants {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})
	cfgCH := e.config(t).ClickHouse
	var err error
	r.w, err = facts.New(facts.Config{Conn: conn, Database: cfgCH.Database, RestrictedDatabase: cfgCH.RestrictedDatabase,
		LabelRetention: config.Period{Years: 1}})
	if err != nil {
		t.Fatal(err)
	}
	protected, err := r.stage.Protect(r.ctx, r.orders)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.w.Write(r.ctx, 0, protected); err != nil {
		t.Fatal(err)
	}
	xeroTenant, qboTenant := tenants[0], tenants[1]

	r.xs = xerotest.New(t, xerotest.Config{TaxRates: xerotest.OSSTaxRates})
	accounts, codes, rates := quickbookstest.OSSCompany()
	r.qs = quickbookstest.New(t, quickbookstest.Config{Accounts: accounts, TaxCodes: codes, TaxRates: rates})
	xURL, qURL := r.xs.URL, r.qs.URL
	if c.Proxy != nil {
		for _, u := range []*string{&xURL, &qURL} {
			pc := *c.Proxy
			pc.Target = origin(t, *u)
			p := connectortest.NewFaultProxy(t, pc)
			r.proxies = append(r.proxies, p)
			*u = p.Rebase(*u)
		}
	}
	var timeout string
	if c.Timeout != 0 {
		timeout = fmt.Sprintf("\n    timeout: %s", c.Timeout)
	}
	r.cfgPath = filepath.Join(t.TempDir(), "orderflow.yaml")
	if err := os.WriteFile(r.cfgPath, []byte(fmt.Sprintf(`connectors:
  books:
    kind: xero
    purpose: accounting
    endpoint: %s
    credentials: {env: TEST_XERO_SECRET}
    tenants: [%s]
    rate_per_second: 20%s
    accounting:
      organisation: %s
      client_id: test-client
      refresh_token: {env: TEST_XERO_REFRESH}
      token_url: %s
      accounts: {sales: "200", shipping: "205", discount: "210", other: "200", refund: "215", marketplace_vat: "825"}
      tax_types: {"20": OUTPUT2, "0": ZERORATEDOUTPUT, "19": OSSDE19, "23": OSSIE23}
      status: authorised
      refunds: credit_note
      period: weekly
      invoices: true
  ledgerbooks:
    kind: quickbooks
    purpose: accounting
    endpoint: %s
    credentials: {env: TEST_QBO_SECRET}
    tenants: [%s]
    rate_per_second: 20%s
    accounting:
      organisation: "9341453172581902"
      client_id: test-client-id
      refresh_token: {env: TEST_QBO_REFRESH}
      token_url: %s
      accounts: {sales: "41", shipping: "42", discount: "43", other: "41", refund: "44", marketplace_vat: "81"}
      tax_types: {"20": "2", "0": "4", "19": "31", "23": "32"}
      clearing_account: "91"
      no_vat_tax_type: "6"
      period: daily
`, xURL, xeroTenant, timeout, r.xs.XeroTenantID(), r.xs.TokenURL, qURL, qboTenant, timeout, r.qs.TokenURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.group = stacktest.UniqueName("books")
	r.env = append(dispatcherEnv(e, 25), // many batches: a kill lands between commits
		"TEST_XERO_SECRET=test-secret", "TEST_XERO_REFRESH=refresh-0",
		"TEST_QBO_SECRET=test-client-secret", "TEST_QBO_REFRESH=test-refresh-token-0",
		"ORDERFLOW_DISPATCH_ACCOUNTING_GROUP_ID="+r.group,
		"ORDERFLOW_DISPATCH_GROUP_ID="+stacktest.UniqueName("books-couriers"))
	r.l, err = ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfgCH.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	r.books = []booksOf{
		{tenant: xeroTenant, provider: "books", cfg: postings.Config{Periodicity: postings.Weekly, Grace: 48 * time.Hour, Invoices: true}},
		{tenant: qboTenant, provider: "ledgerbooks", cfg: postings.Config{Periodicity: postings.Daily, Grace: 48 * time.Hour}},
	}
	r.from, r.to = genNow.AddDate(0, 0, -c.Days-31), time.Now().UTC()
	for i := range r.books {
		r.books[i].want = r.due(r.books[i])
		if len(r.books[i].want) < 10 {
			t.Fatalf("seller %s: %d postings due: too few to prove anything", r.books[i].tenant, len(r.books[i].want))
		}
	}
	return r
}

// due are the postings the ledger says are due for b now.
func (r *booksRun) due(b booksOf) []accounting.Posting {
	r.t.Helper()
	records, err := r.l.Records(r.ctx, b.tenant, r.from, r.to)
	if err != nil {
		r.t.Fatal(err)
	}
	c := b.cfg
	c.Now = time.Now()
	ps, err := postings.Build(records, r.postedOf(b), c)
	if err != nil {
		r.t.Fatal(err)
	}
	return ps
}

// postedOf are the postings the ledger holds for b.
func (r *booksRun) postedOf(b booksOf) []accounting.Posting {
	r.t.Helper()
	ps, err := r.l.Posted(r.ctx, b.provider, b.tenant, r.from, r.to)
	if err != nil {
		r.t.Fatal(err)
	}
	return ps
}

// origin is a URL's scheme and host: a FaultProxy's Target.
func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// booksOf is one seller's accounting in TestBooksArePostedOnceAndReconcile:
// its connector, its settings, and the postings it should end with.
type booksOf struct {
	tenant, provider string
	cfg              postings.Config
	want             []accounting.Posting
}

// checkPostedOnce checks the ledger holds each wanted posting once, and
// nothing else.
func checkPostedOnce(t *testing.T, b booksOf, posted, want []accounting.Posting) {
	t.Helper()
	got := map[string]int{}
	for _, p := range posted {
		got[p.Reference()]++
	}
	for _, p := range want {
		if got[p.Reference()] != 1 {
			t.Errorf("seller %s: posting %s recorded %d times, want once", b.tenant, p.Reference(), got[p.Reference()])
		}
	}
	if len(posted) != len(want) {
		t.Errorf("seller %s: the ledger holds %d postings, want %d", b.tenant, len(posted), len(want))
	}
}

// checkProviders checks each provider made one document per posting (a
// per-order invoice's party is a contact or customer, not a document) and
// broke none of its contract.
func checkProviders(t *testing.T, xs *xerotest.Server, qs *quickbookstest.Server, books []booksOf) {
	t.Helper()
	// A Xero posting is an invoice, and, when refunds are credit notes and
	// it has any, a credit note under the same reference: one of each at
	// most.
	xeroDocs, perEndpoint := map[string]int{}, map[[2]string]int{}
	for _, d := range xs.Documents() {
		ref := cmp.Or(d.Reference, d.InvoiceNumber)
		if perEndpoint[[2]string{ref, d.Endpoint}]++; perEndpoint[[2]string{ref, d.Endpoint}] > 1 {
			t.Errorf("Xero holds %s's %s twice", ref, d.Endpoint)
		}
		xeroDocs[ref]++
	}
	qboDocs := map[string]int{}
	for _, entry := range qs.Entries() {
		var body struct{ PrivateNote string }
		if err := json.Unmarshal(entry.Body, &body); err != nil {
			t.Fatal(err)
		}
		if qboDocs[body.PrivateNote]++; qboDocs[body.PrivateNote] > 1 {
			t.Errorf("QuickBooks holds %s twice", body.PrivateNote)
		}
	}
	for _, c := range []struct {
		docs map[string]int
		b    booksOf
	}{{xeroDocs, books[0]}, {qboDocs, books[1]}} {
		for _, p := range c.b.want {
			if c.docs[p.Reference()] == 0 {
				t.Errorf("seller %s: posting %s is not at %s", c.b.tenant, p.Reference(), c.b.provider)
			}
		}
		if len(c.docs) != len(c.b.want) {
			t.Errorf("seller %s: %s holds documents of %d postings, want %d", c.b.tenant, c.b.provider, len(c.docs), len(c.b.want))
		}
	}
	if v := xs.Violations(); len(v) > 0 {
		t.Errorf("requests broke Xero's contract: %v", v)
	}
	if v := qs.Violations(); len(v) > 0 {
		t.Errorf("requests broke QuickBooks' contract: %v", v)
	}
	if d := qs.Duplicates(); len(d) > 0 {
		t.Errorf("QuickBooks made entries twice: %v", d)
	}
}

// checkXeroTotals checks that what Xero holds (its documents' totals, which
// it sums from the lines it was sent, credit notes negative) is, per
// currency, what the ledger says was posted, to the penny.
func checkXeroTotals(t *testing.T, xs *xerotest.Server, posted []accounting.Posting) {
	t.Helper()
	want := map[string]order.Amount{}
	for _, p := range posted {
		_, _, gross := p.Totals()
		want[p.Currency] += gross
	}
	got := map[string]order.Amount{}
	for _, d := range xs.Documents() {
		total := order.Amount(d.Total) * 100 // pennies in units of 1/10,000
		if d.Endpoint == "CreditNotes" || d.Type == "ACCPAY" {
			total = -total
		}
		got[d.Currency] += total
	}
	for cur, w := range want {
		if got[cur] != w {
			t.Errorf("Xero's documents total %s %s; the postings, %s", cur, got[cur], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("Xero holds documents in %d currencies, the postings are in %d", len(got), len(want))
	}
}

// reconcile runs orderflow reconcile for tenant over [from, to].
func reconcile(t *testing.T, env []string, cfgPath, tenant string, from, to time.Time) string {
	t.Helper()
	return runOrderflow(t, env, "reconcile", "--config", cfgPath, "--tenant", tenant,
		"--from", from.Format(time.DateOnly), "--to", to.Format(time.DateOnly))
}
