package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
)

// offboard_heartbeats and offboard_acks would grow with every worker start
// (each a new worker id): a pass deletes the acknowledgements of workers
// without a heartbeat for a week, and heartbeats older than a week, and
// records both as prune actions; those of workers seen since are kept, even
// a stopped one's, and a dry run only reports.
func TestAPassPrunesWorkersGoneForAWeek(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	var now time.Time
	if err := f.conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	const odd = `odd'name\worker` // quoted safely into the delete
	heartbeats := []struct {
		worker  string
		seenAt  time.Time
		stopped uint8
	}{
		{"gone", now.Add(-8 * day), 0},
		{odd, now.Add(-8*day - time.Hour), 1},
		{"alive", now.Add(-time.Minute), 0},
		{"stopped-recently", now.Add(-2 * day), 1},
	}
	batch, err := f.conn.PrepareBatch(ctx, "INSERT INTO "+f.cfg.Database+".offboard_heartbeats (worker_id, seen_at, quiet_after_s, stopped)")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range heartbeats {
		if err := batch.Append(h.worker, h.seenAt, uint32(72), h.stopped); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	batch, err = f.conn.PrepareBatch(ctx, "INSERT INTO "+f.cfg.Database+".offboard_acks (tenant_id, worker_id, acked_at)")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range [][2]string{{"t1", "gone"}, {"t2", "gone"}, {"t1", odd}, {"t1", "never-heartbeat"}, {"t1", "alive"}, {"t2", "alive"}, {"t1", "stopped-recently"}} {
		if err := batch.Append(a[0], a[1], now.Add(-9*day)); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
	workers := func(table string) []string {
		t.Helper()
		return scanRows(t, f.conn, func(rows driver.Rows, w *string) error { return rows.Scan(w) },
			"SELECT worker_id FROM "+f.cfg.Database+"."+table+" ORDER BY worker_id")
	}
	p := f.purger(t, defaultRetention(), nil)
	pruned := func(rep retention.Report) map[string]uint64 {
		t.Helper()
		out := map[string]uint64{}
		for _, l := range purgeLog(t, f.conn, f.cfg, rep.RunID) {
			if l.Action == "prune" {
				out[l.Table+" "+l.Outcome] += l.Rows
			}
		}
		return out
	}

	dry, err := p.Purge(ctx, today, true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"offboard_acks dry_run": 4, "offboard_heartbeats dry_run": 2}
	if diff := cmp.Diff(want, pruned(dry)); diff != "" {
		t.Errorf("dry run's prune actions (-want +got):\n%s", diff)
	}
	if n := clickhousetest.Count(t, f.conn, "SELECT count() FROM "+f.cfg.Database+".offboard_acks"); n != 7 {
		t.Errorf("the dry run left %d acknowledgements, want all 7", n)
	}

	rep, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]uint64{"offboard_acks ok": 4, "offboard_heartbeats ok": 2}
	if diff := cmp.Diff(want, pruned(rep)); diff != "" {
		t.Errorf("prune actions (-want +got):\n%s", diff)
	}
	if rep.Rows() != 0 {
		t.Errorf("the pass reports %d rows: pruned bookkeeping is not data", rep.Rows())
	}
	if diff := cmp.Diff([]string{"alive", "alive", "stopped-recently"}, workers("offboard_acks")); diff != "" {
		t.Errorf("acknowledgements left (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"alive", "stopped-recently"}, workers("offboard_heartbeats")); diff != "" {
		t.Errorf("heartbeats left (-want +got):\n%s", diff)
	}
	again, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := pruned(again); len(got) != 0 {
		t.Errorf("a second pass pruned %v, want nothing", got)
	}
}
