// Package clickhousedb opens orderflow's ClickHouse connection from its
// configuration and holds the few operations every user of it needs: waiting
// for mutations and reading the schema version. The writers, the migrator and
// the purger each build on it.
package clickhousedb

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/tlsconfig"
)

// Open connects to ClickHouse with cfg and checks the connection with a ping.
// The connection's default database is cfg.Database; statements name their
// database anyway, since the restricted tables live in another.
func Open(ctx context.Context, cfg config.ClickHouse) (driver.Conn, error) {
	if err := cfg.Require(); err != nil {
		return nil, err
	}
	return open(ctx, cfg, cfg.Addr)
}

// open connects to the servers at addrs (the first that answers, in order)
// with cfg's user, TLS and pool, and pings.
func open(ctx context.Context, cfg config.ClickHouse, addrs []string) (driver.Conn, error) {
	opts, err := options(cfg, addrs)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse: open: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout+cfg.QueryTimeout)
	defer cancel()
	if err := conn.Ping(pingCtx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse: ping %v: %w", addrs, err)
	}
	return conn, nil
}

// options are the driver's options for the servers at addrs: cfg's user,
// TLS and pool, the first server that answers in addrs' order.
func options(cfg config.ClickHouse, addrs []string) (*clickhouse.Options, error) {
	opts := &clickhouse.Options{
		Addr: addrs,
		Auth: clickhouse.Auth{
			// No database: the server's default, which a login does not
			// check. Naming one would need it to exist (migrate creates
			// orderflow's) and, on 18.16, to be in the user's allow_databases,
			// which for orderflow's users it is not. Every statement names
			// its database.
			Database: "",
			Username: cfg.Username,
			Password: cfg.Password.Value.Reveal(),
		},
		Compression:      &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.QueryTimeout,
		MaxOpenConns:     cfg.MaxOpenConns,
		MaxIdleConns:     cfg.MaxOpenConns,
		ConnMaxLifetime:  time.Hour,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	}
	tlsCfg, err := tlsconfig.Client("clickhouse.tls", cfg.TLS)
	if err != nil {
		return nil, err
	}
	opts.TLS = tlsCfg
	return opts, nil
}

// WaitForMutations waits until table has no unfinished mutation (ALTER TABLE
// ... DELETE runs in the background), polling system.mutations. It is how a
// purge or an offboarding knows its deletes are done before it counts what
// remains. ClickHouse 18.16 has no mutations_sync setting, hence the poll.
func WaitForMutations(ctx context.Context, conn driver.Conn, database, table string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		var pending uint64
		err := conn.QueryRow(ctx,
			"SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0",
			database, table).Scan(&pending)
		if err != nil {
			return fmt.Errorf("clickhouse: mutations of %s.%s: %w", database, table, err)
		}
		if pending == 0 {
			return nil
		}
		if err := backoff.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("clickhouse: %d mutations of %s.%s unfinished after %s: %w", pending, database, table, timeout, err)
		}
		wait = min(2*wait, time.Second)
	}
}

// EachRow runs query and calls scan on each row of the answer, stopping at
// the first error; it closes the rows and returns their error too, which a
// loop over rows.Next alone would lose.
func EachRow(ctx context.Context, conn driver.Conn, scan func(driver.Rows) error, query string, args ...any) error {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
