package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/bench"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestRunSmall runs the whole benchmark, small, against the stack: two runs
// in which the real worker binary (built here) drains 3,000 messages, then a
// live stream at 500/s and at 1,000/s for 2s each; the figures must agree
// with each other, the medians with the runs, and the files must be written.
func TestRunSmall(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	stacktest.ClickHouseAddr(t)
	stacktest.Vault(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	binary := buildWorker(t, root)
	out := t.TempDir()
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const orders, runs = 3000, 2
	res, err := bench.Run(ctx, bench.Config{
		ConfigPath: filepath.Join(root, "deploy/local/orderflow.yaml"), Binary: binary,
		Runs: runs, Orders: orders, Seed: 1, LatencyRates: []float64{500, 1000}, LatencyDuration: 2 * time.Second,
		OutDir: out, Progress: &progress, Stall: time.Minute,
	})
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	if len(res.Runs) != runs {
		t.Fatalf("%d runs, want %d", len(res.Runs), runs)
	}
	for _, run := range res.Runs {
		checkRun(t, run, orders)
	}
	if res.Runs[0].ID == res.Runs[1].ID {
		t.Errorf("both runs are %s: each must have topics and databases of its own", res.Runs[0].ID)
	}
	// The medians are of the runs' own figures.
	s := res.Summary
	w0, w1 := res.Runs[0].Worker.Steady, res.Runs[1].Worker.Steady
	if s.WorkerSteady.Median != (w0+w1)/2 || s.WorkerSteady.Min != min(w0, w1) || s.WorkerSteady.Max != max(w0, w1) {
		t.Errorf("worker steady %+v, runs %v and %v", s.WorkerSteady, w0, w1)
	}
	if len(s.Latency) != 2 || s.Latency[1].Rate != 1000 || len(s.Parts) != 3 || s.Parts[0].Phase != "drain" || s.MedianRun < 1 {
		t.Errorf("summary %+v", s)
	}
	// Six goals: throughput, latency at 2,000/s and 5,000/s (not measured
	// here, so MISS), parts, CPU, start.
	if !res.OK() || len(res.Goals) != 6 {
		t.Errorf("checks %+v, goals %+v", res.Checks, res.Goals)
	}
	for _, g := range res.Goals[1:3] {
		if g.Pass || g.Note == "" {
			t.Errorf("goal %+v: a rate not measured must MISS and say so", g)
		}
	}

	paths, err := res.WriteFiles(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v", paths)
	}
	md, err := os.ReadFile(filepath.Join(out, res.ResultsFile()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{res.Commit, "load average", "(a) kafka-go", "(b) clickhouse-go", "PASS", "p99", "parts per batch", "## Run 2"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("results file lacks %q", want)
		}
	}
	var back bench.Result
	data, err := os.ReadFile(filepath.Join(out, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	if len(back.Runs) != runs || back.Runs[1].Worker.Count != orders || back.Summary.WorkerSteady.Median != s.WorkerSteady.Median {
		t.Errorf("latest.json: %d runs, summary %+v", len(back.Runs), back.Summary.WorkerSteady)
	}
	f, err := os.Open(filepath.Join(out, "throughput.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("throughput.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("chart is %v", b)
	}
	var table strings.Builder
	if err := res.PrintTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("table:\n%s", table.String())

	// Nothing of either run is left on the stack.
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	for _, run := range res.Runs {
		if !topicGone(ctx, brokers, run.ID+".orders.amazon") {
			t.Errorf("topic %s.orders.amazon still exists", run.ID)
		}
		if n := clickhousetest.Count(t, conn, "SELECT count() FROM system.databases WHERE name LIKE ?", run.ID+"%"); n != 0 {
			t.Errorf("%d databases of run %s left", n, run.ID)
		}
	}
}

// checkRun checks that one run's figures agree with each other.
func checkRun(t *testing.T, run bench.RunResult, orders int64) {
	t.Helper()
	w := run.Worker
	if w.Count != orders || w.Orders+w.DeadLetters != orders {
		t.Errorf("run %d: worker committed %d (%d orders + %d dead letters), want %d", run.Run, w.Count, w.Orders, w.DeadLetters, orders)
	}
	if w.DeadLetters != run.Generated.Malformed {
		t.Errorf("run %d: dead letters %d, generated malformed %d", run.Run, w.DeadLetters, run.Generated.Malformed)
	}
	if w.RowsTotal <= 0 || w.Rows["order_facts"] != w.Orders || w.RowsPerOrder <= 1 {
		t.Errorf("run %d: rows %v (total %d, %.2f per order), want one order_facts row per order and more", run.Run, w.Rows, w.RowsTotal, w.RowsPerOrder)
	}
	if w.CPUSeconds <= 0 || w.CPUSecondsPer100k <= 0 || w.VaultRequests <= 0 || w.VaultRequestsPerOrder <= 0 {
		t.Errorf("run %d: CPU %.2fs (%.2f per 100k), Vault %v requests: want all positive", run.Run, w.CPUSeconds, w.CPUSecondsPer100k, w.VaultRequests)
	}
	if w.TokenCacheHits+w.TokenCacheMisses <= 0 {
		t.Errorf("run %d: no token cache lookups", run.Run)
	}
	if w.ExitCode != 0 {
		t.Errorf("run %d: worker exit code %d after SIGTERM, want 0", run.Run, w.ExitCode)
	}
	for name, tp := range map[string]bench.Throughput{"kafka": run.KafkaRef, "worker": w.Throughput, "insert": run.InsertRef.Throughput} {
		if tp.Overall <= 0 || tp.Steady <= 0 || tp.Seconds <= 0 || tp.First < 0 || tp.First > tp.Seconds || len(tp.Samples) == 0 {
			t.Errorf("run %d: %s throughput inconsistent: %+v", run.Run, name, tp)
		}
	}
	if run.KafkaRef.Count != orders || run.InsertRef.Count != w.RowsTotal {
		t.Errorf("run %d: reference counts %d and %d, want %d messages and %d rows", run.Run, run.KafkaRef.Count, run.InsertRef.Count, orders, w.RowsTotal)
	}
	if run.InsertRef.OrdersSteady <= 0 || run.InsertRef.RowsPerOrder != w.RowsPerOrder {
		t.Errorf("run %d: insert reference as orders: %+v", run.Run, run.InsertRef)
	}
	if r := run.Ratios; r.VsKafka <= 0 || r.VsInsert <= 0 || r.Share != w.Steady/r.SlowerRate {
		t.Errorf("run %d: ratios %+v, want positive and the share of the slower", run.Run, r)
	}
	if len(run.Latency) != 2 {
		t.Fatalf("run %d: %d live phases, want 2", run.Run, len(run.Latency))
	}
	for i, rate := range []float64{500, 1000} {
		l := run.Latency[i]
		want := int64(rate * 2)
		if l.Rate != rate || l.Messages != want || l.Observations != float64(want) || !(l.P50 > 0 && l.P50 <= l.P99) ||
			l.Batches <= 0 || l.MessagesPerBatch <= 0 {
			t.Errorf("run %d: live %+v, want %d messages observed, 0 < p50 <= p99 and some batches", run.Run, l, want)
		}
	}
	// Parts: every phase wrote to the four tables, at least a part a table
	// a batch that had rows for it, and the drain's batches are the worker's.
	if len(run.Parts) != 3 || run.Parts[0].Batches != w.Batches {
		t.Fatalf("run %d: parts %+v, want 3 phases, the drain's %d batches", run.Run, run.Parts, w.Batches)
	}
	for _, p := range run.Parts {
		if len(p.Tables) != 4 || p.Total <= 0 || p.PerBatch < 1 || p.Tables["order_facts"].Parts < p.Tables["order_facts"].Inserts {
			t.Errorf("run %d: parts of %s: %+v", run.Run, p.Phase, p)
		}
		if _, ok := p.Tables["schema_migrations"]; ok {
			t.Errorf("run %d: parts of %s count the migrations", run.Run, p.Phase)
		}
	}
}

// TestRunRefusesBadConfig: a run that cannot start says why and leaves nothing.
func TestRunRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]bench.Config{
		"no config file":    {},
		"negative orders":   {ConfigPath: "x.yaml", Orders: -1},
		"latency too short": {ConfigPath: "x.yaml", LatencyDuration: time.Millisecond},
		"a rate of zero":    {ConfigPath: "x.yaml", LatencyRates: []float64{2000, 0}},
		"negative runs":     {ConfigPath: "x.yaml", Runs: -1},
		"missing file":      {ConfigPath: filepath.Join(t.TempDir(), "none.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := bench.Run(context.Background(), cfg); err == nil {
				t.Error("Run succeeded")
			}
		})
	}
}

// topicGone waits up to 15s for topic to disappear: KRaft deletes topics
// asynchronously, so the metadata may show one briefly after its deletion.
func topicGone(ctx context.Context, brokers []string, topic string) bool {
	client := stacktest.KafkaClient(brokers)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil && len(meta.Topics) == 1 && errors.Is(meta.Topics[0].Error, kafka.UnknownTopicOrPartition) {
			return true
		}
	}
	return false
}

func buildWorker(t *testing.T, root string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build the worker with: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "orderflow")
	cmd := exec.Command(goTool, "build", "-o", bin, "./worker/cmd/orderflow")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./worker/cmd/orderflow: %v\n%s", err, out)
	}
	return bin
}
