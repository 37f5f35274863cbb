package retention_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The Blocklist is the gate of the worker's transit client and the
// pipeline's list of refused tenants.
var _ transit.Gate = (*retention.Blocklist)(nil)

// startBlocklist loads a worker's list (reloaded every 50ms) and runs it
// until the test ends; stop stops it earlier.
func startBlocklist(t *testing.T, f *fixture, cfg retention.BlocklistConfig) (b *retention.Blocklist, stop func()) {
	t.Helper()
	cfg.Conn, cfg.Database = f.conn, f.cfg.Database
	if cfg.Interval == 0 {
		cfg.Interval = 50 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(f.log, nil))
	}
	b, err := retention.NewBlocklist(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewBlocklist: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Blocklist.Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return b, stop
}

// waitFor polls cond every 10ms for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After an offboarding, workers refuse the tenant (the Blocklist sees it) and
// rows of the tenant that arrive all the same, such as a replay written by
// hand, are deleted by the next purge pass, and by it alone.
func TestOffboardedTenantsAreRefusedAndSwept(t *testing.T) {
	tenants := twoTenants("sweep")
	var orders []order
	for i := range 6 {
		for _, tenant := range tenants {
			orders = append(orders, order{tenant: tenant, channel: "amazon", id: string(rune('a' + i)),
				purchasedAt: today.Add(-time.Duration(i) * day), jurisdiction: "GB"})
		}
	}
	f := newFixture(t, orders)
	ctx := context.Background()
	vault := transittest.NewClient(t, transit.Config{})
	p := f.purger(t, defaultRetention(), vault)

	worker, _ := startBlocklist(t, f, retention.BlocklistConfig{WorkerID: "sweep-worker"})
	if worker.Offboarded(tenants[0]) {
		t.Fatal("a tenant is offboarded before its offboarding")
	}
	rep, err := p.Offboard(ctx, tenants[0], today)
	if err != nil {
		t.Fatalf("Offboard: %v", err)
	}
	// The running worker was live: the offboarding waited for its
	// acknowledgement, so it refuses the tenant by now.
	if rep.Acknowledged() != 1 {
		t.Errorf("%d workers acknowledged, want the one running", rep.Acknowledged())
	}
	if !worker.Offboarded(tenants[0]) || worker.Offboarded(tenants[1]) {
		t.Errorf("blocklist: %s offboarded %v, %s offboarded %v; want true, false",
			tenants[0], worker.Offboarded(tenants[0]), tenants[1], worker.Offboarded(tenants[1]))
	}

	// Two of the tenant's orders arrive late.
	var late []order
	for _, o := range orders {
		if o.tenant == tenants[0] && len(late) < 2 {
			late = append(late, o)
		}
	}
	insertOrders(t, f.conn, f.cfg, late, nil)
	counts := tableCounts(t, f.conn, f.cfg)

	dry, err := p.Purge(ctx, today, true)
	if err != nil {
		t.Fatalf("dry Purge: %v", err)
	}
	pass, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, r := range []retention.Report{dry, pass} {
		swept := map[string]uint64{}
		for _, a := range r.Actions {
			if a.Kind == retention.ActionOffboardDelete {
				swept[a.Table] = a.Rows
			}
		}
		for _, table := range tables {
			if want := uint64(len(late) * rowsPerOrder[table]); swept[table] != want {
				t.Errorf("dry run %v: %s swept %d rows, want %d", r.DryRun, table, swept[table], want)
			}
		}
	}
	after := tableCounts(t, f.conn, f.cfg)
	for _, table := range tables {
		if n := after[table+"/"+tenants[0]]; n != 0 {
			t.Errorf("%s still holds %d rows of the offboarded tenant", table, n)
		}
		if after[table+"/"+tenants[1]] != counts[table+"/"+tenants[1]] {
			t.Errorf("%s: the other tenant's rows changed from %d to %d", table, counts[table+"/"+tenants[1]], after[table+"/"+tenants[1]])
		}
	}
	again, err := p.Purge(ctx, today, false)
	if err != nil || len(again.Actions) != 0 {
		t.Errorf("a pass after the sweep: %d actions, %v; want none", len(again.Actions), err)
	}
}

// holdingVault is a reverse proxy in front of the real Vault that holds every
// request whose path contains hold until release is called: a Vault call in
// flight, for as long as the test wants.
type holdingVault struct {
	URL     string
	hold    string
	held    atomic.Int64
	release func()
}

func newHoldingVault(t *testing.T, hold string) *holdingVault {
	t.Helper()
	released := make(chan struct{})
	var once sync.Once
	h := &holdingVault{hold: hold, release: func() { once.Do(func() { close(released) }) }}
	h.URL = transittest.Proxy(t, func(_ http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, h.hold) {
			h.held.Add(1)
			<-released
		}
		return false
	})
	// Cleanups run last first: the held requests return before the proxy
	// closes, which waits for them.
	t.Cleanup(h.release)
	return h
}

// gatedClient is a worker's transit client: gated by b, which tells it what
// to forget.
func gatedClient(t *testing.T, b *retention.Blocklist, address string, reg prometheus.Registerer) *transit.Client {
	t.Helper()
	c := transittest.NewClient(t, transit.Config{Address: address, Gate: b, MaxAttempts: 1, Registerer: reg})
	b.Subscribe(c)
	return c
}

// keysPresent reads the tenant's keys with a client of its own.
func keysPresent(t *testing.T, tenant string) []string {
	t.Helper()
	present, err := transittest.NewClient(t, transit.Config{}).TenantKeysPresent(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return present
}

// A worker with a Vault call for the tenant in flight delays the destruction
// of the tenant's keys until that call has returned: its acknowledgement
// waits for it, and the offboarding waits for the acknowledgement. After the
// offboarding the worker refuses the tenant and its keys stay destroyed.
func TestOffboardWaitsUntilTheWorkersCallsInFlightReturn(t *testing.T) {
	tenants := twoTenants("inflight")
	f := newFixture(t, smallSet(tenants))
	ctx := context.Background()
	shredder := transittest.NewClient(t, transit.Config{})
	p := f.purger(t, defaultRetention(), shredder)
	gone := tenants[0]
	t.Cleanup(func() { _ = shredder.DestroyTenantKeys(context.Background(), tenants[1]) })

	worker, _ := startBlocklist(t, f, retention.BlocklistConfig{WorkerID: "inflight-worker", StaleAfter: 10 * time.Second})
	proxy := newHoldingVault(t, "/transit/encrypt/orderflow-"+gone+"-enc")
	vault := gatedClient(t, worker, proxy.URL, nil)
	if _, err := vault.HMAC(ctx, gone, []string{"ann@example.co.uk"}); err != nil {
		t.Fatal(err)
	}
	encrypted := make(chan error, 1)
	go func() {
		_, err := vault.Encrypt(ctx, gone, [][]byte{[]byte("Ann Example, 1 High St")})
		encrypted <- err
	}()
	waitFor(t, "the encrypt request reaches Vault's proxy", func() bool { return proxy.held.Load() > 0 })

	offboarded := make(chan error, 1)
	go func() {
		_, err := p.Offboard(ctx, gone, today)
		offboarded <- err
	}()
	waitFor(t, "the worker refuses the tenant", func() bool { return worker.Offboarded(gone) })
	// The worker has stored the tenant, reloads every 50ms and the offboarding
	// polls every 500ms: while the call is held, give both a few rounds.
	time.Sleep(2 * time.Second)
	select {
	case err := <-offboarded:
		t.Fatalf("the offboarding ended while a call of the tenant was in flight: %v", err)
	default:
	}
	if present := keysPresent(t, gone); len(present) != 2 {
		t.Fatalf("keys present while a call is in flight: %v, want both", present)
	}
	if n := clickhousetest.Count(t, f.conn, "SELECT count() FROM "+f.cfg.Database+".offboard_acks WHERE tenant_id = ?", gone); n != 0 {
		t.Errorf("the worker acknowledged while a call was in flight")
	}

	proxy.release()
	if err := <-encrypted; err != nil {
		t.Errorf("the call in flight: %v (it was admitted before the tenant was offboarded)", err)
	}
	if err := <-offboarded; err != nil {
		t.Fatalf("Offboard: %v", err)
	}
	if present := keysPresent(t, gone); len(present) != 0 {
		t.Errorf("keys present after the offboarding: %v", present)
	}
	for _, call := range []func() error{
		func() error { _, err := vault.HMAC(ctx, gone, []string{"ann@example.co.uk"}); return err },
		func() error { _, err := vault.Encrypt(ctx, gone, [][]byte{[]byte("x")}); return err },
	} {
		if err := call(); !errors.Is(err, transit.ErrTenantOffboarded) {
			t.Errorf("a call for the offboarded tenant: %v, want ErrTenantOffboarded", err)
		}
	}
	if present := keysPresent(t, gone); len(present) != 0 {
		t.Errorf("keys re-created after the offboarding: %v", present)
	}
	if _, err := vault.Encrypt(ctx, tenants[1], [][]byte{[]byte("x")}); err != nil {
		t.Errorf("another tenant is refused: %v", err)
	}
}

// insertHeartbeat writes a heartbeat row as a worker would, seen age before
// ClickHouse's now.
func insertHeartbeat(t *testing.T, conn driver.Conn, db, worker string, age time.Duration, quietAfter time.Duration, stopped bool) {
	t.Helper()
	var now time.Time
	if err := conn.QueryRow(context.Background(), "SELECT now()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO "+db+".offboard_heartbeats (worker_id, seen_at, quiet_after_s, stopped)")
	if err != nil {
		t.Fatal(err)
	}
	s := uint8(0)
	if stopped {
		s = 1
	}
	if err := batch.Append(worker, now.Add(-age), uint32(quietAfter/time.Second), s); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

// An offboarding waits only for live workers: not for one whose heartbeat is
// older than it can still be talking to Vault, nor for one that signed off.
// A live worker that never acknowledges stops the offboarding, with a clear
// error, before anything is destroyed or deleted; run again once it has, the
// offboarding completes.
func TestOffboardWaitsForLiveWorkersOnly(t *testing.T) {
	tenants := twoTenants("live")
	f := newFixture(t, smallSet(tenants))
	ctx := context.Background()
	vault := transittest.NewClient(t, transit.Config{})
	gone := tenants[0]
	if _, err := vault.Encrypt(ctx, gone, [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.HMAC(ctx, gone, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), gone) })
	db := f.cfg.Database
	insertHeartbeat(t, f.conn, db, "dead", 3*time.Minute, 70*time.Second, false)    // quiet for 110s already
	insertHeartbeat(t, f.conn, db, "signed-off", 0, 70*time.Second, true)           // stopped, gate closed
	insertHeartbeat(t, f.conn, db, "silent", 0, 70*time.Second, false)              // live, never acknowledges
	insertHeartbeat(t, f.conn, db, "slow", 100*time.Second, 300*time.Second, false) // its own quiet_after keeps it live
	before := tableCounts(t, f.conn, f.cfg)

	p := f.offboarder(t, vault, retention.OffboardConfig{AckTimeout: time.Second, LiveWithin: 90 * time.Second, Poll: 50 * time.Millisecond})
	rep, err := p.Offboard(ctx, gone, today)
	if !errors.Is(err, retention.ErrNotAcknowledged) {
		t.Fatalf("Offboard with a silent live worker: %v, want ErrNotAcknowledged", err)
	}
	for _, w := range []string{"silent", "slow"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not name the live worker %s: %v", w, err)
		}
	}
	for _, w := range []string{"dead", "signed-off"} {
		if strings.Contains(err.Error(), w) {
			t.Errorf("the error names %s, which is not live: %v", w, err)
		}
	}
	if present := keysPresent(t, gone); len(present) != 2 {
		t.Errorf("keys destroyed although workers did not acknowledge: %v left", present)
	}
	if diff := tableCounts(t, f.conn, f.cfg); !mapsEqual(before, diff) {
		t.Errorf("rows deleted although workers did not acknowledge")
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	outcomes := map[string]string{}
	for _, l := range log {
		outcomes[l.Action] = l.Outcome
	}
	if len(log) != 2 || outcomes["block_ingest"] != "ok" || outcomes["await_acks"] != "failed" {
		t.Errorf("purge_log %+v: want block_ingest ok and await_acks failed, nothing else", log)
	}

	// Both acknowledge (as their reloads would); the rerun goes through.
	for _, w := range []string{"silent", "slow"} {
		ackAs(t, f.conn, db, gone, w)
	}
	rep, err = p.Offboard(ctx, gone, today)
	if err != nil {
		t.Fatalf("Offboard after the acknowledgements: %v", err)
	}
	if rep.Acknowledged() != 2 || rep.Remaining() != 0 || rep.KeysRemaining() != 0 {
		t.Errorf("report: %d acknowledged, %d rows and %d keys remaining; want 2, 0, 0", rep.Acknowledged(), rep.Remaining(), rep.KeysRemaining())
	}
	if present := keysPresent(t, gone); len(present) != 0 {
		t.Errorf("keys left: %v", present)
	}
}

func ackAs(t *testing.T, conn driver.Conn, db, tenant, worker string) {
	t.Helper()
	batch, err := conn.PrepareBatch(context.Background(), "INSERT INTO "+db+".offboard_acks (tenant_id, worker_id, acked_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append(tenant, worker, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A worker that cannot reload its list stops sending tenants' data to Vault
// once the list is StaleAfter old (by its own monotonic clock), and goes on
// after a reload succeeds. Its heartbeats stop with its reloads, so an
// offboarding in the meantime need not wait for it.
func TestWorkerThatCannotReloadStopsEncrypting(t *testing.T) {
	tenants := twoTenants("stale")
	f := newFixture(t, nil)
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	b, err := retention.NewBlocklist(ctx, retention.BlocklistConfig{
		Conn: f.conn, Database: f.cfg.Database, WorkerID: "stale-worker",
		Interval: time.Second, StaleAfter: time.Minute, Now: clock,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	addr, _ := stacktest.Vault(t)
	vault := gatedClient(t, b, addr, reg)
	t.Cleanup(func() {
		_ = transittest.NewClient(t, transit.Config{}).DestroyTenantKeys(context.Background(), tenants[0])
	})
	if _, err := vault.Encrypt(ctx, tenants[0], [][]byte{[]byte("x")}); err != nil {
		t.Fatalf("Encrypt with a fresh list: %v", err)
	}

	// ClickHouse refuses the heartbeat from now on: reloads fail.
	hb := f.cfg.Database + ".offboard_heartbeats"
	if err := f.conn.Exec(ctx, "RENAME TABLE "+hb+" TO "+hb+"_away"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err == nil {
		t.Fatal("a reload without the heartbeat table succeeded")
	}
	advance(59 * time.Second)
	if _, err := vault.Encrypt(ctx, tenants[0], [][]byte{[]byte("x")}); err != nil {
		t.Errorf("Encrypt 59s after the last good reload: %v", err)
	}
	advance(time.Second)
	requests := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total")
	for _, call := range []func() error{
		func() error { _, err := vault.Encrypt(ctx, tenants[0], [][]byte{[]byte("x")}); return err },
		func() error { _, err := vault.HMAC(ctx, tenants[1], []string{"x"}); return err },
	} {
		err := call()
		var te *transit.Error
		if !errors.Is(err, retention.ErrListStale) || !errors.As(err, &te) || !te.Temporary {
			t.Errorf("a call with a stale list: %v, want a temporary error wrapping ErrListStale", err)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total") - requests; n != 0 {
		t.Errorf("%v requests sent to Vault with a stale list", n)
	}
	// Nor does it write: an offboarding may have stopped waiting for it.
	if release, err := b.Hold(); !errors.Is(err, retention.ErrListStale) {
		if release != nil {
			release()
		}
		t.Errorf("a sink write held with a stale list: %v, want ErrListStale", err)
	}

	if err := f.conn.Exec(ctx, "RENAME TABLE "+hb+"_away TO "+hb); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, err := vault.Encrypt(ctx, tenants[0], [][]byte{[]byte("x")}); err != nil {
		t.Errorf("Encrypt after a good reload: %v", err)
	}
	release, err := b.Hold()
	if err != nil {
		t.Errorf("a sink write held after a good reload: %v", err)
	} else {
		release()
	}
}

// An observer (no worker id: replay-dlq, the offboard command) is never
// waited for, so its gate admits nothing.
func TestObserverAdmitsNoVaultCall(t *testing.T) {
	f := newFixture(t, nil)
	b, err := retention.NewBlocklist(context.Background(), retention.BlocklistConfig{Conn: f.conn, Database: f.cfg.Database})
	if err != nil {
		t.Fatal(err)
	}
	if leave, offboarded, err := b.Enter("anyone"); err == nil || offboarded || leave != nil {
		t.Errorf("an observer admitted a call (offboarded %v, err %v)", offboarded, err)
	}
	if n := clickhousetest.Count(t, f.conn, "SELECT count() FROM "+f.cfg.Database+".offboard_heartbeats"); n != 0 {
		t.Errorf("an observer wrote %d heartbeats", n)
	}
}

// A worker that stops closes its gate and signs off: an offboarding started
// right after does not wait for it.
func TestStoppedWorkerSignsOff(t *testing.T) {
	tenants := twoTenants("signoff")
	f := newFixture(t, nil)
	vault := transittest.NewClient(t, transit.Config{})
	b, stop := startBlocklist(t, f, retention.BlocklistConfig{WorkerID: "leaving-worker"})
	stop()
	if _, _, err := b.Enter(tenants[1]); err == nil {
		t.Error("a stopped worker's gate admitted a call")
	}
	p := f.offboarder(t, vault, retention.OffboardConfig{AckTimeout: time.Second})
	rep, err := p.Offboard(context.Background(), tenants[0], today)
	if err != nil {
		t.Fatalf("Offboard after the only worker stopped: %v", err)
	}
	if rep.Acknowledged() != 0 {
		t.Errorf("%d acknowledgements, want none", rep.Acknowledged())
	}
}

// offboarder is a Purger with the given wait.
func (f *fixture) offboarder(t testing.TB, shredder retention.KeyShredder, oc retention.OffboardConfig) *retention.Purger {
	t.Helper()
	p, err := retention.New(retention.Config{
		Conn: f.conn, Database: f.cfg.Database, RestrictedDatabase: f.cfg.RestrictedDatabase,
		Retention: defaultRetention(), MutationTimeout: time.Minute, Shredder: shredder, Registerer: f.reg,
		Logger: slog.New(slog.NewTextHandler(f.log, nil)), Offboarding: oc,
		Now: func() time.Time { return today },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
