package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
)

// `orderflow reconcile` prints each period's records beside its postings:
// every period even once posted, and the one whose posting is missing
// named with its difference.
func TestReconcileNamesTheDifference(t *testing.T) {
	e := newStackEnv(t)
	_, conn := e.useMigrated(t)
	e.setenv(t)
	ctx := context.Background()
	cfg := e.config(t)
	v := outboxtest.NewVault(t)
	orders := v.Own(t, pipelinetest.Canonical(pipelinetest.Orders(t, outboxtest.FixtureDirs()...)))
	w, err := facts.New(facts.Config{Conn: conn, Database: cfg.ClickHouse.Database, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase,
		LabelRetention: config.Period{Years: 1}, Now: func() time.Time { return outboxtest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, 0, v.Protect(t, orders)); err != nil {
		t.Fatal(err)
	}
	tenant := orders[0].TenantID
	l, err := ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	records, err := l.Records(ctx, tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	due, err := postings.Build(records, nil, postings.Config{Grace: 48 * time.Hour, Now: time.Now()})
	if err != nil || len(due) < 2 {
		t.Fatalf("%d postings due (%v): the fixtures changed?", len(due), err)
	}
	missing := due[0]
	results := make([]accounting.Result, len(due)-1)
	for i := range results {
		results[i] = accounting.Result{Result: courier.Result{Outcome: courier.Done}, ProviderID: "x"}
	}
	if err := l.Record(ctx, "books", due[1:], results, time.Now()); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "orderflow.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`egress:
  allowed_hosts: [api.xero.com]
connectors:
  books:
    kind: xero
    purpose: accounting
    endpoint: https://api.xero.com/api.xro/2.0
    credentials: {env: TEST_XERO_SECRET}
    tenants: [%s]
    accounting:
      organisation: 2f7b3c1e-6a0d-4a8b-9f0e-1c2d3e4f5a6b
      client_id: app
      refresh_token: {env: TEST_XERO_REFRESH}
      accounts: {sales: "200", shipping: "205", discount: "210", other: "200", refund: "215", marketplace_vat: "825"}
      tax_types: {"20": OUTPUT2}
`, tenant)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_XERO_SECRET", "s")
	t.Setenv("TEST_XERO_REFRESH", "r")
	var stdout, stderr strings.Builder
	if code := run([]string{"reconcile", "--config", path, "--tenant", tenant, "--from", "2026-01-01", "--to", "2026-11-30"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	lines := strings.Split(out, "\n")
	var diff, ok int
	for _, line := range lines {
		switch {
		case strings.HasSuffix(strings.TrimSpace(line), "DIFFERENCE"):
			diff++
			_, _, gross := missing.Totals()
			if !strings.Contains(line, missing.Period.String()) || !strings.Contains(line, gross.String()) {
				t.Errorf("the difference is not the missing posting's (%s, %s): %s", missing.Period, gross, line)
			}
		case strings.HasSuffix(strings.TrimSpace(line), "ok"):
			ok++
		}
	}
	if diff != 1 || ok != len(due)-1 || !strings.Contains(out, "Not yet reconciled: "+missing.Currency) {
		t.Errorf("%d differences and %d periods ok, want 1 and %d:\n%s", diff, ok, len(due)-1, out)
	}
}
