package facts_test

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/clickhousedb/clickhousetest"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/facts"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
	"github.com/orderflow/orderflow/worker/pipeline/pipelinetest"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The writer is the pipeline's sink.
var _ pipeline.Sink = (*facts.Writer)(nil)

// testNow is the tests' clock: after every fixture's purchase.
var testNow = time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)

// fixtures normalises every good Amazon v0, Amazon 2026-01-01 and eBay
// fixture of the normaliser.
func fixtures(t testing.TB) []pipelinetest.Fixture {
	t.Helper()
	var out []pipelinetest.Fixture
	for _, dir := range []string{"amazon", "amazon2026", "ebay"} {
		fs := pipelinetest.Orders(t, filepath.Join("..", "normalize", "testdata", dir))
		if len(fs) < 10 {
			t.Fatalf("only %d fixtures in %s", len(fs), dir)
		}
		out = append(out, fs...)
	}
	return out
}

// fixtureOrders is the canonical orders of the first n fixtures that keep
// accepts, in fixture order; the test fails when fewer fit.
func fixtureOrders(t testing.TB, n int, keep func(order.Order) bool) []order.Order {
	t.Helper()
	var out []order.Order
	for _, f := range fixtures(t) {
		if keep(f.Order) {
			out = append(out, f.Order)
			if len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("only %d fixtures fit, want %d", len(out), n)
	return nil
}

func hasShippingAddress(o order.Order) bool { return o.ShippingAddress != nil }

// stack is a test's real servers: a migrated pair of ClickHouse databases and
// a protect stage on Vault whose tenants' keys are destroyed at the end.
type stack struct {
	ch      config.ClickHouse
	conn    driver.Conn
	cluster *clickhousedb.Cluster // nil on the single server
	vault   *transit.Client
	stage   *protect.Stage
	tenants map[string]string // fixture tenant -> this test's tenant
}

func newStack(t testing.TB) *stack {
	t.Helper()
	return newStackAt(t, stacktest.ClickHouseAddr(t))
}

// newStackAt is newStack with the databases on the ClickHouse server at addr.
func newStackAt(t testing.TB, addr string) *stack {
	t.Helper()
	ch, conn := clickhousetest.MigratedAt(t, addr)
	vault := transittest.NewClient(t, transit.Config{RetryInitial: time.Millisecond, RetryMax: 10 * time.Millisecond})
	stage := protecttest.NewStage(t, vault, protect.Config{})
	return &stack{ch: ch, conn: conn, vault: vault, stage: stage, tenants: map[string]string{}}
}

// newClusterStack is newStack on the local ClickHouse cluster: the writers
// it makes insert into each order's shard.
func newClusterStack(t testing.TB) *stack {
	t.Helper()
	ch, conn, cluster := clickhousetest.ClusterMigrated(t)
	vault := transittest.NewClient(t, transit.Config{RetryInitial: time.Millisecond, RetryMax: 10 * time.Millisecond})
	stage := protecttest.NewStage(t, vault, protect.Config{})
	return &stack{ch: ch, conn: conn, cluster: cluster, vault: vault, stage: stage, tenants: map[string]string{}}
}

// own moves the orders to this test's tenants (one per fixture tenant), whose
// Vault keys are destroyed when the test ends.
func (s *stack) own(t testing.TB, orders []order.Order) []order.Order {
	t.Helper()
	out := slices.Clone(orders)
	for i := range out {
		tenant, ok := s.tenants[out[i].TenantID]
		if !ok {
			tenant = transittest.NewTenant(t, s.vault)
			s.tenants[out[i].TenantID] = tenant
		}
		out[i].TenantID = tenant
	}
	return out
}

// ownAll is every fixture's canonical order moved to this test's tenants,
// and the same orders protected.
func (s *stack) ownAll(t testing.TB) ([]order.Order, []protected.Order) {
	t.Helper()
	cs := s.own(t, pipelinetest.Canonical(fixtures(t)))
	return cs, s.protect(t, cs)
}

// protect runs the real protect stage.
func (s *stack) protect(t testing.TB, orders []order.Order) []protected.Order {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := s.stage.Protect(ctx, orders)
	if err != nil {
		t.Fatalf("protect: %v", err)
	}
	return out
}

// writer returns a Writer on the stack's databases with the test clock and a registry of its own; edit changes the config first.
func (s *stack) writer(t testing.TB, edit func(*facts.Config)) (*facts.Writer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := facts.Config{
		Conn: s.conn, Cluster: s.cluster, Database: s.ch.Database, RestrictedDatabase: s.ch.RestrictedDatabase,
		LabelRetention: config.Period{Days: 366},
		Now:            func() time.Time { return testNow },
		Registerer:     reg,
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := facts.New(cfg)
	if err != nil {
		t.Fatalf("facts.New: %v", err)
	}
	return w, reg
}

func write(t testing.TB, w *facts.Writer, orders []protected.Order) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.Write(ctx, 0, orders); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// sync waits, on a cluster, until every replica has what was written to its
// shard, so that a read through a Distributed table sees it on any replica.
func (s *stack) sync(t testing.TB) {
	t.Helper()
	if s.cluster != nil {
		clickhousetest.SyncReplicas(t, s.ch, s.cluster)
	}
}

// table is the qualified name of one of the writer's tables.
func (s *stack) table(name string) string {
	switch name {
	case "delivery_labels", "financial_records":
		return s.ch.RestrictedDatabase + "." + name
	}
	return s.ch.Database + "." + name
}

var tables = []string{"order_facts", "order_line_facts", "delivery_labels", "financial_records"}

// count is the number of rows of a table under FINAL.
func (s *stack) count(t testing.TB, name string) uint64 {
	t.Helper()
	return clickhousetest.Count(t, s.conn, "SELECT count() FROM "+s.table(name)+" FINAL")
}

// row is a table row as text, by column name: what the tests compare.
type row map[string]string

// rows reads every row of a table under FINAL, every column, as text.
func (s *stack) rows(t testing.TB, name string) []row {
	t.Helper()
	return queryRows(t, s.conn, "SELECT * FROM "+s.table(name)+" FINAL")
}

func queryRows(t testing.TB, conn driver.Conn, query string, args ...any) []row {
	t.Helper()
	rs, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rs.Close()
	cols := rs.ColumnTypes()
	var out []row
	for rs.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rs.Scan(vals...); err != nil {
			t.Fatalf("%s: scan: %v", query, err)
		}
		r := row{}
		for i, c := range cols {
			r[c.Name()] = text(t, vals[i])
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// text formats a scanned value: amounts as order.Amount writes them, times
// in RFC 3339 UTC, arrays joined with "|".
func text(t testing.TB, v any) string {
	t.Helper()
	switch v := v.(type) {
	case *string:
		return *v
	case *uint8:
		return strconv.FormatUint(uint64(*v), 10)
	case *uint16:
		return strconv.FormatUint(uint64(*v), 10)
	case *uint32:
		return strconv.FormatUint(uint64(*v), 10)
	case *uint64:
		return strconv.FormatUint(*v, 10)
	case *time.Time:
		return v.UTC().Format(time.RFC3339)
	case **time.Time:
		if *v == nil {
			return "NULL"
		}
		return (*v).UTC().Format(time.RFC3339)
	case *decimal.Decimal:
		return amountText(t, *v)
	case *[]string:
		return strings.Join(*v, "|")
	case *[]uint32:
		parts := make([]string, len(*v))
		for i, n := range *v {
			parts[i] = strconv.FormatUint(uint64(n), 10)
		}
		return strings.Join(parts, "|")
	case *[]decimal.Decimal:
		parts := make([]string, len(*v))
		for i, d := range *v {
			parts[i] = amountText(t, d)
		}
		return strings.Join(parts, "|")
	}
	t.Fatalf("no text for %T", v)
	return ""
}

// amountText is a Decimal read back as order.Amount's String: exact, or the
// test fails.
func amountText(t testing.TB, d decimal.Decimal) string {
	t.Helper()
	a, err := order.ParseAmount(d.String())
	if err != nil {
		t.Fatalf("amount %s read back: %v", d, err)
	}
	return a.String()
}

// key is a row's key: tenant, channel, order id[, line id].
func key(r row) string {
	k := r["tenant_id"] + "/" + r["channel"] + "/" + r["channel_order_id"]
	if id, ok := r["line_id"]; ok {
		k += "/" + id
	}
	return k
}

func byKey(t testing.TB, rows []row) map[string]row {
	t.Helper()
	out := make(map[string]row, len(rows))
	for _, r := range rows {
		if _, dup := out[key(r)]; dup {
			t.Errorf("two rows of key %s under FINAL", key(r))
		}
		out[key(r)] = r
	}
	return out
}

// The rows the tests expect, written from the schema's comments and the
// issue's rules, apart from the writer's code: amounts from the canonical
// order, tokens and ciphertexts from the protected one.

func ts(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

func tsp(t *time.Time) string {
	if t == nil {
		return "NULL"
	}
	return ts(*t)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func currency(o order.Order) string {
	ms := []order.Money{o.Totals.Total, o.Totals.Subtotal, o.Totals.Tax, o.Totals.Shipping, o.Totals.Discount}
	for _, l := range o.Lines {
		ms = append(ms, l.UnitPrice, l.LineTotal, l.Tax, l.Shipping, l.ShippingTax, l.Discount, l.DiscountTax, l.GiftWrap, l.GiftWrapTax)
	}
	for _, x := range o.MarketplaceTaxes {
		ms = append(ms, x.Amount)
	}
	for _, r := range o.Refunds {
		ms = append(ms, r.Amount)
	}
	for _, m := range ms {
		if m.Currency != "" {
			return m.Currency
		}
	}
	return ""
}

func marketplaceTax(o order.Order) order.Amount {
	var sum order.Amount
	for _, x := range o.MarketplaceTaxes {
		sum += x.Amount.Amount
	}
	return sum
}

func refunded(o order.Order) order.Amount {
	var sum order.Amount
	for _, r := range o.Refunds {
		if r.Status != "failed" && r.Status != "pending" {
			sum += r.Amount.Amount
		}
	}
	return sum
}

func keyOf(o order.Order) string {
	return o.TenantID + "/" + string(o.Channel) + "/" + o.ChannelOrderID
}

func wantFact(c order.Order, p protected.Order, now time.Time) row {
	units := 0
	for _, l := range c.Lines {
		units += l.Quantity
	}
	r := row{
		"tenant_id": c.TenantID, "channel": string(c.Channel), "channel_order_id": c.ChannelOrderID,
		"version": strconv.FormatInt(c.SourceUpdatedAt.UnixMilli(), 10), "schema_version": strconv.Itoa(c.SchemaVersion),
		"source_format": c.SourceFormat, "marketplace": c.Marketplace, "seller_order_id": c.SellerOrderID,
		"status": string(c.Status), "payment_status": string(c.PaymentStatus), "source_status": c.SourceStatus,
		"cancel_requested": flag(c.CancelRequested), "fulfilment": string(c.Fulfilment),
		"is_prime": flag(c.IsPrime), "is_business": flag(c.IsBusiness), "ship_service_level": c.ShipServiceLevel,
		"purchased_at": ts(c.PurchasedAt), "source_updated_at": ts(c.SourceUpdatedAt), "received_at": ts(c.ReceivedAt),
		"latest_ship_at": tsp(c.LatestShipAt), "latest_delivery_at": tsp(c.LatestDeliveryAt),
		"buyer_name_token": p.Buyer.Name.Value(), "buyer_email_token": p.Buyer.Email.Value(),
		"buyer_phone_token": p.Buyer.Phone.Value(), "buyer_username_token": p.Buyer.Username.Value(),
		"buyer_user_id_token": p.Buyer.UserID.Value(), "ship_country": "", "ship_address_type": "",
		"ship_postcode_area": p.ShipPostcodeArea, "billing_country": "", "billing_postcode_area": p.BillingPostcodeArea,
		"currency": currency(c), "subtotal": c.Totals.Subtotal.Amount.String(), "tax": c.Totals.Tax.Amount.String(),
		"shipping": c.Totals.Shipping.Amount.String(), "discount": c.Totals.Discount.Amount.String(),
		"total": c.Totals.Total.Amount.String(), "marketplace_tax": marketplaceTax(c).String(),
		"refunded": refunded(c).String(), "line_count": strconv.Itoa(len(c.Lines)), "units": strconv.Itoa(units),
		"written_at": ts(now),
	}
	if a := c.ShippingAddress; a != nil {
		r["ship_country"], r["ship_address_type"] = a.CountryCode, a.AddressType
	}
	if a := c.BillingAddress; a != nil {
		r["billing_country"] = a.CountryCode
	}
	return r
}

// wantLines is what the writer stores of c's lines: the strings a seller types
// (SKU, title, promotion ids) as the protect stage left them in p, the card
// scan having removed what passes for a card number.
func wantLines(c order.Order, p protected.Order, now time.Time) []row {
	var out []row
	for i, l := range c.Lines {
		l.SKU, l.Title, l.PromotionIDs = p.Lines[i].SKU, p.Lines[i].Title, p.Lines[i].PromotionIDs
		out = append(out, row{
			"tenant_id": c.TenantID, "channel": string(c.Channel), "channel_order_id": c.ChannelOrderID,
			"line_id": l.LineID, "version": strconv.FormatInt(c.SourceUpdatedAt.UnixMilli(), 10),
			"marketplace": c.Marketplace, "purchased_at": ts(c.PurchasedAt), "status": string(c.Status),
			"sku": l.SKU, "asin": l.ASIN, "item_id": l.ItemID, "title": l.Title,
			"quantity": strconv.Itoa(l.Quantity), "quantity_shipped": strconv.Itoa(l.QuantityShipped),
			"currency": currency(c), "unit_price": l.UnitPrice.Amount.String(), "line_total": l.LineTotal.Amount.String(),
			"tax": l.Tax.Amount.String(), "shipping": l.Shipping.Amount.String(), "shipping_tax": l.ShippingTax.Amount.String(),
			"discount": l.Discount.Amount.String(), "discount_tax": l.DiscountTax.Amount.String(),
			"gift_wrap": l.GiftWrap.Amount.String(), "gift_wrap_tax": l.GiftWrapTax.Amount.String(),
			"promotion_ids": strings.Join(l.PromotionIDs, "|"), "is_gift": flag(l.IsGift),
			"cancel_requested": flag(l.CancelRequested), "written_at": ts(now),
		})
	}
	return out
}

func wantLabel(c order.Order, p protected.Order, now time.Time) row {
	country := ""
	if c.ShippingAddress != nil {
		country = c.ShippingAddress.CountryCode
	}
	return row{
		"tenant_id": c.TenantID, "channel": string(c.Channel), "channel_order_id": c.ChannelOrderID,
		"version": strconv.FormatInt(c.SourceUpdatedAt.UnixMilli(), 10), "purchased_at": ts(c.PurchasedAt),
		"ship_country": country, "ship_service_level": c.ShipServiceLevel,
		"label_ciphertext": p.DeliveryLabel.Value(), "written_at": ts(now),
	}
}

func wantFinancial(c order.Order, p protected.Order, now time.Time) row {
	var ids, skus, titles, qty, prices, totals, taxes []string
	var shipping, shippingTaxes, discounts, discountTaxes, giftWraps, giftWrapTaxes []string
	for _, l := range c.Lines {
		ids, skus, titles = append(ids, l.LineID), append(skus, l.SKU), append(titles, l.Title)
		qty = append(qty, strconv.Itoa(l.Quantity))
		prices, totals = append(prices, l.UnitPrice.Amount.String()), append(totals, l.LineTotal.Amount.String())
		taxes = append(taxes, l.Tax.Amount.String())
		shipping, shippingTaxes = append(shipping, l.Shipping.Amount.String()), append(shippingTaxes, l.ShippingTax.Amount.String())
		discounts, discountTaxes = append(discounts, l.Discount.Amount.String()), append(discountTaxes, l.DiscountTax.Amount.String())
		giftWraps, giftWrapTaxes = append(giftWraps, l.GiftWrap.Amount.String()), append(giftWrapTaxes, l.GiftWrapTax.Amount.String())
	}
	j := strings.Join
	return row{
		"tenant_id": c.TenantID, "channel": string(c.Channel), "channel_order_id": c.ChannelOrderID,
		"version": strconv.FormatInt(c.SourceUpdatedAt.UnixMilli(), 10), "jurisdiction": channel.Default().Jurisdiction(c.Channel, c.Marketplace),
		"marketplace": c.Marketplace, "seller_order_id": c.SellerOrderID, "purchased_at": ts(c.PurchasedAt),
		"last_financial_event_at": ts(lastEvent(c)),
		"status":                  string(c.Status), "payment_status": string(c.PaymentStatus), "is_business": flag(c.IsBusiness),
		"currency": currency(c), "subtotal": c.Totals.Subtotal.Amount.String(), "tax": c.Totals.Tax.Amount.String(),
		"shipping": c.Totals.Shipping.Amount.String(), "discount": c.Totals.Discount.Amount.String(),
		"total": c.Totals.Total.Amount.String(), "marketplace_tax": marketplaceTax(c).String(),
		"refunded": refunded(c).String(),
		"line_ids": j(ids, "|"), "line_skus": j(skus, "|"), "line_titles": j(titles, "|"), "line_quantities": j(qty, "|"),
		"line_unit_prices": j(prices, "|"), "line_totals": j(totals, "|"), "line_taxes": j(taxes, "|"),
		"line_shipping": j(shipping, "|"), "line_shipping_taxes": j(shippingTaxes, "|"),
		"line_discounts": j(discounts, "|"), "line_discount_taxes": j(discountTaxes, "|"),
		"line_gift_wraps": j(giftWraps, "|"), "line_gift_wrap_taxes": j(giftWrapTaxes, "|"),
		"invoice_party_ciphertext": p.InvoiceParty.Value(), "written_at": ts(now),
	}
}

// lastEvent is the latest of the order's purchase, update and refund dates.
func lastEvent(c order.Order) time.Time {
	times := []time.Time{c.PurchasedAt, c.SourceUpdatedAt}
	for _, r := range c.Refunds {
		if r.RefundedAt != nil {
			times = append(times, *r.RefundedAt)
		}
	}
	slices.SortFunc(times, time.Time.Compare)
	return times[len(times)-1]
}

// expected is every table's expected rows, by key, for orders written at now
// (the last snapshot of a key wins); labels only for orders with a label
// purchased after labelCutoff.
func expected(cs []order.Order, ps []protected.Order, now, labelCutoff time.Time) map[string]map[string]row {
	out := map[string]map[string]row{}
	for _, name := range tables {
		out[name] = map[string]row{}
	}
	newest := map[string]int{}
	for i, c := range cs {
		if j, ok := newest[keyOf(c)]; ok && cs[j].SourceUpdatedAt.After(c.SourceUpdatedAt) {
			continue
		}
		newest[keyOf(c)] = i
	}
	for _, i := range newest {
		c, p := cs[i], ps[i]
		out["order_facts"][keyOf(c)] = wantFact(c, p, now)
		for _, l := range wantLines(c, p, now) {
			out["order_line_facts"][key(l)] = l
		}
		if !p.DeliveryLabel.IsZero() && c.PurchasedAt.After(labelCutoff) {
			out["delivery_labels"][keyOf(c)] = wantLabel(c, p, now)
		}
		out["financial_records"][keyOf(c)] = wantFinancial(c, p, now)
	}
	return out
}
