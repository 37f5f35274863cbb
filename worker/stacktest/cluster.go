package stacktest

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment variables of the local ClickHouse cluster, written by
// deploy/local/clickhouse-cluster.sh to .stack/cluster.env (make cluster-up),
// apart from .stack/env: the cluster is started only when asked for.
const (
	// EnvClickHouseCluster names the cluster in the servers' <remote_servers>.
	EnvClickHouseCluster = "ORDERFLOW_TEST_CLICKHOUSE_CLUSTER"
	// EnvClickHouseClusterShard + "1", "2", ...: a shard's replicas, native
	// addresses joined by ",".
	EnvClickHouseClusterShard = "ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_SHARD_"
	// EnvClickHouseClusterControl is the script whose "stop N" and "start N"
	// stop and start the cluster's server N (counted across the shards in order).
	EnvClickHouseClusterControl = "ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_CONTROL"
)

const howToStartCluster = "start the local ClickHouse cluster with `make cluster-up` and export its " +
	"addresses (set -a; . .stack/cluster.env), or run `make test-cluster`"

// Cluster is the local ClickHouse cluster: Replicated*MergeTree
// tables there take their ZooKeeper path from the {shard} macro and their
// replica name from {replica}; ON CLUSTER statements reach every server.
type Cluster struct {
	// Name is the cluster's name, for ON CLUSTER and Distributed(Name, ...).
	Name string
	// Shards holds each shard's replicas (native host:port), in the order of the
	// cluster's <remote_servers> (system.clusters' shard_num is its index + 1).
	Shards  [][]string
	control string
}

// ClickHouseCluster returns the local ClickHouse cluster, skipping the test when the
// environment does not name it (failing under CI, as for the other servers)
// and failing it when a server does not accept connections.
func ClickHouseCluster(t testing.TB) Cluster {
	t.Helper()
	c := Cluster{
		Name:    requireOr(t, EnvClickHouseCluster, "ClickHouse (cluster)", howToStartCluster),
		control: os.Getenv(EnvClickHouseClusterControl),
	}
	for i := 1; ; i++ {
		v := os.Getenv(EnvClickHouseClusterShard + strconv.Itoa(i))
		if v == "" {
			break
		}
		c.Shards = append(c.Shards, strings.Split(v, ","))
	}
	if len(c.Shards) == 0 {
		t.Fatalf("%s is set but not %s1: .stack/cluster.env is incomplete; %s",
			EnvClickHouseCluster, EnvClickHouseClusterShard, howToStartCluster)
	}
	for _, addr := range c.Servers() {
		reachable(t, "ClickHouse (cluster)", addr)
	}
	return c
}

// Servers returns every server's native address, shard by shard.
func (c Cluster) Servers() []string {
	return slices.Concat(c.Shards...)
}

// StopServer stops the cluster's server at addr (a replica going down) and
// returns once its process has ended.
func (c Cluster) StopServer(t testing.TB, addr string) {
	t.Helper()
	c.run(t, "stop", addr)
}

// StartServer starts the cluster's server at addr again and returns once it
// answers and sees ZooKeeper; its replicated tables then catch up by themselves.
func (c Cluster) StartServer(t testing.TB, addr string) {
	t.Helper()
	c.run(t, "start", addr)
}

func (c Cluster) run(t testing.TB, action, addr string) {
	t.Helper()
	if c.control == "" {
		t.Fatalf("%s is not set: cannot %s %s; %s", EnvClickHouseClusterControl, action, addr, howToStartCluster)
	}
	i := slices.Index(c.Servers(), addr)
	if i < 0 {
		t.Fatalf("%s is not one of the cluster's servers %v", addr, c.Servers())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.control, action, strconv.Itoa(i+1)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s %d (%s): %v\n%s", c.control, action, i+1, addr, err, out)
	}
}
