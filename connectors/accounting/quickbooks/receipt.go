package quickbooks

import (
	"fmt"

	"github.com/orderflow/orderflow/connectors/accounting"
)

// Settings of Mapping.Document.
const (
	// DocumentJournalEntry posts summaries as journal entries (the
	// default: README.md says why).
	DocumentJournalEntry = "journal_entry"
	// DocumentSalesReceipt posts them as sales receipts (a negative one as
	// a refund receipt), on the tenant's items, deposited to the clearing
	// account: for companies whose reports are built on items.
	DocumentSalesReceipt = "sales_receipt"
)

type receiptBody struct {
	header
	DepositToAccountRef  ref           `json:"DepositToAccountRef"`
	GlobalTaxCalculation string        `json:"GlobalTaxCalculation"`
	Line                 []invoiceLine `json:"Line"`
	TxnTaxDetail         *txnTaxDetail `json:"TxnTaxDetail"`
}

// receipt maps a summary or an adjustment onto a sales receipt, or a
// refund receipt when its total is negative (a receipt cannot be): one
// sales item line per posting line on its kind's item, net of VAT, signed
// (a discount in a sales receipt is negative; a refund receipt's lines are
// the posting's with their signs turned), marketplace VAT with the no-VAT
// code; the whole deposited to the clearing account. It returns the entity
// to create.
func (m *resolved) receipt(p *accounting.Posting) (string, receiptBody, error) {
	var r receiptBody
	lines, err := m.rounded(p)
	if err != nil {
		return "", r, err
	}
	code, rate, percent, err := m.tax(p)
	if err != nil {
		return "", r, err
	}
	var net, tax, taxable money
	for _, l := range lines {
		net += l.net
		tax += l.tax
		if l.kind != accounting.LineMarketplaceVAT {
			taxable += l.net
		}
	}
	entity, sign := "salesreceipt", money(1)
	if net+tax < 0 {
		entity, sign = "refundreceipt", -1
	}
	for _, l := range lines {
		if l.net == 0 && l.tax == 0 {
			continue
		}
		item, ok := m.cfg.Items[l.kind]
		if !ok {
			return "", r, fmt.Errorf("mapping.items.%s: no item for a receipt's %s line", l.kind, l.kind)
		}
		lineCode := code
		if l.kind == accounting.LineMarketplaceVAT {
			lineCode = m.cfg.NoVATTaxCode
		}
		r.Line = append(r.Line, invoiceLine{
			Description: lineLabels[l.kind] + ", " + p.Marketplace + " " + p.Period.String(),
			Amount:      sign * l.net, DetailType: "SalesItemLineDetail",
			SalesItemLineDetail: salesDetail{ItemRef: ref{item}, TaxCodeRef: ref{lineCode}},
		})
	}
	if len(r.Line) == 0 {
		return "", r, fmt.Errorf("lines: nothing to post (every line is zero or omitted)")
	}
	r.TxnTaxDetail = &txnTaxDetail{TotalTax: sign * tax, TaxLine: []taxLine{{
		Amount: sign * tax, DetailType: "TaxLineDetail",
		TaxLineDetail: taxLineDetail{TaxRateRef: ref{rate}, PercentBased: true, TaxPercent: []byte(percent.String()), NetAmountTaxable: sign * taxable},
	}}}
	r.header = headerOf(p)
	r.DepositToAccountRef = ref{m.cfg.ClearingAccount}
	r.GlobalTaxCalculation = "TaxExcluded"
	return entity, r, nil
}
