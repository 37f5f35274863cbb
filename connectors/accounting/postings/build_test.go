package postings_test

import (
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/worker/order"
)

// A day's orders are posted once the day and its grace have passed, as one
// summary per marketplace, currency and VAT rate whose lines sum the
// orders' to the penny; posted again, nothing; a late refund on a posted day
// becomes one adjustment of the difference, never a new summary.
func TestBuildPostsAClosedPeriodOnceAndAdjustsIt(t *testing.T) {
	day := time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)
	rec := func(id, total, tax string, at time.Time) postings.Record {
		return postings.Record{TenantID: "acme-home", ChannelOrderID: id, Marketplace: "amazon.co.uk", Jurisdiction: "GB", Currency: "GBP",
			PurchasedAt: at, PaymentStatus: order.PaymentPaid, Subtotal: amt(t, total), Tax: amt(t, tax), Total: amt(t, total)}
	}
	records := []postings.Record{
		rec("a", "24.00", "4.00", day),
		rec("b", "12.00", "2.00", day.Add(3*time.Hour)),
		rec("c", "10.50", "0.50", day.Add(4*time.Hour)), // 5%: another posting
		rec("d", "6.00", "1.00", day.AddDate(0, 0, 1)),  // the next day: not closed yet
		{TenantID: "acme-home", Marketplace: "amazon.co.uk", Currency: "GBP", PurchasedAt: day, PaymentStatus: order.PaymentPending,
			Subtotal: amt(t, "99.00"), Total: amt(t, "99.00")}, // not paid: nothing
	}
	cfg := postings.Config{Periodicity: postings.Daily, Grace: 48 * time.Hour, Now: time.Date(2026, 10, 16, 23, 59, 0, 0, time.UTC)}
	if got, err := postings.Build(records, nil, cfg); err != nil || len(got) != 0 {
		t.Fatalf("before the grace has passed: %d postings (%v), want none", len(got), err)
	}
	cfg.Now = time.Date(2026, 10, 17, 0, 0, 0, 0, time.UTC)
	got, err := postings.Build(records, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d postings, want one per VAT rate of the closed day: %+v", len(got), got)
	}
	for _, p := range got {
		if err := p.Check(); err != nil {
			t.Errorf("posting %s: %v", p.Reference(), err)
		}
		if p.Kind != accounting.KindSummary || p.Sequence != 0 || p.Period.String() != "2026-10-14" || p.Jurisdiction != "GB" {
			t.Errorf("posting %+v: want the 14th's summary", p)
		}
	}
	at20 := got[0]
	if at20.VATRate != "20" {
		at20 = got[1]
	}
	if net, tax, gross := at20.Totals(); net != amt(t, "30.00") || tax != amt(t, "6.00") || gross != amt(t, "36.00") || at20.Orders != 2 {
		t.Errorf("the 20%% summary: net %s tax %s gross %s of %d orders; want 30.00 + 6.00 = 36.00 of 2", net, tax, gross, at20.Orders)
	}

	// Posted: nothing more to do.
	if again, _ := postings.Build(records, got, cfg); len(again) != 0 {
		t.Errorf("a posted period posted again: %+v", again)
	}

	// A late refund of order b (12.00, 2.00 VAT) on the posted day.
	records[1].Refunded, records[1].PaymentStatus = amt(t, "12.00"), order.PaymentRefunded
	cfg.Now = cfg.Now.AddDate(0, 0, 10)
	adj, err := postings.Build(records, got, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, p := range adj {
		days = append(days, p.Period.String()+" "+string(p.Kind))
	}
	if len(adj) != 2 || adj[0].Kind != accounting.KindAdjustment || adj[1].Kind != accounting.KindSummary {
		t.Fatalf("after the refund: %v; want the 14th's adjustment and the 15th's summary", days)
	}
	a := adj[0]
	if a.Sequence != 1 || a.VATRate != "20" || len(a.Lines) != 1 || a.Lines[0] != (accounting.Line{Kind: accounting.LineRefund, Net: amt(t, "-10.00"), Tax: amt(t, "-2.00")}) {
		t.Errorf("the adjustment: %+v; want sequence 1, one refund line -10.00 net, -2.00 VAT", a)
	}
	if a.IdempotencyKey == at20.IdempotencyKey {
		t.Error("the adjustment shares its summary's idempotency key")
	}
	// What the records sum now equals the summary plus its adjustment.
	sums, _ := postings.Sum(records, postings.Daily)
	for k, s := range sums {
		if k.From.Equal(at20.Period.From) && k.VATRate == "20" {
			if g := postings.Gross(s.Lines()); g != postings.Gross(at20.Lines)+postings.Gross(a.Lines) {
				t.Errorf("records sum to %s, postings to %s", g, postings.Gross(at20.Lines)+postings.Gross(a.Lines))
			}
		}
	}
}

// With invoices on, a business order with an invoice party gets a VAT
// invoice of its own, on its day, which its period's summary leaves out;
// a later refund of it is an adjustment of that invoice.
func TestBuildGivesABusinessOrderItsOwnInvoice(t *testing.T) {
	day := time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)
	records := []postings.Record{
		{TenantID: "acme-home", ChannelOrderID: "b2b-1", Marketplace: "amazon.co.uk", Jurisdiction: "GB", Currency: "GBP", PurchasedAt: day,
			PaymentStatus: order.PaymentPaid, IsBusiness: true, InvoiceParty: "vault:v1:party", Subtotal: amt(t, "120.00"), Tax: amt(t, "20.00"), Total: amt(t, "120.00")},
		{TenantID: "acme-home", ChannelOrderID: "c-1", Marketplace: "amazon.co.uk", Jurisdiction: "GB", Currency: "GBP", PurchasedAt: day,
			PaymentStatus: order.PaymentPaid, Subtotal: amt(t, "24.00"), Tax: amt(t, "4.00"), Total: amt(t, "24.00")},
	}
	cfg := postings.Config{Periodicity: postings.Weekly, Grace: 48 * time.Hour, Now: time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC), Invoices: true}
	got, err := postings.Build(records, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d postings, want the invoice and the summary: %+v", len(got), got)
	}
	var inv, sum accounting.Posting
	for _, p := range got {
		if err := p.Check(); err != nil {
			t.Errorf("%s: %v", p.Reference(), err)
		}
		if p.Kind == accounting.KindInvoice {
			inv = p
		} else {
			sum = p
		}
	}
	if inv.ChannelOrderID != "b2b-1" || inv.InvoiceParty != "vault:v1:party" || inv.Period.String() != "2026-10-14" {
		t.Errorf("the invoice: %+v", inv)
	}
	if _, _, g := inv.Totals(); g != amt(t, "120.00") {
		t.Errorf("the invoice's gross %s, want 120.00", g)
	}
	if _, _, g := sum.Totals(); g != amt(t, "24.00") || sum.Orders != 1 || sum.Period.String() != "2026-10-12..2026-10-18" {
		t.Errorf("the summary: gross %s of %d orders over %s; want 24.00 of the other order, the week", g, sum.Orders, sum.Period)
	}
	records[0].Refunded, records[0].PaymentStatus = amt(t, "120.00"), order.PaymentRefunded
	adj, err := postings.Build(records, got, cfg)
	if err != nil || len(adj) != 1 || adj[0].Kind != accounting.KindAdjustment || adj[0].ChannelOrderID != "b2b-1" {
		t.Fatalf("after the refund: %+v (%v); want one adjustment of the invoice", adj, err)
	}
	if _, _, g := adj[0].Totals(); g != amt(t, "-120.00") {
		t.Errorf("the adjustment's gross %s, want -120.00", g)
	}
}

// A posted period whose records no longer count anything is reversed: the
// day's only 5% order voided after its summary was posted, and a business
// order's invoice whose order was voided, each become one adjustment of
// minus what was posted, and then the books reconcile to nothing; a rate
// corrected from 20% to 5% reverses the 20% posting and posts the 5% one.
func TestBuildReversesAPeriodThatNoLongerCounts(t *testing.T) {
	day := time.Date(2026, 10, 14, 9, 30, 0, 0, time.UTC)
	rec := func(id, total, tax string) postings.Record {
		return postings.Record{TenantID: "acme-home", ChannelOrderID: id, Marketplace: "amazon.co.uk", Jurisdiction: "GB", Currency: "GBP",
			PurchasedAt: day, PaymentStatus: order.PaymentPaid, Subtotal: amt(t, total), Tax: amt(t, tax), Total: amt(t, total)}
	}
	business := rec("biz", "120.00", "20.00")
	business.IsBusiness, business.InvoiceParty = true, "vault:v1:party"
	records := []postings.Record{rec("a", "24.00", "4.00"), rec("c", "10.50", "0.50"), business}
	cfg := postings.Config{Periodicity: postings.Daily, Grace: 48 * time.Hour, Now: day.AddDate(0, 0, 5), Invoices: true}
	posted, err := postings.Build(records, nil, cfg)
	if err != nil || len(posted) != 3 {
		t.Fatalf("first: %d postings (%v), want the 20%% and 5%% summaries and the invoice", len(posted), err)
	}
	records[1].PaymentStatus = order.PaymentVoided // the 5% order: the day's only one at that rate
	records[2].PaymentStatus = order.PaymentVoided // the business order
	adj, err := postings.Build(records, posted, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(adj) != 2 {
		t.Fatalf("after voiding: %+v; want two reversals", adj)
	}
	for _, a := range adj {
		_, _, gross := a.Totals()
		if a.Kind != accounting.KindAdjustment || a.Sequence != 1 || (gross != -amt(t, "10.50") && gross != -amt(t, "120.00")) {
			t.Errorf("reversal %s: %s %s gross %s; want adjustment 1 of minus the posting", a.Reference(), a.Kind, a.VATRate, gross)
		}
		if err := a.Check(); err != nil {
			t.Errorf("reversal %s: %v", a.Reference(), err)
		}
	}
	all := append(posted, adj...)
	if again, _ := postings.Build(records, all, cfg); len(again) != 0 {
		t.Errorf("after the reversals are posted: %+v due", again)
	}
	diffs, _ := postings.Reconcile(records, all, cfg)
	for _, d := range diffs {
		if d.Unreconciled() != 0 {
			t.Errorf("%s %s%%: unreconciled %s", d.Period, d.Key.VATRate, d.Unreconciled())
		}
	}

	// A rate corrected: order a's VAT read again as 5% (1.14 on 24.00).
	records[0].Tax = amt(t, "1.14")
	fix, err := postings.Build(records, all, cfg)
	if err != nil {
		t.Fatal(err)
	}
	byRate := map[string]order.Amount{}
	for _, p := range fix {
		_, _, gross := p.Totals()
		byRate[p.VATRate+" "+string(p.Kind)] += gross
	}
	if len(fix) != 2 || byRate["20 adjustment"] != -amt(t, "24.00") || byRate["5 adjustment"] != amt(t, "24.00") {
		t.Errorf("after the rate correction: %v; want the 20%% posting reversed and 24.00 more at 5%%", byRate)
	}
}
