package transit_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// listGate is a Gate over a set of offboarded tenants and a stale flag, as
// retention.Blocklist answers: the input of the client under test (the real
// Blocklist is tested with this client in worker/retention). It counts the
// calls admitted and not yet left.
type listGate struct {
	mu         sync.Mutex
	offboarded map[string]bool
	stale      error
	inside     atomic.Int64
	// onCheck, if set, runs at each request check (to change the gate in the
	// middle of an admitted call).
	onCheck func()
}

func newListGate() *listGate { return &listGate{offboarded: map[string]bool{}} }

func (g *listGate) Enter(tenant string) (func(), bool, error) {
	offboarded, err := g.verdict(tenant)
	if offboarded || err != nil {
		return nil, offboarded, err
	}
	g.inside.Add(1)
	var once sync.Once
	return func() { once.Do(func() { g.inside.Add(-1) }) }, false, nil
}

func (g *listGate) Check(tenant string) (bool, error) {
	if g.onCheck != nil {
		g.onCheck()
	}
	return g.verdict(tenant)
}

func (g *listGate) verdict(tenant string) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.offboarded[tenant], g.stale
}

func (g *listGate) offboard(tenant string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.offboarded[tenant] = true
}

func (g *listGate) setStale(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stale = err
}

// keyExists reads a tenant key with the root token.
func keyExists(t *testing.T, ctx context.Context, name string) bool {
	t.Helper()
	s, err := stacktest.VaultClient(t).Logical().ReadWithContext(ctx, "transit/keys/"+name)
	if err != nil {
		t.Fatalf("read key %s: %v", name, err)
	}
	return s != nil
}

// A tenant offboarded elsewhere while this client knows its keys and caches
// its tokens: its keys are destroyed by another client, and this one neither
// serves a cached token nor sends anything to Vault for it, so the keys stay
// gone (transit's encrypt would otherwise re-create the key: it upserts).
// Another tenant is unaffected.
func TestGatedTenantIsRefusedAndItsKeysAreNeverRecreated(t *testing.T) {
	cfg, reg := testConfig(t)
	gate := newListGate()
	cfg.Gate = gate
	worker := newClient(t, cfg)
	shredder, _ := rootClient(t)
	ctx := ctxFor(t)
	gone, kept := transittest.NewTenant(t, shredder), transittest.NewTenant(t, shredder)

	for _, id := range []string{gone, kept} {
		mustHMAC(t, ctx, worker, id, []string{"ann@example.co.uk"})
		mustEncrypt(t, ctx, worker, id, [][]byte{[]byte("Ann Example, 1 High St")})
	}
	if n := gate.inside.Load(); n != 0 {
		t.Errorf("%d calls still inside the gate after they returned", n)
	}

	gate.offboard(gone)
	worker.ForgetTenant(gone)
	if err := shredder.DestroyTenantKeys(ctx, gone); err != nil {
		t.Fatalf("DestroyTenantKeys: %v", err)
	}
	before := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total")
	_, herr := worker.HMAC(ctx, gone, []string{"ann@example.co.uk"}) // a cached value
	_, eerr := worker.Encrypt(ctx, gone, [][]byte{[]byte("Ann Example, 1 High St")})
	for _, err := range []error{herr, eerr} {
		var oe *transit.OffboardedError
		if !errors.Is(err, transit.ErrTenantOffboarded) || !errors.As(err, &oe) || oe.Tenant != gone {
			t.Errorf("call for the offboarded tenant: %v, want an *OffboardedError naming it", err)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total") - before; n != 0 {
		t.Errorf("%v requests sent to Vault for an offboarded tenant", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_refused_total", "reason=offboarded"); n != 2 {
		t.Errorf("orderflow_vault_refused_total{reason=offboarded} = %v, want 2", n)
	}
	for _, suffix := range []string{"-hmac", "-enc"} {
		if keyExists(t, ctx, "orderflow-"+gone+suffix) {
			t.Errorf("the offboarded tenant's key %s exists again", suffix)
		}
	}
	if _, err := worker.Encrypt(ctx, kept, [][]byte{[]byte("x")}); err != nil {
		t.Errorf("another tenant is refused: %v", err)
	}
}

// A client that destroyed a tenant's keys refuses the tenant from then on,
// gate or none: the offboarding process's own client cannot re-create them.
func TestClientThatDestroyedTheKeysNeverRecreatesThem(t *testing.T) {
	c, _ := rootClient(t)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := c.DestroyTenantKeys(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("x")}); !errors.Is(err, transit.ErrTenantOffboarded) {
		t.Errorf("Encrypt after destroy: %v, want ErrTenantOffboarded", err)
	}
	if _, err := c.HMAC(ctx, id, []string{"x"}); !errors.Is(err, transit.ErrTenantOffboarded) {
		t.Errorf("HMAC after destroy: %v, want ErrTenantOffboarded", err)
	}
	present, err := c.TenantKeysPresent(ctx, id)
	if err != nil || len(present) != 0 {
		t.Errorf("TenantKeysPresent after destroy = %v, %v; want none", present, err)
	}
}

// While the gate cannot tell (its list is stale), every call for a tenant's
// data is refused with a temporary error and nothing is sent; once it can,
// calls go through again.
func TestStaleGateRefusesEveryTenantForNow(t *testing.T) {
	cfg, reg := testConfig(t)
	gate := newListGate()
	cfg.Gate = gate
	c := newClient(t, cfg)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	if _, err := c.HMAC(ctx, id, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	stale := errors.New("offboarded tenants last loaded 2m ago")
	gate.setStale(stale)
	before := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total")
	for _, call := range []func() error{
		func() error { _, err := c.HMAC(ctx, id, []string{"a"}); return err },
		func() error { _, err := c.Encrypt(ctx, id, [][]byte{[]byte("a")}); return err },
	} {
		err := call()
		var te *transit.Error
		if !errors.As(err, &te) || !te.Temporary || !errors.Is(err, stale) || errors.Is(err, transit.ErrTenantOffboarded) {
			t.Errorf("call while the gate is stale: %v, want a temporary *transit.Error wrapping the gate's reason", err)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total") - before; n != 0 {
		t.Errorf("%v requests sent while the gate was stale", n)
	}
	// The platform key is no tenant's: dead letters of unknown tenants still go.
	if _, err := c.EncryptPlatform(ctx, [][]byte{[]byte("a")}); err != nil {
		t.Errorf("EncryptPlatform while the gate is stale: %v", err)
	}
	gate.setStale(nil)
	if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("a")}); err != nil {
		t.Errorf("Encrypt once the gate is fresh: %v", err)
	}
}

// A call admitted before its tenant was offboarded sends no further request
// once it is: each request is checked, key creation included.
func TestAdmittedCallStopsWhenItsTenantIsOffboarded(t *testing.T) {
	cfg, reg := testConfig(t)
	cfg.BatchSize, cfg.Concurrency = 2, 1 // several requests per call
	gate := newListGate()
	cfg.Gate = gate
	c := newClient(t, cfg)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	checks := 0
	gate.onCheck = func() {
		checks++
		if checks == 3 { // create_key, configure_key, then the first encrypt request
			gate.offboard(id)
		}
	}
	_, err := c.Encrypt(ctx, id, [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")})
	if !errors.Is(err, transit.ErrTenantOffboarded) {
		t.Fatalf("Encrypt offboarded in the middle: %v, want ErrTenantOffboarded", err)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=encrypt"); n != 0 {
		t.Errorf("%v encrypt requests sent after the tenant was offboarded", n)
	}
	if n := gate.inside.Load(); n != 0 {
		t.Errorf("the refused call did not leave the gate (%d inside)", n)
	}
}

// A key removed by hand, of a tenant not offboarded, is reported as missing
// (ErrKeyNotFound) and forgotten, so that the next call creates it again
// instead of failing for as long as the process runs.
func TestKeyRemovedByHandIsCreatedAgain(t *testing.T) {
	c, _ := rootClient(t)
	ctx := ctxFor(t)
	id := transittest.NewTenant(t, c)
	if _, err := c.HMAC(ctx, id, []string{"first"}); err != nil {
		t.Fatal(err)
	}
	logical := stacktest.VaultClient(t).Logical()
	name := "transit/keys/orderflow-" + id + "-hmac"
	if _, err := logical.WriteWithContext(ctx, name+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := logical.DeleteWithContext(ctx, name); err != nil {
		t.Fatal(err)
	}
	_, err := c.HMAC(ctx, id, []string{"second"})
	if !errors.Is(err, transit.ErrKeyNotFound) || transit.StatusCode(err) != http.StatusBadRequest {
		t.Fatalf("HMAC with the key removed: %v, want ErrKeyNotFound", err)
	}
	if c := failure.Of(err); c != failure.Transient {
		t.Errorf("class %v: the next call creates the key again, so the pipeline retries", c)
	}
	if _, err := c.HMAC(ctx, id, []string{"third"}); err != nil {
		t.Errorf("HMAC after the missing key was reported: %v, want the key created again", err)
	}
}
