package demo

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
)

// TestQueryReadsTheLatestSnapshots writes order_facts rows by hand: an order
// with two snapshots (stored twice, one under FINAL), and two more orders in
// two currencies. Query must count and sum each order once, by its latest
// snapshot, and count every table's rows both ways.
func TestQueryReadsTheLatestSnapshots(t *testing.T) {
	bought := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	facts := []struct {
		tenant, channel, id string
		version             uint64
		currency            string
		total, refunded     string
	}{
		{"acme", "amazon", "A1", 1, "GBP", "10.00", "0"},
		{"acme", "amazon", "A1", 2, "GBP", "12.50", "2.50"}, // the latest snapshot of A1
		{"acme", "ebay", "E1", 1, "EUR", "7.25", "0"},
		{"bolt", "ebay", "E2", 1, "GBP", "1.0001", "0"},
	}
	ch, conn := clickhousetest.Migrated(t)
	ctx := context.Background()
	// One insert, so one part per partition: no merge collapses the two
	// snapshots before the query, as on the demo's busy tables.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+ch.Database+".order_facts (tenant_id, channel, channel_order_id, version, purchased_at, currency, total, refunded)")
	for _, r := range facts {
		if err == nil {
			err = batch.Append(r.tenant, r.channel, r.id, r.version, bought, r.currency,
				decimal.RequireFromString(r.total), decimal.RequireFromString(r.refunded))
		}
	}
	if err == nil {
		err = batch.Send()
	}
	if err != nil {
		t.Fatalf("writing order_facts: %v", err)
	}

	got, err := Query(ctx, conn, ch.Database, ch.RestrictedDatabase)
	if err != nil {
		t.Fatal(err)
	}
	want := Stored{
		OrdersByTenant: map[string]map[string]uint64{"acme": {"amazon": 1, "ebay": 1}, "bolt": {"ebay": 1}},
		Rows: map[string][2]uint64{
			"order_facts": {4, 3}, "order_line_facts": {0, 0}, "delivery_labels": {0, 0}, "financial_records": {0, 0},
		},
		Currencies: map[string]Currency{
			"GBP": {Orders: 2, Total: "13.5001", Refunded: "2.5000"},
			"EUR": {Orders: 1, Total: "7.2500", Refunded: "0.0000"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
}

func TestPurgeRowsSumsByTable(t *testing.T) {
	r := retention.Report{Actions: []retention.Action{
		{Kind: retention.ActionDropPartition, Table: "delivery_labels", Rows: 10},
		{Kind: retention.ActionDelete, Table: "delivery_labels", Rows: 3},
		{Kind: retention.ActionDropPartition, Table: "order_facts", Rows: 4},
	}}
	want := map[string]uint64{"delivery_labels": 13, "order_facts": 4}
	if diff := cmp.Diff(want, PurgeRows(r)); diff != "" {
		t.Errorf("PurgeRows (-want +got):\n%s", diff)
	}
}
