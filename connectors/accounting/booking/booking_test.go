package booking_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/booking"
	"github.com/orderflow/orderflow/connectors/accounting/ledger/ledgertest"
	"github.com/orderflow/orderflow/connectors/accounting/poster"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/accounting/xero"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/consume"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// The accounting loop end to end on the real stack, Xero standing in: the
// fixtures' orders written by the real writer; an accounting pass writes the
// due postings to the accounting topic; the dispatcher, with the booking
// work, posts them to Xero through 429s (minute limit, with Retry-After) and
// 503s after the document was made, and records what Xero confirmed; every
// posting is one Xero document, the ledger reconciles with the records to
// the penny; a later refund makes one adjustment, posted as a credit note,
// and everything reconciles again.
func TestPostingsReachXeroOnceAndReconcile(t *testing.T) {
	ctx := context.Background()
	b := ledgertest.Fixtures(t)
	orders, v := b.Orders, b.Vault
	// The tenant with the most orders keeps its books in Xero.
	count := map[string]int{}
	tenant := ""
	for _, o := range orders {
		if count[o.TenantID]++; count[o.TenantID] > count[tenant] {
			tenant = o.TenantID
		}
	}
	l := b.Ledger

	srv := xerotest.New(t, xerotest.Config{})
	srv.Fail(xerotest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", RateLimitProblem: "minute"},
		xerotest.Fault{Status: http.StatusServiceUnavailable, AfterApply: true})
	client, err := xero.New(xero.Config{
		Name: "books", TenantID: tenant, XeroTenantID: srv.XeroTenantID(), BaseURL: srv.URL, TokenURL: srv.TokenURL,
		ClientID: "test-client", ClientSecret: config.Secret("test-secret"), RefreshToken: config.Secret("refresh-0"),
		Mapping: xero.Mapping{
			Accounts: map[accounting.LineKind]string{
				accounting.LineSales: "200", accounting.LineShipping: "205", accounting.LineDiscount: "210",
				accounting.LineOther: "200", accounting.LineRefund: "215", accounting.LineMarketplaceVAT: "825",
			},
			TaxTypes: map[string]string{"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT"},
			Status:   xero.StatusAuthorised,
		},
		Timeout: 5 * time.Second, PerMinute: 6000,
	})
	if err != nil {
		t.Fatal(err)
	}
	connectors := config.Connectors{"books": {Kind: "xero", Purpose: config.PurposeAccounting, Tenants: []string{tenant}, RatePerSecond: 100, Burst: 10}}

	brokers := stacktest.KafkaBrokers(t)
	topic, parked, group := stacktest.UniqueName("accounting"), stacktest.UniqueName("parked"), stacktest.UniqueName("booking")
	stacktest.CreateTopic(t, brokers, topic, 3)
	stacktest.CreateTopic(t, brokers, parked, 3)
	writer := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: brokers, Topic: topic})
	defer writer.Close()
	now := outboxtest.Now
	pass, err := poster.New(poster.Config{Ledger: l, Writer: writer, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	books := []poster.Tenant{{ID: tenant, Provider: "books"}}
	run := func() {
		t.Helper()
		work, err := booking.New(booking.Config{Connectors: connectors, Posters: map[string]booking.Poster{"books": client}, Ledger: l,
			Decrypter: v.Client, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		consumer, err := consume.New(consume.Config{Brokers: brokers, GroupID: group, Topics: []string{topic},
			BatchMaxMessages: 20, BatchMaxWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		d, err := dispatch.New(dispatch.Config{Source: consumer, Work: work, Brokers: brokers, ParkedTopic: parked, MaxAttempts: 10,
			Backoff: backoff.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		end := stacktest.EndOffsets(t, brokers, topic, 3)
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := stacktest.CommittedOffsets(t, brokers, group, topic, 3)
			all := true
			for p, e := range end {
				all = all && (e == 0 || got[p] >= e)
			}
			if all {
				break
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("the accounting topic was not committed: %v of %v", got, end)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_ = consumer.Close()
		_ = d.Close()
	}
	reconciled := func(when string) {
		t.Helper()
		from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		records, err := l.Records(ctx, tenant, from, now)
		if err != nil {
			t.Fatal(err)
		}
		posted, err := l.Posted(ctx, "books", tenant, from, now)
		if err != nil {
			t.Fatal(err)
		}
		diffs, err := postings.Reconcile(records, posted, postings.Config{Grace: 48 * time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			if d.Closed && d.Unreconciled() != 0 {
				t.Errorf("%s: period %s %s %s%%: records %s, posted %s", when, d.Period, d.Key.Currency, d.Key.VATRate, d.RecordsGross, d.PostedGross)
			}
		}
		// Xero holds one document per posting, its totals the posting's to
		// the penny.
		byKey := map[string]int{}
		for _, doc := range srv.Documents() {
			byKey[doc.IdempotencyKey]++
		}
		for _, p := range posted {
			if byKey[p.IdempotencyKey] != 1 {
				t.Errorf("%s: posting %s is %d documents in Xero, want 1", when, p.Reference(), byKey[p.IdempotencyKey])
			}
		}
		if len(srv.Documents()) != len(posted) {
			t.Errorf("%s: Xero holds %d documents, the ledger %d postings", when, len(srv.Documents()), len(posted))
		}
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("%s: requests broke Xero's contract: %v", when, v)
		}
	}

	rep, err := pass.Pass(ctx, books)
	if err != nil || rep.Summaries == 0 {
		t.Fatalf("first pass: %+v, %v", rep, err)
	}
	run()
	reconciled("after the first pass")

	// A refund written later: one adjustment, posted as a credit note.
	var refunded order.Order
	for _, o := range orders {
		if o.TenantID == tenant && o.PaymentStatus == order.PaymentPaid && o.Totals.Total.Amount > 0 {
			refunded = o
			break
		}
	}
	at := refunded.PurchasedAt.Add(24 * time.Hour)
	refunded.Refunds = []order.Refund{{RefundID: "R-9", Amount: refunded.Totals.Total, RefundedAt: &at, Status: "refunded"}}
	refunded.PaymentStatus = order.PaymentRefunded
	refunded.SourceUpdatedAt = refunded.SourceUpdatedAt.Add(48 * time.Hour)
	b.Write(t, refunded)
	now = now.Add(time.Hour)
	if rep, err := pass.Pass(ctx, books); err != nil || rep != (poster.Report{Adjustments: 1}) {
		t.Fatalf("after the refund: %+v, %v; want one adjustment", rep, err)
	}
	run()
	reconciled("after the adjustment")
	credit := 0
	for _, doc := range srv.Documents() {
		if doc.Endpoint == "CreditNotes" {
			credit++
			if doc.Total != -int64(refunded.Totals.Total.Amount)/100 && doc.Total != int64(refunded.Totals.Total.Amount)/100 {
				t.Errorf("the credit note's total is %d pennies, want the refund's %s", doc.Total, refunded.Totals.Total.Amount)
			}
		}
	}
	if credit != 1 {
		t.Errorf("%d credit notes, want the adjustment's one", credit)
	}

	// The seller's administrator disconnects the app: Xero refuses the
	// connection. A further refund's adjustment is parked as refused, and
	// the dispatcher goes on (run fails the test if it stops with an
	// error): one seller's revoked connection never stops the others'.
	srv.RevokeRefreshToken()
	srv.ExpireAccessTokens()
	for _, o := range orders {
		if o.TenantID == tenant && o.PaymentStatus == order.PaymentPaid && o.Totals.Total.Amount > 0 && o.ChannelOrderID != refunded.ChannelOrderID {
			refunded = o
			break
		}
	}
	refunded.Refunds = []order.Refund{{RefundID: "R-10", Amount: refunded.Totals.Total, RefundedAt: &at, Status: "refunded"}}
	refunded.PaymentStatus = order.PaymentRefunded
	refunded.SourceUpdatedAt = refunded.SourceUpdatedAt.Add(72 * time.Hour)
	b.Write(t, refunded)
	now = now.Add(time.Hour)
	if rep, err := pass.Pass(ctx, books); err != nil || rep.Adjustments == 0 {
		t.Fatalf("after the second refund: %+v, %v; want an adjustment", rep, err)
	}
	documents := len(srv.Documents())
	run()
	refused := 0
	for _, m := range stacktest.ReadAll(t, brokers, parked, 3) {
		for _, h := range m.Headers {
			if h.Key == dispatch.HeaderReason && string(h.Value) == dispatch.ReasonRefused {
				refused++
			}
		}
	}
	if refused == 0 || len(srv.Documents()) != documents {
		t.Errorf("with the connection revoked: %d postings parked as refused, %d documents made; want the adjustment parked, none made", refused, len(srv.Documents())-documents)
	}
}
