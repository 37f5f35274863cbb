package facts_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// TestMain gives the example databases and keys of its own on the stack.
func TestMain(m *testing.M) {
	os.Exit(stacktest.RunExamples(m, stacktest.EnvClickHouseAddr, stacktest.EnvVaultAddr, stacktest.EnvVaultToken))
}

// The writer built from orderflow's configuration, as `orderflow run` wires
// it: its tables checked at start, then handed protected batches (the
// pipeline's sink). Every snapshot of an order is written; reads with FINAL
// see each order's latest one, and labels are written only while their
// retention lasts (here, for the orders of the last 21 of 30 days).
func ExampleNew() {
	ctx := context.Background()
	// No file: every key from the environment. The databases exist, migrated
	// by orderflow migrate.
	cfg, err := config.Load("", os.Environ())
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := clickhousedb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	quiet := slog.New(slog.DiscardHandler)

	// A fixed clock: which labels are still within their 21 days.
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	w, err := facts.New(facts.Config{
		Conn:               conn,
		Database:           cfg.ClickHouse.Database,
		RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		LabelRetention:     cfg.Retention.Label,
		Concurrency:        min(4, cfg.ClickHouse.MaxOpenConns),
		Now:                func() time.Time { return now },
		Registerer:         prometheus.NewRegistry(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.CheckSchema(ctx); err != nil {
		fmt.Println(err) // run orderflow migrate
		return
	}

	// A batch as the pipeline hands it over: generated, normalised, protected.
	vault, err := transit.New(ctx, transit.ConfigFrom(cfg.Vault))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vault.Close()
	p, err := policy.Load()
	if err != nil {
		fmt.Println(err)
		return
	}
	stage, err := protect.New(protect.Config{Tokenizer: vault, Encrypter: vault, Policy: p, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	gen, err := generate.New(generate.Config{Seed: 7, Tenants: 2, Now: now, MalformedRate: -1})
	if err != nil {
		fmt.Println(err)
		return
	}
	normalizer, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var batch []order.Order
	for range 200 {
		o, err := normalizer.Normalize(gen.Next().Value)
		if err != nil {
			fmt.Println(err)
			return
		}
		batch = append(batch, o)
	}
	protected, err := stage.Protect(ctx, batch)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := w.Write(ctx, 1, protected); err != nil {
		fmt.Println(err) // the pipeline retries the batch; nothing is committed
		return
	}

	fmt.Println("snapshots written:", len(protected))
	for _, table := range []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords} {
		db, _ := schema.DatabaseOf(table)
		var rows uint64
		q := "SELECT count() FROM " + db.Name(cfg.ClickHouse.Database, cfg.ClickHouse.RestrictedDatabase) + "." + table + " FINAL"
		if err := conn.QueryRow(ctx, q).Scan(&rows); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s: %d\n", table, rows)
	}
	// Output:
	// snapshots written: 200
	// order_facts: 194
	// order_line_facts: 288
	// delivery_labels: 125
	// financial_records: 194
}
