// Package demo runs orderflow's main job end to end on the local stack for
// `orderflow demo`: fresh topics and databases, generated orders, the worker
// until every message is committed, then what the worker's metrics, ClickHouse
// and two dry-run purges say, beside the generator's exact tally.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/generate/produce"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/migrate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/topics"
)

// Config configures a demo run. The zero value of each optional field means
// its default.
type Config struct {
	// App is the loaded configuration (Kafka, ClickHouse, Vault, pipeline).
	// The run replaces its topics, consumer group and databases with its own.
	App config.Config
	// Count is how many messages to generate. Default 20000.
	Count int64
	// Seed seeds the generator, used as given: the same seed gives the same orders.
	Seed uint64
	// Tenants is how many sellers the orders belong to. Default 3.
	Tenants int
	// Timeout is how long the worker may take to commit every message.
	// Default 10m.
	Timeout time.Duration
	// TopicPrefix starts the run's topics (prefix + a run stamp + "." + each
	// channel's topic, "orders.amazon"); the topics of earlier runs with the
	// prefix are deleted first. Default "demo.".
	TopicPrefix string
	// Database and RestrictedDatabase are dropped and migrated afresh.
	// Defaults "orderflow_demo" and "orderflow_demo_restricted".
	Database, RestrictedDatabase string
	// Worker runs the worker as `orderflow run` wires it, with its metrics on
	// reg, until ctx ends. Required.
	Worker func(ctx context.Context, cfg config.Config, reg *prometheus.Registry) error
	// Dispatcher runs the courier dispatcher as `orderflow dispatch` wires it,
	// with its metrics on reg, until ctx ends. Nil skips the courier step.
	Dispatcher func(ctx context.Context, cfg config.Config, reg *prometheus.Registry) error
	// NewPurger builds the retention engine the dry runs use, with its
	// metrics on reg. Required.
	// cluster is nil but in cluster mode (clickhouse.cluster).
	NewPurger func(cfg config.Config, conn driver.Conn, cluster *clickhousedb.Cluster, reg *prometheus.Registry) (Purger, error)
	// Prometheus is the base URL of the Prometheus that scrapes
	// metrics.listen. With it, each step waits before it stops until
	// Prometheus has its final values, and the run ends by evaluating every
	// dashboard and alert query over the run (Summary.Observed). Empty
	// skips that.
	Prometheus string
	// Progress receives a line as each step starts, and every second while
	// the worker runs. Default: discards.
	Progress io.Writer
	// Logger is the log of the migration and the producer. Default: discards.
	Logger *slog.Logger

	observer *observer
}

// Defaults of Config.
const (
	DefaultCount              = 20000
	DefaultTenants            = 3
	DefaultTimeout            = 10 * time.Minute
	DefaultTopicPrefix        = "demo."
	DefaultDatabase           = "orderflow_demo"
	DefaultRestrictedDatabase = "orderflow_demo_restricted"
)

// Purger is the part of retention.Purger the demo uses.
type Purger interface {
	Purge(ctx context.Context, asOf time.Time, dryRun bool) (retention.Report, error)
}

var _ Purger = (*retention.Purger)(nil)

// Summary is what a run found: the generator's tally beside what the worker
// did and what ClickHouse holds.
type Summary struct {
	Seed      uint64
	Topics    config.Topics
	Databases [2]string // analytics, restricted
	Generated generate.Stats
	Produced  int64
	Elapsed   time.Duration // from the worker's start to its last commit
	// FirstCommit is from the worker's start to its first commit (within
	// 50ms): connecting, logging in to Vault, checking the schema, joining the
	// consumer group and one batch.
	FirstCommit time.Duration

	// From the worker's metrics.
	Metrics

	// From ClickHouse, always read with FINAL where it counts orders.
	Stored

	// The courier step: the outbox against the stand-ins' ledgers.
	Couriers CourierSummary
	// The accounting step: each seller's books against ClickHouse.
	Books []Books

	// Started and Ended bound the run, for queries over it.
	Started, Ended time.Time
	// Observed is what Prometheus saw of the run and what /metrics exposed.
	Observed Observed

	// Dry-run purges: rows per table that would go as of PurgeAsOf[0] (+22
	// days: every label, nothing else) and PurgeAsOf[1] (+12 years: everything).
	Purge22d, Purge12y map[string]uint64
	PurgeAsOf          [2]time.Time
}

func (c Config) withDefaults() (Config, error) {
	c.Count = cmp.Or(c.Count, DefaultCount)
	c.Tenants = cmp.Or(c.Tenants, DefaultTenants)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.TopicPrefix = cmp.Or(c.TopicPrefix, DefaultTopicPrefix)
	c.Database = cmp.Or(c.Database, DefaultDatabase)
	c.RestrictedDatabase = cmp.Or(c.RestrictedDatabase, DefaultRestrictedDatabase)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if c.Worker == nil || c.NewPurger == nil {
		errs = append(errs, errors.New("the worker and the purger are required"))
	}
	if c.Count < 0 || c.Timeout < 0 {
		errs = append(errs, errors.New("count and timeout cannot be negative"))
	}
	if c.Database == c.RestrictedDatabase {
		errs = append(errs, errors.New("the two databases need two names"))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("demo: %w", errors.Join(errs...))
	}
	return c, nil
}

// Run runs the demo. Its topics, group and databases are its own and start
// afresh, so the figures are this run's alone; they are left in place for
// exploring. The worker never outlives Run.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	app := cfg.App
	stamp := time.Now().UTC().Format("20060102-150405")
	app.Kafka.Topics = config.Topics{Channels: map[order.Channel]string{}, DeadLetter: cfg.TopicPrefix + stamp + ".orders.dlq",
		Courier: cfg.TopicPrefix + stamp + ".connector.courier", Accounting: cfg.TopicPrefix + stamp + ".connector.accounting",
		Parked: cfg.TopicPrefix + stamp + ".connector.parked", Erasure: cfg.TopicPrefix + stamp + ".requests.erasure"}
	for ch, topic := range channel.Default().Topics() {
		app.Kafka.Topics.Channels[ch] = cfg.TopicPrefix + stamp + "." + topic
	}
	app.Kafka.GroupID = "orderflow-demo-" + stamp
	app.ClickHouse.Database, app.ClickHouse.RestrictedDatabase = cfg.Database, cfg.RestrictedDatabase
	say := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, "demo: "+format+"\n", args...) }
	sum := Summary{Seed: cfg.Seed, Topics: app.Kafka.Topics, Databases: [2]string{cfg.Database, cfg.RestrictedDatabase}, Started: time.Now()}
	cfg.observer = newObserver(cfg.Prometheus, app.Metrics.Listen)

	clients, err := kafkaclient.New(app.Kafka)
	if err != nil {
		return sum, err
	}
	say("fresh topics %s, %s", strings.Join(app.Kafka.Topics.Orders(), ", "), app.Kafka.Topics.DeadLetter)
	if err := freshTopics(ctx, clients.Admin(), cfg.TopicPrefix, app.Kafka.Topics); err != nil {
		return sum, err
	}
	conn, err := clickhousedb.Open(ctx, app.ClickHouse)
	if err != nil {
		return sum, err
	}
	defer conn.Close()
	var cluster *clickhousedb.Cluster
	if app.ClickHouse.Cluster != "" {
		if cluster, err = clickhousedb.OpenCluster(ctx, app.ClickHouse, conn); err != nil {
			return sum, err
		}
		defer cluster.Close()
		say("on ClickHouse cluster %s: %d shards, %d servers", cluster.Name, len(cluster.Shards), len(cluster.Replicas()))
	}
	say("fresh databases %s and %s, migrated", cfg.Database, cfg.RestrictedDatabase)
	if err := freshDatabases(ctx, conn, cluster, cfg.Database, cfg.RestrictedDatabase, cfg.Logger); err != nil {
		return sum, err
	}

	say("generating %d messages (seed %d, %d sellers) ...", cfg.Count, cfg.Seed, cfg.Tenants)
	gen, err := generate.New(generate.Config{Seed: cfg.Seed, Tenants: cfg.Tenants})
	if err != nil {
		return sum, err
	}
	producer, err := produce.New(produce.Config{
		Generator: gen, Brokers: clients.Brokers, Transport: clients.Transport, Count: cfg.Count,
		Topics:       app.Kafka.Topics.Channels,
		CloseTimeout: app.Pipeline.ShutdownTimeout, Logger: cfg.Logger,
	})
	if err != nil {
		return sum, err
	}
	res, err := producer.Run(ctx)
	if err != nil {
		return sum, fmt.Errorf("generating: %w", err)
	}
	sum.Generated, sum.Produced = res.Stats, res.Acknowledged
	say("%d messages on the topics: %d order snapshots of %d orders, %d malformed, %d card numbers typed into free text and addresses",
		res.Acknowledged, res.Stats.Snapshots, res.Stats.Orders, res.Stats.Malformed, res.Stats.CardNumbers)

	say("running the worker until every message is committed ...")
	reg := telemetry.NewRegistry()
	if sum.Elapsed, sum.FirstCommit, err = runUntilCommitted(ctx, cfg, app, reg, res.Acknowledged, say); err != nil {
		return sum, err
	}
	sum.Metrics = ReadMetrics(reg)
	if cluster != nil {
		// The Distributed tables read any replica of a shard.
		if err := cluster.SyncReplicas(ctx, cfg.Database, cfg.RestrictedDatabase); err != nil {
			return sum, err
		}
	}
	if sum.Stored, err = Query(ctx, conn, cfg.Database, cfg.RestrictedDatabase); err != nil {
		return sum, err
	}

	if cfg.Dispatcher != nil {
		tenants := slices.Sorted(maps.Keys(sum.Generated.Tenants))
		if sum.Couriers, err = runCouriers(ctx, cfg, app, clients.Admin(), tenants, say); err != nil {
			return sum, err
		}
		if sum.Books, err = runAccounting(ctx, cfg, app, clients.Admin(), conn, tenants, say); err != nil {
			return sum, err
		}
	}

	// The dry runs serve their metrics as the purge CronJob does while it
	// runs: the retention dashboard's oldest rows and limits are theirs.
	purgeReg := telemetry.NewRegistry()
	purger, err := cfg.NewPurger(app, conn, cluster, purgeReg)
	if err != nil {
		return sum, err
	}
	stopPurgeMetrics, err := telemetry.ServeWhileRunning(ctx, app.Metrics.Listen, purgeReg, cfg.Logger, time.Second)
	if err != nil {
		return sum, fmt.Errorf("serving the purge's metrics: %w", err)
	}
	defer stopPurgeMetrics()
	// A real pass as of the run's start, as the CronJob makes: it measures
	// the oldest rows of each class and jurisdiction (the retention
	// dashboard's figures), and removes nothing, since every row was
	// written after it, within its limit (the writer skips labels already
	// expired).
	report, err := purger.Purge(ctx, sum.Started, false)
	if err != nil {
		return sum, fmt.Errorf("purge as of the run's start: %w", err)
	}
	for table, n := range PurgeRows(report) {
		if n > 0 {
			return sum, fmt.Errorf("purge as of the run's start removed %d rows of %s: written past their limit", n, table)
		}
	}
	now := time.Now().UTC()
	// +12 years: financial records are kept to the end of their financial
	// year plus their jurisdiction's period, DE's 10 years counted from the
	// end of the calendar year, so everything has gone by then.
	for i, asOf := range []time.Time{now.AddDate(0, 0, 22), now.AddDate(12, 0, 0)} {
		report, err := purger.Purge(ctx, asOf, true)
		if err != nil {
			return sum, fmt.Errorf("purge dry run as of %s: %w", asOf.Format(time.DateOnly), err)
		}
		sum.PurgeAsOf[i] = asOf
		if i == 0 {
			sum.Purge22d = PurgeRows(report)
		} else {
			sum.Purge12y = PurgeRows(report)
		}
	}
	if err := cfg.observer.settle(ctx); err != nil {
		return sum, err
	}
	stopPurgeMetrics()
	sum.Ended = time.Now()
	if cfg.Prometheus != "" {
		say("asking Prometheus what it saw: every dashboard panel's and alert rule's query over the run ...")
	}
	if sum.Observed, err = cfg.observer.observe(ctx, sum.Started, sum.Ended); err != nil {
		return sum, err
	}
	return sum, nil
}

// runUntilCommitted runs the worker until it has committed want messages
// (written or dead-lettered), then stops it and waits for it to return. It
// returns how long the worker took to commit them, and to commit its first
// batch.
func runUntilCommitted(ctx context.Context, cfg Config, app config.Config, reg *prometheus.Registry, want int64, say func(string, ...any)) (elapsed, first time.Duration, _ error) {
	start := time.Now()
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- cfg.Worker(wctx, app, reg) }()
	stop := func(why error) (time.Duration, time.Duration, error) {
		stopWorker()
		<-workerDone
		return 0, 0, why
	}
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// Until the first commit, the metrics are read every 50ms: how soon a
	// started worker commits is one of its promises (make bench measures it
	// too).
	firstTick := time.NewTicker(50 * time.Millisecond)
	defer firstTick.Stop()
	var last float64
	for {
		select {
		case <-firstTick.C:
			if Committed(reg) > 0 {
				first = time.Since(start)
				firstTick.Stop()
			}
		case err := <-workerDone:
			return 0, 0, fmt.Errorf("the worker stopped early: %w", cmp.Or(err, errors.New("no error")))
		case <-deadline.C:
			return stop(fmt.Errorf("the worker had not processed all %d messages after %s", want, cfg.Timeout))
		case <-ctx.Done():
			return stop(ctx.Err())
		case <-tick.C:
			committed := Committed(reg)
			say("  %6.0f of %d messages written and committed (%5.0f/s)", committed, want, committed-last)
			last = committed
			if committed >= float64(want) {
				elapsed := time.Since(start)
				if first == 0 { // all of it within the first tick's wait
					first = elapsed
				}
				if err := cfg.observer.settle(ctx); err != nil {
					return stop(err)
				}
				stopWorker()
				if err := <-workerDone; err != nil {
					return elapsed, first, fmt.Errorf("worker: %w", err)
				}
				return elapsed, first, nil
			}
		}
	}
}

// freshTopics deletes the topics of earlier runs (their names start with
// prefix) and creates this run's, as worker/topics defines the pipeline's:
// they hold personal data.
func freshTopics(ctx context.Context, client *kafka.Client, prefix string, names config.Topics) error {
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	var old []string
	for _, t := range meta.Topics {
		if strings.HasPrefix(t.Name, prefix) {
			old = append(old, t.Name)
		}
	}
	if len(old) > 0 {
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: old}); err != nil {
			return fmt.Errorf("deleting the last demo's topics: %w", err)
		}
	}
	specs := topics.Worker(names.Orders(), names.DeadLetter, names.Courier, names.Accounting, names.Parked)
	created, err := topics.Create(ctx, client, specs...)
	if err != nil {
		return fmt.Errorf("creating the demo's topics: %w", err)
	}
	if len(created) != len(specs) {
		return fmt.Errorf("creating the demo's topics: %d of them existed already", len(specs)-len(created))
	}
	return nil
}

// freshDatabases drops the two databases and applies every migration, on
// every server of the cluster when there is one.
func freshDatabases(ctx context.Context, conn driver.Conn, cluster *clickhousedb.Cluster, database, restricted string, log *slog.Logger) error {
	onCluster := ""
	if cluster != nil {
		onCluster = " ON CLUSTER " + cluster.Name
	}
	for _, db := range []string{database, restricted} {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+onCluster); err != nil {
			return fmt.Errorf("dropping %s: %w", db, err)
		}
	}
	m, err := migrate.New(migrate.Config{Conn: conn, Cluster: cluster, Database: database, RestrictedDatabase: restricted, Logger: log})
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}
