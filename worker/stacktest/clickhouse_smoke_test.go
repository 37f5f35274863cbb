package stacktest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestClickHouseBatchInsertAndReadBack proves the real server with clickhouse-go/v2:
// a block insert with named columns of every type the schema relies on, read back to
// the penny, and ReplacingMergeTree collapsing a re-delivered snapshot under FINAL.
func TestClickHouseBatchInsertAndReadBack(t *testing.T) {
	addr := stacktest.ClickHouseAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Cleanups run last-registered first: the database is dropped before this closes.
	conn := openClickHouse(t, addr)

	db := stacktest.UniqueName("smoke")
	if err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Logf("drop database %s: %v", db, err)
		}
	})
	table := db + ".line_facts"
	if err := conn.Exec(ctx, `CREATE TABLE `+table+` (
		tenant String,
		order_id String,
		line UInt16,
		event_id UUID,
		status Enum8('pending' = 1, 'shipped' = 2, 'cancelled' = 3),
		amount Decimal(18, 2),
		currency String,
		updated_at DateTime,
		order_date Date,
		promotion Nullable(String),
		tags Array(String),
		version UInt64
	) ENGINE = ReplacingMergeTree(version)
	PARTITION BY toYYYYMM(order_date)
	ORDER BY (tenant, order_id, line)`); err != nil {
		t.Fatalf("create table: %v", err)
	}

	const rows = 10_000
	base := time.Date(2026, 10, 30, 23, 59, 59, 0, time.UTC)
	type row struct {
		tenant, orderID string
		line            uint16
		eventID         uuid.UUID
		status          string
		amount          decimal.Decimal
		updatedAt       time.Time
		promotion       *string
		tags            []string
		version         uint64
	}
	make1 := func(i int, status string, version uint64) row {
		var promo *string
		if i%3 == 0 {
			p := fmt.Sprintf("PROMO-%d", i%11)
			promo = &p
		}
		return row{
			tenant:    fmt.Sprintf("tenant-%d", i%5),
			orderID:   fmt.Sprintf("202-%07d-%07d", i, i*7),
			line:      uint16(i % 4),
			eventID:   uuid.New(),
			status:    status,
			amount:    decimal.New(int64(i)*37+1, -2), // 0.01, 0.38, ... to the penny
			updatedAt: base.Add(time.Duration(i) * time.Minute),
			promotion: promo,
			tags:      []string{"amazon", fmt.Sprintf("mkt-%d", i%3)},
			version:   version,
		}
	}
	insert := func(batchRows []row) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+
			" (tenant, order_id, line, event_id, status, amount, currency, updated_at, order_date, promotion, tags, version)")
		if err != nil {
			t.Fatalf("prepare batch: %v", err)
		}
		for _, r := range batchRows {
			if err := batch.Append(r.tenant, r.orderID, r.line, r.eventID, r.status, r.amount, "GBP",
				r.updatedAt, r.updatedAt, r.promotion, r.tags, r.version); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("send: %v", err)
		}
	}

	all := make([]row, rows)
	wantPennies := int64(0)
	for i := range all {
		all[i] = make1(i, "pending", 1)
		wantPennies += int64(i)*37 + 1
	}
	insert(all)
	// Re-deliver the first 100 as later snapshots (shipped, version 2), and the next
	// 100 again unchanged: neither may add rows to what FINAL returns.
	redelivered := make([]row, 0, 200)
	for i := range 100 {
		r := all[i]
		r.status, r.version = "shipped", 2
		redelivered = append(redelivered, r)
	}
	redelivered = append(redelivered, all[100:200]...)
	insert(redelivered)

	var (
		count   uint64
		shipped uint64
		total   decimal.Decimal
	)
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(status = 'shipped'), sum(amount) FROM "+table+" FINAL").
		Scan(&count, &shipped, &total); err != nil {
		t.Fatalf("aggregate query: %v", err)
	}
	if count != rows {
		t.Errorf("FINAL count = %d, want %d", count, rows)
	}
	if shipped != 100 {
		t.Errorf("shipped rows = %d, want the 100 later snapshots", shipped)
	}
	if want := decimal.New(wantPennies, -2); !total.Equal(want) {
		t.Errorf("sum(amount) = %s, want %s", total, want)
	}

	// One row read back whole, column by column.
	want := all[3]
	var (
		got      row
		currency string
		day      time.Time
	)
	if err := conn.QueryRow(ctx, "SELECT tenant, order_id, line, event_id, status, amount, currency, updated_at, order_date, promotion, tags, version FROM "+
		table+" FINAL WHERE tenant = ? AND order_id = ? AND line = ?", want.tenant, want.orderID, want.line).
		Scan(&got.tenant, &got.orderID, &got.line, &got.eventID, &got.status, &got.amount, &currency,
			&got.updatedAt, &day, &got.promotion, &got.tags, &got.version); err != nil {
		t.Fatalf("read back: %v", err)
	}
	if got.eventID != want.eventID || got.status != "shipped" || !got.amount.Equal(want.amount) || currency != "GBP" ||
		!got.updatedAt.Equal(want.updatedAt) || got.version != 2 ||
		got.promotion == nil || *got.promotion != *want.promotion || fmt.Sprint(got.tags) != fmt.Sprint(want.tags) {
		t.Errorf("read back %+v (currency %s), want %+v as shipped version 2", got, currency, want)
	}
	if wantDay := want.updatedAt.Format(time.DateOnly); day.Format(time.DateOnly) != wantDay {
		t.Errorf("order_date = %s, want %s", day.Format(time.DateOnly), wantDay)
	}

	// Month partitions: rows span October and November 2026.
	partitions := queryStrings(ctx, t, conn, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = 'line_facts' AND active ORDER BY partition", db)
	if fmt.Sprint(partitions) != "[202610 202611]" {
		t.Errorf("partitions = %v, want [202610 202611]", partitions)
	}
}

func queryStrings(ctx context.Context, t *testing.T, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	return out
}
