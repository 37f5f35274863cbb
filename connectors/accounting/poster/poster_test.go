package poster_test

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger/ledgertest"
	"github.com/orderflow/orderflow/connectors/accounting/poster"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// A pass on the real ClickHouse and Kafka writes each tenant's due postings
// to the accounting topic, keyed by period, each a posting the connectors
// can take; a repeated pass before the ledger has them does not write them
// again (the dispatcher is posting them, or parked them), until Resend has
// passed, when it writes the same postings (same idempotency keys); once
// the ledger has them, a pass writes nothing.
func TestAPassWritesWhatIsDueOnce(t *testing.T) {
	ctx := context.Background()
	b := ledgertest.Fixtures(t)
	orders, l := b.Orders, b.Ledger
	brokers := stacktest.KafkaBrokers(t)
	topic := stacktest.UniqueName("accounting")
	stacktest.CreateTopic(t, brokers, topic, 3)
	writer := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: brokers, Topic: topic})
	defer writer.Close()
	reg := prometheus.NewRegistry()
	now := outboxtest.Now
	p, err := poster.New(poster.Config{Ledger: l, Writer: writer, Postings: postings.Config{Periodicity: postings.Weekly},
		Now: func() time.Time { return now }, Resend: 6 * time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	var tenants []poster.Tenant
	seen := map[string]bool{}
	for _, o := range orders {
		if !seen[o.TenantID] {
			seen[o.TenantID] = true
			tenants = append(tenants, poster.Tenant{ID: o.TenantID, Provider: "xero"})
		}
	}

	rep, err := p.Pass(ctx, tenants)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summaries == 0 || rep.Adjustments != 0 {
		t.Fatalf("first pass: %+v; want summaries only", rep)
	}
	again, err := p.Pass(ctx, tenants)
	if err != nil || again != (poster.Report{Resent: rep.Summaries}) {
		t.Fatalf("a repeated pass before the ledger has them: %+v (%v), want none written again, %d still due", again, err, rep.Summaries)
	}
	now = now.Add(6 * time.Hour)
	if again, err = p.Pass(ctx, tenants); err != nil || again != rep {
		t.Fatalf("a pass once Resend has passed: %+v (%v), want the same %+v again", again, err, rep)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_accounting_unposted_periods"); int(n) != rep.Summaries {
		t.Errorf("orderflow_accounting_unposted_periods = %v, want the %d summaries due", n, rep.Summaries)
	}
	msgs := stacktest.ReadAll(t, brokers, topic, 3)
	if len(msgs) != 2*rep.Summaries {
		t.Fatalf("%d jobs on the topic, want %d (two passes)", len(msgs), 2*rep.Summaries)
	}
	keys := map[string]int{}
	var due []accounting.Posting
	for _, m := range msgs {
		var ps accounting.Posting
		if err := json.Unmarshal(m.Value, &ps); err != nil {
			t.Fatal(err)
		}
		if err := ps.Check(); err != nil || string(m.Key) != ps.Key() {
			t.Errorf("job %s: %v (key %q)", ps.Reference(), err, m.Key)
		}
		if ps.Period.From.Month() != ps.Period.To.Month() || ps.Period.To.Sub(ps.Period.From) > 6*24*time.Hour {
			t.Errorf("posting %s: not a week within a month", ps.Reference())
		}
		if keys[ps.IdempotencyKey]++; keys[ps.IdempotencyKey] == 1 {
			due = append(due, ps)
		}
	}
	// The unreconciled amount is each currency's postings due, gross; a
	// refund in a period counts for its size, never against a sale.
	wantUnreconciled := map[string]float64{}
	for _, ps := range due {
		_, _, gross := ps.Totals()
		f, _ := strconv.ParseFloat(gross.String(), 64)
		wantUnreconciled[ps.TenantID+"/"+ps.Currency] += math.Abs(f)
	}
	for k, want := range wantUnreconciled {
		tenant, cur, _ := strings.Cut(k, "/")
		if got := telemetrytest.Sum(t, reg, "orderflow_accounting_unreconciled_amount", "tenant="+tenant, "currency="+cur); math.Abs(got-want) > 0.005 {
			t.Errorf("orderflow_accounting_unreconciled_amount{tenant=%s,currency=%s} = %.2f, want %.2f", tenant, cur, got, want)
		}
	}
	for k, n := range keys {
		if n != 2 {
			t.Errorf("idempotency key %s written %d times by two passes, want twice the same", k, n)
		}
	}

	// The dispatcher recorded them: nothing is due.
	for _, tn := range tenants {
		var mine []accounting.Posting
		var results []accounting.Result
		for _, ps := range due {
			if ps.TenantID == tn.ID {
				mine = append(mine, ps)
				results = append(results, accounting.Result{Result: courier.Result{Outcome: courier.Done}, ProviderID: "x"})
			}
		}
		if err := l.Record(ctx, tn.Provider, mine, results, outboxtest.Now); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := p.Pass(ctx, tenants); err != nil || rep != (poster.Report{}) {
		t.Errorf("after the ledger has them: %+v (%v), want nothing", rep, err)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_accounting_unreconciled_amount"); got != 0 {
		t.Errorf("orderflow_accounting_unreconciled_amount sums to %v once everything is posted, want 0", got)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_accounting_unposted_periods"); got != 0 {
		t.Errorf("orderflow_accounting_unposted_periods sums to %v once everything is posted, want 0", got)
	}
}
