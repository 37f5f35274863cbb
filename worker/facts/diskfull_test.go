package facts_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestDiskFull, on the small-disk ClickHouse with its disk filled: every
// Write of the batch fails after one attempt per table with a transient
// error (the pipeline retries it; nothing stops or is dead-lettered) whose
// reason is disk_full, counted per table and attempt under that reason,
// orderflow_clickhouse_disk_full is 1 for every table, and nothing is
// written. Once the disk has grown, the retry under the same ID
// writes the batch: each table's rows are inserted once (the physical rows
// are the rows sent, in one insert per table), FINAL holds every order, and
// the gauge is 0 again.
func TestDiskFull(t *testing.T) {
	disk := stacktest.ClickHouseSmallDisk(t)
	s := newStackAt(t, disk.Addr)
	cs, ps := s.ownAll(t)
	w, reg := s.writer(t, nil)
	ctx := context.Background()
	size := disk.Size(t)
	disk.Fill(t, 0)

	const attempts = 3
	full := time.Now()
	for attempt := 1; attempt <= attempts; attempt++ {
		err := w.Write(ctx, 1, ps)
		if err == nil {
			t.Fatalf("attempt %d: Write succeeded on a full disk", attempt)
		}
		if c := failure.Of(err); c != failure.Transient {
			t.Errorf("attempt %d: class %v, want %v: space can be made, and the batch must wait for it", attempt, c, failure.Transient)
		}
		var ie *facts.InsertError
		if !errors.As(err, &ie) || ie.Reason() != facts.ReasonDiskFull {
			t.Errorf("attempt %d: Write error %v: want an *InsertError of reason %s", attempt, err, facts.ReasonDiskFull)
		}
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 75 && ex.Code != 243 {
			t.Errorf("attempt %d: Write error %v does not wrap the server's 75 (ENOSPC) or 243 (NOT_ENOUGH_SPACE)", attempt, err)
		}
		if !strings.Contains(err.Error(), "disk is full") {
			t.Errorf("attempt %d: Write error %q does not say the disk is full", attempt, err)
		}
		assertNoData(t, err, cs, ps)
	}
	for _, name := range tables {
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name, "reason="+facts.ReasonDiskFull); n != attempts {
			t.Errorf("insert_errors_total{table=%s,reason=disk_full} = %v, want %d: one per attempt", name, n, attempts)
		}
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_errors_total", "table="+name); n != attempts {
			t.Errorf("insert_errors_total{table=%s} = %v, want %d: every failure is disk_full", name, n, attempts)
		}
		if n := clickhousetest.Count(t, s.conn, "SELECT count() FROM "+s.table(name)); n != 0 {
			t.Errorf("%s: %d rows written on a full disk", name, n)
		}
		if g := telemetrytest.Sum(t, reg, "orderflow_clickhouse_disk_full", "table="+name); g != 1 {
			t.Errorf("orderflow_clickhouse_disk_full{table=%s} = %v on a full disk, want 1", name, g)
		}
	}

	disk.Resize(t, int(size>>20)+16)
	if err := w.Write(ctx, 1, ps); err != nil {
		t.Fatalf("Write after the disk grew: %v", err)
	}
	blocked := time.Since(full)
	want := expected(cs, ps, testNow, config.Period{Days: 366}.Before(testNow))
	var written float64
	for _, name := range tables {
		if n := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_batches_total", "table="+name); n != 1 {
			t.Errorf("%s: %v inserts, want 1", name, n)
		}
		sent := telemetrytest.Sum(t, reg, "orderflow_clickhouse_insert_rows_total", "table="+name)
		written += sent
		if n := clickhousetest.Count(t, s.conn, "SELECT count() FROM "+s.table(name)); float64(n) != sent {
			t.Errorf("%s: %d rows stored, %v sent: a failed attempt left rows behind", name, n, sent)
		}
		if n := s.count(t, name); n != uint64(len(want[name])) {
			t.Errorf("%s: %d rows under FINAL, want %d", name, n, len(want[name]))
		}
		if g := telemetrytest.Sum(t, reg, "orderflow_clickhouse_disk_full", "table="+name); g != 0 {
			t.Errorf("orderflow_clickhouse_disk_full{table=%s} = %v once written, want 0", name, g)
		}
	}
	t.Logf("disk %d MiB filled; %d orders blocked for %v over %d failed attempts; then %v rows written in one insert per table",
		size>>20, len(ps), blocked.Round(time.Millisecond), attempts, written)
}
