package stacktest_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestClusterReplicatedShardsThroughDistributed proves the local ClickHouse
// cluster through clickhouse-go as cluster mode will use it: tables made ON
// CLUSTER with ReplicatedReplacingMergeTree ({shard}/{replica} macros) and a
// Distributed table over them; every snapshot of an order inserted into the
// local table of the shard a hash of tenant and order id chooses, a shard's
// snapshots spread over its replicas; then totals under FINAL through
// Distributed, asked of every server, equal the tally, and each replica holds
// its shard's whole data, written on either, also when it was stopped while
// the other took a batch (stacktest's StopServer, StartServer). Last, one later snapshot written
// to the wrong shard is counted twice: the reason the writer must route by the
// hash (18.16 applies FINAL per shard).
func TestClusterReplicatedShardsThroughDistributed(t *testing.T) {
	cluster := stacktest.ClickHouseCluster(t)
	if len(cluster.Shards) < 2 || len(cluster.Shards[0]) < 2 {
		t.Fatalf("cluster %s has shards %v: this test needs 2 shards, the first with 2 replicas (make cluster-up)", cluster.Name, cluster.Shards)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	conns := map[string]driver.Conn{}
	for _, addr := range cluster.Servers() {
		conns[addr] = openClickHouse(t, addr)
	}
	first := conns[cluster.Shards[0][0]]

	db := stacktest.UniqueName("cluster")
	onCluster := " ON CLUSTER " + cluster.Name
	if err := first.Exec(ctx, "CREATE DATABASE "+db+onCluster); err != nil {
		t.Fatalf("create database on cluster: %v", err)
	}
	t.Cleanup(func() {
		// Dropping the last replica of a table removes its ZooKeeper path too.
		if err := first.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+onCluster); err != nil {
			t.Logf("drop database %s on cluster: %v", db, err)
		}
	})
	if err := first.Exec(ctx, `CREATE TABLE `+db+`.facts_local`+onCluster+` (
		tenant String,
		order_id String,
		status String,
		amount Decimal(18, 2),
		order_date Date,
		version UInt64
	) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/`+db+`.facts_local', '{replica}', version)
	PARTITION BY toYYYYMM(order_date)
	ORDER BY (tenant, order_id)`); err != nil {
		t.Fatalf("create replicated table on cluster: %v", err)
	}
	if err := first.Exec(ctx, "CREATE TABLE "+db+".facts"+onCluster+" AS "+db+".facts_local "+
		"ENGINE = Distributed("+cluster.Name+", "+db+", facts_local, sipHash64(tenant, order_id))"); err != nil {
		t.Fatalf("create distributed table on cluster: %v", err)
	}

	// 3,000 orders of 5 tenants in two months; a third shipped in a second
	// snapshot, a tenth of those refunded to a lower amount in a third.
	type snapshot struct {
		tenant, orderID, status string
		amount                  decimal.Decimal
		day                     time.Time
		version                 uint64
	}
	const orders = 3000
	nShards := len(cluster.Shards)
	// byShard[shard][version-1]: the snapshots of one version that belong to a shard.
	byShard := make([][3][]snapshot, nShards)
	wantRows := make([]uint64, nShards)
	var wantShipped uint64
	wantPennies := int64(0)
	for i := range orders {
		s := snapshot{
			tenant:  fmt.Sprintf("tenant-%d", i%5),
			orderID: fmt.Sprintf("202-%07d-%07d", i, i*13),
			status:  "pending",
			amount:  decimal.New(int64(i)*41+3, -2),
			day:     time.Date(2026, 10, 1+i%61/2, 0, 0, 0, 0, time.UTC),
			version: 1,
		}
		shard := shardOf(s.tenant, s.orderID, nShards)
		byShard[shard][0] = append(byShard[shard][0], s)
		pennies := int64(i)*41 + 3
		if i%3 == 0 {
			s.status, s.version = "shipped", 2
			byShard[shard][1] = append(byShard[shard][1], s)
			if i%10 == 0 {
				s.status, s.version, s.amount = "refunded", 3, decimal.New(100, -2)
				byShard[shard][2] = append(byShard[shard][2], s)
				pennies = 100
			} else {
				wantShipped++
			}
		}
		wantRows[shard]++
		wantPennies += pennies
	}
	insert := func(conn driver.Conn, rows []snapshot) {
		t.Helper()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".facts_local (tenant, order_id, status, amount, order_date, version)")
		if err != nil {
			t.Fatalf("prepare batch: %v", err)
		}
		for _, r := range rows {
			if err := batch.Append(r.tenant, r.orderID, r.status, r.amount, r.day, r.version); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		if err := batch.Send(); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Each version's batch to the next replica of its shard: on shard 1, the
	// first and third snapshots go to one replica and the second to the other,
	// so FINAL there collapses versions that arrived through different replicas.
	for shard, versions := range byShard {
		replicas := cluster.Shards[shard]
		for v, rows := range versions {
			if len(rows) == 0 {
				t.Fatalf("shard %d got no snapshots of version %d: the fixture must reach every shard", shard+1, v+1)
			}
			insert(conns[replicas[v%len(replicas)]], rows)
		}
	}
	for _, addr := range cluster.Servers() {
		// Waits until this replica has fetched every part its shard's others wrote.
		if err := conns[addr].Exec(ctx, "SYSTEM SYNC REPLICA "+db+".facts_local"); err != nil {
			t.Fatalf("sync replica %s: %v", addr, err)
		}
	}

	// Each replica holds its whole shard under FINAL, whichever replica took a batch.
	for shard, replicas := range cluster.Shards {
		for _, addr := range replicas {
			var rows uint64
			if err := conns[addr].QueryRow(ctx, "SELECT count() FROM "+db+".facts_local FINAL").Scan(&rows); err != nil {
				t.Fatalf("count on %s: %v", addr, err)
			}
			if rows != wantRows[shard] {
				t.Errorf("shard %d replica %s: %d orders under FINAL, want %d", shard+1, addr, rows, wantRows[shard])
			}
		}
	}
	// The whole through Distributed, asked of every server.
	totals := func(conn driver.Conn) (rows, shipped uint64, amount decimal.Decimal) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(), countIf(status = 'shipped'), sum(amount) FROM "+db+".facts FINAL").
			Scan(&rows, &shipped, &amount); err != nil {
			t.Fatalf("totals through Distributed: %v", err)
		}
		return rows, shipped, amount
	}
	wantAmount := decimal.New(wantPennies, -2)
	for _, addr := range cluster.Servers() {
		rows, shipped, amount := totals(conns[addr])
		if rows != orders || shipped != wantShipped || !amount.Equal(wantAmount) {
			t.Errorf("through Distributed on %s: %d orders, %d shipped, %s in all; want %d, %d, %s",
				addr, rows, shipped, amount, orders, wantShipped, wantAmount)
		}
	}

	// A replica that was down catches up: shard 1's second replica stopped, a
	// batch of later snapshots written to the first, the second started again.
	down := cluster.Shards[0][1]
	cluster.StopServer(t, down)
	restarted := false
	t.Cleanup(func() {
		// ON CLUSTER statements (the cleanup's DROP) wait for every server.
		if !restarted {
			cluster.StartServer(t, down)
		}
	})
	late := byShard[0][0][:100]
	for i := range late {
		late[i].status, late[i].version = "delivered", 5
	}
	insert(first, late)
	cluster.StartServer(t, down)
	restarted = true
	again := openClickHouse(t, down)
	if err := again.Exec(ctx, "SYSTEM SYNC REPLICA "+db+".facts_local"); err != nil {
		t.Fatalf("sync restarted replica %s: %v", down, err)
	}
	var rows, delivered uint64
	if err := again.QueryRow(ctx, "SELECT count(), countIf(status = 'delivered') FROM "+db+".facts_local FINAL").
		Scan(&rows, &delivered); err != nil {
		t.Fatalf("count on restarted replica %s: %v", down, err)
	}
	if rows != wantRows[0] || delivered != uint64(len(late)) {
		t.Errorf("restarted replica %s: %d orders, %d delivered under FINAL; want %d, %d (written while it was down)",
			down, rows, delivered, wantRows[0], len(late))
	}

	// A later snapshot of one order on the shard that does not own it: FINAL
	// cannot see both versions together, so the order counts twice.
	stray := byShard[0][1][0]
	stray.status, stray.version = "cancelled", 9
	insert(conns[cluster.Shards[1][0]], []snapshot{stray})
	if rows, _, _ := totals(first); rows != orders+1 {
		t.Errorf("with one snapshot on the wrong shard: %d orders under FINAL, want %d (FINAL per shard)", rows, orders+1)
	}
}

// shardOf is the shard (0-based) that owns an order: its every snapshot lands
// there, so ReplacingMergeTree's FINAL, applied per shard, sees them together.
func shardOf(tenant, orderID string, shards int) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenant))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(orderID))
	return int(h.Sum64() % uint64(shards))
}

func openClickHouse(t *testing.T, addr string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("open %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
