package retention_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The Vault transit client is the shredder offboarding uses.
var _ retention.KeyShredder = (*transit.Client)(nil)

// checkOffboarding offboards gone and checks: its keys are destroyed (its
// ciphertext no longer decrypts, stay's still does), none of its rows remain,
// stay's rows are untouched, purge_log holds shred_keys, one offboard_delete
// and one verify per table, and a second offboarding is a successful no-op.
func checkOffboarding(t *testing.T, f *fixture, p *retention.Purger, vault *transit.Client, gone, stay string, secrets map[string]string, asOf time.Time) {
	t.Helper()
	ctx := context.Background()
	before := tableCounts(t, f.conn, f.cfg)
	rowsBefore := map[string]float64{}
	for _, table := range tables {
		rowsBefore[table] = telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total", "table="+table, "reason=offboarding")
	}

	rep, err := p.Offboard(ctx, gone, asOf)
	if err != nil {
		t.Fatalf("Offboard: %v", err)
	}
	want := f.model.offboard(gone)
	if diff := cmp.Diff(f.model.counts(), tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("rows per table/tenant after offboarding (-want +got):\n%s", diff)
	}
	for k, n := range before {
		if strings.HasSuffix(k, "/"+stay) && tableCounts(t, f.conn, f.cfg)[k] != n {
			t.Errorf("%s changed from %d rows: another tenant's rows must stay", k, n)
		}
	}
	if _, err := vault.Decrypt(ctx, gone, []string{secrets[gone]}); err == nil {
		t.Error("the offboarded tenant's ciphertext still decrypts")
	}
	if plain, err := vault.Decrypt(ctx, stay, []string{secrets[stay]}); err != nil || len(plain) != 1 {
		t.Errorf("the other tenant's ciphertext no longer decrypts: %v", err)
	}

	// The report and purge_log: block_ingest, await_acks, shred_keys, then
	// per table, then the keys read back from Vault.
	var kinds []string
	deleted := map[string]uint64{}
	for _, a := range rep.Actions {
		kinds = append(kinds, string(a.Kind)+" "+a.Table)
		if a.Kind == retention.ActionOffboardDelete {
			deleted[a.Table] = a.Rows
		}
	}
	wantKinds := []string{"block_ingest ", "await_acks ", "shred_keys "}
	for _, kind := range []string{"offboard_delete", "verify"} {
		for _, table := range tables {
			wantKinds = append(wantKinds, kind+" "+table)
		}
	}
	wantKinds = append(wantKinds, "verify "+retention.VerifyVault)
	if diff := cmp.Diff(wantKinds, kinds); diff != "" {
		t.Errorf("offboarding actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("rows deleted per table (-want +got):\n%s", diff)
	}
	if rep.Remaining() != 0 || rep.KeysRemaining() != 0 || rep.Deleted() != sumCounts(want) || rep.Tenant != gone {
		t.Errorf("report: deleted %d, remaining %d rows and %d keys, tenant %s; want %d, 0, 0, %s",
			rep.Deleted(), rep.Remaining(), rep.KeysRemaining(), rep.Tenant, sumCounts(want), gone)
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	if len(log) != len(wantKinds) {
		t.Errorf("purge_log holds %d rows for the offboarding, want %d", len(log), len(wantKinds))
	}
	logged := map[string]uint64{}
	for _, l := range log {
		if l.Tenant != gone || l.Outcome != "ok" || l.Reason != "offboarding" || l.Error != "" {
			t.Errorf("purge_log row %+v: want tenant %s, outcome ok, reason offboarding", l, gone)
		}
		logged[l.Action+" "+l.Table] = l.Rows
	}
	for _, table := range tables {
		if logged["offboard_delete "+table] != want[table] || logged["verify "+table] != 0 {
			t.Errorf("purge_log for %s: deleted %d, verified %d remaining; want %d, 0", table,
				logged["offboard_delete "+table], logged["verify "+table], want[table])
		}
		got := telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total", "table="+table, "reason=offboarding") - rowsBefore[table]
		if got != float64(want[table]) {
			t.Errorf("orderflow_purge_rows_total{table=%s,reason=offboarding} grew by %v, want %d", table, got, want[table])
		}
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_offboardings_total", "outcome=ok"); got != 1 {
		t.Errorf("offboardings{ok} = %v, want 1", got)
	}

	// Again: keys already gone, nothing to delete, verified again.
	again, err := p.Offboard(ctx, gone, asOf)
	if err != nil {
		t.Fatalf("second Offboard: %v", err)
	}
	if again.Deleted() != 0 || again.Remaining() != 0 || len(again.Actions) != len(wantKinds) {
		t.Errorf("second offboarding: deleted %d, remaining %d, %d actions; want 0, 0, %d", again.Deleted(), again.Remaining(), len(again.Actions), len(wantKinds))
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_offboardings_total", "outcome=ok"); got != 2 {
		t.Errorf("offboardings{ok} = %v after the second, want 2", got)
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_purge_rows_total", "reason=offboarding") - sumFloats(rowsBefore); got != float64(sumCounts(want)) {
		t.Errorf("offboarding rows counted %v, want %d (the second run counts none)", got, sumCounts(want))
	}
}

func sumFloats(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

func TestOffboardIsRefusedBeforeAnythingIsDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tenants := twoTenants("refuse")
	f := newFixture(t, smallSet(tenants))
	vault := transittest.NewClient(t, transit.Config{})
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenants[0]) })
	secret, err := vault.Encrypt(ctx, tenants[0], [][]byte{[]byte("Ann Example")})
	if err != nil {
		t.Fatal(err)
	}
	before := tableCounts(t, f.conn, f.cfg)

	noShredder := f.purger(t, defaultRetention(), nil)
	if _, err := noShredder.Offboard(ctx, tenants[0], today); !errors.Is(err, retention.ErrNoShredder) {
		t.Errorf("Offboard without a shredder = %v, want ErrNoShredder", err)
	}
	p := f.purger(t, defaultRetention(), vault)
	for _, bad := range []string{"", "Acme", "acme'; DROP TABLE x; --", "a b", strings.Repeat("a", 65), "acme\n", tenants[0] + "'"} {
		_, err := p.Offboard(ctx, bad, today)
		if err == nil || bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("Offboard(%q) = %v, want a refusal that does not echo the id", bad, err)
		}
	}
	if _, err := vault.Decrypt(ctx, tenants[0], secret); err != nil {
		t.Errorf("a refused offboarding destroyed keys: %v", err)
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("refused offboardings changed the tables (-before +after):\n%s", diff)
	}
	if n := countLog(t, f); n != 0 {
		t.Errorf("refused offboardings wrote %d purge_log rows", n)
	}
	for _, outcome := range []string{"ok", "failed"} {
		if got := telemetrytest.Sum(t, f.reg, "orderflow_offboardings_total", "outcome="+outcome); got != 0 {
			t.Errorf("offboardings{%s} = %v after refusals, want 0", outcome, got)
		}
	}
}

// When Vault refuses to destroy the keys (here: a token whose policy may not
// manage transit keys), nothing is deleted: the rows stay until an offboarding
// that can shred them first.
func TestOffboardStopsWhenTheKeysCannotBeDestroyed(t *testing.T) {
	t.Parallel()
	tenants := twoTenants("vaultdeny")
	f := newFixture(t, smallSet(tenants))
	before := tableCounts(t, f.conn, f.cfg)
	weak := weakTransitClient(t)
	p := f.purger(t, defaultRetention(), weak)
	rep, err := p.Offboard(context.Background(), tenants[0], today)
	if err == nil {
		t.Fatal("Offboard with keys that cannot be destroyed succeeded")
	}
	if diff := cmp.Diff(before, tableCounts(t, f.conn, f.cfg)); diff != "" {
		t.Errorf("rows were deleted although the keys were not destroyed (-before +after):\n%s", diff)
	}
	log := purgeLog(t, f.conn, f.cfg, rep.RunID)
	// The tenant is refused from the start (block_ingest), whatever follows.
	outcomes := map[string]string{}
	for _, l := range log {
		if l.Tenant != tenants[0] || (l.Outcome == "failed") == (l.Error == "") {
			t.Errorf("purge_log row %+v: want tenant %s and an error exactly when failed", l, tenants[0])
		}
		outcomes[l.Action] = l.Outcome
	}
	if want := map[string]string{"block_ingest": "ok", "await_acks": "ok", "shred_keys": "failed"}; len(log) != 3 || !cmp.Equal(outcomes, want) {
		t.Errorf("purge_log = %+v, want block_ingest ok, await_acks ok and shred_keys failed for %s", log, tenants[0])
	}
	if got := telemetrytest.Sum(t, f.reg, "orderflow_offboardings_total", "outcome=failed"); got != 1 {
		t.Errorf("offboardings{failed} = %v, want 1", got)
	}
}

// weakTransitClient is a transit client whose token has only Vault's default
// policy: it logs in, but may not read or delete transit keys.
func weakTransitClient(t *testing.T) *transit.Client {
	t.Helper()
	root := stacktest.VaultClient(t)
	secret, err := root.Auth().Token().CreateWithContext(context.Background(), &vaultapi.TokenCreateRequest{
		Policies: []string{"default"}, TTL: "10m", NoParent: true,
	})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	client, err := transit.New(context.Background(), transit.Config{
		Address: root.Address(), MaxAttempts: 1,
		Auth: transit.Auth{Token: config.Secret(secret.Auth.ClientToken)},
	})
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func countLog(t *testing.T, f *fixture) uint64 {
	t.Helper()
	var n uint64
	if err := f.conn.QueryRow(context.Background(), "SELECT count() FROM "+f.cfg.Database+".purge_log").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
