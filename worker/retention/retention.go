// Package retention enforces orderflow's retention promises in ClickHouse: a
// purge pass drops or deletes what each retention class no longer allows
// (labels after 21 days, P9; financial records after 6 years or their
// jurisdiction's period, P8; analytics facts after 2 years), and an
// offboarding crypto-shreds a tenant's Vault keys and deletes all its rows
// (P10). Every action is recorded in {database}.purge_log and metered.
//
// Expiry is exact to the second, in UTC instants: a row whose purchased_at is
// at or before asOf minus the class's period (calendar arithmetic,
// config.Period.Before) has expired. Partitions that can hold only expired
// rows are dropped whole (DROP PARTITION ID); the one partition per table (per
// jurisdiction for financial records) that straddles the cutoff loses its
// expired rows through ALTER TABLE ... DELETE, a mutation the purger waits for.
// Partition bounds are computed by ClickHouse with the table's own partition
// function, so they follow the server's time zone, whatever it is.
//
// The statements stay within what ClickHouse 18.16 and current releases both
// accept. On 18.16 a mutation rewrites every part of its table, so a straddle
// delete costs a rewrite of the table; drops come first to keep it small.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

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

// Config configures a Purger. New fills the defaults and checks the rest.
type Config struct {
	// Conn is the ClickHouse connection. Required.
	Conn driver.Conn
	// Database holds order_facts, order_line_facts and purge_log
	// (clickhouse.database). Required.
	Database string
	// RestrictedDatabase holds delivery_labels and financial_records
	// (clickhouse.restricted_database). Required.
	RestrictedDatabase string
	// Retention says how long each class is kept (the retention section).
	// Every period must be positive; a zero one would purge everything.
	Retention config.Retention
	// MutationTimeout bounds the wait for one ALTER TABLE ... DELETE
	// (clickhouse.mutation_timeout). Default 30m.
	MutationTimeout time.Duration
	// Shredder destroys tenant keys for Offboard. Default nil: the purger
	// purges but refuses to offboard.
	Shredder KeyShredder
	// Offboarding tunes Offboard's wait for the workers' acknowledgements
	// (offboard.go).
	Offboarding OffboardConfig
	// Registerer receives the metrics. Default nil: kept but not registered.
	// Collectors already registered by another Purger are shared.
	Registerer prometheus.Registerer
	// Logger receives one line per action and per pass; never personal data.
	// Default slog.Default().
	Logger *slog.Logger
	// Now is the wall clock: Run's as-of time, purge_log timestamps and the
	// last-success gauge. Durations use the monotonic clock. Default time.Now.
	Now func() time.Time
}

// Class is a retention class: how long a kind of data may be kept.
type Class string

// The retention classes of the purged tables (schemas/policy names one for
// every stored field).
const (
	ClassLabel     Class = "label"     // delivery_labels, Retention.Label
	ClassFinancial Class = "financial" // financial_records, Retention.FinancialFor(jurisdiction)
	ClassAnalytics Class = "analytics" // order_facts and order_line_facts, Retention.Analytics
)

// reasonOffboarding is the reason of offboarding actions (and the reason label
// of orderflow_purge_rows_total) where a purge gives the class.
const reasonOffboarding = "offboarding"

// The purged tables.
const (
	TableOrderFacts       = "order_facts"
	TableOrderLineFacts   = "order_line_facts"
	TableDeliveryLabels   = "delivery_labels"
	TableFinancialRecords = "financial_records"
)

// table is a purged table and how it is partitioned.
type table struct {
	name     string
	database string
	class    Class
	// partitionFn is the partition function of purchased_at: toYYYYMMDD or
	// toYYYYMM. financial_records partitions by (jurisdiction, toYYYYMM).
	partitionFn    string
	byJurisdiction bool
}

func (t table) qualified() string { return t.database + "." + t.name }

// Purger purges expired data and offboards tenants. Its methods are safe for
// concurrent use; passes and offboardings of one Purger run one at a time.
type Purger struct {
	cfg    Config
	tables []table // in purge order: analytics, labels, financial
	log    *slog.Logger
	m      *metrics
	mu     sync.Mutex // one pass or offboarding at a time
}

// identifier is a database name that may go into SQL unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// jurisdictionCode is what Retention.FinancialByJurisdiction keys look like.
var jurisdictionCode = regexp.MustCompile(`^[A-Z]{2}$`)

// New checks cfg, fills its defaults and returns a Purger.
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
	cfg.Offboarding.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	p := &Purger{
		cfg: cfg,
		tables: []table{
			{name: TableOrderFacts, database: cfg.Database, class: ClassAnalytics, partitionFn: "toYYYYMM"},
			{name: TableOrderLineFacts, database: cfg.Database, class: ClassAnalytics, partitionFn: "toYYYYMM"},
			{name: TableDeliveryLabels, database: cfg.RestrictedDatabase, class: ClassLabel, partitionFn: "toYYYYMMDD"},
			{name: TableFinancialRecords, database: cfg.RestrictedDatabase, class: ClassFinancial, partitionFn: "toYYYYMM", byJurisdiction: true},
		},
		log: cfg.Logger.With("component", "retention"),
		m:   m,
	}
	m.preRegister(p.tables)
	r := cfg.Retention
	m.limit.WithLabelValues(string(ClassLabel)).Set(r.Label.Approx().Seconds())
	m.limit.WithLabelValues(string(ClassFinancial)).Set(r.Financial.Approx().Seconds())
	m.limit.WithLabelValues(string(ClassAnalytics)).Set(r.Analytics.Approx().Seconds())
	for j, period := range r.FinancialByJurisdiction {
		m.finLimit.WithLabelValues(j).Set(period.Approx().Seconds())
	}
	return p, nil
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("retention: "+format, args...))
	}
	if c.Conn == nil {
		bad("a ClickHouse connection (Config.Conn) is required")
	}
	if !identifier.MatchString(c.Database) {
		bad("clickhouse.database %q is not a database name of letters, digits and '_'", c.Database)
	}
	if !identifier.MatchString(c.RestrictedDatabase) {
		bad("clickhouse.restricted_database %q is not a database name of letters, digits and '_'", c.RestrictedDatabase)
	}
	if c.Database == c.RestrictedDatabase {
		bad("clickhouse.restricted_database must differ from clickhouse.database")
	}
	positive := func(key string, p config.Period) {
		if p.Years < 0 || p.Months < 0 || p.Days < 0 || p.Approx() <= 0 {
			bad("%s must be a positive period, got %s", key, p)
		}
	}
	positive("retention.label", c.Retention.Label)
	positive("retention.financial", c.Retention.Financial)
	positive("retention.analytics", c.Retention.Analytics)
	for _, j := range slices.Sorted(maps.Keys(c.Retention.FinancialByJurisdiction)) {
		if !jurisdictionCode.MatchString(j) {
			bad("retention.financial_by_jurisdiction: %q is not an ISO 3166-1 alpha-2 country code such as GB", j)
			continue
		}
		positive("retention.financial_by_jurisdiction."+j, c.Retention.FinancialByJurisdiction[j])
	}
	if c.MutationTimeout < 0 {
		bad("clickhouse.mutation_timeout must be positive, got %s", c.MutationTimeout)
	}
	errs = append(errs, c.Offboarding.validate()...)
	return errors.Join(errs...)
}

// Run purges as of Now() at once and then every interval, until ctx ends; it
// returns nil then. A failed pass is logged, counted
// (orderflow_purge_runs_total{outcome="failed"}) and recorded in purge_log,
// and the schedule goes on. A pass that outlasts the interval delays the next
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
