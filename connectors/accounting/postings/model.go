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
	"slices"
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
	// Lines are the order lines' amounts and VAT: what tells the rates of an
	// order that mixes them (a book at 0% beside a mug at 20%).
	Lines []RecordLine
}

// RecordLine is one order line's amounts as financial_records holds them:
// the items' price, shipping, discount and gift wrap, each with the VAT in
// it (or, where prices exclude tax, on it). A record written before lines
// kept their shipping, discount and gift wrap has those zero.
type RecordLine struct {
	Total, Tax            order.Amount
	Shipping, ShippingTax order.Amount
	Discount, DiscountTax order.Amount
	GiftWrap, GiftWrapTax order.Amount
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
	if onTop > 0 && r.Total-base == r.MarketplaceTax {
		// The stated tax is the marketplace's own, added on top (Amazon US
		// as marketplace facilitator): none of it is the seller's.
		sellerTax = max(0, r.Tax-onTop)
	}
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
// is split into one OrderAmounts per rate. Each line goes to the rate of
// its own amounts (item, shipping, gift wrap, less discount, with the VAT on
// each). What the lines do not hold (an order-level charge, or all of the
// shipping and discounts of a record written before lines kept them) is
// apportioned: when it carries no VAT, to the zero-rated goods if the order
// has any; when it does, over the rated goods; otherwise by goods.
// Refunds go by each rate's share of the order, marketplace VAT by its
// share of the VAT. The parts sum exactly to Amounts' whole.
func Split(r Record) ([]OrderAmounts, bool) {
	whole, ok := Amounts(r)
	if !ok {
		return nil, false
	}
	base := r.Subtotal + r.Shipping - r.Discount
	exclusive := r.Tax > 0 && exclusiveJurisdictions[r.Jurisdiction] && r.Total-base >= r.Tax
	type group struct {
		rate                                    string
		subtotal, shipping, discount, tax, rest order.Amount
	}
	var groups []*group
	var lines group // what the lines hold, summed
	for _, l := range r.Lines {
		gross, tax := l.Total+l.Shipping+l.GiftWrap-l.Discount, l.Tax+l.ShippingTax+l.GiftWrapTax-l.DiscountTax
		if gross == 0 && tax == 0 {
			continue
		}
		net := gross
		if !exclusive {
			net -= tax
		}
		rt := rate(tax, net)
		i := slices.IndexFunc(groups, func(g *group) bool { return g.rate == rt })
		if i < 0 {
			i = len(groups)
			groups = append(groups, &group{rate: rt})
		}
		g := groups[i]
		g.subtotal += l.Total
		g.shipping += l.Shipping
		g.discount += l.Discount
		g.rest += l.GiftWrap
		g.tax += tax
		lines.subtotal += l.Total
		lines.shipping += l.Shipping
		lines.discount += l.Discount
		lines.tax += tax
	}
	if len(groups) < 2 || whole.VATRate == "0" {
		// One rate, or no VAT of the seller's at all (what the lines carry
		// is the marketplace's): the whole order is one part.
		return []OrderAmounts{whole}, true
	}
	goods := make([]order.Amount, len(groups))
	for i, g := range groups {
		goods[i] = g.subtotal
	}
	weights := goods
	remTax := r.Tax - lines.tax
	if zero := slices.IndexFunc(groups, func(g *group) bool { return g.rate == "0" }); remTax == 0 && zero >= 0 {
		weights = make([]order.Amount, len(groups))
		weights[zero] = 1
	} else if remTax != 0 {
		weights = make([]order.Amount, len(groups))
		for i, g := range groups {
			if g.rate != "0" {
				weights[i] = g.subtotal
			}
		}
	}
	for i, share := range split(r.Subtotal-lines.subtotal, weights) {
		groups[i].subtotal += share
	}
	for i, share := range split(r.Shipping-lines.shipping, weights) {
		groups[i].shipping += share
	}
	for i, share := range split(r.Discount-lines.discount, weights) {
		groups[i].discount += share
	}
	for i, share := range split(remTax, weights) {
		groups[i].tax += share
	}
	// Each rate's total: its goods, shipping, less discounts, gift wrap
	// (and, where prices exclude tax, its tax); what the order's total holds
	// beyond them (charges the record does not name) by the same weights.
	totals := make([]order.Amount, len(groups))
	var sum order.Amount
	for i, g := range groups {
		totals[i] = g.subtotal + g.shipping - g.discount + g.rest
		if exclusive {
			totals[i] += g.tax
		}
		sum += totals[i]
	}
	for i, share := range split(r.Total-sum, weights) {
		totals[i] += share
	}
	// Marketplace VAT is the VAT of the lines the marketplace collects on
	// (all of each such line's): it goes with each rate's VAT, never with
	// zero-rated goods.
	taxes := make([]order.Amount, len(groups))
	for i, g := range groups {
		taxes[i] = g.tax
	}
	mp := split(r.MarketplaceTax, taxes)
	refunds := split(r.Refunded, totals)
	var out []OrderAmounts
	for i, g := range groups {
		part := r
		part.Subtotal, part.Shipping, part.Discount, part.Tax, part.Total = g.subtotal, g.shipping, g.discount, g.tax, totals[i]
		part.MarketplaceTax, part.Refunded = mp[i], refunds[i]
		part.Lines = nil
		if a, ok := Amounts(part); ok {
			out = append(out, a)
		}
	}
	return out, true
}
