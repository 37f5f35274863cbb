package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/demo"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/generate/produce"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
)

// useClusterMigrated points the commands at a fresh pair of databases
// migrated on the local ClickHouse cluster (clickhouse.cluster set; dropped
// ON CLUSTER at the test's end), and returns them with a connection and the
// cluster's.
func (e *stackEnv) useClusterMigrated(t *testing.T) (config.ClickHouse, driver.Conn, *clickhousedb.Cluster, stacktest.Cluster) {
	t.Helper()
	ch, conn, cluster := clickhousetest.ClusterMigrated(t)
	e.ch = ch
	e.vars = append(e.vars,
		"ORDERFLOW_CLICKHOUSE_ADDR="+strings.Join(ch.Addr, ","),
		"ORDERFLOW_CLICKHOUSE_CLUSTER="+ch.Cluster,
		"ORDERFLOW_CLICKHOUSE_DATABASE="+ch.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE="+ch.RestrictedDatabase)
	return ch, conn, cluster, stacktest.ClickHouseCluster(t)
}

// Three workers in one consumer group write a generated stream into the
// 2-shard cluster while shard 1's first replica, the one its inserts go to,
// is stopped mid-stream and started again once the stream has ended. Every
// offset is committed; through the Distributed tables under FINAL the orders
// by tenant and channel, the rows and the totals per currency to the penny
// are the generator's tally; and the restarted replica holds what its
// shard's other replica was written while it was down, row for row.
func TestClusterThreeWorkersAndARestartedReplicaLoseNothing(t *testing.T) {
	e := newStackEnv(t)
	ch, conn, cluster, local := e.useClusterMigrated(t)
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0") // purges on the cluster: worker/retention's tests
	if len(cluster.Shards) < 2 || len(cluster.Shards[0].Replicas) < 2 {
		t.Fatalf("the local cluster has shards %v: want 2 shards, the first with 2 replicas", local.Shards)
	}
	stopped := cluster.Shards[0].Replicas[0]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 3)
	for range 3 {
		cfg := e.config(t)
		cfg.Metrics.Listen = freeAddr(t)
		go func() {
			done <- runWorker(ctx, cfg, nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
	}
	// The stream: a first part while the workers join, the rest paced, the
	// replica stopped as it starts. The same configuration made again gives
	// the tally of the whole stream.
	const first, count = 1000, 9000
	genCfg := generate.Config{Seed: 1717, Tenants: 6, Now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), UpdateRate: 0.4, MalformedRate: 0.01}
	gen, err := generate.New(genCfg)
	if err != nil {
		t.Fatal(err)
	}
	tally, err := generate.New(genCfg)
	if err != nil {
		t.Fatal(err)
	}
	for range count {
		tally.Next()
	}
	run := func(n int64, rate float64) produce.Result {
		t.Helper()
		p, err := produce.New(produce.Config{Generator: gen, Brokers: e.brokers, Count: n, Rate: rate,
			Topics: map[order.Channel]string{order.ChannelAmazon: e.amazon, order.ChannelEbay: e.ebay}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Run(ctx)
		if err != nil || r.Acknowledged != n {
			t.Fatalf("produce: %d of %d acknowledged: %v", r.Acknowledged, n, err)
		}
		return r
	}
	run(first, 0)
	facts := func() uint64 {
		return clickhousetest.Count(t, conn, "SELECT count() FROM "+ch.Database+".order_facts")
	}
	deadline := time.Now().Add(3 * time.Minute)
	for facts() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	rest := make(chan produce.Result, 1)
	go func() { rest <- run(count-first, 800) }()
	// Mid-stream: shard 1 loses the replica its inserts go to; the writers
	// carry on on its other replica.
	local.StopServer(t, stopped.Addr)
	t.Cleanup(func() { local.StartServer(t, stopped.Addr) }) // a no-op once started
	other := cluster.Shards[0].Replicas[1]
	onOther := func() uint64 {
		return clickhousetest.Count(t, other.Conn, "SELECT count() FROM "+ch.Database+".order_facts_local")
	}
	atStop := onOther()
	<-rest
	waitCommitted(t, e, e.config(t).Kafka.GroupID, []string{e.amazon, e.ebay}, 3)
	if n := onOther(); n <= atStop {
		t.Fatalf("shard 1's other replica %s had %d rows when %s stopped and %d at the stream's end: the writers wrote nothing to shard 1 meanwhile",
			other.Addr, atStop, stopped.Addr, n)
	}
	local.StartServer(t, stopped.Addr)
	cancel()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	clickhousetest.SyncReplicas(t, ch, cluster)

	g := tally.Stats()
	s, err := demo.Query(context.Background(), conn, ch.Database, ch.RestrictedDatabase)
	if err != nil {
		t.Fatal(err)
	}
	for tenant, byChannel := range g.Tenants {
		for channel, c := range byChannel {
			if got := s.OrdersByTenant[tenant][channel]; got != uint64(c.Orders) {
				t.Errorf("%s/%s: %d orders under FINAL, want %d", tenant, channel, got, c.Orders)
			}
		}
	}
	// Stored rows are not counted: merges collapse snapshots as they go.
	for _, table := range []string{"order_facts", "financial_records"} {
		if got := s.Rows[table][1]; got != uint64(g.Orders) {
			t.Errorf("%s: %d rows under FINAL, want %d", table, got, g.Orders)
		}
	}
	for cur, want := range g.Currencies {
		got := s.Currencies[cur]
		if got.Orders != uint64(want.Orders) || !sameAmount(got.Total, want.Total) || !sameAmount(got.Refunded, want.Refunded) {
			t.Errorf("%s: %+v, want %d orders, total %s, refunded %s", cur, got, want.Orders, want.Total, want.Refunded)
		}
	}
	if len(s.Currencies) != len(g.Currencies) || g.Orders == 0 {
		t.Errorf("currencies %v, want %v", s.Currencies, g.Currencies)
	}

	// The restarted replica caught up: its shard's tables hold, row for row,
	// what the other replica holds.
	for _, table := range []string{"order_facts", "order_line_facts", "delivery_labels", "financial_records"} {
		db := ch.Database
		if table == "delivery_labels" || table == "financial_records" {
			db = ch.RestrictedDatabase
		}
		q := "SELECT count(), sum(cityHash64(tenant_id, channel_order_id, version)) FROM " + db + "." + table + "_local FINAL"
		var n, sum [2]uint64
		for i, replica := range cluster.Shards[0].Replicas[:2] {
			if err := replica.Conn.QueryRow(context.Background(), q).Scan(&n[i], &sum[i]); err != nil {
				t.Fatalf("%s: %v", replica.Addr, err)
			}
		}
		if n[0] != n[1] || sum[0] != sum[1] || n[0] == 0 {
			t.Errorf("%s: the restarted replica %s holds %d rows, its shard's other replica %d (checksums %d, %d)",
				table, stopped.Addr, n[0], n[1], sum[0], sum[1])
		}
	}
}

// A worker configured for one server refuses the cluster's schema at start,
// and one configured for a cluster refuses a server outside it: either
// would write where the other mode's readers and purges never look.
func TestClusterRunRefusesTheOtherModesSchema(t *testing.T) {
	e := newStackEnv(t)
	ch, _, _, _ := e.useClusterMigrated(t)
	single := e.config(t)
	single.ClickHouse.Cluster = ""
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runWorker(ctx, single, nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "set clickhouse.cluster") {
		t.Errorf("a single-server worker on the cluster's schema: %v, want a refusal naming clickhouse.cluster", err)
	}

	// The stack's own server is in no cluster of that name.
	outside := e.config(t)
	outside.ClickHouse.Addr = []string{stacktest.ClickHouseAddr(t)}
	err = runWorker(ctx, outside, nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "cluster "+ch.Cluster+" (clickhouse.cluster) is not in system.clusters") {
		t.Errorf("a cluster worker on a server outside the cluster: %v, want a refusal naming clickhouse.cluster", err)
	}
}
