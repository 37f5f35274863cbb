package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/ledger"
	"github.com/orderflow/orderflow/connectors/accounting/tokenstore"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/connectors/outbox/outboxtest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// `orderflow dispatch` with an accounting connector: its pass at start
// writes the seller's due postings, its accounting dispatcher posts them to
// Xero (standing in) and records them; the ledger then holds one row per
// Xero document, and what Xero refused (a rate the mapping lacks) parked.
func TestDispatchPostsTheBooks(t *testing.T) {
	e := newStackEnv(t)
	_, conn := e.useMigrated(t)
	ctx := context.Background()
	v := outboxtest.NewVault(t)
	orders := v.Own(t, pipelinetest.Canonical(pipelinetest.Orders(t, outboxtest.FixtureDirs()...)))
	cfg0 := e.config(t)
	w, err := facts.New(facts.Config{Conn: conn, Database: cfg0.ClickHouse.Database, RestrictedDatabase: cfg0.ClickHouse.RestrictedDatabase,
		LabelRetention: config.Period{Years: 1}, Now: func() time.Time { return outboxtest.Now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, 0, v.Protect(t, orders)); err != nil {
		t.Fatal(err)
	}
	tenant := orders[0].TenantID
	srv := xerotest.New(t, xerotest.Config{})
	path := filepath.Join(t.TempDir(), "orderflow.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`connectors:
  books:
    kind: xero
    purpose: accounting
    endpoint: %s
    credentials: {env: TEST_XERO_SECRET}
    tenants: [%s]
    accounting:
      organisation: %s
      client_id: test-client
      refresh_token: {env: TEST_XERO_REFRESH}
      token_url: %s
      accounts: {sales: "200", shipping: "205", discount: "210", other: "200", refund: "215", marketplace_vat: "825"}
      tax_types: {"20": OUTPUT2, "5": RROUTPUT, "0": ZERORATEDOUTPUT}
      period: weekly
`, srv.URL, tenant, srv.XeroTenantID(), srv.TokenURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	group := stacktest.UniqueName("accounting")
	cfg, err := config.Load(path, append(e.vars, "TEST_XERO_SECRET=test-secret", "TEST_XERO_REFRESH=refresh-0",
		"ORDERFLOW_DISPATCH_ACCOUNTING_GROUP_ID="+group, "ORDERFLOW_DISPATCH_BATCH_MAX_WAIT=100ms"))
	if err != nil {
		t.Fatal(err)
	}
	reg := telemetry.NewRegistry()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runDispatcher(runCtx, cfg, reg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	l, err := ledger.New(ledger.Config{Conn: conn, RestrictedDatabase: cfg.ClickHouse.RestrictedDatabase})
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()
	// Wait for the pass (its gauge) and for the dispatcher to commit what
	// it wrote.
	var due float64
	for deadline := time.Now().Add(90 * time.Second); due == 0; time.Sleep(100 * time.Millisecond) {
		if due = telemetrytest.Sum(t, reg, "orderflow_accounting_unposted_periods", "tenant="+tenant); due == 0 && time.Now().After(deadline) {
			t.Fatal("no accounting pass in 90s")
		}
	}
	waitCommitted(t, e, group, []string{e.accounting}, 3)
	ps, err := l.Posted(ctx, "books", tenant, from, to)
	if err != nil {
		t.Fatal(err)
	}
	posted := len(ps)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("the dispatcher: %v", err)
	}
	for _, doc := range srv.Documents() {
		if !strings.HasPrefix(doc.Reference, "orderflow ") && !strings.HasPrefix(doc.InvoiceNumber, "orderflow ") {
			t.Errorf("a document not referenced as orderflow's posting: %q", doc.Reference)
		}
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("requests broke Xero's contract: %v", v)
	}
	// Xero rotated the refresh token; the latest is kept in Vault for the
	// next start.
	tokens, err := tokenstore.New(tokenstore.Config{Client: stacktest.VaultClient(t), Path: "orderflow/connectors/" + cfg.ClickHouse.Database})
	if err != nil {
		t.Fatal(err)
	}
	if kept, ok, err := tokens.Load(ctx, "books", "refresh-0"); err != nil || !ok || kept.Reveal() != srv.RefreshToken() || srv.Refreshes() == 0 {
		t.Errorf("kept refresh token ok=%v (%v); want Xero's latest after %d refreshes", ok, err, srv.Refreshes())
	}
	// Every posting the pass found due is recorded, each one Xero document
	// (a posting whose lines round to nothing makes none).
	// What Xero could not take (a VAT rate the mapping has no tax type
	// for: the seller's DE or US sales) is parked, never lost.
	parked := stacktest.ReadAll(t, e.brokers, e.parked, 3)
	for _, m := range parked {
		for _, h := range m.Headers {
			if h.Key == "orderflow-park-reason" && string(h.Value) != "refused" {
				t.Errorf("a posting parked as %s", h.Value)
			}
		}
	}
	if int(due) != posted+len(parked) {
		t.Errorf("the pass found %v postings due; the ledger holds %d and %d are parked", due, posted, len(parked))
	}
	byKey := map[string]int{}
	for _, doc := range srv.Documents() {
		byKey[doc.IdempotencyKey]++
	}
	for _, p := range ps {
		if byKey[p.IdempotencyKey] > 1 {
			t.Errorf("posting %s is %d Xero documents", p.Reference(), byKey[p.IdempotencyKey])
		}
	}
}

// `orderflow dispatch` checks each accounting connector's mapping against
// the provider's organisation before anything is posted: an account code
// the organisation does not have, or a tax type at another rate, refuses
// the start, naming the connector and the keys.
func TestDispatchRefusesAMappingTheOrganisationLacks(t *testing.T) {
	e := newStackEnv(t)
	e.useMigrated(t)
	srv := xerotest.New(t, xerotest.Config{})
	path := filepath.Join(t.TempDir(), "orderflow.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`connectors:
  books:
    kind: xero
    purpose: accounting
    endpoint: %s
    credentials: {env: TEST_XERO_SECRET}
    tenants: [acme-home]
    accounting:
      organisation: %s
      client_id: test-client
      refresh_token: {env: TEST_XERO_REFRESH}
      token_url: %s
      accounts: {sales: "999", shipping: "205", discount: "210", other: "200", refund: "215", marketplace_vat: "825"}
      tax_types: {"20": OUTPUT2, "5": OUTPUT2}
`, srv.URL, srv.XeroTenantID(), srv.TokenURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, append(e.vars, "TEST_XERO_SECRET=test-secret", "TEST_XERO_REFRESH=refresh-0",
		"ORDERFLOW_DISPATCH_ACCOUNTING_GROUP_ID="+stacktest.UniqueName("accounting")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = runDispatcher(ctx, cfg, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !errors.Is(err, accounting.ErrMapping) {
		t.Fatalf("the dispatcher started with a mapping Xero lacks: %v", err)
	}
	for _, want := range []string{"connectors.books.accounting", `mapping.accounts.sales: account code "999"`, `mapping.tax_types.5: tax type "OUTPUT2" has another effective rate`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q:\n%v", want, err)
		}
	}
	if n := len(srv.Documents()); n != 0 {
		t.Errorf("%d documents posted before the mapping was checked", n)
	}
}
