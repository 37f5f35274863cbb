package migrate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
)

// rebuilt are the tables 0013 rebuilds, with their new partition keys.
var rebuilt = map[string]string{
	"delivery_labels":     "toYYYYMM(purchased_at)",
	"financial_records":   "toYear(purchased_at) + (toMonth(purchased_at) >= 4)",
	"accounting_postings": "toYear(purchased_at) + (toMonth(purchased_at) >= 4)",
}

// before0013 returns databases migrated up to 0012, holding rows in the
// tables 0013 rebuilds, and a migrator of every version.
func before0013(t *testing.T) (config.ClickHouse, driver.Conn, *migrate.Migrator) {
	t.Helper()
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	clickhousetest.DropAtCleanup(t, conn, cfg)
	m := newMigrator(t, conn, cfg, "test")
	if _, err := m.UpTo(context.Background(), 12); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		insertRows(t, conn, cfg, fmt.Sprintf("b%d-", i), i*20, 20)
	}
	return cfg, conn, m
}

// insertRows writes n orders in one insert per table: bought every 3 days
// and 7 hours from 1 March 2025 on (order i of all those written), so that
// the rows span a financial year's end and tens of the old days and months,
// in GB, DE and no jurisdiction in turn; every fifth with a second snapshot.
// Financial records leave their last financial event to 0008's default.
func insertRows(t testing.TB, conn driver.Conn, cfg config.ClickHouse, prefix string, first, n int) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)
	dec := decimal.RequireFromString
	send := func(table, columns string, rows func(b driver.Batch, i int, id string, bought time.Time, snapshot uint64) error) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+cfg.RestrictedDatabase+"."+table+" ("+columns+")")
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for i := first; i < first+n; i++ {
			bought := start.Add(time.Duration(i) * (3*24*time.Hour + 7*time.Hour))
			for snapshot := range uint64(1 + min(1, i%5/4)) {
				if err := rows(batch, i, fmt.Sprintf("%s%03d", prefix, i), bought, snapshot); err != nil {
					t.Fatalf("%s: %v", table, err)
				}
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	jurisdiction := func(i int) string { return []string{"GB", "DE", ""}[i%3] }
	send("delivery_labels", "tenant_id, channel, channel_order_id, version, purchased_at, ship_country, ship_service_level, label_ciphertext, written_at",
		func(b driver.Batch, i int, id string, bought time.Time, s uint64) error {
			return b.Append("acme", "amazon", id, uint64(bought.UnixMilli())+s, bought, "GB", "Standard", fmt.Sprintf("vault:v1:%d-%d", i, s), bought.Add(time.Hour))
		})
	send("financial_records", "tenant_id, channel, channel_order_id, version, jurisdiction, marketplace, purchased_at, status, payment_status, "+
		"currency, total, refunded, line_ids, line_totals, line_shipping, invoice_party_ciphertext, written_at",
		func(b driver.Batch, i int, id string, bought time.Time, s uint64) error {
			return b.Append("acme", "ebay", id, uint64(bought.UnixMilli())+s, jurisdiction(i), "EBAY_GB", bought, "shipped", "paid",
				"GBP", dec(fmt.Sprintf("%d.25", 10+i)), dec(fmt.Sprint(s)), []string{"1", "2"},
				[]decimal.Decimal{dec("5.10"), dec(fmt.Sprintf("%d.15", 5+i))}, []decimal.Decimal{dec("0"), dec("1.5")},
				fmt.Sprintf("vault:v1:party-%d", i), bought.Add(time.Duration(i%7)*24*time.Hour))
		})
	send("accounting_postings", "tenant_id, provider, kind, jurisdiction, marketplace, currency, vat_rate, purchased_at, last_financial_event_at, "+
		"sequence, channel_order_id, idempotency_key, orders, net, tax, gross, line_kinds, line_nets, line_taxes, provider_id, provider_status, posted_at",
		func(b driver.Batch, i int, id string, bought time.Time, s uint64) error {
			return b.Append("acme", "xero", "summary", jurisdiction(i), "EBAY_GB", "GBP", "20", bought, bought.AddDate(0, 1, 0),
				uint32(s), id, "key-"+id, uint32(1+i), dec(fmt.Sprintf("%d.50", i)), dec("2.10"), dec(fmt.Sprintf("%d.60", i+2)),
				[]string{"sales"}, []decimal.Decimal{dec("1")}, []decimal.Decimal{dec("0.2")}, "inv-"+id, "AUTHORISED", bought.Add(time.Duration(s)*time.Hour))
		})
}

// fingerprints is each rebuilt table's row count and a hash of every value
// of every row, under FINAL: equal fingerprints are equal rows. (As stored,
// rows may differ: ReplacingMergeTree collapses snapshots when it merges
// parts, which the copy into fewer partitions brings about.)
func fingerprints(t testing.TB, conn driver.Conn, cfg config.ClickHouse) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for table := range rebuilt {
		var cols []string
		if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
			var c string
			err := rows.Scan(&c)
			cols = append(cols, "toString("+c+")")
			return err
		}, "SELECT name FROM system.columns WHERE database = ? AND table = ? ORDER BY name", cfg.RestrictedDatabase, table); err != nil {
			t.Fatal(err)
		}
		var n, hash uint64
		if err := conn.QueryRow(ctx, "SELECT count(), sum(cityHash64("+strings.Join(cols, ", ")+")) FROM "+
			cfg.RestrictedDatabase+"."+table+" FINAL").Scan(&n, &hash); err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d rows, hash %d", n, hash)
	}
	return out
}

// checkRebuilt checks that the tables are partitioned by their new keys
// and that no table of the rebuild is left.
func checkRebuilt(t *testing.T, conn driver.Conn, cfg config.ClickHouse) {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{}
	if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var name, key string
		err := rows.Scan(&name, &key)
		keys[name] = key
		return err
	}, "SELECT name, partition_key FROM system.tables WHERE database = ?", cfg.RestrictedDatabase); err != nil {
		t.Fatal(err)
	}
	for table, want := range rebuilt {
		if keys[table] != want {
			t.Errorf("%s is partitioned by %q, want %q", table, keys[table], want)
		}
		delete(keys, table)
	}
	if len(keys) != 0 {
		t.Errorf("tables left beside the rebuilt ones: %v", keys)
	}
}

// 0013 rebuilds the label, financial and ledger tables with their new
// partition keys and keeps every row: the same rows, value for value, under
// FINAL; and a defaulted last financial event stays what it read before.
func TestRebuildKeepsEveryRow(t *testing.T) {
	t.Parallel()
	cfg, conn, m := before0013(t)
	ctx := context.Background()
	before := fingerprints(t, conn, cfg)
	done, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) == 0 || done[0].Version != 13 {
		t.Fatalf("applied %v, want 0013 first", done)
	}
	checkRebuilt(t, conn, cfg)
	if diff := mapDiff(before, fingerprints(t, conn, cfg)); diff != "" {
		t.Errorf("rows before and after 0013:\n%s", diff)
	}
	var def string
	if err := conn.QueryRow(ctx, "SELECT default_expression FROM system.columns WHERE database = ? AND table = 'financial_records' AND name = 'last_financial_event_at'",
		cfg.RestrictedDatabase).Scan(&def); err != nil || def != "greatest(purchased_at, written_at)" {
		t.Errorf("last_financial_event_at's default = %q, %v; want 0008's", def, err)
	}
	// Financial years, not jurisdictions and months: March to July 2025.
	var years []string
	if err := clickhousedb.EachRow(ctx, conn, func(rows driver.Rows) error {
		var p string
		err := rows.Scan(&p)
		years = append(years, p)
		return err
	}, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = 'financial_records' AND active ORDER BY partition",
		cfg.RestrictedDatabase); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(years, []string{"2025", "2026"}) {
		t.Errorf("financial_records partitions %v, want the financial years 2025 and 2026", years)
	}
	if again, err := m.Up(ctx); err != nil || len(again) != 0 {
		t.Errorf("Up again applied %v, %v; want nothing", again, err)
	}
}

// A migrator that stopped anywhere in 0013 (or whose record of it was lost)
// is run again and leaves the same rows, under FINAL (a copy it was making
// when it stopped leaves duplicate snapshots, which FINAL and merges
// collapse like any re-delivered one).
func TestRebuildResumesWhereItStopped(t *testing.T) {
	t.Parallel()
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	m13 := all[12]
	if m13.Version != 13 {
		t.Fatalf("migration 13 is %d", m13.Version)
	}
	for _, c := range []struct {
		name string
		// stop runs what the migrator did before it stopped, given 0013's
		// statements for the test's databases; it may use the labels'.
		stop func(t *testing.T, conn driver.Conn, cfg config.ClickHouse, stmts []string)
	}{
		{"after creating the new table", func(t *testing.T, conn driver.Conn, _ config.ClickHouse, stmts []string) {
			execAll(t, conn, stmts[:1])
		}},
		{"between the two renames", func(t *testing.T, conn driver.Conn, cfg config.ClickHouse, stmts []string) {
			execAll(t, conn, stmts[:1])
			execAll(t, conn, []string{"RENAME TABLE " + cfg.RestrictedDatabase + ".delivery_labels TO " + cfg.RestrictedDatabase + ".delivery_labels_0013_old"})
		}},
		{"after the swap", func(t *testing.T, conn driver.Conn, _ config.ClickHouse, stmts []string) {
			execAll(t, conn, stmts[:2])
		}},
		{"during the copy", func(t *testing.T, conn driver.Conn, cfg config.ClickHouse, stmts []string) {
			// One old partition copied but not yet dropped from the old table.
			execAll(t, conn, stmts[:2])
			execAll(t, conn, []string{"INSERT INTO " + cfg.RestrictedDatabase + ".delivery_labels SELECT * FROM " +
				cfg.RestrictedDatabase + ".delivery_labels_0013_old WHERE toYYYYMMDD(purchased_at) = 20250301"})
		}},
		{"after the copy", func(t *testing.T, conn driver.Conn, _ config.ClickHouse, stmts []string) {
			execAll(t, conn, stmts[:3])
		}},
		{"before recording it", func(t *testing.T, conn driver.Conn, cfg config.ClickHouse, stmts []string) {
			execAll(t, conn, stmts)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, conn, m := before0013(t)
			before := fingerprints(t, conn, cfg)
			stmts := m13.Statements(cfg.Database, cfg.RestrictedDatabase)
			c.stop(t, conn, cfg, stmts)
			if _, err := m.Up(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkRebuilt(t, conn, cfg)
			if diff := mapDiff(before, fingerprints(t, conn, cfg)); diff != "" {
				t.Errorf("rows before and after 0013:\n%s", diff)
			}
		})
	}
}

// Writers keep writing while 0013 runs, into the table by its name: every
// row a writer was told is written is there afterwards, and no insert fails.
func TestRebuildLosesNoConcurrentWrite(t *testing.T) {
	t.Parallel()
	cfg, conn, m := before0013(t)
	ctx := context.Background()
	writer := clickhousetest.Open(t, cfg) // its own connection, as a worker's
	var (
		written atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		werr    error
	)
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			batch, err := writer.PrepareBatch(ctx, "INSERT INTO "+cfg.RestrictedDatabase+".delivery_labels (tenant_id, channel, channel_order_id, version, purchased_at, written_at)")
			if err == nil {
				for j := range 10 {
					bought := time.Date(2026, 11, 1+j, 12, 0, 0, 0, time.UTC)
					if err = batch.Append("live", "ebay", fmt.Sprintf("live-%05d-%d", i, j), uint64(1), bought, bought); err != nil {
						break
					}
				}
			}
			if err == nil {
				err = batch.Send()
			}
			if err != nil {
				werr = fmt.Errorf("insert %d: %w", i, err)
				return
			}
			written.Add(10)
		}
	})
	time.Sleep(100 * time.Millisecond) // the writer is under way
	_, err := m.Up(ctx)
	time.Sleep(100 * time.Millisecond) // and goes on after
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if werr != nil {
		t.Fatalf("the writer failed during the rebuild: %v", werr)
	}
	checkRebuilt(t, conn, cfg)
	got := clickhousetest.Count(t, conn, "SELECT count() FROM "+cfg.RestrictedDatabase+".delivery_labels WHERE tenant_id = 'live'")
	if got != uint64(written.Load()) || got == 0 {
		t.Errorf("%d live rows in delivery_labels, %d written", got, written.Load())
	}
}

func execAll(t *testing.T, conn driver.Conn, stmts []string) {
	t.Helper()
	for _, s := range stmts {
		if err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}
}

// mapDiff lists the keys whose values differ.
func mapDiff(want, got map[string]string) string {
	var out []string
	for k, w := range want {
		if got[k] != w {
			out = append(out, fmt.Sprintf("%s: %s before, %s after", k, w, got[k]))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
