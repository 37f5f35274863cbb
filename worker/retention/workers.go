package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
)

// The workers' side of a two-phase offboarding, in {database}:
// offboard_heartbeats (one row per reload of a worker's list) and
// offboard_acks (a worker refuses a tenant and has nothing of it in flight).
// Times compared across machines are ClickHouse's own (now()), never a
// worker's clock.

// writeHeartbeat records that the worker is about to read the list (or, with
// stopped, that it has stopped) at ClickHouse's now(), and returns that time.
func (b *Blocklist) writeHeartbeat(ctx context.Context, stopped bool) (time.Time, error) {
	var seenAt time.Time
	if err := b.cfg.Conn.QueryRow(ctx, "SELECT now()").Scan(&seenAt); err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: reading ClickHouse's clock: %w", err)
	}
	batch, err := b.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+b.cfg.Database+"."+schema.TableOffboardHeartbeats+" (worker_id, seen_at, quiet_after_s, stopped)")
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	var s uint8
	if stopped {
		s = 1
	}
	if err := batch.Append(b.cfg.WorkerID, seenAt, uint32(b.cfg.quietAfter()/time.Second), s); err != nil {
		_ = batch.Abort()
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	if err := batch.Send(); err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	return seenAt, nil
}

// writeAcks records the worker's acknowledgement of each tenant, at
// ClickHouse's now().
func (b *Blocklist) writeAcks(ctx context.Context, tenants []string) error {
	var now time.Time
	if err := b.cfg.Conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return fmt.Errorf("acknowledging offboarded tenants: reading ClickHouse's clock: %w", err)
	}
	batch, err := b.cfg.Conn.PrepareBatch(ctx, "INSERT INTO "+b.cfg.Database+"."+schema.TableOffboardAcks+" (tenant_id, worker_id, acked_at)")
	if err != nil {
		return fmt.Errorf("acknowledging offboarded tenants: %w", err)
	}
	for _, t := range tenants {
		if err := batch.Append(t, b.cfg.WorkerID, now); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("acknowledging offboarded tenants: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("acknowledging offboarded tenants: %w", err)
	}
	return nil
}

// workerState is a worker's last heartbeat as an offboarding reads it.
type workerState struct {
	id         string
	seenAt     time.Time     // ClickHouse's clock
	quietAfter time.Duration // from the worker's own configuration
	stopped    bool
	acked      bool // it acknowledged the tenant in question
}

// live says whether an offboarding must wait for the worker: it has not
// signed off, and its last heartbeat is recent enough that it may still be
// talking to Vault. With now and seenAt both ClickHouse's (truncated to the
// second), a worker is certainly quiet once
//
//	now - seenAt > quietAfter = ceil(StaleAfter + RequestTimeout) + 1s
//
// since it sends a tenant's request only before (start of its last good
// reload) + StaleAfter <= seenAt + 1s + StaleAfter, and no request lasts
// longer than RequestTimeout. liveWithin (offboarding.live_within) only ever
// widens that: the configuration requires it to be larger still, so that a
// worker is not given up on while one of its reloads is merely slow.
func (w workerState) live(now time.Time, liveWithin time.Duration) bool {
	if w.stopped {
		return false
	}
	return now.Sub(w.seenAt) <= max(liveWithin, w.quietAfter)
}

// heartbeatHorizon bounds the heartbeats an offboarding reads: older workers
// are quiet whatever their configuration (stale_after is at most an hour).
const heartbeatHorizon = 24 * time.Hour

// workers reads every worker that heartbeat within the horizon, whether it
// acknowledged the tenant, and ClickHouse's now().
func (p *Purger) workers(ctx context.Context, tenant string) ([]workerState, time.Time, error) {
	now, err := serverNow(ctx, p.cfg.Conn)
	if err != nil {
		return nil, time.Time{}, err
	}
	acked := map[string]bool{}
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		acked[id] = true
		return nil
	}, "SELECT DISTINCT worker_id FROM "+p.cfg.Database+"."+schema.TableOffboardAcks+" WHERE tenant_id = ?", tenant); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the acknowledgements: %w", err)
	}

	var out []workerState
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var w workerState
		var quiet uint32
		var stopped uint8
		if err := rows.Scan(&w.id, &w.seenAt, &quiet, &stopped); err != nil {
			return err
		}
		w.quietAfter, w.stopped, w.acked = time.Duration(quiet)*time.Second, stopped == 1, acked[w.id]
		out = append(out, w)
		return nil
	}, "SELECT worker_id, max(seen_at), max(quiet_after_s), max(stopped) FROM "+p.cfg.Database+
		"."+schema.TableOffboardHeartbeats+" WHERE seen_at >= now() - ? GROUP BY worker_id ORDER BY worker_id", uint32(heartbeatHorizon/time.Second)); err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the workers' heartbeats: %w", err)
	}
	return out, now, nil
}

// pruneAfter is how long after a worker's last heartbeat (by ClickHouse's
// clock) its rows in offboard_heartbeats and offboard_acks are deleted: a
// week, far beyond the longest any offboarding waits for a worker (it reads
// heartbeats within heartbeatHorizon only, and a worker is live for at most
// max(offboarding.live_within, its quiet_after_s), an hour or two). Without
// it both tables grow with every worker start: each start is a new worker
// id, with a heartbeat row and an acknowledgement of every tenant offboarded
// so far.
const pruneAfter = 7 * 24 * time.Hour

// prunePerPass bounds the workers whose acknowledgements one pass deletes,
// which go into the delete's predicate (and purge_log) by name; a backlog is
// worked off over the next passes.
const prunePerPass = 200

// pruneWorkers deletes the offboarding bookkeeping no offboarding can need:
// acknowledgements of workers without a heartbeat for pruneAfter, then
// heartbeats older than pruneAfter (a worker seen since keeps its newer
// ones). Each delete is a prune action in purge_log, counted just before.
//
// Acknowledgements of workers still running are kept, even of tenants whose
// offboarding finished: a worker acknowledges a tenant once, when it first
// refuses it, so deleting that row would leave a second offboarding of the
// tenant (which is idempotent, and may be run to verify again) waiting for an
// acknowledgement that never comes. They are bounded by the tenants times the
// workers of the last week, not by every worker ever started.
func (p *Purger) pruneWorkers(ctx context.Context, r *run) ([]Action, error) {
	first := len(r.pending)
	// ClickHouse's own clock, which wrote seen_at (not Config.ClickHouseNow,
	// which tests set to simulated dates).
	now, err := serverNow(ctx, p.cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("pruning offboarding bookkeeping: %w", err)
	}
	cutoff := dateTime(now.Add(-pruneAfter))
	heartbeats := table{name: schema.TableOffboardHeartbeats, database: p.cfg.Database}
	acks := table{name: schema.TableOffboardAcks, database: p.cfg.Database}

	var gone []string
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		gone = append(gone, quote(id))
		return nil
	}, fmt.Sprintf("SELECT DISTINCT worker_id FROM %s WHERE worker_id NOT IN "+
		"(SELECT worker_id FROM %s WHERE seen_at >= %s) ORDER BY worker_id LIMIT %d", acks.qualified(), heartbeats.qualified(), cutoff, prunePerPass)); err != nil {
		return nil, fmt.Errorf("pruning offboarding bookkeeping: finding workers gone for %s: %w", pruneAfter, err)
	}

	var errs []error
	for _, d := range []struct {
		t         table
		predicate string
	}{
		{acks, "worker_id IN (" + strings.Join(gone, ", ") + ")"},
		{heartbeats, "seen_at < " + cutoff},
	} {
		if d.t == acks && len(gone) == 0 {
			continue
		}
		n, err := p.count(ctx, d.t, d.predicate)
		if err == nil && n == 0 {
			continue
		}
		a, t0 := p.begin(r, ActionPrune, d.t.name, reasonOffboarding)
		a.Predicate, a.Rows = d.predicate, n
		if err == nil && !r.dryRun {
			err = p.mutateDelete(ctx, d.t, d.predicate)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("pruning %s: %w", d.t.name, err))
		}
	}
	actions := slices.Clone(r.pending[first:])
	return actions, errors.Join(errs...)
}

// quote writes s as a ClickHouse string literal (clickhousedb.Quote).
func quote(s string) string { return clickhousedb.Quote(s) }
