package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/transit"
)

// The command builds one Purger from its configuration: `orderflow purge
// --dry-run --now T` is one Purge, `orderflow run` runs Run beside the
// pipeline, and `orderflow offboard --tenant T` is one Offboard.
func Example() {
	ctx := context.Background() // the process's root context
	cfg, err := config.Load("orderflow.yaml", os.Environ())
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
		Logger:             slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// What would a pass a week from now remove?
	report, err := purger.Purge(ctx, time.Now().AddDate(0, 0, 7), true)
	if err != nil {
		fmt.Println(err) // the report still lists what was tried
	}
	for _, a := range report.Actions {
		fmt.Println(a.Table, a.Kind, a.Partition, a.Predicate, a.Rows)
	}
	fmt.Println(report.Rows(), "rows in", report.PartitionsDropped(), "partitions and", len(report.Actions)-report.PartitionsDropped(), "deletes")
}
