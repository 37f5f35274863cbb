package retention_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/buyer"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// currentErasure is testdata/current/erase.json: a buyer's erasure as the
// purger ran it on ClickHouse 18.16, which
// schemas/clickhouse/current/test_current_clickhouse.py runs on a current
// ClickHouse over the same rows, wanting the same rows after.
type currentErasure struct {
	Comment string `json:"_comment"`
	// Rows are what each table held before, as JSONEachRow values.
	Rows map[string][]map[string]string `json:"rows"`
	// Statements are the erasure's SQL on those tables, in order.
	Statements []string `json:"statements"`
	// After is each table's rows after the erasure, as erasureState reads
	// them.
	After map[string][]string `json:"after"`
}

// The erasure's SQL over a buyer with three orders (one of two snapshots,
// one a business VAT invoice the law keeps, one on eBay with a username)
// beside another buyer of the seller, recorded while it runs on the stack's
// 18.16 server after checking what the server kept. A change to the
// erasure's SQL fails this test until testdata/current/erase.json is
// rewritten (-update-current-sql), so that the current-ClickHouse test
// always runs what the erasure runs.
func TestTheErasuresSQLIsRecordedForCurrentClickHouse(t *testing.T) {
	t.Parallel()
	cfg, conn := clickhousetest.Migrated(t)
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: stacktest.UniqueName("ec") + "-"})
	tenant := stacktest.UniqueName("erasecur")
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenant) })
	ctx := context.Background()
	const annEmail, annUser, boEmail = "ann@example.org", "ann_1984", "bo@example.org"
	hmacs, err := vault.HMAC(ctx, tenant, []string{annEmail, annUser, boEmail})
	if err != nil {
		t.Fatal(err)
	}
	// The file names the tokens, the tenant and the databases, not their
	// values in this run.
	names := map[string]string{hmacs[0]: "tok-ann-email", hmacs[1]: "tok-ann-username", hmacs[2]: "tok-bo-email", tenant: "acme",
		cfg.RestrictedDatabase + ".": "{restricted_database}.", cfg.Database + ".": "{database}."}
	var pairs []string
	// Longest first: the restricted database's name starts with the other's.
	for _, k := range slices.SortedFunc(maps.Keys(names), func(a, b string) int { return len(b) - len(a) }) {
		pairs = append(pairs, k, names[k])
	}
	named := strings.NewReplacer(pairs...)

	// A fixed date, so that the file does not change from run to run: the
	// erasure does not look at the orders' age but for the kept invoice's
	// end, ten years on.
	at := time.Date(2026, time.June, 1, 10, 30, 0, 0, time.UTC).Format(time.DateTime)
	fact := func(channel, id, version, email, username string) map[string]string {
		return map[string]string{"tenant_id": tenant, "channel": channel, "channel_order_id": id, "version": version, "purchased_at": at,
			"buyer_email_token": email, "buyer_username_token": username}
	}
	label := func(channel, id string) map[string]string {
		return map[string]string{"tenant_id": tenant, "channel": channel, "channel_order_id": id, "version": "1", "purchased_at": at,
			"label_ciphertext": "vault:v1:label-" + id}
	}
	financial := func(channel, id, jurisdiction, business string) map[string]string {
		return map[string]string{"tenant_id": tenant, "channel": channel, "channel_order_id": id, "version": "1", "purchased_at": at,
			"jurisdiction": jurisdiction, "last_financial_event_at": at, "is_business": business, "invoice_party_ciphertext": "vault:v1:party-" + id}
	}
	const annUK, annDE, annEbay, boUK = "203-0000001-0000001", "302-0000002-0000002", "12-10000-00003", "204-0000004-0000004"
	rows := map[string][]map[string]string{
		schema.TableOrderFacts: {
			fact("amazon", annUK, "1", hmacs[0], ""), fact("amazon", annUK, "2", hmacs[0], ""), fact("amazon", annDE, "1", hmacs[0], ""),
			fact("ebay", annEbay, "1", hmacs[0], hmacs[1]), fact("amazon", boUK, "1", hmacs[2], ""),
		},
		schema.TableDeliveryLabels: {label("amazon", annUK), label("amazon", annDE), label("ebay", annEbay), label("amazon", boUK)},
		schema.TableFinancialRecords: {financial("amazon", annUK, "GB", "0"), financial("amazon", annDE, "DE", "1"),
			financial("ebay", annEbay, "GB", "0"), financial("amazon", boUK, "GB", "0")},
	}
	database := map[string]string{schema.TableOrderFacts: cfg.Database, schema.TableDeliveryLabels: cfg.RestrictedDatabase,
		schema.TableFinancialRecords: cfg.RestrictedDatabase}
	for table, rs := range rows {
		insertJSONRows(t, conn, database[table]+"."+table, rs)
	}

	rec := &sqlRecorder{Conn: conn}
	p, err := retention.New(retention.Config{Conn: rec, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase,
		Retention: defaultRetention(), MutationTimeout: time.Minute, Tokenizer: vault,
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.Erase(ctx, retention.ErasureRequest{Tenant: tenant, Identifiers: retention.Identifiers{Email: annEmail}})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if want := []string{"amazon/" + annUK, "amazon/" + annDE, "ebay/" + annEbay}; !slices.Equal(ans.Orders, want) {
		t.Fatalf("erased %v, want %v", ans.Orders, want)
	}
	named = strings.NewReplacer(append(pairs, ans.Marker, "erased:marker")...)

	after := erasureState(t, conn, cfg.Database, cfg.RestrictedDatabase, named)
	want := map[string][]string{
		schema.TableOrderFacts: {
			"acme/amazon/" + annUK + "/1: erased:marker,,,,", "acme/amazon/" + annUK + "/2: erased:marker,,,,",
			"acme/amazon/" + annDE + "/1: erased:marker,,,,", "acme/amazon/" + boUK + "/1: tok-bo-email,,,,",
			"acme/ebay/" + annEbay + "/1: erased:marker,,,erased:marker,",
		},
		schema.TableDeliveryLabels: {"acme/amazon/" + boUK},
		schema.TableFinancialRecords: {
			"acme/amazon/" + annDE + ": vault:v1:party-" + annDE, "acme/amazon/" + annUK + ": ",
			"acme/amazon/" + boUK + ": vault:v1:party-" + boUK, "acme/ebay/" + annEbay + ": ",
		},
	}
	for _, rs := range want {
		slices.Sort(rs)
	}
	if diff := cmp.Diff(want, after); diff != "" {
		t.Fatalf("the tables after the erasure on 18.16 (-want +got):\n%s", diff)
	}

	got := currentErasure{
		Comment: "Written by TestTheErasuresSQLIsRecordedForCurrentClickHouse (worker/retention) from an erasure on ClickHouse 18.16; " +
			"run on a current ClickHouse by schemas/clickhouse/current.",
		Rows: map[string][]map[string]string{}, After: after,
	}
	for table, rs := range rows {
		for _, r := range rs {
			out := map[string]string{}
			for k, v := range r {
				out[k] = named.Replace(v)
			}
			got.Rows[table] = append(got.Rows[table], out)
		}
	}
	// The SQL on the three tables; the erasure's bookkeeping (erased_orders,
	// offboard_acks, erasure_requests) reads as of the wall clock.
	for _, s := range rec.sql {
		for _, table := range []string{schema.TableOrderFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords} {
			if strings.Contains(s, "."+table+" ") {
				got.Statements = append(got.Statements, named.Replace(s))
				break
			}
		}
	}
	if len(got.Statements) < 3 {
		t.Fatalf("recorded %d statements on the three tables, want at least the three rewrites: %q", len(got.Statements), rec.sql)
	}
	compareCurrentSQL(t, "erase.json", got)
}

// insertJSONRows inserts rows in one block, their values as
// JSONEachRow gives them converted to the columns' Go types.
func insertJSONRows(t *testing.T, conn driver.Conn, table string, rows []map[string]string) {
	t.Helper()
	cols := slices.Sorted(maps.Keys(rows[0]))
	b, err := conn.PrepareBatch(context.Background(), "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+")")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var values []any
		for _, c := range cols {
			var v any = r[c]
			switch c {
			case "version":
				n, err := strconv.ParseUint(r[c], 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				v = n
			case "is_business":
				v = uint8(0)
				if r[c] == "1" {
					v = uint8(1)
				}
			case "purchased_at", "last_financial_event_at":
				at, err := time.Parse(time.DateTime, r[c])
				if err != nil {
					t.Fatal(err)
				}
				v = at
			}
			values = append(values, v)
		}
		if err := b.Append(values...); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatalf("insert into %s: %v", table, err)
	}
}

// erasureState reads what an erasure changes: each fact row's buyer tokens,
// each label's order, each financial record's invoice party. The same reads
// run on a current ClickHouse in schemas/clickhouse/current.
func erasureState(t *testing.T, conn driver.Conn, db, restricted string, named *strings.Replacer) map[string][]string {
	t.Helper()
	key := "tenant_id || '/' || toString(channel) || '/' || channel_order_id"
	queries := map[string]string{
		schema.TableOrderFacts: "SELECT " + key + " || '/' || toString(version) || ': ' || " +
			strings.Join(buyer.TokenColumns(), " || ',' || ") + " AS s FROM " + db + "." + schema.TableOrderFacts,
		schema.TableDeliveryLabels:   "SELECT " + key + " AS s FROM " + restricted + "." + schema.TableDeliveryLabels,
		schema.TableFinancialRecords: "SELECT " + key + " || ': ' || invoice_party_ciphertext AS s FROM " + restricted + "." + schema.TableFinancialRecords,
	}
	out := map[string][]string{}
	for table, q := range queries {
		var got []string
		if err := clickhousedb.EachRow(context.Background(), conn, func(r driver.Rows) error {
			var s string
			err := r.Scan(&s)
			got = append(got, named.Replace(s))
			return err
		}, q); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		slices.Sort(got)
		out[table] = got
	}
	return out
}

// compareCurrentSQL encodes got and compares it with testdata/current/name,
// which -update-current-sql rewrites.
func compareCurrentSQL(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "current", name)
	if *updateCurrentSQL {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (write it with go test -run %s -update-current-sql)", err, t.Name())
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("the SQL or its fixture changed (-%s +this run); rewrite it with -update-current-sql:\n%s", path, diff)
	}
}
