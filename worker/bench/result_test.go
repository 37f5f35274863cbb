package bench

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// synthRun is a sound run with the given steady rates (worker, reference
// (a), reference (b) as orders), p99s at 2,000/s and 5,000/s, parts per
// batch in the drain and the two live phases, CPU per 100k and first commit.
func synthRun(i int, worker, kafka, insert, p99a, p99b, drainParts, liveParts, cpu, first float64) RunResult {
	const msgs = 1000
	samples := []Sample{{At: 1, Count: 0}, {At: 2, Count: 500}, {At: 3, Count: msgs}}
	tp := func(steady float64) Throughput {
		return Throughput{Count: msgs, Seconds: 3, First: first, Overall: msgs / 3, Steady: steady, SteadyFrom: 2, Samples: samples}
	}
	parts := func(phase string, batches int64, perBatch float64) Parts {
		total := int64(perBatch * float64(batches))
		return Parts{Phase: phase, Batches: batches, Total: total, PerBatch: perBatch,
			Tables: map[string]TableParts{"delivery_labels": {Parts: total, Inserts: batches, PerBatch: perBatch, PerInsert: perBatch}}}
	}
	return RunResult{
		Run: i, ID: "bench_00000000000" + string(rune('0'+i)),
		Generated: Generated{Messages: msgs, Malformed: 4},
		KafkaRef:  tp(kafka),
		Worker: WorkerResult{Throughput: tp(worker), Orders: msgs - 4, DeadLetters: 4, Batches: 10, BatchedMessages: msgs,
			CPUSecondsPer100k: cpu},
		InsertRef: InsertResult{Throughput: tp(insert * 4), RowsPerOrder: 4, OrdersSteady: insert},
		Latency: []Latency{
			{Rate: 2000, Messages: 2000, Observations: 2000, P50: p99a / 2, P99: p99a, Mean: p99a / 2},
			{Rate: 5000, Messages: 5000, Observations: 5000, P50: p99b / 2, P99: p99b, Mean: p99b / 2},
		},
		Parts: []Parts{parts("drain", 10, drainParts), parts("live 2000/s", 100, liveParts), parts("live 5000/s", 120, liveParts)},
	}
}

func synthResult(runs ...RunResult) *Result {
	r := &Result{
		Started: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Source: Source{Commit: "abc1234"},
		Params: Params{Runs: len(runs), Orders: 1000, LatencyRates: []float64{2000, 5000}, LatencyDuration: "15s"},
		Runs:   runs,
	}
	r.evaluate()
	return r
}

func goal(t *testing.T, r *Result, prefix string) Verdict {
	t.Helper()
	for _, g := range r.Goals {
		if strings.HasPrefix(g.Name, prefix) {
			return g
		}
	}
	t.Fatalf("no goal %q in %+v", prefix, r.Goals)
	return Verdict{}
}

func TestGoalsOnMedians(t *testing.T) {
	// Run 2 is slow (0.50 of the slower reference) and its latency is
	// high: one bad run does not decide a goal, the median does.
	r := synthResult(
		synthRun(1, 13000, 100000, 20000, 0.25, 0.45, 6, 7, 4.0, 1.5),  // share 0.65
		synthRun(2, 10000, 100000, 20000, 0.90, 0.95, 6, 9, 4.2, 1.8),  // share 0.50
		synthRun(3, 12400, 15000, 20000, 0.28, 0.48, 6, 7.5, 4.4, 1.9), // share 12400/15000 = 0.827: (a) slower
	)
	if got := r.Runs[2].Ratios; got.Slower != "kafka" || got.SlowerRate != 15000 {
		t.Errorf("run 3's slower reference %+v, want (a) at 15000", got)
	}
	share := goal(t, r, "throughput")
	if !share.Pass || share.Got != 0.65 || len(share.Runs) != 3 || share.Want != GoalShare {
		t.Errorf("throughput %+v: want the median 0.65, PASS", share)
	}
	if !strings.Contains(share.Note, "(b) clickhouse-go insert in 2") || !strings.Contains(share.Note, "(a) kafka-go consume in 1") {
		t.Errorf("throughput note %q: want which reference was slower how often", share.Note)
	}
	if g := goal(t, r, "latency: p99 produce to commit, live stream at 2000"); !g.Pass || g.Got != 0.28 || g.Want != 0.3 {
		t.Errorf("latency at 2000/s %+v, want median 0.28 ≤ 0.3", g)
	}
	if g := goal(t, r, "latency: p99 produce to commit, live stream at 5000"); !g.Pass || g.Got != 0.48 {
		t.Errorf("latency at 5000/s %+v, want median 0.48 ≤ 0.5", g)
	}
	// The live phases' medians are 7.5; the drain's 6: the worst is 7.5.
	if g := goal(t, r, "parts"); !g.Pass || g.Got != 7.5 || !strings.Contains(g.Note, "live 2000/s") {
		t.Errorf("parts %+v, want the worst phase's median 7.5 (live 2000/s first)", g)
	}
	if g := goal(t, r, "CPU"); !g.Pass || g.Got != 4.2 {
		t.Errorf("CPU %+v", g)
	}
	if g := goal(t, r, "start"); !g.Pass || g.Got != 1.8 {
		t.Errorf("start %+v", g)
	}
	if len(r.Goals) != 6 {
		t.Errorf("%d goals, want 6", len(r.Goals))
	}
	if r.Summary.MedianRun != 1 {
		t.Errorf("median run %d, want 1 (share 0.65 between 0.50 and 0.83)", r.Summary.MedianRun)
	}
	if !r.OK() {
		t.Errorf("checks %+v", r.Checks)
	}
}

func TestGoalsMiss(t *testing.T) {
	// Two of three runs over each limit: every goal misses.
	r := synthResult(
		synthRun(1, 11000, 100000, 20000, 0.31, 0.51, 9, 9, 4.6, 2.1),
		synthRun(2, 11900, 100000, 20000, 0.35, 0.60, 30, 30, 5.0, 6),
		synthRun(3, 13000, 100000, 20000, 0.20, 0.40, 6, 6, 4.0, 1),
	)
	for _, g := range r.Goals {
		if g.Pass {
			t.Errorf("goal %+v passed, want MISS", g)
		}
	}
	if g := goal(t, r, "throughput"); g.Got != 0.595 {
		t.Errorf("throughput median %v, want 0.595 (just under 0.60)", g.Got)
	}
}

func TestGoalRateNotMeasured(t *testing.T) {
	run := synthRun(1, 13000, 100000, 20000, 0.2, 0.3, 5, 5, 4, 1)
	run.Latency = run.Latency[:1] // only 2,000/s
	r := synthResult(run)
	g := goal(t, r, "latency: p99 produce to commit, live stream at 5000")
	if g.Pass || !strings.Contains(g.Note, "not measured") || len(g.Runs) != 0 {
		t.Errorf("5000/s not measured: %+v, want MISS saying so", g)
	}
	if !strings.Contains(verdictValue(g), "not measured") {
		t.Errorf("rendered %q", verdictValue(g))
	}
	// Its check: the missing phase cannot pass "every message observed".
	for _, c := range r.Checks {
		if strings.Contains(c.Name, "5000/s") {
			t.Errorf("a check %q for a phase no run made", c.Name)
		}
	}
}

func TestChecksFailInAnyRun(t *testing.T) {
	lost := synthRun(2, 13000, 100000, 20000, 0.2, 0.3, 5, 5, 4, 1)
	lost.Worker.Count = 999 // one message not committed
	unobserved := synthRun(3, 13000, 100000, 20000, 0.2, 0.3, 5, 5, 4, 1)
	unobserved.Latency[1].Observations = 4990
	unobserved.Worker.ExitCode = -1
	r := synthResult(synthRun(1, 13000, 100000, 20000, 0.2, 0.3, 5, 5, 4, 1), lost, unobserved)
	if r.OK() {
		t.Fatal("OK with a lost message, unobserved latencies and a killed worker")
	}
	failed := map[string]Verdict{}
	for _, c := range r.Checks {
		if !c.Pass {
			failed[c.Name] = c
		}
	}
	if c, ok := failed["worker committed every prefilled message: nothing lost"]; !ok || c.Got != 999 || c.Want != 1000 || c.Note != "failed in run 2" {
		t.Errorf("lost message check %+v", c)
	}
	if c, ok := failed["orders + dead letters + refused = messages in committed batches: nothing counted twice"]; !ok || c.Got != 999 {
		t.Errorf("batched messages check %+v", c)
	}
	if c, ok := failed["live stream at 5000/s: every message observed"]; !ok || c.Got != 4990 || c.Note != "failed in run 3" {
		t.Errorf("observation check %+v", c)
	}
	if _, ok := failed["live stream at 2000/s: every message observed"]; ok {
		t.Error("the 2000/s phase was fully observed in every run")
	}
	if c, ok := failed["worker exit code after SIGTERM"]; !ok || c.Got != -1 {
		t.Errorf("exit code check %+v", c)
	}
	if len(failed) != 4 {
		t.Errorf("%d checks failed, want 4: %v", len(failed), failed)
	}
}

func TestReportShowsEachRunAndTheMedians(t *testing.T) {
	r := synthResult(
		synthRun(1, 13000, 100000, 20000, 0.25, 0.45, 6, 7, 4.0, 1.5),
		synthRun(2, 10000, 100000, 20000, 0.90, 0.95, 6, 9, 4.2, 1.8),
		synthRun(3, 12400, 15000, 20000, 0.28, 0.48, 6, 7.5, 4.4, 1.9),
	)
	var table strings.Builder
	if err := r.PrintTable(&table); err != nil {
		t.Fatal(err)
	}
	text := table.String()
	md := r.Markdown()
	for _, want := range []string{
		"run 1", "run 2", "run 3", "median", "spread (min–max)",
		"13000", "10000", "12400", // each run's worker
		"0.65", "0.50–0.83", // the share's median and range
		"live 5000/s: p99 (s)", "0.480", "0.450–0.950",
		"live 2000/s: parts per batch, all tables", "7.5", "7.0–9.0",
		"goal  PASS  throughput: worker ÷ the slower reference, steady drain: 0.65 (want ≥ 0.60; runs 0.65, 0.50, 0.83",
		"goal  PASS  latency: p99 produce to commit, live stream at 2000 orders/s: 0.280 s (want ≤ 0.300 s; runs 0.250, 0.900, 0.280; median of 3 runs)",
		"goal  PASS  parts per batch across all tables, the worst phase: 7.5 (want ≤ 8.0; runs 7.0, 9.0, 7.5; live 2000/s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{
		"## Goals (issue 16), on the medians of 3 runs", "**PASS** parts per batch", "## Run 3 (`bench_000000000003`)",
		"| worker ÷ slower reference | 0.65 | 0.50 | 0.83 | 0.65 | 0.50–0.83 |", "![throughput of run 1, the median]",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	dir := t.TempDir()
	paths, err := r.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v", paths)
	}
	data, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	if len(back.Runs) != 3 || back.Summary.Share.Median != 0.65 || back.Summary.Latency[1].P99.Max != 0.95 || len(back.Goals) != 6 {
		t.Errorf("latest.json summary %+v", back.Summary)
	}
	f, err := os.Open(filepath.Join(dir, "throughput.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("throughput.png: %v", err)
	}
}
