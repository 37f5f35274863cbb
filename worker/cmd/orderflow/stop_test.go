package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// `orderflow run` stops, rather than spin, on an error that only an operator
// can fix, and says what it is: a table it writes dropped under it (here after
// its first batch, past the schema check at start) stops it within seconds
// with a non-zero exit naming the table and the fix, and the batch it could
// not write stays uncommitted.
func TestRunStopsWhenATableItWritesIsDropped(t *testing.T) {
	e := newStackEnv(t)
	ch, conn := e.useMigrated(t)
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0") // the purge schedule would meet the dropped table too
	e.setenv(t)
	produce := func(value []byte) {
		t.Helper()
		w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: e.ebay, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		defer w.Close()
		if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte("k"), Value: value}); err != nil {
			t.Fatal(err)
		}
	}
	values := pipelinetest.GoodFixtures(t, "../../normalize/testdata/ebay", 2)
	produce(values[0])

	var stdout, stderr bytes.Buffer
	exit := make(chan int, 1)
	go func() { exit <- run([]string{"run"}, &stdout, &stderr) }()
	facts := func() uint64 {
		return clickhousetest.Count(t, conn, "SELECT count() FROM "+ch.Database+".order_facts FINAL")
	}
	for deadline := time.Now().Add(time.Minute); facts() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first order never reached order_facts")
		}
	}
	if err := conn.Exec(context.Background(), "DROP TABLE "+ch.Database+".order_facts"); err != nil {
		t.Fatal(err)
	}
	produce(values[1])

	select {
	case code := <-exit:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("orderflow run kept going for a minute without order_facts")
	}
	for _, want := range []string{"stage write", ch.Database + ".order_facts", "unknown table: run orderflow migrate"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	committed := 0
	for _, off := range stacktest.CommittedOffsets(t, e.brokers, e.config(t).Kafka.GroupID, e.ebay, 3) {
		committed += int(max(off, 0))
	}
	if committed != 1 {
		t.Errorf("%d messages committed, want the first only", committed)
	}
}

// A ClickHouse password the server refuses stops `orderflow run` at start,
// saying so.
func TestRunRefusesAWrongClickHousePassword(t *testing.T) {
	e := newStackEnv(t)
	e.vars = append(e.vars, "ORDERFLOW_CLICKHOUSE_PASSWORD_ENV=TEST_CLICKHOUSE_PASSWORD", "TEST_CLICKHOUSE_PASSWORD=not-the-password")
	e.setenv(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr %s", code, stderr.String())
	}
	if !strings.Contains(strings.ToLower(stderr.String()), "password") {
		t.Errorf("stderr does not say the password is refused: %s", stderr.String())
	}
	if strings.Contains(stderr.String(), "not-the-password") {
		t.Errorf("stderr shows the password")
	}
}
