package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
)

// Purge runs one retention pass as of asOf over the tables of the declared
// retention classes (worker/config's classes.go; purge_log is never purged). For labels and facts it drops the partitions
// that can hold only expired rows and deletes the expired rows of the
// partition that straddles the cutoff; for financial records, per
// jurisdiction, it drops the partitions whose rows have all expired and
// deletes the expired rows of the others (purgeFinancial); it waits for each
// mutation. A dry run computes the same actions and row counts, records them
// with outcome dry_run and changes nothing.
//
// A pass that deletes refuses an asOf after Now (ErrFutureAsOf): expiry as of
// the future would delete data early. It then refuses an asOf more than
// ClockTolerance ahead of ClickHouse's clock too (ErrClockAhead: a failed
// pass, recorded as a check_clock action), so that a process whose clock runs
// ahead does not purge early. It takes Config.Lease, when there is one,
// before anything else; a pass that finds it held does nothing but record an
// acquire_lease action with outcome skipped (Report.Skipped), and returns no
// error.
//
// After the tables and the offboarded tenants' rows, a pass prunes the
// offboarding bookkeeping of workers gone for a week (pruneWorkers).
//
// Every action is appended to purge_log under one run id, failed ones with
// their error. A table's failure does not stop the others: Purge returns the
// joined errors at the end, with the report of everything tried. A pass with
// nothing to do does nothing and records nothing.
func (p *Purger) Purge(ctx context.Context, asOf time.Time, dryRun bool) (Report, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	start := time.Now()
	asOf = asOf.UTC()
	if now := p.cfg.Now(); !dryRun && asOf.After(now) {
		return Report{AsOf: asOf}, fmt.Errorf("%w: as of %s, now %s", ErrFutureAsOf,
			asOf.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	r := newRun(asOf, dryRun, "")
	report := Report{RunID: r.id, AsOf: asOf, DryRun: dryRun}

	var errs []error
	if !dryRun {
		if err := p.checkClock(ctx, r); err != nil {
			report.Actions = slices.Clone(r.pending)
			return report, p.endPass(&report, start, p.joinFlush(ctx, r, err))
		}
	}
	if !dryRun && p.cfg.Lease != nil {
		held, err := p.acquireLease(ctx, r)
		if !held {
			report.Actions = slices.Clone(r.pending)
			err = p.joinFlush(ctx, r, err)
			report.Skipped = err == nil
			return report, p.endPass(&report, start, err)
		}
		p.holding = p.cfg.Lease
		defer p.releaseLease(ctx)
	}
	for _, t := range p.tables {
		actions, err := p.purgeTable(ctx, r, t)
		err = p.joinFlush(ctx, r, err)
		report.Actions = append(report.Actions, actions...)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: purging %s: %w", t.name, err))
			continue
		}
		if !dryRun {
			p.m.lastSuccess.WithLabelValues(t.name).Set(unixSeconds(p.cfg.Now()))
		}
	}
	sweep, err := p.sweepOffboarded(ctx, r)
	err = p.joinFlush(ctx, r, err)
	report.Actions = append(report.Actions, sweep...)
	if err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	pruned, err := p.pruneWorkers(ctx, r)
	err = p.joinFlush(ctx, r, err)
	report.Actions = append(report.Actions, pruned...)
	if err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	if !dryRun {
		p.measureAges(ctx, asOf)
	}
	return report, p.endPass(&report, start, errors.Join(errs...))
}

// endPass counts and logs a finished pass, sets the last-run gauges, and
// returns err.
func (p *Purger) endPass(report *Report, start time.Time, err error) error {
	report.Duration = time.Since(start)
	outcome := runOK
	switch {
	case err != nil:
		outcome = runFailed
	case report.Skipped:
		outcome = runSkipped
	case report.DryRun:
		outcome = runDryRun
	}
	p.m.runs.WithLabelValues(outcome).Inc()
	p.m.duration.Observe(report.Duration.Seconds())
	switch {
	case report.Skipped:
		p.m.lastSkip.WithLabelValues().Set(unixSeconds(p.cfg.Now()))
	case !report.DryRun:
		p.m.passDone(p.tables, report.Actions, outcome, p.cfg.Now())
	}
	attrs := []any{"run_id", report.RunID, "as_of", report.AsOf, "dry_run", report.DryRun, "actions", len(report.Actions),
		"rows", report.Rows(), "partitions_dropped", report.PartitionsDropped(), "outcome", outcome,
		"duration", report.Duration}
	if err != nil {
		p.log.Error("retention pass failed", append(attrs, "err", err)...)
	} else {
		p.log.Info("retention pass", attrs...)
	}
	return err
}

// checkClock reads ClickHouse's clock and refuses (ErrClockAhead) an as-of
// instant more than ClockTolerance ahead of it; a refusal, or a failure to
// read the clock, is recorded as a failed check_clock action.
func (p *Purger) checkClock(ctx context.Context, r *run) error {
	server, err := p.cfg.ClickHouseNow(ctx)
	if err == nil && !r.asOf.After(server.Add(ClockTolerance)) {
		return nil
	}
	a, t0 := p.begin(r, ActionCheckClock, "", "retention")
	if err != nil {
		err = fmt.Errorf("retention: reading ClickHouse's clock to check the as-of instant against it (nothing was deleted): %w", err)
	} else {
		a.Predicate = "as_of <= ClickHouse now() + " + ClockTolerance.String()
		err = fmt.Errorf("%w (nothing was deleted): as of %s, by this process's clock now %s; ClickHouse's clock says %s, more than %s behind the as-of instant",
			ErrClockAhead, r.asOf.Format(time.RFC3339), p.cfg.Now().UTC().Format(time.RFC3339), server.UTC().Format(time.RFC3339), ClockTolerance)
	}
	p.finish(r, &a, t0, err)
	return err
}

// serverNow reads ClickHouse's clock.
func serverNow(ctx context.Context, conn driver.Conn) (time.Time, error) {
	var now time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("reading ClickHouse's clock: %w", err)
	}
	return now, nil
}

// acquireLease takes the pass's lease. When it is held elsewhere, or cannot
// be taken, it records an acquire_lease action (outcome skipped, or failed)
// and returns false.
func (p *Purger) acquireLease(ctx context.Context, r *run) (bool, error) {
	held, err := p.cfg.Lease.Acquire(ctx)
	if held && err == nil {
		return true, nil
	}
	a, t0 := p.begin(r, ActionAcquireLease, "", "retention")
	a.Predicate = fmt.Sprint(p.cfg.Lease)
	if err != nil {
		err = fmt.Errorf("retention: taking the purge lease (nothing was deleted): %w", err)
	} else {
		a.Outcome = OutcomeSkipped
		err = errLeaseHeld
	}
	p.finish(r, &a, t0, err)
	if a.Outcome == OutcomeSkipped {
		return false, nil
	}
	return false, err
}

// errLeaseHeld is the purge_log error of a skipped pass.
var errLeaseHeld = errors.New("another purge pass holds the lease: this one deleted nothing")

// releaseLease gives the pass's lease up, even when the pass was cancelled; a
// failure is logged (the lease expires by itself).
func (p *Purger) releaseLease(ctx context.Context) {
	p.holding = nil
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if err := p.cfg.Lease.Release(ctx); err != nil {
		p.log.Warn("retention: releasing the purge lease failed; it expires by itself", "err", err)
	}
}

// fence checks, before a destructive statement, that the pass still holds its
// lease (when it has one).
func (p *Purger) fence(ctx context.Context) error {
	if p.holding == nil {
		return nil
	}
	if err := p.holding.Fence(ctx); err != nil {
		return fmt.Errorf("not deleting without the purge lease: %w", err)
	}
	return nil
}

// purgeTable purges one table and returns its actions.
func (p *Purger) purgeTable(ctx context.Context, r *run, t table) ([]Action, error) {
	first := len(r.pending)
	actions := func() []Action { return slices.Clone(r.pending[first:]) }
	parts, err := p.tablePartitions(ctx, t)
	if err != nil {
		// The table-level failure is recorded as the delete it prevented.
		a, t0 := p.begin(r, ActionDelete, t.name, t.reason())
		a.Predicate = t.class.TimeColumn + " <= " + dateTime(purchaseCutoff(p.period(t, ""), r.asOf))
		if t.class.FinancialYear {
			a.Predicate, _ = p.financialPredicate(t, "", r.asOf)
		}
		p.finish(r, &a, t0, err)
		return actions(), err
	}
	var errs []error
	valid := parts[:0]
	for _, pt := range parts {
		if err := pt.parse(); err != nil {
			a, t0 := p.begin(r, ActionDropPartition, t.name, t.reason())
			a.Partition = pt.text
			p.finish(r, &a, t0, err)
			errs = append(errs, err)
			continue
		}
		valid = append(valid, pt)
	}
	slices.SortFunc(valid, func(a, b partition) int { return cmp.Compare(a.key, b.key) })
	purge := p.purgeByTime
	if t.class.FinancialYear {
		purge = p.purgeFinancial
	}
	if err := purge(ctx, r, t, valid); err != nil {
		errs = append(errs, err)
	}
	return actions(), errors.Join(errs...)
}

// tablePartitions lists the table's partitions, after checking that the table
// exists and is partitioned as the purger expects: system.parts shows a
// missing table as an empty one, and a purger pointed at the wrong database
// must not pass for one with nothing to do; a table of another partitioning
// (a schema older or newer than this binary) would have its partitions
// misread, and a month read as a day can be dropped early.
//
// In cluster mode the table that holds the rows is looked up, on the server
// Conn reaches (the migrations create it on every server at once).
func (p *Purger) tablePartitions(ctx context.Context, t table) ([]partition, error) {
	c := p.copiesOf(t)
	var n uint64
	var key string
	if err := p.cfg.Conn.QueryRow(ctx, "SELECT count(), any(partition_key) FROM system.tables WHERE database = ? AND name = ?",
		c.database, c.name).Scan(&n, &key); err != nil {
		return nil, fmt.Errorf("looking the table up: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("table %s does not exist", c.qualified())
	}
	if spaceless(key) != spaceless(t.partitionKey()) {
		return nil, fmt.Errorf("table %s is partitioned by %s, not by %s (%s) as this purger expects: the schema and this binary are of different versions (run orderflow migrate, or a purger of the schema's version)",
			c.qualified(), key, t.partitionKey(), t.key.Name)
	}
	return p.partitions(ctx, t)
}

// spaceless is s without spaces, which servers of different versions print
// differently in an expression.
func spaceless(s string) string { return strings.ReplaceAll(s, " ", "") }

// period is the retention of t's rows of jurisdiction j, as its class
// declares it: counted from their time column (for FinancialYear classes,
// from the end of their financial year: financialPredicate). There is no
// default: every table is a declared class's (classTables).
func (p *Purger) period(t table, j string) config.Period {
	return t.class.PeriodIn(p.cfg.Retention, j)
}

// purgeByTime drops the partitions that end at or before the cutoff
// (purchaseCutoff) and deletes the expired rows of the one that straddles
// it; parts are t's partitions, in key order. The table is partitioned by the
// time its period counts from (classTables checks it).
//
// With k the partition of the first instant after the cutoff, a partition
// whose key is below k holds only instants before that one, all expired;
// partition k is the only one that may hold both; later ones hold none
// expired. Time keys are monotonic in time, so this is exact whatever the
// server's time zone. The straddling partition's delete rewrites its parts
// that hold an expired row (ClickHouse, 18.16 included, hard-links the parts
// a mutation does not touch): a month of labels at most.
func (p *Purger) purgeByTime(ctx context.Context, r *run, t table, parts []partition) error {
	c := purchaseCutoff(p.period(t, ""), r.asOf)
	if c.Unix() < 0 {
		return nil // before any DateTime: nothing can have expired
	}
	k, err := p.keyAt(ctx, t.key, c.Add(time.Second))
	if err != nil {
		a, t0 := p.begin(r, ActionDelete, t.name, t.reason())
		a.Predicate = t.class.TimeColumn + " <= " + dateTime(c)
		p.finish(r, &a, t0, err)
		return err
	}
	var errs []error
	for _, pt := range parts {
		switch {
		case pt.key < k:
			if err := p.drop(ctx, r, t, pt, ""); err != nil {
				errs = append(errs, err)
			}
		case pt.key == k:
			scoped := fmt.Sprintf("%s = %d AND %s <= %s", t.partitionKey(), k, t.class.TimeColumn, dateTime(c))
			if err := p.deleteExpired(ctx, r, t, pt, scoped); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// drop drops a whole partition. why is the condition every row of it met,
// for purge_log ("" when its bounds say it). In cluster mode it is done once
// every replica has applied the drop and holds no row of the partition that
// meets why.
func (p *Purger) drop(ctx context.Context, r *run, t table, pt partition, why string) error {
	a, t0 := p.begin(r, ActionDropPartition, t.name, t.reason())
	a.Partition, a.Rows, a.Predicate = pt.text, pt.rows, why
	var err error
	if !r.dryRun {
		err = p.dropPartition(ctx, t, pt, why)
	}
	p.finish(r, &a, t0, err)
	if err == nil && !r.dryRun {
		p.m.rows.WithLabelValues(t.name, t.reason()).Add(float64(pt.rows))
		p.m.dropped.WithLabelValues(t.name).Inc()
	}
	return err
}

// deleteExpired deletes the rows that predicate (scoped to the straddling
// partition) matches, if any, and waits for the mutation.
func (p *Purger) deleteExpired(ctx context.Context, r *run, t table, pt partition, predicate string) error {
	a, t0 := p.begin(r, ActionDelete, t.name, t.reason())
	a.Partition, a.Predicate = pt.text, predicate
	n, err := p.count(ctx, t, predicate)
	if err == nil && n == 0 {
		return nil // nothing expired yet: no action
	}
	a.Rows = n
	if err == nil && !r.dryRun {
		err = p.mutateDelete(ctx, t, predicate)
	}
	p.finish(r, &a, t0, err)
	if err == nil && !r.dryRun {
		p.m.rows.WithLabelValues(t.name, t.reason()).Add(float64(n))
	}
	return err
}

// purgeFinancial purges a table of financial records; parts are its
// partitions, in key order. They are partitioned by financial year of the
// purchase, across jurisdictions, but expire by their last financial event,
// their jurisdiction's period and their tenant's financial year
// (expiredPredicate), so ClickHouse counts each partition's rows and expired
// rows: a partition whose rows have all expired is dropped, after a second
// count just before the drop (a record written into it since, a late
// snapshot with a new refund, turns the drop into a delete); one that holds
// both loses its expired rows through one delete scoped to it. What window
// remains between that count and the drop is said at dropExpired.
//
// A year is therefore deleted from once for each jurisdiction's period that
// ends before the year's last (GB's 6 years before DE's 10), each delete
// rewriting the year's parts, and then dropped: a few rewrites of a year of
// records a year, for one financial part per batch instead of one per
// marketplace and month.
func (p *Purger) purgeFinancial(ctx context.Context, r *run, t table, parts []partition) error {
	jurisdictions, err := p.jurisdictions(ctx, t)
	if err != nil {
		a, t0 := p.begin(r, ActionDelete, t.name, t.reason())
		p.finish(r, &a, t0, err)
		return err
	}
	expired, ok := p.expiredPredicate(t, jurisdictions, r.asOf)
	if !ok {
		return nil // no financial year of any jurisdiction stored has expired yet
	}
	counts, err := p.financialCounts(ctx, t, expired)
	if err != nil {
		a, t0 := p.begin(r, ActionDelete, t.name, t.reason())
		a.Predicate = expired
		p.finish(r, &a, t0, err)
		return err
	}
	var errs []error
	for _, pt := range parts {
		c := counts[pt.key]
		if c.expired == 0 {
			continue
		}
		inPartition := fmt.Sprintf("%s = %d", t.partitionKey(), pt.key)
		if c.expired == c.rows {
			err = p.dropExpired(ctx, r, t, pt, inPartition, expired)
		} else {
			err = p.deleteExpired(ctx, r, t, pt, inPartition+" AND "+expired)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// jurisdictions lists the jurisdictions of t's rows. A row of another
// jurisdiction written after the list is read matches no term of
// expiredPredicate, so it is kept: never purged early.
func (p *Purger) jurisdictions(ctx context.Context, t table) ([]string, error) {
	var out []string
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var j string
		err := rows.Scan(&j)
		out = append(out, j)
		return err
	}, "SELECT DISTINCT jurisdiction FROM "+t.qualified()+" ORDER BY jurisdiction"); err != nil {
		return nil, fmt.Errorf("listing the jurisdictions: %w", err)
	}
	return out, nil
}

// expiredPredicate is the SQL condition that a row of t (a table of a
// FinancialYear class) of one of the given jurisdictions has expired at
// asOf: one term per retention rule (a period, and where it counts from)
// that some of them share, scoped to those jurisdictions, each the rule's
// financialPredicate; false when no rule has a cutoff yet.
func (p *Purger) expiredPredicate(t table, jurisdictions []string, asOf time.Time) (string, bool) {
	type rule struct {
		period   config.Period
		calendar bool
	}
	var rules []rule
	byRule := map[rule][]string{}
	for _, j := range jurisdictions {
		ru := rule{p.period(t, j), t.class.FromCalendarYearEnd(j)}
		if _, ok := byRule[ru]; !ok {
			rules = append(rules, ru)
		}
		byRule[ru] = append(byRule[ru], j)
	}
	var terms []string
	for _, ru := range rules {
		js := byRule[ru]
		pred, ok := p.financialPredicate(t, js[0], asOf)
		if !ok {
			continue
		}
		quoted := make([]string, len(js))
		for i, j := range js {
			quoted[i] = stringLiteral(j)
		}
		scope := "jurisdiction = " + quoted[0]
		if len(js) > 1 {
			scope = "jurisdiction IN (" + strings.Join(quoted, ", ") + ")"
		}
		terms = append(terms, scope+" AND "+pred)
	}
	switch len(terms) {
	case 0:
		return "", false
	case 1:
		return terms[0], true
	}
	return "((" + strings.Join(terms, ") OR (") + "))", true
}

// partitionCount is a partition's physical rows and those expired.
type partitionCount struct{ rows, expired uint64 }

// financialCounts counts, per partition key, t's rows and those of them
// that expired matches.
func (p *Purger) financialCounts(ctx context.Context, t table, expired string) (map[uint32]partitionCount, error) {
	out := map[uint32]partitionCount{}
	if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
		var k uint32
		var c partitionCount
		if err := rows.Scan(&k, &c.rows, &c.expired); err != nil {
			return err
		}
		out[k] = c
		return nil
	}, "SELECT toUInt32("+t.partitionKey()+") AS k, count(), countIf("+expired+") FROM "+t.qualified()+" GROUP BY k"); err != nil {
		return nil, fmt.Errorf("counting expired rows: %w", err)
	}
	return out, nil
}

// dropExpired drops a partition whose rows all matched expired when
// counted, if they still all do just before the drop; otherwise it deletes
// those that do.
//
// A window remains, and nothing before the drop can close it: a record
// written into the partition after the recount, and before the DROP
// PARTITION runs (milliseconds; longer if the statement is delayed, or
// arrives late after the lease has ended, worker/lease), goes with the
// partition, whatever its last financial event. No check can see a row that
// is written after it (a max(written_at) bound on the recount sees only what
// the recount sees), and ClickHouse has no conditional drop; an ALTER DELETE
// would be exact, but it rewrites the partition: a year of records. Such a
// record would be a new snapshot of an order bought in a financial year
// whose records, of every jurisdiction stored, have all expired: at least
// the period plus a year ago (seven years and more). That is practically
// impossible: the marketplaces serve recent orders (Amazon's Orders API none
// more than two years old, but for JP, SG and AU back to 2016; eBay's
// getOrders the last 90 days unless filtered), and a refund years after the
// sale would have to be written in exactly that window.
func (p *Purger) dropExpired(ctx context.Context, r *run, t table, pt partition, inPartition, expired string) error {
	var n, e uint64
	err := p.cfg.Conn.QueryRow(ctx, "SELECT count(), countIf("+expired+") FROM "+t.qualified()+" WHERE "+inPartition).Scan(&n, &e)
	if err != nil {
		a, t0 := p.begin(r, ActionDropPartition, t.name, t.reason())
		a.Partition, a.Predicate = pt.text, expired
		err = fmt.Errorf("counting the rows of partition %s before dropping it: %w", pt.text, err)
		p.finish(r, &a, t0, err)
		return err
	}
	switch {
	case n == 0:
		return nil // emptied meanwhile
	case e < n:
		return p.deleteExpired(ctx, r, t, pt, inPartition+" AND "+expired)
	}
	pt.rows = n
	return p.drop(ctx, r, t, pt, expired)
}

func (p *Purger) dropPartition(ctx context.Context, t table, pt partition, why string) error {
	if err := p.fence(ctx); err != nil {
		return err
	}
	c := p.copiesOf(t)
	// A drop makes no mutation: the marks only prove every replica answers.
	marks, err := p.replicaMarks(ctx, c)
	if err == nil {
		err = p.cfg.Conn.Exec(ctx, c.alter+" DROP PARTITION ID '"+pt.id+"'")
	}
	if err != nil {
		return fmt.Errorf("dropping partition %s: %w", pt.text, err)
	}
	inPartition := fmt.Sprintf("%s = %d", t.partitionKey(), pt.key)
	if why != "" {
		inPartition += " AND " + why
	}
	err = p.awaitReplicas(ctx, c, marks, true)
	if err == nil {
		err = p.verifyDeleted(ctx, c, inPartition)
	}
	if err != nil {
		return fmt.Errorf("dropping partition %s: %w", pt.text, err)
	}
	return nil
}

// count counts t's physical rows (no FINAL: duplicates count, so that zero
// means none at all) matching predicate.
func (p *Purger) count(ctx context.Context, t table, predicate string) (uint64, error) {
	var n uint64
	if err := p.cfg.Conn.QueryRow(ctx, "SELECT count() FROM "+t.qualified()+" WHERE "+predicate).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting rows where %s: %w", predicate, err)
	}
	return n, nil
}

// mutateDelete runs ALTER TABLE ... DELETE and waits for the table's
// mutations to finish; in cluster mode, on every copy, each then holding no
// row predicate matches. ClickHouse 18.16 reports no failure reason
// for a mutation: a failing one shows as one that never finishes.
func (p *Purger) mutateDelete(ctx context.Context, t table, predicate string) error {
	if err := p.fence(ctx); err != nil {
		return err
	}
	c := p.copiesOf(t)
	marks, err := p.sendDelete(ctx, c, predicate)
	if err != nil {
		return err
	}
	if err := p.waitMutations(ctx, c, marks); err != nil {
		return err
	}
	return p.verifyDeleted(ctx, c, predicate)
}

// sendDelete sends the ALTER TABLE ... DELETE that reaches every copy, after
// reading the copies' marks (replicaMarks) for waitMutations.
func (p *Purger) sendDelete(ctx context.Context, c copies, predicate string) ([]string, error) {
	marks, err := p.replicaMarks(ctx, c)
	if err == nil {
		err = p.cfg.Conn.Exec(ctx, c.alter+" DELETE WHERE "+predicate)
	}
	if err != nil {
		return nil, fmt.Errorf("deleting rows where %s: %w", predicate, err)
	}
	return marks, nil
}

// waitMutations waits for the mutations of c's table: on the one server, or
// in cluster mode on every copy, for the one sent after marks were read.
func (p *Purger) waitMutations(ctx context.Context, c copies, marks []string) error {
	err := p.awaitReplicas(ctx, c, marks, false)
	if c.replicas == nil {
		err = clickhousedb.WaitForMutations(ctx, p.cfg.Conn, c.database, c.name, p.cfg.MutationTimeout)
	}
	if err != nil {
		return fmt.Errorf("waiting for the delete: %w", err)
	}
	return nil
}

// verifyDeleted checks, in cluster mode, that no copy holds a row predicate
// matches (leftOnReplicas).
func (p *Purger) verifyDeleted(ctx context.Context, c copies, predicate string) error {
	if c.replicas == nil {
		return nil
	}
	if _, err := p.leftOnReplicas(ctx, c, predicate); err != nil {
		return fmt.Errorf("verifying every replica after deleting rows where %s: %w", predicate, err)
	}
	return nil
}

// measureAges sets the oldest-row, future-dated and limit gauges after a
// pass. Ages count from purchased_at, and for financial records from
// last_financial_event_at, which their expiry counts from; a row dated after
// asOf makes an age negative rather than hiding behind 0, and is counted. A
// failure is logged: the pass itself is judged by its actions.
func (p *Purger) measureAges(ctx context.Context, asOf time.Time) {
	type stats struct {
		rows, future uint64
		oldest       time.Time
	}
	add := func(m map[string]*stats, k string, rows, future uint64, oldest time.Time) {
		s := m[k]
		if s == nil {
			s = &stats{oldest: oldest}
			m[k] = s
		}
		if oldest.Before(s.oldest) {
			s.oldest = oldest
		}
		s.rows += rows
		s.future += future
	}
	byClass := map[string]*stats{}
	fin := map[string]*stats{}
	at := dateTime(asOf)
	var errs []error
	for _, t := range p.tables {
		col := t.class.TimeColumn
		q := "SELECT " + selectJurisdiction(t) + " AS j, count(), min(" + col + "), countIf(" + col + " > " + at + ") FROM " + t.qualified()
		if t.class.ByJurisdiction() {
			q += " GROUP BY j"
		}
		if err := clickhousedb.EachRow(ctx, p.cfg.Conn, func(rows driver.Rows) error {
			var j string
			var n, future uint64
			var oldest time.Time
			if err := rows.Scan(&j, &n, &oldest, &future); err != nil {
				return err
			}
			if n == 0 {
				return nil // min() of nothing is 1970 on 18.16
			}
			add(byClass, t.reason(), n, future, oldest)
			if t.class.ByJurisdiction() {
				add(fin, jurisdictionLabel(j), n, future, oldest)
			}
			return nil
		}, q); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.log.Warn("retention: measuring the oldest rows failed", "err", err)
		return
	}
	age := func(s *stats) float64 {
		if s == nil {
			return 0
		}
		return asOf.Sub(s.oldest).Seconds()
	}
	for _, c := range p.classes {
		s := byClass[string(c.Name)]
		p.m.oldestAge.WithLabelValues(string(c.Name)).Set(age(s))
		future := 0.0
		if s != nil {
			future = float64(s.future)
		}
		p.m.futureRows.WithLabelValues(string(c.Name)).Set(future)
	}
	// Jurisdictions come and go (an offboarding removes the last records of
	// one): start afresh, keeping the configured limits.
	p.m.finAge.Reset()
	labels := slices.Sorted(maps.Keys(fin))
	for _, label := range labels {
		p.m.finAge.WithLabelValues(label).Set(age(fin[label]))
	}
	p.setLimits(labels)
}

// selectJurisdiction is the jurisdiction column of t, or ” for tables
// without one.
func selectJurisdiction(t table) string {
	if t.class.ByJurisdiction() {
		return "jurisdiction"
	}
	return "''"
}

// setLimits sets the limit gauges: each class's, and each jurisdiction's of
// the classes whose period is by jurisdiction (financial records), of those
// configured and of the given jurisdiction labels.
func (p *Purger) setLimits(labels []string) {
	r := p.cfg.Retention
	p.m.finLimit.Reset()
	for _, c := range p.classes {
		p.m.limit.WithLabelValues(string(c.Name)).Set(p.limit(c, "").Seconds())
		if !c.ByJurisdiction() {
			continue
		}
		for j := range c.Jurisdictions(r) {
			p.m.finLimit.WithLabelValues(j).Set(p.limit(c, j).Seconds())
		}
		for _, label := range labels {
			j := label
			if !order.ValidCountryCode(label) {
				j = "" // unknown, other: the platform's rules
			}
			p.m.finLimit.WithLabelValues(label).Set(p.limit(c, j).Seconds())
		}
	}
}

// limit is the longest a row of class c and jurisdiction j may be kept after
// its time column while purges run: the period, and for FinancialYear
// classes the time to the year's end too (financialLimit).
func (p *Purger) limit(c config.RetentionClass, j string) time.Duration {
	if c.FinancialYear {
		return financialLimit(c, p.cfg.Retention, j)
	}
	return c.PeriodIn(p.cfg.Retention, j).Approx()
}

// jurisdictionLabel bounds the jurisdiction label's values.
func jurisdictionLabel(j string) string {
	switch {
	case j == "":
		return jurisdictionUnknown
	case order.ValidCountryCode(j):
		return j
	default:
		return jurisdictionOther
	}
}
