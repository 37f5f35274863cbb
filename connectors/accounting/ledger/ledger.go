// Package ledger is the accounting side's ClickHouse: it reads the
// financial records postings are made from (financial_records FINAL), and
// keeps what each provider confirmed of each posting
// (accounting_postings), which later adjustments and orderflow reconcile
// read back.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/connectors/courier"
	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/clickhousedb"
	"github.com/orderflow/orderflow/worker/order"
)

// Config configures a Ledger.
type Config struct {
	Conn driver.Conn
	// RestrictedDatabase holds financial_records and accounting_postings
	// (clickhouse.restricted_database).
	RestrictedDatabase string
}

// Ledger reads and writes the accounting tables.
type Ledger struct {
	conn                driver.Conn
	records, postingsTb string
}

// New returns a Ledger.
func New(cfg Config) (*Ledger, error) {
	if cfg.Conn == nil || cfg.RestrictedDatabase == "" {
		return nil, errors.New("ledger config: Conn and RestrictedDatabase are required")
	}
	return &Ledger{
		conn:       cfg.Conn,
		records:    cfg.RestrictedDatabase + "." + schema.TableFinancialRecords,
		postingsTb: cfg.RestrictedDatabase + "." + schema.TableAccountingPostings,
	}, nil
}

// Records returns a tenant's financial records of orders purchased in
// [from, to), their latest snapshots (FINAL).
func (l *Ledger) Records(ctx context.Context, tenant string, from, to time.Time) ([]postings.Record, error) {
	var out []postings.Record
	err := clickhousedb.EachRow(ctx, l.conn, func(rows driver.Rows) error {
		var r postings.Record
		var status, payment string
		var isBusiness uint8
		var subtotal, tax, shipping, discount, total, mpTax, refunded decimal.Decimal
		// The lines' amounts, one array per field, at the same index (older
		// rows' shipping, discount and gift wrap arrays are empty).
		var lineAmounts [8][]decimal.Decimal
		if err := rows.Scan(&r.TenantID, &r.Channel, &r.ChannelOrderID, &r.Jurisdiction, &r.Marketplace, &r.PurchasedAt,
			&status, &payment, &isBusiness, &r.Currency, &subtotal, &tax, &shipping, &discount, &total, &mpTax, &refunded, &r.InvoiceParty,
			&lineAmounts[0], &lineAmounts[1], &lineAmounts[2], &lineAmounts[3], &lineAmounts[4], &lineAmounts[5], &lineAmounts[6], &lineAmounts[7]); err != nil {
			return err
		}
		r.Status, r.PaymentStatus, r.IsBusiness = order.Status(status), order.PaymentStatus(payment), isBusiness == 1
		for _, m := range []struct {
			to   *order.Amount
			from decimal.Decimal
		}{{&r.Subtotal, subtotal}, {&r.Tax, tax}, {&r.Shipping, shipping}, {&r.Discount, discount}, {&r.Total, total}, {&r.MarketplaceTax, mpTax}, {&r.Refunded, refunded}} {
			*m.to = amount(m.from)
		}
		r.Lines = make([]postings.RecordLine, len(lineAmounts[0]))
		for i := range r.Lines {
			l := &r.Lines[i]
			for f, to := range []*order.Amount{&l.Total, &l.Tax, &l.Shipping, &l.ShippingTax, &l.Discount, &l.DiscountTax, &l.GiftWrap, &l.GiftWrapTax} {
				if i < len(lineAmounts[f]) {
					*to = amount(lineAmounts[f][i])
				}
			}
		}
		r.PurchasedAt = r.PurchasedAt.UTC()
		out = append(out, r)
		return nil
	}, "SELECT tenant_id, toString(channel), channel_order_id, jurisdiction, marketplace, purchased_at, toString(status), toString(payment_status), "+
		"is_business, currency, subtotal, tax, shipping, discount, total, marketplace_tax, refunded, invoice_party_ciphertext, "+
		"line_totals, line_taxes, line_shipping, line_shipping_taxes, line_discounts, line_discount_taxes, line_gift_wraps, line_gift_wrap_taxes FROM "+l.records+" FINAL "+
		"WHERE tenant_id = ? AND purchased_at >= ? AND purchased_at < ? ORDER BY purchased_at, channel, channel_order_id",
		tenant, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("read %s of a tenant: %w", l.records, err)
	}
	return out, nil
}

// Posted returns what provider confirmed of a tenant's postings whose
// periods start in [from, to).
func (l *Ledger) Posted(ctx context.Context, provider, tenant string, from, to time.Time) ([]accounting.Posting, error) {
	var out []accounting.Posting
	err := clickhousedb.EachRow(ctx, l.conn, func(rows driver.Rows) error {
		p := accounting.Posting{Version: accounting.PostingVersion}
		var kind string
		var seq, orders uint32
		var kinds []string
		var nets, taxes []decimal.Decimal
		if err := rows.Scan(&p.TenantID, &kind, &p.Jurisdiction, &p.Marketplace, &p.Currency, &p.VATRate, &p.Period.From, &p.Period.To,
			&seq, &p.ChannelOrderID, &p.IdempotencyKey, &orders, &kinds, &nets, &taxes); err != nil {
			return err
		}
		if len(kinds) != len(nets) || len(kinds) != len(taxes) {
			return fmt.Errorf("a posting's line arrays differ in length (%d, %d, %d)", len(kinds), len(nets), len(taxes))
		}
		p.Kind, p.Sequence, p.Orders = accounting.Kind(kind), int(seq), int(orders)
		p.Period.From, p.Period.To = dateOf(p.Period.From), dateOf(p.Period.To)
		for i := range kinds {
			p.Lines = append(p.Lines, accounting.Line{Kind: accounting.LineKind(kinds[i]), Net: amount(nets[i]), Tax: amount(taxes[i])})
		}
		out = append(out, p)
		return nil
	}, "SELECT tenant_id, toString(kind), jurisdiction, marketplace, currency, vat_rate, purchased_at, last_financial_event_at, sequence, "+
		"channel_order_id, idempotency_key, orders, line_kinds, line_nets, line_taxes FROM "+l.postingsTb+" FINAL "+
		"WHERE provider = ? AND tenant_id = ? AND purchased_at >= ? AND purchased_at < ? "+
		"ORDER BY marketplace, currency, vat_rate, purchased_at, kind, sequence, channel_order_id",
		provider, tenant, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("read %s of a tenant: %w", l.postingsTb, err)
	}
	return out, nil
}

// Record writes what provider confirmed: each Done result's posting, with
// the provider's id and status. Others are not written: they are posted
// again, or parked.
func (l *Ledger) Record(ctx context.Context, provider string, ps []accounting.Posting, results []accounting.Result, at time.Time) error {
	if len(ps) != len(results) {
		return fmt.Errorf("ledger: %d postings, %d results", len(ps), len(results))
	}
	batch, err := l.conn.PrepareBatch(ctx, "INSERT INTO "+l.postingsTb+" (tenant_id, provider, kind, jurisdiction, marketplace, currency, vat_rate, "+
		"purchased_at, last_financial_event_at, sequence, channel_order_id, idempotency_key, orders, net, tax, gross, "+
		"line_kinds, line_nets, line_taxes, provider_id, provider_status, posted_at)")
	if err != nil {
		return fmt.Errorf("ledger: prepare the insert into %s: %w", l.postingsTb, err)
	}
	n := 0
	for i := range ps {
		if results[i].Outcome != courier.Done {
			continue
		}
		p := &ps[i]
		net, tax, gross := p.Totals()
		kinds := make([]string, len(p.Lines))
		nets := make([]decimal.Decimal, len(p.Lines))
		taxes := make([]decimal.Decimal, len(p.Lines))
		for j, ln := range p.Lines {
			kinds[j], nets[j], taxes[j] = string(ln.Kind), dec(ln.Net), dec(ln.Tax)
		}
		if err := batch.Append(p.TenantID, provider, string(p.Kind), p.Jurisdiction, p.Marketplace, p.Currency, p.VATRate,
			p.Period.From, p.Period.To, uint32(p.Sequence), p.ChannelOrderID, p.IdempotencyKey, uint32(p.Orders),
			dec(net), dec(tax), dec(gross), kinds, nets, taxes, results[i].ProviderID, results[i].ProviderStatus, at.UTC()); err != nil {
			return fmt.Errorf("ledger: append posting %d: %w", i, err)
		}
		n++
	}
	if n == 0 {
		return batch.Abort()
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("ledger: insert %d postings into %s: %w", n, l.postingsTb, err)
	}
	return nil
}

func amount(d decimal.Decimal) order.Amount {
	return order.Amount(d.Shift(order.AmountScale).Round(0).IntPart())
}

func dec(a order.Amount) decimal.Decimal { return decimal.New(int64(a), -order.AmountScale) }

func dateOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
