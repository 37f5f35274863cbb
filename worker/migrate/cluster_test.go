package migrate_test

import (
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"context"
	"strings"
	"testing"
	"time"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/migrate"
)

// Every migration, 0013's rebuild too, runs in its cluster form: on every
// server the order tables are Replicated shards (their ZooKeeper path per
// shard) read through Distributed tables, the others one replicated table
// across the cluster, no rebuild spare is left, and a second run applies
// nothing. A migrator configured for one server refuses that schema.
func TestClusterMigrationsMakeReplicatedShardsAndDistributedTables(t *testing.T) {
	cfg, conn, cluster := clickhousetest.ClusterMigrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, err := migrate.New(migrate.Config{Conn: conn, Cluster: cluster, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := m.Up(ctx); err != nil || len(done) != 0 {
		t.Fatalf("second Up = %d applied, %v; want none", len(done), err)
	}
	if err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckTables(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range cluster.Replicas() {
		engines := map[string]string{}
		err := clickhousedb.EachRow(ctx, r.Conn, func(rows driver.Rows) error {
			var name, engine string
			if err := rows.Scan(&name, &engine); err != nil {
				return err
			}
			engines[name] = engine
			return nil
		}, "SELECT name, engine_full FROM system.tables WHERE database IN (?, ?)", cfg.Database, cfg.RestrictedDatabase)
		if err != nil {
			t.Fatalf("%s: %v", r.Addr, err)
		}
		for table, db := range schema.Tables() {
			dbName := db.Name(cfg.Database, cfg.RestrictedDatabase)
			if schema.Sharded(table) {
				local := engines[schema.Local(table)]
				if !strings.HasPrefix(local, "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/"+dbName+".") {
					t.Errorf("%s: %s is %q, want ReplicatedReplacingMergeTree per shard", r.Addr, schema.Local(table), local)
				}
				if want := "Distributed(" + cfg.Cluster + ", " + dbName + ", " + schema.Local(table) + ", " + schema.ShardingKey + ")"; engines[table] != want {
					t.Errorf("%s: %s is %q, want %q", r.Addr, table, engines[table], want)
				}
				continue
			}
			if !strings.HasPrefix(engines[table], "Replicated") || !strings.Contains(engines[table], "'/clickhouse/tables/all/"+dbName+"."+table) {
				t.Errorf("%s: %s is %q, want one replicated table across the cluster", r.Addr, table, engines[table])
			}
		}
		for name := range engines {
			if _, _, spare := schema.RebuildOf(strings.TrimSuffix(name, schema.LocalSuffix)); spare {
				t.Errorf("%s: rebuild spare %s left", r.Addr, name)
			}
		}
		if len(engines) != len(schema.Tables())+4 {
			t.Errorf("%s: %d tables, want %d: %v", r.Addr, len(engines), len(schema.Tables())+4, engines)
		}
	}

	single, err := migrate.New(migrate.Config{Conn: conn, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	if err := single.CheckTables(ctx); err == nil || !strings.Contains(err.Error(), "set clickhouse.cluster") {
		t.Fatalf("a single-server migrator's CheckTables on the clustered schema = %v, want a refusal naming clickhouse.cluster", err)
	}
}

// Two migrators started at once on the cluster (a deploy Job run twice) both
// finish, each version is recorded once, and every server has the schema.
func TestClusterTwoMigratorsAtOnce(t *testing.T) {
	cfg, _ := clickhousetest.ClusterConfig(t)
	conn := clickhousetest.Open(t, cfg)
	cluster := clickhousetest.OpenCluster(t, cfg, conn)
	clickhousetest.DropAtCleanup(t, conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	upAtOnce(t, ctx, 2, func(i int) *migrate.Migrator {
		m, err := migrate.New(migrate.Config{Conn: clickhousetest.Open(t, cfg), Cluster: cluster, // as two processes would
			Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase, AppliedBy: fmt.Sprintf("migrator-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
	all, _ := schema.All()
	for _, r := range cluster.Replicas() {
		if got := clickhousetest.Count(t, r.Conn, "SELECT count() FROM "+cfg.Database+".schema_migrations FINAL"); got != uint64(len(all)) {
			t.Errorf("%s: the version table shows %d rows under FINAL, want %d", r.Addr, got, len(all))
		}
	}
	m, err := migrate.New(migrate.Config{Conn: conn, Cluster: cluster, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckTables(ctx); err != nil {
		t.Error(err)
	}
}
