// Package access exports everything orderflow holds about one buyer of a
// tenant (UK GDPR Art. 15): the buyer's orders are found by token
// (worker/buyer), and for each the latest facts and lines, the delivery
// label and the financial record with its invoice party, and whether an
// erasure registered it. Ciphertexts are decrypted through Vault where the
// requester's login may decrypt them, and said to be held encrypted where it
// may not. Every value carries its field's treatment, purpose and retention
// from the field policy (schemas/policy).
package access

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/buyer"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Decrypter decrypts a tenant's ciphertexts (*transit.Client); a login that
// may not decrypt is refused, and the export says so.
type Decrypter interface {
	Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error)
}

// Config configures an Exporter.
type Config struct {
	Conn                         driver.Conn // required
	Database, RestrictedDatabase string      // required
	Tokenizer                    buyer.Tokenizer
	// Decrypter, when nil, leaves every ciphertext undecrypted.
	Decrypter Decrypter
	Policy    *policy.Policy // required
	Now       func() time.Time
}

// Exporter exports buyers' data.
type Exporter struct{ cfg Config }

// New checks cfg and returns an Exporter.
func New(cfg Config) (*Exporter, error) {
	if cfg.Conn == nil || cfg.Tokenizer == nil || cfg.Policy == nil || !schema.ValidDatabaseName(cfg.Database) || !schema.ValidDatabaseName(cfg.RestrictedDatabase) {
		return nil, errors.New("access: a connection, the two databases, a tokenizer and the field policy are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Exporter{cfg: cfg}, nil
}

// Export is everything held about one buyer of a tenant.
type Export struct {
	Tenant          string        `json:"tenant_id"`
	IdentifierKinds []string      `json:"identifier_kinds"`
	ExportedAt      time.Time     `json:"exported_at"`
	Orders          []OrderExport `json:"orders"`
	// Elsewhere says what is held outside the tables, for how long.
	Elsewhere []string `json:"elsewhere"`
}

// OrderExport is one order of the buyer.
type OrderExport struct {
	Order string `json:"order"`
	// Erased: a buyer's erasure registered the order; its tokens are the
	// erasure's marker.
	Erased    bool      `json:"erased"`
	Facts     []Value   `json:"facts"`
	Lines     [][]Value `json:"lines"`
	Label     *Held     `json:"delivery_label,omitempty"`
	Financial []Value   `json:"financial_record,omitempty"`
	Invoice   *Held     `json:"invoice_party,omitempty"`
}

// Value is one stored value with what the policy says of its field.
type Value struct {
	Field     string `json:"field"`
	Value     any    `json:"value"`
	Treatment string `json:"treatment,omitempty"`
	Purpose   string `json:"purpose"`
	Retention string `json:"retention"`
}

// Held is a ciphertext: its fields once decrypted, or why they are not.
type Held struct {
	Table     string  `json:"table"`
	Decrypted bool    `json:"decrypted"`
	Fields    []Value `json:"fields,omitempty"`
	Note      string  `json:"note,omitempty"`
}

// Export finds the buyer the identifiers name in tenant and exports what is
// held about them. The tenant id must be valid and one identifier given.
func (e *Exporter) Export(ctx context.Context, tenant string, ids buyer.Identifiers) (Export, error) {
	if err := order.CheckTenantID(tenant); err != nil {
		return Export{}, fmt.Errorf("access: tenant_id: %w", err)
	}
	if err := ids.Check(); err != nil {
		return Export{}, fmt.Errorf("access: %w", err)
	}
	out := Export{Tenant: tenant, IdentifierKinds: ids.Kinds(), ExportedAt: e.cfg.Now().UTC(), Orders: []OrderExport{},
		Elsewhere: []string{"the raw order messages on Kafka, until the topics' retention ends (at most the label promise, 21 days, after each was written)",
			"dead-lettered messages, encrypted under the seller's key, for as long"}}
	tokens, err := ids.Tokens(ctx, e.cfg.Tokenizer, tenant)
	if err != nil {
		return Export{}, fmt.Errorf("access: %w", err)
	}
	found, err := buyer.FindOrders(ctx, e.cfg.Conn, e.cfg.Database+"."+schema.TableOrderFacts, tenant, "", tokens)
	if err != nil {
		return Export{}, fmt.Errorf("access: %w", err)
	}
	orders := make([]buyer.Order, 0, len(found))
	for o := range found {
		orders = append(orders, o)
	}
	slices.SortFunc(orders, buyer.Compare)
	for _, o := range orders {
		oe, err := e.exportOrder(ctx, tenant, o)
		if err != nil {
			return Export{}, fmt.Errorf("access: order %s: %w", o, err)
		}
		out.Orders = append(out.Orders, oe)
	}
	return out, nil
}

func (e *Exporter) exportOrder(ctx context.Context, tenant string, o buyer.Order) (OrderExport, error) {
	oe := OrderExport{Order: o.String(), Lines: [][]Value{}}
	db, rdb := e.cfg.Database, e.cfg.RestrictedDatabase
	where := " FINAL WHERE tenant_id = ? AND channel = ? AND channel_order_id = ?"
	args := []any{tenant, o.Channel, o.ID}
	facts, err := e.rows(ctx, "SELECT * FROM "+db+"."+schema.TableOrderFacts+where, args...)
	if err != nil {
		return oe, err
	}
	if len(facts) > 0 {
		oe.Facts = e.values(facts[0], factPaths)
	}
	lines, err := e.rows(ctx, "SELECT * FROM "+db+"."+schema.TableOrderLineFacts+where+" ORDER BY line_id", args...)
	if err != nil {
		return oe, err
	}
	for _, l := range lines {
		oe.Lines = append(oe.Lines, e.values(l, linePaths))
	}
	erased, err := e.rows(ctx, "SELECT marker FROM "+db+"."+schema.TableErasedOrders+where, args...)
	if err != nil {
		return oe, err
	}
	oe.Erased = len(erased) > 0
	labels, err := e.rows(ctx, "SELECT label_ciphertext FROM "+rdb+"."+schema.TableDeliveryLabels+where, args...)
	if err != nil {
		return oe, err
	}
	if len(labels) > 0 {
		oe.Label = e.held(ctx, tenant, schema.TableDeliveryLabels, labels[0].get("label_ciphertext"))
	}
	fin, err := e.rows(ctx, "SELECT * FROM "+rdb+"."+schema.TableFinancialRecords+where, args...)
	if err != nil {
		return oe, err
	}
	if len(fin) > 0 {
		ct := fin[0].get("invoice_party_ciphertext")
		oe.Financial = e.values(fin[0].without("invoice_party_ciphertext"), financialPaths)
		if ct != "" {
			oe.Invoice = e.held(ctx, tenant, schema.TableFinancialRecords, ct)
		}
	}
	return oe, nil
}

// held decrypts one ciphertext into its fields, or says why not.
func (e *Exporter) held(ctx context.Context, tenant, table, ciphertext string) *Held {
	h := &Held{Table: table}
	if e.cfg.Decrypter == nil {
		h.Note = "held encrypted under the seller's key; this export was made without decryption"
		return h
	}
	plain, err := e.cfg.Decrypter.Decrypt(ctx, tenant, []string{ciphertext})
	if err != nil || len(plain) != 1 {
		h.Note = "held encrypted under the seller's key; this login may not decrypt it (ask a role that may, such as the dispatcher's)"
		return h
	}
	doc, err := protected.ParseDocument(plain[0])
	if err != nil {
		h.Note = "held encrypted; its content is not a document this version reads"
		return h
	}
	h.Decrypted = true
	for _, path := range doc.Paths() {
		h.Fields = append(h.Fields, e.value(path, doc.Get(path)))
	}
	return h
}

// row is one row as column names and values, in the table's order.
type row struct {
	names  []string
	values []any
}

func (r row) get(name string) string {
	if i := slices.Index(r.names, name); i >= 0 {
		if s, ok := r.values[i].(string); ok {
			return s
		}
	}
	return ""
}

func (r row) without(name string) row {
	i := slices.Index(r.names, name)
	if i < 0 {
		return r
	}
	return row{names: slices.Delete(slices.Clone(r.names), i, i+1), values: slices.Delete(slices.Clone(r.values), i, i+1)}
}

// rows reads a query's rows whatever their columns' types.
func (e *Exporter) rows(ctx context.Context, query string, args ...any) ([]row, error) {
	rs, err := e.cfg.Conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	types := rs.ColumnTypes()
	var out []row
	for rs.Next() {
		ptrs := make([]any, len(types))
		for i, t := range types {
			ptrs[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := row{names: rs.Columns(), values: make([]any, len(ptrs))}
		for i, p := range ptrs {
			r.values[i] = reflect.ValueOf(p).Elem().Interface()
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// values annotates a row's values with the policy's word on each field.
func (e *Exporter) values(r row, paths map[string]string) []Value {
	out := make([]Value, 0, len(r.names))
	for i, name := range r.names {
		path, ok := paths[name]
		if !ok {
			path = name
		}
		out = append(out, e.value(path, r.values[i]))
	}
	return out
}

// value is one value with its field's treatment, purpose and retention.
func (e *Exporter) value(path string, v any) Value {
	rule, ok := e.cfg.Policy.Fields[path]
	if !ok {
		rule, ok = e.cfg.Policy.Derived[path]
	}
	if !ok {
		return Value{Field: path, Value: v, Purpose: "orderflow's bookkeeping of the row (version, times written, counts)", Retention: "with its row"}
	}
	return Value{Field: path, Value: v, Treatment: string(rule.Treatment), Purpose: rule.Purpose, Retention: string(rule.Retention)}
}

// factPaths name the policy field of each order_facts column whose name is
// not the field's own.
var factPaths = map[string]string{
	"buyer_name_token": "buyer.name", "buyer_email_token": "buyer.email", "buyer_phone_token": "buyer.phone",
	"buyer_username_token": "buyer.username", "buyer_user_id_token": "buyer.user_id",
	"ship_country": "shipping_address.country_code", "ship_address_type": "shipping_address.address_type",
	"billing_country": "billing_address.country_code",
	"subtotal":        "totals.subtotal", "tax": "totals.tax", "shipping": "totals.shipping", "discount": "totals.discount", "total": "totals.total",
	"marketplace_tax": "marketplace_taxes.amount", "refunded": "refunds.amount",
}

// linePaths: order_line_facts' columns are the lines' fields.
var linePaths = func() map[string]string {
	m := map[string]string{}
	for _, c := range []string{"line_id", "sku", "asin", "item_id", "title", "quantity", "quantity_shipped", "unit_price", "line_total",
		"tax", "shipping", "shipping_tax", "discount", "discount_tax", "gift_wrap", "gift_wrap_tax", "promotion_ids", "is_gift", "cancel_requested"} {
		m[c] = "lines." + c
	}
	return m
}()

// financialPaths: the record's totals and line arrays.
var financialPaths = func() map[string]string {
	m := map[string]string{}
	for col, path := range factPaths {
		if strings.HasPrefix(path, "totals.") || strings.HasPrefix(path, "marketplace_taxes.") || strings.HasPrefix(path, "refunds.") {
			m[col] = path
		}
	}
	for col, field := range map[string]string{"line_ids": "line_id", "line_skus": "sku", "line_titles": "title", "line_quantities": "quantity",
		"line_unit_prices": "unit_price", "line_totals": "line_total", "line_taxes": "tax", "line_shipping": "shipping",
		"line_shipping_taxes": "shipping_tax", "line_discounts": "discount", "line_discount_taxes": "discount_tax",
		"line_gift_wraps": "gift_wrap", "line_gift_wrap_taxes": "gift_wrap_tax"} {
		m[col] = "lines." + field
	}
	return m
}()
