package retention_test

import (
	"context"
	"flag"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

var updateCurrentSQL = flag.Bool("update-current-sql", false, "rewrite testdata/current/purge.json from this run")

// sqlRecorder is the purger's connection to the real server, remembering the
// SQL it runs without arguments: the statements that change data, and the
// reads of orderflow's tables that decide them.
type sqlRecorder struct {
	driver.Conn
	mu  sync.Mutex
	sql []string
}

func (c *sqlRecorder) record(query string, args []any) {
	if len(args) > 0 || strings.Contains(query, "system.") {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sql = append(c.sql, query)
}

func (c *sqlRecorder) Exec(ctx context.Context, query string, args ...any) error {
	c.record(query, args)
	return c.Conn.Exec(ctx, query, args...)
}

func (c *sqlRecorder) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	c.record(query, args)
	return c.Conn.Query(ctx, query, args...)
}

func (c *sqlRecorder) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	c.record(query, args)
	return c.Conn.QueryRow(ctx, query, args...)
}

// currentSQL is testdata/current/purge.json: a retention pass's SQL and an
// offboarding's as the purger ran them on ClickHouse 18.16, which
// schemas/clickhouse/current/test_current_clickhouse.py runs on a current
// ClickHouse on the same orders and checks the same rows remain.
type currentSQL struct {
	Comment    string         `json:"_comment"`
	AsOf       string         `json:"as_of"`
	Retention  string         `json:"retention"`
	Orders     []currentOrder `json:"orders"`
	Statements []string       `json:"statements"`
	// Remaining is, per table, the orders whose rows the pass keeps (the
	// model's, which the 18.16 server's tables matched).
	Remaining map[string][]string `json:"remaining"`
	// Then Offboarded is offboarded: its statements, and what remains.
	Offboarded             string              `json:"offboarded"`
	OffboardStatements     []string            `json:"offboard_statements"`
	RemainingAfterOffboard map[string][]string `json:"remaining_after_offboard"`
}

type currentOrder struct {
	Tenant       string `json:"tenant_id"`
	Channel      string `json:"channel"`
	ID           string `json:"channel_order_id"`
	PurchasedAt  string `json:"purchased_at"`
	Jurisdiction string `json:"jurisdiction"`
	LastEvent    string `json:"last_financial_event_at"`
}

// The purger's SQL for a pass as of today, over orders at each of the pass's
// cutoffs to the second (labels, analytics, GB and DE financial years, a
// tenant whose year ends on 31 December), then for offboarding one of the two
// tenants, is recorded while it runs on the stack's 18.16 server, after
// checking each time that the rows the model keeps are the ones the server
// kept. A change to the purger's SQL fails this test until
// testdata/current/purge.json is rewritten (-update-current-sql), so that
// the current-ClickHouse test always runs what the purger runs.
func TestThePurgersSQLIsRecordedForCurrentClickHouse(t *testing.T) {
	t.Parallel()
	// The databases are the test's own; the offboarded tenant's Vault keys
	// are not: its name is unique, and written "bramble" in the file.
	tenants := [2]string{"acme", stacktest.UniqueName("bramble")}
	r := retentionFor(tenants)
	orders := append(sevenYears(tenants, 97*day+5*time.Hour+31*time.Minute, r.Label.Before(today), r.Analytics.Before(today)),
		eventsAround(tenants, lastEvents(utc(2020, 4, 1)), lastEvents(utc(2015, 4, 1)), lastEvents(utc(2020, 1, 1)))...)
	f := newFixture(t, orders)
	rec := &sqlRecorder{Conn: f.conn}
	f.conn = rec
	if _, err := f.purger(t, r, nil).Purge(context.Background(), today, false); err != nil {
		t.Fatal(err)
	}
	f.conn = rec.Conn
	f.model.purge(r, today)
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Fatalf("rows per table/tenant after the pass (-model +server):\n%s", diff)
	}
	remaining := func() map[string][]string {
		out := map[string][]string{}
		for table, kept := range f.model.tables {
			ids := []string{}
			for _, o := range kept {
				ids = append(ids, o.tenant+"/"+o.channel+"/"+o.id)
			}
			slices.Sort(ids)
			out[table] = ids
		}
		return out
	}
	afterPurge := remaining()
	purgeSQL := len(rec.sql)

	vault := transittest.NewClient(t, transit.Config{})
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenants[1]) })
	f.conn = rec
	if _, err := f.purger(t, r, vault).Offboard(context.Background(), tenants[1], today); err != nil {
		t.Fatal(err)
	}
	f.conn = rec.Conn
	f.model.offboard(tenants[1])
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Fatalf("rows per table/tenant after offboarding (-model +server):\n%s", diff)
	}

	placeholders := strings.NewReplacer(f.cfg.RestrictedDatabase+".", "{restricted_database}.", f.cfg.Database+".", "{database}.",
		tenants[1], "bramble")
	got := currentSQL{
		Comment: "Written by TestThePurgersSQLIsRecordedForCurrentClickHouse (worker/retention) from a pass on ClickHouse 18.16; " +
			"run on a current ClickHouse by schemas/clickhouse/current. Rows: insertOrders' columns.",
		AsOf:       today.Format(time.DateTime),
		Retention:  "defaults, DE 10 years, bramble's financial year ending 31 December",
		Offboarded: "bramble",
	}
	dateTime := func(at time.Time) string { return at.UTC().Format(time.DateTime) }
	for _, o := range orders {
		got.Orders = append(got.Orders, currentOrder{placeholders.Replace(o.tenant), o.channel, o.id, dateTime(o.purchasedAt),
			o.jurisdiction, dateTime(o.event())})
	}
	// Only the SQL on orderflow's tables; the pruning of offboarding's
	// bookkeeping reads as of the wall clock, which no file can hold.
	ours := func(sql []string) []string {
		var out []string
		for _, s := range sql {
			if strings.Contains(s, f.cfg.Database) && !strings.Contains(s, "offboard_heartbeats") {
				out = append(out, placeholders.Replace(s))
			}
		}
		return out
	}
	got.Statements, got.OffboardStatements = ours(rec.sql[:purgeSQL]), ours(rec.sql[purgeSQL:])
	named := func(m map[string][]string) map[string][]string {
		for table, ids := range m {
			for i := range ids {
				ids[i] = placeholders.Replace(ids[i])
			}
			slices.Sort(ids)
			m[table] = ids
		}
		return m
	}
	got.Remaining, got.RemainingAfterOffboard = named(afterPurge), named(remaining())
	compareCurrentSQL(t, "purge.json", got)
}
