package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/retention"
)

// openCurrentSchema connects to ClickHouse and checks that every migration this
// binary knows is applied: writing into an older schema would fail batch after
// batch, and purging it could miss a table.
func openCurrentSchema(ctx context.Context, cfg config.Config, log *slog.Logger) (driver.Conn, error) {
	conn, err := clickhousedb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	m, err := migrate.New(migrate.Config{Conn: conn, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase, Logger: log})
	if err == nil {
		err = m.Check(ctx)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return conn, nil
}

// newPurger builds the retention engine; shredder is nil except for
// offboarding, lease nil for dry runs and offboarding (newPurgeLease).
func newPurger(cfg config.Config, conn driver.Conn, shredder retention.KeyShredder, lease retention.Lease, reg prometheus.Registerer, log *slog.Logger) (*retention.Purger, error) {
	return retention.New(retention.Config{
		Conn: conn, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		Retention: cfg.Retention, MutationTimeout: cfg.ClickHouse.MutationTimeout,
		Shredder: shredder, Lease: lease, Registerer: reg, Logger: log,
		Offboarding: retention.OffboardConfig{AckTimeout: cfg.Offboarding.AckTimeout, LiveWithin: cfg.Offboarding.LiveWithin},
	})
}
