// Package outboxtest makes courier jobs for tests the way the pipeline
// does: the normaliser's fixtures, owned by fresh tenants on the stack's
// Vault (destroyed at the test's end), protected by the real stage and
// selected by outbox.Jobs.
package outboxtest

import (
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// Now is the tests' clock: after every fixture's purchase.
var Now = time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)

// FixtureDirs are the normaliser's fixtures of every channel: realistic
// orders, ugly ones included.
func FixtureDirs() []string {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..", "..", "worker", "normalize", "testdata")
	return []string{filepath.Join(root, "amazon"), filepath.Join(root, "amazon2026"), filepath.Join(root, "ebay")}
}

// Vault is a protect stage on the stack's Vault, with the tenants of one
// test, whose keys are destroyed when it ends.
type Vault struct {
	Client  *transit.Client
	Stage   *protect.Stage
	tenants map[string]string // fixture tenant -> this test's tenant
}

// NewVault returns the test's Vault.
func NewVault(t testing.TB) *Vault {
	t.Helper()
	client := transittest.NewClient(t, transit.Config{})
	return &Vault{Client: client, Stage: protecttest.NewStage(t, client, protect.Config{}), tenants: map[string]string{}}
}

// Tenant is this test's tenant standing for a fixture's.
func (v *Vault) Tenant(t testing.TB, fixtureTenant string) string {
	t.Helper()
	id, ok := v.tenants[fixtureTenant]
	if !ok {
		id = transittest.NewTenant(t, v.Client)
		v.tenants[fixtureTenant] = id
	}
	return id
}

// Own moves the orders to this test's tenants.
func (v *Vault) Own(t testing.TB, orders []order.Order) []order.Order {
	t.Helper()
	out := slices.Clone(orders)
	for i := range out {
		out[i].TenantID = v.Tenant(t, out[i].TenantID)
	}
	return out
}

// Protect runs the real protect stage.
func (v *Vault) Protect(t testing.TB, orders []order.Order) []protected.Order {
	t.Helper()
	out, err := v.Stage.Protect(context.Background(), orders)
	if err != nil {
		t.Fatalf("protect %d orders: %v", len(orders), err)
	}
	return out
}

// Recipient decrypts a job's Recipient under its tenant's key.
func (v *Vault) Recipient(t testing.TB, j outbox.Job) protected.Document {
	t.Helper()
	plain, err := v.Client.Decrypt(context.Background(), j.TenantID, []string{j.Recipient})
	if err != nil {
		t.Fatalf("decrypt the recipient of %s: %v", j.Key(), err)
	}
	doc, err := protected.ParseDocument(plain[0])
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// Jobs returns the courier jobs of every good fixture, owned by the test's
// tenants, as the pipeline writes them.
func (v *Vault) Jobs(t testing.TB) []outbox.Job {
	t.Helper()
	return outbox.Jobs(v.Protect(t, v.Own(t, pipelinetest.Canonical(pipelinetest.Orders(t, FixtureDirs()...)))), Now)
}

// Decode reads a job as the dispatcher does.
func Decode(t testing.TB, value []byte) outbox.Job {
	t.Helper()
	var j outbox.Job
	if err := json.Unmarshal(value, &j); err != nil {
		t.Fatalf("a job that does not decode: %v", err)
	}
	return j
}
