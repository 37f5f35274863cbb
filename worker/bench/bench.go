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
// under a live stream at each of a few steady rates, stops it with SIGTERM,
// and runs reference (b). Throughout, it counts the parts the worker's
// inserts create (ClickHouse's system.part_log). Every topic, consumer group
// and database is the run's own and is deleted at the end of the run unless
// Config.Keep.
//
// The benchmark makes several such runs, one after the other, and judges the
// goals on their medians: on a shared machine one run can be off by half.
//
// In rates, an "order" is one input message committed: an order snapshot or
// one of the few malformed messages the worker dead-letters.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
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

// Config configures a benchmark. The zero value of each field means its
// default.
type Config struct {
	// ConfigPath is the worker's configuration file, passed to `orderflow run
	// --config`; the bench reads it too (with Environ's overrides) for the
	// addresses of Kafka and ClickHouse. Required.
	ConfigPath string
	// Binary is the orderflow binary to measure. Default "bin/orderflow".
	Binary string
	// Runs is how many independent runs to make. Default 3.
	Runs int
	// Orders is how many messages each run prefills and drains. Default
	// 200000.
	Orders int64
	// Seed seeds the generator and reference (b)'s rows; used as given (the
	// command's default is 1). Every run generates the same messages.
	Seed uint64
	// Now is the instant the orders are generated as of. Default: the
	// benchmark's start, to the second.
	Now time.Time
	// LatencyRates are the produce rates of the live phases, messages per
	// second, one phase each in this order. Default GoalLatencyRates().
	LatencyRates []float64
	// LatencyDuration is how long each live phase produces. Default 15s.
	LatencyDuration time.Duration
	// Keep keeps the runs' topics, consumer groups and databases.
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

// Config's defaults. One run of 200,000 orders (the size of every earlier
// result, so that they compare) takes about a minute and a half on the
// project's 2-core machine: set-up 1 s, prefill 5 s, reference (a) 2 s, the
// worker's start and drain 20-25 s, two live phases of 15 s and their tails
// 35-45 s, reference (b) 9 s, clean-up 4 s. The three runs of `make bench`
// take about five minutes, up to eight when other work shares the cores.
const (
	DefaultRuns            = 3
	DefaultOrders          = 200_000
	DefaultLatencyDuration = 15 * time.Second
	DefaultOutDir          = "worker/bench/results"
)

func (c Config) withDefaults() (Config, error) {
	if c.Binary == "" {
		c.Binary = "bin/orderflow"
	}
	if c.Runs == 0 {
		c.Runs = DefaultRuns
	}
	if c.Orders == 0 {
		c.Orders = DefaultOrders
	}
	if c.Now.IsZero() {
		c.Now = time.Now().UTC().Truncate(time.Second)
	}
	if c.LatencyRates == nil {
		c.LatencyRates = GoalLatencyRates()
	}
	c.LatencyRates = slices.Clone(c.LatencyRates)
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
	if c.Runs < 1 || c.Runs > 20 {
		errs = append(errs, fmt.Errorf("runs: %d is not between 1 and 20", c.Runs))
	}
	if c.Orders < 1 || c.Orders > 100_000_000 {
		errs = append(errs, fmt.Errorf("orders: %d is not between 1 and 100000000", c.Orders))
	}
	for _, rate := range c.LatencyRates {
		if rate < 1 || rate > 1e6 || math.IsNaN(rate) {
			errs = append(errs, fmt.Errorf("latency rate: %v is not between 1 and 1000000 messages/s", rate))
		}
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

// bench is what the runs share: the configuration and the clients.
type bench struct {
	cfg     Config
	app     config.Config
	started time.Time
	clients *kafkaclient.Clients
	kafka   *kafka.Client
	conn    driver.Conn
}

// run is one run's state.
type run struct {
	*bench
	index int // from 1
	names names
	gen   *generate.Generator
}

func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(b.cfg.Progress, "orderflow-bench %6.1fs  %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

func (r *run) progress(format string, args ...any) {
	r.bench.progress("run %d/%d: %s", r.index, r.cfg.Runs, fmt.Sprintf(format, args...))
}

// Run runs the whole benchmark: cfg.Runs runs one after the other. It returns
// an error when a phase of any run could not complete; complete runs whose
// checks failed (the worker did not exit 0 on SIGTERM, committed a different
// count) return the Result with those checks marked, and no error. No worker
// subprocess outlives Run, and each run's topics and databases are deleted at
// its end on every way out unless cfg.Keep.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, started: time.Now()}
	res := &Result{Started: b.started.UTC(), Machine: readMachine()}
	res.Source = readSource(ctx, cfg.OutDir)

	if err := b.loadConfig(); err != nil {
		return nil, err
	}
	if res.Machine.WorkerBuild, err = binaryVersion(ctx, cfg.Binary); err != nil {
		return nil, fmt.Errorf("bench: the worker binary (build it with `make build`): %w", err)
	}
	res.Params = Params{
		Runs: cfg.Runs, Orders: cfg.Orders, Seed: cfg.Seed, Now: cfg.Now,
		LatencyRates: cfg.LatencyRates, LatencyDuration: cfg.LatencyDuration.String(),
		Config: cfg.ConfigPath, Binary: cfg.Binary, SampleInterval: cfg.SampleInterval.String(),
		BatchMaxMessages: b.app.Pipeline.BatchMaxMessages, BatchMaxWait: b.app.Pipeline.BatchMaxWait.String(),
		Partitions: inputPartitions,
	}
	b.progress("%d runs of %d orders, seed %d, live phases %s for %s each; commit %s%s, load %s", cfg.Runs, cfg.Orders, cfg.Seed,
		rateList(cfg.LatencyRates), cfg.LatencyDuration, res.Commit, dirtyMark(res.Dirty), res.Machine.LoadBefore)

	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = b.conn.Close() }()

	for i := 1; i <= cfg.Runs; i++ {
		rr, err := b.runOnce(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("bench: run %d of %d: %w", i, cfg.Runs, err)
		}
		res.Runs = append(res.Runs, rr)
	}
	res.Params.Tenants = res.Runs[0].tenants
	res.Machine.LoadAfter = loadAverage()
	res.evaluate()
	b.progress("done: worker ÷ slower reference %s; load %s", spreadText(res.Summary.Share, "%.2f"), res.Machine.LoadAfter)
	return res, nil
}

// loadConfig reads the worker's configuration, which the bench shares for
// the addresses of Kafka and ClickHouse.
func (b *bench) loadConfig() error {
	var err error
	b.app, err = config.Load(b.cfg.ConfigPath, b.cfg.Environ)
	if err != nil {
		return fmt.Errorf("bench: the worker's %w", err)
	}
	if b.app.Kafka.TLS.Enabled || b.app.Kafka.SASL.Mechanism != "" {
		return errors.New("bench: Kafka with TLS or SASL is not supported: the bench runs against the local stack")
	}
	if err := b.app.ClickHouse.Require(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// connect opens the Kafka clients and the ClickHouse connection; the caller
// closes b.conn.
func (b *bench) connect(ctx context.Context) error {
	var err error
	if b.clients, err = kafkaclient.New(b.app.Kafka); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	b.kafka = b.clients.Admin()
	// The connection names no database (clickhousedb.Open): every statement
	// names the run's.
	b.conn, err = clickhousedb.Open(ctx, b.app.ClickHouse)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// runOnce makes run i on topics, groups and databases of its own, and deletes
// them at the end.
func (b *bench) runOnce(ctx context.Context, i int) (RunResult, error) {
	n, err := newNames()
	if err != nil {
		return RunResult{}, err
	}
	r := &run{bench: b, index: i, names: n}
	rr := RunResult{Run: i, ID: n.ID, LoadBefore: loadAverage()}
	defer r.cleanup()
	if err := r.phases(ctx, &rr); err != nil {
		return RunResult{}, err
	}
	rr.LoadAfter = loadAverage()
	return rr, nil
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

func (r *run) phases(ctx context.Context, res *RunResult) error {
	n, cfg := r.names, r.cfg
	r.progress("setup %s: topics %s, databases %s{,_restricted}; load %s", n.ID, strings.Join(n.topics(), ", "), n.Database, res.LoadBefore)
	if err := r.setup(ctx); err != nil {
		return err
	}
	res.tenants = r.gen.Config().Tenants

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

// setup creates the run's topics and databases and its generator.
func (r *run) setup(ctx context.Context) error {
	if err := createTopics(ctx, r.kafka, r.names); err != nil {
		return err
	}
	if err := migrateDatabases(ctx, r.conn, r.names); err != nil {
		return err
	}
	gen, err := generate.New(generate.Config{Seed: r.cfg.Seed, Now: r.cfg.Now})
	if err != nil {
		return err
	}
	r.gen = gen
	return nil
}

// workerPhases runs the worker: the drain, the live phases, the stop. Parts
// are counted at each phase's end, when the worker has committed everything
// it was given and so written every part of it.
func (r *run) workerPhases(ctx context.Context, res *RunResult) error {
	n, cfg := r.names, r.cfg
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	// The hourly purge is not the pipeline; its first pass would run during
	// the drain.
	env := workerEnv(cfg.Environ, n, addr, 0)

	// The migrations wrote parts of their own: the worker's start after them.
	baseline, err := partCounts(ctx, r.conn, n, r.started)
	if err != nil {
		return err
	}
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

	drained, err := r.drain(ctx, w, res)
	if err != nil {
		return err
	}
	mark, err := r.partsMark(ctx, drained)
	if err != nil {
		return err
	}
	res.Parts = append(res.Parts, newParts("drain", partsMark{Parts: baseline}, mark))
	r.progress("parts: %s", partsText(res.Parts[len(res.Parts)-1]))

	for _, rate := range cfg.LatencyRates {
		l, next, err := r.live(ctx, w, rate)
		if err != nil {
			return fmt.Errorf("live phase at %.0f/s: %w", rate, err)
		}
		res.Latency = append(res.Latency, l)
		res.Parts = append(res.Parts, newParts(fmt.Sprintf("live %.0f/s", rate), mark, next))
		mark = next
		r.progress("live %.0f/s: p50 %.3fs, p99 %.3fs, mean %.3fs over %.0f messages in %d batches; parts: %s",
			rate, l.P50, l.P99, l.Mean, l.Observations, l.Batches, partsText(res.Parts[len(res.Parts)-1]))
	}

	// The stop: SIGTERM, and the worker must exit 0 within its shutdown timeout.
	r.progress("worker: SIGTERM")
	code, err := w.stop(stopTimeout)
	res.Worker.ExitCode = code
	if err != nil {
		r.progress("worker: %v", err)
	}
	return nil
}

// drain waits for the worker to commit the prefilled backlog, measuring its
// throughput from its process start, and returns the scrape at the end.
func (r *run) drain(ctx context.Context, w *workerProc, res *RunResult) (Snapshot, error) {
	cfg := r.cfg
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
		return Snapshot{}, fmt.Errorf("worker drain: %w", err)
	}
	cpu, err := ReadProcCPU(w.pid())
	if err != nil {
		return Snapshot{}, err
	}
	// The counters move just before the gauge: a scrape between them sees the
	// last batch counted but not yet timed. One more scrape reads its time.
	time.Sleep(100 * time.Millisecond)
	if s, err := w.scrape(ctx); err == nil {
		each(time.Now(), s)
		drained = s
	}
	if len(points) == 0 {
		return Snapshot{}, errors.New("worker drain: orderflow_last_commit_timestamp_seconds never moved")
	}
	end := points[len(points)-1].At
	total := int64(committed(drained))
	res.Worker = workerFigures(drained, cpu, newThroughput(total, points[0].At, end, points, trimAfter(samples, end)))
	wk := &res.Worker
	r.progress("worker: %.0f orders/s steady, %.0f/s overall (%.1fs, first commit after %.1fs); %.2f CPU-s per 100k orders",
		wk.Steady, wk.Overall, wk.Seconds, wk.First, wk.CPUSecondsPer100k)
	return drained, nil
}

// live produces rate messages a second for the configured duration on top of
// the idle, caught-up worker, waits until all are committed, and returns the
// phase's latency and the parts mark at its end.
func (r *run) live(ctx context.Context, w *workerProc, rate float64) (Latency, partsMark, error) {
	cfg := r.cfg
	before, err := w.waitCommitted(ctx, 0, cfg.SampleInterval, cfg.Stall, nil)
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	h0, ok := before.Histogram(metricEndToEnd)
	if !ok {
		return Latency{}, partsMark{}, fmt.Errorf("the worker exposes no %s histogram", metricEndToEnd)
	}
	cpu0, err := ReadProcCPU(w.pid())
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	r.progress("live: producing %.0f messages/s for %s", rate, cfg.LatencyDuration)
	produced, err := r.produceAtRate(ctx, rate, cfg.LatencyDuration)
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	after, err := w.waitCommitted(ctx, committed(before)+float64(produced), cfg.SampleInterval, cfg.Stall, nil)
	if err != nil {
		return Latency{}, partsMark{}, fmt.Errorf("waiting for %d messages to be committed: %w", produced, err)
	}
	cpu1, err := ReadProcCPU(w.pid())
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	h1, _ := after.Histogram(metricEndToEnd)
	delta, err := h1.Sub(h0)
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	mark, err := r.partsMark(ctx, after)
	if err != nil {
		return Latency{}, partsMark{}, err
	}
	l := Latency{
		Rate: rate, Seconds: cfg.LatencyDuration.Seconds(), Messages: produced,
		Observations: delta.Count, P50: finite(delta.Quantile(0.5)), P99: finite(delta.Quantile(0.99)),
		Histogram:    delta,
		Batches:      int64(after.Sum(metricBatches) - before.Sum(metricBatches)),
		StageSeconds: meanBetween(before, after, metricStageSeconds, "stage"),
	}
	if delta.Count > 0 {
		l.Mean = delta.Sum / delta.Count
	}
	if l.Batches > 0 {
		l.MessagesPerBatch = float64(produced) / float64(l.Batches)
	}
	if produced > 0 {
		l.CPUSecondsPer100k = (cpu1.Seconds() - cpu0.Seconds()) * 100_000 / float64(produced)
	}
	return l, mark, nil
}

// partsMark reads the parts so far and the worker's batches and inserts in
// its scrape s.
func (r *run) partsMark(ctx context.Context, s Snapshot) (partsMark, error) {
	parts, err := partCounts(ctx, r.conn, r.names, r.started)
	if err != nil {
		return partsMark{}, err
	}
	m := partsMark{Parts: parts, Inserts: map[string]int64{}, Batches: int64(s.Sum(metricBatches))}
	for table, v := range s.SumBy(metricInsertBatches, "table") {
		m.Inserts[table] = int64(v)
	}
	return m, nil
}

// partsText is a phase's parts on one line.
func partsText(p Parts) string {
	var tables []string
	for _, t := range slices.Sorted(maps.Keys(p.Tables)) {
		tables = append(tables, fmt.Sprintf("%s %.1f", t, p.Tables[t].PerBatch))
	}
	return fmt.Sprintf("%d in %d batches = %.1f a batch (%s)", p.Total, p.Batches, p.PerBatch, strings.Join(tables, ", "))
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

// workerEnv is environ with the worker pointed at the run's topics, group and
// databases, its metrics on addr, and its purge every retention (0: never).
func workerEnv(environ []string, n names, addr string, retention time.Duration) []string {
	overrides := map[string]string{
		"ORDERFLOW_KAFKA_TOPICS_DEAD_LETTER":       n.Topics.DeadLetter,
		"ORDERFLOW_KAFKA_TOPICS_COURIER":           n.Topics.Courier,
		"ORDERFLOW_KAFKA_TOPICS_PARKED":            n.Topics.Parked,
		"ORDERFLOW_KAFKA_GROUP_ID":                 n.WorkerGroup,
		"ORDERFLOW_CLICKHOUSE_DATABASE":            n.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE": n.Restricted,
		"ORDERFLOW_METRICS_LISTEN":                 addr,
		"ORDERFLOW_LOG_LEVEL":                      "warn",
		"ORDERFLOW_RETENTION_INTERVAL":             retention.String(),
	}
	for ch, topic := range n.Topics.Channels {
		overrides[config.EnvName("kafka.topics."+string(ch))] = topic
	}
	return withOverrides(environ, overrides)
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
