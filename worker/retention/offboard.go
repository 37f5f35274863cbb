package retention

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoShredder is returned by Offboard on a Purger built without a
// KeyShredder: an offboarding that cannot destroy the tenant's keys is refused
// before anything is deleted.
var ErrNoShredder = errors.New("retention: offboarding refused: no key shredder configured (Config.Shredder)")

// Offboard removes a tenant (a seller who left, P10), financial records
// included:
//
//  1. crypto-shredding first: the tenant's Vault keys are destroyed, so that
//     every ciphertext of the tenant, wherever a copy lives, becomes unreadable
//     at once (action shred_keys). If that fails, nothing is deleted and
//     Offboard returns the error: run it again.
//  2. ALTER TABLE ... DELETE WHERE tenant_id = '<tenant>' on order_facts,
//     order_line_facts, delivery_labels and financial_records, each counted
//     just before (action offboard_delete); then it waits for the mutations.
//  3. verification: the tenant's physical rows are counted in every table
//     (action verify, the remaining count as rows); any left make the outcome
//     failed and Offboard return an error.
//
// Every action is recorded in purge_log with the tenant id, as of asOf. It is
// idempotent: a second run destroys nothing more, deletes 0 rows and verifies
// again. Stop the tenant's ingest first: a later write for the tenant creates
// new keys and rows. The tenant id must be 1-64 characters of a-z, 0-9, '-'
// and '_'; an invalid one, or a Purger without a Shredder (ErrNoShredder), is
// refused before anything is done or recorded.
func (p *Purger) Offboard(ctx context.Context, tenant string, asOf time.Time) (OffboardReport, error) {
	if p.cfg.Shredder == nil {
		return OffboardReport{}, ErrNoShredder
	}
	if !tenantID.MatchString(tenant) {
		// Not quoted: it failed validation, so it may be anything.
		return OffboardReport{}, fmt.Errorf("retention: offboarding refused: tenant id of %d bytes is not 1-64 characters of a-z, 0-9, '-' and '_'", len(tenant))
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
			"remaining", report.Remaining(), "duration", report.Duration, "error", err)
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

	// 0. New orders of the tenant are refused from now on (workers reload the
	// list every 30 seconds; what arrives meanwhile the purge passes sweep).
	a, t0 := p.begin(r, ActionBlockIngest, "", reasonOffboarding)
	p.finish(r, &a, t0, p.recordOffboarded(ctx, r))
	if err := phase(a.Err); err != nil {
		return err
	}

	// 1. Crypto-shredding.
	a, t0 = p.begin(r, ActionShredKeys, "", reasonOffboarding)
	err := p.cfg.Shredder.DestroyTenantKeys(ctx, r.tenant)
	if err != nil {
		err = fmt.Errorf("destroying its keys (no rows were deleted): %w", err)
	}
	p.finish(r, &a, t0, err)
	if err := phase(err); err != nil {
		return err
	}

	// 2. Deletes: issue every table's mutation, then wait for them, so that
	// the tables are rewritten in parallel.
	predicate := "tenant_id = '" + r.tenant + "'"
	type deletion struct {
		t      table
		a      Action
		t0     time.Time
		err    error
		issued bool
	}
	deletions := make([]deletion, len(p.tables))
	for i, t := range p.tables {
		d := &deletions[i]
		d.t = t
		d.a, d.t0 = p.begin(r, ActionOffboardDelete, t.name, reasonOffboarding)
		d.a.Predicate = predicate
		d.a.Rows, d.err = p.count(ctx, t, predicate)
		if d.err == nil && d.a.Rows > 0 {
			if err := p.cfg.Conn.Exec(ctx, "ALTER TABLE "+t.qualified()+" DELETE WHERE "+predicate); err != nil {
				d.err = fmt.Errorf("deleting rows where %s: %w", predicate, err)
			}
			d.issued = d.err == nil
		}
	}
	var errs []error
	for i := range deletions {
		d := &deletions[i]
		if d.issued {
			d.err = p.waitMutations(ctx, d.t)
		}
		p.finish(r, &d.a, d.t0, d.err)
		if d.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.t.name, d.err))
			continue
		}
		p.m.rows.WithLabelValues(d.t.name, reasonOffboarding).Add(float64(d.a.Rows))
	}

	// 3. Verification, whatever the deletes did: the report says what is left.
	for _, t := range p.tables {
		a, t0 := p.begin(r, ActionVerify, t.name, reasonOffboarding)
		a.Predicate = predicate
		n, err := p.count(ctx, t, predicate)
		a.Rows = n
		if err == nil && n > 0 {
			err = fmt.Errorf("%d rows of the tenant remain in %s", n, t.name)
		}
		p.finish(r, &a, t0, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("verifying %s: %w", t.name, err))
		}
	}
	return phase(errors.Join(errs...))
}
