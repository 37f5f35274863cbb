package clickhousedb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/go-faster/city"

	"github.com/orderflow/orderflow/worker/config"
)

// Cluster is the ClickHouse cluster that clickhouse.cluster names, as its
// servers' system.clusters describes it: its shards, each with its replicas,
// and a connection to each. The writer inserts into the shard that owns an
// order (ShardOf); the purger acts on every shard and checks every replica.
type Cluster struct {
	// Name is the cluster's name, for ON CLUSTER and Distributed(Name, ...).
	Name string
	// Shards are the cluster's shards in shard_num order.
	Shards []Shard
	// slots maps a sharding key's remainder to a shard, as a Distributed
	// table does: each shard holds as many slots as its weight.
	slots []int
}

// Shard is one shard of a Cluster.
type Shard struct {
	// Num is the shard's shard_num (1, 2, ...).
	Num int
	// Conn reaches the shard through its first replica that answers.
	Conn driver.Conn
	// Replicas are the shard's servers.
	Replicas []Replica
}

// Replica is one server of a shard.
type Replica struct {
	// Addr is the server's native address, host:port, as system.clusters
	// gives it.
	Addr string
	// Conn reaches this server alone. It connects when first used: a replica
	// that is down fails what needs it (a purge's check) and nothing else.
	Conn driver.Conn
}

// OpenCluster reads the cluster cfg.Cluster names from system.clusters
// through conn (a connection from Open) and connects to its shards and
// replicas with cfg's user, password and TLS. It fails when the cluster is
// unknown there or no replica of a shard answers.
func OpenCluster(ctx context.Context, cfg config.ClickHouse, conn driver.Conn) (*Cluster, error) {
	if cfg.Cluster == "" {
		return nil, errors.New("clickhouse: no cluster configured (clickhouse.cluster)")
	}
	c := &Cluster{Name: cfg.Cluster}
	type server struct {
		shard, weight int
		addr          string
	}
	var servers []server
	if err := EachRow(ctx, conn, func(rows driver.Rows) error {
		var shard, weight uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &weight, &host, &port); err != nil {
			return err
		}
		servers = append(servers, server{int(shard), int(weight), net.JoinHostPort(host, strconv.Itoa(int(port)))})
		return nil
	}, "SELECT shard_num, shard_weight, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cfg.Cluster); err != nil {
		return nil, fmt.Errorf("clickhouse: reading cluster %s from system.clusters: %w", cfg.Cluster, err)
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("clickhouse: cluster %s (clickhouse.cluster) is not in system.clusters of %v: check the servers' <remote_servers>", cfg.Cluster, cfg.Addr)
	}
	for _, s := range servers {
		if len(c.Shards) == 0 || c.Shards[len(c.Shards)-1].Num != s.shard {
			c.Shards = append(c.Shards, Shard{Num: s.shard})
			for range s.weight {
				c.slots = append(c.slots, len(c.Shards)-1)
			}
		}
		sh := &c.Shards[len(c.Shards)-1]
		sh.Replicas = append(sh.Replicas, Replica{Addr: s.addr})
	}
	if len(c.slots) == 0 {
		return nil, fmt.Errorf("clickhouse: cluster %s: every shard has weight 0", cfg.Cluster)
	}
	for i := range c.Shards {
		sh := &c.Shards[i]
		addrs := make([]string, len(sh.Replicas))
		for j := range sh.Replicas {
			addrs[j] = sh.Replicas[j].Addr
			replicaConn, err := lazy(cfg, addrs[j])
			if err != nil {
				_ = c.Close()
				return nil, err
			}
			sh.Replicas[j].Conn = replicaConn
		}
		shardConn, err := open(ctx, cfg, addrs)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("clickhouse: cluster %s shard %d: %w", cfg.Cluster, sh.Num, err)
		}
		sh.Conn = shardConn
	}
	return c, nil
}

// lazy returns a connection to addr that dials when first used.
func lazy(cfg config.ClickHouse, addr string) (driver.Conn, error) {
	opts, err := options(cfg, []string{addr})
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open %s: %w", addr, err)
	}
	return conn, nil
}

// ShardOf returns the index in Shards of the shard that owns the order: the
// shard a Distributed table with schema.ShardingKey would insert it into.
func (c *Cluster) ShardOf(tenantID, channelOrderID string) int {
	return c.slots[ShardingHash(tenantID, channelOrderID)%uint64(len(c.slots))]
}

// ShardingHash is ClickHouse's cityHash64(tenantID, channelOrderID): the hash
// of each string (CityHash 1.0.2, which ClickHouse keeps), combined as
// ClickHouse combines the hashes of several arguments.
func ShardingHash(tenantID, channelOrderID string) uint64 {
	return hash128to64(city.CH64([]byte(tenantID)), city.CH64([]byte(channelOrderID)))
}

// hash128to64 is CityHash's Hash128to64 of the 128-bit value (low, high).
func hash128to64(low, high uint64) uint64 {
	const mul = 0x9ddfea08eb382d69
	a := (low ^ high) * mul
	a ^= a >> 47
	b := (high ^ a) * mul
	b ^= b >> 47
	return b * mul
}

// Replicas returns every server of the cluster, shard by shard.
func (c *Cluster) Replicas() []Replica {
	var out []Replica
	for _, sh := range c.Shards {
		out = append(out, sh.Replicas...)
	}
	return out
}

// SyncReplicas waits until every replica has fetched what the others were
// written (SYSTEM SYNC REPLICA on each replicated table of the databases, on
// every server): a read through a Distributed table may go to any replica of
// a shard, and a count taken on one replica to check a purge or a total must
// see what was written to the other.
func (c *Cluster) SyncReplicas(ctx context.Context, databases ...string) error {
	for _, r := range c.Replicas() {
		var tables []string
		err := EachRow(ctx, r.Conn, func(rows driver.Rows) error {
			var name string
			err := rows.Scan(&name)
			tables = append(tables, name)
			return err
		}, "SELECT concat(database, '.', name) FROM system.tables WHERE has(?, database) AND engine LIKE 'Replicated%'", databases)
		if err != nil {
			return fmt.Errorf("clickhouse: listing the replicated tables on %s: %w", r.Addr, err)
		}
		for _, table := range tables {
			if err := r.Conn.Exec(ctx, "SYSTEM SYNC REPLICA "+table); err != nil {
				return fmt.Errorf("clickhouse: SYSTEM SYNC REPLICA %s on %s: %w", table, r.Addr, err)
			}
		}
	}
	return nil
}

// Close closes every connection.
func (c *Cluster) Close() error {
	var errs []error
	for _, sh := range c.Shards {
		if sh.Conn != nil {
			errs = append(errs, sh.Conn.Close())
		}
		for _, r := range sh.Replicas {
			if r.Conn != nil {
				errs = append(errs, r.Conn.Close())
			}
		}
	}
	return errors.Join(errs...)
}
