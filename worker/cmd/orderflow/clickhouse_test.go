package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// stackEnv is the environment for a command on the stack's servers, with
// unique topics, group and databases.
type stackEnv struct {
	brokers           []string
	amazon, ebay, dlq string
	courier, parked   string
	accounting        string
	ch                config.ClickHouse
	vars              []string
}

func newStackEnv(t *testing.T) *stackEnv {
	t.Helper()
	brokers := stacktest.KafkaBrokers(t)
	vaultAddr, vaultToken := stacktest.Vault(t)
	e := &stackEnv{
		brokers: brokers,
		amazon:  stacktest.UniqueName("cmd.amazon"), ebay: stacktest.UniqueName("cmd.ebay"), dlq: stacktest.UniqueName("cmd.dlq"),
		courier: stacktest.UniqueName("cmd.courier"), parked: stacktest.UniqueName("cmd.parked"), accounting: stacktest.UniqueName("cmd.accounting"),
		ch: clickhousetest.Config(t),
	}
	for _, topic := range []string{e.amazon, e.ebay, e.dlq, e.courier, e.parked, e.accounting} {
		stacktest.CreateTopic(t, brokers, topic, 3)
	}
	e.vars = []string{
		"ORDERFLOW_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"ORDERFLOW_KAFKA_GROUP_ID=" + stacktest.UniqueName("cmd-group"),
		"ORDERFLOW_KAFKA_TOPICS_AMAZON=" + e.amazon,
		"ORDERFLOW_KAFKA_TOPICS_EBAY=" + e.ebay,
		"ORDERFLOW_KAFKA_TOPICS_DEAD_LETTER=" + e.dlq,
		"ORDERFLOW_KAFKA_TOPICS_COURIER=" + e.courier,
		"ORDERFLOW_KAFKA_TOPICS_PARKED=" + e.parked,
		"ORDERFLOW_KAFKA_TOPICS_ACCOUNTING=" + e.accounting,
		"ORDERFLOW_KAFKA_SESSION_TIMEOUT=6s",
		"ORDERFLOW_KAFKA_HEARTBEAT_INTERVAL=500ms",
		"ORDERFLOW_PIPELINE_BATCH_MAX_WAIT=100ms",
		"ORDERFLOW_METRICS_LISTEN=" + freeAddr(t),
		"ORDERFLOW_VAULT_ADDRESS=" + vaultAddr,
		"ORDERFLOW_VAULT_AUTH_TOKEN_ENV=TEST_VAULT_TOKEN",
		"TEST_VAULT_TOKEN=" + vaultToken,
		"ORDERFLOW_CLICKHOUSE_ADDR=" + strings.Join(e.ch.Addr, ","),
		"ORDERFLOW_CLICKHOUSE_DATABASE=" + e.ch.Database,
		"ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE=" + e.ch.RestrictedDatabase,
		"ORDERFLOW_LOG_LEVEL=warn",
	}
	return e
}

// useMigrated points the commands at a fresh pair of migrated databases
// (dropped at the test's end) instead of newStackEnv's unmigrated ones, and
// returns them with a connection to read them back.
func (e *stackEnv) useMigrated(t *testing.T) (config.ClickHouse, driver.Conn) {
	t.Helper()
	ch, conn := clickhousetest.Migrated(t)
	e.ch = ch
	e.vars = append(e.vars, "ORDERFLOW_CLICKHOUSE_DATABASE="+ch.Database, "ORDERFLOW_CLICKHOUSE_RESTRICTED_DATABASE="+ch.RestrictedDatabase)
	return ch, conn
}

// ownVaultKeys gives the commands Vault keys of this test's own, under a
// unique prefix that it returns (for a client that reads them back).
func (e *stackEnv) ownVaultKeys(prefix string) string {
	keyPrefix := stacktest.UniqueName(prefix) + "-"
	e.vars = append(e.vars, "ORDERFLOW_VAULT_KEY_PREFIX="+keyPrefix)
	return keyPrefix
}

// setenv puts the environment in place for commands that read os.Environ.
func (e *stackEnv) setenv(t *testing.T) {
	for _, kv := range e.vars {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func (e *stackEnv) config(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load("", e.vars)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// produceFixtures writes every good fixture twice (a redelivered snapshot) and
// every bad one once, and returns the distinct good orders and the bad count.
func (e *stackEnv) produceFixtures(t *testing.T) (good map[pipelinetest.Key]bool, bad int) {
	t.Helper()
	good = map[pipelinetest.Key]bool{}
	msgs := map[string][]kafka.Message{}
	for _, dir := range []string{"amazon", "amazon2026", "ebay"} {
		topic := e.ebay
		if strings.HasPrefix(dir, "amazon") {
			topic = e.amazon
		}
		root := filepath.Join("../../normalize/testdata", dir)
		for _, f := range pipelinetest.Fixtures(t, filepath.Join(root, "*.json"), filepath.Join(root, "bad", "*.json")) {
			copies := 1
			if f.Err == nil {
				good[pipelinetest.KeyOf(f.Order)] = true
				copies = 2
			} else {
				bad++
			}
			for range copies {
				msgs[topic] = append(msgs[topic], kafka.Message{Key: []byte(filepath.Base(f.File)), Value: f.Value})
			}
		}
	}
	for topic, batch := range msgs {
		w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		if err := w.WriteMessages(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
	}
	return good, bad
}

// TestRunWritesEveryOrderToClickHouse runs the worker as `orderflow run` does,
// with the ClickHouse writer and the purge schedule: every good order lands in
// ClickHouse once (under FINAL), every offset is committed, the bad messages
// are dead-lettered, and the scheduled purge has run.
func TestRunWritesEveryOrderToClickHouse(t *testing.T) {
	e := newStackEnv(t)
	migratedCfg, chConn := e.useMigrated(t)
	good, bad := e.produceFixtures(t)

	reg := telemetry.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, e.config(t), nil, reg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()

	countFacts := func() uint64 {
		return clickhousetest.Count(t, chConn, "SELECT count() FROM "+migratedCfg.Database+".order_facts FINAL")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for countFacts() < uint64(len(good)) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Committed offsets reach the end once the last batch is written.
	for _, topic := range []string{e.amazon, e.ebay} {
		end := stacktest.EndOffsets(t, e.brokers, topic, 3)
		for {
			committed := stacktest.CommittedOffsets(t, e.brokers, e.config(t).Kafka.GroupID, topic, 3)
			if maps.Equal(committed, end) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: committed %v, end %v", topic, committed, end)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}

	if got := countFacts(); got != uint64(len(good)) {
		t.Errorf("order_facts FINAL has %d orders, want %d", got, len(good))
	}
	if got := clickhousetest.Count(t, chConn, "SELECT count() FROM "+migratedCfg.RestrictedDatabase+".financial_records FINAL"); got != uint64(len(good)) {
		t.Errorf("financial_records FINAL has %d rows, want %d", got, len(good))
	}
	if got := len(stacktest.ReadAll(t, e.brokers, e.dlq, 3)); got != bad {
		t.Errorf("%d dead letters, want %d", got, bad)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_purge_runs_total", "outcome=ok"); got < 1 {
		t.Errorf("the scheduled purge did not run: orderflow_purge_runs_total{outcome=ok} = %v", got)
	}
	if got := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table=order_facts"); got < float64(len(good)) {
		t.Errorf("orderflow_clickhouse_insert_rows_total{table=order_facts} = %v, want at least %d", got, len(good))
	}
}

func TestRunRefusesASchemaBehind(t *testing.T) {
	e := newStackEnv(t) // its databases are never migrated
	e.setenv(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "run orderflow migrate") {
		t.Errorf("stderr %q does not say to migrate", stderr.String())
	}
}

// The commands an operator runs, end to end: migrate (twice), a dry purge as
// of +22 days, and an offboarding that needs its confirmation.
func TestMigratePurgeAndOffboardCommands(t *testing.T) {
	e := newStackEnv(t)
	e.setenv(t)
	conn := clickhousetest.Open(t, e.ch)
	clickhousetest.DropAtCleanup(t, conn, e.ch)

	for i, want := range []string{"applied 0001_databases", "nothing to apply"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"migrate"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), want) {
			t.Fatalf("migrate #%d: exit %d, stdout %q, stderr %q", i+1, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"purge", "--now", "+22d", "--dry-run"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "dry run: would purge 0 rows") {
		t.Fatalf("purge: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"offboard", "--tenant", "leaving-seller"}, &stdout, &stderr); code != 2 ||
		!strings.Contains(stderr.String(), "--confirm leaving-seller") {
		t.Fatalf("offboard without confirmation: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"offboard", "--tenant", "leaving-seller", "--confirm", "leaving-seller"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "tenant leaving-seller offboarded: 0 live workers acknowledged, keys destroyed (0 left in Vault), 0 rows deleted, 0 remain") {
		t.Fatalf("offboard: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if got := clickhousetest.Count(t, conn, "SELECT count() FROM "+e.ch.Database+".purge_log WHERE tenant_id = 'leaving-seller' AND action = 'shred_keys'"); got != 1 {
		t.Errorf("purge_log has %d shred_keys rows for the tenant, want 1", got)
	}
}
