// Package retention enforces orderflow's retention promises in ClickHouse: a
// purge pass drops or deletes what each retention class no longer allows
// (labels 21 days after the purchase, P9; analytics facts 2 years after it;
// financial records at the end of the seller's financial year holding the
// order's last financial event plus the jurisdiction's period, never below
// its statutory minimum, P8), and an offboarding crypto-shreds a tenant's
// Vault keys and deletes all its rows (P10). Every action is recorded in
// {database}.purge_log and metered. The classes, their periods, the tables
// each governs and how those are partitioned are declared once, in
// worker/config's table of retention classes (classes.go); the purger, the
// offboarding and the metrics walk it, and New refuses a class the purger
// cannot purge.
//
// Expiry is exact to the second, in UTC instants, and computed forward: a
// row expires when its start (purchase, or the financial year's end) plus
// the period has passed, and the pass finds its cutoff by adding periods to
// candidate starts, never by subtracting from its as-of instant, so that no
// leap day makes it early. Financial years are taken in the time zones that
// make them latest (the seller's is not known), so that no seller's zone
// makes a financial record's expiry early either (financial.go). Labels and
// facts are partitioned by purchase month: partitions that can hold only
// expired rows are dropped whole (DROP PARTITION ID), and the one that
// straddles the cutoff loses its expired rows through ALTER TABLE ... DELETE,
// a mutation the purger waits for. Financial records are partitioned by the
// UK financial year of the purchase, across jurisdictions, while they expire
// by last event, jurisdiction and tenant: a financial partition is dropped
// only when a count just before the drop finds every row in it expired, and
// partitions that hold both lose their expired rows through a delete whose
// predicate has one term per jurisdiction's rule and financial-year-end
// group. Before it purges a table, a pass checks that the server partitions
// it as the pass expects (a partition misread is a partition dropped early).
//
// A pass that deletes never runs as of a future instant, by this process's
// clock (ErrFutureAsOf) or more than a minute ahead of ClickHouse's
// (ErrClockAhead), and takes Config.Lease first when it has one: one pass at
// a time deletes, across every process that purges the same databases; a
// pass that finds the lease held deletes nothing and is counted as
// skipped_lease_held.
//
// In cluster mode (Config.Cluster) the drops and deletes act on every shard
// and replica, and an action is done only once every replica has applied it
// and holds nothing it was to remove (cluster.go).
//
// The statements stay within what ClickHouse 18.16 and current releases both
// accept. A mutation visits every part of its table but rewrites only those
// that hold a row it deletes (18.16 included: the others are hard-linked), so
// a straddle delete costs a rewrite of the straddling partition's parts: up
// to a month of labels, two years' edge month of facts.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
)

// KeyShredder destroys a tenant's encryption and HMAC keys, making every
// ciphertext of the tenant unreadable at once (crypto-shredding). Destroying
// keys that are already gone succeeds; TenantKeysPresent names the keys that
// still exist (the verification reads them back). *transit.Client implements it.
type KeyShredder interface {
	DestroyTenantKeys(ctx context.Context, tenant string) error
	TenantKeysPresent(ctx context.Context, tenant string) ([]string, error)
}

// Lease is the right to run a pass's destructive statements, which one pass
// at a time holds across every process that purges the same databases.
// *lease.Lease implements it, on Vault.
type Lease interface {
	// Acquire takes the lease for the pass, renewing it until Release or
	// until ctx ends; false, with no error, when another holder has it.
	Acquire(ctx context.Context) (bool, error)
	// Fence returns nil when the lease is still held, for long enough to
	// send one statement; the pass calls it before every DROP PARTITION and
	// ALTER TABLE ... DELETE, and deletes nothing more once it fails.
	Fence(ctx context.Context) error
	// Release gives the lease up.
	Release(ctx context.Context) error
}

// ErrFutureAsOf is returned by a Purge that would delete as of an instant
// after the clock's now: it would remove data before its retention ends. A
// dry run may look at any instant.
var ErrFutureAsOf = errors.New("retention: refusing to delete as of a future instant, which would delete data early (a dry run may)")

// ErrClockAhead is matched by the error of a Purge that would delete as of an
// instant more than ClockTolerance ahead of ClickHouse's clock: this
// process's clock runs ahead (or --now was), and purging by it would delete
// data early. Unlike ErrFutureAsOf it is a failed pass, counted and recorded
// (check_clock), since a scheduled pass meets it too.
var ErrClockAhead = errors.New("retention: refusing to delete: the as-of instant is ahead of ClickHouse's clock, which would delete data early")

// ClockTolerance is how far ahead of ClickHouse's clock a pass that deletes
// may evaluate retention. Clocks kept by NTP agree within milliseconds, and
// now() has whole seconds; a minute covers both with room to spare, while a
// node further ahead has a clock problem an SRE must hear about (its passes
// fail) rather than data deleted early by it. Within the tolerance a record
// can go at most this much before its expiry, against periods of days to
// years (and financial records carry 12 hours of time-zone margin).
const ClockTolerance = time.Minute

// Config configures a Purger. New fills the defaults and checks the rest.
type Config struct {
	// Conn is the ClickHouse connection. Required.
	Conn driver.Conn
	// Cluster, when set, is the ClickHouse cluster (clickhouse.cluster) whose
	// schema Conn's server is part of: drops and deletes then act on every
	// shard and replica, and are verified on every replica (cluster.go).
	// Default nil: one server.
	Cluster *clickhousedb.Cluster
	// Database holds order_facts, order_line_facts and purge_log
	// (clickhouse.database). Required; checked by config.ValidateDatabases.
	Database string
	// RestrictedDatabase holds delivery_labels and financial_records
	// (clickhouse.restricted_database). Required.
	RestrictedDatabase string
	// Retention says how long each class is kept (the retention section),
	// checked by its Validate as config.Load checks it: a zero period would
	// purge everything.
	Retention config.Retention
	// MutationTimeout bounds the wait for one ALTER TABLE ... DELETE
	// (clickhouse.mutation_timeout). Default 30m.
	MutationTimeout time.Duration
	// Shredder destroys tenant keys for Offboard. Default nil: the purger
	// purges but refuses to offboard.
	Shredder KeyShredder
	// Tokenizer tokenises an erasure request's identifiers under the
	// tenant's HMAC key, as the protect stage did (*transit.Client). Default
	// nil: the purger refuses to erase (ErrNoTokenizer).
	Tokenizer Tokenizer
	// EraseChunk is how many orders one statement of an erasure names.
	// Default 500: a buyer with thousands of orders makes several, none too
	// long for the server's max_query_size.
	EraseChunk int
	// Offboarding tunes Offboard's wait for the workers' acknowledgements
	// (offboard.go).
	Offboarding OffboardConfig
	// Lease, when set, is taken by every pass that deletes (not by dry runs)
	// and fenced before each of its destructive statements. Default nil: no
	// coordination with other processes (one purger alone).
	Lease Lease
	// Registerer receives the metrics. Default nil: kept but not registered.
	// Collectors already registered by another Purger are shared.
	Registerer prometheus.Registerer
	// Logger receives one line per action and per pass; never personal data.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the wall clock: Run's as-of time, the latest as-of time a pass
	// may delete at, purge_log timestamps and the last-run gauges. Durations
	// use the monotonic clock. Default time.Now.
	Now func() time.Time
	// ClickHouseNow reads ClickHouse's clock, which a pass that deletes also
	// checks its as-of time against (ErrClockAhead), so that a process whose
	// own clock runs ahead does not purge early. Default: SELECT now() on
	// Conn. Tests that simulate a later date set it beside Now.
	ClickHouseNow func(ctx context.Context) (time.Time, error)
}

// reasonOffboarding is the reason of offboarding actions (and the reason label
// of orderflow_purge_rows_total) where a purge gives the class.
const reasonOffboarding = "offboarding"

// table is a purged table, a table of a retention class (config's table of
// classes), in its database and with its partition scheme; or a bookkeeping
// table that a pass prunes (class nil).
type table struct {
	name     string
	database string
	class    *config.RetentionClass
	// key of partitionColumn is the partition key: one partition per month or
	// financial year.
	key             config.TimeKey
	partitionColumn string
}

func (t table) qualified() string { return t.database + "." + t.name }

// reason is the class's name: the reason of its purges in purge_log and
// orderflow_purge_rows_total.
func (t table) reason() string { return string(t.class.Name) }

// partitionKey is the partition key as SQL: toYYYYMM(purchased_at).
func (t table) partitionKey() string { return t.key.Of(t.partitionColumn) }

// classTables returns the tables of the declared classes, in purge order,
// after checking that the purger can purge each: a class or a partition
// scheme it cannot handle is an error at start, never a default.
func classTables(classes []config.RetentionClass, database, restricted string) ([]table, error) {
	var tables []table
	var errs []error
	var keys []string
	for _, k := range config.TimeKeys() {
		keys = append(keys, k.Name)
	}
	for i := range classes {
		c := &classes[i]
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("retention class %s: "+format, append([]any{c.Name}, args...)...))
		}
		// Its period is in the configuration only if it is declared.
		if _, err := config.LookupClass(string(c.Name)); err != nil {
			errs = append(errs, fmt.Errorf("retention class: %w", err))
			continue
		}
		for _, ct := range c.Tables {
			db, ok := schema.DatabaseOf(ct.Name)
			switch {
			case !ok:
				bad("table %s is not a table of the schema", ct.Name)
			case !slices.Contains(config.TimeKeys(), ct.Partition):
				// Partitions are dropped by comparing their keys with the
				// key of an instant: the key's values must be whole numbers
				// that grow with time.
				bad("table %s is partitioned by %s, which the purger cannot drop by (%s)", ct.Name, ct.Partition.Name, strings.Join(keys, ", "))
			case !c.FinancialYear && ct.PartitionColumn != c.TimeColumn:
				// Whole partitions expire together only when they are
				// partitioned by the instant the period counts from.
				bad("table %s is partitioned by %s, but the period counts from %s", ct.Name, ct.PartitionColumn, c.TimeColumn)
			default:
				tables = append(tables, table{name: ct.Name, database: db.Name(database, restricted), class: c,
					key: ct.Partition, partitionColumn: ct.PartitionColumn})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return tables, nil
}

// Purger purges expired data and offboards tenants. Its methods are safe for
// concurrent use; passes and offboardings of one Purger run one at a time.
type Purger struct {
	cfg     Config
	classes []config.RetentionClass
	tables  []table // the classes' tables, in purge order
	fy      []fyGroup
	log     *slog.Logger
	m       *metrics
	mu      sync.Mutex // one pass or offboarding at a time
	// holding is the lease of the pass under way, nil when it has none;
	// guarded by mu, like the pass.
	holding Lease
}

// New checks cfg, fills its defaults (a zero Retention.FinancialYearEnd is
// 31 March) and returns a Purger.
func New(cfg Config) (*Purger, error) {
	if cfg.MutationTimeout == 0 {
		cfg.MutationTimeout = 30 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClickHouseNow == nil && cfg.Conn != nil {
		conn := cfg.Conn
		cfg.ClickHouseNow = func(ctx context.Context) (time.Time, error) { return serverNow(ctx, conn) }
	}
	cfg.Offboarding.setDefaults()
	if cfg.EraseChunk <= 0 {
		cfg.EraseChunk = 500
	}
	if cfg.Retention.FinancialYearEnd == (config.YearEnd{}) {
		cfg.Retention.FinancialYearEnd = config.Defaults().Retention.FinancialYearEnd
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	classes := config.RetentionClasses()
	tables, err := classTables(classes, cfg.Database, cfg.RestrictedDatabase)
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Purger{
		cfg:     cfg,
		classes: classes,
		tables:  tables,
		fy:      fyGroups(cfg.Retention),
		log:     cfg.Logger.With("component", "retention"),
		m:       m,
	}
	m.preRegister(classes, tables)
	p.setLimits(nil)
	return p, nil
}

// validate checks what the configuration cannot: the connection and the
// timeout given in code. The database names and the retention section are
// checked by config's own rules, so that each is written once and every
// error names its key.
func (c Config) validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("a ClickHouse connection (Config.Conn) is required"))
	}
	errs = append(errs, config.ValidateDatabases(c.Database, c.RestrictedDatabase), c.Retention.Validate())
	if c.MutationTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.mutation_timeout must be positive, got %s", c.MutationTimeout))
	}
	errs = append(errs, c.Offboarding.validate()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	return nil
}

// Run purges as of Now() at once and then every interval, until ctx ends; it
// returns nil then. A failed pass is logged, counted
// (orderflow_purge_runs_total{outcome="failed"}) and recorded in purge_log,
// and the schedule goes on; so does a pass skipped because another process
// held the lease (outcome skipped_lease_held). A pass that outlasts the interval delays the next
// one rather than overlapping it. An interval that is not positive (the
// schedule is off: retention.interval 0) is refused.
func (p *Purger) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("retention: purge interval must be positive, got %s", interval)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		// Errors are logged and counted by Purge itself.
		_, _ = p.Purge(ctx, p.cfg.Now(), false)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
	return nil
}
