package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// A buyer with more orders than one statement of an erasure names (1,203,
// statements of 500): every chunk is rewritten and verified, the answer
// counts them all, and another buyer of the seller keeps every row. Tokens
// are the real Vault's HMACs, as the protect stage writes them.
func TestAnErasureOfThousandsOfOrdersGoesByChunks(t *testing.T) {
	cfg, conn := clickhousetest.Migrated(t)
	keyPrefix := stacktest.UniqueName("ch") + "-"
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	tenant := stacktest.UniqueName("chunks")
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenant) })
	tokens, err := vault.HMAC(context.Background(), tenant, []string{"ann@example.org", "bo@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	const many, others = 1203, 7
	purchased := time.Now().UTC().Truncate(time.Second).Add(-48 * time.Hour)
	ctx := context.Background()
	insert := func(table, columns string, row func(i int, id, token string) []any) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+columns+")")
		if err != nil {
			t.Fatal(err)
		}
		for i := range many + others {
			token := tokens[0]
			if i >= many {
				token = tokens[1]
			}
			if err := b.Append(row(i, fmt.Sprintf("203-%07d-0000001", i), token)...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	insert(cfg.Database+".order_facts", "tenant_id, channel, channel_order_id, version, purchased_at, buyer_email_token, total, written_at",
		func(i int, id, token string) []any {
			return []any{tenant, "amazon", id, uint64(1), purchased, token, decimal.RequireFromString("12.34"), purchased}
		})
	insert(cfg.RestrictedDatabase+".delivery_labels", "tenant_id, channel, channel_order_id, version, purchased_at, label_ciphertext, written_at",
		func(i int, id, token string) []any {
			return []any{tenant, "amazon", id, uint64(1), purchased, "vault:v1:label", purchased}
		})
	insert(cfg.RestrictedDatabase+".financial_records",
		"tenant_id, channel, channel_order_id, version, jurisdiction, purchased_at, last_financial_event_at, is_business, total, invoice_party_ciphertext, written_at",
		func(i int, id, token string) []any {
			return []any{tenant, "amazon", id, uint64(1), "GB", purchased, purchased, uint8(0), decimal.RequireFromString("12.34"), "vault:v1:party", purchased}
		})

	p, err := retention.New(retention.Config{Conn: conn, Database: cfg.Database, RestrictedDatabase: cfg.RestrictedDatabase,
		Retention: defaultRetention(), MutationTimeout: time.Minute, Tokenizer: vault, EraseChunk: 500,
		Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := p.Erase(ctx, retention.ErasureRequest{Tenant: tenant, Identifiers: retention.Identifiers{Email: "Ann@Example.org"}})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if len(ans.Orders) != many || ans.Remaining != 0 || ans.Outcome != retention.ErasureErased {
		t.Fatalf("answer: %d orders, %d remaining, %s; want %d, 0, erased", len(ans.Orders), ans.Remaining, ans.Outcome, many)
	}
	for _, e := range ans.Erased {
		if e.Rows != many {
			t.Errorf("%s: %d rows erased, want %d", e.Table, e.Rows, many)
		}
	}
	statements := 0
	for _, a := range ans.Actions {
		if a.Kind == retention.ActionEraseTokens {
			statements++
		}
	}
	if statements != 3 {
		t.Errorf("%d token rewrites, want 3 chunks of at most 500 orders", statements)
	}
	count := func(query string, args ...any) uint64 { return clickhousetest.Count(t, conn, query, args...) }
	if n := count("SELECT count() FROM "+cfg.Database+".order_facts WHERE buyer_email_token = ?", tokens[0]); n != 0 {
		t.Errorf("%d rows still hold the buyer's token", n)
	}
	if n := count("SELECT count() FROM "+cfg.Database+".order_facts WHERE buyer_email_token = ?", tokens[1]); n != others {
		t.Errorf("the other buyer has %d rows with its token, want %d", n, others)
	}
	if n := count("SELECT count() FROM "+cfg.RestrictedDatabase+".delivery_labels WHERE tenant_id = ?", tenant); n != others {
		t.Errorf("%d labels left, want the other buyer's %d", n, others)
	}
	if n := count("SELECT count() FROM "+cfg.RestrictedDatabase+".financial_records WHERE tenant_id = ? AND invoice_party_ciphertext != ''", tenant); n != others {
		t.Errorf("%d invoice parties left, want the other buyer's %d", n, others)
	}
	if n := count("SELECT count() FROM "+cfg.RestrictedDatabase+".financial_records WHERE tenant_id = ?", tenant); n != many+others {
		t.Errorf("%d financial records, want all %d kept", n, many+others)
	}
	// What a dispatcher's list (a worker's: only workers read erasures) says
	// before it sends a courier label.
	b, err := retention.NewBlocklist(ctx, retention.BlocklistConfig{Conn: conn, Database: cfg.Database, WorkerID: "dispatcher-1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]bool{0: true, many - 1: true, many: false} {
		if got := b.Erased(tenant, "amazon", fmt.Sprintf("203-%07d-0000001", i)); got != want {
			t.Errorf("order %d: Erased %v, want %v", i, got, want)
		}
	}
}
