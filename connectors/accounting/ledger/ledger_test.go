package ledger_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger/ledgertest"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
)

// The accounting loop on the real ClickHouse: the normaliser's fixtures,
// protected and written by the real writer, read back from
// financial_records FINAL; the postings they make sum, to the penny per
// currency, what the records say the seller keeps; recorded in the ledger
// and read back, nothing is due again; a refund written later makes one
// adjustment of exactly its amount.
func TestRecordsPostingsAndTheLedgerAgree(t *testing.T) {
	ctx := context.Background()
	b := ledgertest.Fixtures(t)
	orders, l := b.Orders, b.Ledger
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), outboxtest.Now
	pcfg := postings.Config{Periodicity: postings.Daily, Grace: 48 * time.Hour, Now: outboxtest.Now}

	tenants := map[string]bool{}
	for _, o := range orders {
		tenants[o.TenantID] = true
	}
	const provider = "xero"
	var anyPosting bool
	for tenant := range tenants {
		records, err := l.Records(ctx, tenant, from, to)
		if err != nil {
			t.Fatal(err)
		}
		// What the seller keeps, per currency, order by order.
		want := map[string]order.Amount{}
		for _, r := range records {
			if r.Counts() {
				// The total, less refunds, less marketplace tax the
				// total shows beyond the seller's prices (and tax).
				keep := r.Total - r.Refunded
				if extra := r.Total - (r.Subtotal + r.Shipping - r.Discount); r.MarketplaceTax > 0 &&
					(extra == r.MarketplaceTax || extra == r.Tax+r.MarketplaceTax) {
					keep -= r.MarketplaceTax
				}
				want[r.Currency] += keep
			}
		}
		due, err := postings.Build(records, nil, pcfg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]order.Amount{}
		for _, p := range due {
			if err := p.Check(); err != nil {
				t.Errorf("%s: %v", p.Reference(), err)
			}
			_, _, gross := p.Totals()
			got[p.Currency] += gross
		}
		for cur, w := range want {
			if got[cur] != w {
				t.Errorf("tenant %s %s: postings gross %s, records %s", tenant, cur, got[cur], w)
			}
		}
		results := make([]accounting.Result, len(due))
		for i := range results {
			results[i] = accounting.Result{Result: courier.Result{Outcome: courier.Done}, ProviderID: "doc-" + due[i].IdempotencyKey[:8], ProviderStatus: "AUTHORISED"}
		}
		if err := l.Record(ctx, provider, due, results, outboxtest.Now); err != nil {
			t.Fatal(err)
		}
		posted, err := l.Posted(ctx, provider, tenant, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(posted) != len(due) {
			t.Fatalf("tenant %s: %d postings recorded, %d read back", tenant, len(due), len(posted))
		}
		again, err := postings.Build(records, posted, pcfg)
		if err != nil || len(again) != 0 {
			t.Errorf("tenant %s: after recording, %d postings due again (%v): %+v", tenant, len(again), err, again)
		}
		anyPosting = anyPosting || len(due) > 0
	}
	if !anyPosting {
		t.Fatal("the fixtures made no posting: the test proves nothing")
	}

	// A refund of a posted order, written later as a new snapshot.
	var refunded order.Order
	for _, o := range orders {
		if o.PaymentStatus == order.PaymentPaid && o.Totals.Total.Amount > 0 && o.Totals.Total.Currency == "GBP" && len(o.Refunds) == 0 {
			refunded = o
			break
		}
	}
	if refunded.ChannelOrderID == "" {
		t.Fatal("no paid GBP order to refund")
	}
	refundedAt := refunded.PurchasedAt.Add(24 * time.Hour)
	refunded.Refunds = []order.Refund{{RefundID: "R-1", Amount: refunded.Totals.Total, RefundedAt: &refundedAt, Status: "refunded"}}
	refunded.PaymentStatus = order.PaymentRefunded
	refunded.SourceUpdatedAt = refunded.SourceUpdatedAt.Add(48 * time.Hour)
	b.Write(t, refunded)
	records, err := l.Records(ctx, refunded.TenantID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	posted, err := l.Posted(ctx, provider, refunded.TenantID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	adj, err := postings.Build(records, posted, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(adj) != 1 || adj[0].Kind != accounting.KindAdjustment || adj[0].Sequence != 1 {
		t.Fatalf("after the refund: %+v; want one adjustment, sequence 1", adj)
	}
	if _, _, gross := adj[0].Totals(); gross != -refunded.Totals.Total.Amount {
		t.Errorf("the adjustment's gross is %s, want the refund, -%s", gross, refunded.Totals.Total.Amount)
	}

	// Reconciliation: before the adjustment is posted, its period is off by
	// the refund and every other is even; once posted, all are even.
	diffs, err := postings.Reconcile(records, posted, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for _, d := range diffs {
		if u := d.Unreconciled(); u != 0 {
			off++
			if u != -refunded.Totals.Total.Amount || !d.Key.From.Equal(adj[0].Period.From) {
				t.Errorf("period %s %s %s%%: unreconciled %s, want only the refund's period off by -%s", d.Period, d.Key.Currency, d.Key.VATRate, u, refunded.Totals.Total.Amount)
			}
		}
	}
	if off != 1 {
		t.Errorf("%d periods unreconciled before the adjustment, want 1", off)
	}
	done := []accounting.Result{{Result: courier.Result{Outcome: courier.Done}, ProviderID: "adj-1", ProviderStatus: "AUTHORISED"}}
	if err := l.Record(ctx, provider, adj, done, outboxtest.Now); err != nil {
		t.Fatal(err)
	}
	if posted, err = l.Posted(ctx, provider, refunded.TenantID, from, to); err != nil {
		t.Fatal(err)
	}
	if diffs, err = postings.Reconcile(records, posted, pcfg); err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		if d.Unreconciled() != 0 {
			t.Errorf("period %s %s %s%%: unreconciled %s after the adjustment", d.Period, d.Key.Currency, d.Key.VATRate, d.Unreconciled())
		}
	}
}

// Generated orders (the demo's generator: mixed-rate baskets, per-line
// shipping and promotions, gift wrap, business buyers, refunds, eBay and
// Amazon across the UK and the EU), written by the real writer and read
// back: every part of every order is at a VAT rate its jurisdiction has,
// never one read off an apportioning (the class of the 16.8% a book's
// untaxed shipping spread over a mug's line made), and the parts sum to the
// order to the penny.
func TestGeneratedOrdersPostAtTheirJurisdictionsRates(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	b := ledgertest.New(t, ledgertest.Generated(t, generate.Config{Seed: 13, Tenants: 2, Now: now, MalformedRate: -1}, 3000), now)
	batch, l := b.Orders, b.Ledger
	// The generator's rates: each country's standard rate, and zero-rated
	// books and children's clothes.
	rates := map[string][]string{"GB": {"0", "20"}, "DE": {"0", "19"}, "FR": {"0", "20"}, "IE": {"0", "23"}}
	tenants := map[string]bool{}
	for _, o := range batch {
		tenants[o.TenantID] = true
	}
	mixed := 0
	for tenant := range tenants {
		records, err := l.Records(ctx, tenant, now.AddDate(-2, 0, 0), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records {
			parts, ok := postings.Split(r)
			if !ok {
				continue
			}
			if len(parts) > 1 {
				mixed++
			}
			var gross order.Amount
			for _, p := range parts {
				if !slices.Contains(rates[r.Jurisdiction], p.VATRate) {
					t.Errorf("order %s (%s, %s): a part at %s%%: %+v", r.ChannelOrderID, r.Channel, r.Jurisdiction, p.VATRate, p.Lines)
				}
				for _, l := range p.Lines {
					gross += l.Net + l.Tax
				}
			}
			if gross != postings.Kept(r) {
				t.Errorf("order %s: the parts sum to %s, the order to %s", r.ChannelOrderID, gross, postings.Kept(r))
			}
		}
	}
	if mixed < 50 {
		t.Errorf("%d orders mixing rates: too few to prove the split", mixed)
	}
	t.Logf("%d orders mixing rates, each part at its jurisdiction's rate", mixed)
}
