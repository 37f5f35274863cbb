package bench

import (
	"fmt"
	"time"
)

// Result is everything one run measured.
type Result struct {
	Started time.Time `json:"started"`
	Source
	Machine   Machine      `json:"machine"`
	Params    Params       `json:"parameters"`
	Generated Generated    `json:"generated"`
	KafkaRef  Throughput   `json:"reference_kafka"`
	Worker    WorkerResult `json:"worker"`
	Latency   Latency      `json:"latency"`
	InsertRef InsertResult `json:"reference_insert"`
	Ratios    Ratios       `json:"ratios"`
	Goals     []Verdict    `json:"goals"`
	// Checks are what a sound run must show; a failed one is a bug, not a
	// slow machine.
	Checks []Verdict `json:"checks"`
}

// Params are the run's parameters.
type Params struct {
	RunID            string    `json:"run_id"`
	Orders           int64     `json:"orders"`
	Seed             uint64    `json:"seed"`
	Now              time.Time `json:"generated_as_of"`
	Tenants          int       `json:"tenants"`
	Partitions       int       `json:"partitions_per_topic"`
	LatencyRate      float64   `json:"latency_rate_per_s"`
	LatencyDuration  string    `json:"latency_duration"`
	Config           string    `json:"config"`
	Binary           string    `json:"binary"`
	BatchMaxMessages int       `json:"batch_max_messages"`
	BatchMaxWait     string    `json:"batch_max_wait"`
	SampleInterval   string    `json:"sample_interval"`
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

// Latency is the end-to-end latency under a steady rate, from the message's
// produce time (its Kafka timestamp) to the commit after its write, read from
// the orderflow_end_to_end_seconds histogram between two scrapes.
type Latency struct {
	Rate         float64 `json:"rate_per_s"`
	Seconds      float64 `json:"seconds"`
	Messages     int64   `json:"messages"`
	Observations float64 `json:"observations"`
	P50          float64 `json:"p50_seconds"`
	P99          float64 `json:"p99_seconds"`
	Mean         float64 `json:"mean_seconds"`
	// Histogram is the phase's observations: the difference of two scrapes.
	Histogram Histogram `json:"histogram"`
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
}

// Verdict is one goal or check.
type Verdict struct {
	Name string  `json:"name"`
	Want float64 `json:"want"`
	Got  float64 `json:"got"`
	Pass bool    `json:"pass"`
}

// The goals: the worker drains at least half as fast as the slower
// reference, and at least GoalRate orders per second.
const (
	GoalShare = 0.5
	GoalRate  = 10_000
)

// evaluate computes the ratios, goals and checks.
func (r *Result) evaluate() {
	w, a, b := r.Worker.Steady, r.KafkaRef.Steady, r.InsertRef.OrdersSteady
	if a > 0 {
		r.Ratios.VsKafka = w / a
	}
	if b > 0 {
		r.Ratios.VsInsert = w / b
	}
	r.Ratios.Slower, r.Ratios.SlowerRate = "kafka", a
	if b < a {
		r.Ratios.Slower, r.Ratios.SlowerRate = "insert", b
	}
	share := 0.0
	if r.Ratios.SlowerRate > 0 {
		share = w / r.Ratios.SlowerRate
	}
	r.Goals = []Verdict{
		{Name: fmt.Sprintf("worker ≥ %.0f%% of the slower reference (%s)", GoalShare*100, r.Ratios.Slower), Want: GoalShare, Got: share, Pass: share >= GoalShare},
		{Name: fmt.Sprintf("worker ≥ %d orders/s", GoalRate), Want: GoalRate, Got: w, Pass: w >= GoalRate},
	}
	r.Checks = []Verdict{
		{Name: "worker committed every prefilled message", Want: float64(r.Params.Orders), Got: float64(r.Worker.Count), Pass: r.Worker.Count == r.Params.Orders},
		{Name: "orders + dead letters + refused = messages in committed batches", Want: float64(r.Worker.BatchedMessages), Got: float64(r.Worker.Count), Pass: r.Worker.Count == r.Worker.BatchedMessages},
		{Name: "dead letters = malformed messages generated", Want: float64(r.Generated.Malformed), Got: float64(r.Worker.DeadLetters), Pass: r.Worker.DeadLetters == r.Generated.Malformed},
		{Name: "latency phase: every message observed", Want: float64(r.Latency.Messages), Got: r.Latency.Observations, Pass: int64(r.Latency.Observations) == r.Latency.Messages},
		{Name: "worker exit code after SIGTERM", Want: 0, Got: float64(r.Worker.ExitCode), Pass: r.Worker.ExitCode == 0},
	}
}

// OK reports whether every check passed (goals aside).
func (r *Result) OK() bool {
	for _, c := range r.Checks {
		if !c.Pass {
			return false
		}
	}
	return true
}
