package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// After an offboarding, workers refuse the tenant (the Blocklist sees it) and
// rows of the tenant that arrive all the same, such as a batch in flight
// during the offboarding, are deleted by the next purge pass, and by it alone.
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

	before, err := retention.NewBlocklist(ctx, f.conn, f.cfg.Database, nil)
	if err != nil {
		t.Fatal(err)
	}
	if before.Offboarded(tenants[0]) {
		t.Fatal("a tenant is offboarded before its offboarding")
	}
	if _, err := p.Offboard(ctx, tenants[0], today); err != nil {
		t.Fatalf("Offboard: %v", err)
	}
	// A running worker's list catches up at its next reload.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- before.Run(runCtx, 10*time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for !before.Offboarded(tenants[0]) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("Blocklist.Run: %v", err)
	}
	if !before.Offboarded(tenants[0]) || before.Offboarded(tenants[1]) {
		t.Errorf("blocklist: %s offboarded %v, %s offboarded %v; want true, false",
			tenants[0], before.Offboarded(tenants[0]), tenants[1], before.Offboarded(tenants[1]))
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
	rep, err := p.Purge(ctx, today, false)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	for _, r := range []retention.Report{dry, rep} {
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
