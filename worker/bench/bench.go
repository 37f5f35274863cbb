// Package bench is orderflow's end-to-end benchmark (`make bench`, the
// orderflow-bench command): it measures the real worker binary draining a
// backlog of synthetic orders on the local stack, beside two reference
// pipelines measured in the same run on the same data, so that the figures
// say how close the worker comes to what this machine can do at all:
//
//   - reference (a): a bare kafka-go consumer-group reader that reads and
//     commits the same messages and does nothing else with them;
//   - reference (b): bare clickhouse-go block inserts of as many rows as the
//     worker wrote, into a copy of order_facts.
//
// A run prefills fresh topics with N generated messages, drains them with
// reference (a), then with `orderflow run` as a subprocess (watched through
// its /metrics and /proc), then measures the worker's end-to-end latency
// under a steady produce rate, stops it with SIGTERM, and runs reference (b).
// Every topic, consumer group and database is the run's own and is deleted at
// the end unless Config.Keep.
//
// In rates, an "order" is one input message committed: an order snapshot or
// one of the few malformed messages the worker dead-letters.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/kafkaclient"
)

// Config configures a run. The zero value of each field means its default.
type Config struct {
	// ConfigPath is the worker's configuration file, passed to `orderflow run
	// --config`; the bench reads it too (with Environ's overrides) for the
	// addresses of Kafka and ClickHouse. Required.
	ConfigPath string
	// Binary is the orderflow binary to measure. Default "bin/orderflow".
	Binary string
	// Orders is how many messages are prefilled and drained. Default 200000.
	Orders int64
	// Seed seeds the generator and reference (b)'s rows; used as given (the
	// command's default is 1).
	Seed uint64
	// Now is the instant the orders are generated as of. Default: the run's
	// start, to the second.
	Now time.Time
	// LatencyRate is the produce rate of the latency phase, messages per
	// second. Default 2000.
	LatencyRate float64
	// LatencyDuration is how long the latency phase produces. Default 20s.
	LatencyDuration time.Duration
	// Keep keeps the run's topics, consumer groups and databases.
	Keep bool
	// OutDir is where the results go; the bench reads it only to tell its own
	// earlier results from uncommitted changes. Default "worker/bench/results".
	OutDir string
	// Environ is the environment the configuration's overrides and secret
	// references are read from, and that the worker inherits. Default
	// os.Environ().
	Environ []string
	// Progress receives a line as each phase starts and progresses, and the
	// worker's own output; writes to it are serialised. Default io.Discard.
	Progress io.Writer
	// SampleInterval is how often counts are sampled for the time series (and
	// the worker's /metrics scraped). Default 250ms.
	SampleInterval time.Duration
	// Stall fails the run when the worker commits nothing for this long while
	// work is waiting. Default 2m.
	Stall time.Duration
}

// DefaultOrders, DefaultLatencyRate and DefaultLatencyDuration are Config's
// defaults.
const (
	DefaultOrders          = 200_000
	DefaultLatencyRate     = 2000
	DefaultLatencyDuration = 20 * time.Second
	DefaultOutDir          = "worker/bench/results"
)

func (c Config) withDefaults() (Config, error) {
	if c.Binary == "" {
		c.Binary = "bin/orderflow"
	}
	if c.Orders == 0 {
		c.Orders = DefaultOrders
	}
	if c.Now.IsZero() {
		c.Now = time.Now().UTC().Truncate(time.Second)
	}
	if c.LatencyRate == 0 {
		c.LatencyRate = DefaultLatencyRate
	}
	if c.LatencyDuration == 0 {
		c.LatencyDuration = DefaultLatencyDuration
	}
	if c.OutDir == "" {
		c.OutDir = DefaultOutDir
	}
	if c.Environ == nil {
		c.Environ = os.Environ()
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	// The bench and the worker's forwarded output write at once.
	c.Progress = &lockedWriter{w: c.Progress}
	if c.SampleInterval == 0 {
		c.SampleInterval = 250 * time.Millisecond
	}
	if c.Stall == 0 {
		c.Stall = 2 * time.Minute
	}
	var errs []error
	if c.ConfigPath == "" {
		errs = append(errs, errors.New("config: the worker's configuration file is required"))
	}
	if c.Orders < 1 || c.Orders > 100_000_000 {
		errs = append(errs, fmt.Errorf("orders: %d is not between 1 and 100000000", c.Orders))
	}
	if c.LatencyRate < 1 || c.LatencyRate > 1e6 || math.IsNaN(c.LatencyRate) {
		errs = append(errs, fmt.Errorf("latency rate: %v is not between 1 and 1000000 messages/s", c.LatencyRate))
	}
	if c.LatencyDuration < time.Second || c.LatencyDuration > time.Hour {
		errs = append(errs, fmt.Errorf("latency duration: %s is not between 1s and 1h", c.LatencyDuration))
	}
	if c.SampleInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("sample interval: %s is below 10ms", c.SampleInterval))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("bench: %w", errors.Join(errs...))
	}
	return c, nil
}

// run is one run's state.
type run struct {
	cfg     Config
	app     config.Config
	names   names
	started time.Time
	clients *kafkaclient.Clients
	kafka   *kafka.Client
	conn    driver.Conn
	gen     *generate.Generator
}

func (r *run) progress(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "orderflow-bench %6.1fs  %s\n", time.Since(r.started).Seconds(), fmt.Sprintf(format, args...))
}

// Run runs the whole benchmark. It returns an error when a phase could not
// complete; a complete run whose checks failed (the worker did not exit 0 on
// SIGTERM, committed a different count) returns its Result with those checks
// marked, and no error. The worker subprocess never outlives Run, and the
// run's topics and databases are deleted on every way out unless cfg.Keep.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, started: time.Now()}
	res := &Result{Started: r.started.UTC(), Machine: readMachine()}
	res.Source = readSource(ctx, cfg.OutDir)

	r.app, err = config.Load(cfg.ConfigPath, cfg.Environ)
	if err != nil {
		return nil, fmt.Errorf("bench: the worker's %w", err)
	}
	if r.app.Kafka.TLS.Enabled || r.app.Kafka.SASL.Mechanism != "" {
		return nil, errors.New("bench: Kafka with TLS or SASL is not supported: the bench runs against the local stack")
	}
	if err := r.app.ClickHouse.Require(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if res.Machine.WorkerBuild, err = binaryVersion(ctx, cfg.Binary); err != nil {
		return nil, fmt.Errorf("bench: the worker binary (build it with `make build`): %w", err)
	}
	if r.names, err = newNames(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res.Params = Params{
		Orders: cfg.Orders, Seed: cfg.Seed, Now: cfg.Now,
		LatencyRate: cfg.LatencyRate, LatencyDuration: cfg.LatencyDuration.String(),
		Config: cfg.ConfigPath, Binary: cfg.Binary, SampleInterval: cfg.SampleInterval.String(),
		BatchMaxMessages: r.app.Pipeline.BatchMaxMessages, BatchMaxWait: r.app.Pipeline.BatchMaxWait.String(),
		Partitions: inputPartitions, RunID: r.names.ID,
	}
	r.progress("run %s: %d orders, seed %d, commit %s%s, load %s", r.names.ID, cfg.Orders, cfg.Seed,
		res.Commit, dirtyMark(res.Dirty), res.Machine.LoadBefore)

	if r.clients, err = kafkaclient.New(r.app.Kafka); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r.kafka = r.clients.Admin()
	chCfg := r.app.ClickHouse
	chCfg.Database, chCfg.RestrictedDatabase = r.names.Database, r.names.Restricted
	r.conn, err = clickhousedb.Open(ctx, chCfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() { _ = r.conn.Close() }()
	defer r.cleanup()

	if err := r.phases(ctx, res); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res.Machine.LoadAfter = loadAverage()
	res.evaluate()
	r.progress("done: load %s", res.Machine.LoadAfter)
	return res, nil
}

// cleanup deletes the run's topics, groups and databases, whatever happened,
// within its own minute.
func (r *run) cleanup() {
	n := r.names
	if r.cfg.Keep {
		r.progress("kept: topics %s; groups %s, %s; databases %s, %s",
			strings.Join(n.topics(), ", "), n.WorkerGroup, n.KafkaRefGroup, n.Database, n.Restricted)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := errors.Join(deleteTopics(ctx, r.kafka, n), dropDatabases(ctx, r.conn, n)); err != nil {
		r.progress("cleanup incomplete (remove by hand what is named bench_...): %v", err)
		return
	}
	r.progress("cleanup: topics, groups and databases of %s deleted", n.ID)
}

func (r *run) phases(ctx context.Context, res *Result) error {
	n, cfg := r.names, r.cfg
	r.progress("setup: topics %s, databases %s{,_restricted}", strings.Join(n.topics(), ", "), n.Database)
	if err := createTopics(ctx, r.kafka, n); err != nil {
		return err
	}
	if err := migrateDatabases(ctx, r.conn, n); err != nil {
		return err
	}
	gen, err := generate.New(generate.Config{Seed: cfg.Seed, Now: cfg.Now})
	if err != nil {
		return err
	}
	r.gen = gen
	res.Params.Tenants = gen.Config().Tenants

	r.progress("prefill: %d messages", cfg.Orders)
	stats, err := r.prefill(ctx, cfg.Orders)
	if err != nil {
		return err
	}
	res.Generated = Generated{Messages: stats.Messages, Snapshots: stats.Snapshots, Orders: stats.Orders, Malformed: stats.Malformed, CardNumbers: stats.CardNumbers}

	r.progress("reference (a): kafka-go consumer group reads and commits %d messages", cfg.Orders)
	res.KafkaRef, err = kafkaReference(ctx, r.app.Kafka.Brokers, n.KafkaRefGroup, n.Topics.Orders(), cfg.Orders, cfg.SampleInterval)
	if err != nil {
		return err
	}
	r.progress("reference (a): %.0f messages/s steady, %.0f/s overall (%.1fs, first after %.1fs)",
		res.KafkaRef.Steady, res.KafkaRef.Overall, res.KafkaRef.Seconds, res.KafkaRef.First)

	if err := r.workerPhases(ctx, res); err != nil {
		return err
	}

	rows := res.Worker.RowsTotal
	if rows <= 0 {
		return errors.New("the worker wrote no rows to ClickHouse")
	}
	r.progress("reference (b): clickhouse-go inserts %d rows into a copy of order_facts, %d a block", rows, refBlockRows)
	in, err := insertReference(ctx, r.conn, n.Database, rows, cfg.Seed, cfg.Now, cfg.SampleInterval)
	if err != nil {
		return err
	}
	res.InsertRef = InsertResult{Throughput: in, RowsPerOrder: res.Worker.RowsPerOrder}
	res.InsertRef.OrdersOverall = in.Overall / res.Worker.RowsPerOrder
	res.InsertRef.OrdersSteady = in.Steady / res.Worker.RowsPerOrder
	r.progress("reference (b): %.0f rows/s steady = %.0f orders/s at %.2f rows an order", in.Steady, res.InsertRef.OrdersSteady, res.Worker.RowsPerOrder)
	return nil
}

// workerPhases runs the worker: the drain, the latency phase, the stop.
func (r *run) workerPhases(ctx context.Context, res *Result) error {
	n, cfg := r.names, r.cfg
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	overrides := map[string]string{
		"ORDERFLOW_KAFKA_TOPICS_DEAD_LETTER":       n.Topics.DeadLetter,
		"ORDERFLOW_KAFKA_TOPICS_COURIER":           n.Topics.Courier,
		"ORDERFLOW_KAFKA_TOPICS_PARKED":            n.Topics.Parked,
		"ORDERFLOW_KAFKA_GROUP_ID":                 n.WorkerGroup,
		"ORDERFLOW_CLICKHOUSE_DATABASE":            n.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE": n.Restricted,
		"ORDERFLOW_METRICS_LISTEN":                 addr,
		"ORDERFLOW_LOG_LEVEL":                      "warn",
		// The hourly purge is not the pipeline; its first pass would run
		// during the drain.
		"ORDERFLOW_RETENTION_INTERVAL": "0s",
	}
	for ch, topic := range n.Topics.Channels {
		overrides[config.EnvName("kafka.topics."+string(ch))] = topic
	}
	env := withOverrides(cfg.Environ, overrides)
	r.progress("worker: %s run --config %s (metrics on %s) drains %d messages", cfg.Binary, cfg.ConfigPath, addr, cfg.Orders)
	w, err := startWorker(cfg.Binary, cfg.ConfigPath, env, addr, cfg.Progress)
	if err != nil {
		return err
	}
	// On every way out (an error, SIGINT) the worker is stopped as in
	// production, SIGTERM first so that it leaves its consumer group, and
	// killed if it does not exit in time. A no-op after the stop below.
	stopTimeout := r.app.Pipeline.ShutdownTimeout + 10*time.Second
	defer func() { _, _ = w.stop(stopTimeout) }()

	// The drain: scrape until everything is committed.
	target := float64(cfg.Orders)
	var samples, points []Sample
	lastReport := time.Now()
	each := func(at time.Time, s Snapshot) {
		c := committed(s)
		samples = append(samples, Sample{At: at.Sub(w.start).Seconds(), Count: c})
		// The gauge is the time of the last commit, so (it, committed) is an
		// exact point, free of the scrape interval's jitter.
		if lc := s.Sum(metricLastCommit); lc > 0 && c > 0 {
			t := lc - float64(w.start.UnixNano())/1e9
			if len(points) == 0 || t > points[len(points)-1].At {
				points = append(points, Sample{At: t, Count: c})
			}
		}
		if time.Since(lastReport) >= 2*time.Second {
			r.progress("worker: %.0f of %.0f committed", c, target)
			lastReport = time.Now()
		}
	}
	drained, err := w.waitCommitted(ctx, target, cfg.SampleInterval, cfg.Stall, each)
	if err != nil {
		return fmt.Errorf("worker drain: %w", err)
	}
	cpu, err := ReadProcCPU(w.pid())
	if err != nil {
		return err
	}
	// The counters move just before the gauge: a scrape between them sees the
	// last batch counted but not yet timed. One more scrape reads its time.
	time.Sleep(100 * time.Millisecond)
	if s, err := w.scrape(ctx); err == nil {
		each(time.Now(), s)
	}
	if len(points) == 0 {
		return errors.New("worker drain: orderflow_last_commit_timestamp_seconds never moved")
	}
	end := points[len(points)-1].At
	total := int64(committed(drained))
	res.Worker = workerFigures(drained, cpu, newThroughput(total, points[0].At, end, points, trimAfter(samples, end)))
	wk := &res.Worker
	r.progress("worker: %.0f orders/s steady, %.0f/s overall (%.1fs, first commit after %.1fs); %.2f CPU-s per 100k orders",
		wk.Steady, wk.Overall, wk.Seconds, wk.First, wk.CPUSecondsPer100k)

	// The latency phase: a steady rate on top of an idle, caught-up worker.
	before, err := w.waitCommitted(ctx, 0, cfg.SampleInterval, cfg.Stall, nil)
	if err != nil {
		return fmt.Errorf("latency phase: %w", err)
	}
	h0, ok := before.Histogram(metricEndToEnd)
	if !ok {
		return fmt.Errorf("latency phase: the worker exposes no %s histogram", metricEndToEnd)
	}
	r.progress("latency: producing %.0f messages/s for %s", cfg.LatencyRate, cfg.LatencyDuration)
	produced, err := r.produceAtRate(ctx, cfg.LatencyRate, cfg.LatencyDuration)
	if err != nil {
		return err
	}
	after, err := w.waitCommitted(ctx, committed(before)+float64(produced), cfg.SampleInterval, cfg.Stall, nil)
	if err != nil {
		return fmt.Errorf("latency phase: waiting for %d messages to be committed: %w", produced, err)
	}
	h1, _ := after.Histogram(metricEndToEnd)
	delta, err := h1.Sub(h0)
	if err != nil {
		return fmt.Errorf("latency phase: %w", err)
	}
	res.Latency = Latency{
		Rate: cfg.LatencyRate, Seconds: cfg.LatencyDuration.Seconds(), Messages: produced,
		Observations: delta.Count, P50: finite(delta.Quantile(0.5)), P99: finite(delta.Quantile(0.99)),
		Histogram: delta,
	}
	if delta.Count > 0 {
		res.Latency.Mean = delta.Sum / delta.Count
	}
	r.progress("latency: p50 %.3fs, p99 %.3fs over %.0f messages", res.Latency.P50, res.Latency.P99, delta.Count)

	// The stop: SIGTERM, and the worker must exit 0 within its shutdown timeout.
	r.progress("worker: SIGTERM")
	code, err := w.stop(stopTimeout)
	res.Worker.ExitCode = code
	if err != nil {
		r.progress("worker: %v", err)
	}
	return nil
}

// workerFigures reads the worker's figures from its scrape at the end of the
// drain.
func workerFigures(s Snapshot, cpu ProcCPU, t Throughput) WorkerResult {
	w := WorkerResult{
		Throughput:  t,
		Orders:      int64(s.Sum(metricOrders)),
		DeadLetters: int64(s.Sum(metricDeadLetters)),
		Refused:     int64(s.Sum(metricRefused)),
		Batches:     int64(s.Sum(metricBatches)),
		CPUSeconds:  cpu.Seconds(),
		Rows:        map[string]int64{},
		Vault:       s.SumBy(metricVaultRequests, "operation"),
		ExitCode:    -1,
	}
	n := float64(t.Count)
	if n > 0 {
		w.CPUSecondsPer100k = cpu.Seconds() * 100_000 / n
	}
	for _, v := range w.Vault {
		w.VaultRequests += v
	}
	if n > 0 {
		w.VaultRequestsPerOrder = w.VaultRequests / n
	}
	if items := s.Sum(metricVaultItems); w.VaultRequests > 0 {
		w.VaultItemsPerRequest = items / w.VaultRequests
	}
	cache := s.SumBy(metricTokenCache, "result")
	w.TokenCacheHits, w.TokenCacheMisses = cache["hit"], cache["miss"]
	if lookups := w.TokenCacheHits + w.TokenCacheMisses; lookups > 0 {
		w.TokenCacheHitRate = w.TokenCacheHits / lookups
	}
	if h, ok := s.Histogram(metricBatchMessages); ok {
		w.BatchedMessages = int64(h.Sum)
	}
	for table, v := range s.SumBy(metricInsertRows, "table") {
		w.Rows[table] = int64(v)
		w.RowsTotal += int64(v)
	}
	if n > 0 {
		w.RowsPerOrder = float64(w.RowsTotal) / n
	}
	return w
}

// withOverrides returns environ with the variables of set replaced.
func withOverrides(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

func trimAfter(samples []Sample, end float64) []Sample {
	for i, s := range samples {
		if s.At > end {
			return append(samples[:i:i], Sample{At: end, Count: samples[len(samples)-1].Count})
		}
	}
	return samples
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// finite is v, or 0 for NaN and infinities (an empty histogram), which JSON
// cannot hold; the latency check reports the missing observations.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func dirtyMark(dirty bool) string {
	if dirty {
		return " (dirty)"
	}
	return ""
}
