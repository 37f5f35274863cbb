package bench

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is everything a benchmark measured: its runs, each complete on its
// own, and the goals judged on their medians.
type Result struct {
	Started time.Time `json:"started"`
	Source
	Machine Machine     `json:"machine"`
	Params  Params      `json:"parameters"`
	Runs    []RunResult `json:"runs"`
	Summary Summary     `json:"summary"`
	// Goals are issue 16's, each judged on the median of the runs.
	Goals []Verdict `json:"goals"`
	// Checks are what every sound run must show; a failed one is a bug, not
	// a slow machine.
	Checks []Verdict `json:"checks"`
}

// Params are the benchmark's parameters, the same for every run.
type Params struct {
	Runs             int       `json:"runs"`
	Orders           int64     `json:"orders_per_run"`
	Seed             uint64    `json:"seed"`
	Now              time.Time `json:"generated_as_of"`
	Tenants          int       `json:"tenants"`
	Partitions       int       `json:"partitions_per_topic"`
	LatencyRates     []float64 `json:"latency_rates_per_s"`
	LatencyDuration  string    `json:"latency_duration"`
	Config           string    `json:"config"`
	Binary           string    `json:"binary"`
	BatchMaxMessages int       `json:"batch_max_messages"`
	BatchMaxWait     string    `json:"batch_max_wait"`
	SampleInterval   string    `json:"sample_interval"`
}

// RunResult is one run: the backlog drained by reference (a), the worker and
// reference (b) on the run's own topics and databases, and the worker's live
// phases.
type RunResult struct {
	Run        int          `json:"run"` // from 1
	ID         string       `json:"run_id"`
	LoadBefore string       `json:"load_before"`
	LoadAfter  string       `json:"load_after"`
	Generated  Generated    `json:"generated"`
	KafkaRef   Throughput   `json:"reference_kafka"`
	Worker     WorkerResult `json:"worker"`
	// Latency is one live phase a rate, in the order of Params.LatencyRates.
	Latency   []Latency    `json:"latency"`
	InsertRef InsertResult `json:"reference_insert"`
	Ratios    Ratios       `json:"ratios"`
	// Parts are the drain's, then each live phase's.
	Parts []Parts `json:"parts"`

	tenants int // the generator's, for Params
}

// Generated is the generator's tally of the prefilled messages.
type Generated struct {
	Messages    int64 `json:"messages"`
	Snapshots   int64 `json:"snapshots"`
	Orders      int64 `json:"orders"`
	Malformed   int64 `json:"malformed"` // the dead letters the worker must publish
	CardNumbers int64 `json:"card_numbers"`
}

// WorkerResult is the worker's drain. Its Throughput counts committed
// messages from the process's start; the other figures are read from its
// /metrics and /proc at the end of the drain.
type WorkerResult struct {
	Throughput
	Orders      int64 `json:"orders_normalized"`
	DeadLetters int64 `json:"dead_letters"`
	Refused     int64 `json:"refused_offboarded"` // orders of offboarded tenants: none expected
	Batches     int64 `json:"batches"`
	// BatchedMessages is the sum of orderflow_batch_messages: every message of
	// every committed batch, whatever became of it.
	BatchedMessages int64 `json:"batched_messages"`
	// CPUSeconds is the process's user+system time from its start to the end
	// of the drain.
	CPUSeconds        float64 `json:"cpu_seconds"`
	CPUSecondsPer100k float64 `json:"cpu_seconds_per_100k_orders"`
	// Vault holds the requests by operation (every HTTP attempt).
	Vault                 map[string]float64 `json:"vault_requests_by_operation"`
	VaultRequests         float64            `json:"vault_requests"`
	VaultRequestsPerOrder float64            `json:"vault_requests_per_order"`
	VaultItemsPerRequest  float64            `json:"vault_items_per_request"`
	TokenCacheHits        float64            `json:"token_cache_hits"`
	TokenCacheMisses      float64            `json:"token_cache_misses"`
	TokenCacheHitRate     float64            `json:"token_cache_hit_rate"`
	Rows                  map[string]int64   `json:"clickhouse_rows"`
	RowsTotal             int64              `json:"clickhouse_rows_total"`
	RowsPerOrder          float64            `json:"clickhouse_rows_per_order"`
	// ExitCode is the worker's exit code after SIGTERM (-1: killed).
	ExitCode int `json:"exit_code"`
}

// Latency is the end-to-end latency of a live stream at a steady rate, from
// the message's produce time (its Kafka timestamp) to the commit after its
// write, read from the orderflow_end_to_end_seconds histogram between two
// scrapes of a caught-up worker.
type Latency struct {
	Rate         float64 `json:"rate_per_s"`
	Seconds      float64 `json:"seconds"`
	Messages     int64   `json:"messages"`
	Observations float64 `json:"observations"`
	P50          float64 `json:"p50_seconds"`
	P99          float64 `json:"p99_seconds"`
	Mean         float64 `json:"mean_seconds"`
	// Batches are the batches committed in the phase, and MessagesPerBatch
	// their mean size: how the worker batches a live stream.
	Batches          int64   `json:"batches"`
	MessagesPerBatch float64 `json:"messages_per_batch"`
	// CPUSecondsPer100k is the worker's CPU time in the phase per 100k
	// messages (an idle worker's polling included).
	CPUSecondsPer100k float64 `json:"cpu_seconds_per_100k_messages"`
	// Histogram is the phase's observations: the difference of two scrapes.
	Histogram Histogram `json:"histogram"`
	// StageSeconds is the mean time a batch of the phase spent in each
	// pipeline stage (orderflow_pipeline_stage_seconds): where latency goes.
	StageSeconds map[string]float64 `json:"stage_mean_seconds,omitempty"`
}

// InsertResult is reference (b): its Throughput counts rows; the orders
// equivalent divides by the worker's rows per order.
type InsertResult struct {
	Throughput
	RowsPerOrder  float64 `json:"rows_per_order"`
	OrdersOverall float64 `json:"orders_equivalent_overall_per_s"`
	OrdersSteady  float64 `json:"orders_equivalent_steady_per_s"`
}

// Ratios compare the worker's steady rate with the references' steady rates.
type Ratios struct {
	VsKafka  float64 `json:"worker_vs_kafka"`
	VsInsert float64 `json:"worker_vs_insert"`
	// Slower names the slower reference ("kafka" or "insert") and its rate in
	// orders per second.
	Slower     string  `json:"slower_reference"`
	SlowerRate float64 `json:"slower_reference_per_s"`
	// Share is the worker's steady rate ÷ the slower reference's.
	Share float64 `json:"worker_vs_slower"`
}

// Summary is each figure the goals judge over the runs.
type Summary struct {
	// MedianRun is the run (from 1) whose Share is the median: the one the
	// chart draws.
	MedianRun          int    `json:"median_run"`
	WorkerSteady       Spread `json:"worker_steady_per_s"`
	KafkaSteady        Spread `json:"reference_kafka_steady_per_s"`
	InsertOrdersSteady Spread `json:"reference_insert_orders_steady_per_s"`
	VsKafka            Spread `json:"worker_vs_kafka"`
	VsInsert           Spread `json:"worker_vs_insert"`
	Share              Spread `json:"worker_vs_slower"`
	CPUPer100k         Spread `json:"worker_cpu_seconds_per_100k_orders"`
	FirstCommit        Spread `json:"worker_first_commit_seconds"`
	// Latency is one a rate, Parts one a phase, in the runs' order.
	Latency []LatencySpread `json:"latency"`
	Parts   []PartsSpread   `json:"parts"`
}

// LatencySpread is a live phase over the runs.
type LatencySpread struct {
	Rate float64 `json:"rate_per_s"`
	P50  Spread  `json:"p50_seconds"`
	P99  Spread  `json:"p99_seconds"`
	Mean Spread  `json:"mean_seconds"`
}

// PartsSpread is a phase's parts per batch over the runs, in all and by
// table.
type PartsSpread struct {
	Phase    string            `json:"phase"`
	PerBatch Spread            `json:"per_batch"`
	Tables   map[string]Spread `json:"tables"`
}

// Verdict is one goal or check: Got compared with Want by Op.
type Verdict struct {
	Name string  `json:"name"`
	Op   string  `json:"op"` // "≥", "≤" or "="
	Want float64 `json:"want"`
	Got  float64 `json:"got"`
	Unit string  `json:"unit,omitempty"`
	// Runs are each run's value, when Got is their median (goals) or the
	// first failing one's (checks).
	Runs []float64 `json:"runs,omitempty"`
	// Note says what the figure is, or why it could not be measured.
	Note string `json:"note,omitempty"`
	Pass bool   `json:"pass"`
}

// Issue 16's goals.
const (
	// GoalShare: the worker's steady drain at least this share of the slower
	// reference's, the median of the runs.
	GoalShare = 0.60
	// GoalCPUPer100k: the worker's CPU-seconds (user + system, from its start
	// to the backlog drained) per 100k orders.
	GoalCPUPer100k = 4.5
	// GoalFirstCommit: seconds from the worker's process start to its first
	// committed batch.
	GoalFirstCommit = 2.0
	// GoalPartsPerBatch: parts a batch creates across all tables, in every
	// phase (the worst phase's median).
	GoalPartsPerBatch = 8.0
)

// goalLatency is the p99 produce-to-commit goal of a live stream at a rate.
var goalLatency = []struct{ Rate, P99 float64 }{{2000, 0.300}, {5000, 0.500}}

// GoalLatencyRates are the rates that have a latency goal, the default live
// phases.
func GoalLatencyRates() []float64 {
	rates := make([]float64, len(goalLatency))
	for i, g := range goalLatency {
		rates[i] = g.Rate
	}
	return rates
}

// evaluate computes each run's ratios, the summary, the goals and the checks.
func (r *Result) evaluate() {
	for i := range r.Runs {
		r.Runs[i].Ratios = newRatios(r.Runs[i].Worker.Steady, r.Runs[i].KafkaRef.Steady, r.Runs[i].InsertRef.OrdersSteady)
	}
	r.Summary = summarise(r.Runs)
	r.Goals = r.goals()
	r.Checks = checks(r.Runs)
}

// newRatios compares a run's steady rates: worker w, reference (a) a and
// reference (b) b in orders per second.
func newRatios(w, a, b float64) Ratios {
	var rt Ratios
	if a > 0 {
		rt.VsKafka = w / a
	}
	if b > 0 {
		rt.VsInsert = w / b
	}
	rt.Slower, rt.SlowerRate = "kafka", a
	if b < a {
		rt.Slower, rt.SlowerRate = "insert", b
	}
	if rt.SlowerRate > 0 {
		rt.Share = w / rt.SlowerRate
	}
	return rt
}

func summarise(runs []RunResult) Summary {
	s := Summary{
		WorkerSteady:       spreadOf(runs, func(r RunResult) float64 { return r.Worker.Steady }),
		KafkaSteady:        spreadOf(runs, func(r RunResult) float64 { return r.KafkaRef.Steady }),
		InsertOrdersSteady: spreadOf(runs, func(r RunResult) float64 { return r.InsertRef.OrdersSteady }),
		VsKafka:            spreadOf(runs, func(r RunResult) float64 { return r.Ratios.VsKafka }),
		VsInsert:           spreadOf(runs, func(r RunResult) float64 { return r.Ratios.VsInsert }),
		Share:              spreadOf(runs, func(r RunResult) float64 { return r.Ratios.Share }),
		CPUPer100k:         spreadOf(runs, func(r RunResult) float64 { return r.Worker.CPUSecondsPer100k }),
		FirstCommit:        spreadOf(runs, func(r RunResult) float64 { return r.Worker.First }),
	}
	s.MedianRun = medianRun(s.Share.Runs) + 1
	if len(runs) == 0 {
		return s
	}
	// Every run has the same phases, in the same order.
	for i, l := range runs[0].Latency {
		s.Latency = append(s.Latency, LatencySpread{
			Rate: l.Rate,
			P50:  spreadOf(runs, func(r RunResult) float64 { return r.latency(i).P50 }),
			P99:  spreadOf(runs, func(r RunResult) float64 { return r.latency(i).P99 }),
			Mean: spreadOf(runs, func(r RunResult) float64 { return r.latency(i).Mean }),
		})
	}
	for i, p := range runs[0].Parts {
		ps := PartsSpread{Phase: p.Phase, PerBatch: spreadOf(runs, func(r RunResult) float64 { return r.parts(i).PerBatch }), Tables: map[string]Spread{}}
		for table := range p.Tables {
			ps.Tables[table] = spreadOf(runs, func(r RunResult) float64 { return r.parts(i).tablePerBatch(table) })
		}
		s.Parts = append(s.Parts, ps)
	}
	return s
}

var nan = math.NaN()

// latency is the run's i-th live phase; one it lacks has NaN figures, which
// spreads leave out.
func (x RunResult) latency(i int) Latency {
	if i < len(x.Latency) {
		return x.Latency[i]
	}
	return Latency{P50: nan, P99: nan, Mean: nan, MessagesPerBatch: nan, CPUSecondsPer100k: nan}
}

// parts is the run's i-th phase's parts; one it lacks has a NaN mean.
func (x RunResult) parts(i int) Parts {
	if i < len(x.Parts) {
		return x.Parts[i]
	}
	return Parts{PerBatch: nan}
}

// tablePerBatch is a table's parts per batch, NaN when the phase has no
// such table.
func (p Parts) tablePerBatch(table string) float64 {
	if t, ok := p.Tables[table]; ok {
		return t.PerBatch
	}
	return nan
}

// goals judges issue 16's goals on the summary's medians.
func (r *Result) goals() []Verdict {
	s := r.Summary
	n := len(r.Runs)
	median := fmt.Sprintf("median of %d runs", n)
	slower := map[string]int{}
	for _, x := range r.Runs {
		slower[x.Ratios.Slower]++
	}
	var slowerNames []string
	for _, name := range slices.Sorted(maps.Keys(slower)) {
		slowerNames = append(slowerNames, fmt.Sprintf("%s in %d", refName(name), slower[name]))
	}
	goals := []Verdict{
		atLeast("throughput: worker ÷ the slower reference, steady drain", GoalShare, "", s.Share,
			median+"; the slower reference: "+strings.Join(slowerNames, ", ")),
	}
	for _, g := range goalLatency {
		name := fmt.Sprintf("latency: p99 produce to commit, live stream at %.0f orders/s", g.Rate)
		i := slices.IndexFunc(s.Latency, func(l LatencySpread) bool { return l.Rate == g.Rate })
		if i < 0 {
			goals = append(goals, Verdict{Name: name, Op: "≤", Want: g.P99, Unit: "s", Note: fmt.Sprintf("not measured: no live phase at %.0f/s", g.Rate)})
			continue
		}
		goals = append(goals, atMost(name, g.P99, "s", s.Latency[i].P99, median))
	}
	worst := -1
	for i, p := range s.Parts {
		if worst < 0 || p.PerBatch.Median > s.Parts[worst].PerBatch.Median {
			worst = i
		}
	}
	if worst < 0 {
		goals = append(goals, Verdict{Name: "parts per batch across all tables", Op: "≤", Want: GoalPartsPerBatch, Note: "not measured"})
	} else {
		var phases []string
		for _, p := range s.Parts {
			phases = append(phases, fmt.Sprintf("%s %.1f", p.Phase, p.PerBatch.Median))
		}
		goals = append(goals, atMost("parts per batch across all tables, the worst phase", GoalPartsPerBatch, "", s.Parts[worst].PerBatch,
			fmt.Sprintf("%s, %s (medians: %s)", s.Parts[worst].Phase, median, strings.Join(phases, ", "))))
	}
	goals = append(goals,
		atMost("CPU: worker CPU-seconds per 100k orders, start to drained", GoalCPUPer100k, "", s.CPUPer100k, median),
		atMost("start: worker process start to its first committed batch", GoalFirstCommit, "s", s.FirstCommit, median),
	)
	return goals
}

func atLeast(name string, want float64, unit string, got Spread, note string) Verdict {
	return Verdict{Name: name, Op: "≥", Want: want, Got: got.Median, Unit: unit, Runs: got.Runs, Note: note, Pass: len(got.Runs) > 0 && got.Median >= want}
}

func atMost(name string, want float64, unit string, got Spread, note string) Verdict {
	return Verdict{Name: name, Op: "≤", Want: want, Got: got.Median, Unit: unit, Runs: got.Runs, Note: note, Pass: len(got.Runs) > 0 && got.Median <= want}
}

// checks are the soundness checks, each over every run: it passes when it
// holds in all of them.
func checks(runs []RunResult) []Verdict {
	out := []Verdict{
		everyRun("worker committed every prefilled message: nothing lost", runs, func(r RunResult) (float64, float64) {
			return float64(r.Worker.Count), float64(r.Generated.Messages)
		}),
		everyRun("orders + dead letters + refused = messages in committed batches: nothing counted twice", runs, func(r RunResult) (float64, float64) {
			return float64(r.Worker.Count), float64(r.Worker.BatchedMessages)
		}),
		everyRun("dead letters = malformed messages generated", runs, func(r RunResult) (float64, float64) {
			return float64(r.Worker.DeadLetters), float64(r.Generated.Malformed)
		}),
	}
	if len(runs) > 0 {
		for i, l := range runs[0].Latency {
			out = append(out, everyRun(fmt.Sprintf("live stream at %.0f/s: every message observed", l.Rate), runs, func(r RunResult) (float64, float64) {
				if i >= len(r.Latency) {
					return 0, 1 // the phase is missing: fail
				}
				return r.Latency[i].Observations, float64(r.Latency[i].Messages)
			}))
		}
	}
	out = append(out, everyRun("worker exit code after SIGTERM", runs, func(r RunResult) (float64, float64) {
		return float64(r.Worker.ExitCode), 0
	}))
	return out
}

// everyRun is a check of got = want in every run. Got and Want are the
// first failing run's, or the last run's when all pass.
func everyRun(name string, runs []RunResult, gotWant func(RunResult) (got, want float64)) Verdict {
	v := Verdict{Name: name, Op: "=", Pass: len(runs) > 0}
	var failed []string
	for _, r := range runs {
		got, want := gotWant(r)
		v.Runs = append(v.Runs, got)
		if got != want {
			if v.Pass {
				v.Got, v.Want = got, want
			}
			v.Pass = false
			failed = append(failed, fmt.Sprintf("%d", r.Run))
			continue
		}
		if v.Pass {
			v.Got, v.Want = got, want
		}
	}
	if len(failed) > 0 {
		v.Note = "failed in run " + strings.Join(failed, ", ")
	}
	return v
}

// OK reports whether every check passed (goals aside).
func (r *Result) OK() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return len(r.Checks) > 0
}
