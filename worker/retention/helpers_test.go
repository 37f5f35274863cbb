package retention_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// today is the tests' fixed "now": the data set is built around it.
var today = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// order is one test order; insertOrders writes its label, financial record,
// order fact and two line facts, all with its purchased_at, and the
// financial record with its last financial event.
type order struct {
	tenant       string
	channel      string // amazon, ebay
	id           string
	purchasedAt  time.Time
	jurisdiction string // GB, DE or ''
	// lastEvent is the last financial event (a refund's date); zero for the
	// purchase.
	lastEvent time.Time
}

// event is the order's last financial event.
func (o order) event() time.Time {
	if o.lastEvent.IsZero() {
		return o.purchasedAt
	}
	return o.lastEvent
}

var tables = []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableErasedOrders, schema.TableDeliveryLabels, schema.TableFinancialRecords, schema.TableAccountingPostings}

// rowsPerOrder is how many rows insertOrders writes per order in each table.
var rowsPerOrder = map[string]int{
	schema.TableOrderFacts:     1,
	schema.TableOrderLineFacts: 2,
	// Each order as a buyer's erasure registered it: kept as long as its facts.
	schema.TableErasedOrders:     1,
	schema.TableDeliveryLabels:   1,
	schema.TableFinancialRecords: 1,
	// One ledger row per order stands for the postings of its period.
	schema.TableAccountingPostings: 1,
}

func classOf(table string) config.Class {
	switch table {
	case schema.TableDeliveryLabels:
		return config.ClassLabel
	case schema.TableFinancialRecords, schema.TableAccountingPostings:
		return config.ClassFinancial
	}
	return config.ClassAnalytics
}

// sevenYears is the data set: for two tenants, one order every 9 days 7h13m
// from 21 days after today back to seven years before it, in GB, DE and no
// jurisdiction in turn, every fifth refunded up to 500 days later; plus,
// around each given cutoff instant, orders one hour and one second before
// and after it and exactly at it, for every jurisdiction, so that
// straddling partitions and the exact boundary are hit.
func sevenYears(tenants [2]string, step time.Duration, cutoffs ...time.Time) []order {
	jurisdictions := []string{"GB", "DE", ""}
	var out []order
	for i := 0; ; i++ {
		at := today.Add(21*day - time.Duration(i)*step)
		if at.Before(today.AddDate(-7, 0, 0)) {
			break
		}
		o := order{
			tenant:       tenants[i%2],
			channel:      []string{"amazon", "ebay"}[i/2%2],
			id:           fmt.Sprintf("R-%06d", i),
			purchasedAt:  at,
			jurisdiction: jurisdictions[i%3],
		}
		if i%5 == 0 {
			o.lastEvent = at.Add(time.Duration(i*53%500)*day + 7*time.Hour)
		}
		out = append(out, o)
	}
	for ci, c := range cutoffs {
		for oi, off := range []time.Duration{-time.Hour, -time.Second, 0, time.Second, time.Hour} {
			for ji, j := range jurisdictions {
				out = append(out, order{
					tenant:       tenants[(oi+ji)%2],
					channel:      "amazon",
					id:           fmt.Sprintf("C%d-%d-%d", ci, oi, ji),
					purchasedAt:  c.Add(off),
					jurisdiction: j,
				})
			}
		}
	}
	return out
}

// eventsAround is, around each given instant, orders whose last financial
// event is one hour and one second before and after it and exactly at it,
// bought 45 days before that event, for every jurisdiction and both tenants:
// the edges of financial years.
func eventsAround(tenants [2]string, instants ...time.Time) []order {
	var out []order
	for ci, c := range instants {
		for oi, off := range []time.Duration{-time.Hour, -time.Second, 0, time.Second, time.Hour} {
			for ji, j := range []string{"GB", "DE", ""} {
				for ti, tenant := range tenants {
					out = append(out, order{
						tenant:       tenant,
						channel:      "ebay",
						id:           fmt.Sprintf("E%d-%d-%d-%d", ci, oi, ji, ti),
						purchasedAt:  c.Add(off - 45*day),
						jurisdiction: j,
						lastEvent:    c.Add(off),
					})
				}
			}
		}
	}
	return out
}

// insertOrders writes the orders' rows into every table, every column
// filled, in block inserts of at most 45 partitions (current ClickHouse
// refuses blocks of more than 100).
func insertOrders(t testing.TB, conn driver.Conn, cfg config.ClickHouse, orders []order, ciphertext func(order) string) {
	t.Helper()
	if ciphertext == nil {
		ciphertext = func(order) string { return "vault:v1:dGVzdA==" }
	}
	// On a cluster the inserts go through the Distributed tables, which write
	// each order to its shard before they return.
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	dec := decimal.RequireFromString
	insert := func(table, columns string, partition func(order) string, appendRow func(driver.Batch, order) error) {
		t.Helper()
		// Sorted by partition, so that each partition gets one part: every
		// part costs the server tens of milliseconds.
		sorted := slices.Clone(orders)
		slices.SortStableFunc(sorted, func(a, b order) int { return strings.Compare(partition(a), partition(b)) })
		for chunk := range chunks(sorted, partition, 45) {
			batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+columns+")")
			if err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for _, o := range chunk {
				if err := appendRow(batch, o); err != nil {
					t.Fatalf("%s: append: %v", table, err)
				}
			}
			if err := batch.Send(); err != nil {
				t.Fatalf("%s: send: %v", table, err)
			}
		}
	}
	month := func(o order) string { return o.purchasedAt.Format("200601") }
	year := func(o order) string { return fmt.Sprint(financialYear(o.purchasedAt)) }
	written := today.Add(30 * day)
	insert(cfg.Database+".order_facts",
		"tenant_id, channel, channel_order_id, version, schema_version, source_format, marketplace, seller_order_id, "+
			"status, payment_status, source_status, cancel_requested, fulfilment, is_prime, is_business, ship_service_level, "+
			"purchased_at, source_updated_at, received_at, latest_ship_at, latest_delivery_at, "+
			"buyer_name_token, buyer_email_token, buyer_phone_token, buyer_username_token, buyer_user_id_token, "+
			"ship_country, ship_address_type, ship_postcode_area, billing_country, billing_postcode_area, currency, "+
			"subtotal, tax, shipping, discount, total, marketplace_tax, refunded, line_count, units, written_at",
		month, func(b driver.Batch, o order) error {
			ship := o.purchasedAt.Add(2 * day)
			return b.Append(o.tenant, o.channel, o.id, uint64(o.purchasedAt.UnixMilli()), uint8(1), "sp-api-v0", "amazon.co.uk", "S-"+o.id,
				"shipped", "paid", "Shipped", uint8(0), "merchant", uint8(0), uint8(0), "Standard",
				o.purchasedAt, o.purchasedAt.Add(time.Hour), o.purchasedAt.Add(time.Hour), &ship, nil,
				"tok-name", "tok-email", "", "", "",
				"GB", "residential", "SW", "GB", "SW", "GBP",
				dec("20.00"), dec("4.00"), dec("2.50"), dec("0"), dec("26.50"), dec("0"), dec("0"), uint16(2), uint32(3), written)
		})
	insert(cfg.Database+".order_line_facts",
		"tenant_id, channel, channel_order_id, line_id, version, marketplace, purchased_at, status, sku, asin, item_id, title, "+
			"quantity, quantity_shipped, currency, unit_price, line_total, tax, shipping, shipping_tax, discount, discount_tax, "+
			"gift_wrap, gift_wrap_tax, promotion_ids, is_gift, cancel_requested, written_at",
		month, func(b driver.Batch, o order) error {
			for l := 1; l <= 2; l++ {
				if err := b.Append(o.tenant, o.channel, o.id, fmt.Sprintf("L%d", l), uint64(o.purchasedAt.UnixMilli()), "amazon.co.uk",
					o.purchasedAt, "shipped", "SKU-1", "B000TEST", "", "Mug",
					uint32(l), uint32(l), "GBP", dec("10.00"), dec("10.00"), dec("2.00"), dec("1.25"), dec("0.25"), dec("0"), dec("0"),
					dec("0"), dec("0"), []string{}, uint8(0), uint8(0), written); err != nil {
					return err
				}
			}
			return nil
		})
	insert(cfg.Database+".erased_orders",
		"tenant_id, channel, channel_order_id, purchased_at, request_id, marker, keep_invoice, erased_at",
		month, func(b driver.Batch, o order) error {
			return b.Append(o.tenant, o.channel, o.id, o.purchasedAt, uuid.New(), "erased:test", uint8(0), written)
		})
	insert(cfg.RestrictedDatabase+".delivery_labels",
		"tenant_id, channel, channel_order_id, version, purchased_at, ship_country, ship_service_level, label_ciphertext, written_at",
		month, func(b driver.Batch, o order) error {
			return b.Append(o.tenant, o.channel, o.id, uint64(o.purchasedAt.UnixMilli()), o.purchasedAt, "GB", "Standard", ciphertext(o), written)
		})
	insert(cfg.RestrictedDatabase+".financial_records",
		"tenant_id, channel, channel_order_id, version, jurisdiction, marketplace, seller_order_id, purchased_at, last_financial_event_at, status, "+
			"payment_status, is_business, currency, subtotal, tax, shipping, discount, total, marketplace_tax, refunded, "+
			"line_ids, line_skus, line_titles, line_quantities, line_unit_prices, line_totals, line_taxes, "+
			"invoice_party_ciphertext, written_at",
		year, func(b driver.Batch, o order) error {
			return b.Append(o.tenant, o.channel, o.id, uint64(o.purchasedAt.UnixMilli()), o.jurisdiction, "amazon.co.uk", "S-"+o.id,
				o.purchasedAt, o.event(), "shipped", "paid", uint8(0), "GBP",
				dec("20.00"), dec("4.00"), dec("2.50"), dec("0"), dec("26.50"), dec("0"), dec("0"),
				[]string{"L1", "L2"}, []string{"SKU-1", "SKU-1"}, []string{"Mug", "Mug"}, []uint32{1, 2},
				[]decimal.Decimal{dec("10.00"), dec("10.00")}, []decimal.Decimal{dec("10.00"), dec("20.00")},
				[]decimal.Decimal{dec("2.00"), dec("4.00")}, ciphertext(o), written)
		})
	insert(cfg.RestrictedDatabase+".accounting_postings",
		"tenant_id, provider, kind, jurisdiction, marketplace, currency, vat_rate, purchased_at, last_financial_event_at, sequence, "+
			"channel_order_id, idempotency_key, orders, net, tax, gross, line_kinds, line_nets, line_taxes, provider_id, provider_status, posted_at",
		year, func(b driver.Batch, o order) error {
			return b.Append(o.tenant, "xero", "summary", o.jurisdiction, "amazon.co.uk", "GBP", "20", o.purchasedAt, o.event(), uint32(0),
				o.id, "key-"+o.id, uint32(1), dec("22.08"), dec("4.42"), dec("26.50"), []string{"sales"},
				[]decimal.Decimal{dec("22.08")}, []decimal.Decimal{dec("4.42")}, "inv-"+o.id, "AUTHORISED", written)
		})
}

// chunks splits orders (sorted by partition) into runs of at most max
// partitions.
func chunks(orders []order, partition func(order) string, max int) func(func([]order) bool) {
	return func(yield func([]order) bool) {
		start, seen := 0, map[string]bool{}
		for i, o := range orders {
			k := partition(o)
			if !seen[k] && len(seen) == max {
				if !yield(orders[start:i]) {
					return
				}
				start, seen = i, map[string]bool{}
			}
			seen[k] = true
		}
		if start < len(orders) {
			yield(orders[start:])
		}
	}
}

// model is what the tables should hold: the orders still present in each.
type model struct {
	loc    *time.Location // the server's time zone, which partitions follow
	tables map[string][]order
}

func newModel(t testing.TB, conn driver.Conn, orders []order) *model {
	t.Helper()
	var tz string
	if err := conn.QueryRow(context.Background(), "SELECT timezone()").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("server time zone %s: %v", tz, err)
	}
	m := &model{loc: loc, tables: map[string][]order{}}
	for _, tb := range tables {
		m.tables[tb] = slices.Clone(orders)
	}
	return m
}

// expired says whether the table's row of o has expired at asOf: its own
// expiry (its start plus the period, added forward) has passed.
func expired(r config.Retention, table string, o order, asOf time.Time) bool {
	return !expiryOf(r, table, o).After(asOf)
}

// expiryOf is when the table's row of o expires: for labels and facts, the
// purchase plus the period; for financial records, the end of the tenant's
// financial year holding the last financial event (where DE, AT, ... count
// from: the end of that year's calendar year) plus the jurisdiction's period,
// in the time zones that make it latest: the year the event falls in at
// UTC+14, ending at UTC-12.
func expiryOf(r config.Retention, table string, o order) time.Time {
	switch classOf(table) {
	case config.ClassLabel:
		return r.Label.After(o.purchasedAt)
	case config.ClassAnalytics:
		return r.Analytics.After(o.purchasedAt)
	}
	start := r.YearEndFor(o.tenant).After(o.event().Add(zoneAhead))
	if config.MinimumFor(o.jurisdiction).FromCalendarYearEnd {
		start = time.Date(start.AddDate(0, 0, -1).Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC)
	}
	return r.FinancialFor(o.jurisdiction).After(start).Add(12 * time.Hour)
}

// zoneAhead is how far UTC+14 is ahead of UTC: a financial year ends there
// first, so the last financial events of a year (for every seller) are those
// before the year's end at midnight UTC minus zoneAhead.
const zoneAhead = 14 * time.Hour

// partitionText is a row's partition as system.parts writes it: its
// purchase's month, or for financial records the UK financial year (to 31
// March) it falls in, in the server's time zone.
func (m *model) partitionText(table string, o order) string {
	local := o.purchasedAt.In(m.loc)
	if classOf(table) == config.ClassFinancial {
		return fmt.Sprint(financialYear(local))
	}
	return local.Format("200601")
}

// financialYear is the UK financial year t falls in, by the year it ends in.
func financialYear(t time.Time) int {
	if t.Month() >= time.April {
		return t.Year() + 1
	}
	return t.Year()
}

// step is an expected drop or delete: "table partition rows".
type step struct {
	table, partition string
	rows             uint64
}

// purge applies a pass to the model and returns the expected drops and
// deletes (sorted).
func (m *model) purge(r config.Retention, asOf time.Time) (drops, deletes []step) {
	for _, table := range tables {
		type part struct{ expired, kept int }
		parts := map[string]*part{}
		var kept []order
		for _, o := range m.tables[table] {
			pt := m.partitionText(table, o)
			if parts[pt] == nil {
				parts[pt] = &part{}
			}
			if expired(r, table, o, asOf) {
				parts[pt].expired++
			} else {
				parts[pt].kept++
				kept = append(kept, o)
			}
		}
		m.tables[table] = kept
		for _, pt := range slices.Sorted(maps.Keys(parts)) {
			n := uint64(parts[pt].expired * rowsPerOrder[table])
			switch {
			case parts[pt].expired == 0:
			case parts[pt].kept == 0 && classOf(table) == config.ClassFinancial:
				// Financial partitions are dropped when every row in them
				// has expired, whatever their bounds.
				drops = append(drops, step{table, pt, n})
			case parts[pt].kept == 0 && m.wholePartitionExpired(r, table, pt, asOf):
				drops = append(drops, step{table, pt, n})
			default:
				deletes = append(deletes, step{table, pt, n})
			}
		}
	}
	sortSteps(drops)
	sortSteps(deletes)
	return drops, deletes
}

// wholePartitionExpired says whether the partition's last possible second
// has expired (labels and facts: by purchase, partitioned by month).
func (m *model) wholePartitionExpired(r config.Retention, table, pt string, asOf time.Time) bool {
	start, _ := time.ParseInLocation("200601", pt, m.loc)
	return expired(r, table, order{purchasedAt: start.AddDate(0, 1, 0).Add(-time.Second)}, asOf)
}

// offboard removes a tenant from the model and returns its rows per table.
func (m *model) offboard(tenant string) map[string]uint64 {
	out := map[string]uint64{}
	for _, table := range tables {
		var kept []order
		for _, o := range m.tables[table] {
			if o.tenant == tenant {
				out[table] += uint64(rowsPerOrder[table])
			} else {
				kept = append(kept, o)
			}
		}
		m.tables[table] = kept
	}
	return out
}

// counts is rows per "table/tenant".
func (m *model) counts() map[string]uint64 {
	out := map[string]uint64{}
	for _, table := range tables {
		for _, o := range m.tables[table] {
			out[table+"/"+o.tenant] += uint64(rowsPerOrder[table])
		}
	}
	return out
}

// oldest is the oldest purchased_at of the class in the model (for
// financial records, the oldest last financial event).
func (m *model) oldest(c config.Class) (time.Time, bool) {
	var oldest time.Time
	found := false
	for _, table := range tables {
		if classOf(table) != c {
			continue
		}
		for _, o := range m.tables[table] {
			at := o.purchasedAt
			if c == config.ClassFinancial {
				at = o.event()
			}
			if !found || at.Before(oldest) {
				oldest, found = at, true
			}
		}
	}
	return oldest, found
}

// tableCounts reads the physical rows per "table/tenant" (of the tables that
// exist).
func tableCounts(t testing.TB, conn driver.Conn, cfg config.ClickHouse) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, table := range tables {
		db := cfg.Database
		if classOf(table) != config.ClassAnalytics {
			db = cfg.RestrictedDatabase
		}
		var exists uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM system.tables WHERE database = ? AND name = ?", db, table).Scan(&exists); err != nil {
			t.Fatal(err)
		}
		if exists == 0 {
			continue
		}
		type tenantRows struct {
			tenant string
			n      uint64
		}
		for _, c := range scanRows(t, conn, func(rows driver.Rows, c *tenantRows) error { return rows.Scan(&c.tenant, &c.n) },
			"SELECT tenant_id, count() FROM "+db+"."+table+" GROUP BY tenant_id") {
			out[table+"/"+c.tenant] = c.n
		}
	}
	return out
}

// scanRows runs query and returns its rows, each read by scan, failing the
// test on any error.
func scanRows[T any](t testing.TB, conn driver.Conn, scan func(driver.Rows, *T) error, query string, args ...any) []T {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// reportSteps is the report's drops and deletes as steps, sorted.
func reportSteps(rep retention.Report) (drops, deletes []step) {
	for _, a := range rep.Actions {
		s := step{a.Table, a.Partition, a.Rows}
		switch a.Kind {
		case retention.ActionDropPartition:
			drops = append(drops, s)
		case retention.ActionDelete:
			deletes = append(deletes, s)
		}
	}
	sortSteps(drops)
	sortSteps(deletes)
	return drops, deletes
}

func sortSteps(s []step) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].table != s[j].table {
			return s[i].table < s[j].table
		}
		return s[i].partition < s[j].partition
	})
}

func sumRows(steps []step, table string) uint64 {
	var n uint64
	for _, s := range steps {
		if table == "" || s.table == table {
			n += s.rows
		}
	}
	return n
}

// logRow is a purge_log row.
type logRow struct {
	Table, Action, Partition, Predicate string
	Rows                                uint64
	Reason, Tenant, Outcome, Error      string
}

// purgeLog reads the purge_log rows of a run.
func purgeLog(t testing.TB, conn driver.Conn, cfg config.ClickHouse, runID fmt.Stringer) []logRow {
	t.Helper()
	return scanRows(t, conn, func(rows driver.Rows, r *logRow) error {
		return rows.Scan(&r.Table, &r.Action, &r.Partition, &r.Predicate, &r.Rows, &r.Reason, &r.Tenant, &r.Outcome, &r.Error)
	}, "SELECT table, toString(action), partition, predicate, rows, reason, tenant_id, toString(outcome), error FROM "+
		cfg.Database+".purge_log WHERE run_id = toUUID(?) ORDER BY started_at, table, partition", runID.String())
}

// fixture is a migrated pair of databases holding a data set, and what its
// Purgers report to: one registry, one log.
type fixture struct {
	cfg  config.ClickHouse
	conn driver.Conn
	// cluster is the cluster the databases are on (newClusterFixture); nil
	// on the single server.
	cluster *clickhousedb.Cluster
	reg     *prometheus.Registry
	log     *syncBuffer
	model   *model
	orders  []order
	clock   atomic.Pointer[time.Time] // the Purgers' Now; today until set
}

func newFixture(t testing.TB, orders []order) *fixture {
	t.Helper()
	cfg, conn := clickhousetest.Migrated(t)
	insertOrders(t, conn, cfg, orders, nil)
	return &fixture{cfg: cfg, conn: conn, reg: prometheus.NewRegistry(), log: &syncBuffer{}, model: newModel(t, conn, orders), orders: orders}
}

// now is the fixture's clock.
func (f *fixture) now() time.Time {
	if at := f.clock.Load(); at != nil {
		return *at
	}
	return today
}

// setNow moves the fixture's clock: a pass deletes as of now at the latest.
func (f *fixture) setNow(at time.Time) { f.clock.Store(&at) }

// clickHouseNow is ClickHouse's clock as the fixture's Purgers see it: the
// fixture's clock, which simulates later dates than the server's.
func (f *fixture) clickHouseNow(context.Context) (time.Time, error) { return f.now(), nil }

// syncBuffer is a log destination that Purgers may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (f *fixture) purger(t testing.TB, r config.Retention, shredder retention.KeyShredder) *retention.Purger {
	t.Helper()
	p, err := retention.New(retention.Config{
		Conn: f.conn, Cluster: f.cluster, Database: f.cfg.Database, RestrictedDatabase: f.cfg.RestrictedDatabase,
		Retention: r, MutationTimeout: time.Minute, Shredder: shredder, Registerer: f.reg,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Now:    f.now, ClickHouseNow: f.clickHouseNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func defaultRetention() config.Retention {
	r := config.Defaults().Retention
	r.FinancialByJurisdiction = map[string]config.Period{"DE": {Years: 10}}
	return r
}

// retentionFor is defaultRetention with the second tenant's financial year
// ending on 31 December (the first's on the default 31 March).
func retentionFor(tenants [2]string) config.Retention {
	r := defaultRetention()
	r.FinancialYearEndByTenant = map[string]config.YearEnd{tenants[1]: {Month: time.December, Day: 31}}
	return r
}

func twoTenants(prefix string) [2]string {
	return [2]string{stacktest.UniqueName(prefix + "a"), stacktest.UniqueName(prefix + "b")}
}
