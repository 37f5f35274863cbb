package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// In cluster mode (Config.Cluster) a sharded table's rows (schema.Sharded)
// live in <table>_local on every shard, each shard's replicated on its
// servers, and read through the Distributed table of the table's own name;
// every other table is one replicated table with a copy on every server
// (worker/migrate's cluster form). copiesOf is the one place that knows what
// a pass's statements on a table then act on; reads that decide what to
// delete (counts, jurisdictions, ages) go through the Distributed table as on
// a single server.
//
// A drop or delete is done only once every server holding a copy has applied
// it and holds no row it was to remove: replication applies it to the other
// replicas after the statement returns, and a replica that lags, or a row
// written to one copy after the statement, would otherwise be reported gone.
// So before each statement the purger reads every server's newest mutation
// (a server it cannot reach fails the action there, before anything is
// deleted: an ON CLUSTER statement would wait distributed_ddl_task_timeout,
// 180 s, for a server that is down, and fail all the same), and after it waits on each server (the mutation listed there and
// finished, or for a drop the replication log pulled past the drop and no
// drop left in its queue), then counts what the statement was to remove on
// each server's own table (verifyDeleted): a server holding some, or one
// that cannot be asked, fails the action, named by its address.

// copies is where a table's rows are: the table that holds them on each
// server and how a statement reaches every copy.
type copies struct {
	database, name string // the table holding the rows: <table>_local for a sharded table in cluster mode
	// alter begins an ALTER TABLE that reaches every copy: ON CLUSTER for a
	// sharded table (one replica of each shard runs it, replication carries
	// it to the others); on one server for a table replicated on every
	// server, whose copies share one replication log.
	alter string
	// shards reach each distinct set of rows once: each shard's first
	// replica that answers, or the one connection.
	shards []driver.Conn
	// replicas are the servers holding a copy, grouped by the set of rows
	// they hold (a shard's replicas; every server for a table replicated on
	// all); nil on a single server.
	replicas [][]clickhousedb.Replica
}

func (c copies) qualified() string { return c.database + "." + c.name }

// copiesOf returns where t's rows are.
func (p *Purger) copiesOf(t table) copies {
	cl := p.cfg.Cluster
	c := copies{database: t.database, name: t.name, alter: "ALTER TABLE " + t.qualified(), shards: []driver.Conn{p.cfg.Conn}}
	switch {
	case cl == nil:
	case schema.Sharded(t.name):
		c.name = schema.Local(t.name)
		c.alter = "ALTER TABLE " + c.qualified() + " ON CLUSTER " + cl.Name
		c.shards = nil
		for _, sh := range cl.Shards {
			c.shards = append(c.shards, sh.Conn)
			c.replicas = append(c.replicas, sh.Replicas)
		}
	default:
		c.replicas = [][]clickhousedb.Replica{cl.Replicas()}
	}
	return c
}

// replicaMarks reads, before a statement, each server's newest mutation of
// c's table ("" for none), in the order of c.replicas flattened; nil on a
// single server. A server that cannot be asked is an error: the statement
// must not be sent, since it could not be verified there.
func (p *Purger) replicaMarks(ctx context.Context, c copies) ([]string, error) {
	var marks []string
	var errs []error
	for _, r := range flatten(c.replicas) {
		var mark string
		err := r.Conn.QueryRow(ctx, "SELECT max(mutation_id) FROM system.mutations WHERE database = ? AND table = ?", c.database, c.name).Scan(&mark)
		if err != nil {
			errs = append(errs, fmt.Errorf("replica %s cannot be reached, so nothing can be verified there (nothing was deleted): %w", r.Addr, err))
		}
		marks = append(marks, mark)
	}
	return marks, errors.Join(errs...)
}

// awaitReplicas waits, up to MutationTimeout, until every server holding a
// copy of c's table has applied the statement sent after marks were read: a
// mutation newer than its mark listed and every mutation finished, or, for a
// drop, its replication log pulled past the entries there are now and no
// drop left in its queue.
func (p *Purger) awaitReplicas(ctx context.Context, c copies, marks []string, drop bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.MutationTimeout)
	defer cancel()
	var errs []error
	for i, r := range flatten(c.replicas) {
		if err := p.awaitReplica(ctx, c, r, marks[i], drop); err != nil {
			errs = append(errs, fmt.Errorf("replica %s: %w", r.Addr, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Purger) awaitReplica(ctx context.Context, c copies, r clickhousedb.Replica, mark string, drop bool) error {
	var head uint64 // the replication log's newest entry, for a drop
	if drop {
		if err := r.Conn.QueryRow(ctx, "SELECT log_max_index FROM system.replicas WHERE database = ? AND table = ?",
			c.database, c.name).Scan(&head); err != nil {
			return fmt.Errorf("reading its replication log: %w", err)
		}
	}
	wait := 20 * time.Millisecond
	for {
		var done bool
		var err error
		if drop {
			var pulled bool
			var pending uint64
			err = r.Conn.QueryRow(ctx, "SELECT log_pointer > ?, (SELECT count() FROM system.replication_queue WHERE database = ? AND table = ? AND type = 'DROP_RANGE')"+
				" FROM system.replicas WHERE database = ? AND table = ?", head, c.database, c.name, c.database, c.name).Scan(&pulled, &pending)
			done = pulled && pending == 0
		} else {
			var newer, pending uint64
			err = r.Conn.QueryRow(ctx, "SELECT countIf(mutation_id > ?), countIf(is_done = 0) FROM system.mutations WHERE database = ? AND table = ?",
				mark, c.database, c.name).Scan(&newer, &pending)
			done = newer > 0 && pending == 0
		}
		if err != nil {
			return fmt.Errorf("waiting for it to apply the statement: %w", err)
		}
		if done {
			return nil
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("the statement not applied there within %s: %w", p.cfg.MutationTimeout, err)
		}
		wait = min(2*wait, time.Second)
	}
}

// leftOnReplicas counts, on each server holding a copy of c's table, its own
// rows that predicate matches. rows is, for each set of copies, the most any
// of them holds, summed; err names every server that holds some or cannot
// be asked.
func (p *Purger) leftOnReplicas(ctx context.Context, c copies, predicate string) (rows uint64, err error) {
	var errs []error
	for _, group := range c.replicas {
		var most uint64
		for _, r := range group {
			var n uint64
			if err := r.Conn.QueryRow(ctx, "SELECT count() FROM "+c.qualified()+" WHERE "+predicate).Scan(&n); err != nil {
				errs = append(errs, fmt.Errorf("replica %s could not be checked: %w", r.Addr, err))
				continue
			}
			if n > 0 {
				errs = append(errs, fmt.Errorf("%d rows remain on replica %s", n, r.Addr))
			}
			most = max(most, n)
		}
		rows += most
	}
	return rows, errors.Join(errs...)
}

func flatten(groups [][]clickhousedb.Replica) []clickhousedb.Replica {
	var out []clickhousedb.Replica
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}
