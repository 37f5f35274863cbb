package channel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// testChannel is a marketplace that exists only here (testdata/testchannel):
// the one registry entry a third channel takes.
var testChannel = channel.Spec{
	Name:          "test",
	Enum:          100,
	Topic:         "orders.test",
	Decoder:       testDecoder{},
	SourceFormats: []string{"test.orders.v1"},
	Jurisdictions: map[string]string{"TEST_GB": "GB", "TEST_DE": "DE"},
}

// testDecoder is the test marketplace's decoder: trivial, as its payload is
// one flat object (testdata/testchannel/README.md). Its errors name the field
// and the rule, never a value, as a decoder's must.
type testDecoder struct{}

type testPayload struct {
	ID       string `json:"id"`
	Market   string `json:"market"`
	Placed   string `json:"placed"`
	Updated  string `json:"updated"`
	State    string `json:"state"`
	Currency string `json:"currency"`
	Total    string `json:"total"`
	Buyer    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"buyer"`
	ShipTo *struct {
		Name     string `json:"name"`
		Street   string `json:"street"`
		Street2  string `json:"street2"`
		City     string `json:"city"`
		Postcode string `json:"postcode"`
		Country  string `json:"country"`
	} `json:"ship_to"`
	Note  string `json:"note"`
	Lines []struct {
		ID    string `json:"id"`
		SKU   string `json:"sku"`
		Title string `json:"title"`
		Qty   int    `json:"qty"`
		Price string `json:"price"`
		Total string `json:"total"`
	} `json:"lines"`
}

func (testDecoder) Decode(payload []byte, _ time.Time) (order.Order, error) {
	var p testPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return order.Order{}, &normalize.Error{Reason: normalize.ReasonSchemaMismatch, Field: "payload", Rule: "is not a test marketplace order"}
	}
	if p.ID == "" {
		return order.Order{}, &normalize.Error{Reason: normalize.ReasonMissingField, Field: "payload.id", Rule: "missing"}
	}
	placed, err1 := time.Parse(time.RFC3339, p.Placed)
	updated, err2 := time.Parse(time.RFC3339, p.Updated)
	if err := errors.Join(err1, err2); err != nil {
		return order.Order{}, &normalize.Error{Reason: normalize.ReasonInvalidValue, Field: "payload.placed", Rule: "timestamp is not RFC 3339"}
	}
	money := func(field, amount string) (order.Money, error) {
		m, err := order.ParseMoney(amount, p.Currency)
		if err != nil {
			return m, &normalize.Error{Reason: normalize.ReasonBadAmount, Field: field, Rule: "is not an exact amount", Err: err}
		}
		return m, nil
	}
	o := order.Order{
		SourceFormat: "test.orders.v1", Marketplace: p.Market, ChannelOrderID: p.ID, SourceStatus: p.State,
		Status: order.StatusUnshipped, PaymentStatus: order.PaymentPaid, Fulfilment: order.FulfilmentMerchant,
		PurchasedAt: placed.UTC(), SourceUpdatedAt: updated.UTC(),
		Buyer:            order.Buyer{Name: p.Buyer.Name, Email: p.Buyer.Email},
		Lines:            []order.Line{},
		MarketplaceTaxes: []order.MarketplaceTax{}, Refunds: []order.Refund{}, FreeText: []order.FreeText{},
	}
	if p.State == "shipped" {
		o.Status = order.StatusShipped
	}
	var err error
	if o.Totals.Total, err = money("payload.total", p.Total); err != nil {
		return order.Order{}, err
	}
	if s := p.ShipTo; s != nil {
		o.ShippingAddress = &order.Address{Name: s.Name, Line1: s.Street, Line2: s.Street2, City: s.City, PostalCode: s.Postcode, CountryCode: s.Country}
	}
	if p.Note != "" {
		o.FreeText = append(o.FreeText, order.FreeText{Kind: order.FreeTextGiftMessage, Text: p.Note})
	}
	for _, l := range p.Lines {
		line := order.Line{LineID: l.ID, SKU: l.SKU, Title: l.Title, Quantity: l.Qty}
		if line.UnitPrice, err = money("payload.lines.price", l.Price); err != nil {
			return order.Order{}, err
		}
		if line.LineTotal, err = money("payload.lines.total", l.Total); err != nil {
			return order.Order{}, err
		}
		o.Lines = append(o.Lines, line)
	}
	return o, nil
}

// TestAThirdChannelTakesOneEntryAndOneMigration is issue 11's proof: a channel
// registered beside Amazon and eBay, from this test alone, flows through the
// normaliser, the protect stage and the ClickHouse writer, once its migration
// (testdata/0100_test_channel.sql) has run on the test's own databases.
func TestAThirdChannelTakesOneEntryAndOneMigration(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	registry, err := channel.Default().With(testChannel)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	vault := transittest.NewClient(t, transit.Config{})
	tenant := transittest.NewTenant(t, vault)

	// Normalise: the test channel's messages, whichever member comes first; its
	// bad ones dead-lettered with the field and the rule; and refused as an
	// unknown channel by a normaliser of the shipped channels only.
	normalizer, err := registry.Normalizer(normalize.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := channel.Default().Normalizer(normalize.Config{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "testchannel", name))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.ReplaceAll(bytes.TrimSpace(data), []byte(`"test-seller"`), []byte(`"`+tenant+`"`))
	}
	var orders []order.Order
	for _, name := range []string{"paid.json", "shipped-payload-first.json"} {
		o, err := normalizer.Normalize(read(name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Channel != "test" || o.TenantID != tenant || o.ReceivedAt.IsZero() {
			t.Errorf("%s: channel %q, tenant %q, received %v", name, o.Channel, o.TenantID, o.ReceivedAt)
		}
		orders = append(orders, o)
		if _, err := shipped.Normalize(read(name)); normalize.ReasonOf(err) != normalize.ReasonUnknownChannel {
			t.Errorf("%s: the shipped channels' normaliser says %v, want unknown_channel", name, err)
		}
	}
	for name, want := range map[string]string{
		"missing-id.bad.json":       "missing_field: payload.id: missing",
		"card-in-order-id.bad.json": "invalid_value: payload: the channel's decoder gave an order, line or item id holding a run of digits that could be a card number",
		"placed-in-2099.bad.json":   "invalid_value: payload: the channel's decoder gave a purchase, update or refund time before 2000-01-01 or later than now plus the allowed clock skew",
	} {
		_, err := normalizer.Normalize(read(name))
		if err == nil || err.Error() != want || normalize.TenantOf(err) != tenant {
			t.Errorf("%s: error %v (tenant %q), want %s", name, err, normalize.TenantOf(err), want)
		}
	}
	if files, _ := filepath.Glob("testdata/testchannel/*.bad.json"); len(files) != 3 {
		t.Errorf("%d bad fixtures, 3 in the table", len(files))
	}

	// Protect: its metric series exist from the start, at zero, and count its
	// orders, card numbers and free text under its own label.
	pol, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	metrics := prometheus.NewRegistry()
	stage, err := protect.New(protect.Config{Tokenizer: vault, Encrypter: vault, Policy: pol, Channels: registry, Registerer: metrics})
	if err != nil {
		t.Fatal(err)
	}
	series := func(name string, labels ...string) int {
		families, _ := metrics.Gather()
		n := 0
		for _, f := range families {
			if f.GetName() == name {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "channel" && l.GetValue() == "test" {
							n++
						}
					}
				}
			}
		}
		return n
	}
	if series("orderflow_orders_protected_total") != 1 || series("orderflow_free_text_dropped_total") != 3 || series("orderflow_card_numbers_redacted_total") == 0 {
		t.Errorf("the test channel's series are not there from the start")
	}
	protected, err := stage.Protect(ctx, orders)
	if err != nil {
		t.Fatalf("protect: %v", err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"orderflow_orders_protected_total", []string{"channel=test"}, 2},
		{"orderflow_card_numbers_redacted_total", []string{"channel=test", "field=shipping_address.line2"}, 1},
		{"orderflow_free_text_dropped_total", []string{"channel=test", "kind=gift_message"}, 1},
		{"orderflow_orders_protected_total", []string{"channel=other"}, 0},
	} {
		if got := telemetrytest.Sum(t, metrics, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if email := protected[0].Buyer.Email.Value(); !strings.HasPrefix(email, "vault:v1:") {
		t.Errorf("the buyer's email is not a transit token")
	}

	// Write: refused before the migration (the tables' Enum8 lacks the
	// channel, and CheckSchema says so), written after it.
	chCfg, conn := clickhousetest.Migrated(t)
	writer, err := facts.New(facts.Config{Conn: conn, Database: chCfg.Database, RestrictedDatabase: chCfg.RestrictedDatabase,
		Channels: registry, Now: func() time.Time { return now }, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "has no channel test (= 100)") {
		t.Fatalf("CheckSchema before the migration: %v", err)
	}
	migration, err := os.ReadFile("testdata/0100_test_channel.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range statements(string(migration), chCfg.Database, chCfg.RestrictedDatabase) {
		if err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := writer.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after the migration: %v", err)
	}
	if err := writer.Write(ctx, 1, protected); err != nil {
		t.Fatalf("Write: %v", err)
	}
	qualified := func(table string) string {
		db, _ := schema.DatabaseOf(table)
		return db.Name(chCfg.Database, chCfg.RestrictedDatabase) + "." + table
	}
	for table, want := range map[string]uint64{
		schema.TableOrderFacts: 2, schema.TableOrderLineFacts: 3, schema.TableDeliveryLabels: 2, schema.TableFinancialRecords: 2,
	} {
		q := "SELECT count() FROM " + qualified(table) + " FINAL WHERE channel = 'test' AND tenant_id = ?"
		if got := clickhousetest.Count(t, conn, q, tenant); got != want {
			t.Errorf("%s holds %d rows of the test channel, want %d", table, got, want)
		}
	}
	for id, want := range map[string]string{"T-1001": "GB", "T-1002": "DE"} {
		var jurisdiction string
		q := "SELECT jurisdiction FROM " + qualified(schema.TableFinancialRecords) + " FINAL WHERE channel = 'test' AND channel_order_id = ?"
		if err := conn.QueryRow(ctx, q, id).Scan(&jurisdiction); err != nil || jurisdiction != want {
			t.Errorf("%s: jurisdiction %q (%v), want %s from the test channel's marketplaces", id, jurisdiction, err, want)
		}
	}
}

// statements splits a migration file as orderflow migrate does: comment lines
// dropped, one statement per semicolon at a line's end, placeholders named.
func statements(sql, database, restricted string) []string {
	r := strings.NewReplacer("{database}", database, "{restricted_database}", restricted)
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(sql) {
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, r.Replace(strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")))
			cur.Reset()
		}
	}
	return out
}
