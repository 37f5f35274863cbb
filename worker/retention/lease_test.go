package retention_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/vault/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/lease"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// The Vault lease is the purge lease.
var _ retention.Lease = (*lease.Lease)(nil)

// replica is one purging process: its own Purger, registry and lease, over
// the fixture's databases.
type replica struct {
	p     *retention.Purger
	reg   *prometheus.Registry
	lease *lease.Lease
}

// leased is a fixture of two new tenants' orders whose clock stands at a
// given instant, their retention, and a fresh purge lease key in the stack's
// Vault (removed at cleanup).
type leased struct {
	*fixture
	r   config.Retention
	c   *api.Client
	key string
}

func newLeased(t *testing.T, prefix string, set func([2]string) []order, asOf time.Time) leased {
	t.Helper()
	tenants := twoTenants(prefix)
	f := newFixture(t, set(tenants))
	f.setNow(asOf)
	c := stacktest.VaultClient(t)
	key := "orderflow-test/leases/" + stacktest.UniqueName("purge")
	t.Cleanup(func() { _, _ = c.Logical().Delete("secret/metadata/" + key) })
	return leased{fixture: f, r: retentionFor(tenants), c: c, key: key}
}

// lease is a holder of the fixture's lease key.
func (f leased) lease(t *testing.T, holder string, ttl time.Duration) *lease.Lease {
	t.Helper()
	l, err := lease.New(lease.Config{Client: f.c, Key: f.key, TTL: ttl, Holder: holder})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f leased) replica(t *testing.T, name string, ttl time.Duration, wrap func(retention.Lease) retention.Lease) replica {
	t.Helper()
	l := f.lease(t, name, ttl)
	var held retention.Lease = l
	if wrap != nil {
		held = wrap(l)
	}
	reg := prometheus.NewRegistry()
	p, err := retention.New(retention.Config{
		Conn: f.conn, Database: f.cfg.Database, RestrictedDatabase: f.cfg.RestrictedDatabase,
		Retention: f.r, MutationTimeout: time.Minute, Lease: held, Registerer: reg,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)), Now: f.now, ClickHouseNow: f.clickHouseNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return replica{p: p, reg: reg, lease: l}
}

// loggedRows sums the rows purge_log holds for the runs, by outcome.
func loggedRows(t *testing.T, f leased, reps ...retention.Report) map[string]uint64 {
	out := map[string]uint64{}
	for _, rep := range reps {
		for _, l := range purgeLog(t, f.conn, f.cfg, rep.RunID) {
			out[l.Outcome] += l.Rows
		}
	}
	return out
}

// TestOnePassDeletesAtATime: two replicas start a pass at the same instant
// over the same data, three times over. Exactly one deletes; the other finds
// the lease held and deletes nothing, or finds nothing left to delete. The
// rows removed, as the reports, purge_log and both replicas' counters say,
// add up to the expected total once, never twice.
func TestOnePassDeletesAtATime(t *testing.T) {
	t.Parallel()
	asOf := today.Add(22 * day)
	f := newLeased(t, "lease", sevenYearSet, asOf)
	a := f.replica(t, "replica-a", 30*time.Second, nil)
	b := f.replica(t, "replica-b", 30*time.Second, nil)

	wantDrops, wantDeletes := f.model.purge(f.r, asOf)
	want := sumRows(wantDrops, "") + sumRows(wantDeletes, "")
	if want == 0 {
		t.Fatal("the data set has nothing to purge")
	}
	var reps []retention.Report
	for round := range 3 {
		start := make(chan struct{})
		var repA, repB retention.Report
		var errA, errB error
		var wg sync.WaitGroup
		wg.Go(func() { <-start; repA, errA = a.p.Purge(context.Background(), asOf, false) })
		wg.Go(func() { <-start; repB, errB = b.p.Purge(context.Background(), asOf, false) })
		close(start)
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: passes failed: %v; %v", round, errA, errB)
		}
		deleting := 0
		for _, rep := range []retention.Report{repA, repB} {
			if rep.Rows() > 0 {
				deleting++
			}
			if rep.Skipped && (rep.Rows() != 0 || len(rep.Actions) != 1 || rep.Actions[0].Kind != retention.ActionAcquireLease) {
				t.Errorf("round %d: a skipped pass did %+v", round, rep.Actions)
			}
		}
		if round == 0 && deleting != 1 {
			t.Errorf("round %d: %d passes deleted rows, want exactly 1", round, deleting)
		}
		if round > 0 && deleting != 0 {
			t.Errorf("round %d: %d passes deleted rows after everything expired was gone", round, deleting)
		}
		reps = append(reps, repA, repB)
	}

	var reported uint64
	skipped := 0
	for _, rep := range reps {
		reported += rep.Rows()
		if rep.Skipped {
			skipped++
		}
	}
	counted := telemetrytest.Sum(t, a.reg, "orderflow_purge_rows_total") + telemetrytest.Sum(t, b.reg, "orderflow_purge_rows_total")
	logged := loggedRows(t, f, reps...)
	if reported != want || counted != float64(want) || logged["ok"] != want {
		t.Errorf("rows removed: reports %d, counters %v, purge_log %d; want %d in each, once", reported, counted, logged["ok"], want)
	}
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("rows per table/tenant (-want +got):\n%s", diff)
	}
	runs := map[string]float64{}
	for _, outcome := range []string{"ok", "failed", "skipped_lease_held"} {
		runs[outcome] = telemetrytest.Sum(t, a.reg, "orderflow_purge_runs_total", "outcome="+outcome) +
			telemetrytest.Sum(t, b.reg, "orderflow_purge_runs_total", "outcome="+outcome)
	}
	if runs["failed"] != 0 || runs["ok"]+runs["skipped_lease_held"] != 6 || runs["skipped_lease_held"] != float64(skipped) {
		t.Errorf("runs %v: want 6 ok or skipped, %d of them skipped (as the reports say)", runs, skipped)
	}
	t.Logf("%d rows removed once; %d of 6 passes skipped because the other held the lease", want, skipped)
}

// TestAStaleLeaseHoldsPassesOffUntilItExpires: a holder killed in the middle
// of a pass (it stopped renewing, never released) keeps every pass from
// deleting until its TTL has passed; those passes record acquire_lease with
// outcome skipped in purge_log and count skipped_lease_held. Then a pass
// takes the lease over and purges everything expired, once.
func TestAStaleLeaseHoldsPassesOffUntilItExpires(t *testing.T) {
	t.Parallel()
	asOf := today.AddDate(6, 0, 0)
	f := newLeased(t, "stale", smallSet, asOf)
	const ttl = 4 * time.Second

	killed := f.lease(t, "killed-pod", ttl)
	life, kill := context.WithCancel(context.Background())
	if ok, err := killed.Acquire(life); !ok || err != nil {
		t.Fatalf("Acquire = %v, %v", ok, err)
	}
	kill()
	took := time.Now()

	x := f.replica(t, "replica", ttl, nil)
	before := tableCounts(t, f.conn, f.cfg)
	rep, err := x.p.Purge(context.Background(), asOf, false)
	if err != nil || !rep.Skipped {
		t.Fatalf("Purge under a stale lease = skipped %v, %v; want skipped, nil", rep.Skipped, err)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("a skipped pass changed the tables (-before +after):\n%s", diff)
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	if len(log) != 1 || log[0].Action != "acquire_lease" || log[0].Outcome != "skipped" || log[0].Rows != 0 ||
		!strings.Contains(log[0].Predicate, f.key) || log[0].Error == "" {
		t.Errorf("purge_log of the skipped pass = %+v, want one acquire_lease row, skipped, naming the lease", log)
	}
	if got := telemetrytest.Sum(t, x.reg, "orderflow_purge_runs_total", "outcome=skipped_lease_held"); got != 1 {
		t.Errorf("runs{skipped_lease_held} = %v, want 1", got)
	}
	if got := telemetrytest.Sum(t, x.reg, "orderflow_purge_last_skip_timestamp_seconds"); got != float64(asOf.Unix()) {
		t.Errorf("last skip timestamp = %v, want %v", got, asOf.Unix())
	}

	for time.Since(took) < ttl+2*time.Second {
		time.Sleep(200 * time.Millisecond)
	}
	wantDrops, wantDeletes := f.model.purge(f.r, asOf)
	want := sumRows(wantDrops, "") + sumRows(wantDeletes, "")
	rep, err = x.p.Purge(context.Background(), asOf, false)
	if err != nil || rep.Skipped || rep.Rows() != want || want == 0 {
		t.Fatalf("Purge after the stale lease expired: skipped %v, %d rows, %v; want %d rows", rep.Skipped, rep.Rows(), err, want)
	}
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("rows per table/tenant (-want +got):\n%s", diff)
	}
	if got := telemetrytest.Sum(t, x.reg, "orderflow_purge_rows_total"); got != float64(want) {
		t.Errorf("rows counted %v, want %d", got, want)
	}
	if got := telemetrytest.Sum(t, x.reg, "orderflow_purge_last_run_rows"); got != float64(want) {
		t.Errorf("orderflow_purge_last_run_rows sums to %v, want %d", got, want)
	}
	// The killed holder, back from the dead, holds nothing.
	if err := killed.Fence(context.Background()); !errors.Is(err, lease.ErrLost) {
		t.Errorf("the killed holder's fence = %v, want ErrLost", err)
	}
}

// freezing is fault injection around the real lease: the process freezes
// (SIGSTOP, a suspended VM) at the pass's first fence, its lease renewals
// with it, until the test resumes it; then the real lease is asked.
type freezing struct {
	retention.Lease
	renewals context.CancelFunc
	once     sync.Once
	frozen   chan struct{} // closed when the freeze begins
	resume   chan struct{} // closed by the test
}

// Acquire renews under a context of its own, which the freeze cancels.
func (f *freezing) Acquire(ctx context.Context) (bool, error) {
	ctx, f.renewals = context.WithCancel(ctx)
	return f.Lease.Acquire(ctx)
}

func (f *freezing) Fence(ctx context.Context) error {
	f.once.Do(func() {
		f.renewals()
		close(f.frozen)
		<-f.resume
	})
	return f.Lease.Fence(ctx)
}

// TestAPassThatLostItsLeaseDeletesNothing: a pass frozen past its lease's TTL
// while another process took the lease over finds its fence failing when it
// wakes: every drop and delete it had left is refused and recorded as
// failed, nothing is deleted, the pass fails, and its release leaves the new
// holder's lease alone.
func TestAPassThatLostItsLeaseDeletesNothing(t *testing.T) {
	t.Parallel()
	asOf := today.AddDate(6, 0, 0)
	f := newLeased(t, "fence", smallSet, asOf)
	const ttl = 3 * time.Second
	freeze := &freezing{frozen: make(chan struct{}), resume: make(chan struct{})}
	frozen := f.replica(t, "frozen", ttl, func(l retention.Lease) retention.Lease { freeze.Lease = l; return freeze })
	other := f.lease(t, "other", time.Minute)
	before := tableCounts(t, f.conn, f.cfg)

	done := make(chan struct{})
	var rep retention.Report
	var passErr error
	go func() {
		defer close(done)
		rep, passErr = frozen.p.Purge(context.Background(), asOf, false)
	}()
	<-freeze.frozen
	deadline := time.Now().Add(ttl + 10*time.Second)
	for {
		ok, err := other.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the frozen pass's lease was never taken over")
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer func() { _ = other.Release(context.Background()) }()
	close(freeze.resume)
	<-done

	if !errors.Is(passErr, lease.ErrLost) {
		t.Errorf("the frozen pass returned %v, want an error wrapping lease.ErrLost", passErr)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("a pass without its lease deleted rows (-before +after):\n%s", diff)
	}
	refused := 0
	for _, a := range rep.Actions {
		if a.Kind == retention.ActionDropPartition || a.Kind == retention.ActionDelete {
			if a.Outcome != retention.OutcomeFailed || !strings.Contains(a.Err.Error(), "purge lease") {
				t.Errorf("action %+v: want failed for want of the lease", a)
			}
			refused++
		}
	}
	if refused == 0 || rep.Rows() != 0 {
		t.Errorf("%d refused actions, %d rows: want the pass's drops and deletes all refused", refused, rep.Rows())
	}
	if got := telemetrytest.Sum(t, frozen.reg, "orderflow_purge_rows_total"); got != 0 {
		t.Errorf("rows counted %v by a pass that deleted nothing", got)
	}
	if got := telemetrytest.Sum(t, frozen.reg, "orderflow_purge_runs_total", "outcome=failed"); got != 1 {
		t.Errorf("runs{failed} = %v, want 1", got)
	}
	if err := other.Fence(context.Background()); err != nil {
		t.Errorf("the new holder's lease after the frozen pass released its own: %v", err)
	}
}
