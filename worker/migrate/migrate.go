// Package migrate applies the ClickHouse schema (schemas/clickhouse) and
// records each applied version in {database}.schema_migrations.
//
// ClickHouse has neither DDL transactions nor locks, so safety comes from the
// migrations themselves: every statement is idempotent (a test in
// schemas/clickhouse holds them to it). Two migrators that start at once both
// run the pending statements, harmlessly, and both record the version; the
// version table is a ReplacingMergeTree read with FINAL, so it shows each
// version once. A migrator that dies half way is simply run again.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"regexp"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// Config configures a Migrator.
type Config struct {
	Conn driver.Conn
	// Database and RestrictedDatabase are the configured database names
	// (clickhouse.database, clickhouse.restricted_database).
	Database, RestrictedDatabase string
	// AppliedBy is recorded beside each version. Default: the host name.
	AppliedBy string
	// Cluster, when set, is the ClickHouse cluster to migrate
	// (clickhouse.cluster): every statement runs in its cluster form
	// (cluster.go). Nil: a single server.
	Cluster *clickhousedb.Cluster
	Logger  *slog.Logger
}

// Migrator applies and checks the schema.
type Migrator struct {
	cfg        Config
	migrations []schema.Migration
	log        *slog.Logger
}

// ErrSchemaBehind is returned by Check when migrations are pending.
var ErrSchemaBehind = errors.New("the ClickHouse schema is behind this binary: run orderflow migrate")

// New returns a Migrator for the embedded migrations.
func New(cfg Config) (*Migrator, error) {
	if cfg.Conn == nil || cfg.Database == "" || cfg.RestrictedDatabase == "" {
		return nil, errors.New("migrate: connection and both database names are required")
	}
	if cfg.AppliedBy == "" {
		cfg.AppliedBy, _ = os.Hostname()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	all, err := schema.All()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return &Migrator{cfg: cfg, migrations: all, log: cfg.Logger.With("component", "migrate")}, nil
}

// Latest is the highest version this binary knows.
func (m *Migrator) Latest() int { return m.migrations[len(m.migrations)-1].Version }

// Applied is a recorded version.
type Applied struct {
	Version   int
	Name      string
	Checksum  string
	AppliedAt time.Time
	AppliedBy string
}

// Up applies every pending migration in order and returns those it applied
// (none when the schema is current). An applied migration whose file has
// changed since is refused before anything runs.
func (m *Migrator) Up(ctx context.Context) ([]schema.Migration, error) {
	if err := m.createVersionTable(ctx); err != nil {
		return nil, err
	}
	applied, err := m.applied(ctx)
	if err != nil {
		return nil, err
	}
	if err := m.checkChecksums(applied); err != nil {
		return nil, err
	}
	var done []schema.Migration
	for _, mig := range m.migrations {
		if _, ok := applied[mig.Version]; ok {
			continue
		}
		start := time.Now()
		for i, stmt := range mig.Statements(m.cfg.Database, m.cfg.RestrictedDatabase) {
			if err := m.exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %04d_%s statement %d: %w", mig.Version, mig.Name, i+1, err)
			}
		}
		if err := m.record(ctx, mig); err != nil {
			return done, fmt.Errorf("migrate: recording %04d_%s: %w", mig.Version, mig.Name, err)
		}
		m.log.Info("migration applied", "version", mig.Version, "name", mig.Name, "duration", time.Since(start))
		done = append(done, mig)
	}
	if m.cfg.Cluster != nil && len(done) > 0 {
		// Every server's replica of the version table has the versions
		// before Up returns: a worker started next checks them wherever it
		// connects.
		for _, r := range m.cfg.Cluster.Replicas() {
			if err := r.Conn.Exec(ctx, "SYSTEM SYNC REPLICA "+m.versionTable()); err != nil {
				return done, fmt.Errorf("migrate: waiting for %s to replicate the versions: %w", r.Addr, err)
			}
		}
	}
	return done, nil
}

// Check returns ErrSchemaBehind (wrapped, naming the versions) when a migration
// this binary knows is not applied, and an error when an applied one has
// changed. A schema ahead of the binary is fine: migrations only add, so an
// older worker keeps running during a rolling upgrade.
func (m *Migrator) Check(ctx context.Context) error {
	applied, err := m.applied(ctx)
	if err != nil {
		return err
	}
	if err := m.checkChecksums(applied); err != nil {
		return err
	}
	var missing []int
	for _, mig := range m.migrations {
		if _, ok := applied[mig.Version]; !ok {
			missing = append(missing, mig.Version)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("migrate: versions %v not applied: %w", missing, ErrSchemaBehind)
	}
	return nil
}

// Status lists the applied versions, in order.
func (m *Migrator) Status(ctx context.Context) ([]Applied, error) {
	applied, err := m.applied(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Collect(maps.Values(applied))
	slices.SortFunc(out, func(a, b Applied) int { return a.Version - b.Version })
	return out, nil
}

// addColumnIfNotExists is ALTER TABLE db.t ADD COLUMN IF NOT EXISTS c ...,
// with the span of "IF NOT EXISTS " and the names.
var addColumnIfNotExists = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s+(?:ON\s+CLUSTER\s+\w+\s+)?ADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)([A-Za-z0-9_]+)\s`)

// exec runs one statement. ClickHouse 18.16 cannot parse ADD COLUMN IF NOT
// EXISTS (later releases can), so such a statement runs as a plain ADD COLUMN
// when system.columns lacks the column, and a failure is forgiven when the
// column is there afterwards: another migrator added it at the same moment.
// A table rebuild's RENAME and INSERT run only while pending (rebuild.go).
func (m *Migrator) exec(ctx context.Context, stmt string) error {
	if m.cfg.Cluster != nil {
		return m.execOnCluster(ctx, stmt)
	}
	if s := swapStatement.FindStringSubmatch(stmt); s != nil {
		return m.swapTables(ctx, stmt, tableName{s[1], s[2]}, tableName{s[3], s[4]}, tableName{s[5], s[6]}, tableName{s[7], s[8]})
	}
	if s := copyStatement.FindStringSubmatch(stmt); s != nil {
		return m.copyRows(ctx, m.cfg.Conn, tableName{s[1], s[2]}, tableName{s[3], s[4]})
	}
	if renameOrInsert.MatchString(stmt) {
		return errNotIdempotent
	}
	return m.alter(ctx, stmt)
}

// alter runs a statement, an ADD COLUMN IF NOT EXISTS as exec says.
func (m *Migrator) alter(ctx context.Context, stmt string) error {
	loc := addColumnIfNotExists.FindStringSubmatchIndex(stmt)
	if loc == nil {
		return m.cfg.Conn.Exec(ctx, stmt)
	}
	db, table, column := stmt[loc[2]:loc[3]], stmt[loc[4]:loc[5]], stmt[loc[8]:loc[9]]
	exists := func() (bool, error) {
		var n uint64
		err := m.cfg.Conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
			db, table, column).Scan(&n)
		return n > 0, err
	}
	if ok, err := exists(); err != nil || ok {
		return err
	}
	err := m.cfg.Conn.Exec(ctx, stmt[:loc[6]]+stmt[loc[7]:])
	if err != nil {
		if ok, err2 := exists(); err2 == nil && ok {
			return nil
		}
	}
	return err
}

// record inserts the version's row. A block insert with named columns: an
// INSERT ... VALUES with bound arguments hangs on ClickHouse 18.16.
func (m *Migrator) record(ctx context.Context, mig schema.Migration) error {
	batch, err := m.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+m.versionTable()+" (version, name, checksum, applied_at, applied_by)")
	if err != nil {
		return err
	}
	if err := batch.Append(uint32(mig.Version), mig.Name, mig.Checksum, time.Now().UTC().Truncate(time.Second), m.cfg.AppliedBy); err != nil {
		_ = batch.Abort()
		return err
	}
	return batch.Send()
}

func (m *Migrator) versionTable() string { return m.cfg.Database + "." + schema.TableSchemaMigrations }

func (m *Migrator) createVersionTable(ctx context.Context) error {
	for _, stmt := range []string{
		"CREATE DATABASE IF NOT EXISTS " + m.cfg.Database,
		"CREATE TABLE IF NOT EXISTS " + m.versionTable() + ` (
			version    UInt32,
			name       String,
			checksum   String,
			applied_at DateTime,
			applied_by String
		) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`,
	} {
		exec := m.cfg.Conn.Exec
		if m.cfg.Cluster != nil {
			exec = func(ctx context.Context, stmt string, _ ...any) error { return m.execOnCluster(ctx, stmt) }
		}
		if err := exec(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: creating the version table: %w", err)
		}
	}
	return nil
}

// applied reads the version table; a missing table or database means nothing
// is applied.
func (m *Migrator) applied(ctx context.Context) (map[int]Applied, error) {
	var exists uint8
	if err := m.cfg.Conn.QueryRow(ctx, "SELECT count() > 0 FROM system.tables WHERE database = ? AND name = ?",
		m.cfg.Database, schema.TableSchemaMigrations).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrate: reading system.tables: %w", err)
	}
	out := map[int]Applied{}
	if exists == 0 {
		return out, nil
	}
	if err := clickhousedb.EachRow(ctx, m.cfg.Conn, func(rows driver.Rows) error {
		var a Applied
		var v uint32
		if err := rows.Scan(&v, &a.Name, &a.Checksum, &a.AppliedAt, &a.AppliedBy); err != nil {
			return err
		}
		a.Version = int(v)
		out[a.Version] = a
		return nil
	}, "SELECT version, name, checksum, applied_at, applied_by FROM "+m.versionTable()+" FINAL"); err != nil {
		return nil, fmt.Errorf("migrate: reading applied versions: %w", err)
	}
	return out, nil
}

func (m *Migrator) checkChecksums(applied map[int]Applied) error {
	for _, mig := range m.migrations {
		if a, ok := applied[mig.Version]; ok && a.Checksum != mig.Checksum {
			return fmt.Errorf("migrate: %04d_%s has changed since it was applied on %s (checksum %.12s, now %.12s): add a new migration instead",
				mig.Version, mig.Name, a.AppliedAt.Format(time.RFC3339), a.Checksum, mig.Checksum)
		}
	}
	return nil
}
