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

// TestRunSmall runs the whole benchmark, small, against the stack: the real
// worker binary (built here) drains 3,000 messages, then 500/s for 2s, and
// the figures must agree with each other and the files must be written.
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const orders = 3000
	res, err := bench.Run(ctx, bench.Config{
		ConfigPath: filepath.Join(root, "deploy/local/orderflow.yaml"), Binary: binary,
		Orders: orders, Seed: 1, LatencyRate: 500, LatencyDuration: 2 * time.Second,
		OutDir: out, Progress: &progress, Stall: time.Minute,
	})
	if err != nil {
		t.Fatalf("bench: %v\nprogress:\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())

	w := res.Worker
	if w.Count != orders || w.Orders+w.DeadLetters != orders {
		t.Errorf("worker committed %d (%d orders + %d dead letters), want %d", w.Count, w.Orders, w.DeadLetters, orders)
	}
	if w.DeadLetters != res.Generated.Malformed {
		t.Errorf("dead letters %d, generated malformed %d", w.DeadLetters, res.Generated.Malformed)
	}
	if w.RowsTotal <= 0 || w.Rows["order_facts"] != w.Orders || w.RowsPerOrder <= 1 {
		t.Errorf("rows %v (total %d, %.2f per order), want one order_facts row per order and more", w.Rows, w.RowsTotal, w.RowsPerOrder)
	}
	if w.CPUSeconds <= 0 || w.CPUSecondsPer100k <= 0 || w.VaultRequests <= 0 || w.VaultRequestsPerOrder <= 0 {
		t.Errorf("CPU %.2fs (%.2f per 100k), Vault %v requests: want all positive", w.CPUSeconds, w.CPUSecondsPer100k, w.VaultRequests)
	}
	if w.TokenCacheHits+w.TokenCacheMisses <= 0 {
		t.Error("no token cache lookups")
	}
	if w.ExitCode != 0 {
		t.Errorf("worker exit code %d after SIGTERM, want 0", w.ExitCode)
	}
	for name, tp := range map[string]bench.Throughput{"kafka": res.KafkaRef, "worker": w.Throughput, "insert": res.InsertRef.Throughput} {
		if tp.Overall <= 0 || tp.Steady <= 0 || tp.Seconds <= 0 || tp.First < 0 || tp.First > tp.Seconds || len(tp.Samples) == 0 {
			t.Errorf("%s throughput inconsistent: %+v", name, tp)
		}
	}
	if res.KafkaRef.Count != orders || res.InsertRef.Count != w.RowsTotal {
		t.Errorf("reference counts %d and %d, want %d messages and %d rows", res.KafkaRef.Count, res.InsertRef.Count, orders, w.RowsTotal)
	}
	if res.InsertRef.OrdersSteady <= 0 || res.InsertRef.RowsPerOrder != w.RowsPerOrder {
		t.Errorf("insert reference as orders: %+v", res.InsertRef)
	}
	if res.Ratios.VsKafka <= 0 || res.Ratios.VsInsert <= 0 {
		t.Errorf("ratios %+v, want positive", res.Ratios)
	}
	l := res.Latency
	if l.Messages != 1000 || l.Observations != 1000 || !(l.P50 > 0 && l.P50 <= l.P99) {
		t.Errorf("latency %+v, want 1000 messages observed and 0 < p50 <= p99", l)
	}
	if !res.OK() || len(res.Goals) != 2 {
		t.Errorf("checks %+v, goals %+v", res.Checks, res.Goals)
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
	for _, want := range []string{res.Commit, "load average", "(a) kafka-go", "(b) clickhouse-go", "PASS", "p99"} {
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
	if back.Worker.Count != orders || back.Worker.Steady != w.Steady {
		t.Errorf("latest.json worker %+v", back.Worker.Throughput)
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

	// Nothing of the run is left on the stack.
	id := res.Params.RunID
	if !topicGone(ctx, brokers, id+".orders.amazon") {
		t.Errorf("topic %s.orders.amazon still exists", id)
	}
	cfg := clickhousetest.Config(t)
	conn := clickhousetest.Open(t, cfg)
	if n := clickhousetest.Count(t, conn, "SELECT count() FROM system.databases WHERE name LIKE ?", id+"%"); n != 0 {
		t.Errorf("%d databases of run %s left", n, id)
	}
}

// TestRunRefusesBadConfig: a run that cannot start says why and leaves nothing.
func TestRunRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]bench.Config{
		"no config file":    {},
		"negative orders":   {ConfigPath: "x.yaml", Orders: -1},
		"latency too short": {ConfigPath: "x.yaml", LatencyDuration: time.Millisecond},
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
