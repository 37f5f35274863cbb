package retention_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// A process whose clock runs ahead of ClickHouse's does not purge by it: a
// pass as of its own now, two hours ahead of the server's real clock, is
// refused with ErrClockAhead before it deletes anything, counted as failed
// and recorded as a failed check_clock action naming both clocks. A dry run
// at the same instant goes on, and so does a pass within the tolerance.
func TestAPassAheadOfClickHousesClockIsRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, smallSet(twoTenants("clock")))
	purger := func(skew time.Duration) *retention.Purger {
		t.Helper()
		p, err := retention.New(retention.Config{
			Conn: f.conn, Database: f.cfg.Database, RestrictedDatabase: f.cfg.RestrictedDatabase,
			Retention: defaultRetention(), MutationTimeout: time.Minute, Registerer: f.reg,
			Logger: slog.New(slog.NewTextHandler(f.log, nil)),
			Now:    func() time.Time { return time.Now().Add(skew) }, // ClickHouseNow: the server's own
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	ahead := purger(2 * time.Hour)
	before := tableCounts(t, f.conn, f.cfg)
	rep, err := ahead.Purge(ctx, time.Now().Add(2*time.Hour), false)
	if !errors.Is(err, retention.ErrClockAhead) || !strings.Contains(err.Error(), "ClickHouse's clock says") {
		t.Fatalf("a pass two hours ahead of ClickHouse's clock: %v; want ErrClockAhead naming both clocks", err)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("the refused pass changed the tables (-before +after):\n%s", diff)
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=failed"); got != 1 {
		t.Errorf("runs{failed} = %v, want 1", got)
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	if len(log) != 1 || log[0].Action != "check_clock" || log[0].Outcome != "failed" || !strings.Contains(log[0].Error, "ClickHouse's clock") {
		t.Errorf("purge_log of the refused pass = %+v, want one failed check_clock row", log)
	}

	dry, err := ahead.Purge(ctx, time.Now().Add(2*time.Hour), true)
	if err != nil || dry.Rows() == 0 {
		t.Errorf("a dry run ahead of ClickHouse's clock = %d rows, %v; want it to report what would go", dry.Rows(), err)
	}
	within := purger(retention.ClockTolerance / 2)
	if _, err := within.Purge(ctx, time.Now().Add(retention.ClockTolerance/2), false); err != nil {
		t.Errorf("a pass within the tolerance of ClickHouse's clock: %v", err)
	}
	if after := tableCounts(t, f.conn, f.cfg); cmp.Equal(before, after) {
		t.Error("the pass within the tolerance deleted nothing")
	}
}
