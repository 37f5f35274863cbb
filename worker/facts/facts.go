// Package facts is the pipeline's ClickHouse writer: each batch of protected
// orders becomes four block inserts, one per table, run concurrently:
// {database}.order_facts (one row per order), {database}.order_line_facts (one
// row per line), {restricted_database}.delivery_labels (the label ciphertext,
// while the label's retention lasts) and {restricted_database}.financial_records
// (amounts, lines and the invoice party ciphertext, one row per order).
//
// # Re-delivery, and why every query uses FINAL
//
// Kafka delivers at least once, and an order arrives as many snapshots, so the
// same key is written many times: in one batch, again in a later one, again when
// the pipeline retries a batch that failed half way. The tables are
// ReplacingMergeTree(version), version being the snapshot's source update time
// in milliseconds, and that engine keeps only the newest row of a key, but only
// when a background merge happens to bring the rows together: until then (and
// forever, for rows in parts that are never merged) every copy is there.
// SELECT ... FINAL collapses them at read time, across parts and partitions, so
// every query of these tables, the tests' included, reads with FINAL. Where FINAL
// is too slow (aggregations over years of data) argMax(column, version) grouped
// by the key is the alternative; a plain SELECT counts duplicates.
//
// # Label retention
//
// Label data is kept for Config.LabelRetention counted from the purchase (P9):
// the purger drops it afterwards, and the writer never writes it after that
// instant, so a snapshot that arrives (or is replayed) after a label expired
// cannot bring the label back. Such orders still write their facts and
// financial rows; the skipped labels are counted in
// orderflow_facts_labels_expired_skipped_total.
//
// # Failures
//
// Write makes one attempt per table: the pipeline is the one retrier (see
// worker/pipeline), and retries the batch under the same ID. The writer
// remembers, per batch ID, which tables have the batch, so that a retry
// re-sends only the tables that failed (re-sending the others would be
// harmless, see above, but costs parts and merges).
//
// Errors carry their class (worker/failure): an order whose values the
// tables cannot hold is permanent for that order, named by its place in the
// batch (ErrInvalidOrder), and nothing of the batch is sent; a server that
// refuses the writer's credentials or access, or lacks a database, table or
// column the writer inserts into, is permanent for the worker (run orderflow
// migrate, fix the user); anything else (the server down, overloaded, a
// timeout, its disk full) is transient. Each failed insert is counted in
// orderflow_clickhouse_insert_errors_total by table and reason
// (InsertError.Reason: disk_full, too_many_parts, ...), and
// orderflow_clickhouse_disk_full is 1 for a table while its last attempt
// found the disk full: the alert's signal, which holds while no insert is
// attempted. Errors, logs and metric labels never hold personal
// data, ciphertext or tokens: errors name the table and the kind of failure
// (a server exception's code, a network error), never the server's message
// text or a value.
package facts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/protected"
)

// Config configures a Writer. New fills the defaults, then checks it.
type Config struct {
	// Conn is the ClickHouse connection (clickhousedb.Open). Required.
	Conn driver.Conn
	// Cluster, when set, is the ClickHouse cluster (clickhouse.cluster): each
	// order's rows go into the <table>_local tables of the shard that owns it
	// (Cluster.ShardOf), through that shard's connection. Default nil: the
	// tables on Conn.
	Cluster *clickhousedb.Cluster
	// Concurrency is how many tables are inserted at once, each insert
	// holding one of Conn's connections for its duration: keep it within the
	// pool (clickhouse.max_open_conns), or inserts wait for a connection and
	// may time out. Default 4 (every table at once); 1 to 4.
	Concurrency int
	// Database holds order_facts and order_line_facts (clickhouse.database).
	// Default "orderflow".
	Database string
	// RestrictedDatabase holds delivery_labels and financial_records
	// (clickhouse.restricted_database). Default "orderflow_restricted".
	RestrictedDatabase string
	// LabelRetention is how long label data is kept, counted from the order's
	// purchase (retention.label): no label row is written for an order
	// purchased longer ago than that. Default 21 days; 1 to 366 days.
	LabelRetention config.Period
	// Channels are the channels whose orders the writer accepts, their values
	// in the tables' Enum8 channel columns (CheckSchema) and their marketplaces'
	// jurisdictions. Default channel.Default().
	Channels *channel.Registry
	// Now is the clock: written_at, and which labels have expired. Default
	// time.Now.
	Now func() time.Time
	// Registerer receives the writer's metrics. Default nil: metrics are kept
	// but not registered anywhere.
	Registerer prometheus.Registerer
	// Logger receives failed attempts (warn) and batch summaries (debug):
	// tables, counts and error kinds, never a value. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Database == "" {
		c.Database = "orderflow"
	}
	if c.RestrictedDatabase == "" {
		c.RestrictedDatabase = "orderflow_restricted"
	}
	if c.LabelRetention == (config.Period{}) {
		c.LabelRetention = config.Period{Days: 21}
	}
	if c.Concurrency == 0 {
		c.Concurrency = int(numTables)
	}
	if c.Channels == nil {
		c.Channels = channel.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func (c *Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("facts config "+field+": "+format, args...))
	}
	if c.Conn == nil {
		bad("Conn", "required (a ClickHouse connection from clickhousedb.Open)")
	}
	if !schema.ValidDatabaseName(c.Database) {
		bad("Database", "%q is not %s", c.Database, schema.DatabaseNameRule)
	}
	if !schema.ValidDatabaseName(c.RestrictedDatabase) {
		bad("RestrictedDatabase", "%q is not %s", c.RestrictedDatabase, schema.DatabaseNameRule)
	}
	if c.Database == c.RestrictedDatabase {
		bad("RestrictedDatabase", "must differ from Database: access is granted per database")
	}
	p := c.LabelRetention
	if p.Years < 0 || p.Months < 0 || p.Days < 0 || p.Approx() < 24*time.Hour || p.Approx() > 366*24*time.Hour {
		bad("LabelRetention", "must be between 1d and 366d, got %s", p)
	}
	if c.Concurrency < 1 || c.Concurrency > int(numTables) {
		bad("Concurrency", "must be between 1 and %d, got %d", int(numTables), c.Concurrency)
	}
	return errors.Join(errs...)
}

// Writer writes batches of protected orders to ClickHouse (the pipeline's
// Sink). It is safe for concurrent use, though the pipeline calls it from one
// goroutine.
type Writer struct {
	cfg     Config
	targets []target // one per shard; the one server's tables outside cluster mode
	dbs     [numTables]string
	m       *metrics
	log     *slog.Logger

	mu sync.Mutex
	// written holds, for the batches whose last Write failed, the shards'
	// tables that have them (by batch ID); a batch is forgotten once written
	// in full.
	written map[uint64][]bool
}

// target is where a shard's rows go: its connection and each table's insert.
type target struct {
	conn    driver.Conn
	queries [numTables]string // INSERT INTO db.table (columns...)
	shard   int               // shard_num; 0 outside cluster mode
}

// maxRemembered bounds written: the pipeline retries one batch until it is
// written, so one entry is the rule; more come only from batches abandoned
// when a worker stopped, and the oldest of those go first.
const maxRemembered = 16

// New checks cfg and returns a Writer. It does not touch the server: see
// CheckSchema.
func New(cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:     cfg,
		m:       m,
		log:     cfg.Logger.With("component", "facts"),
		written: map[uint64][]bool{},
	}
	for t := range numTables {
		w.dbs[t] = cfg.Database
		if t.restricted() {
			w.dbs[t] = cfg.RestrictedDatabase
		}
	}
	if cfg.Cluster == nil {
		w.targets = []target{w.target(cfg.Conn, 0, "")}
		return w, nil
	}
	for _, sh := range cfg.Cluster.Shards {
		w.targets = append(w.targets, w.target(sh.Conn, sh.Num, schema.LocalSuffix))
	}
	return w, nil
}

// target returns the inserts into the tables named with suffix on conn.
func (w *Writer) target(conn driver.Conn, shard int, suffix string) target {
	tg := target{conn: conn, shard: shard}
	for t := range numTables {
		tg.queries[t] = "INSERT INTO " + w.dbs[t] + "." + t.String() + suffix + " (" + strings.Join(columnNames[t], ", ") + ")"
	}
	return tg
}

// ErrInvalidOrder is matched (errors.Is) by the error of a batch holding an
// order no retry can write: a status, payment status, fulfilment or channel
// that the tables' enums do not have, or a time a DateTime cannot hold. The
// error names each such order by its place in the batch (failure.Orders), and
// is permanent for those orders alone. The normaliser never makes one.
var ErrInvalidOrder = errors.New("facts: invalid order")

// InsertError is a table's insert that failed. Its message names the table
// and the kind of failure, never data; Unwrap gives the driver's error (a
// *clickhouse.Exception, a net.Error, ...) for errors.Is and errors.As, whose
// own message may quote values. Its class (worker/failure) is that of the
// driver's error: see classify.
type InsertError struct {
	Database, Table string
	// Shard is the shard's shard_num in cluster mode, else 0.
	Shard int
	Err   error
}

func (e *InsertError) Error() string {
	if e.Shard > 0 {
		return fmt.Sprintf("facts: insert into %s.%s on shard %d failed: %s", e.Database, e.Table, e.Shard, describe(e.Err))
	}
	return fmt.Sprintf("facts: insert into %s.%s failed: %s", e.Database, e.Table, describe(e.Err))
}

func (e *InsertError) Unwrap() error { return e.Err }

// FailureClass is the class of the driver's error (classify).
func (e *InsertError) FailureClass() failure.Class { return classify(e.Err) }

// Reason says why the insert failed, one of the Reason* constants (the
// reason label of orderflow_clickhouse_insert_errors_total): ReasonDiskFull
// when the server's disk is full, for instance.
func (e *InsertError) Reason() string { return reason(e.Err) }

// Write inserts the orders' rows into the four tables and returns nil only
// when every table has them. Orders are in the batch's order; an order may
// appear several times (several snapshots) and again in later batches:
// ReplacingMergeTree keeps the newest snapshot of each key.
//
// batch is the pipeline's ID of the batch (stream.Batch.ID). When a Write
// fails, the tables that succeeded are remembered under it, and the next
// Write of the same ID (the same orders, or fewer) inserts only into the
// others. 0 means no ID: every table is written every time.
//
// Each table gets one attempt. The error names each failed table, with its
// class (worker/failure); an ErrInvalidOrder error names the orders and sends
// nothing.
func (w *Writer) Write(ctx context.Context, batch uint64, orders []protected.Order) error {
	if len(orders) == 0 {
		return nil
	}
	start := time.Now()
	now := w.cfg.Now().UTC().Truncate(time.Second)
	bs, err := build(orders, w.cfg.Channels, now, w.cfg.LabelRetention.Before(now))
	if err != nil {
		return err
	}
	done := w.tablesWritten(batch)
	var (
		g    errgroup.Group
		errs = make([]error, len(done))
	)
	g.SetLimit(w.cfg.Concurrency * len(w.targets))
	for t := range numTables {
		for s, b := range bs.blocks[t].byShard(len(w.targets), w.shardOf) {
			i := s*int(numTables) + int(t)
			if b == nil || b.rows == 0 || done[i] {
				continue
			}
			g.Go(func() error {
				for _, part := range b.split(maxPartitionsPerInsert) {
					if err := w.insert(ctx, &w.targets[s], part); err != nil {
						errs[i] = err
						return nil
					}
				}
				return nil
			})
		}
	}
	_ = g.Wait() // the goroutines report through errs
	if err := errors.Join(errs...); err != nil {
		for i := range done {
			done[i] = done[i] || errs[i] == nil
		}
		w.remember(batch, done)
		return fmt.Errorf("facts: batch of %d orders not written: %w", len(orders), err)
	}
	w.remember(batch, nil)
	// Counted once the batch is written, so that the retries of a failing
	// batch do not count its labels again.
	w.m.labelsSkipped.Add(float64(bs.labelsSkipped))
	w.log.Debug("batch written", "batch", batch, "orders", len(orders), "lines", bs.blocks[orderLineFacts].rows,
		"labels", bs.blocks[deliveryLabels].rows, "labels_expired", bs.labelsSkipped, "duration", time.Since(start))
	return nil
}

// shardOf returns the index in targets of the shard that owns an order.
func (w *Writer) shardOf(tenantID, channelOrderID string) int {
	if w.cfg.Cluster == nil {
		return 0
	}
	return w.cfg.Cluster.ShardOf(tenantID, channelOrderID)
}

// tablesWritten returns, by shard and table (shard*numTables + table), those
// that have the batch already.
func (w *Writer) tablesWritten(batch uint64) []bool {
	done := make([]bool, len(w.targets)*int(numTables))
	if batch == 0 {
		return done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	copy(done, w.written[batch])
	return done
}

// remember records the shards' tables that have the batch; none forgets it.
func (w *Writer) remember(batch uint64, done []bool) {
	if batch == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(done, true) {
		delete(w.written, batch)
		return
	}
	if _, known := w.written[batch]; !known && len(w.written) >= maxRemembered {
		delete(w.written, slices.Min(slices.Collect(maps.Keys(w.written))))
	}
	w.written[batch] = done
}

// insert sends one block to a target: one attempt, counted.
func (w *Writer) insert(ctx context.Context, tg *target, b *block) error {
	t := b.table
	start := time.Now()
	if err := w.send(ctx, tg, b); err != nil {
		ie := &InsertError{Database: w.dbs[t], Table: t.String(), Shard: tg.shard, Err: err}
		w.m.errors[t][ie.Reason()].Inc()
		w.m.attempted(tg.shard, t, ie.Reason() == ReasonDiskFull)
		// Debug: the pipeline retries the batch and logs its error once.
		w.log.Debug("insert failed", "table", t.String(), "shard", tg.shard, "rows", b.rows, "reason", ie.Reason(), "err", describe(err))
		return ie
	}
	w.m.attempted(tg.shard, t, false)
	w.m.duration[t].Observe(time.Since(start).Seconds())
	w.m.rows[t].Add(float64(b.rows))
	w.m.batches[t].Inc()
	return nil
}

// send is one attempt: a block insert with the columns named (without the
// list ClickHouse 18.16 answers an empty header; INSERT ... VALUES hangs it).
func (w *Writer) send(ctx context.Context, tg *target, b *block) error {
	batch, err := tg.conn.PrepareBatch(ctx, tg.queries[b.table])
	if err != nil {
		return err
	}
	defer func() { _ = batch.Close() }() // a no-op once sent
	for i, c := range b.cols {
		if err := appendColumn(batch.Column(i), c.data); err != nil {
			return err
		}
	}
	return batch.Send()
}

// CheckSchema compares the four tables' columns in ClickHouse with those the
// writer inserts and returns an error naming the differences: a column the
// writer does not fill would silently get its default. Each table's channel
// column must hold every channel of Config.Channels with its value, or every
// insert of a batch with an order of a missing channel would fail. For
// readiness checks and tests.
func (w *Writer) CheckSchema(ctx context.Context) error {
	var errs []error
	for t := range numTables {
		name := t.String()
		if w.cfg.Cluster != nil {
			name = schema.Local(name) // the table inserted into
		}
		have := map[string]bool{}
		if err := clickhousedb.EachRow(ctx, w.cfg.Conn, func(rows driver.Rows) error {
			var column, typ string
			if err := rows.Scan(&column, &typ); err != nil {
				return err
			}
			have[column] = true
			if column == "channel" {
				if err := w.cfg.Channels.CheckEnum8(typ); err != nil {
					errs = append(errs, fmt.Errorf("facts: %s.%s column channel: %w", w.dbs[t], name, err))
				}
			}
			return nil
		}, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", w.dbs[t], name); err != nil {
			return fmt.Errorf("facts: reading the columns of %s.%s: %s", w.dbs[t], name, describe(err))
		}
		if len(have) == 0 {
			errs = append(errs, fmt.Errorf("facts: table %s.%s does not exist: run orderflow migrate", w.dbs[t], name))
			continue
		}
		for _, column := range columnNames[t] {
			if !have[column] {
				errs = append(errs, fmt.Errorf("facts: %s.%s has no column %s: run orderflow migrate", w.dbs[t], name, column))
			}
			delete(have, column)
		}
		for _, column := range slices.Sorted(maps.Keys(have)) {
			errs = append(errs, fmt.Errorf("facts: %s.%s has a column %s that this writer does not fill", w.dbs[t], name, column))
		}
	}
	return errors.Join(errs...)
}
