package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestRunWorkerServesMetricsAndStopsCleanly runs the worker as `orderflow run`
// wires it, on the real Kafka: it serves /metrics, /healthz and /readyz, writes an
// order, and on the stop signal returns without error after committing.
func TestRunWorkerServesMetricsAndStopsCleanly(t *testing.T) {
	brokers := stacktest.KafkaBrokers(t)
	vaultAddr, vaultToken := stacktest.Vault(t)
	amazon, ebay, dlq := stacktest.UniqueName("run.amazon"), stacktest.UniqueName("run.ebay"), stacktest.UniqueName("run.dlq")
	courier := stacktest.UniqueName("run.courier")
	for _, topic := range []string{amazon, ebay, dlq, courier} {
		stacktest.CreateTopic(t, brokers, topic, 2)
	}
	value := pipelinetest.GoodFixtures(t, "../../normalize/testdata/ebay", 1)[0]
	writer := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: ebay, BatchTimeout: time.Millisecond}
	if err := writer.WriteMessages(context.Background(), kafka.Message{Key: []byte("k"), Value: value}); err != nil {
		t.Fatal(err)
	}
	_ = writer.Close()

	metricsAddr := freeAddr(t)
	group := stacktest.UniqueName("run-group")
	cfg, err := config.Load("", []string{
		"ORDERFLOW_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"ORDERFLOW_KAFKA_GROUP_ID=" + group,
		"ORDERFLOW_KAFKA_TOPICS_AMAZON=" + amazon,
		"ORDERFLOW_KAFKA_TOPICS_EBAY=" + ebay,
		"ORDERFLOW_KAFKA_TOPICS_DEAD_LETTER=" + dlq,
		"ORDERFLOW_KAFKA_TOPICS_COURIER=" + courier,
		"ORDERFLOW_KAFKA_SESSION_TIMEOUT=6s",
		"ORDERFLOW_KAFKA_HEARTBEAT_INTERVAL=500ms",
		"ORDERFLOW_METRICS_LISTEN=" + metricsAddr,
		"ORDERFLOW_VAULT_ADDRESS=" + vaultAddr,
		"ORDERFLOW_VAULT_AUTH_TOKEN_ENV=TEST_VAULT_TOKEN",
		"TEST_VAULT_TOKEN=" + vaultToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := pipelinetest.NewMemorySink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, cfg, sink, newRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()

	deadline := time.Now().Add(time.Minute)
	for len(sink.Orders()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(sink.Orders()) != 1 {
		t.Fatalf("the worker wrote %d orders, want 1", len(sink.Orders()))
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": `orderflow_orders_normalized_total{channel="ebay"} 1`,
		// The build, and the group's lag on each partition of its topics.
		"/metrics?build": `orderflow_build_info{commit="unknown",goversion="` + runtime.Version() + `",version="dev"} 1`,
		"/metrics?lag":   `orderflow_kafka_consumer_lag_messages{group="` + group + `",partition="1",topic="` + amazon + `"} 0`,
	} {
		// The counter moves after the commit, a moment after the sink saw the order.
		body := get(t, "http://"+metricsAddr+path)
		for i := 0; !strings.Contains(body, want) && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			body = get(t, "http://"+metricsAddr+path)
		}
		if !strings.Contains(body, want) {
			t.Errorf("%s does not contain %q", path, want)
		}
	}

	cancel() // what SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker returned %v after the stop signal", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("worker did not stop")
	}
	if conn, err := net.DialTimeout("tcp", metricsAddr, time.Second); err == nil {
		conn.Close()
		t.Errorf("metrics server still listening after stop")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body)
}
