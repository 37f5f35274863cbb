package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/access"
	"github.com/orderflow/orderflow/worker/breach"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/erasure"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// buyerOrder is one order of the erasure test: a channel fixture made an
// order of the given buyer, purchased recently enough to have a label.
type buyerOrder struct {
	fixture  string // under worker/normalize/testdata
	id       string
	email    string
	username string // eBay only
}

// message returns the order's snapshot as the channel would send it, last
// updated at updated.
func (o buyerOrder) message(t *testing.T, tenant string, purchased, updated time.Time) kafka.Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("../../normalize/testdata", o.fixture))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	env["tenant_id"] = tenant
	env["received_at"] = updated.Add(time.Minute).Format(time.RFC3339)
	payload := env["payload"].(map[string]any)
	if env["channel"] == "amazon" {
		ord := payload["order"].(map[string]any)
		ord["AmazonOrderId"] = o.id
		ord["PurchaseDate"] = purchased.Format(time.RFC3339)
		ord["LastUpdateDate"] = updated.Format(time.RFC3339)
		info, _ := ord["BuyerInfo"].(map[string]any)
		if info == nil {
			info = map[string]any{}
			ord["BuyerInfo"] = info
		}
		info["BuyerEmail"] = o.email
	} else {
		payload["orderId"] = o.id
		payload["legacyOrderId"] = o.id
		payload["creationDate"] = purchased.Format("2006-01-02T15:04:05.000Z")
		payload["lastModifiedDate"] = updated.Format("2006-01-02T15:04:05.000Z")
		buyer := payload["buyer"].(map[string]any)
		buyer["username"] = o.username
		reg, _ := buyer["buyerRegistrationAddress"].(map[string]any)
		if reg == nil {
			reg = map[string]any{}
			buyer["buyerRegistrationAddress"] = reg
		}
		reg["email"] = o.email
	}
	value, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Key: []byte(tenant + "/" + o.id), Value: value}
}

// A buyer's erasure on the real Kafka, ClickHouse and Vault, with a live
// worker: the buyer has orders on Amazon (one a business order with a VAT
// invoice) and on eBay, and another buyer of the same seller has one.
// `orderflow erase --email` waits for the worker's acknowledgement, then
// leaves no row holding the buyer's token, no label of the buyer's orders and
// no invoice party but the business invoice's, which the answer says is kept
// and until when; financial totals are unchanged to the penny, and the other
// buyer is untouched. A later snapshot of an erased order, written after the
// erasure, is erased as it is written; a new order of the same buyer is not
// (a new relationship, which the request did not cover).
func TestEraseABuyerOfALiveWorker(t *testing.T) {
	e := newStackEnv(t)
	migrated, conn := e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("er")
	e.vars = append(e.vars,
		"ORDERFLOW_RETENTION_INTERVAL=0",
		"ORDERFLOW_OFFBOARDING_RELOAD_INTERVAL=200ms",
		"ORDERFLOW_OFFBOARDING_STALE_AFTER=5s",
		"ORDERFLOW_OFFBOARDING_LIVE_WITHIN=20s",
		"ORDERFLOW_OFFBOARDING_ACK_TIMEOUT=1m",
	)
	tenant := stacktest.UniqueName("erase")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenant) })

	const email, other = "Ann.Erasure@Example.org", "bo.stays@example.org"
	amazonUK := buyerOrder{fixture: "amazon/uk-two-lines-typical.json", id: "203-1000001-0000001", email: email}
	amazonDE := buyerOrder{fixture: "amazon/de-eur-business-vat.json", id: "302-1000002-0000002", email: email}
	ebay := buyerOrder{fixture: "ebay/typical-two-line.json", id: "12-10000-00003", email: strings.ToLower(email), username: "ann_erasure"}
	stays := buyerOrder{fixture: "amazon/uk-single-line-shipped.json", id: "204-1000004-0000004", email: other}
	later := buyerOrder{fixture: "amazon/uk-single-line-shipped.json", id: "205-1000005-0000005", email: email}

	now := time.Now().UTC().Truncate(time.Second)
	purchased := now.Add(-48 * time.Hour)
	produce := func(topic string, msgs ...kafka.Message) {
		t.Helper()
		w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		defer w.Close()
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	produce(e.amazon, amazonUK.message(t, tenant, purchased, purchased.Add(time.Hour)),
		amazonDE.message(t, tenant, purchased, purchased.Add(time.Hour)), stays.message(t, tenant, purchased, purchased.Add(time.Hour)))
	produce(e.ebay, ebay.message(t, tenant, purchased, purchased.Add(time.Hour)))

	cfg := e.config(t)
	ctx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	done := make(chan error, 1)
	go func() {
		done <- runWorker(ctx, cfg, nil, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	db, rdb := migrated.Database, migrated.RestrictedDatabase
	count := func(query string, args ...any) uint64 { return clickhousetest.Count(t, conn, query, args...) }
	waitFor(t, "the four orders", func() bool {
		return count("SELECT count() FROM "+db+".order_facts WHERE tenant_id = ?", tenant) == 4 &&
			count("SELECT count() FROM "+rdb+".financial_records WHERE tenant_id = ?", tenant) == 4 &&
			count("SELECT count() FROM "+rdb+".delivery_labels WHERE tenant_id = ?", tenant) == 4
	})
	totals := func() string {
		var s string
		if err := conn.QueryRow(context.Background(), "SELECT toString(sum(total)) || '/' || toString(sum(tax)) FROM "+rdb+
			".financial_records FINAL WHERE tenant_id = ?", tenant).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := totals()

	out := runOrderflow(t, e.vars, "erase", "--tenant", tenant, "--email", "  "+strings.ToUpper(email)+" ", "--json")
	var ans retention.ErasureAnswer
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatalf("answer: %v\n%s", err, out)
	}
	erased := []string{"amazon/" + amazonUK.id, "amazon/" + amazonDE.id, "ebay/" + ebay.id}
	if ans.Outcome != retention.ErasureErased || !slices.Equal(ans.Orders, erased) || ans.Remaining != 0 {
		t.Fatalf("answer: outcome %s, orders %v, remaining %d; want erased, %v, 0", ans.Outcome, ans.Orders, ans.Remaining, erased)
	}
	if strings.Contains(out, email) || strings.Contains(strings.ToLower(out), strings.ToLower(email)) {
		t.Error("the answer holds the buyer's email")
	}
	checkKeptInvoice(t, ans, "amazon/"+amazonDE.id)

	tokens, err := vault.HMAC(context.Background(), tenant, []string{strings.ToLower(email), ebay.username})
	if err != nil {
		t.Fatal(err)
	}
	checkErased(t, conn, migrated, tenant, tokens, ans.Marker, []buyerOrder{amazonUK, amazonDE, ebay}, amazonDE)
	if got := totals(); got != before {
		t.Errorf("financial totals %s after the erasure, want %s as before", got, before)
	}
	var otherToken string
	if err := conn.QueryRow(context.Background(), "SELECT buyer_email_token FROM "+db+".order_facts WHERE tenant_id = ? AND channel_order_id = ?",
		tenant, stays.id).Scan(&otherToken); err != nil || !strings.HasPrefix(otherToken, "vault:") {
		t.Errorf("the other buyer's token is %q (%v), want it kept", otherToken, err)
	}
	if n := count("SELECT count() FROM "+rdb+".delivery_labels WHERE tenant_id = ? AND channel_order_id = ?", tenant, stays.id); n != 1 {
		t.Errorf("the other buyer's order has %d labels, want 1", n)
	}
	checkErasureLog(t, conn, db, tenant, ans)

	// A later snapshot of an erased order, and a new order of the buyer.
	produce(e.amazon, amazonUK.message(t, tenant, purchased, now.Add(-time.Minute)), later.message(t, tenant, now.Add(-time.Hour), now.Add(-time.Minute)))
	waitFor(t, "the later snapshot and the new order", func() bool {
		return count("SELECT count() FROM "+db+".order_facts WHERE tenant_id = ?", tenant) == 6 &&
			count("SELECT count() FROM "+rdb+".financial_records WHERE tenant_id = ?", tenant) == 6
	})
	waitCommitted(t, e, cfg.Kafka.GroupID, []string{e.amazon, e.ebay}, 3)
	stopWorker()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	checkErased(t, conn, migrated, tenant, tokens, ans.Marker, []buyerOrder{amazonUK, amazonDE, ebay}, amazonDE, later.id)
	if n := count("SELECT count() FROM "+db+".order_facts WHERE tenant_id = ? AND channel_order_id = ? AND buyer_email_token = ?",
		tenant, later.id, tokens[0]); n != 1 {
		t.Errorf("the buyer's new order has %d rows with the buyer's token, want 1: an erasure covers the orders held when it ran", n)
	}
}

// checkErased wants no row of the tenant to hold a token (but those of newer
// orders, which the erasure did not cover), and each erased
// order's rows to hold only the marker, no label, and no invoice party but
// kept's.
func checkErased(t *testing.T, conn driver.Conn, ch config.ClickHouse, tenant string, tokens []string, marker string, orders []buyerOrder, kept buyerOrder, newer ...string) {
	t.Helper()
	count := func(query string, args ...any) uint64 { return clickhousetest.Count(t, conn, query, args...) }
	for _, tok := range tokens {
		n := count("SELECT count() FROM "+ch.Database+".order_facts WHERE tenant_id = ? AND NOT has(?, channel_order_id) AND has([buyer_name_token, buyer_email_token, "+
			"buyer_phone_token, buyer_username_token, buyer_user_id_token], ?)", tenant, append([]string{""}, newer...), tok)
		if n != 0 {
			t.Errorf("%d rows of order_facts still hold one of the buyer's tokens", n)
		}
	}
	if !strings.HasPrefix(marker, "erased:") {
		t.Fatalf("marker %q", marker)
	}
	for _, o := range orders {
		if n := count("SELECT count() FROM "+ch.Database+".order_facts WHERE tenant_id = ? AND channel_order_id = ?", tenant, o.id); n == 0 {
			t.Errorf("order %s: its facts are gone, want them kept with the marker", o.id)
		}
		n := count("SELECT count() FROM "+ch.Database+".order_facts WHERE tenant_id = ? AND channel_order_id = ? AND ("+
			"buyer_name_token NOT IN ('', ?) OR buyer_email_token NOT IN ('', ?) OR buyer_phone_token NOT IN ('', ?) OR "+
			"buyer_username_token NOT IN ('', ?) OR buyer_user_id_token NOT IN ('', ?))", tenant, o.id, marker, marker, marker, marker, marker)
		if n != 0 {
			t.Errorf("order %s: %d rows hold a buyer token other than the marker", o.id, n)
		}
		if n := count("SELECT count() FROM "+ch.Database+".order_facts WHERE tenant_id = ? AND channel_order_id = ? AND buyer_email_token = ?",
			tenant, o.id, marker); n == 0 {
			t.Errorf("order %s: no row holds the marker in place of the email token", o.id)
		}
		if n := count("SELECT count() FROM "+ch.RestrictedDatabase+".delivery_labels WHERE tenant_id = ? AND channel_order_id = ?", tenant, o.id); n != 0 {
			t.Errorf("order %s: %d label rows remain", o.id, n)
		}
		if n := count("SELECT count() FROM "+ch.RestrictedDatabase+".financial_records WHERE tenant_id = ? AND channel_order_id = ?", tenant, o.id); n == 0 {
			t.Errorf("order %s: its financial record is gone, want it kept", o.id)
		}
		parties := count("SELECT count() FROM "+ch.RestrictedDatabase+".financial_records WHERE tenant_id = ? AND channel_order_id = ? AND invoice_party_ciphertext != ''", tenant, o.id)
		switch {
		case o.id == kept.id && parties == 0:
			t.Errorf("order %s: the business buyer's invoice party is gone, want it kept (a VAT invoice must be)", o.id)
		case o.id != kept.id && parties != 0:
			t.Errorf("order %s: %d rows keep an invoice party", o.id, parties)
		}
	}
}

// checkKeptInvoice wants the answer to keep order's invoice party, until a
// date six years and more ahead, and the other financial data of every order.
func checkKeptInvoice(t *testing.T, ans retention.ErasureAnswer, order string) {
	t.Helper()
	var invoice, amounts bool
	for _, k := range ans.Kept {
		if k.Table == "financial_records" && slices.Equal(k.Orders, []string{order}) {
			invoice = true
			if k.Until.Before(time.Now().AddDate(6, 0, 0)) || k.Why == "" {
				t.Errorf("the kept invoice party is kept until %s because %q; want more than six years ahead, with a reason", k.Until, k.Why)
			}
		}
		if k.Table == "financial_records" && len(k.Orders) == len(ans.Orders) {
			amounts = true
		}
	}
	if !invoice || !amounts {
		t.Errorf("the answer's kept data %+v does not list the business invoice party of %s and the amounts of every order", ans.Kept, order)
	}
}

// checkErasureLog wants the erasure's actions in purge_log, each ok, with no
// token in any predicate, and its answer in erasure_requests.
func checkErasureLog(t *testing.T, conn driver.Conn, db, tenant string, ans retention.ErasureAnswer) {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT toString(action), table, rows, toString(outcome), predicate, reason FROM "+db+
		".purge_log WHERE run_id = ? ORDER BY started_at, action", ans.RunID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]int{}
	for rows.Next() {
		var action, table, outcome, predicate, reason string
		var n uint64
		if err := rows.Scan(&action, &table, &n, &outcome, &predicate, &reason); err != nil {
			t.Fatal(err)
		}
		seen[action]++
		if outcome != "ok" || reason != "erasure" || strings.Contains(predicate, "vault:") {
			t.Errorf("purge_log: %s %s: outcome %s, reason %s, predicate %q", action, table, outcome, reason, predicate)
		}
		if action == "verify" && n != 0 {
			t.Errorf("purge_log: verify %s found %d rows", table, n)
		}
		if action == "await_acks" && n != 1 {
			t.Errorf("purge_log: await_acks counted %d live workers acknowledging, want the one", n)
		}
	}
	for action, want := range map[string]int{"erase_register": 1, "await_acks": 1, "erase_tokens": 1, "erase_delete": 1, "erase_invoice_party": 1, "verify": 4} {
		if seen[action] < want {
			t.Errorf("purge_log has %d %s actions of the erasure, want %d (all: %v)", seen[action], action, want, seen)
		}
	}
	var outcome, answer string
	var orders uint32
	if err := conn.QueryRow(context.Background(), "SELECT toString(outcome), orders, answer FROM "+db+".erasure_requests FINAL WHERE tenant_id = ? AND request_id = ?",
		tenant, ans.RequestID).Scan(&outcome, &orders, &answer); err != nil {
		t.Fatalf("erasure_requests: %v", err)
	}
	if outcome != "erased" || orders != 3 || !strings.Contains(answer, ans.Marker) {
		t.Errorf("erasure_requests: outcome %s, %d orders; want erased, 3, with the answer", outcome, orders)
	}
}

// eBay's account deletion end to end, from the erasure topic on: a request
// for every tenant (as the notifications endpoint writes it) erases the eBay
// user in the tenant that holds them, and nothing of another buyer or of a
// tenant that never had the user; the tenant without the user records no
// answer.
func TestEbayAccountDeletionErasesTheUserInEveryTenantHoldingThem(t *testing.T) {
	e := newStackEnv(t)
	migrated, conn := e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("eb")
	topic := stacktest.UniqueName("cmd.erasure")
	stacktest.CreateTopic(t, e.brokers, topic, 1)
	e.vars = append(e.vars, "ORDERFLOW_KAFKA_TOPICS_ERASURE="+topic, "ORDERFLOW_RETENTION_INTERVAL=0")
	holder, other := stacktest.UniqueName("ebholds"), stacktest.UniqueName("ebother")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() {
		for _, tenant := range []string{holder, other} {
			_ = vault.DestroyTenantKeys(context.Background(), tenant)
		}
	})
	now := time.Now().UTC().Truncate(time.Second)
	purchased := now.Add(-24 * time.Hour)
	ann := buyerOrder{fixture: "ebay/typical-two-line.json", id: "12-20000-00001", email: "ann@example.org", username: "ann_leaves_ebay"}
	bo := buyerOrder{fixture: "ebay/shipped-non-ascii.json", id: "12-20000-00002", email: "bo@example.org", username: "bo_stays"}
	cy := buyerOrder{fixture: "ebay/typical-two-line.json", id: "12-20000-00003", email: "cy@example.org", username: "cy_elsewhere"}
	w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: e.ebay, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(context.Background(), ann.message(t, holder, purchased, purchased.Add(time.Hour)),
		bo.message(t, holder, purchased, purchased.Add(time.Hour)), cy.message(t, other, purchased, purchased.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	runWorkerThrough(t, e)

	req := retention.ErasureRequest{ID: erasure.RequestID("ebay/test-notification"), Source: erasure.SourceEbayAccountDeletion,
		Identifiers: retention.Identifiers{Username: ann.username, UserID: "ann-immutable-id"}}
	value, _ := json.Marshal(req)
	rw := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := rw.WriteMessages(context.Background(), kafka.Message{Key: []byte("test-notification"), Value: value}); err != nil {
		t.Fatal(err)
	}
	_ = rw.Close()

	cfg := e.config(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- runErasures(ctx, cfg, telemetry.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	db := migrated.Database
	count := func(query string, args ...any) uint64 { return clickhousetest.Count(t, conn, query, args...) }
	waitCommitted(t, e, cfg.Kafka.GroupID+".erasure", []string{topic}, 1)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("erase --consume: %v", err)
	}
	if n := count("SELECT count() FROM "+db+".erasure_requests WHERE tenant_id = ? AND outcome = 'erased'", holder); n != 1 {
		t.Fatalf("%d erased answers for the tenant holding the user, want 1", n)
	}
	if n := count("SELECT count() FROM "+db+".erasure_requests WHERE tenant_id = ?", other); n != 0 {
		t.Errorf("%d answers for the tenant that never had the user, want none", n)
	}
	annTokens, err := vault.HMAC(context.Background(), holder, []string{ann.username, ann.email})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range annTokens {
		if n := count("SELECT count() FROM "+db+".order_facts WHERE tenant_id = ? AND has([buyer_username_token, buyer_email_token, buyer_name_token], ?)", holder, tok); n != 0 {
			t.Errorf("%d rows still hold the eBay user's tokens", n)
		}
	}
	if n := count("SELECT count() FROM "+migrated.RestrictedDatabase+".delivery_labels WHERE tenant_id = ? AND channel_order_id = ?", holder, ann.id); n != 0 {
		t.Errorf("%d labels of the eBay user's order remain", n)
	}
	for _, kept := range []struct{ tenant, id string }{{holder, bo.id}, {other, cy.id}} {
		if n := count("SELECT count() FROM "+db+".order_facts WHERE tenant_id = ? AND channel_order_id = ? AND buyer_username_token LIKE 'vault:%'", kept.tenant, kept.id); n == 0 {
			t.Errorf("order %s of tenant %s lost its buyer's tokens, want them kept", kept.id, kept.tenant)
		}
	}
}

// A buyer's access request (Art. 15) on the real stack: the buyer has an
// Amazon and an eBay order, another buyer of the same seller has one. The
// export holds both of the buyer's orders and nothing of the other's: each
// with its facts (the buyer's email token as stored), every line, the
// decrypted delivery label (the recipient's name) and the financial record,
// every value with its field's purpose and retention; a login that may not
// decrypt gets the same orders with the ciphertexts said to be held
// encrypted, and no plaintext.
func TestAccessExportsABuyerAcrossChannels(t *testing.T) {
	e := newStackEnv(t)
	_, _ = e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("ac")
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0")
	tenant := stacktest.UniqueName("access")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenant) })
	const email = "dee.access@example.org"
	amazon := buyerOrder{fixture: "amazon/uk-two-lines-typical.json", id: "203-3000001-0000001", email: email}
	ebay := buyerOrder{fixture: "ebay/typical-two-line.json", id: "12-30000-00002", email: email, username: "dee_access"}
	other := buyerOrder{fixture: "amazon/uk-single-line-shipped.json", id: "204-3000003-0000003", email: "someone.else@example.org"}
	purchased := time.Now().UTC().Truncate(time.Second).Add(-24 * time.Hour)
	for topic, msgs := range map[string][]kafka.Message{
		e.amazon: {amazon.message(t, tenant, purchased, purchased.Add(time.Hour)), other.message(t, tenant, purchased, purchased.Add(time.Hour))},
		e.ebay:   {ebay.message(t, tenant, purchased, purchased.Add(time.Hour))},
	} {
		w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
	}
	runWorkerThrough(t, e)

	var ex access.Export
	out := runOrderflow(t, e.vars, "access", "--tenant", tenant, "--email", email)
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	token, err := vault.HMAC(context.Background(), tenant, []string{email})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"amazon/" + amazon.id, "ebay/" + ebay.id}
	var got []string
	for _, o := range ex.Orders {
		got = append(got, o.Order)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("orders %v, want %v", got, want)
	}
	names := map[string]string{ex.Orders[0].Order: "Gwenllian Prys", ex.Orders[1].Order: "Margaret Ellison"}
	for _, o := range ex.Orders {
		fact := valueOf(o.Facts, "buyer.email")
		if fact == nil || fact.Value != token[0] || fact.Treatment != "token" || fact.Purpose == "" || fact.Retention != "analytics" {
			t.Errorf("%s: buyer.email %+v, want the stored token with the policy's purpose and retention", o.Order, fact)
		}
		if len(o.Lines) != 2 {
			t.Errorf("%s: %d lines, want 2", o.Order, len(o.Lines))
		}
		if o.Label == nil || !o.Label.Decrypted || valueOf(o.Label.Fields, "shipping_address.name") == nil ||
			valueOf(o.Label.Fields, "shipping_address.name").Value != names[o.Order] {
			t.Errorf("%s: label %+v, want it decrypted with the recipient %s", o.Order, o.Label, names[o.Order])
		}
		if total := valueOf(o.Financial, "totals.total"); total == nil || total.Retention != "financial" {
			t.Errorf("%s: financial record's total %+v", o.Order, total)
		}
	}
	if strings.Contains(out, other.id) || strings.Contains(out, "someone.else") {
		t.Error("the export holds the other buyer's order")
	}

	// A login whose policy computes HMACs but may not decrypt.
	root := stacktest.VaultClient(t)
	policyName := stacktest.UniqueName("hmac-only")
	if err := root.Sys().PutPolicy(policyName, `path "transit/hmac/+/sha2-256" { capabilities = ["update"] }`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = root.Sys().DeletePolicy(policyName) })
	secret, err := root.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{policyName}, TTL: "10m", NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	out = runOrderflow(t, withEnv(e.vars, "TEST_VAULT_TOKEN="+secret.Auth.ClientToken), "access", "--tenant", tenant, "--email", email)
	var weak access.Export
	if err := json.Unmarshal([]byte(out), &weak); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if len(weak.Orders) != 2 || weak.Orders[0].Label == nil || weak.Orders[0].Label.Decrypted || weak.Orders[0].Label.Note == "" {
		t.Fatalf("export without decrypt: %+v", weak.Orders)
	}
	for _, n := range names {
		if strings.Contains(out, n) {
			t.Errorf("an export by a login that may not decrypt holds the recipient %s", n)
		}
	}
}

func valueOf(vs []access.Value, field string) *access.Value {
	for i := range vs {
		if vs[i].Field == field {
			return &vs[i]
		}
	}
	return nil
}

// The 72-hour report on the real stack: a seller with three orders of two
// buyers, two of whose delivery labels are then decrypted (by the test's
// login, which Vault's audit log names). breach-report --tenant
// counts the orders and buyers of the window, the labels held, and the
// decrypts of the seller's data by role, from the audit log; it prints no
// value, token or ciphertext.
func TestBreachReportCountsWhatIsHeldAndWhoDecryptedIt(t *testing.T) {
	e := newStackEnv(t)
	_, conn := e.useMigrated(t)
	keyPrefix := e.ownVaultKeys("br")
	auditLog := stacktest.VaultAuditLog(t)
	e.vars = append(e.vars, "ORDERFLOW_RETENTION_INTERVAL=0")
	tenant := stacktest.UniqueName("breach")
	vault := transittest.NewClient(t, transit.Config{KeyPrefix: keyPrefix})
	t.Cleanup(func() { _ = vault.DestroyTenantKeys(context.Background(), tenant) })
	purchased := time.Now().UTC().Truncate(time.Second).Add(-24 * time.Hour)
	orders := map[string][]kafka.Message{
		e.amazon: {
			buyerOrder{fixture: "amazon/uk-two-lines-typical.json", id: "203-4000001-0000001", email: "one@example.org"}.message(t, tenant, purchased, purchased.Add(time.Hour)),
			buyerOrder{fixture: "amazon/uk-single-line-shipped.json", id: "204-4000002-0000002", email: "two@example.org"}.message(t, tenant, purchased, purchased.Add(time.Hour)),
		},
		e.ebay: {buyerOrder{fixture: "ebay/typical-two-line.json", id: "12-40000-00003", email: "one@example.org", username: "one_on_ebay"}.message(t, tenant, purchased, purchased.Add(time.Hour))},
	}
	for topic, msgs := range orders {
		w := &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: topic, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
	}
	runWorkerThrough(t, e)

	var cts []string
	rows, err := conn.Query(context.Background(), "SELECT label_ciphertext FROM "+e.ch.RestrictedDatabase+".delivery_labels WHERE tenant_id = ? LIMIT 2", tenant)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ct string
		if err := rows.Scan(&ct); err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	rows.Close()
	if _, err := vault.Decrypt(context.Background(), tenant, cts); err != nil || len(cts) != 2 {
		t.Fatalf("decrypting %d labels: %v", len(cts), err)
	}

	out := runOrderflow(t, e.vars, "breach-report", "--tenant", tenant, "--from", "-1d", "--audit-log", auditLog)
	var r breach.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	if len(r.Tenants) != 1 {
		t.Fatalf("report %+v, want the tenant", r)
	}
	got := r.Tenants[0]
	if got.OrdersInWindow != 3 || got.BuyersInWindow != 2 || got.BuyersHeld != 2 || got.LabelsHeld != 3 {
		t.Errorf("exposure %+v, want 3 orders of 2 buyers in the window, 2 buyers and 3 labels held", got)
	}
	items := 0
	for _, d := range r.Decrypts {
		if d.Tenant != tenant || d.Role == "" || d.Refused != 0 {
			t.Errorf("decrypts %+v: want the test login's of the tenant, named", d)
		}
		items += d.Items
	}
	if items != 2 {
		t.Errorf("%d decrypted items in the report, want the 2 labels: %+v", items, r.Decrypts)
	}
	for _, secret := range append(cts, "one@example.org", "Gwenllian") {
		if strings.Contains(out, secret) {
			t.Errorf("the report holds a value: %.24s...", secret)
		}
	}
}
