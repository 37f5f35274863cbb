package retention

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/config"
)

// Purge runs one retention pass as of asOf over the four data tables
// (purge_log is never purged). For each table, and for financial records each
// jurisdiction, it drops the partitions that can hold only expired rows and
// deletes the expired rows of the partition that straddles the cutoff, then
// waits for that mutation. A dry run computes the same actions and row counts,
// records them with outcome dry_run and changes nothing.
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
	r := newRun(asOf, dryRun, "")
	report := Report{RunID: r.id, AsOf: asOf, DryRun: dryRun}

	var errs []error
	for _, t := range p.tables {
		actions, err := p.purgeTable(ctx, r, t)
		err = p.joinFlush(ctx, r, err)
		report.Actions = append(report.Actions, actions...)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention: purging %s: %w", t.name, err))
			continue
		}
		if !dryRun {
			p.m.lastSuccess.WithLabelValues(t.name).Set(float64(p.cfg.Now().UnixMilli()) / 1e3)
		}
	}
	sweep, err := p.sweepOffboarded(ctx, r)
	err = p.joinFlush(ctx, r, err)
	report.Actions = append(report.Actions, sweep...)
	if err != nil {
		errs = append(errs, fmt.Errorf("retention: %w", err))
	}
	if !dryRun {
		p.measureAges(ctx, asOf)
	}

	report.Duration = time.Since(start)
	err = errors.Join(errs...)
	outcome := runOK
	switch {
	case err != nil:
		outcome = runFailed
	case dryRun:
		outcome = runDryRun
	}
	p.m.runs.WithLabelValues(outcome).Inc()
	p.m.duration.Observe(report.Duration.Seconds())
	attrs := []any{"run_id", r.id, "as_of", asOf, "dry_run", dryRun, "actions", len(report.Actions),
		"rows", report.Rows(), "partitions_dropped", report.PartitionsDropped(), "outcome", outcome,
		"duration", report.Duration}
	if err != nil {
		p.log.Error("retention pass failed", append(attrs, "error", err)...)
	} else {
		p.log.Info("retention pass", attrs...)
	}
	return report, err
}

// group is the partitions of a table that share a retention period: all of
// them, or for financial records those of one jurisdiction.
type group struct {
	jurisdiction string
	partitions   []partition
}

// purgeTable purges one table and returns its actions.
func (p *Purger) purgeTable(ctx context.Context, r *run, t table) ([]Action, error) {
	first := len(r.pending)
	actions := func() []Action { return slices.Clone(r.pending[first:]) }
	parts, err := p.tablePartitions(ctx, t)
	if err != nil {
		// The table-level failure is recorded as the delete it prevented.
		a, t0 := p.begin(r, ActionDelete, t.name, string(t.class))
		a.Predicate = "purchased_at <= " + dateTime(cutoff(p.period(t, ""), r.asOf))
		p.finish(r, &a, t0, err)
		return actions(), err
	}
	var errs []error
	var groups []group
	for _, pt := range parts {
		if err := pt.parse(t.byJurisdiction); err != nil {
			a, t0 := p.begin(r, ActionDropPartition, t.name, string(t.class))
			a.Partition = pt.text
			p.finish(r, &a, t0, err)
			errs = append(errs, err)
			continue
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.jurisdiction == pt.jurisdiction })
		if i < 0 {
			groups = append(groups, group{jurisdiction: pt.jurisdiction})
			i = len(groups) - 1
		}
		groups[i].partitions = append(groups[i].partitions, pt)
	}
	slices.SortFunc(groups, func(a, b group) int { return cmp.Compare(a.jurisdiction, b.jurisdiction) })
	for _, g := range groups {
		if err := p.purgeGroup(ctx, r, t, g); err != nil {
			errs = append(errs, err)
		}
	}
	return actions(), errors.Join(errs...)
}

// tablePartitions lists the table's partitions, after checking that the table
// exists: system.parts shows a missing table as an empty one, and a purger
// pointed at the wrong database must not pass for one with nothing to do.
func (p *Purger) tablePartitions(ctx context.Context, t table) ([]partition, error) {
	var n uint64
	if err := p.cfg.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?",
		t.database, t.name).Scan(&n); err != nil {
		return nil, fmt.Errorf("looking the table up: %w", err)
	}
	if n == 0 {
		return nil, fmt.Errorf("table %s does not exist", t.qualified())
	}
	return p.partitions(ctx, t)
}

// period is the retention of t's rows (of jurisdiction j, for financial
// records).
func (p *Purger) period(t table, j string) config.Period {
	switch t.class {
	case ClassLabel:
		return p.cfg.Retention.Label
	case ClassFinancial:
		return p.cfg.Retention.FinancialFor(j)
	default:
		return p.cfg.Retention.Analytics
	}
}

// cutoff is the latest purchased_at that has expired at asOf: rows at or
// before it go. DateTime holds whole seconds, so flooring loses nothing.
func cutoff(period config.Period, asOf time.Time) time.Time {
	return period.Before(asOf.UTC()).Truncate(time.Second)
}

// purgeGroup drops the group's partitions that end at or before the cutoff
// and deletes the expired rows of the one that straddles it.
//
// With k the partition of the first instant after the cutoff, a partition
// whose key is below k holds only instants before that one, all expired;
// partition k is the only one that may hold both; later ones hold none
// expired. Partition functions are monotonic in time, so this is exact
// whatever the server's time zone.
func (p *Purger) purgeGroup(ctx context.Context, r *run, t table, g group) error {
	c := cutoff(p.period(t, g.jurisdiction), r.asOf)
	scope := ""
	if t.byJurisdiction {
		scope = "jurisdiction = " + stringLiteral(g.jurisdiction) + " AND "
	}
	predicate := scope + "purchased_at <= " + dateTime(c)
	if c.Unix() < 0 {
		return nil // before any DateTime: nothing can have expired
	}
	k, err := p.keyAt(ctx, t.partitionFn, c.Add(time.Second))
	if err != nil {
		a, t0 := p.begin(r, ActionDelete, t.name, string(t.class))
		a.Predicate = predicate
		p.finish(r, &a, t0, err)
		return err
	}
	slices.SortFunc(g.partitions, func(a, b partition) int { return cmp.Compare(a.key, b.key) })
	var errs []error
	for _, pt := range g.partitions {
		switch {
		case pt.key < k:
			if err := p.drop(ctx, r, t, pt); err != nil {
				errs = append(errs, err)
			}
		case pt.key == k:
			scoped := fmt.Sprintf("%s%s(purchased_at) = %d AND purchased_at <= %s", scope, t.partitionFn, k, dateTime(c))
			if err := p.deleteExpired(ctx, r, t, pt, scoped); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// drop drops a whole partition.
func (p *Purger) drop(ctx context.Context, r *run, t table, pt partition) error {
	a, t0 := p.begin(r, ActionDropPartition, t.name, string(t.class))
	a.Partition, a.Rows = pt.text, pt.rows
	var err error
	if !r.dryRun {
		err = p.cfg.Conn.Exec(ctx, "ALTER TABLE "+t.qualified()+" DROP PARTITION ID '"+pt.id+"'")
		if err != nil {
			err = fmt.Errorf("dropping partition %s: %w", pt.text, err)
		}
	}
	p.finish(r, &a, t0, err)
	if err == nil && !r.dryRun {
		p.m.rows.WithLabelValues(t.name, string(t.class)).Add(float64(pt.rows))
		p.m.dropped.WithLabelValues(t.name).Inc()
	}
	return err
}

// deleteExpired deletes the rows that predicate (scoped to the straddling
// partition) matches, if any, and waits for the mutation.
func (p *Purger) deleteExpired(ctx context.Context, r *run, t table, pt partition, predicate string) error {
	a, t0 := p.begin(r, ActionDelete, t.name, string(t.class))
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
		p.m.rows.WithLabelValues(t.name, string(t.class)).Add(float64(n))
	}
	return err
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
// mutations to finish. ClickHouse 18.16 reports no failure reason for a
// mutation: a failing one shows as one that never finishes.
func (p *Purger) mutateDelete(ctx context.Context, t table, predicate string) error {
	if err := p.cfg.Conn.Exec(ctx, "ALTER TABLE "+t.qualified()+" DELETE WHERE "+predicate); err != nil {
		return fmt.Errorf("deleting rows where %s: %w", predicate, err)
	}
	return p.waitMutations(ctx, t)
}

func (p *Purger) waitMutations(ctx context.Context, t table) error {
	if err := clickhousedb.WaitForMutations(ctx, p.cfg.Conn, t.database, t.name, p.cfg.MutationTimeout); err != nil {
		return fmt.Errorf("waiting for the delete: %w", err)
	}
	return nil
}

// measureAges sets the oldest-row gauges after a pass. A failure is logged:
// the pass itself is judged by its actions.
func (p *Purger) measureAges(ctx context.Context, asOf time.Time) {
	age := func(oldest time.Time, rows uint64) float64 {
		if rows == 0 || !oldest.Before(asOf) {
			return 0
		}
		return asOf.Sub(oldest).Seconds()
	}
	classOldest := map[Class]time.Time{}
	classRows := map[Class]uint64{}
	finOldest := map[string]time.Time{}
	finRows := map[string]uint64{}
	var errs []error
	for _, t := range p.tables {
		q := "SELECT '' AS j, count(), min(purchased_at) FROM " + t.qualified()
		if t.byJurisdiction {
			q = "SELECT jurisdiction AS j, count(), min(purchased_at) FROM " + t.qualified() + " GROUP BY j"
		}
		rows, err := p.cfg.Conn.Query(ctx, q)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
			continue
		}
		for rows.Next() {
			var j string
			var n uint64
			var oldest time.Time
			if err := rows.Scan(&j, &n, &oldest); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
				break
			}
			if n == 0 {
				continue
			}
			if o, ok := classOldest[t.class]; !ok || oldest.Before(o) {
				classOldest[t.class] = oldest
			}
			classRows[t.class] += n
			if t.byJurisdiction {
				label := jurisdictionLabel(j)
				if o, ok := finOldest[label]; !ok || oldest.Before(o) {
					finOldest[label] = oldest
				}
				finRows[label] += n
			}
		}
		if err := rows.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
		}
		rows.Close()
	}
	if err := errors.Join(errs...); err != nil {
		p.log.Warn("retention: measuring the oldest rows failed", "error", err)
		return
	}
	for _, c := range []Class{ClassLabel, ClassFinancial, ClassAnalytics} {
		p.m.oldestAge.WithLabelValues(string(c)).Set(age(classOldest[c], classRows[c]))
	}
	// Jurisdictions come and go (an offboarding removes the last records of
	// one): start afresh, keeping the configured limits.
	p.m.finAge.Reset()
	p.m.finLimit.Reset()
	for j, period := range p.cfg.Retention.FinancialByJurisdiction {
		p.m.finLimit.WithLabelValues(j).Set(period.Approx().Seconds())
	}
	for _, label := range slices.Sorted(maps.Keys(finOldest)) {
		p.m.finAge.WithLabelValues(label).Set(age(finOldest[label], finRows[label]))
		p.m.finLimit.WithLabelValues(label).Set(p.cfg.Retention.FinancialFor(label).Approx().Seconds())
	}
}

// jurisdictionLabel bounds the jurisdiction label's values.
func jurisdictionLabel(j string) string {
	switch {
	case j == "":
		return jurisdictionUnknown
	case jurisdictionCode.MatchString(j):
		return j
	default:
		return jurisdictionOther
	}
}
