// Package postings turns financial records into accounting postings: each
// order's amounts split into net and VAT by line kind (the VAT model below),
// summed per tenant, marketplace, currency, VAT rate and period, a period
// posted once it has closed, and a later change to a posted period posted
// as an adjustment, never as an edit.
//
// The VAT model, per order (amounts exact, in the order's currency):
//
//   - An order counts once it is paid (paid, partially refunded, refunded);
//     a cancelled order that was never paid counts nothing.
//   - Prices include VAT (UK and EU marketplaces) except in the US and
//     Canada, where the tax is added at checkout (and the total says so).
//   - What the total holds beyond items, shipping and discount (and, where
//     prices exclude tax, the tax) is gift wrap or another charge the totals
//     do not name: an "other" line, so that the lines always sum to the
//     total the seller received.
//   - VAT the marketplace collected and remits (marketplace_tax) is never the
//     seller's output VAT. When it is inside the order's total (Amazon as
//     marketplace facilitator or deemed reseller: the buyer paid it to the
//     seller's account and the marketplace withholds it) it is carved out of
//     the sales into its own line, marketplace_vat, with no VAT on it; when
//     the marketplace added it on top (eBay collect and remit: the seller
//     never held it, whether or not the total shows it) it is not posted.
//   - The seller's own VAT (tax minus the marketplace's share inside it) is
//     split over sales, shipping and discount in proportion to their gross
//     amounts; the remainder of the division goes to the largest line, so
//     the lines sum exactly to the order.
//   - A refund is a negative line of its gross amount, split into VAT and
//     net in the order's proportions, the marketplace's share of it on a
//     negative marketplace_vat line.
//   - The VAT rate is the seller's VAT over the net it is charged on, in
//     percent to one decimal ("20", "5", "0", "13.5"); an order without
//     seller VAT is at "0".
package postings

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/worker/order"
)

// Record is one order's financial record, as financial_records holds its
// latest snapshot (FINAL): what the model reads, and nothing personal.
type Record struct {
	TenantID       string
	Channel        string
	ChannelOrderID string
	Jurisdiction   string
	Marketplace    string
	PurchasedAt    time.Time
	Status         order.Status
	PaymentStatus  order.PaymentStatus
	IsBusiness     bool
	Currency       string
	Subtotal       order.Amount
	Tax            order.Amount
	Shipping       order.Amount
	Discount       order.Amount
	Total          order.Amount
	MarketplaceTax order.Amount
	Refunded       order.Amount
	// InvoiceParty is the order's invoice party, transit ciphertext under
	// the tenant's key; set for a business order.
	InvoiceParty string
	// LineTotals and LineTaxes are the order lines' amounts and VAT, at the
	// same index: what tells the rates of an order that mixes them (a book
	// at 0% beside a mug at 20%).
	LineTotals, LineTaxes []order.Amount
}

// Counts reports whether the record is a sale: paid, whatever became of it
// later (a refund is posted as one).
func (r *Record) Counts() bool {
	switch r.PaymentStatus {
	case order.PaymentPaid, order.PaymentPartiallyRefunded, order.PaymentRefunded:
		return true
	}
	return false
}

// OrderAmounts are one order's lines and VAT rate under the model.
type OrderAmounts struct {
	VATRate string
	Lines   []accounting.Line // by kind, in accounting.LineKinds() order, zero lines left out
}

// Amounts applies the model to one record; ok is false when it counts
// nothing (not paid).
func Amounts(r Record) (OrderAmounts, bool) {
	if !r.Counts() || r.Currency == "" && r.Total == 0 {
		return OrderAmounts{}, false
	}
	base := r.Subtotal + r.Shipping - r.Discount
	// Marketplace tax added on top of the seller's prices and inside the
	// total (eBay's US sales tax): the buyer paid it, the marketplace keeps
	// it, the seller never held it.
	var onTop order.Amount
	if extra := r.Total - base; r.MarketplaceTax > 0 && (extra == r.MarketplaceTax || extra == r.Tax+r.MarketplaceTax) {
		onTop = r.MarketplaceTax
	}
	kept := r.Total - onTop // what the buyer paid the seller
	exclusive := r.Tax > 0 && exclusiveJurisdictions[r.Jurisdiction] && kept-base >= r.Tax
	var mpInside order.Amount
	if onTop == 0 && !exclusive && r.MarketplaceTax > 0 {
		// Inside the stated tax (Amazon as marketplace facilitator), or, when
		// the order states none, never in the seller's hands at all.
		mpInside = min(r.MarketplaceTax, r.Tax)
	}
	sellerTax := r.Tax - mpInside
	other := kept - base // gift wrap and charges the totals do not name
	if exclusive {
		other -= r.Tax
	}
	kinds := []accounting.LineKind{accounting.LineSales, accounting.LineShipping, accounting.LineDiscount, accounting.LineOther}
	// parts are each kind's amount as the channel states it: VAT included,
	// or (exclusive) not.
	parts := []order.Amount{r.Subtotal, r.Shipping, -r.Discount, other}
	taxShares := split(sellerTax, parts)
	mpShares := split(mpInside, parts)
	lines := map[accounting.LineKind]accounting.Line{}
	for i, k := range kinds {
		net := parts[i]
		if !exclusive {
			net -= taxShares[i] + mpShares[i]
		}
		lines[k] = accounting.Line{Kind: k, Net: net, Tax: taxShares[i]}
	}
	mp := mpInside
	if r.Refunded > 0 && kept != 0 {
		refundTax := penny(scale(sellerTax, r.Refunded, kept))
		refundMP := penny(scale(mpInside, r.Refunded, kept))
		lines[accounting.LineRefund] = accounting.Line{Kind: accounting.LineRefund, Tax: -refundTax, Net: -(r.Refunded - refundTax - refundMP)}
		mp -= refundMP
	}
	if mp != 0 {
		lines[accounting.LineMarketplaceVAT] = accounting.Line{Kind: accounting.LineMarketplaceVAT, Net: mp}
	}
	out := OrderAmounts{VATRate: rate(sellerTax, kept-sellerTax-mpInside)}
	for _, k := range accounting.LineKinds() {
		if l, ok := lines[k]; ok && (l.Net != 0 || l.Tax != 0) {
			out.Lines = append(out.Lines, l)
		}
	}
	if len(out.Lines) == 0 {
		return OrderAmounts{}, false
	}
	return out, true
}

// exclusiveJurisdictions are where marketplaces state prices before tax
// (sales tax added at checkout); everywhere else prices include VAT.
var exclusiveJurisdictions = map[string]bool{"US": true, "CA": true}

// Kept is what the seller keeps of an order under the model: the total the
// buyer paid, less marketplace tax added on top of it, less refunds. The
// postings of an order sum to exactly this.
func Kept(r Record) order.Amount {
	a, ok := Amounts(r)
	if !ok {
		return 0
	}
	var g order.Amount
	for _, l := range a.Lines {
		g += l.Net + l.Tax
	}
	return g
}

// pennyUnits is a penny (a cent) in order.Amount's units.
const pennyUnits = 100

// penny rounds a to whole pennies, half away from zero.
func penny(a order.Amount) order.Amount { return scale(a, 1, pennyUnits) * pennyUnits }

// split divides total over parts in proportion to them, in whole pennies,
// exactly: the shares sum to total, the remainder on the largest part (so
// every line is whole pennies when the order's amounts are).
func split(total order.Amount, parts []order.Amount) []order.Amount {
	shares := make([]order.Amount, len(parts))
	var sum order.Amount
	largest := 0
	for i, p := range parts {
		sum += p
		if abs(p) > abs(parts[largest]) {
			largest = i
		}
	}
	if sum == 0 || total == 0 {
		if len(parts) > 0 {
			shares[largest] = total
		}
		return shares
	}
	var given order.Amount
	for i, p := range parts {
		shares[i] = penny(scale(total, p, sum))
		given += shares[i]
	}
	shares[largest] += total - given
	return shares
}

// scale is a * b / c, rounded half away from zero, without overflow.
func scale(a, b, c order.Amount) order.Amount {
	if c == 0 {
		return 0
	}
	n := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b)))
	d := big.NewInt(int64(c))
	q, m := new(big.Int).QuoRem(n, d, new(big.Int))
	// Round half away from zero: compare 2|m| with |d|.
	m2 := new(big.Int).Abs(m)
	m2.Lsh(m2, 1)
	if m2.Cmp(new(big.Int).Abs(d)) >= 0 {
		if (n.Sign() < 0) != (d.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return order.Amount(q.Int64())
}

// vatRates are the UK's and the EU's standard and reduced VAT rates (and
// US-style whole percents), in tenths of a percent: a rate read off an
// order's amounts within half a point of one of them is that rate, since
// marketplaces round each line's VAT to the penny (0.50 on 2.49 reads as
// 20.1%).
var vatRates = []int64{0, 50, 55, 60, 70, 80, 90, 95, 100, 120, 130, 135, 140, 150, 170, 190, 200, 210, 220, 230, 240, 250, 255, 270}

// rate is tax / net in percent to one decimal, trimmed ("20", "13.5",
// "0"), snapped to a VAT rate within half a point.
func rate(tax, net order.Amount) string {
	if tax == 0 || net == 0 {
		return "0"
	}
	tenths := scale(tax, 1000, net) // percent x 10
	best, dist := int64(-1), int64(6)
	for _, r := range vatRates {
		if d := absInt(int64(tenths) - r); d < dist {
			best, dist = r, d
		}
	}
	if best >= 0 {
		tenths = order.Amount(best)
	}
	s := strconv.FormatInt(int64(tenths)/10, 10)
	if f := int64(tenths) % 10; f != 0 {
		s += "." + strconv.FormatInt(absInt(f), 10)
	}
	return strings.TrimPrefix(s, "+")
}

func abs(a order.Amount) order.Amount {
	if a < 0 {
		return -a
	}
	return a
}

func absInt(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

// Split applies the model to one record, rate by rate: an order whose lines
// are at different VAT rates (a zero-rated book beside a standard-rated mug)
// is split into one OrderAmounts per rate. Its lines' amounts and VAT go to
// their rates; shipping, discounts, other charges, their VAT, refunds and
// marketplace VAT are apportioned by the goods of each rate (shipping's VAT
// to the rated goods only). The parts sum exactly to Amounts' whole.
func Split(r Record) ([]OrderAmounts, bool) {
	whole, ok := Amounts(r)
	if !ok {
		return nil, false
	}
	base := r.Subtotal + r.Shipping - r.Discount
	inclusive := !(r.Tax > 0 && exclusiveJurisdictions[r.Jurisdiction] && r.Total-base >= r.Tax)
	type group struct {
		goods, goodsTax order.Amount
	}
	groups := map[string]*group{}
	var order_ []string
	var lineTax order.Amount
	for i, total := range r.LineTotals {
		if i >= len(r.LineTaxes) || total == 0 {
			continue
		}
		tax := r.LineTaxes[i]
		net := total
		if inclusive {
			net -= tax
		}
		rt := rate(tax, net)
		if groups[rt] == nil {
			groups[rt] = &group{}
			order_ = append(order_, rt)
		}
		groups[rt].goods += total
		groups[rt].goodsTax += tax
		lineTax += tax
	}
	if len(groups) < 2 {
		return []OrderAmounts{whole}, true
	}
	goods := make([]order.Amount, len(order_))
	taxedGoods := make([]order.Amount, len(order_))
	for i, rt := range order_ {
		goods[i] = groups[rt].goods
		if rt != "0" {
			taxedGoods[i] = groups[rt].goods
		}
	}
	// What is not the lines' own goes by the goods of each rate; the VAT
	// beyond the lines' (shipping's) by the rated goods.
	shares := func(a order.Amount, by []order.Amount) []order.Amount { return split(a, by) }
	subtotal := shares(r.Subtotal-sumOf(goods), goods)
	// Shipping whose VAT the channel charged goes with the rated goods
	// that carry that VAT; untaxed shipping by all the goods.
	shippingBy := goods
	if r.Tax-lineTax != 0 {
		shippingBy = taxedGoods
	}
	shipping := shares(r.Shipping, shippingBy)
	discount := shares(r.Discount, goods)
	// The total beyond the items (shipping, less discounts, other charges,
	// exclusive VAT) follows those parts, so that each part's own total
	// holds its shipping and VAT.
	total := make([]order.Amount, len(order_))
	rest := shares(r.Total-r.Subtotal-r.Shipping+r.Discount, goods)
	for i := range total {
		total[i] = shipping[i] - discount[i] + rest[i]
	}
	extraTax := shares(r.Tax-lineTax, taxedGoods)
	mp := shares(r.MarketplaceTax, goods)
	var out []OrderAmounts
	refunds := make([]order.Amount, len(order_))
	grossOf := make([]order.Amount, len(order_))
	for i, rt := range order_ {
		grossOf[i] = groups[rt].goods + total[i]
	}
	refunds = shares(r.Refunded, grossOf)
	for i, rt := range order_ {
		g := r
		g.Subtotal = groups[rt].goods + subtotal[i]
		g.Shipping, g.Discount = shipping[i], discount[i]
		g.Tax = groups[rt].goodsTax + extraTax[i]
		g.Total = groups[rt].goods + subtotal[i] + total[i]
		g.MarketplaceTax, g.Refunded = mp[i], refunds[i]
		g.LineTotals, g.LineTaxes = nil, nil
		if a, ok := Amounts(g); ok {
			out = append(out, a)
		}
	}
	return out, true
}

func sumOf(as []order.Amount) order.Amount {
	var s order.Amount
	for _, a := range as {
		s += a
	}
	return s
}
