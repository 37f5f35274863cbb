package retention_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// The cluster tests run the single server's scenarios on the local cluster
// (clickhousetest.ClusterMigrated: shard 1 of two replicas, shard 2 of one),
// the orders written through the Distributed tables to the shards that own
// them, and then hold every replica's own tables to the model, to the row:
// the purger must act on every shard and have every replica done before it
// reports an action done.

// newClusterFixture is newFixture on the local cluster: every replica holds
// the orders before it returns, and the orders are on both shards.
func newClusterFixture(t *testing.T, orders []order) *fixture {
	t.Helper()
	cfg, conn, cluster := clickhousetest.ClusterMigrated(t)
	insertOrders(t, conn, cfg, orders, nil)
	f := &fixture{cfg: cfg, conn: conn, cluster: cluster, reg: prometheus.NewRegistry(), log: &syncBuffer{},
		model: newModel(t, conn, orders), orders: orders}
	shards := map[int]bool{}
	for _, o := range orders {
		shards[cluster.ShardOf(o.tenant, o.id)] = true
	}
	if len(shards) != len(cluster.Shards) || len(cluster.Shards) < 2 {
		t.Fatalf("the orders are on shards %v of %d: the test needs rows on 2 shards at least", shards, len(cluster.Shards))
	}
	for _, r := range cluster.Replicas() {
		for _, table := range tables {
			execOn(t, r.Conn, "SYSTEM SYNC REPLICA "+f.localTable(table))
		}
	}
	checkEveryReplica(t, f)
	return f
}

func execOn(t *testing.T, conn driver.Conn, stmt string) {
	t.Helper()
	if err := conn.Exec(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// localTable is the table that holds a table's rows on each server.
func (f *fixture) localTable(table string) string {
	db := f.cfg.Database
	if classOf(table) != "analytics" {
		db = f.cfg.RestrictedDatabase
	}
	if schema.Sharded(table) {
		table = schema.Local(table)
	}
	return db + "." + table
}

// checkEveryReplica checks that each replica's own tables hold exactly the
// model's rows of its shard (of every shard for the tables replicated on
// every server): each order's rows, as many as it has.
func checkEveryReplica(t *testing.T, f *fixture) {
	t.Helper()
	for si, sh := range f.cluster.Shards {
		for _, table := range tables {
			// The ledger has no channel column.
			key, channel := "concat(tenant_id, '/', toString(channel), '/', channel_order_id)", func(o order) string { return o.channel }
			if table == schema.TableAccountingPostings {
				key, channel = "concat(tenant_id, '//', channel_order_id)", func(order) string { return "" }
			}
			want := map[string]uint64{}
			for _, o := range f.model.tables[table] {
				if !schema.Sharded(table) || f.cluster.ShardOf(o.tenant, o.id) == si {
					want[o.tenant+"/"+channel(o)+"/"+o.id] += uint64(rowsPerOrder[table])
				}
			}
			for _, r := range sh.Replicas {
				got := map[string]uint64{}
				type orderRows struct {
					key string
					n   uint64
				}
				for _, row := range scanRows(t, r.Conn, func(rows driver.Rows, c *orderRows) error { return rows.Scan(&c.key, &c.n) },
					"SELECT "+key+" AS k, count() FROM "+f.localTable(table)+" GROUP BY k") {
					got[row.key] = row.n
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("replica %s (shard %d), %s: rows per order (-want +got):\n%s", r.Addr, sh.Num, table, diff)
				}
			}
		}
	}
}

// A pass on the cluster drops whole expired partitions and deletes the
// expired rows of straddling ones, exact to the second, labels, facts and
// the financial years of GB and DE alike, on both shards; offboarding one
// tenant then removes its rows from every shard and leaves the other's.
// Every replica is checked after each, without waiting for replication: the
// purger has waited for it.
func TestClusterPurgeAndOffboardActOnEveryReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vault, tenants, secrets := tenantsWithLabels(t, "clu")
	r := defaultRetention()
	orders := cutoffSet(tenants[0], r, today)
	for _, o := range cutoffSet(tenants[1], r, today) {
		o.id = "b-" + o.id
		orders = append(orders, o)
	}
	f := newClusterFixture(t, orders)
	p := f.purger(t, r, vault)

	start := time.Now()
	rep, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pass: %d actions in %s", len(rep.Actions), time.Since(start).Round(time.Millisecond))
	checkPass(t, f, rep, r, today, map[string]float64{})
	drops, deletes := reportSteps(rep)
	if len(drops) == 0 || len(deletes) == 0 {
		t.Errorf("the pass dropped %v and deleted %v: want both", drops, deletes)
	}
	checkExactCutoffs(t, f)
	checkEveryReplica(t, f)
	checkNoOp(t, f, p, today)

	start = time.Now()
	checkOffboarding(t, f, p, vault, tenants[0], tenants[1], secrets, today)
	t.Logf("two offboardings in %s", time.Since(start).Round(time.Millisecond))
	checkEveryReplica(t, f)
}

// withReplica is f's cluster with the replica at addr reached through conn.
func withReplica(f *fixture, addr string, conn func(driver.Conn) driver.Conn) *clickhousedb.Cluster {
	c := *f.cluster
	c.Shards = slices.Clone(c.Shards)
	for i := range c.Shards {
		c.Shards[i].Replicas = slices.Clone(c.Shards[i].Replicas)
		for j := range c.Shards[i].Replicas {
			if r := &c.Shards[i].Replicas[j]; r.Addr == addr {
				r.Conn = conn(r.Conn)
			}
		}
	}
	return &c
}

// A replica the purger cannot reach cannot be verified: every drop and
// delete fails before it is sent, naming the replica, and nothing is
// reported done, counted or deleted.
func TestClusterPassFailsWhenAReplicaCannotBeReached(t *testing.T) {
	t.Parallel()
	tenants := twoTenants("cludown")
	r := defaultRetention()
	f := newClusterFixture(t, cutoffSet(tenants[0], r, today))
	down, cluster := f.cluster.Shards[0].Replicas[1].Addr, f.cluster
	f.cluster = withReplica(f, down, func(driver.Conn) driver.Conn {
		// Nothing listens on port 1: the replica's server is down.
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{"127.0.0.1:1"}, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	})
	rep, err := f.purger(t, r, nil).Purge(context.Background(), today, false)
	if err == nil || !strings.Contains(err.Error(), "replica "+down+" cannot be reached") {
		t.Fatalf("pass error %v: want one naming replica %s as unreachable", err, down)
	}
	drops, deletes := f.model.purge(r, today) // what the pass had to do
	if len(rep.Actions) != len(drops)+len(deletes) || rep.Rows() != 0 || rep.PartitionsDropped() != 0 {
		t.Errorf("report: %d actions, %d rows, %d drops; want %d failed actions and nothing done",
			len(rep.Actions), rep.Rows(), rep.PartitionsDropped(), len(drops)+len(deletes))
	}
	for _, a := range rep.Actions {
		if a.Outcome != retention.OutcomeFailed || !strings.Contains(fmt.Sprint(a.Err), down) {
			t.Errorf("action %s %s %s: outcome %s, error %v; want failed, naming %s", a.Kind, a.Table, a.Partition, a.Outcome, a.Err, down)
		}
	}
	for _, l := range purgeLog(t, f.conn, f.cfg, rep.RunID) {
		if l.Outcome != "failed" || !strings.Contains(l.Error, down) {
			t.Errorf("purge_log row %+v: want failed, naming %s", l, down)
		}
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total"); got != 0 {
		t.Errorf("orderflow_purge_rows_total = %v, want 0", got)
	}
	// Nothing was deleted anywhere: the model is still the orders.
	f.model, f.cluster = newModel(t, f.conn, f.orders), cluster
	checkEveryReplica(t, f)
}

// lateWrite is a replica's connection on which a row is written into the
// replica's own table just before the purger's first count there, as a
// write arriving at that replica after a drop would be.
type lateWrite struct {
	driver.Conn
	table string // the local table whose first count triggers the write
	once  sync.Once
	write func()
}

func (c *lateWrite) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	if strings.HasPrefix(query, "SELECT count() FROM "+c.table+" WHERE") {
		c.once.Do(c.write)
	}
	return c.Conn.QueryRow(ctx, query, args...)
}

// An expired row that a replica holds after a drop fails the drop, naming
// the replica and no value of the row; the next pass drops the partition
// again and every replica is clean.
func TestClusterARowLeftOnOneReplicaFailsThePass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenants := twoTenants("clulate")
	r := defaultRetention()
	f := newClusterFixture(t, cutoffSet(tenants[0], r, today))
	// The oldest label partition is the labels' first drop.
	oldest := slices.MinFunc(f.orders, func(a, b order) int { return a.purchasedAt.Compare(b.purchasedAt) })
	late := order{tenant: tenants[0], channel: "ebay", id: "LATE-7", purchasedAt: oldest.purchasedAt}
	labels := f.localTable(schema.TableDeliveryLabels)
	replica := f.cluster.Shards[0].Replicas[1]
	wrapped := &lateWrite{table: labels, write: func() {
		batch, err := replica.Conn.PrepareBatch(ctx, "INSERT INTO "+labels+
			" (tenant_id, channel, channel_order_id, version, purchased_at, ship_country, ship_service_level, label_ciphertext, written_at)")
		if err == nil {
			err = batch.Append(late.tenant, late.channel, late.id, uint64(1), late.purchasedAt, "GB", "Standard", "vault:v1:bGF0ZQ==", today)
		}
		if err == nil {
			err = batch.Send()
		}
		if err != nil {
			t.Errorf("late write: %v", err)
		}
	}}
	f.cluster = withReplica(f, replica.Addr, func(conn driver.Conn) driver.Conn { wrapped.Conn = conn; return wrapped })
	p := f.purger(t, r, nil)

	rep, err := p.Purge(ctx, today, false)
	if err == nil || !strings.Contains(err.Error(), "remain on replica "+replica.Addr) {
		t.Fatalf("pass error %v: want one naming replica %s as holding rows", err, replica.Addr)
	}
	partition := f.model.partitionText(schema.TableDeliveryLabels, late)
	var failed []string
	for _, a := range rep.Actions {
		if a.Outcome == retention.OutcomeFailed {
			failed = append(failed, a.Table+" "+a.Partition)
			for _, value := range []string{late.id, tenants[0], "vault:"} {
				if strings.Contains(a.Err.Error(), value) {
					t.Errorf("the error %q holds a value of the row", a.Err)
				}
			}
		}
	}
	if want := []string{schema.TableDeliveryLabels + " " + partition}; !slices.Equal(failed, want) {
		t.Errorf("failed actions %v, want %v", failed, want)
	}

	// The next pass drops the partition again (one row: the late one, once
	// the shard's other replica has it too), and every replica then holds
	// what the model does.
	f.model.purge(r, today)
	for _, r := range f.cluster.Replicas() {
		execOn(t, r.Conn, "SYSTEM SYNC REPLICA "+labels)
	}
	again, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatal(err)
	}
	drops, deletes := reportSteps(again)
	if want := []step{{schema.TableDeliveryLabels, partition, 1}}; !cmp.Equal(drops, want, cmp.AllowUnexported(step{})) || len(deletes) != 0 {
		t.Errorf("second pass dropped %v and deleted %v; want %v only", drops, deletes, want)
	}
	checkEveryReplica(t, f)
}
