// Package ledgertest sets up the accounting side's tests on the real stack:
// orders protected under the test's own Vault keys, written by the real
// writer to fresh, migrated ClickHouse databases, and the ledger over them.
package ledgertest

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
)

// Books is one test's databases, Vault keys and ledger.
type Books struct {
	ClickHouse config.ClickHouse
	Conn       driver.Conn
	Vault      *outboxtest.Vault
	// Orders are the orders first written, their tenants the test's own.
	Orders []order.Order
	Ledger *ledger.Ledger
	writer *facts.Writer
}

// New writes orders (tenants mapped to the test's own, outboxtest.Vault.Own)
// to fresh databases as of now, and returns them with the ledger.
func New(t testing.TB, orders []order.Order, now time.Time) *Books {
	t.Helper()
	cfg, conn := clickhousetest.Migrated(t)
	b := &Books{ClickHouse: cfg, Conn: conn, Vault: outboxtest.NewVault(t)}
	var err error
	b.writer, err = facts.New(facts.Config{Conn: conn, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase,
		LabelRetention: config.Period{Years: 1}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if b.Ledger, err = ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfg.RestrictedDatabase}); err != nil {
		t.Fatal(err)
	}
	b.Orders = b.Vault.Own(t, orders)
	b.Write(t, b.Orders...)
	return b
}

// Fixtures is New with the normaliser's fixtures, as of outboxtest.Now.
func Fixtures(t testing.TB) *Books {
	t.Helper()
	return New(t, pipelinetest.Canonical(pipelinetest.Orders(t, outboxtest.FixtureDirs()...)), outboxtest.Now)
}

// Write protects and writes later snapshots of orders (tenants already the
// test's own).
func (b *Books) Write(t testing.TB, orders ...order.Order) {
	t.Helper()
	if err := b.writer.Write(context.Background(), 0, b.Vault.Protect(t, orders)); err != nil {
		t.Fatal(err)
	}
}

// Generated normalises n messages of the demo's generator (worker/generate):
// a realistic month of orders, ugly ones included (malformed messages
// aside: set cfg.MalformedRate to -1).
func Generated(t testing.TB, cfg generate.Config, n int) []order.Order {
	t.Helper()
	gen, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	normalizer, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]order.Order, 0, n)
	for range n {
		o, err := normalizer.Normalize(gen.Next().Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}
