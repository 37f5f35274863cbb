package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/orderflow/orderflow/worker/generate/produce"
)

// The soak (`make soak`, orderflow-bench --soak) holds the worker at a steady
// rate of generated orders for a long while, with its purge running every
// RetentionInterval and ClickHouse merging behind the inserts, and samples
// what a leak or a backlog would make climb: heap in use, goroutines, open
// files, RSS, consumer lag, and the most active parts in any one partition of
// the run's tables. It judges each series flat or not (SoakRules) and checks
// that the rate was held and every acknowledged message committed.

// SoakConfig configures a soak. The zero value of each field means its
// default.
type SoakConfig struct {
	// Config holds what the soak shares with the benchmark: ConfigPath
	// (required), Binary, Seed, Now, Keep, OutDir, Environ, Progress and
	// Stall. Its SampleInterval defaults to 10s here; its run and live-phase
	// fields are not used.
	Config
	// Rate is the produce rate, messages per second. Default 5000.
	Rate float64
	// Duration is how long the soak produces. Default 20m.
	Duration time.Duration
	// Warmup is the start of the run left out of the flatness verdicts: the
	// heap, the token cache and the parts grow to their working size first.
	// Default Duration/10.
	Warmup time.Duration
	// RetentionInterval is how often the worker purges. Default 1m, the
	// shortest its configuration allows.
	RetentionInterval time.Duration
}

// SoakConfig's defaults: issue 18's soak.
const (
	DefaultSoakRate              = 5000
	DefaultSoakDuration          = 20 * time.Minute
	DefaultSoakSampleInterval    = 10 * time.Second
	DefaultSoakRetentionInterval = time.Minute
)

func (c SoakConfig) withDefaults() (SoakConfig, error) {
	if c.Rate == 0 {
		c.Rate = DefaultSoakRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultSoakDuration
	}
	if c.Warmup == 0 {
		c.Warmup = c.Duration / 10
	}
	if c.RetentionInterval == 0 {
		c.RetentionInterval = DefaultSoakRetentionInterval
	}
	if c.SampleInterval == 0 {
		c.SampleInterval = DefaultSoakSampleInterval
	}
	c.Runs = 1
	var err error
	if c.Config, err = c.Config.withDefaults(); err != nil {
		return c, err
	}
	var errs []error
	if !(c.Rate >= 1 && c.Rate <= 1e6) {
		errs = append(errs, fmt.Errorf("rate: %v is not between 1 and 1000000 messages/s", c.Rate))
	}
	if c.Duration < 30*time.Second || c.Duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("duration: %s is not between 30s and 24h", c.Duration))
	}
	if c.Warmup < 0 || c.Warmup > c.Duration/2 {
		errs = append(errs, fmt.Errorf("warm-up: %s is not between 0 and half the duration", c.Warmup))
	}
	// Each fifth of the judged window needs samples for its median.
	if c.SampleInterval*10 > c.Duration-c.Warmup {
		errs = append(errs, fmt.Errorf("sample interval: %s leaves fewer than 2 samples a fifth of %s", c.SampleInterval, c.Duration-c.Warmup))
	}
	if c.RetentionInterval < time.Minute {
		errs = append(errs, fmt.Errorf("retention interval: %s is below the worker's minimum of 1m", c.RetentionInterval))
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("soak: %w", errors.Join(errs...))
	}
	return c, nil
}

// SoakSample is one sample of the soak, every SampleInterval.
type SoakSample struct {
	At        float64 `json:"t"` // seconds since production started
	HeapInuse float64 `json:"heap_inuse_bytes"`
	// HeapLive is the heap the worker's last garbage collection found
	// reachable (go_gc_heap_live_bytes): HeapInuse less the garbage not yet
	// collected, which swings with the collector's pace.
	HeapLive   float64 `json:"heap_live_bytes"`
	RSS        float64 `json:"rss_bytes"`
	Goroutines float64 `json:"goroutines"`
	OpenFDs    float64 `json:"open_fds"`
	Lag        float64 `json:"consumer_lag_messages"`
	// Produced is the messages the brokers acknowledged so far (the
	// producer's tally, updated every second); Committed what the worker
	// committed (orders, dead letters and refused).
	Produced  float64 `json:"produced"`
	Committed float64 `json:"committed"`
	// Parts is the most active parts in one partition of the run's tables
	// (system.parts), and PartsTable that partition's table; Parts is -1
	// (partsUnknown) when ClickHouse did not answer.
	Parts      float64 `json:"max_parts_per_partition"`
	PartsTable string  `json:"max_parts_table"`
	// PurgeRuns is the worker's purge passes so far, any outcome.
	PurgeRuns float64 `json:"purge_runs"`
}

// soakSampler reads one SoakSample: the worker's /metrics, the producer's
// tally and the run's parts.
type soakSampler struct {
	r        *run
	w        *workerProc
	start    time.Time
	produced *atomic.Int64
}

const (
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricHeapLive   = "go_gc_heap_live_bytes"
	metricGoroutines = "go_goroutines"
	metricOpenFDs    = "process_open_fds"
	metricRSS        = "process_resident_memory_bytes"
	metricLag        = "orderflow_kafka_consumer_lag_messages"
	metricPurgeRuns  = "orderflow_purge_runs_total"
	metricPurgeRows  = "orderflow_purge_rows_total"
)

// sample reads the worker's /metrics and the parts. When only the parts
// fail (ClickHouse restarted by someone else's fault test) it returns the
// sample with the parts unknown (partsUnknown) and the error: the worker's
// series keep their sample.
func (s soakSampler) sample(ctx context.Context) (SoakSample, error) {
	snap, err := s.w.scrape(ctx)
	if err != nil {
		return SoakSample{}, err
	}
	for _, m := range []string{metricHeapInuse, metricHeapLive, metricGoroutines, metricOpenFDs, metricRSS} {
		if !snap.Has(m) {
			return SoakSample{}, fmt.Errorf("the worker exposes no %s", m)
		}
	}
	x := SoakSample{
		At:        time.Since(s.start).Seconds(),
		HeapInuse: snap.Sum(metricHeapInuse), HeapLive: snap.Sum(metricHeapLive), RSS: snap.Sum(metricRSS),
		Goroutines: snap.Sum(metricGoroutines), OpenFDs: snap.Sum(metricOpenFDs),
		Lag: snap.Sum(metricLag), Produced: float64(s.produced.Load()), Committed: committed(snap),
		PurgeRuns: snap.Sum(metricPurgeRuns),
	}
	pp, err := maxActiveParts(ctx, s.r.conn, s.r.names)
	if err != nil {
		x.Parts = partsUnknown
		return x, err
	}
	x.Parts, x.PartsTable = float64(pp.Parts), pp.Table
	return x, nil
}

// partsUnknown is SoakSample.Parts when ClickHouse did not answer.
const partsUnknown = -1

// RunSoak runs one soak on topics and databases of its own (deleted at its
// end unless cfg.Keep) and returns its samples and verdicts. It returns an
// error when the soak could not run to its end; a soak that ran but whose
// series were not flat, whose rate was not held or that lost messages returns
// its SoakResult with those verdicts failed (SoakResult.OK), and no error.
func RunSoak(ctx context.Context, cfg SoakConfig) (*SoakResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg.Config, started: time.Now()}
	res := &SoakResult{Started: b.started.UTC(), Machine: readMachine()}
	res.Source = readSource(ctx, cfg.OutDir)
	if err := b.loadConfig(); err != nil {
		return nil, err
	}
	if res.Machine.WorkerBuild, err = binaryVersion(ctx, cfg.Binary); err != nil {
		return nil, fmt.Errorf("soak: the worker binary (build it with `make build`): %w", err)
	}
	res.Params = SoakParams{
		Rate: cfg.Rate, Duration: cfg.Duration.String(), Warmup: cfg.Warmup.String(),
		SampleInterval: cfg.SampleInterval.String(), RetentionInterval: cfg.RetentionInterval.String(),
		Seed: cfg.Seed, Now: cfg.Now, Config: cfg.ConfigPath, Binary: cfg.Binary,
		BatchMaxMessages: b.app.Pipeline.BatchMaxMessages, BatchMaxWait: b.app.Pipeline.BatchMaxWait.String(),
		Partitions: inputPartitions,
	}
	b.progress("soak: %.0f messages/s for %s (warm-up %s), purge every %s, a sample every %s; commit %s%s, load %s",
		cfg.Rate, cfg.Duration, cfg.Warmup, cfg.RetentionInterval, cfg.SampleInterval, res.Commit, dirtyMark(res.Dirty), res.Machine.LoadBefore)
	if err := b.connect(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = b.conn.Close() }()

	n, err := newNames()
	if err != nil {
		return nil, err
	}
	r := &run{bench: b, index: 1, names: n}
	res.ID = n.ID
	defer r.cleanup()
	if err := r.soak(ctx, cfg, res); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	res.Machine.LoadAfter = loadAverage()
	res.evaluate(cfg)
	b.progress("soak done: %s; load %s", res.verdictLine(), res.Machine.LoadAfter)
	return res, nil
}

// soak sets the run up, starts the worker, produces at the rate while
// sampling, waits for every acknowledged message to be committed and stops
// the worker.
func (r *run) soak(ctx context.Context, cfg SoakConfig, res *SoakResult) error {
	n := r.names
	r.progress("setup %s: topics %s..., databases %s{,_restricted}", n.ID, n.Topics.DeadLetter, n.Database)
	if err := r.setup(ctx); err != nil {
		return err
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	// pprof on: the soak keeps heap profiles (takeProfile).
	env := withOverrides(workerEnv(cfg.Environ, n, addr, cfg.RetentionInterval), map[string]string{"ORDERFLOW_METRICS_PPROF": "true"})
	r.progress("worker: %s run --config %s (metrics on %s), purging every %s", cfg.Binary, cfg.ConfigPath, addr, cfg.RetentionInterval)
	w, err := startWorker(cfg.Binary, cfg.ConfigPath, env, addr, cfg.Progress)
	if err != nil {
		return err
	}
	stopTimeout := r.app.Pipeline.ShutdownTimeout + 10*time.Second
	defer func() { _, _ = w.stop(stopTimeout) }()
	// Its metrics answer once it has started.
	if _, err := w.waitCommitted(ctx, 0, 250*time.Millisecond, cfg.Stall, nil); err != nil {
		return err
	}

	var produced atomic.Int64
	// The producer is owned here: on every way out cancel ends it and the
	// wait outlasts it (done is buffered for the ways out that do not read it).
	var producer sync.WaitGroup
	defer producer.Wait()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan ProducedTally, 1)
	start := time.Now()
	r.progress("producing %.0f messages/s for %s", cfg.Rate, cfg.Duration)
	producer.Go(func() { done <- r.produceSegments(pctx, cfg, start, &produced) })

	sm := soakSampler{r: r, w: w, start: start, produced: &produced}
	take := func() {
		s, err := sm.sample(ctx)
		if err != nil && s.Parts == partsUnknown {
			res.PartsMissed++
			r.progress("%5.0fs: parts unknown: %v", s.At, err)
		} else if err != nil {
			// A busy worker or a restarted server: the next sample will do.
			res.Missed++
			r.progress("sample at %.0fs missed: %v", time.Since(start).Seconds(), err)
			return
		}
		res.Samples = append(res.Samples, s)
		r.progress("%5.0fs: produced %.0f, committed %.0f, lag %.0f; heap %.1f MiB (live %.1f), rss %.1f MiB, %.0f goroutines, %.0f fds; %.0f parts in a partition (%s); %.0f purges",
			s.At, s.Produced, s.Committed, s.Lag, s.HeapInuse/mib, s.HeapLive/mib, s.RSS/mib, s.Goroutines, s.OpenFDs, s.Parts, s.PartsTable, s.PurgeRuns)
	}
	// Heap profiles at the start of the judged window and the end of each of
	// its fifths (the verdicts compare fifths): `go tool pprof -base` of two
	// says what grew, where a verdict alone cannot.
	profileAt := profileTimes(cfg)
	takeProfile := func() {
		at := time.Since(start)
		data, err := w.heapProfile(ctx)
		if err != nil {
			r.progress("heap profile at %.0fs missed: %v", at.Seconds(), err)
			return
		}
		res.HeapProfiles = append(res.HeapProfiles, HeapProfile{At: at.Seconds(), File: fmt.Sprintf("heap-%04.0fs.pb.gz", at.Seconds()), data: data})
	}
	take()
	tick := time.NewTicker(cfg.SampleInterval)
	defer tick.Stop()
	var tally ProducedTally
wait:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Done():
			_, err := w.Exited()
			return w.ExitError(err)
		case tally = <-done:
			break wait
		case <-tick.C:
			take()
			if len(profileAt) > 0 && time.Since(start) >= profileAt[0] {
				takeProfile()
				profileAt = profileAt[1:]
			}
		}
	}
	takeProfile() // production's end: the judged window's end
	if ctx.Err() != nil {
		return ctx.Err()
	}
	res.Produced = tally
	res.ProduceEnd = time.Since(start).Seconds()
	if cpu, err := ReadProcCPU(os.Getpid()); err == nil {
		res.Produced.BenchCPUSeconds = cpu.Seconds()
	}
	r.progress("produced %d messages in %.1fs (%.0f/s, %d unacknowledged); waiting for the worker to commit them all",
		tally.Messages, tally.Seconds, tally.Rate(), tally.Unacknowledged)

	final, err := w.waitCommitted(ctx, float64(tally.Messages), time.Second, cfg.Stall, nil)
	if err != nil {
		return fmt.Errorf("waiting for the worker to commit %d messages: %w", tally.Messages, err)
	}
	if tally.Unacknowledged > 0 {
		// Some of those may be in the topics all the same: wait for the
		// worker's lag gauge, measured every 15s, to read nothing left.
		if final, err = r.waitNoLag(ctx, w, final); err != nil {
			return err
		}
	}
	take()
	res.Worker = SoakWorker{
		Committed: int64(committed(final)), Orders: int64(final.Sum(metricOrders)), DeadLetters: int64(final.Sum(metricDeadLetters)),
		Refused: int64(final.Sum(metricRefused)), Batches: int64(final.Sum(metricBatches)),
		PurgeRuns: final.SumBy(metricPurgeRuns, "outcome"), PurgeRows: final.Sum(metricPurgeRows),
		ExitCode: -1,
	}
	if h, ok := final.Histogram(metricBatchMessages); ok {
		res.Worker.BatchedMessages = int64(h.Sum)
	}
	if cpu, err := ReadProcCPU(w.pid()); err == nil {
		res.Worker.CPUSeconds = cpu.Seconds()
	}
	r.progress("worker: SIGTERM")
	res.Worker.ExitCode, err = w.stop(stopTimeout)
	if err != nil {
		r.progress("worker: %v", err)
	}
	return nil
}

// soakSegment is how much the soak produces with one producer: a broker
// restarted by someone else's fault test fails only its segment, and the
// soak carries on with the next once the broker is back.
const soakSegment = time.Minute

// produceSegments produces at cfg.Rate until cfg.Duration after start, a
// segment at a time, keeping produced at the messages acknowledged so far.
// A segment that fails is recorded, not fatal: its unacknowledged messages
// are counted apart (some may be in the topics), and the next starts after
// a pause.
func (r *run) produceSegments(ctx context.Context, cfg SoakConfig, start time.Time, produced *atomic.Int64) ProducedTally {
	var t ProducedTally
	end := start.Add(cfg.Duration)
	for ctx.Err() == nil {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		base := t.Messages
		pr, err := r.produce(ctx, produce.Config{
			Rate: cfg.Rate, Count: int64(cfg.Rate * min(left, soakSegment).Seconds()), BatchTimeout: 5 * time.Millisecond,
			// On a shared machine the producer is starved for moments; a
			// second's burst lets it catch up, so the worker sees the rate
			// over any few seconds.
			Burst:    soakBurst,
			Progress: func(s produce.Status) { produced.Store(base + s.Acknowledged) },
		})
		t.Messages += pr.Acknowledged
		t.Snapshots += pr.Stats.Snapshots
		t.Malformed += pr.Stats.Malformed
		t.Unacknowledged += pr.Produced - pr.Acknowledged
		produced.Store(t.Messages)
		if err != nil && ctx.Err() == nil {
			at := time.Since(start).Seconds()
			// One line each: the summary lists them.
			why := strings.ReplaceAll(err.Error(), "\n", "; ")
			t.Failures = append(t.Failures, fmt.Sprintf("%.0fs: %d of %d messages acknowledged: %s", at, pr.Acknowledged, pr.Produced, why))
			r.progress("produce failed at %.0fs, going on after a pause: %v", at, err)
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
		}
	}
	t.Seconds = time.Since(start).Seconds()
	return t
}

// waitNoLag waits up to two minutes for the worker's lag gauge to read 0 and
// returns the scrape that did; last when it never does.
func (r *run) waitNoLag(ctx context.Context, w *workerProc, last Snapshot) (Snapshot, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		s, err := w.waitCommitted(ctx, 0, time.Second, r.cfg.Stall, nil)
		if err != nil {
			return last, err
		}
		last = s
		if s.Has(metricLag) && s.Sum(metricLag) == 0 {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	r.progress("the worker's lag gauge did not reach 0 within 2m")
	return last, nil
}

const mib = 1 << 20

// soakBurst is how far behind its pace the soak's producer may fall and
// catch up.
const soakBurst = time.Second

// profileTimes are when the soak takes a heap profile while it produces: the
// judged window's start and the ends of its first four fifths (the fifth
// ends with production, profiled then).
func profileTimes(cfg SoakConfig) []time.Duration {
	fifth := (cfg.Duration - cfg.Warmup) / 5
	out := make([]time.Duration, 0, 5)
	for k := range 5 {
		out = append(out, cfg.Warmup+time.Duration(k)*fifth)
	}
	return out
}

// soakDir is the results folder of a soak started at t.
func soakDir(outDir string, t time.Time) string {
	return fmt.Sprintf("%s%csoak-%s", outDir, os.PathSeparator, t.UTC().Format("20060102T150405Z"))
}

// slopePerMinute is the least-squares slope of y over x (seconds), per
// minute; 0 for fewer than two distinct times.
func slopePerMinute(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 || math.IsNaN(d) {
		return 0
	}
	return (n*sxy - sx*sy) / d * 60
}
