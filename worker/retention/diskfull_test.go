package retention_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// ClickHouse's disk full, for the worker's offboarded-tenant list, on the
// small-disk server: its heartbeats are inserts, so a worker cannot start
// (its first heartbeat fails: `orderflow run` exits and is restarted, having
// consumed nothing), and a running list goes stale after StaleAfter and holds
// the pipeline's writes (ErrListStale, which the pipeline retries: it
// declares no class). Once the disk has grown, the next reload makes the
// list fresh again and the writes are admitted, with no restart.
func TestBlocklistOnAFullDisk(t *testing.T) {
	disk := stacktest.ClickHouseSmallDisk(t)
	ch, conn := clickhousetest.MigratedAt(t, disk.Addr)
	cfg := retention.BlocklistConfig{Conn: conn, Database: ch.Database, WorkerID: stacktest.UniqueName("w"),
		Interval: 50 * time.Millisecond, StaleAfter: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b, err := retention.NewBlocklist(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewBlocklist: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	holds := func() error {
		release, err := b.Hold()
		if err == nil {
			release()
		}
		return err
	}
	if err := holds(); err != nil {
		t.Fatalf("Hold on a fresh list: %v", err)
	}
	size := disk.Size(t)
	disk.Fill(t, 0)

	starting := cfg
	starting.WorkerID = stacktest.UniqueName("w")
	if _, err := retention.NewBlocklist(context.Background(), starting); err == nil {
		t.Error("a worker's list loaded on a full disk: its first heartbeat is an insert")
	}
	full := time.Now()
	waitFor(t, "the list to go stale", func() bool { return errors.Is(holds(), retention.ErrListStale) })
	stale := time.Since(full)

	grown := time.Now()
	disk.Resize(t, int(size>>20)+16)
	waitFor(t, "the list to be fresh again", func() bool { return holds() == nil })
	t.Logf("stale %v after the disk filled (StaleAfter %v); fresh again %v after the resize began (Interval %v)",
		stale.Round(time.Millisecond), cfg.StaleAfter, time.Since(grown).Round(time.Millisecond), cfg.Interval)
}
