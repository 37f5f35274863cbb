package facts_test

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
)

// The writer built from orderflow's configuration, as `orderflow run` wires
// it: its tables checked at start, then handed to the pipeline as its sink.
func ExampleNew() {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.ClickHouse.Addr = []string{"clickhouse:9000"}
	conn, err := clickhousedb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		slog.Error("clickhouse", "err", err)
		return
	}
	defer conn.Close()
	w, err := facts.New(facts.Config{
		Conn:               conn,
		Database:           cfg.ClickHouse.Database,
		RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		LabelRetention:     cfg.Retention.Label,
		Concurrency:        min(4, cfg.ClickHouse.MaxOpenConns),
		Registerer:         prometheus.NewRegistry(),
	})
	if err != nil {
		slog.Error("facts", "err", err)
		return
	}
	if err := w.CheckSchema(ctx); err != nil {
		slog.Error("facts", "err", err) // run orderflow migrate
		return
	}
	// pipeline.New(pipeline.Config{Sinks: []pipeline.Sink{w}, ...})
}
