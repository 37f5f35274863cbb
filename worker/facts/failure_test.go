package facts_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestFailedTable drops delivery_labels under the writer: Write fails naming
// that table after InsertAttempts tries, each counted, while the other tables
// are written. Once the migration has recreated the table, the same batch is
// written again, and FINAL shows each key once.
func TestFailedTable(t *testing.T) {
	s := newStack(t)
	cs := s.own(t, canonical(fixtures(t)))
	ps := s.protect(t, cs)
	w, reg := s.writer(t, func(c *facts.Config) { c.InsertAttempts = 3 })
	ctx := context.Background()
	if err := s.conn.Exec(ctx, "DROP TABLE "+s.table("delivery_labels")); err != nil {
		t.Fatal(err)
	}

	err := w.Write(ctx, ps)
	if err == nil {
		t.Fatal("Write succeeded without delivery_labels")
	}
	var ie *facts.InsertError
	if !errors.As(err, &ie) || ie.Table != "delivery_labels" || ie.Attempts != 3 {
		t.Errorf("Write error %v: want an *InsertError of delivery_labels after 3 attempts", err)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 60 {
		t.Errorf("Write error %v does not wrap the server's UNKNOWN_TABLE (60) exception", err)
	}
	if !strings.Contains(err.Error(), s.ch.RestrictedDatabase+".delivery_labels") {
		t.Errorf("Write error %q does not name the table", err)
	}
	assertNoData(t, err, cs, ps)
	for _, name := range tables {
		want := 0.0
		if name == "delivery_labels" {
			want = 3
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != want {
			t.Errorf("insert_errors_total{%s} = %v, want %v", name, n, want)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table=order_facts"); n != 1 {
		t.Errorf("order_facts inserts = %v: the tables that work are written", n)
	}

	recreate(t, s, "delivery_labels")
	write(t, w, ps)
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

// TestServerDown: with ClickHouse unreachable, every table fails after its
// attempts, each counted, and the error names every table and the cause.
func TestServerDown(t *testing.T) {
	s := newStack(t)
	cs := s.own(t, canonical(fixtures(t)))
	ps := s.protect(t, cs)
	w, reg := s.writer(t, func(c *facts.Config) { c.Conn, c.InsertAttempts = closedConn(t), 2 })

	err := w.Write(context.Background(), ps)
	if err == nil {
		t.Fatal("Write succeeded with the server down")
	}
	for _, name := range tables {
		if !strings.Contains(err.Error(), "."+name+" failed 2 times") {
			t.Errorf("Write error %q does not name %s", err, name)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != 2 {
			t.Errorf("insert_errors_total{%s} = %v, want 2", name, n)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name); n != 0 {
			t.Errorf("insert_rows_total{%s} = %v, want 0", name, n)
		}
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Write error %q does not say why", err)
	}
	assertNoData(t, err, cs, ps)

	// A stopped worker's Write returns at once, without retrying.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w, _ = s.writer(t, func(c *facts.Config) {
		c.Conn, c.InsertAttempts, c.RetryInitial, c.RetryMax = closedConn(t), 100, time.Minute, time.Minute
	})
	start := time.Now()
	if err := w.Write(ctx, ps); err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "canceled") {
		t.Errorf("Write with a canceled context = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Write with a canceled context took %s", d)
	}
}

// TestInvalidOrder: an order whose enum values the tables cannot hold, or with a
// time a DateTime cannot hold (which would wrap: 1969 to 2105, 2150 to 2013),
// fails the batch before anything is sent, with ErrInvalidOrder naming the order
// by its place in the batch and the field, never a value.
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
	for field, spoil := range bads {
		bad := good
		bad.ChannelOrderID = "202-" + card
		spoil(&bad)
		err := w.Write(context.Background(), []protected.Order{good, bad})
		if !errors.Is(err, facts.ErrInvalidOrder) || !strings.Contains(err.Error(), "order 1 of the batch") {
			t.Errorf("%s: Write = %v, want ErrInvalidOrder naming order 1", field, err)
		}
		if err != nil && strings.Contains(err.Error(), card) {
			t.Errorf("%s: the error quotes a value of the order: %v", field, err)
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
