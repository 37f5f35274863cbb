// Package clickhousetest gives tests a connection to the stack's ClickHouse and
// a freshly migrated pair of databases of their own, dropped when the test ends.
package clickhousetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// Config returns the ClickHouse configuration for the stack's server, with
// databases of unique names (not yet created).
func Config(t testing.TB) config.ClickHouse {
	t.Helper()
	return configAt(stacktest.ClickHouseAddr(t))
}

// configAt is Config for the server at addr.
func configAt(addr string) config.ClickHouse {
	cfg := config.Defaults().ClickHouse
	cfg.Addr = []string{addr}
	name := stacktest.UniqueName("t")
	cfg.Database, cfg.RestrictedDatabase = name, name+"_restricted"
	return cfg
}

// Open connects with cfg and closes the connection when the test ends.
func Open(t testing.TB, cfg config.ClickHouse) driver.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := clickhousedb.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("clickhouse: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// Migrated returns a configuration whose two databases exist with the whole
// schema applied, a connection, and drops both databases when the test ends.
func Migrated(t testing.TB) (config.ClickHouse, driver.Conn) {
	t.Helper()
	return MigratedAt(t, stacktest.ClickHouseAddr(t))
}

// MigratedAt is Migrated on the server at addr (one of the stack's other
// ClickHouse servers: stacktest.ClickHouseSmallDisk's, for instance).
func MigratedAt(t testing.TB, addr string) (config.ClickHouse, driver.Conn) {
	t.Helper()
	cfg := configAt(addr)
	conn := Open(t, cfg)
	DropAtCleanup(t, conn, cfg)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := migrate.New(migrate.Config{Conn: conn, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return cfg, conn
}

// DropAtCleanup drops cfg's two databases when the test ends (before conn
// closes: cleanups run last-registered first), ON CLUSTER when cfg names one.
func DropAtCleanup(t testing.TB, conn driver.Conn, cfg config.ClickHouse) {
	t.Helper()
	t.Cleanup(func() {
		for _, db := range []string{cfg.Database, cfg.RestrictedDatabase} {
			stmt := "DROP DATABASE IF EXISTS " + db
			if cfg.Cluster != "" {
				stmt += " ON CLUSTER " + cfg.Cluster
			}
			if err := conn.Exec(context.Background(), stmt); err != nil {
				t.Logf("drop database %s: %v", db, err)
			}
		}
	})
}

// Count returns the result of a count() query.
func Count(t testing.TB, conn driver.Conn, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// ClusterConfig returns the ClickHouse configuration for the local cluster
// (stacktest.ClickHouseCluster: the test is skipped without it), reached
// through its first server, with databases of unique names (not yet created).
func ClusterConfig(t testing.TB) (config.ClickHouse, stacktest.Cluster) {
	t.Helper()
	c := stacktest.ClickHouseCluster(t)
	cfg := config.Defaults().ClickHouse
	cfg.Addr = c.Servers()
	cfg.Cluster = c.Name
	name := stacktest.UniqueName("t")
	cfg.Database, cfg.RestrictedDatabase = name, name+"_restricted"
	return cfg, c
}

// OpenCluster connects to cfg's cluster and closes its connections when the
// test ends.
func OpenCluster(t testing.TB, cfg config.ClickHouse, seed driver.Conn) *clickhousedb.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster, err := clickhousedb.OpenCluster(ctx, cfg, seed)
	if err != nil {
		t.Fatalf("clickhouse cluster: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Close() })
	return cluster
}

// ClusterMigrated is Migrated on the local cluster: the two databases exist
// on every server with the schema's cluster form, and are dropped ON CLUSTER
// when the test ends.
func ClusterMigrated(t testing.TB) (config.ClickHouse, driver.Conn, *clickhousedb.Cluster) {
	t.Helper()
	cfg, _ := ClusterConfig(t)
	conn := Open(t, cfg)
	cluster := OpenCluster(t, cfg, conn)
	DropAtCleanup(t, conn, cfg)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := migrate.New(migrate.Config{Conn: conn, Cluster: cluster, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate on cluster %s: %v", cfg.Cluster, err)
	}
	return cfg, conn, cluster
}

// SyncReplicas waits until every replica of the cluster has what the others
// were written to cfg's two databases (clickhousedb.Cluster.SyncReplicas).
func SyncReplicas(t testing.TB, cfg config.ClickHouse, cluster *clickhousedb.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cluster.SyncReplicas(ctx, cfg.Database, cfg.RestrictedDatabase); err != nil {
		t.Fatal(err)
	}
}
