package migrate_test

import (
	"context"
	"testing"
	"time"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
)

// A financial record written before 0008 added last_financial_event_at reads
// it as the later of its purchase and its writing: never earlier than any
// event the snapshot held, so the new column can make no existing record
// expire earlier than before. ADD COLUMN IF NOT EXISTS, which ClickHouse
// 18.16 cannot parse, is applied (and applied again) all the same.
func TestRowsFromBeforeTheLastEventColumnGetASafeDefault(t *testing.T) {
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	clickhousetest.DropAtCleanup(t, conn, cfg)
	ctx := context.Background()
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, mig := range all {
		if mig.Version >= 8 {
			break
		}
		for _, stmt := range mig.Statements(cfg.Database, cfg.RestrictedDatabase) {
			if err := conn.Exec(ctx, stmt); err != nil {
				t.Fatalf("%04d: %v", mig.Version, err)
			}
		}
	}
	purchased := time.Date(2025, 3, 30, 10, 0, 0, 0, time.UTC)
	refundWritten := time.Date(2025, 5, 2, 9, 0, 0, 0, time.UTC) // a refund's snapshot, written after the year end
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+cfg.RestrictedDatabase+".financial_records "+
		"(tenant_id, channel, channel_order_id, version, jurisdiction, purchased_at, status, payment_status, written_at)")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		id      string
		written time.Time
	}{{"refunded", refundWritten}, {"clock-skewed", purchased.Add(-time.Hour)}} {
		if err := batch.Append("t", "amazon", r.id, uint64(1), "GB", purchased, "shipped", "refunded", r.written); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := newMigrator(t, conn, cfg, "test").Up(ctx); err != nil {
			t.Fatalf("Up #%d: %v", i+1, err)
		}
	}
	got := map[string]time.Time{}
	rows, err := conn.Query(ctx, "SELECT channel_order_id, last_financial_event_at FROM "+cfg.RestrictedDatabase+".financial_records")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		got[id] = at.UTC()
	}
	rows.Close()
	if !got["refunded"].Equal(refundWritten) || !got["clock-skewed"].Equal(purchased) {
		t.Errorf("last_financial_event_at of old rows = %v; want the written time %s, and the purchase %s when later",
			got, refundWritten, purchased)
	}
}
