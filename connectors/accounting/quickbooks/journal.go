package quickbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/worker/order"
)

// Wire types of the documented JournalEntry create body (Intuit's
// JournalEntry entity): only the members this connector fills.
type journalEntry struct {
	header
	Line         []journalLine `json:"Line"`
	TxnTaxDetail *txnTaxDetail `json:"TxnTaxDetail,omitempty"`
}

// header is what every document this connector creates starts with: its
// number, date (the period's last day), private note (the posting's
// reference) and currency.
type header struct {
	DocNumber   string `json:"DocNumber"`
	TxnDate     string `json:"TxnDate"`
	PrivateNote string `json:"PrivateNote"`
	CurrencyRef ref    `json:"CurrencyRef"`
}

func headerOf(p *accounting.Posting) header {
	return header{DocNumber: docNumber(p), TxnDate: p.Date().Format(time.DateOnly), PrivateNote: p.Reference(), CurrencyRef: ref{p.Currency}}
}

type ref struct {
	Value string `json:"value"`
}

type journalLine struct {
	Description            string     `json:"Description"`
	Amount                 money      `json:"Amount"`
	DetailType             string     `json:"DetailType"`
	JournalEntryLineDetail lineDetail `json:"JournalEntryLineDetail"`
}

type lineDetail struct {
	PostingType     string `json:"PostingType"`
	AccountRef      ref    `json:"AccountRef"`
	TaxCodeRef      *ref   `json:"TaxCodeRef,omitempty"`
	TaxApplicableOn string `json:"TaxApplicableOn,omitempty"`
	TaxAmount       *money `json:"TaxAmount,omitempty"`
}

type txnTaxDetail struct {
	TotalTax money     `json:"TotalTax"`
	TaxLine  []taxLine `json:"TaxLine"`
}

type taxLine struct {
	Amount        money         `json:"Amount"`
	DetailType    string        `json:"DetailType"`
	TaxLineDetail taxLineDetail `json:"TaxLineDetail"`
}

type taxLineDetail struct {
	TaxRateRef       ref             `json:"TaxRateRef"`
	PercentBased     bool            `json:"PercentBased"`
	TaxPercent       json.RawMessage `json:"TaxPercent"`
	NetAmountTaxable money           `json:"NetAmountTaxable"`
}

// money is an amount in pennies written as decimal text with two places:
// the JSON number is spelt from integers, never through a float64.
type money int64

func (m money) MarshalJSON() ([]byte, error) {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Appendf(nil, "%s%d.%02d", sign, v/100, v%100), nil
}

func (m money) String() string { b, _ := m.MarshalJSON(); return string(b) }

// pennies rounds an exact Amount (scale 4) to hundredths, half away from
// zero: QuickBooks keeps two decimal places on every amount.
func pennies(a order.Amount) money {
	const perPenny = 100 // 10^(AmountScale-2)
	v := int64(a)
	neg := v < 0
	if neg {
		v = -v
	}
	p := v / perPenny
	if v%perPenny >= perPenny/2 {
		p++
	}
	if neg {
		p = -p
	}
	return money(p)
}

// Posting sides of a journal line.
const (
	debit  = "Debit"
	credit = "Credit"
)

// lineLabels name each line kind in the journal line's description.
var lineLabels = map[accounting.LineKind]string{
	accounting.LineSales:          "Sales",
	accounting.LineShipping:       "Shipping charged",
	accounting.LineDiscount:       "Discounts",
	accounting.LineRefund:         "Refunds",
	accounting.LineMarketplaceVAT: "VAT collected by the marketplace (deemed supplier)",
}

// docNumberPrefix heads every DocNumber: with 18 characters of the
// idempotency key it fills QuickBooks' 21.
const docNumberPrefix = "of-"

// maxDocNumber is DocNumber's documented maximum length.
const maxDocNumber = 21

// rounded is a posting's lines to post, in pennies: each line rounded half
// away from zero, then the differences to the posting's totals rounded once
// put onto the largest line (the net's onto the line with the largest net,
// the tax's onto the taxed line with the largest tax: never a
// marketplace_vat line, which carries none). Marketplace VAT is left out
// when the mapping says so.
func (m *resolved) rounded(p *accounting.Posting) ([]roundedLine, error) {
	var lines []roundedLine
	var exactNet, exactTax order.Amount
	for _, l := range p.Lines {
		if l.Kind == accounting.LineMarketplaceVAT && m.cfg.MarketplaceVAT == MarketplaceVATOmit {
			continue
		}
		if _, ok := m.cfg.Accounts[l.Kind]; !ok {
			return nil, fmt.Errorf("lines: kind %s has no account in the mapping", safeKind(l.Kind))
		}
		if l.Kind == accounting.LineMarketplaceVAT && l.Tax != 0 {
			return nil, errors.New("lines: a marketplace_vat line carries tax; it is never the seller's output VAT")
		}
		if l.Net != 0 && l.Tax != 0 && (l.Net < 0) != (l.Tax < 0) {
			return nil, fmt.Errorf("lines: the %s line's net and tax have opposite signs", safeKind(l.Kind))
		}
		exactNet += l.Net
		exactTax += l.Tax
		lines = append(lines, roundedLine{kind: l.Kind, net: pennies(l.Net), tax: pennies(l.Tax)})
	}
	var sumNet, sumTax money
	bigNet, bigTax := -1, -1
	for i, l := range lines {
		sumNet += l.net
		sumTax += l.tax
		if bigNet < 0 || abs(l.net) > abs(lines[bigNet].net) {
			bigNet = i
		}
		if l.kind != accounting.LineMarketplaceVAT && (bigTax < 0 || abs(l.tax) > abs(lines[bigTax].tax)) {
			bigTax = i
		}
	}
	if bigNet >= 0 {
		lines[bigNet].net += pennies(exactNet) - sumNet
	}
	if bigTax >= 0 {
		lines[bigTax].tax += pennies(exactTax) - sumTax
	}
	return lines, nil
}

// tax is the posting's VAT rate as the tax code mapped from it, the id of
// that code's sales rate, and the percentage.
func (m *resolved) tax(p *accounting.Posting) (code, rate string, percent order.Amount, err error) {
	code, ok := m.cfg.TaxCodes[p.VATRate]
	if !ok {
		return "", "", 0, errors.New("vat_rate: the rate has no tax code in the mapping")
	}
	percent, err = order.ParseAmount(p.VATRate)
	if err != nil || percent < 0 {
		return "", "", 0, errors.New("vat_rate: not a plain non-negative decimal percentage")
	}
	return code, m.rates[p.VATRate], percent, nil
}

// roundedLine is a posting line in pennies.
type roundedLine struct {
	kind     accounting.LineKind
	net, tax money
}

// journal maps a posting onto a journal entry under the mapping. Each line
// of the posting becomes one journal line on its kind's account, on the
// credit side when it adds to sales and the debit side when it takes away
// (QuickBooks takes no negative amounts); one balancing line on the
// clearing account takes the gross on the other side. Amounts are rounded
// per line to pennies, half away from zero; the penny differences between
// the rounded lines and the rounded totals of the posting go onto the line
// with the largest amount, so the document's totals are the posting's
// to the penny.
func (m *resolved) journal(p *accounting.Posting) (journalEntry, error) {
	var e journalEntry
	var net, tax money
	lines, err := m.rounded(p)
	if err != nil {
		return e, err
	}
	taxCode, rate, percent, err := m.tax(p)
	if err != nil {
		return e, err
	}
	for _, l := range lines {
		if l.net == 0 && l.tax == 0 {
			continue
		}
		side := credit
		if l.net < 0 || l.net == 0 && l.tax < 0 {
			side = debit
		}
		d := lineDetail{PostingType: side, AccountRef: ref{m.cfg.Accounts[l.kind]}, TaxApplicableOn: "Sales"}
		if l.kind == accounting.LineMarketplaceVAT {
			// Not the seller's supply: the no-VAT code, no tax amount.
			d.TaxCodeRef = &ref{m.cfg.NoVATTaxCode}
			zero := money(0)
			d.TaxAmount = &zero
		} else {
			d.TaxCodeRef = &ref{taxCode}
			t := abs(l.tax)
			d.TaxAmount = &t
		}
		e.Line = append(e.Line, journalLine{
			Description:            lineLabels[l.kind] + ", " + p.Marketplace + " " + p.Period.String(),
			Amount:                 abs(l.net),
			DetailType:             "JournalEntryLineDetail",
			JournalEntryLineDetail: d,
		})
		net += l.net
		tax += l.tax
	}
	if len(e.Line) == 0 {
		return e, errors.New("lines: nothing to post (every line is zero or omitted)")
	}
	gross := net + tax
	side := debit
	if gross < 0 {
		side = credit
	}
	e.Line = append(e.Line, journalLine{
		Description:            "Due from " + p.Marketplace + " " + p.Period.String(),
		Amount:                 abs(gross),
		DetailType:             "JournalEntryLineDetail",
		JournalEntryLineDetail: lineDetail{PostingType: side, AccountRef: ref{m.cfg.ClearingAccount}},
	})
	var taxable money
	for _, l := range lines {
		if l.kind != accounting.LineMarketplaceVAT {
			taxable += l.net
		}
	}
	e.TxnTaxDetail = &txnTaxDetail{
		TotalTax: abs(tax),
		TaxLine: []taxLine{{
			Amount:     abs(tax),
			DetailType: "TaxLineDetail",
			TaxLineDetail: taxLineDetail{
				TaxRateRef: ref{rate}, PercentBased: true,
				TaxPercent: json.RawMessage(percent.String()), NetAmountTaxable: abs(taxable),
			},
		}},
	}
	e.header = headerOf(p)
	return e, nil
}

// docNumber is the posting's document number: docNumberPrefix and the head
// of its idempotency key, unique per posting and readable in a list.
func docNumber(p *accounting.Posting) string {
	key := p.IdempotencyKey
	if len(key) > maxDocNumber-len(docNumberPrefix) {
		key = key[:maxDocNumber-len(docNumberPrefix)]
	}
	return docNumberPrefix + key
}

func abs(m money) money {
	if m < 0 {
		return -m
	}
	return m
}

// safeKind is a line kind fit for an error: a documented one, or its
// length.
func safeKind(k accounting.LineKind) string {
	for _, known := range accounting.LineKinds() {
		if k == known {
			return string(k)
		}
	}
	return "of " + strconv.Itoa(len(k)) + " characters"
}
