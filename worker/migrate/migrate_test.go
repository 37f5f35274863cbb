package migrate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/order"
)

func newMigrator(t *testing.T, conn driver.Conn, cfg config.ClickHouse, by string) *migrate.Migrator {
	t.Helper()
	m, err := migrate.New(migrate.Config{Conn: conn, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase, AppliedBy: by})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUpAppliesEverythingOnceAndRerunsAreNoOps(t *testing.T) {
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	clickhousetest.DropAtCleanup(t, conn, cfg)
	ctx := context.Background()
	m := newMigrator(t, conn, cfg, "test")

	if err := m.Check(ctx); !errors.Is(err, migrate.ErrSchemaBehind) {
		t.Fatalf("Check on an empty server = %v, want ErrSchemaBehind", err)
	}
	all, _ := schema.All()
	done, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Errorf("applied %d migrations, want %d", len(done), len(all))
	}
	if err := m.Check(ctx); err != nil {
		t.Errorf("Check after Up: %v", err)
	}
	again, err := m.Up(ctx)
	if err != nil || len(again) != 0 {
		t.Errorf("second Up applied %d, err %v; want 0, nil", len(again), err)
	}
	wantTables := map[string][]string{
		cfg.Database:           {"erased_orders", "erasure_requests", "offboard_acks", "offboard_heartbeats", "offboarded_tenants", "order_facts", "order_line_facts", "purge_log", "schema_migrations"},
		cfg.RestrictedDatabase: {"accounting_postings", "delivery_labels", "financial_records"},
	}
	for db, want := range wantTables {
		var got []string
		rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			_ = rows.Scan(&n)
			got = append(got, n)
		}
		rows.Close()
		if !slices.Equal(got, want) {
			t.Errorf("%s has tables %v, want %v", db, got, want)
		}
	}
	status, err := m.Status(ctx)
	if err != nil || len(status) != len(all) || status[0].Version != 1 || status[len(status)-1].Version != m.Latest() {
		t.Errorf("Status = %+v, %v", status, err)
	}
}

func TestTwoMigratorsAtOnce(t *testing.T) {
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	clickhousetest.DropAtCleanup(t, conn, cfg)
	ctx := context.Background()

	upAtOnce(t, ctx, 4, func(i int) *migrate.Migrator {
		// Each on its own connection, as two processes would be.
		return newMigrator(t, clickhousetest.Open(t, cfg), cfg, fmt.Sprintf("migrator-%d", i))
	})
	all, _ := schema.All()
	got := clickhousetest.Count(t, conn, "SELECT count() FROM "+cfg.Database+".schema_migrations FINAL")
	if got != uint64(len(all)) {
		t.Errorf("version table shows %d rows under FINAL, want %d (one per version)", got, len(all))
	}
	if err := newMigrator(t, conn, cfg, "check").Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// upAtOnce runs Up on n migrators at once and fails the test for each error.
func upAtOnce(t *testing.T, ctx context.Context, n int, migrator func(i int) *migrate.Migrator) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		m := migrator(i)
		wg.Go(func() { _, errs[i] = m.Up(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
}

func TestAChangedMigrationIsRefused(t *testing.T) {
	cfg, conn := clickhousetest.Migrated(t)
	ctx := context.Background()
	// Record version 2 again, later, with another checksum: as if its file had
	// been edited after it was applied.
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+cfg.Database+".schema_migrations (version, name, checksum, applied_at, applied_by)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(uint32(2), "order_facts", "feedface", time.Now().Add(time.Hour), "x"); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	m := newMigrator(t, conn, cfg, "test")
	for name, err := range map[string]error{"Up": second(m.Up(ctx)), "Check": m.Check(ctx)} {
		if err == nil || !strings.Contains(err.Error(), "0002_order_facts has changed since it was applied") {
			t.Errorf("%s = %v, want the change refused", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// The schema's enums must hold every value the canonical order can carry, or
// inserts fail at run time.
func TestEnumsCoverTheCanonicalOrder(t *testing.T) {
	cfg, conn := clickhousetest.Migrated(t)
	var statuses, payments, channels []string
	for _, s := range order.Statuses {
		statuses = append(statuses, string(s))
	}
	for _, s := range order.PaymentStatuses {
		payments = append(payments, string(s))
	}
	channels = []string{string(order.ChannelAmazon), string(order.ChannelEbay)}
	cases := []struct {
		db, table, column string
		values            []string
	}{
		{cfg.Database, "order_facts", "status", statuses},
		{cfg.Database, "order_facts", "payment_status", payments},
		{cfg.Database, "order_facts", "channel", channels},
		{cfg.Database, "order_facts", "fulfilment", []string{string(order.FulfilmentMerchant), string(order.FulfilmentMarketplace)}},
		{cfg.Database, "order_line_facts", "status", statuses},
		{cfg.RestrictedDatabase, "financial_records", "status", statuses},
		{cfg.RestrictedDatabase, "financial_records", "payment_status", payments},
		{cfg.RestrictedDatabase, "delivery_labels", "channel", channels},
	}
	for _, c := range cases {
		var typ string
		if err := conn.QueryRow(context.Background(), "SELECT type FROM system.columns WHERE database = ? AND table = ? AND name = ?",
			c.db, c.table, c.column).Scan(&typ); err != nil {
			t.Fatalf("%s.%s: %v", c.table, c.column, err)
		}
		for _, v := range c.values {
			if !strings.Contains(typ, "'"+v+"'") {
				t.Errorf("%s.%s is %s, which lacks %q", c.table, c.column, typ, v)
			}
		}
	}
}
