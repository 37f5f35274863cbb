package retention_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// TestMain gives the example databases and keys of its own on the stack.
func TestMain(m *testing.M) {
	os.Exit(stacktest.RunExamples(m, stacktest.EnvClickHouseAddr, stacktest.EnvVaultAddr, stacktest.EnvVaultToken))
}

// The command builds one Purger from its configuration: `orderflow purge
// --dry-run --now T` is one Purge, `orderflow run` runs Run beside the
// pipeline, and `orderflow offboard --tenant T` is one Offboard, whose report
// lists every step it took (each also a row of purge_log).
func Example() {
	ctx := context.Background() // the process's root context
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
	vault, err := transit.New(ctx, transit.ConfigFrom(cfg.Vault))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer vault.Close()

	purger, err := retention.New(retention.Config{
		Conn:               conn,
		Database:           cfg.ClickHouse.Database,
		RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		Retention:          cfg.Retention,
		MutationTimeout:    cfg.ClickHouse.MutationTimeout,
		Shredder:           vault, // nil for a purger that must never offboard
		Registerer:         prometheus.NewRegistry(),
		Logger:             quiet,
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// What would a pass a week from now remove? Only a dry run may look
	// ahead: deleting as of a future instant would delete data early.
	weekOn := time.Now().AddDate(0, 0, 7)
	_, err = purger.Purge(ctx, weekOn, false)
	fmt.Println("deleting a week early refused:", errors.Is(err, retention.ErrFutureAsOf))
	report, err := purger.Purge(ctx, weekOn, true)
	if err != nil {
		fmt.Println(err) // the report still lists what was tried
	}
	fmt.Println(report.Rows(), "rows in", report.PartitionsDropped(), "partitions and", len(report.Actions)-report.PartitionsDropped(), "deletes")

	// A seller leaves: its keys are destroyed and its rows deleted, then
	// both are verified gone.
	off, err := purger.Offboard(ctx, "acme", time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range off.Actions {
		fmt.Println(a.Kind, a.Table, a.Rows, a.Outcome)
	}
	fmt.Println(off.Deleted(), "rows deleted,", off.Remaining(), "rows and", off.KeysRemaining(), "keys left")
	// Output:
	// deleting a week early refused: true
	// 0 rows in 0 partitions and 0 deletes
	// block_ingest  0 ok
	// await_acks  0 ok
	// shred_keys  0 ok
	// offboard_delete order_facts 0 ok
	// offboard_delete order_line_facts 0 ok
	// offboard_delete erased_orders 0 ok
	// offboard_delete delivery_labels 0 ok
	// offboard_delete financial_records 0 ok
	// offboard_delete accounting_postings 0 ok
	// verify order_facts 0 ok
	// verify order_line_facts 0 ok
	// verify erased_orders 0 ok
	// verify delivery_labels 0 ok
	// verify financial_records 0 ok
	// verify accounting_postings 0 ok
	// verify vault 0 ok
	// 0 rows deleted, 0 rows and 0 keys left
}
