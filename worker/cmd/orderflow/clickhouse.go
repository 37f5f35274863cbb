package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/retention"
)

// clickHouse is the connection to ClickHouse (clickhouse.addr) and, in
// cluster mode (clickhouse.cluster), to each shard and replica of the cluster.
type clickHouse struct {
	driver.Conn
	cluster *clickhousedb.Cluster // nil outside cluster mode
}

// openClickHouse connects to ClickHouse, and to the cluster's servers when
// one is configured.
func openClickHouse(ctx context.Context, cfg config.ClickHouse) (*clickHouse, error) {
	conn, err := clickhousedb.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db := &clickHouse{Conn: conn}
	if cfg.Cluster != "" {
		if db.cluster, err = clickhousedb.OpenCluster(ctx, cfg, conn); err != nil {
			_ = conn.Close()
			return nil, err
		}
	}
	return db, nil
}

// migrator returns the schema's migrator for db.
func (db *clickHouse) migrator(cfg config.ClickHouse, log *slog.Logger) (*migrate.Migrator, error) {
	return migrate.New(migrate.Config{Conn: db.Conn, Cluster: db.cluster, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase, Logger: log})
}

// Close closes every connection.
func (db *clickHouse) Close() error {
	err := db.Conn.Close()
	if db.cluster != nil {
		err = errors.Join(err, db.cluster.Close())
	}
	return err
}

// openCurrentSchema connects to ClickHouse and checks that every migration this
// binary knows is applied, and that the tables on every server are of the
// configured mode (a single server's, or the cluster's shards and replicas):
// writing into an older schema would fail batch after batch, purging it could
// miss a table, and a worker of the other mode would write where nobody reads.
func openCurrentSchema(ctx context.Context, cfg config.Config, log *slog.Logger) (*clickHouse, error) {
	db, err := openClickHouse(ctx, cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	m, err := db.migrator(cfg.ClickHouse, log)
	if err == nil {
		err = m.Check(ctx)
	}
	if err == nil {
		err = m.CheckTables(ctx)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return db, nil
}

// newPurger builds the retention engine; shredder is nil except for
// offboarding, lease nil for dry runs and offboarding (newPurgeLease).
func newPurger(cfg config.Config, conn *clickHouse, shredder retention.KeyShredder, lease retention.Lease, reg prometheus.Registerer, log *slog.Logger) (*retention.Purger, error) {
	return retention.New(retention.Config{
		Conn: conn, Cluster: conn.cluster, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		Retention: cfg.Retention, MutationTimeout: cfg.ClickHouse.MutationTimeout,
		Shredder: shredder, Lease: lease, Registerer: reg, Logger: log,
		Offboarding: retention.OffboardConfig{AckTimeout: cfg.Offboarding.AckTimeout, LiveWithin: cfg.Offboarding.LiveWithin},
	})
}
