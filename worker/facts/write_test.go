package facts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestWriteFixtures writes every good fixture of the three source formats,
// normalised and protected for real, and reads every column of every table
// back under FINAL: one row per order in order_facts and financial_records,
// one per line in order_line_facts, one per labelled order in delivery_labels;
// amounts to the penny (and beyond: to the fourth place), tokens and
// ciphertexts as the protect stage made them.
func TestWriteFixtures(t *testing.T) { testWriteFixtures(t, newStack(t)) }

// On the cluster, each order's rows are on the shard that owns it: on each of
// its replicas, on no other shard.
func TestClusterWriteFixtures(t *testing.T) {
	s := newClusterStack(t)
	testWriteFixtures(t, s)
	ctx := context.Background()
	for _, name := range tables {
		total := uint64(0)
		for i, sh := range s.cluster.Shards {
			for _, r := range sh.Replicas {
				var n, misplaced uint64
				local := s.table(name) + "_local"
				if err := r.Conn.QueryRow(ctx, "SELECT count(), countIf(cityHash64(tenant_id, channel_order_id) % ? != ?) FROM "+local+" FINAL",
					uint64(len(s.cluster.Shards)), uint64(i)).Scan(&n, &misplaced); err != nil {
					t.Fatalf("%s %s: %v", r.Addr, local, err)
				}
				if misplaced > 0 {
					t.Errorf("%s (shard %d): %d of %d rows of %s belong to another shard", r.Addr, sh.Num, misplaced, n, local)
				}
				if r.Addr == sh.Replicas[0].Addr {
					total += n
				} else if first := clickhousetest.Count(t, sh.Replicas[0].Conn, "SELECT count() FROM "+local+" FINAL"); n != first {
					t.Errorf("%s (shard %d): %d rows of %s, its replica %s %d", r.Addr, sh.Num, n, local, sh.Replicas[0].Addr, first)
				}
			}
			if total == 0 && i == len(s.cluster.Shards)-1 {
				t.Errorf("no rows of %s on any shard", name)
			}
		}
		if want := s.count(t, name); total != want {
			t.Errorf("%s: the shards hold %d rows, the Distributed table reads %d", name, total, want)
		}
	}
}

func testWriteFixtures(t *testing.T, s *stack) {
	fs := fixtures(t)
	cs := s.own(t, pipelinetest.Canonical(fs))
	ps := s.protect(t, cs)
	w, reg := s.writer(t, nil)
	write(t, w, ps)
	s.sync(t)

	if err := w.CheckSchema(context.Background()); err != nil {
		t.Errorf("CheckSchema: %v", err)
	}

	var lines, labels int
	formats := map[string]int{}
	for i, c := range cs {
		lines += len(c.Lines)
		if !ps[i].DeliveryLabel.IsZero() {
			labels++
		}
		formats[c.SourceFormat]++
	}
	if len(formats) != 3 || labels == 0 || labels == len(cs) {
		t.Fatalf("the fixtures should cover three formats (got %v) and orders with and without a label (%d of %d)", formats, labels, len(cs))
	}
	wantCounts := map[string]int{"order_facts": len(cs), "order_line_facts": lines, "delivery_labels": labels, "financial_records": len(cs)}
	want := expected(cs, ps, testNow, config.Period{Days: 366}.Before(testNow))
	for _, name := range tables {
		t.Run(name, func(t *testing.T) {
			if n := s.count(t, name); n != uint64(wantCounts[name]) {
				t.Errorf("%d rows under FINAL, want %d", n, wantCounts[name])
			}
			if len(want[name]) != wantCounts[name] {
				t.Fatalf("expected %d rows, the test built %d", wantCounts[name], len(want[name]))
			}
			got := byKey(t, s.rows(t, name))
			if diff := cmp.Diff(want[name], got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name); n != float64(wantCounts[name]) {
				t.Errorf("insert_rows_total = %v, want %d", n, wantCounts[name])
			}
			// One insert per shard that owns some of the table's rows.
			shards := map[int]bool{0: true}
			if s.cluster != nil {
				shards = map[int]bool{}
				for _, r := range want[name] {
					shards[s.cluster.ShardOf(r["tenant_id"], r["channel_order_id"])] = true
				}
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != float64(len(shards)) {
				t.Errorf("insert_batches_total = %v, want %d", n, len(shards))
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_duration_seconds", "table="+name); n != float64(len(shards)) {
				t.Errorf("insert_duration_seconds count = %v, want %d", n, len(shards))
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != 0 {
				t.Errorf("insert_errors_total = %v, want 0", n)
			}
		})
	}

	// What the comparison above rests on: the protected orders do carry
	// tokens and ciphertexts, and the rows hold them.
	var tokens, invoices int
	for _, p := range ps {
		if strings.HasPrefix(p.Buyer.Email.Value(), "vault:") {
			tokens++
		}
		if !p.InvoiceParty.IsZero() {
			invoices++
		}
	}
	if tokens == 0 || invoices == 0 {
		t.Errorf("%d email tokens and %d invoice parties in the protected fixtures: nothing was checked", tokens, invoices)
	}
}

// TestAmountRules writes orders shaped to exercise the derived columns:
// refunds that count (refunded, "" status) and do not (pending, failed),
// several marketplace taxes, an order without a total whose currency comes
// from its other amounts, sub-penny and negative amounts.
func TestAmountRules(t *testing.T) {
	s := newStack(t)
	fs := fixtures(t)
	base := fs[0].Order
	var tmpl order.Order
	for _, f := range fs {
		if f.Order.Channel == order.ChannelEbay && len(f.Order.Lines) >= 2 {
			tmpl = f.Order
			break
		}
	}
	if tmpl.ChannelOrderID == "" {
		tmpl = base
	}
	gbp := func(a order.Amount) order.Money { return order.Money{Amount: a, Currency: "GBP"} }
	at := tmpl.PurchasedAt.Add(48 * time.Hour)

	refunds := tmpl
	refunds.ChannelOrderID = "rules-refunds"
	refunds.Refunds = []order.Refund{
		{RefundID: "r1", Amount: gbp(25000), Status: "refunded", RefundedAt: &at},
		{RefundID: "r2", Amount: gbp(10000), Status: "pending"},
		{RefundID: "r3", Amount: gbp(5000), Status: "failed"},
		{RefundID: "r4", Amount: gbp(1234)},
	}
	refunds.MarketplaceTaxes = []order.MarketplaceTax{
		{TaxType: "VAT", Model: "MarketplaceFacilitator", Amount: gbp(12345)},
		{LineID: tmpl.Lines[0].LineID, TaxType: "VAT", Model: "MarketplaceFacilitator", Amount: gbp(3)},
	}

	noTotal := tmpl
	noTotal.ChannelOrderID = "rules-no-total"
	noTotal.Totals = order.Totals{}
	noTotal.Lines = append([]order.Line(nil), tmpl.Lines...)
	for i := range noTotal.Lines {
		noTotal.Lines[i].UnitPrice = order.Money{Amount: 8333, Currency: "EUR"} // 0.8333
		noTotal.Lines[i].LineTotal = order.Money{Amount: -8333, Currency: "EUR"}
	}
	noTotal.MarketplaceTaxes, noTotal.Refunds = nil, nil

	cs := s.own(t, []order.Order{refunds, noTotal})
	ps := s.protect(t, cs)
	w, _ := s.writer(t, nil)
	write(t, w, ps)

	factRows := byKey(t, s.rows(t, "order_facts"))
	fin := byKey(t, s.rows(t, "financial_records"))
	lines := byKey(t, s.rows(t, "order_line_facts"))
	r, f := factRows[keyOf(cs[0])], fin[keyOf(cs[0])]
	if r["refunded"] != "2.6234" || f["refunded"] != "2.6234" {
		t.Errorf("refunded = %q / %q, want 2.6234 (25.00 refunded + 0.1234 without status; pending and failed not counted)", r["refunded"], f["refunded"])
	}
	if r["marketplace_tax"] != "1.2348" || f["marketplace_tax"] != "1.2348" {
		t.Errorf("marketplace_tax = %q / %q, want 1.2348", r["marketplace_tax"], f["marketplace_tax"])
	}
	r, f = factRows[keyOf(cs[1])], fin[keyOf(cs[1])]
	if r["currency"] != "EUR" || f["currency"] != "EUR" || r["total"] != "0.00" {
		t.Errorf("currency %q / %q, total %q: want EUR from the lines, and 0.00", r["currency"], f["currency"], r["total"])
	}
	if f["line_unit_prices"] != strings.Repeat("0.8333|", len(tmpl.Lines)-1)+"0.8333" {
		t.Errorf("line_unit_prices = %q", f["line_unit_prices"])
	}
	l := lines[keyOf(cs[1])+"/"+tmpl.Lines[0].LineID]
	if l["line_total"] != "-0.8333" || l["currency"] != "EUR" {
		t.Errorf("line: total %q currency %q, want -0.8333 EUR", l["line_total"], l["currency"])
	}
	want := expected(cs, ps, testNow, config.Period{Days: 366}.Before(testNow))
	for _, name := range tables {
		if diff := cmp.Diff(want[name], byKey(t, s.rows(t, name))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestWriteNothing(t *testing.T) {
	s := newStack(t)
	w, reg := s.writer(t, nil)
	if err := w.Write(context.Background(), 0, nil); err != nil {
		t.Fatalf("Write(nil) = %v", err)
	}
	for _, name := range tables {
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != 0 {
			t.Errorf("%s: %v inserts for no orders", name, n)
		}
	}
}

// TestCheckSchema: the writer fills exactly the migrated tables' columns, and
// says so when a table is missing one, has one more, or is missing.
func TestCheckSchema(t *testing.T) {
	s := newStack(t)
	w, _ := s.writer(t, nil)
	ctx := context.Background()
	if err := w.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema on the migrated schema: %v", err)
	}
	for _, stmt := range []string{
		"ALTER TABLE " + s.table("order_facts") + " DROP COLUMN units",
		"ALTER TABLE " + s.table("order_line_facts") + " ADD COLUMN colour String",
		"DROP TABLE " + s.table("delivery_labels"),
	} {
		if err := s.conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	err := w.CheckSchema(ctx)
	if err == nil {
		t.Fatal("CheckSchema passed a changed schema")
	}
	for _, want := range []string{"order_facts has no column units", "order_line_facts has a column colour", "delivery_labels does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema error %q does not say %q", err, want)
		}
	}
}

// TestCheckSchemaWantsEveryChannel: a writer whose registry has a channel that
// the tables' Enum8 lacks refuses to start (every insert holding one of its
// orders would fail) and names it; once a migration adds it, it starts. An
// element the registry lacks is no fault: a migration may run before the
// binary that reads its channel.
func TestCheckSchemaWantsEveryChannel(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	withTest, err := channel.Default().With(channel.Spec{Name: "test", Enum: 100, Topic: "orders.test",
		Decoder: normalize.Ebay, SourceFormats: []string{"test.v1"}})
	if err != nil {
		t.Fatal(err)
	}
	w, _ := s.writer(t, func(c *facts.Config) { c.Channels = withTest })
	err = w.CheckSchema(ctx)
	if err == nil {
		t.Fatal("CheckSchema passed tables without the channel test")
	}
	for _, table := range []string{"order_facts", "order_line_facts", "delivery_labels", "financial_records"} {
		if want := table + " column channel: has no channel test (= 100)"; !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSchema error %q does not say %q", err, want)
		}
	}
	for _, table := range []string{"order_facts", "order_line_facts", "delivery_labels", "financial_records"} {
		stmt := "ALTER TABLE " + s.table(table) + " MODIFY COLUMN channel " + withTest.Enum8()
		if err := s.conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := w.CheckSchema(ctx); err != nil {
		t.Errorf("CheckSchema after the migration: %v", err)
	}
	if w, _ := s.writer(t, nil); w.CheckSchema(ctx) != nil {
		t.Errorf("a writer of the shipped channels refused tables with one more: %v", w.CheckSchema(ctx))
	}
}

func TestNewConfig(t *testing.T) {
	conn := closedConn(t)
	for _, tc := range []struct {
		name string
		edit func(*facts.Config)
		want string // "" when valid
	}{
		{"defaults", func(*facts.Config) {}, ""},
		{"no conn", func(c *facts.Config) { c.Conn = nil }, "Conn: required"},
		{"bad database", func(c *facts.Config) { c.Database = "orders; DROP" }, "Database"},
		{"bad restricted database", func(c *facts.Config) { c.RestrictedDatabase = "a-b" }, "RestrictedDatabase"},
		{"same databases", func(c *facts.Config) { c.RestrictedDatabase = "orderflow" }, "must differ from Database"},
		{"negative label retention", func(c *facts.Config) { c.LabelRetention = config.Period{Days: -1} }, "LabelRetention"},
		{"label retention too long", func(c *facts.Config) { c.LabelRetention = config.Period{Years: 2} }, "LabelRetention"},
		{"concurrency", func(c *facts.Config) { c.Concurrency = 5 }, "Concurrency"},
		{"one table at a time", func(c *facts.Config) { c.Concurrency = 1 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := facts.Config{Conn: conn}
			tc.edit(&cfg)
			_, err := facts.New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New error %v, want one naming %q", err, tc.want)
			}
		})
	}
}
