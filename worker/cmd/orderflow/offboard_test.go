package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/deadletter"
	"github.com/orderflow/orderflow/worker/generate"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// generatedStream produces a generator's messages to the stack env's topics.
type generatedStream struct {
	e      *stackEnv
	mu     sync.Mutex
	gen    *generate.Generator
	writer *kafka.Writer
}

func newGeneratedStream(t *testing.T, e *stackEnv, seed uint64) *generatedStream {
	t.Helper()
	return newGeneratedStreamOf(t, e, generate.Config{Seed: seed, Tenants: 3, MalformedRate: 0.02})
}

// newGeneratedStreamOf is a stream of the generator cfg makes.
func newGeneratedStreamOf(t *testing.T, e *stackEnv, cfg generate.Config) *generatedStream {
	t.Helper()
	gen, err := generate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond, BatchSize: 500}
	t.Cleanup(func() { _ = w.Close() })
	return &generatedStream{e: e, gen: gen, writer: w}
}

// produce writes the generator's next n messages.
func (g *generatedStream) produce(t *testing.T, n int) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		m := g.gen.Next()
		topic := g.e.ebay
		if m.Topic == order.ChannelAmazon {
			topic = g.e.amazon
		}
		msgs[i] = kafka.Message{Topic: topic, Key: m.Key, Value: m.Value}
	}
	if err := g.writer.WriteMessages(context.Background(), msgs...); err != nil {
		t.Errorf("produce: %v", err)
	}
}

func (g *generatedStream) stats() generate.Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen.Stats()
}

// The whole of P10 against a live worker, as `orderflow run` and `orderflow
// offboard` wire them on the real Kafka, ClickHouse and Vault: a tenant is
// offboarded while the worker is busy with a stream full of its orders, which
// goes on during and after the offboarding. The offboarding waits for the
// worker's acknowledgement and succeeds; the worker does not stall (the
// other tenants' orders behind keep flowing, every partition's lag goes to
// zero); the tenant has no row left and its keys stay destroyed (nothing
// re-creates them); its dead letters are unreadable; the other tenants'
// orders are all written.
func TestOffboardingATenantOfALiveWorker(t *testing.T) {
	e := newStackEnv(t)
	migrated, chConn := e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("of") // the generator's tenant names, keys of this test's own
	e.vars = append(e.vars,
		"ORDERFLOW_RETENTION_INTERVAL=0", // no purge pass: the offboarding alone must leave nothing
		"ORDERFLOW_PIPELINE_RETRY_MAX=1s",
		"ORDERFLOW_OFFBOARDING_RELOAD_INTERVAL=200ms",
		"ORDERFLOW_OFFBOARDING_STALE_AFTER=5s",
		"ORDERFLOW_OFFBOARDING_LIVE_WITHIN=20s",
		"ORDERFLOW_OFFBOARDING_ACK_TIMEOUT=1m",
	)
	cfg := e.config(t)
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix}) // reads keys back; destroys them at the end
	stream := newGeneratedStream(t, e, 20261203)
	const leaving = "brightside-books"
	stayers := []string{"acme-home", "cobble-and-twine"}
	t.Cleanup(func() {
		for _, tenant := range append(stayers, leaving) {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})

	stream.produce(t, 1500)
	reg := telemetry.NewRegistry()
	ctx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	done := make(chan error, 1)
	go func() { done <- runWorker(ctx, cfg, nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	rowsOf := func(tenant string) uint64 {
		var n uint64
		for _, table := range []string{migrated.Database + ".order_facts", migrated.Database + ".order_line_facts",
			migrated.RestrictedDatabase + ".delivery_labels", migrated.RestrictedDatabase + ".financial_records"} {
			n += clickhousetest.Count(t, chConn, "SELECT count() FROM "+table+" WHERE tenant_id = ?", tenant)
		}
		return n
	}
	deadline := time.Now().Add(2 * time.Minute)
	for rowsOf(leaving) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker wrote none of the tenant's orders")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The stream goes on while the tenant is offboarded.
	producing, stopProducing := context.WithCancel(context.Background())
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for producing.Err() == nil {
			stream.produce(t, 100)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	e.setenv(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"offboard", "--tenant", leaving, "--confirm", leaving}, &stdout, &stderr)
	stopProducing()
	<-produced
	if code != 0 {
		t.Fatalf("offboard: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	// And after it.
	stream.produce(t, 1500)

	// No stall: every partition is committed to its end.
	for _, topic := range []string{e.amazon, e.ebay} {
		end := stacktest.EndOffsets(t, e.brokers, topic, 3)
		for {
			committed := stacktest.CommittedOffsets(t, e.brokers, cfg.Kafka.GroupID, topic, 3)
			if maps.Equal(committed, end) {
				break
			}
			if time.Now().After(deadline.Add(time.Minute)) {
				t.Fatalf("%s: the worker is stuck: committed %v, end %v", topic, committed, end)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stopWorker()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}

	if n := rowsOf(leaving); n != 0 {
		t.Errorf("%d rows of the offboarded tenant after its offboarding", n)
	}
	present, err := vault.TenantKeysPresent(context.Background(), leaving)
	if err != nil || len(present) != 0 {
		t.Errorf("the offboarded tenant's keys at the end: %v (%v); want none: nothing may re-create them", present, err)
	}
	stats := stream.stats()
	for _, tenant := range stayers {
		var want int64
		for _, c := range stats.Tenants[tenant] {
			want += c.Orders
		}
		got := clickhousetest.Count(t, chConn, "SELECT count() FROM "+migrated.Database+".order_facts FINAL WHERE tenant_id = ?", tenant)
		if got != uint64(want) {
			t.Errorf("%s: %d orders in order_facts, want all %d generated", tenant, got, want)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_orders_refused_offboarded_total"); n == 0 {
		t.Error("no message of the offboarded tenant was refused: the stream after the offboarding held some")
	}
	// Its dead letters were encrypted under its key: shredded with it.
	for _, m := range stacktest.ReadAll(t, e.brokers, e.dlq, 3) {
		h := map[string]string{}
		for _, x := range m.Headers {
			h[x.Key] = string(x.Value)
		}
		if h[deadletter.HeaderTenantID] != leaving {
			continue
		}
		if _, err := vault.Decrypt(context.Background(), leaving, []string{string(m.Value)}); err == nil {
			t.Error("a dead letter of the offboarded tenant is still readable")
		}
	}
	if !strings.Contains(stdout.String(), "1 live workers acknowledged") {
		t.Errorf("offboard did not wait for the running worker:\n%s", stdout.String())
	}
}
