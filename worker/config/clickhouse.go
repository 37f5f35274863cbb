package config

import (
	"errors"
	"time"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
)

// ClickHouse is where facts, labels and financial records are written
// (worker/facts) and purged (worker/retention).
//
// Like Vault, it is checked only by the commands that need it (Require): a
// replay of dead letters does not.
type ClickHouse struct {
	// Addr are the servers' native-protocol addresses, host:port (9000, or 9440
	// with TLS). Default none.
	Addr []string `yaml:"addr"`
	// Database holds the analytics-safe tables (order_facts, order_line_facts,
	// purge_log) and the migrations' version table. Default "orderflow".
	Database string `yaml:"database"`
	// RestrictedDatabase holds the encrypted label and financial tables, so that
	// access to it can be granted apart. Default "orderflow_restricted".
	RestrictedDatabase string `yaml:"restricted_database"`
	// Username logs in to ClickHouse. Default "default".
	Username string `yaml:"username"`
	// Password says where the password is; unset means none.
	Password SecretRef `yaml:"password"`
	// TLS to the servers (their secure native port, 9440): a CA file, and a
	// client certificate for servers that require mutual TLS. Default off.
	TLS TLS `yaml:"tls"`
	// DialTimeout bounds a connection attempt. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// QueryTimeout bounds one statement: an insert, a purge's ALTER. Default 1m.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// MaxOpenConns caps the pool; the writer inserts its tables in parallel.
	// Default 8; 1 to 256.
	MaxOpenConns int `yaml:"max_open_conns"`
	// MutationTimeout bounds the wait for an ALTER TABLE ... DELETE to finish.
	// Default 30m.
	MutationTimeout time.Duration `yaml:"mutation_timeout"`
	// Cluster names a cluster of the servers' <remote_servers> to run on:
	// migrations run ON CLUSTER with Replicated*MergeTree tables, the order
	// tables are sharded by tenant and order (each shard's rows in
	// <table>_local, read through a Distributed table of the table's own
	// name), and purges act on every shard and replica. The servers are
	// found in system.clusters of Addr and reached with this section's
	// user, password and TLS. Default none: a single server.
	Cluster string `yaml:"cluster"`
}

func defaultClickHouse() ClickHouse {
	return ClickHouse{
		Database:           "orderflow",
		RestrictedDatabase: "orderflow_restricted",
		Username:           "default",
		DialTimeout:        5 * time.Second,
		QueryTimeout:       time.Minute,
		MaxOpenConns:       8,
		MutationTimeout:    30 * time.Minute,
	}
}

// Require reports, naming clickhouse.addr, that ClickHouse is not configured:
// for the commands that cannot run without it.
func (c ClickHouse) Require() error {
	if len(c.Addr) == 0 {
		return keyErr("clickhouse.addr", "required: this command reads or writes ClickHouse")
	}
	return nil
}

func (c ClickHouse) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i, a := range c.Addr {
		if !validHostPort(a) {
			add(keyErr("clickhouse.addr", "entry %d is not host:port", i))
		}
	}
	errs = append(errs, databases(c.Database, c.RestrictedDatabase)...)
	add(nonEmpty("clickhouse.username", c.Username))
	errs = append(errs, c.TLS.validate("clickhouse.tls")...)
	add(between("clickhouse.dial_timeout", c.DialTimeout, 100*time.Millisecond, time.Minute))
	add(between("clickhouse.query_timeout", c.QueryTimeout, time.Second, time.Hour))
	add(intBetween("clickhouse.max_open_conns", c.MaxOpenConns, 1, 256))
	add(between("clickhouse.mutation_timeout", c.MutationTimeout, time.Second, 24*time.Hour))
	if c.Cluster != "" && !schema.ValidDatabaseName(c.Cluster) {
		// The name goes into ON CLUSTER and Distributed(...) unquoted.
		add(keyErr("clickhouse.cluster", "%q is not a cluster name of letters, digits and '_'", c.Cluster))
	}
	return errs
}

// ValidateDatabases checks the two database names as Load does, each error
// naming its key: for components given the names in code (worker/retention).
func ValidateDatabases(database, restrictedDatabase string) error {
	return errors.Join(databases(database, restrictedDatabase)...)
}

func databases(database, restrictedDatabase string) []error {
	var errs []error
	for _, db := range []struct{ key, name string }{
		{"clickhouse.database", database},
		{"clickhouse.restricted_database", restrictedDatabase},
	} {
		if !schema.ValidDatabaseName(db.name) {
			errs = append(errs, keyErr(db.key, "%q is not %s", db.name, schema.DatabaseNameRule))
		}
	}
	if database == restrictedDatabase {
		errs = append(errs, keyErr("clickhouse.restricted_database", "must differ from clickhouse.database: access is granted per database"))
	}
	return errs
}
