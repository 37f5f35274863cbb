package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/backoff"
	"github.com/orderflow/orderflow/worker/order"
)

// ErrNoShredder is returned by Offboard on a Purger built without a
// KeyShredder: an offboarding that cannot destroy the tenant's keys is refused
// before anything is deleted.
var ErrNoShredder = errors.New("retention: offboarding refused: no key shredder configured (Config.Shredder)")

// ErrNotAcknowledged is matched by Offboard's error when some live worker did
// not acknowledge the tenant within the wait: nothing was destroyed or
// deleted, and the offboarding can simply be run again.
var ErrNotAcknowledged = errors.New("not every live worker acknowledged the offboarding")

// OffboardConfig tunes Offboard's wait between blocking a tenant and
// destroying its keys. New fills the defaults.
type OffboardConfig struct {
	// AckTimeout bounds the wait for every live worker's acknowledgement
	// (offboarding.ack_timeout). Default 5m.
	AckTimeout time.Duration
	// LiveWithin: a worker whose last heartbeat is at most this old, by
	// ClickHouse's clock, is live and waited for (offboarding.live_within).
	// A worker's own quiet_after_s, when longer, wins. Default 90s.
	LiveWithin time.Duration
	// Poll is the time between looks at the acknowledgements. Default 500ms.
	Poll time.Duration
	// Progress is how often the wait logs whom it waits for. Default 10s.
	Progress time.Duration
}

func (c *OffboardConfig) setDefaults() {
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Minute
	}
	if c.LiveWithin == 0 {
		c.LiveWithin = 90 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = 500 * time.Millisecond
	}
	if c.Progress == 0 {
		c.Progress = 10 * time.Second
	}
}

func (c OffboardConfig) validate() []error {
	if c.AckTimeout < 0 || c.LiveWithin < 0 || c.Poll < 0 || c.Progress < 0 {
		return []error{errors.New("offboarding.ack_timeout and offboarding.live_within must be positive")}
	}
	return nil
}

// Offboard removes a tenant (a seller who left, P10), financial records
// included, in two phases so that no worker can still be using or
// re-creating the tenant's keys when they are destroyed:
//
//  1. block_ingest: the tenant is recorded in offboarded_tenants. Each
//     worker's Blocklist refuses the tenant from its next reload, and once
//     nothing it admitted before is left, acknowledges it (offboard_acks).
//  2. await_acks: Offboard waits, up to AckTimeout, until every live worker
//     (a heartbeat within LiveWithin, or the worker's own quiet_after_s, and
//     not signed off) has acknowledged the tenant. A worker whose heartbeat is
//     older refuses every tenant's Vault calls (its list is stale), so it is
//     not waited for. If some never acknowledge, Offboard stops here with
//     ErrNotAcknowledged, having destroyed and deleted nothing: run it again.
//  3. shred_keys: the tenant's Vault keys are destroyed, so that every
//     ciphertext of the tenant, wherever a copy lives (DLQ payloads included),
//     becomes unreadable at once. If that fails, nothing is deleted.
//  4. ALTER TABLE ... DELETE WHERE tenant_id = '<tenant>' on order_facts,
//     order_line_facts, delivery_labels and financial_records, each counted
//     just before (offboard_delete); then it waits for the mutations (in
//     cluster mode on every shard and replica: cluster.go). Every
//     worker's writes that could hold the tenant ended before its
//     acknowledgement (Blocklist.Hold), so none lands after the deletes.
//  5. verification (verify): the tenant's physical rows are counted in every
//     table (in cluster mode on every replica's own table, a replica that
//     holds some or cannot be asked failing the verify), and its two keys
//     are read back from Vault (table "vault", the keys still present as
//     rows); anything left makes the outcome failed and Offboard return an
//     error.
//
// Every action is recorded in purge_log with the tenant id, as of asOf. It is
// idempotent: a second run waits for the acknowledgements again (given at
// once), destroys nothing more, deletes 0 rows and verifies again. The tenant
// id must be one (order.ValidTenantID); an invalid one, or a Purger without a
// Shredder (ErrNoShredder), is refused before anything is done or recorded.
func (p *Purger) Offboard(ctx context.Context, tenant string, asOf time.Time) (OffboardReport, error) {
	if p.cfg.Shredder == nil {
		return OffboardReport{}, ErrNoShredder
	}
	if err := order.CheckTenantID(tenant); err != nil {
		// Not quoted: it failed validation, so it may be anything.
		return OffboardReport{}, fmt.Errorf("retention: offboarding refused: %w (%d bytes)", err, len(tenant))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	asOf = asOf.UTC()
	r := newRun(asOf, false, tenant)
	report := OffboardReport{RunID: r.id, Tenant: tenant, AsOf: asOf}

	err := p.offboard(ctx, r, &report)
	report.Duration = time.Since(start)
	outcome := runOK
	if err != nil {
		outcome = runFailed
		err = fmt.Errorf("retention: offboarding tenant %s: %w", tenant, err)
		p.log.Error("offboarding failed", "run_id", r.id, "tenant", tenant, "deleted", report.Deleted(),
			"remaining", report.Remaining(), "duration", report.Duration, "err", err)
	} else {
		p.log.Info("offboarded", "run_id", r.id, "tenant", tenant, "deleted", report.Deleted(),
			"remaining", report.Remaining(), "duration", report.Duration)
	}
	p.m.offboards.WithLabelValues(outcome).Inc()
	p.m.offboarded(p.tables, report, outcome, p.cfg.Now())
	return report, err
}

func (p *Purger) offboard(ctx context.Context, r *run, report *OffboardReport) error {
	// phase records the actions so far in the report and in purge_log.
	phase := func(err error) error {
		actions := append([]Action(nil), r.pending...)
		err = p.joinFlush(ctx, r, err)
		report.Actions = append(report.Actions, actions...)
		return err
	}

	// 1. New orders of the tenant are refused from each worker's next reload.
	a, t0 := p.begin(r, ActionBlockIngest, "", reasonOffboarding)
	p.finish(r, &a, t0, p.recordOffboarded(ctx, r))
	if err := phase(a.Err); err != nil {
		return err
	}

	// 2. Every live worker refuses the tenant and has nothing of it in flight.
	a, t0 = p.begin(r, ActionAwaitAcks, "", reasonOffboarding)
	acked, err := p.awaitAcks(ctx, r.tenant)
	a.Rows = uint64(acked)
	if err != nil {
		err = fmt.Errorf("waiting for the workers (nothing was destroyed or deleted; run it again): %w", err)
	}
	p.finish(r, &a, t0, err)
	if err := phase(err); err != nil {
		return err
	}

	// 3. Crypto-shredding.
	a, t0 = p.begin(r, ActionShredKeys, "", reasonOffboarding)
	err = p.cfg.Shredder.DestroyTenantKeys(ctx, r.tenant)
	if err != nil {
		err = fmt.Errorf("destroying its keys (no rows were deleted): %w", err)
	}
	p.finish(r, &a, t0, err)
	if err := phase(err); err != nil {
		return err
	}

	// 4. Deletes: issue every table's mutation, then wait for them, so that
	// the tables are rewritten in parallel.
	predicate := "tenant_id = '" + r.tenant + "'"
	type deletion struct {
		t      table
		a      Action
		t0     time.Time
		err    error
		issued bool
		marks  []string
	}
	deletions := make([]deletion, len(p.tables))
	for i, t := range p.tables {
		d := &deletions[i]
		d.t = t
		d.a, d.t0 = p.begin(r, ActionOffboardDelete, t.name, reasonOffboarding)
		d.a.Predicate = predicate
		d.a.Rows, d.err = p.count(ctx, t, predicate)
		if d.err == nil && d.a.Rows > 0 {
			d.marks, d.err = p.sendDelete(ctx, p.copiesOf(t), predicate)
			d.issued = d.err == nil
		}
	}
	var errs []error
	for i := range deletions {
		d := &deletions[i]
		if d.issued {
			d.err = p.waitMutations(ctx, p.copiesOf(d.t), d.marks)
		}
		p.finish(r, &d.a, d.t0, d.err)
		if d.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.t.name, d.err))
			continue
		}
		p.m.rows.WithLabelValues(d.t.name, reasonOffboarding).Add(float64(d.a.Rows))
	}

	// 5. Verification, whatever the deletes did: the report says what is left,
	// in every table (in cluster mode, on every replica) and in Vault.
	for _, t := range p.tables {
		a, t0 := p.begin(r, ActionVerify, t.name, reasonOffboarding)
		a.Predicate = predicate
		n, err := p.remaining(ctx, t, predicate)
		a.Rows = n
		if err == nil && n > 0 {
			err = fmt.Errorf("%d rows of the tenant remain in %s", n, t.name)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("verifying %s: %w", t.name, err))
		}
	}
	a, t0 = p.begin(r, ActionVerify, VerifyVault, reasonOffboarding)
	a.Predicate = "the tenant's transit keys read back"
	present, err := p.cfg.Shredder.TenantKeysPresent(ctx, r.tenant)
	a.Rows = uint64(len(present))
	if err == nil && len(present) > 0 {
		err = fmt.Errorf("vault still holds the tenant's keys %s", strings.Join(present, ", "))
	}
	p.finish(r, &a, t0, err)
	if err != nil {
		errs = append(errs, fmt.Errorf("verifying vault: %w", err))
	}
	return phase(errors.Join(errs...))
}

// remaining counts t's rows that predicate matches: in cluster mode on every
// replica's own table (leftOnReplicas), any replica holding some or not
// answering being an error that names it.
func (p *Purger) remaining(ctx context.Context, t table, predicate string) (uint64, error) {
	c := p.copiesOf(t)
	if c.replicas == nil {
		return p.count(ctx, t, predicate)
	}
	n, err := p.leftOnReplicas(ctx, c, predicate)
	if err != nil {
		err = fmt.Errorf("%d rows of the tenant remain in %s, or could not be counted: %w", n, t.name, err)
	}
	return n, err
}

// VerifyVault is the Table of the verify action that reads the tenant's keys
// back from Vault; its Rows are the keys still present.
const VerifyVault = "vault"

// awaitAcks waits until every live worker has acknowledged the tenant and
// returns how many live workers did. It logs whom it waits for every
// Progress, and gives up after AckTimeout (ErrNotAcknowledged, naming the
// workers) or when ctx ends.
func (p *Purger) awaitAcks(ctx context.Context, tenant string) (int, error) {
	cfg := p.cfg.Offboarding
	start := time.Now()
	deadline := start.Add(cfg.AckTimeout)
	lastLog := start
	for {
		workers, now, err := p.workers(ctx, tenant)
		var pending []string
		acked := 0
		for _, w := range workers {
			switch {
			case !w.live(now, cfg.LiveWithin):
			case w.acked:
				acked++
			default:
				pending = append(pending, w.id)
			}
		}
		if err == nil && len(pending) == 0 {
			p.log.Info("every live worker acknowledged the offboarding", "tenant", tenant, "workers", acked,
				"waited", time.Since(start).Round(time.Millisecond))
			return acked, nil
		}
		if time.Since(lastLog) >= cfg.Progress {
			lastLog = time.Now()
			attrs := []any{"tenant", tenant, "acknowledged", acked, "pending", pending, "waited", time.Since(start).Round(time.Second),
				"timeout", cfg.AckTimeout}
			if err != nil {
				attrs = append(attrs, "err", err)
			}
			p.log.Info("waiting for workers to acknowledge the offboarding", attrs...)
		}
		if !time.Now().Before(deadline) {
			if err != nil {
				return acked, fmt.Errorf("%w within %s: %w", ErrNotAcknowledged, cfg.AckTimeout, err)
			}
			slices.Sort(pending)
			return acked, fmt.Errorf("%w within %s: %d live workers did not: %s (each acknowledges within a reload once nothing it admitted before is in flight; look at their logs)",
				ErrNotAcknowledged, cfg.AckTimeout, len(pending), strings.Join(pending, ", "))
		}
		if err := backoff.Sleep(ctx, min(cfg.Poll, time.Until(deadline))); err != nil {
			return acked, err
		}
	}
}
