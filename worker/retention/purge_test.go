package retention_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The cutoffs the tests' passes meet, around which sevenYears puts orders.
var (
	labelAt22d     = today.Add(22*day).AddDate(0, 0, -21) // label, as of today+22d
	analyticsAt22d = today.Add(22*day).AddDate(-2, 0, 0)  // analytics (2y), as of today+22d
)

// The financial years whose records the tests' passes meet expiring: records
// whose last financial event is before one of these instants (the end of a
// financial year at UTC+14: 14 hours before midnight UTC) have expired, and
// the others have not. retentionFor's first tenant's year ends on 31 March,
// the second's on 31 December; GB and records of no jurisdiction keep 6
// years from the year's end (at UTC-12), DE 10 years from the end of the
// calendar year the year ends in.
var (
	// As of today+22d (2026-12-20): the years ending 31 March 2020 and 31
	// December 2019 expired 6 years later, at noon UTC; a year later has not.
	// (DE: nothing in the data set.)
	fyGB22d, fyGBDec22d = lastEvents(utc(2020, 4, 1)), lastEvents(utc(2020, 1, 1))
	// As of today+6y (2032-11-28).
	fyGB6y, fyGBDec6y = lastEvents(utc(2026, 4, 1)), lastEvents(utc(2026, 1, 1))
	// DE: the year ending 31 March 2021 is counted from 1 January 2022,
	// +10y = 2032; the year ending 31 December 2021 from the same day.
	fyDE6y, fyDEDec6y = lastEvents(utc(2021, 4, 1)), lastEvents(utc(2022, 1, 1))
)

// lastEvents is where the events of the financial year that ends at the
// given midnight UTC end: 14 hours earlier, when the year ends at UTC+14.
func lastEvents(yearEnd time.Time) time.Time { return yearEnd.Add(-zoneAhead) }

func utc(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func sevenYearSet(tenants [2]string) []order {
	return append(sevenYears(tenants, 9*day+7*time.Hour+13*time.Minute, labelAt22d, analyticsAt22d),
		eventsAround(tenants, fyGB22d, fyGBDec22d, fyGB6y, fyGBDec6y, fyDE6y, fyDEDec6y)...)
}

// checkPass checks a pass against the model: the report's drops and deletes,
// the tables' counts, purge_log and the counters (given their values before).
func checkPass(t *testing.T, f *fixture, rep retention.Report, r config.Retention, asOf time.Time, before map[string]float64) {
	t.Helper()
	wantDrops, wantDeletes := f.model.purge(r, asOf)
	gotDrops, gotDeletes := reportSteps(rep)
	if diff := cmp.Diff(wantDrops, gotDrops, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantDeletes, gotDeletes, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("rows per table/tenant after the pass (-want +got):\n%s", diff)
	}
	for _, a := range rep.Actions {
		if a.Outcome != retention.OutcomeOK || a.Err != nil {
			t.Errorf("action %+v: want outcome ok", a)
		}
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	if len(log) != len(rep.Actions) {
		t.Errorf("purge_log holds %d rows for the run, want one per action (%d)", len(log), len(rep.Actions))
	}
	var logged uint64
	for _, l := range log {
		logged += l.Rows
		if l.Outcome != "ok" || l.Error != "" || l.Reason != string(classOf(l.Table)) {
			t.Errorf("purge_log row %+v: want outcome ok, reason %s", l, classOf(l.Table))
		}
	}
	if want := sumRows(wantDrops, "") + sumRows(wantDeletes, ""); logged != want || rep.Rows() != want {
		t.Errorf("rows: purge_log %d, report %d; want %d", logged, rep.Rows(), want)
	}
	for _, table := range tables {
		reason := string(classOf(table))
		got := telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total", "table="+table, "reason="+reason) - before["rows/"+table]
		if want := float64(sumRows(wantDrops, table) + sumRows(wantDeletes, table)); got != want {
			t.Errorf("orderflow_purge_rows_total{table=%s,reason=%s} grew by %v, want %v", table, reason, got, want)
		}
		dropped := 0
		for _, d := range wantDrops {
			if d.table == table {
				dropped++
			}
		}
		got = telemetrytest.Sum(t, f.reg, "orderflow_purge_partitions_dropped_total", "table="+table) - before["dropped/"+table]
		if got != float64(dropped) {
			t.Errorf("orderflow_purge_partitions_dropped_total{table=%s} grew by %v, want %d", table, got, dropped)
		}
		if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_last_success_timestamp_seconds", "table="+table); got != float64(f.now().Unix()) {
			t.Errorf("last success of %s = %v, want %v", table, got, f.now().Unix())
		}
	}
	for _, c := range []config.Class{config.ClassLabel, config.ClassFinancial, config.ClassAnalytics} {
		want := 0.0
		if oldest, ok := f.model.oldest(c); ok {
			want = asOf.Sub(oldest).Seconds()
		}
		if got := telemetrytest.Sum(t, f.reg, "orderflow_retention_oldest_row_age_seconds", "class="+string(c)); got != want {
			t.Errorf("oldest %s row age = %v, want %v", c, got, want)
		}
	}
}

// counters reads the counters checkPass compares.
func counters(t *testing.T, f *fixture) map[string]float64 {
	out := map[string]float64{}
	for _, table := range tables {
		out["rows/"+table] = telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total", "table="+table, "reason="+string(classOf(table)))
		out["dropped/"+table] = telemetrytest.Sum(t, f.reg, "orderflow_purge_partitions_dropped_total", "table="+table)
	}
	return out
}

// checkNoOp runs the pass again and checks that it does nothing.
func checkNoOp(t *testing.T, f *fixture, p *retention.Purger, asOf time.Time) {
	t.Helper()
	before := tableCounts(t, f.conn, f.cfg)
	runs := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=ok")
	rep, err := p.Purge(context.Background(), asOf, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Actions) != 0 || rep.Rows() != 0 || rep.PartitionsDropped() != 0 {
		t.Errorf("re-run did %d actions, %d rows, %d drops; want none: %+v", len(rep.Actions), rep.Rows(), rep.PartitionsDropped(), rep.Actions)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("re-run changed the tables (-before +after):\n%s", diff)
	}
	if n := len(purgeLog(t, f.conn, f.cfg, rep.RunID)); n != 0 {
		t.Errorf("re-run wrote %d purge_log rows, want 0", n)
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=ok"); got != runs+1 {
		t.Errorf("runs{ok} = %v after a re-run, want %v", got, runs+1)
	}
}

// checkDryRun checks that a dry run changed nothing, recorded its actions
// with outcome dry_run and moved no counter but runs{dry_run}.
func checkDryRun(t *testing.T, f *fixture, dry retention.Report, before map[string]uint64, metricsBefore map[string]float64) {
	t.Helper()
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("a dry run changed the tables (-before +after):\n%s", diff)
	}
	log := purgeLog(t, f.conn, f.cfg, dry.RunID)
	if len(log) != len(dry.Actions) || len(log) == 0 {
		t.Errorf("purge_log holds %d rows for the dry run, want %d", len(log), len(dry.Actions))
	}
	for _, l := range log {
		if l.Outcome != "dry_run" {
			t.Errorf("purge_log row %+v: want outcome dry_run", l)
		}
	}
	if diff := cmp.Diff(metricsBefore, counters(t, f)); diff != "" {
		t.Errorf("a dry run moved the row or partition counters (-before +after):\n%s", diff)
	}
}

// tenantsWithLabels returns a Vault client, two tenants named after prefix
// (their keys destroyed when the test ends) and a label ciphertext of each.
func tenantsWithLabels(t *testing.T, prefix string) (*transit.Client, [2]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	vault := transittest.NewClient(t, transit.Config{})
	tenants := twoTenants(prefix)
	t.Cleanup(func() {
		for _, tenant := range tenants {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})
	secrets := map[string]string{}
	for _, tenant := range tenants {
		ct, err := vault.Encrypt(ctx, tenant, [][]byte{[]byte("Ann Example, 1 High Street, Leeds LS1 1AA")})
		if err != nil {
			t.Fatal(err)
		}
		secrets[tenant] = ct[0]
	}
	return vault, tenants, secrets
}

// TestSevenYearsOfOrders follows one data set through time: seven years of
// orders of two tenants, purged 22 days on (labels only, after a dry run;
// then with the default periods), one tenant offboarded, and purged again six
// years on. Every step is checked against the model, and re-run as a no-op.
func TestSevenYearsOfOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vault, tenants, secrets := tenantsWithLabels(t, "seven")
	orders := sevenYearSet(tenants)
	cfg, conn := clickhousetest.Migrated(t)
	insertOrders(t, conn, cfg, orders, func(o order) string { return secrets[o.tenant] })
	f := &fixture{cfg: cfg, conn: conn, reg: prometheus.NewRegistry(), log: &syncBuffer{}, model: newModel(t, conn, orders), orders: orders}
	defer func() {
		// One log line per action (purge_log has a row for each) and per pass
		// (each counted in runs_total), and no personal data: no plaintext,
		// ciphertext or token of the tenants' buyers.
		log := f.log.String()
		if got, want := strings.Count(log, `msg="retention action"`), countLog(t, f); uint64(got) != want {
			t.Errorf("%d action log lines, want %d", got, want)
		}
		if got, want := strings.Count(log, `msg="retention pass"`), telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total"); float64(got) != want {
			t.Errorf("%d pass log lines, want %v", got, want)
		}
		if got, want := strings.Count(log, `msg=offboarded`), telemetrytest.Sum(t, f.reg, "orderflow_offboardings_total"); float64(got) != want {
			t.Errorf("%d offboarding log lines, want %v", got, want)
		}
		for _, secret := range []string{"Ann Example", "High Street", "vault:v1:", "tok-"} {
			if strings.Contains(log, secret) {
				t.Errorf("the log holds %q", secret)
			}
		}
	}()
	t.Logf("%d orders, %d rows", len(orders), sumCounts(f.model.counts()))

	// Financial and analytics data outlive the data set here: only labels go.
	labelsOnly := config.Retention{Label: config.Period{Days: 21}, Financial: config.Period{Years: 30}, Analytics: config.Period{Years: 30}}
	asOf := today.Add(22 * day)
	f.setNow(asOf)
	ok := t.Run("labels 22 days on, after a dry run", func(t *testing.T) {
		p := f.purger(t, labelsOnly, nil)
		before := tableCounts(t, f.conn, f.cfg)
		dry, err := p.Purge(ctx, asOf, true)
		if err != nil {
			t.Fatal(err)
		}
		checkDryRun(t, f, dry, before, counters(t, f))
		if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=dry_run"); got != 1 {
			t.Errorf("runs{dry_run} = %v, want 1", got)
		}
		if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_last_success_timestamp_seconds"); got != 0 {
			t.Errorf("a dry run set the last-success gauge: %v", got)
		}

		rep, err := p.Purge(ctx, asOf, false)
		if err != nil {
			t.Fatal(err)
		}
		checkPass(t, f, rep, labelsOnly, asOf, map[string]float64{})
		checkSameSteps(t, dry, rep)
		after := tableCounts(t, f.conn, f.cfg)
		for k, n := range before {
			if !strings.HasPrefix(k, schema.TableDeliveryLabels+"/") && after[k] != n {
				t.Errorf("%s: %d rows before, %d after: only labels may go", k, n, after[k])
			}
		}
		if rep.PartitionsDropped() < 80 {
			t.Errorf("dropped %d partitions, want the seven years of monthly label partitions", rep.PartitionsDropped())
		}
		_, deletes := reportSteps(rep)
		if len(deletes) != 1 || deletes[0].partition != labelAt22d.Format("200601") {
			t.Errorf("deletes = %+v, want one of the straddling month %s", deletes, labelAt22d.Format("200601"))
		}
		for name, want := range map[string]float64{
			"orderflow_purge_runs_total":       2, // dry_run and ok
			"orderflow_purge_duration_seconds": 2,
		} {
			if got := telemetrytest.Sum(t, f.reg, name); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if got := telemetrytest.Sum(t, f.reg, "orderflow_retention_limit_seconds", "class=label"); got != (21 * day).Seconds() {
			t.Errorf("label limit = %v, want %v", got, (21 * day).Seconds())
		}
		checkNoOp(t, f, p, asOf)
	})

	// The real purger: default periods, DE records for 10 years, the second
	// tenant's financial year ending on 31 December.
	r := retentionFor(tenants)
	p := f.purger(t, r, vault)
	ok = ok && t.Run("defaults 22 days on", func(t *testing.T) {
		before := counters(t, f)
		rep, err := p.Purge(ctx, asOf, false)
		if err != nil {
			t.Fatal(err)
		}
		checkPass(t, f, rep, r, asOf, before)
		drops, deletes := reportSteps(rep)
		want := map[string]bool{}
		for _, table := range []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableErasedOrders} {
			want[table+" "+analyticsAt22d.Format("200601")] = true
		}
		checkStraddlers(t, withoutClass(deletes, config.ClassFinancial), want)
		// Financial records: the oldest financial year (to March 2020)
		// holds GB records and records of no jurisdiction whose year has
		// expired, and DE records, kept 10 years: one delete, no drop.
		for _, table := range []string{schema.TableFinancialRecords, schema.TableAccountingPostings} {
			if len(only(drops, table)) != 0 || len(only(deletes, table)) != 1 || only(deletes, table)[0].partition != "2020" {
				t.Errorf("%s drops %v and deletes %v: want one delete, of the year to March 2020", table, only(drops, table), only(deletes, table))
			}
		}
		checkNoOp(t, f, p, asOf)
	})

	ok = ok && t.Run("offboarding", func(t *testing.T) {
		checkOffboarding(t, f, p, vault, tenants[0], tenants[1], secrets, asOf)
	})

	_ = ok && t.Run("six years on", func(t *testing.T) {
		before := counters(t, f)
		asOf := today.AddDate(6, 0, 0)
		f.setNow(asOf)
		dry, err := p.Purge(ctx, asOf, true)
		if err != nil {
			t.Fatal(err)
		}
		checkDryRun(t, f, dry, tableCounts(t, f.conn, f.cfg), before)
		rep, err := p.Purge(ctx, asOf, false)
		if err != nil {
			t.Fatal(err)
		}
		checkPass(t, f, rep, r, asOf, before)
		checkSameSteps(t, dry, rep)
		checkNoOp(t, f, p, asOf)

		// What is left: the remaining tenant's (year end 31 December)
		// financial records whose last event is in a financial year that
		// has not expired: of GB and of no jurisdiction from 2026-01-01, of
		// DE from 2022-01-01, at UTC+14; the oldest exactly at those
		// instants (the first second of a year there).
		for k, n := range tableCounts(t, f.conn, f.cfg) {
			if classOf(strings.Split(k, "/")[0]) != config.ClassFinancial && n != 0 {
				t.Errorf("%s holds %d rows, want none six years on", k, n)
			}
		}
		for j, want := range map[string]time.Time{"GB": fyGBDec6y, "": fyGBDec6y, "DE": fyDEDec6y} {
			var oldest time.Time
			if err := f.conn.QueryRow(ctx, "SELECT min(last_financial_event_at) FROM "+f.cfg.RestrictedDatabase+
				".financial_records WHERE jurisdiction = ?", j).Scan(&oldest); err != nil {
				t.Fatal(err)
			}
			if !oldest.Equal(want) {
				t.Errorf("oldest %q record's last event %s, want %s", j, oldest.UTC(), want)
			}
		}
		// The oldest DE record's age is from its last event, within the
		// limit: the period plus up to two years (to the end of the
		// financial year, then of the calendar year) and two days (the
		// time zones' 26 hours, and leap days).
		de := telemetrytest.Sum(t, f.reg, "orderflow_retention_financial_oldest_row_age_seconds", "jurisdiction=DE")
		deLimit := telemetrytest.Sum(t, f.reg, "orderflow_retention_financial_limit_seconds", "jurisdiction=DE")
		if want := asOf.Sub(fyDEDec6y).Seconds(); de != want || de > deLimit || deLimit != (config.Period{Years: 12, Days: 2}).Approx().Seconds() {
			t.Errorf("DE oldest age %v (want %v), limit %v: want age <= limit = 12y2d", de, want, deLimit)
		}
		gbLimit := telemetrytest.Sum(t, f.reg, "orderflow_retention_financial_limit_seconds", "jurisdiction=GB")
		if gbLimit != (config.Period{Years: 7, Days: 2}).Approx().Seconds() {
			t.Errorf("GB limit %v, want 7y2d", gbLimit)
		}
	})
}

// checkSameSteps checks that a dry run reported what the real pass did.
func checkSameSteps(t *testing.T, dry, real retention.Report) {
	t.Helper()
	dryDrops, dryDeletes := reportSteps(dry)
	realDrops, realDeletes := reportSteps(real)
	if diff := cmp.Diff(realDrops, dryDrops, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("dry-run drops differ from the real pass's (-real +dry):\n%s", diff)
	}
	if diff := cmp.Diff(realDeletes, dryDeletes, cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("dry-run deletes differ from the real pass's (-real +dry):\n%s", diff)
	}
	if dry.Rows() != real.Rows() || dry.Rows() == 0 {
		t.Errorf("dry run reported %d rows, the pass removed %d", dry.Rows(), real.Rows())
	}
}

// only is the steps of one table.
func only(steps []step, table string) []step {
	var out []step
	for _, s := range steps {
		if s.table == table {
			out = append(out, s)
		}
	}
	return out
}

// withoutClass is the steps of the other classes' tables.
func withoutClass(steps []step, class config.Class) []step {
	var out []step
	for _, s := range steps {
		if classOf(s.table) != class {
			out = append(out, s)
		}
	}
	return out
}

// checkStraddlers checks that the deletes are exactly those of want ("table
// partition").
func checkStraddlers(t *testing.T, deletes []step, want map[string]bool) {
	t.Helper()
	got := map[string]bool{}
	for _, d := range deletes {
		got[d.table+" "+d.partition] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("straddling partitions with deletes (-want +got):\n%s", diff)
	}
}

func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// smallSet is a sparse data set over seven years: an order every 97 days.
func smallSet(tenants [2]string) []order {
	return sevenYears(tenants, 97*day+5*time.Hour+31*time.Minute)
}

// The cutoff is exact to the second: a row purchased exactly the period before
// asOf, or a second earlier, has expired; one a second later has not. As of
// noon on 28 November the labels' boundary (7 November, noon) falls inside a
// month's partition: a delete. As of midnight on 22 November it is the
// month's first second: October's labels are dropped whole, and the first
// second of November deleted. As of a second earlier it is October's last
// second: October is dropped, and November has nothing to delete.
func TestTheCutoffIsExactToTheSecond(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		asOf           time.Time
		labelDrops     []string // label partitions from October 2026 on dropped whole
		labelStraddler []string // and deleted from
	}{
		{today, nil, []string{"202611"}},
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), []string{"202610"}, []string{"202611"}},
		{time.Date(2026, 11, 21, 23, 59, 59, 0, time.UTC), []string{"202610"}, nil},
	} {
		asOf := c.asOf
		t.Run(asOf.Format("01-02T15h04m05"), func(t *testing.T) {
			t.Parallel()
			r := defaultRetention()
			tenants := twoTenants("edge")
			orders := cutoffSet(tenants[0], r, asOf)
			f := newFixture(t, orders)
			f.setNow(asOf)
			p := f.purger(t, r, nil)
			rep, err := p.Purge(context.Background(), asOf, false)
			if err != nil {
				t.Fatal(err)
			}
			checkPass(t, f, rep, r, asOf, map[string]float64{})
			drops, deletes := reportSteps(rep)
			// The label partitions around the cutoff (the other names' rows
			// have labels in older months, all dropped).
			partitions := func(steps []step) []string {
				var out []string
				for _, s := range only(steps, schema.TableDeliveryLabels) {
					if s.partition >= "202610" {
						out = append(out, s.partition)
					}
				}
				return out
			}
			if got := partitions(drops); !slices.Equal(got, c.labelDrops) {
				t.Errorf("label partitions dropped: %v, want %v", got, c.labelDrops)
			}
			if got := partitions(deletes); !slices.Equal(got, c.labelStraddler) {
				t.Errorf("label partitions deleted from: %v, want %v", got, c.labelStraddler)
			}
			checkExactCutoffs(t, f)
			// The model agrees with the tables (checkPass); here the ids come
			// from ClickHouse itself for the labels.
			var n uint64
			if err := f.conn.QueryRow(context.Background(), "SELECT count() FROM "+f.cfg.RestrictedDatabase+
				".delivery_labels WHERE channel_order_id IN ('label-minus1s', 'label-exact')").Scan(&n); err != nil || n != 0 {
				t.Errorf("expired labels left: %d (%v)", n, err)
			}
			if err := f.conn.QueryRow(context.Background(), "SELECT count() FROM "+f.cfg.RestrictedDatabase+
				".delivery_labels WHERE channel_order_id = 'label-plus1s'").Scan(&n); err != nil || n != 1 {
				t.Errorf("unexpired label: %d rows (%v), want 1", n, err)
			}
			checkNoOp(t, f, p, asOf)
		})
	}
}

// cutoffSet is, for the tenant, orders a second before, exactly at and a
// second after each last expired instant of a pass as of asOf: the labels',
// the analytics facts', and the financial records' of GB and of DE, bought a
// month before their last event. checkExactCutoffs checks what a pass leaves
// of them.
func cutoffSet(tenant string, r config.Retention, asOf time.Time) []order {
	// The last expired second: a row at it or a second before it has
	// expired, one a second after it has not. Financial records go by
	// their last event: the default year ends on 31 March, GB keeps
	// 6 years after it (the year to 31 March 2020 expired at noon UTC
	// on 1 April 2026) and DE 10 years after the end of the calendar
	// year it ends in (the year to 31 March 2015 expired on 1 January
	// 2026); the year's last events are those before its end at
	// UTC+14.
	cutoffs := map[string]time.Time{
		"label":     r.Label.Before(asOf),
		"analytics": r.Analytics.Before(asOf),
		"financial": lastEvents(utc(2020, 4, 1)).Add(-time.Second),
		"de":        lastEvents(utc(2015, 4, 1)).Add(-time.Second),
	}
	var orders []order
	for name, c := range cutoffs {
		j := "GB"
		if name == "de" {
			j = "DE"
		}
		for _, o := range []struct {
			suffix string
			off    time.Duration
		}{{"minus1s", -time.Second}, {"exact", 0}, {"plus1s", time.Second}} {
			o := order{tenant: tenant, channel: "ebay", id: name + "-" + o.suffix, purchasedAt: c.Add(o.off), jurisdiction: j}
			if name == "financial" || name == "de" {
				// Bought a month before: the last event decides.
				o.lastEvent, o.purchasedAt = o.purchasedAt, o.purchasedAt.AddDate(0, -1, 0)
			}
			orders = append(orders, o)
		}
	}
	return orders
}

// checkExactCutoffs checks that the model kept, of cutoffSet's orders, those
// a second after each cutoff and none at or before it (checkPass holds the
// tables to the model).
func checkExactCutoffs(t *testing.T, f *fixture) {
	t.Helper()
	ids := func(table string) map[string]bool {
		out := map[string]bool{}
		for _, o := range f.model.tables[table] {
			out[o.id] = true
		}
		return out
	}
	check := func(table, name string) {
		t.Helper()
		got := ids(table)
		if got[name+"-minus1s"] || got[name+"-exact"] || !got[name+"-plus1s"] {
			t.Errorf("%s after the pass holds %v: want %s-plus1s, not -exact or -minus1s", table, got, name)
		}
	}
	check(schema.TableDeliveryLabels, "label")
	check(schema.TableOrderFacts, "analytics")
	check(schema.TableOrderLineFacts, "analytics")
	for _, table := range []string{schema.TableFinancialRecords, schema.TableAccountingPostings} {
		check(table, "financial")
		check(table, "de")
	}
}

// A table the pass cannot purge fails alone: the pass goes on with the
// others. A table that does not exist cannot be purged; nor can one
// partitioned otherwise than the purger expects (labels by day, as before
// 0013), whose partitions it would misread: a month read as a day is
// dropped whole before its time. Its rows stay.
func TestAFailedTableDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		// spoil breaks the label table; it returns the labels then left.
		spoil func(t *testing.T, f *fixture) uint64
		err   string
	}{
		{"missing", func(t *testing.T, f *fixture) uint64 {
			execSQL(t, f, "DROP TABLE "+f.cfg.RestrictedDatabase+".delivery_labels")
			return 0
		}, "does not exist"},
		{"partitioned by day", func(t *testing.T, f *fixture) uint64 {
			execSQL(t, f, "DROP TABLE "+f.cfg.RestrictedDatabase+".delivery_labels")
			execSQL(t, f, "CREATE TABLE "+f.cfg.RestrictedDatabase+".delivery_labels (tenant_id String, channel Enum8('amazon' = 1, 'ebay' = 2), "+
				"channel_order_id String, version UInt64, purchased_at DateTime) ENGINE = ReplacingMergeTree(version) "+
				"PARTITION BY toYYYYMMDD(purchased_at) ORDER BY (tenant_id, channel, channel_order_id)")
			b, err := f.conn.PrepareBatch(context.Background(), "INSERT INTO "+f.cfg.RestrictedDatabase+".delivery_labels (tenant_id, channel, channel_order_id, version, purchased_at)")
			if err == nil {
				err = b.Append("t", "ebay", "old", uint64(1), today.AddDate(-1, 0, 0))
			}
			if err == nil {
				err = b.Send()
			}
			if err != nil {
				t.Fatal(err)
			}
			return 1
		}, "is partitioned by toYYYYMMDD(purchased_at), not by toYYYYMM(purchased_at) (month)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, smallSet(twoTenants("fail")))
			r := defaultRetention()
			p := f.purger(t, r, nil)
			labels := c.spoil(t, f)
			asOf := today.AddDate(6, 0, 0)
			f.setNow(asOf)
			rep, err := p.Purge(context.Background(), asOf, false)
			if err == nil || !strings.Contains(err.Error(), "delivery_labels") || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Purge = %v, want an error naming delivery_labels: %s", err, c.err)
			}
			log := purgeLog(t, f.conn, f.cfg, rep.RunID)
			failed := 0
			for _, l := range log {
				if l.Outcome == "failed" {
					failed++
					if l.Table != schema.TableDeliveryLabels || l.Error == "" || l.Action != "delete" {
						t.Errorf("failed purge_log row %+v: want the delivery_labels delete, with its error", l)
					}
				}
			}
			if failed != 1 || len(log) != len(rep.Actions) {
				t.Errorf("purge_log: %d failed of %d rows (report: %d actions); want 1 failed, one row per action", failed, len(log), len(rep.Actions))
			}
			if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=failed"); got != 1 {
				t.Errorf("runs{failed} = %v, want 1", got)
			}
			if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_last_success_timestamp_seconds", "table=delivery_labels"); got != 0 {
				t.Errorf("last success of the spoilt table = %v, want none", got)
			}
			// The other tables were purged as the model says; the labels left
			// are left.
			f.model.purge(r, asOf)
			want := f.model.counts()
			got := tableCounts(t, f.conn, f.cfg)
			for k := range want {
				if strings.HasPrefix(k, schema.TableDeliveryLabels+"/") {
					delete(want, k)
				}
			}
			if labels > 0 {
				want[schema.TableDeliveryLabels+"/t"] = labels
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the tables after the failed pass (-want +got):\n%s", diff)
			}
			for _, table := range []string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableFinancialRecords, schema.TableAccountingPostings} {
				if telemetrytest.Sum(t, f.reg, "orderflow_purge_last_success_timestamp_seconds", "table="+table) != float64(asOf.Unix()) {
					t.Errorf("last success of %s not set", table)
				}
			}
		})
	}
}

func execSQL(t *testing.T, f *fixture, stmt string) {
	t.Helper()
	if err := f.conn.Exec(context.Background(), stmt); err != nil {
		t.Fatal(err)
	}
}

func TestACancelledPassIsRecordedAsFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, smallSet(twoTenants("cancel")))
	p := f.purger(t, defaultRetention(), nil)
	before := tableCounts(t, f.conn, f.cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.setNow(today.AddDate(6, 0, 0))
	rep, err := p.Purge(ctx, today.AddDate(6, 0, 0), false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Purge on a cancelled context = %v, want context.Canceled", err)
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	if len(log) != len(tables) {
		t.Errorf("purge_log holds %d rows, want a failed one per table: %+v", len(log), log)
	}
	for _, l := range log {
		if l.Outcome != "failed" || !strings.Contains(l.Error, "context canceled") {
			t.Errorf("purge_log row %+v: want failed with the cancellation", l)
		}
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=failed"); got != 1 {
		t.Errorf("runs{failed} = %v, want 1", got)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("a cancelled pass changed the tables (-before +after):\n%s", diff)
	}
}

func TestRunPurgesOnSchedule(t *testing.T) {
	t.Parallel()
	f := newFixture(t, smallSet(twoTenants("run")))
	f.setNow(today.Add(22 * day))
	p, err := retention.New(retention.Config{
		Conn: f.conn, Database: f.cfg.Database, RestrictedDatabase: f.cfg.RestrictedDatabase,
		Retention: defaultRetention(), Registerer: f.reg,
		Now: f.now, ClickHouseNow: f.clickHouseNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), 0); err == nil {
		t.Error("Run with interval 0 = nil, want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 10*time.Millisecond) }()
	deadline := time.Now().Add(time.Minute)
	for telemetrytest.Sum(t, f.reg, "orderflow_purge_runs_total", "outcome=ok") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 passes within a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after its context was cancelled")
	}
	f.model.purge(defaultRetention(), today.Add(22*day))
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("tables after the scheduled passes (-want +got):\n%s", diff)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := retention.Config{Conn: nil, Database: "orderflow", RestrictedDatabase: "orderflow_restricted", Retention: defaultRetention()}
	for name, c := range map[string]struct {
		change func(*retention.Config)
		want   string
	}{
		"no connection":     {func(*retention.Config) {}, "Config.Conn"},
		"zero label period": {func(c *retention.Config) { c.Retention.Label = config.Period{} }, "retention.label"},
		"bad database":      {func(c *retention.Config) { c.Database = "x; DROP" }, "clickhouse.database"},
		"same databases":    {func(c *retention.Config) { c.RestrictedDatabase = c.Database }, "must differ"},
		"bad jurisdiction": {func(c *retention.Config) {
			c.Retention.FinancialByJurisdiction = map[string]config.Period{"de": {Years: 10}}
		}, "ISO 3166-1"},
		"zero DE period":      {func(c *retention.Config) { c.Retention.FinancialByJurisdiction = map[string]config.Period{"DE": {}} }, "financial_by_jurisdiction.DE"},
		"negative analytics":  {func(c *retention.Config) { c.Retention.Analytics = config.Period{Years: -1} }, "retention.analytics"},
		"zero financial":      {func(c *retention.Config) { c.Retention.Financial = config.Period{} }, "retention.financial"},
		"negative mut. timeo": {func(c *retention.Config) { c.MutationTimeout = -time.Second }, "mutation_timeout"},
		// config's own rules, as Load applies them (config.Retention.Validate).
		"below statutory": {func(c *retention.Config) { c.Retention.Financial = config.Period{Years: 1} }, "statutory minimum of 6y"},
		"card-like tenant": {func(c *retention.Config) {
			c.Retention.FinancialYearEndByTenant = map[string]config.YearEnd{"shop-4111111111111111": {Month: time.June, Day: 30}}
		}, "financial_year_end_by_tenant"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := good
			cfg.Retention.FinancialByJurisdiction = nil
			c.change(&cfg)
			_, err := retention.New(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New = %v, want an error naming %s", err, c.want)
			}
		})
	}
}

// Rows dated after the pass's as-of time (a clock or data problem: they are
// kept until their date plus the period) show as a negative oldest-row age
// when nothing older is stored, and are counted per class, instead of
// hiding behind an age of 0.
func TestFutureDatedRowsAreReported(t *testing.T) {
	t.Parallel()
	tenants := twoTenants("future")
	ahead := today.Add(3 * day)
	orders := []order{
		{tenant: tenants[0], channel: "ebay", id: "ahead-1", purchasedAt: ahead, jurisdiction: "GB"},
		{tenant: tenants[0], channel: "ebay", id: "ahead-2", purchasedAt: ahead.Add(time.Hour), jurisdiction: "DE"},
		{tenant: tenants[1], channel: "amazon", id: "refund-ahead", purchasedAt: today.Add(-day), jurisdiction: "GB", lastEvent: ahead},
	}
	f := newFixture(t, orders)
	p := f.purger(t, defaultRetention(), nil)
	if _, err := p.Purge(context.Background(), today, false); err != nil {
		t.Fatal(err)
	}
	for class, want := range map[string]struct{ age, future float64 }{
		"label":     {day.Seconds(), 2},        // the oldest purchase is a day ago; two labels are ahead
		"analytics": {day.Seconds(), 8},        // two facts, their four lines and their two erased-order rows
		"financial": {-(3 * day).Seconds(), 6}, // every last event is ahead: 3 records and their 3 ledger rows
	} {
		age := telemetrytest.Sum(t, f.reg, "orderflow_retention_oldest_row_age_seconds", "class="+class)
		future := telemetrytest.Sum(t, f.reg, "orderflow_retention_future_dated_rows", "class="+class)
		if age != want.age || future != want.future {
			t.Errorf("%s: oldest age %v, future-dated rows %v; want %v, %v", class, age, future, want.age, want.future)
		}
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_retention_financial_oldest_row_age_seconds", "jurisdiction=DE"); got != -(3*day + time.Hour).Seconds() {
		t.Errorf("DE oldest age %v, want %v (negative: dated ahead)", got, -(3*day + time.Hour).Seconds())
	}
}

// Financial records of every jurisdiction share a partition per financial
// year. As of today, the year to March 2010 has expired for GB (6 years) and
// DE (10 years from the end of 2010): dropped whole. The year to March 2016
// has expired for GB but not for DE (until 2027): its GB records deleted,
// its DE records kept. The year to March 2026 has expired for none.
func TestAFinancialYearIsDroppedOnceEveryRecordInItHasExpired(t *testing.T) {
	t.Parallel()
	tenants := twoTenants("fy")
	var orders []order
	for _, bought := range []time.Time{utc(2009, 6, 1), utc(2015, 6, 1), utc(2025, 6, 1)} {
		for _, j := range []string{"GB", "DE"} {
			orders = append(orders, order{tenant: tenants[0], channel: "amazon", id: j + bought.Format("2006"), purchasedAt: bought, jurisdiction: j})
		}
	}
	f := newFixture(t, orders)
	r := defaultRetention()
	p := f.purger(t, r, nil)
	rep, err := p.Purge(context.Background(), today, false)
	if err != nil {
		t.Fatal(err)
	}
	checkPass(t, f, rep, r, today, map[string]float64{})
	drops, deletes := reportSteps(rep)
	for _, table := range []string{schema.TableFinancialRecords, schema.TableAccountingPostings} {
		want := []step{{table, "2010", 2}}
		if diff := cmp.Diff(want, only(drops, table), cmp.AllowUnexported(step{})); diff != "" {
			t.Errorf("%s drops (-want +got):\n%s", table, diff)
		}
		want = []step{{table, "2016", 1}}
		if diff := cmp.Diff(want, only(deletes, table), cmp.AllowUnexported(step{})); diff != "" {
			t.Errorf("%s deletes (-want +got):\n%s", table, diff)
		}
	}
	for _, l := range purgeLog(t, f.conn, f.cfg, rep.RunID) {
		if l.Table == schema.TableFinancialRecords && l.Action == "delete" && !strings.Contains(l.Predicate, "(jurisdiction = 'GB' AND ") {
			t.Errorf("the delete's predicate %q does not scope GB's period to GB", l.Predicate)
		}
	}
	checkNoOp(t, f, p, today)
}
