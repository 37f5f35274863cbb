// Package accounting is what the accounting side shares: a Posting (one
// summary of a tenant's sales for one marketplace, currency, VAT rate and
// period, or an adjustment to one already posted, or one business buyer's
// VAT invoice), its lines, and the Result of posting it. Postings are the
// jobs of connector.accounting; the accounting connectors
// (connectors/accounting/xero, connectors/accounting/quickbooks) turn them
// into their providers' documents, and the ledger
// (orderflow_restricted.accounting_postings) keeps what each provider
// confirmed, for reconciliation.
//
// A summary carries no buyer personal data at all: amounts by line kind, the
// marketplace, the period. Only a per-order VAT invoice carries the invoice
// party, as transit ciphertext until the connector needs it.
package accounting

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// PostingVersion is the version of the Posting format a writer writes; a
// reader refuses a higher one.
const PostingVersion = 1

// Kind says what a posting is.
type Kind string

const (
	// KindSummary is a closed period's first posting.
	KindSummary Kind = "summary"
	// KindAdjustment is a later change to a posted period (a late refund, a
	// cancellation, a corrected amount): the difference, posted on its own,
	// never an edit of what was posted.
	KindAdjustment Kind = "adjustment"
	// KindInvoice is one business order's VAT invoice, for a buyer who asks
	// for one (Amazon IsBusinessOrder, an eBay buyer with a VAT number).
	KindInvoice Kind = "invoice"
)

// LineKind is what a line of a posting sums. Each maps to the tenant's
// account code (and tax type) in the connector's configuration.
type LineKind string

const (
	LineSales    LineKind = "sales"    // items' gross sales, net of VAT
	LineShipping LineKind = "shipping" // shipping charged, net of VAT
	LineDiscount LineKind = "discount" // promotions: negative
	LineRefund   LineKind = "refund"   // refunds: negative
	LineOther    LineKind = "other"    // gift wrap and charges the totals do not name
	// LineMarketplaceVAT is VAT the marketplace collected and remitted as
	// deemed supplier: never the seller's output VAT. Posted on its own line
	// (no tax) or not at all, per tenant setting.
	LineMarketplaceVAT LineKind = "marketplace_vat"
)

// LineKinds are the line kinds in the order a posting lists them.
func LineKinds() []LineKind {
	return []LineKind{LineSales, LineShipping, LineDiscount, LineOther, LineRefund, LineMarketplaceVAT}
}

// Line is one line of a posting: an exact net amount and the VAT on it, in
// the posting's currency, at the posting's VAT rate.
type Line struct {
	Kind LineKind     `json:"kind"`
	Net  order.Amount `json:"net"`
	Tax  order.Amount `json:"tax"`
}

// Period is the days a posting covers, From and To inclusive, in UTC; never
// across a month end.
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// String is "2026-10-01" for one day, "2026-10-01..2026-10-07" for more.
func (p Period) String() string {
	if p.From.Equal(p.To) {
		return p.From.Format(time.DateOnly)
	}
	return p.From.Format(time.DateOnly) + ".." + p.To.Format(time.DateOnly)
}

// Posting is one piece of accounting work, as JSON on connector.accounting
// under the key Key(), so that one period's postings stay in order.
type Posting struct {
	Version int  `json:"v"`
	Kind    Kind `json:"kind"`
	// IdempotencyKey is IdempotencyKey(...) of what identifies the posting:
	// the same on every redelivery; sent as Xero's Idempotency-Key and
	// QuickBooks' requestid.
	IdempotencyKey string `json:"idempotency_key"`
	TenantID       string `json:"tenant_id"`
	Marketplace    string `json:"marketplace"`
	// Jurisdiction is the marketplace's country, whose record-keeping rules
	// keep the posting (the ledger's partition).
	Jurisdiction string `json:"jurisdiction"`
	Currency     string `json:"currency"`
	// VATRate is the rate in percent as a decimal ("20", "5", "0"): the
	// connector maps it to the organisation's tax type.
	VATRate string `json:"vat_rate"`
	Period  Period `json:"period"`
	// Sequence is 0 for a summary, 1, 2, ... for the period's adjustments.
	Sequence int    `json:"sequence"`
	Lines    []Line `json:"lines"`
	// Orders counts the orders the posting sums (a summary's; an
	// adjustment's are the orders that changed).
	Orders int `json:"orders"`
	// ChannelOrderID and InvoiceParty are an invoice's: the order, and its
	// invoice party (billing name and address, company, VAT number) as
	// transit ciphertext under the tenant's key.
	ChannelOrderID string    `json:"channel_order_id,omitempty"`
	InvoiceParty   string    `json:"invoice_party,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// Date is the day a provider files the posting under: a summary's or an
// invoice's period's last day; an adjustment's, the day it was made. A
// late refund belongs to the VAT period it happens in, and a period
// already filed is locked (Xero's lock date refuses a document dated in
// it): an adjustment is never dated back into history.
func (p *Posting) Date() time.Time {
	if p.Kind == KindAdjustment && p.CreatedAt.After(p.Period.To) {
		c := p.CreatedAt.UTC()
		return time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC)
	}
	return p.Period.To.UTC()
}

// Key is the posting's Kafka key: a period's postings share it.
func (p *Posting) Key() string {
	k := p.TenantID + "/" + p.Marketplace + "/" + p.Currency + "/" + p.VATRate + "/" + p.Period.String()
	if p.Kind == KindInvoice {
		k += "/" + p.ChannelOrderID
	}
	return k
}

// Reference is what the provider files the posting under (Xero's Reference,
// QuickBooks' DocNumber is shorter and takes the idempotency key's head):
// readable by a finance team, and unique per posting.
func (p *Posting) Reference() string {
	ref := "orderflow " + p.Marketplace + " " + p.Period.String() + " " + p.Currency + " VAT " + p.VATRate + "%"
	switch p.Kind {
	case KindAdjustment:
		ref += " adj " + strconv.Itoa(p.Sequence)
	case KindInvoice:
		ref += " order " + p.ChannelOrderID
	}
	return ref
}

// Totals sums the lines: net, tax and gross (net + tax).
func (p *Posting) Totals() (net, tax, gross order.Amount) {
	for _, l := range p.Lines {
		net += l.Net
		tax += l.Tax
	}
	return net, tax, net + tax
}

// Check says what is wrong with a posting, naming fields, never amounts of
// an order.
func (p *Posting) Check() error {
	var errs []error
	if p.Version < 1 || p.Version > PostingVersion {
		errs = append(errs, fmt.Errorf("v: %d is not a version this reader reads", p.Version))
	}
	switch p.Kind {
	case KindSummary, KindAdjustment, KindInvoice:
	default:
		errs = append(errs, errors.New("kind: not summary, adjustment or invoice"))
	}
	if !order.ValidTenantID(p.TenantID) {
		errs = append(errs, errors.New("tenant_id: not a tenant id"))
	}
	if p.Marketplace == "" || len(p.Currency) != 3 || p.IdempotencyKey == "" {
		errs = append(errs, errors.New("marketplace, currency and idempotency_key are required"))
	}
	if _, err := strconv.ParseFloat(p.VATRate, 64); err != nil {
		errs = append(errs, errors.New("vat_rate: not a decimal percentage"))
	}
	if p.Period.From.IsZero() || p.Period.To.Before(p.Period.From) ||
		p.Period.From.Year() != p.Period.To.Year() || p.Period.From.Month() != p.Period.To.Month() {
		errs = append(errs, errors.New("period: from after to, or across a month end"))
	}
	if (p.Kind == KindAdjustment) != (p.Sequence > 0) {
		errs = append(errs, errors.New("sequence: 0 for a summary or an invoice, from 1 for an adjustment"))
	}
	if p.Kind == KindInvoice && (p.ChannelOrderID == "" || p.InvoiceParty == "") {
		errs = append(errs, errors.New("an invoice needs channel_order_id and invoice_party"))
	}
	return errors.Join(errs...)
}

// IdempotencyKey derives a posting's idempotency key from what identifies
// it: 32 hex characters of SHA-256 (Xero takes up to 128, QuickBooks'
// requestid up to 50).
func IdempotencyKey(tenant, marketplace, currency, vatRate string, period Period, kind Kind, sequence int, orderID string) string {
	h := sha256.New()
	for _, part := range []string{tenant, marketplace, currency, vatRate, period.String(), string(kind), strconv.Itoa(sequence), orderID} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
