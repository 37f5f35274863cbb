package migrate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// In cluster mode (Config.Cluster) the migrator runs the same files, each
// statement turned into its cluster form (schema.Sharded says which tables
// are sharded):
//
//   - CREATE DATABASE runs ON CLUSTER.
//   - CREATE TABLE db.t of a sharded table creates db.t_local ON CLUSTER with
//     the Replicated form of the engine, its ZooKeeper path
//     /clickhouse/tables/{shard}/db.t_local, and db.t ON CLUSTER as a
//     Distributed table over it with schema.ShardingKey (a rebuild's spare
//     gets no Distributed table). Any other table is created ON CLUSTER as a
//     replicated table with one replica on every server
//     (/clickhouse/tables/all/db.t).
//   - ALTER TABLE of a sharded table alters db.t_local ON CLUSTER (the
//     server runs it on one replica of each shard; replication carries it to
//     the others), and db.t is made again over it when their columns differ:
//     ClickHouse 18.16 cannot ALTER a Distributed table ON CLUSTER on a
//     cluster of replicated shards. Any other table is altered on one server:
//     its replicas share one ZooKeeper path, so an ALTER ON CLUSTER would run
//     once per shard on the same table.
//   - A rebuild's RENAME swaps the local tables ON CLUSTER, and its copy runs
//     on each shard from the old local table into the new one.
//   - DROP TABLE drops both names ON CLUSTER.
//
// Anything else is refused: a new kind of statement needs its cluster form
// here first, which TestEveryMigrationHasAClusterForm holds every file to.
var (
	createDatabase = regexp.MustCompile(`(?is)^\s*CREATE\s+DATABASE\s+IF\s+NOT\s+EXISTS\s+(\w+)\s*$`)
	createTable    = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)\.(\w+)\s*(\(.*\))\s*ENGINE\s*=\s*(\w*MergeTree)\s*(?:\(([^)]*)\))?(.*)$`)
	alterTable     = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(.*)$`)
	dropTable      = regexp.MustCompile(`(?is)^\s*DROP\s+TABLE\s+IF\s+EXISTS\s+(\w+)\.(\w+)\s*$`)
)

// ZooKeeperRoot is where the replicated tables keep their replication state.
const ZooKeeperRoot = "/clickhouse/tables/"

func (m *Migrator) onCluster() string {
	if m.cfg.Cluster == nil {
		return ""
	}
	return " ON CLUSTER " + m.cfg.Cluster.Name
}

// local returns the table a statement on t acts on in cluster mode: its
// shard-local table when t is sharded.
func (m *Migrator) local(t tableName) tableName {
	if m.cfg.Cluster != nil && schema.Sharded(t.name) {
		return tableName{t.db, schema.Local(t.name)}
	}
	return t
}

// execOnCluster runs one statement in its cluster form.
func (m *Migrator) execOnCluster(ctx context.Context, stmt string) error {
	conn, cluster := m.cfg.Conn, m.cfg.Cluster.Name
	if s := createDatabase.FindStringSubmatch(stmt); s != nil {
		return conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s[1]+m.onCluster())
	}
	if s := createTable.FindStringSubmatch(stmt); s != nil {
		t := tableName{s[1], s[2]}
		local := m.local(t)
		shard := "all"
		if local != t {
			shard = "{shard}"
		}
		path := ZooKeeperRoot + shard + "/" + local.String()
		if base, isNew, spare := schema.RebuildOf(t.name); spare && isNew {
			// A replicated table keeps its ZooKeeper path when renamed: once
			// another migrator has swapped this spare in, the table holds
			// the path, and creating the spare again would claim it twice.
			engine, _, err := m.engine(ctx, m.local(tableName{t.db, base}))
			if err != nil {
				return err
			}
			if strings.Contains(engine, "'"+path+"'") {
				return nil
			}
		}
		args := []string{"'" + path + "'", "'{replica}'"}
		if s[5] != "" {
			args = append(args, s[5])
		}
		create := "CREATE TABLE IF NOT EXISTS " + local.String() + m.onCluster() + " " + s[3] +
			" ENGINE = Replicated" + s[4] + "(" + strings.Join(args, ", ") + ")" + s[6]
		if err := conn.Exec(ctx, create); err != nil {
			return err
		}
		if _, _, spare := schema.RebuildOf(t.name); local == t || spare {
			return nil
		}
		return m.syncDistributed(ctx, t)
	}
	if s := swapStatement.FindStringSubmatch(stmt); s != nil {
		t, old, renamed, into := tableName{s[1], s[2]}, tableName{s[3], s[4]}, tableName{s[5], s[6]}, tableName{s[7], s[8]}
		lt, lold, lrenamed, linto := m.local(t), m.local(old), m.local(renamed), m.local(into)
		swap := "RENAME TABLE " + lt.String() + " TO " + lold.String() + ", " + lrenamed.String() + " TO " + linto.String() + m.onCluster()
		if err := m.swapTables(ctx, swap, lt, lold, lrenamed, linto); err != nil {
			return err
		}
		if lt == t {
			return nil
		}
		return m.syncDistributed(ctx, t)
	}
	if s := copyStatement.FindStringSubmatch(stmt); s != nil {
		t, from := m.local(tableName{s[1], s[2]}), m.local(tableName{s[3], s[4]})
		if t.name == s[2] {
			// Replicated on every server: one copy reaches them all.
			return m.copyRows(ctx, conn, t, from)
		}
		for _, sh := range m.cfg.Cluster.Shards {
			if err := m.copyRows(ctx, sh.Conn, t, from); err != nil {
				return fmt.Errorf("shard %d: %w", sh.Num, err)
			}
		}
		return nil
	}
	if s := alterTable.FindStringSubmatch(stmt); s != nil {
		t := tableName{s[1], s[2]}
		local := m.local(t)
		if local == t {
			return m.alter(ctx, "ALTER TABLE "+t.String()+" "+s[3])
		}
		if err := m.alter(ctx, "ALTER TABLE "+local.String()+m.onCluster()+" "+s[3]); err != nil {
			return err
		}
		return m.syncDistributed(ctx, t)
	}
	if s := dropTable.FindStringSubmatch(stmt); s != nil {
		t := tableName{s[1], s[2]}
		for _, name := range slices.Compact([]tableName{m.local(t), t}) {
			if err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+name.String()+m.onCluster()); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no cluster form for this statement (cluster %s): migrate/cluster.go lists those it has", cluster)
}

// syncDistributed makes the Distributed table t over t's local table, again
// when the two differ in columns: the Distributed table holds no data, so
// making it again loses nothing, and readers see the local table's columns.
func (m *Migrator) syncDistributed(ctx context.Context, t tableName) error {
	local := m.local(t)
	columns := func(of tableName) (string, error) {
		rows, err := m.systemRows(ctx, m.cfg.Conn, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", of.db, of.name)
		var b strings.Builder
		for _, r := range rows {
			b.WriteString(r[0] + " " + r[1] + ",")
		}
		return b.String(), err
	}
	want, err := columns(local)
	if err != nil {
		return fmt.Errorf("reading the columns of %s: %w", local, err)
	}
	have, err := columns(t)
	if err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t, err)
	}
	if have == want {
		return nil
	}
	if have != "" {
		if err := m.cfg.Conn.Exec(ctx, "DROP TABLE IF EXISTS "+t.String()+m.onCluster()); err != nil {
			return err
		}
	}
	return m.cfg.Conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+t.String()+m.onCluster()+" AS "+local.String()+
		" ENGINE = Distributed("+m.cfg.Cluster.Name+", "+local.db+", "+local.name+", "+schema.ShardingKey+")")
}

// replicas returns the connections to check the schema on: every server of
// the cluster, or the one server.
func (m *Migrator) replicas() []clickhousedb.Replica {
	if m.cfg.Cluster == nil {
		return []clickhousedb.Replica{{Addr: "the server", Conn: m.cfg.Conn}}
	}
	return m.cfg.Cluster.Replicas()
}

// CheckTables compares the schema's tables on every server with what the
// configuration expects: on a single server, each table of the schema a
// MergeTree; in cluster mode, each sharded table a Distributed table over a
// Replicated*MergeTree <table>_local, and each other table replicated, with
// the same columns on every server. It names each difference, so that a
// worker configured for one server refuses a clustered schema, and the other
// way round, instead of writing where nobody reads.
func (m *Migrator) CheckTables(ctx context.Context) error {
	type table struct{ engine, columns string }
	var first map[tableName]table
	var errs []string
	replicas := m.replicas()
	for _, r := range replicas {
		seen := map[tableName]table{}
		rows, err := m.systemRows(ctx, r.Conn,
			"SELECT t.database, t.name, t.engine, c.columns FROM system.tables AS t ANY LEFT JOIN "+
				"(SELECT database, table AS name, arrayStringConcat(arraySort(groupArray(concat(name, ' ', type))), ',') AS columns FROM system.columns "+
				"WHERE database IN (?, ?) GROUP BY database, table) AS c USING (database, name) WHERE t.database IN (?, ?)",
			m.cfg.Database, m.cfg.RestrictedDatabase, m.cfg.Database, m.cfg.RestrictedDatabase)
		if err != nil {
			return fmt.Errorf("migrate: reading the tables on %s: %w", r.Addr, err)
		}
		for _, row := range rows {
			seen[tableName{row[0], row[1]}] = table{row[2], row[3]}
		}
		for name, db := range schema.Tables() {
			t := tableName{db.Name(m.cfg.Database, m.cfg.RestrictedDatabase), name}
			local := m.local(t)
			check := func(n tableName, want func(string) bool, wantText string) {
				got, ok := seen[n]
				switch {
				case !ok:
					errs = append(errs, fmt.Sprintf("%s has no table %s: run orderflow migrate", r.Addr, n))
				case !want(got.engine):
					errs = append(errs, fmt.Sprintf("%s: %s is %s, want %s", r.Addr, n, got.engine, wantText))
				case first != nil && first[n].columns != got.columns:
					errs = append(errs, fmt.Sprintf("%s: %s has other columns than on %s", r.Addr, n, replicas[0].Addr))
				}
			}
			replicated := func(e string) bool { return strings.HasPrefix(e, "Replicated") && strings.HasSuffix(e, "MergeTree") }
			switch {
			case m.cfg.Cluster == nil:
				check(t, func(e string) bool { return strings.HasSuffix(e, "MergeTree") && !replicated(e) }, "a MergeTree (set clickhouse.cluster for a clustered schema)")
			case local != t:
				check(local, replicated, "a Replicated*MergeTree")
				check(t, func(e string) bool { return e == "Distributed" }, "Distributed over "+local.name)
			default:
				check(t, replicated, "a Replicated*MergeTree (a schema migrated for one server: migrate it for the cluster)")
			}
		}
		if first == nil {
			first = seen
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("migrate: the schema does not match the configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}
