package facts_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestFailedTable drops delivery_labels under the writer: Write fails after
// one attempt, naming that table, with an error that stops the worker (an
// unknown table is for an operator to fix, not for a retry), while the other
// tables are written. Once the migration has recreated the table, the same
// batch is written again under its ID: only delivery_labels is sent, and
// FINAL shows each key once.
func TestFailedTable(t *testing.T) {
	s := newStack(t)
	cs, ps := s.ownAll(t)
	w, reg := s.writer(t, nil)
	ctx := context.Background()
	if err := s.conn.Exec(ctx, "DROP TABLE "+s.table("delivery_labels")); err != nil {
		t.Fatal(err)
	}

	err := w.Write(ctx, 1, ps)
	if err == nil {
		t.Fatal("Write succeeded without delivery_labels")
	}
	var ie *facts.InsertError
	if !errors.As(err, &ie) || ie.Table != "delivery_labels" {
		t.Errorf("Write error %v: want an *InsertError of delivery_labels", err)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 {
		t.Errorf("Write error %v does not wrap the server's UNKNOWN_TABLE (60) exception", err)
	}
	if c := failure.Of(err); c != failure.Worker {
		t.Errorf("Write error of class %v, want %v", c, failure.Worker)
	}
	for _, want := range []string{s.ch.RestrictedDatabase + ".delivery_labels", "run orderflow migrate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Write error %q does not say %q", err, want)
		}
	}
	assertNoData(t, err, cs, ps)
	for _, name := range tables {
		want := 0.0
		if name == "delivery_labels" {
			want = 1
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != want {
			t.Errorf("insert_errors_total{%s} = %v, want %v: one attempt per table", name, n, want)
		}
	}

	recreate(t, s, "delivery_labels")
	if err := w.Write(ctx, 1, ps); err != nil {
		t.Fatalf("Write again after the migration: %v", err)
	}
	for _, name := range tables {
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != 1 {
			t.Errorf("%s: %v inserts for the batch, want 1: the retry re-sends only the failed table", name, n)
		}
	}
	want := expected(cs, ps, testNow, config.Period{Days: 366}.Before(testNow))
	for _, name := range tables {
		if n := s.count(t, name); n != uint64(len(want[name])) {
			t.Errorf("%s: %d rows under FINAL, want %d", name, n, len(want[name]))
		}
		if diff := cmp.Diff(want[name], byKey(t, s.rows(t, name))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

// faultyConn fails the inserts into one table on the real server's
// connection while faults last, as a connection reset would: fault injection
// the server cannot be made to do on cue.
type faultyConn struct {
	driver.Conn
	table  string
	faults atomic.Int32
}

func (c *faultyConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if strings.Contains(query, "."+c.table+" (") && c.faults.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer (injected)")}
	}
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

// TestRetryRewritesOnlyTheFailedTables: a table whose insert fails for a
// moment fails the Write with a transient error after one attempt; the retry
// of the same batch (same ID) sends that table alone; a new batch sends every
// table again.
func TestRetryRewritesOnlyTheFailedTables(t *testing.T) {
	s := newStack(t)
	cs, ps := s.ownAll(t)
	faulty := &faultyConn{Conn: s.conn, table: "financial_records"}
	faulty.faults.Store(1)
	w, reg := s.writer(t, func(c *facts.Config) { c.Conn = faulty })
	ctx := context.Background()
	inserts := func(name string) float64 {
		return telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name)
	}

	err := w.Write(ctx, 7, ps)
	if err == nil || !strings.Contains(err.Error(), "financial_records") {
		t.Fatalf("Write with financial_records failing = %v, want an error naming it", err)
	}
	if c := failure.Of(err); c != failure.Transient {
		t.Errorf("class %v, want %v: a connection reset may pass later", c, failure.Transient)
	}
	for _, name := range tables {
		want := 1.0
		if name == "financial_records" {
			want = 0
		}
		if n := inserts(name); n != want {
			t.Errorf("after the failed Write: %s inserted %v times, want %v", name, n, want)
		}
	}
	if err := w.Write(ctx, 7, ps); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	for _, name := range tables {
		if n := inserts(name); n != 1 {
			t.Errorf("after the retry: %s inserted %v times, want 1", name, n)
		}
	}
	if err := w.Write(ctx, 8, ps); err != nil {
		t.Fatalf("the next batch: %v", err)
	}
	for _, name := range tables {
		if n := inserts(name); n != 2 {
			t.Errorf("after the next batch: %s inserted %v times, want 2", name, n)
		}
	}
	want := expected(cs, ps, testNow, config.Period{Days: 366}.Before(testNow))
	for _, name := range tables {
		if n := s.count(t, name); n != uint64(len(want[name])) {
			t.Errorf("%s: %d rows under FINAL, want %d", name, n, len(want[name]))
		}
	}
}

// recreate runs again the statements of the migration that creates table:
// the schema's version table says it is applied, so Up would not.
func recreate(t *testing.T, s *stack, table string) {
	t.Helper()
	all, err := schema.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all {
		if m.Name != table {
			continue
		}
		for _, stmt := range m.Statements(s.ch.Database, s.ch.RestrictedDatabase) {
			if err := s.conn.Exec(context.Background(), stmt); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
		}
		return
	}
	t.Fatalf("no migration creates %s", table)
}

// TestServerDown: with ClickHouse unreachable, every table fails after one
// attempt, each counted, and the error names every table and the cause, and
// is transient: the pipeline retries the batch.
func TestServerDown(t *testing.T) {
	s := newStack(t)
	cs, ps := s.ownAll(t)
	w, reg := s.writer(t, func(c *facts.Config) { c.Conn = closedConn(t) })

	err := w.Write(context.Background(), 1, ps)
	if err == nil {
		t.Fatal("Write succeeded with the server down")
	}
	for _, name := range tables {
		if !strings.Contains(err.Error(), "."+name+" failed") {
			t.Errorf("Write error %q does not name %s", err, name)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != 1 {
			t.Errorf("insert_errors_total{%s} = %v, want 1", name, n)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name); n != 0 {
			t.Errorf("insert_rows_total{%s} = %v, want 0", name, n)
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Write error %q does not say why", err)
	}
	if c := failure.Of(err); c != failure.Transient {
		t.Errorf("class %v, want %v", c, failure.Transient)
	}
	assertNoData(t, err, cs, ps)

	// A stopped worker's Write returns at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := w.Write(ctx, 2, ps); err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Write with a canceled context = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Write with a canceled context took %s", d)
	}
}

// TestInvalidOrder: an order whose enum values the tables cannot hold, or with a
// time a DateTime cannot hold (which would wrap: 1969 to 2105, 2150 to 2013),
// fails the batch before anything is sent, with ErrInvalidOrder naming the order
// by its place in the batch and the field, never a value. The error is
// permanent for those orders alone (failure.Order), names every such order of
// the batch, and declares itself free of values (it may go into a dead
// letter's header).
func TestInvalidOrder(t *testing.T) {
	s := newStack(t)
	w, reg := s.writer(t, nil)
	good := protected.Order{TenantID: "t", Channel: order.ChannelAmazon, ChannelOrderID: "202-1", Status: order.StatusShipped,
		PaymentStatus: order.PaymentPaid, Fulfilment: order.FulfilmentMerchant, PurchasedAt: testNow, SourceUpdatedAt: testNow,
		ReceivedAt: testNow}
	at := func(y int) *time.Time { t := time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC); return &t }
	const card = "4111111111111111"
	bads := map[string]func(o *protected.Order){
		"channel":            func(o *protected.Order) { o.Channel = "walmart" },
		"status":             func(o *protected.Order) { o.Status = "Shipped " + card },
		"purchased_at":       func(o *protected.Order) { o.PurchasedAt = *at(1969) },
		"source_updated_at":  func(o *protected.Order) { o.SourceUpdatedAt = *at(2150) },
		"received_at":        func(o *protected.Order) { o.ReceivedAt = time.Time{} },
		"latest_ship_at":     func(o *protected.Order) { o.LatestShipAt = at(2107) },
		"latest_delivery_at": func(o *protected.Order) { o.LatestDeliveryAt = at(1900) },
		"refunded_at": func(o *protected.Order) {
			o.Refunds = []protected.Refund{{Amount: order.Money{Amount: 1, Currency: "GBP"}, RefundedAt: at(2150)}}
		},
	}
	var batch []protected.Order
	for field, spoil := range bads {
		bad := good
		bad.ChannelOrderID = "202-" + card
		spoil(&bad)
		err := w.Write(context.Background(), 1, []protected.Order{good, bad})
		if !errors.Is(err, facts.ErrInvalidOrder) || !strings.Contains(err.Error(), "order 1 of the batch") {
			t.Errorf("%s: Write = %v, want ErrInvalidOrder naming order 1", field, err)
		}
		if err != nil && strings.Contains(err.Error(), card) {
			t.Errorf("%s: the error quotes a value of the order: %v", field, err)
		}
		if c := failure.Of(err); c != failure.Order {
			t.Errorf("%s: class %v, want %v", field, c, failure.Order)
		}
		var safe interface{ SafeMessage() string }
		if !errors.As(err, &safe) || !strings.Contains(safe.SafeMessage(), field) {
			t.Errorf("%s: the error is not a SafeError naming the field: %v", field, err)
		}
		batch = append(batch, good, bad)
	}
	named := failure.Orders(w.Write(context.Background(), 2, batch))
	if len(named) != len(bads) {
		t.Errorf("a batch of %d bad orders among good ones: the error names %d", len(bads), len(named))
	}
	for i := range named {
		if i%2 != 1 {
			t.Errorf("the error names order %d, a good one", i)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total"); n != 0 {
		t.Errorf("%v inserts for an invalid batch", n)
	}
	write(t, w, []protected.Order{good}) // without tokens, labels or lines
	if n := s.count(t, "order_facts"); n != 1 {
		t.Errorf("order_facts has %d rows, want 1", n)
	}
}

// closedConn is a connection to a port where nothing listens.
func closedConn(t testing.TB) driver.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// assertNoData fails if err, in any format, holds a personal value, token or
// ciphertext of the orders.
func assertNoData(t *testing.T, err error, cs []order.Order, ps []protected.Order) {
	t.Helper()
	text := fmt.Sprintf("%v %+v %s %q", err, err, err, err)
	secrets := personalData(cs)
	for _, p := range ps {
		for _, v := range []string{p.Buyer.Name.Value(), p.Buyer.Email.Value(), p.Buyer.Phone.Value(),
			p.Buyer.Username.Value(), p.Buyer.UserID.Value(), p.DeliveryLabel.Value(), p.InvoiceParty.Value()} {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the error holds %q", s)
		}
	}
}
