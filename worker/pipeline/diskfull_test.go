package pipeline_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// ClickHouse's disk full, on the small-disk server with the real protect
// stage and writer: the first batch's write fails, is retried with backoff
// and never committed nor dead-lettered, and while it waits the pipeline
// fetches one batch ahead and no more (back-pressure). The failures are
// counted as disk_full, orderflow_clickhouse_disk_full is 1 for each table,
// and the log says the disk is full. Once the disk has
// grown, the waiting batch and the others are written and committed in
// order, each order once.
func TestDiskFullHoldsTheWriteAndTheFetchesUntilSpaceIsMade(t *testing.T) {
	disk := stacktest.ClickHouseSmallDisk(t)
	ch, conn := clickhousetest.MigratedAt(t, disk.Addr)
	reg := prometheus.NewRegistry()
	var logs privacytest.LogBuffer
	writer, err := facts.New(facts.Config{Conn: conn, Database: ch.Database, RestrictedDatabase: ch.RestrictedDatabase,
		LabelRetention: config.Period{Days: 366}, Registerer: reg, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	// Three batches of the good eBay fixtures.
	fs := pipelinetest.Orders(t, filepath.Join(fixtures, "ebay"))
	keys := map[pipelinetest.Key]bool{}
	var batches [][]stream.Message
	for i, f := range fs {
		keys[pipelinetest.KeyOf(f.Order)] = true
		if i%((len(fs)+2)/3) == 0 {
			batches = append(batches, nil)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], stream.Message{Topic: "orders.ebay", Offset: int64(i), Value: f.Value})
	}
	src := &scriptedSource{fetched: make(chan int, len(batches)), batches: batches}
	letters := &recordingLetters{}
	p, err := pipeline.New(pipeline.Config{
		Source: src, Protector: stageOn(t, transittest.NewClient(t, transit.Config{})), Sinks: []pipeline.Sink{writer},
		DeadLetters: letters, TopicChannels: map[string]order.Channel{"orders.ebay": order.ChannelEbay},
		// As in production but shorter: a full disk is retried with backoff, not hammered.
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Registerer: reg, Logger: logs.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	size := disk.Size(t)
	disk.Fill(t, 0)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	started := time.Now()
	go func() { result <- p.Run(ctx) }()
	writeRetries := func() float64 {
		return telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage="+pipeline.StageWrite)
	}
	var fetched []int
	waitFor(t, "the first batch's write to fail 5 times and the next batch to be fetched", result, func() bool {
		fetched = drain(src.fetched, fetched)
		return writeRetries() >= 5 && len(fetched) == 2
	})
	// While the write keeps failing, nothing more is fetched or committed.
	retries := writeRetries()
	waitFor(t, "5 more failed writes", result, func() bool { return writeRetries() >= retries+5 })
	if fetched = drain(src.fetched, fetched); len(fetched) != 2 {
		t.Errorf("fetched the batches at %v while the write was failing: want the one being written and one ahead", fetched)
	}
	if c := src.commits(); len(c) != 0 {
		t.Errorf("committed %v while the write was failing", c)
	}
	full := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "reason="+facts.ReasonDiskFull)
	if all := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total"); full == 0 || all != full {
		t.Errorf("%v failed inserts of reason disk_full, %v in all: want every failure counted as disk_full", full, all)
	}
	if g := telemetrytest.Sum(t, reg, "orderflow_clickhouse_disk_full"); g != 4 {
		t.Errorf("orderflow_clickhouse_disk_full = %v summed over the tables, want 4: one for each", g)
	}
	if !strings.Contains(logs.String(), "disk is full") {
		t.Errorf("the log does not say ClickHouse's disk is full:\n%s", logs.String())
	}

	blocked := time.Since(started)
	disk.Resize(t, int(size>>20)+16)
	grown := time.Now()
	src.waitCommits(len(batches), time.Minute)
	recovery := time.Since(grown)
	cancel()
	if err := <-result; err != nil {
		t.Fatalf("Run: %v", err)
	}

	var want []int64
	for _, b := range batches {
		want = append(want, b[len(b)-1].Offset)
	}
	if c := src.commits(); !slices.Equal(c, want) {
		t.Fatalf("committed %v, want %v: every batch, in order", c, want)
	}
	if g := telemetrytest.Sum(t, reg, "orderflow_clickhouse_disk_full"); g != 0 {
		t.Errorf("orderflow_clickhouse_disk_full = %v summed over the tables once written, want 0", g)
	}
	if l := letters.all(); len(l) != 0 {
		t.Errorf("%d dead letters: a full disk dead-letters nothing", len(l))
	}
	for _, stage := range []string{pipeline.StageFetch, pipeline.StageProtect, pipeline.StageDeadLetter, pipeline.StageCommit} {
		if n := telemetrytest.Sum(t, reg, "orderflow_pipeline_retries_total", "stage="+stage); n != 0 {
			t.Errorf("%v retries of stage %s", n, stage)
		}
	}
	if n := clickhousetest.Count(t, conn, "SELECT count() FROM "+ch.Database+".order_facts FINAL"); n != uint64(len(keys)) {
		t.Errorf("order_facts has %d orders under FINAL, want %d", n, len(keys))
	}
	var rows uint64
	for _, table := range []string{ch.Database + ".order_facts", ch.Database + ".order_line_facts",
		ch.RestrictedDatabase + ".delivery_labels", ch.RestrictedDatabase + ".financial_records"} {
		name := table[strings.IndexByte(table, '.')+1:]
		stored := clickhousetest.Count(t, conn, "SELECT count() FROM "+table)
		if sent := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name); float64(stored) != sent {
			t.Errorf("%s: %d rows stored, %v sent in successful inserts: a failed attempt left rows, or a batch was written twice", name, stored, sent)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != float64(len(batches)) {
			t.Errorf("%s: %v inserts, want one per batch (%d)", name, n, len(batches))
		}
		rows += stored
	}
	t.Logf("disk %d MiB, filled: the write of %d orders failed %v times (%v inserts of reason disk_full) over %v with batch 3 of %d never fetched; "+
		"grown by 16 MiB: %d batches committed within %v, %d orders, %d rows",
		size>>20, len(batches[0]), writeRetries(), full, blocked.Round(time.Millisecond), len(batches),
		len(batches), recovery.Round(time.Millisecond), len(keys), rows)
}

// drain appends what ch holds now to got.
func drain(ch <-chan int, got []int) []int {
	for {
		select {
		case v := <-ch:
			got = append(got, v)
		default:
			return got
		}
	}
}

// waitFor polls cond until it holds, failing the test after a minute or when
// the pipeline's Run returns first.
func waitFor(t *testing.T, what string, result <-chan error, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		select {
		case err := <-result:
			t.Fatalf("waiting for %s: Run returned %v", what, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
