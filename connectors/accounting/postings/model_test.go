package postings_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/postings"
	"github.com/orderflow/orderflow/worker/order"
)

func amt(t testing.TB, s string) order.Amount {
	t.Helper()
	a, err := order.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func line(t testing.TB, k accounting.LineKind, net, tax string) accounting.Line {
	return accounting.Line{Kind: k, Net: amt(t, net), Tax: amt(t, tax)}
}

// The model on the normaliser's fixtures' amounts (their golden files),
// worked by hand: VAT-inclusive UK prices, Amazon as marketplace facilitator
// (the VAT inside the total is Amazon's), eBay collecting import VAT on top
// (never the seller's), a VAT-exclusive US order, a refund, a discount.
func TestAmounts(t *testing.T) {
	paid := order.PaymentPaid
	for _, c := range []struct {
		name string
		r    postings.Record
		want postings.OrderAmounts
	}{{
		// amazon/uk-two-lines-typical: 43.50 + 2.99 = 46.49, 7.75 VAT inside.
		name: "uk-two-lines-typical",
		r:    postings.Record{PaymentStatus: paid, Subtotal: amt(t, "43.50"), Shipping: amt(t, "2.99"), Tax: amt(t, "7.75"), Total: amt(t, "46.49")},
		want: postings.OrderAmounts{VATRate: "20", Lines: []accounting.Line{
			// 7.75 x 43.50 / 46.49 = 7.2516 -> 7.25; the rest, 0.50, on shipping.
			line(t, accounting.LineSales, "36.25", "7.25"),
			line(t, accounting.LineShipping, "2.49", "0.50"),
		}},
	}, {
		// amazon/uk-lvi-marketplace-facilitator: 28.80 + 6.00 = 34.80, the
		// 5.80 VAT inside is Amazon's (low-value import): none is the seller's.
		name: "uk-lvi-marketplace-facilitator",
		r: postings.Record{PaymentStatus: paid, Subtotal: amt(t, "28.80"), Shipping: amt(t, "6.00"), Tax: amt(t, "5.80"),
			Total: amt(t, "34.80"), MarketplaceTax: amt(t, "5.80")},
		want: postings.OrderAmounts{VATRate: "0", Lines: []accounting.Line{
			line(t, accounting.LineSales, "24.00", "0"),
			line(t, accounting.LineShipping, "5.00", "0"),
			line(t, accounting.LineMarketplaceVAT, "5.80", "0"),
		}},
	}, {
		// ebay/import-vat-collected: 24.99 + 2.99 = 27.98 to the seller; eBay
		// added 5.60 import VAT on top and remits it: not posted at all.
		name: "ebay-import-vat-collected",
		r: postings.Record{PaymentStatus: paid, Subtotal: amt(t, "24.99"), Shipping: amt(t, "2.99"), Total: amt(t, "27.98"),
			MarketplaceTax: amt(t, "5.60")},
		want: postings.OrderAmounts{VATRate: "0", Lines: []accounting.Line{
			line(t, accounting.LineSales, "24.99", "0"),
			line(t, accounting.LineShipping, "2.99", "0"),
		}},
	}, {
		// VAT-exclusive (a US order with the seller's own sales tax): 50 +
		// 5 - 5 discount + 4.00 tax = 54.00.
		name: "exclusive-with-discount",
		r: postings.Record{PaymentStatus: paid, Jurisdiction: "US", Subtotal: amt(t, "50.00"), Shipping: amt(t, "5.00"), Discount: amt(t, "5.00"),
			Tax: amt(t, "4.00"), Total: amt(t, "54.00")},
		want: postings.OrderAmounts{VATRate: "8", Lines: []accounting.Line{
			line(t, accounting.LineSales, "50.00", "4.00"),
			line(t, accounting.LineShipping, "5.00", "0.40"),
			line(t, accounting.LineDiscount, "-5.00", "-0.40"),
		}},
	}, {
		// eBay US: 54.00 + 5.95 = 59.95 to the seller; the 4.95 sales tax eBay
		// collected is in the total but never the seller's.
		name: "ebay-us-sales-tax-in-total",
		r: postings.Record{PaymentStatus: paid, Jurisdiction: "US", Subtotal: amt(t, "54.00"), Shipping: amt(t, "5.95"),
			Total: amt(t, "64.90"), MarketplaceTax: amt(t, "4.95")},
		want: postings.OrderAmounts{VATRate: "0", Lines: []accounting.Line{
			line(t, accounting.LineSales, "54.00", "0"),
			line(t, accounting.LineShipping, "5.95", "0"),
		}},
	}, {
		// Amazon UK with gift wrap: 45.00 + 3.49 = 48.49, total 52.48: 3.99
		// the totals do not name, with its share of the 8.75 VAT.
		name: "uk-gift-wrap",
		r: postings.Record{PaymentStatus: paid, Jurisdiction: "GB", Subtotal: amt(t, "45.00"), Shipping: amt(t, "3.49"),
			Tax: amt(t, "8.75"), Total: amt(t, "52.48")},
		want: postings.OrderAmounts{VATRate: "20", Lines: []accounting.Line{
			// 8.75 x 45.00 / 52.48 = 7.5029 -> 7.50; x 3.49 = 0.5819 -> 0.58;
			// x 3.99 = 0.6652 -> 0.67: 8.75, no remainder.
			line(t, accounting.LineSales, "37.50", "7.50"),
			line(t, accounting.LineShipping, "2.91", "0.58"),
			line(t, accounting.LineOther, "3.32", "0.67"),
		}},
	}, {
		// A small order whose VAT the marketplace rounded to the penny:
		// 0.50 on 2.49 net reads as 20.08%, and is 20%.
		name: "rounded-vat-snaps-to-the-rate",
		r:    postings.Record{PaymentStatus: paid, Jurisdiction: "GB", Subtotal: amt(t, "2.99"), Tax: amt(t, "0.50"), Total: amt(t, "2.99")},
		want: postings.OrderAmounts{VATRate: "20", Lines: []accounting.Line{
			line(t, accounting.LineSales, "2.49", "0.50"),
		}},
	}, {
		// Ireland's reduced 13.5% stays 13.5%.
		name: "ie-reduced-rate",
		r:    postings.Record{PaymentStatus: paid, Jurisdiction: "IE", Subtotal: amt(t, "11.35"), Tax: amt(t, "1.35"), Total: amt(t, "11.35")},
		want: postings.OrderAmounts{VATRate: "13.5", Lines: []accounting.Line{
			line(t, accounting.LineSales, "10.00", "1.35"),
		}},
	}, {
		// Refunded 12.00 of a VAT-inclusive 24.00 (4.00 VAT): half the VAT back.
		name: "partial-refund",
		r: postings.Record{PaymentStatus: order.PaymentPartiallyRefunded, Subtotal: amt(t, "24.00"), Tax: amt(t, "4.00"),
			Total: amt(t, "24.00"), Refunded: amt(t, "12.00")},
		want: postings.OrderAmounts{VATRate: "20", Lines: []accounting.Line{
			line(t, accounting.LineSales, "20.00", "4.00"),
			line(t, accounting.LineRefund, "-10.00", "-2.00"),
		}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := postings.Amounts(c.r)
			if !ok {
				t.Fatal("a paid order counts nothing")
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	for _, ps := range []order.PaymentStatus{order.PaymentPending, order.PaymentFailed, order.PaymentVoided} {
		if _, ok := postings.Amounts(postings.Record{PaymentStatus: ps, Total: amt(t, "10.00"), Subtotal: amt(t, "10.00")}); ok {
			t.Errorf("an order with payment %s counts", ps)
		}
	}
}

// For any order, the lines are whole pennies and sum, to the penny, to what
// the seller keeps: the total less refunds, less the marketplace's VAT when
// it lies outside the total; and the seller's VAT on them is the order's tax
// less the marketplace's share inside it (less the refunded part).
func TestAmountsAddUpToThePenny(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	pennies := func(max int) order.Amount { return order.Amount(rng.IntN(max)) * 100 }
	for i := range 20_000 {
		r := postings.Record{PaymentStatus: order.PaymentPaid, Subtotal: pennies(100_000), Shipping: pennies(2_000)}
		r.Discount = min(pennies(3_000), r.Subtotal)
		base := r.Subtotal + r.Shipping - r.Discount
		r.Tax = base * order.Amount(rng.IntN(25)) / 100 / 100 * 100 // up to 24%, whole pennies
		inclusive := rng.IntN(2) == 0
		if inclusive {
			r.Total = base
			if rng.IntN(4) == 0 {
				r.MarketplaceTax = r.Tax // Amazon's VAT inside
			}
		} else {
			r.Total = base + r.Tax
		}
		if rng.IntN(3) == 0 && r.Total > 0 {
			r.Refunded = order.Amount(rng.Int64N(int64(r.Total)/100+1)) * 100
			r.PaymentStatus = order.PaymentPartiallyRefunded
		}
		if !inclusive {
			r.Jurisdiction = "US"
		}
		a, ok := postings.Amounts(r)
		if !ok {
			if r.Total == 0 {
				continue // nothing to post
			}
			t.Fatalf("order %d %+v: a paid order counts nothing", i, r)
		}
		var net, tax, gross order.Amount
		for _, l := range a.Lines {
			if l.Net%100 != 0 || l.Tax%100 != 0 {
				t.Fatalf("order %d: line %+v is not whole pennies", i, l)
			}
			net, tax, gross = net+l.Net, tax+l.Tax, gross+l.Net+l.Tax
		}
		if want := r.Total - r.Refunded; gross != want {
			t.Fatalf("order %d %+v: lines sum to %s, want %s", i, r, gross, want)
		}
		if inclusive && r.MarketplaceTax > 0 && tax > 0 {
			t.Fatalf("order %d: the marketplace's VAT posted as the seller's (%s)", i, tax)
		}
		_ = net
	}
}

// The period of a day: daily, weekly (Monday to Sunday, cut at the month
// end), monthly.
func TestPeriodOf(t *testing.T) {
	d := func(s string) time.Time { x, _ := time.Parse(time.DateOnly, s); return x }
	for _, c := range []struct {
		at       string
		p        postings.Periodicity
		from, to string
	}{
		{"2026-10-14", postings.Daily, "2026-10-14", "2026-10-14"},
		{"2026-10-14", postings.Weekly, "2026-10-12", "2026-10-18"},
		{"2026-09-30", postings.Weekly, "2026-09-28", "2026-09-30"}, // Wednesday: the week is cut at the month end
		{"2026-10-01", postings.Weekly, "2026-10-01", "2026-10-04"},
		{"2026-02-11", postings.Monthly, "2026-02-01", "2026-02-28"},
	} {
		p, err := postings.PeriodOf(d(c.at).Add(23*time.Hour+59*time.Minute), c.p)
		if err != nil || !p.From.Equal(d(c.from)) || !p.To.Equal(d(c.to)) {
			t.Errorf("PeriodOf(%s, %s) = %s (%v), want %s..%s", c.at, c.p, p, err, c.from, c.to)
		}
	}
}

// sumParts is what Split's parts add up to: gross and VAT overall, and VAT
// and gross by rate.
func sumParts(parts []postings.OrderAmounts) (gross, tax order.Amount, taxByRate, grossByRate map[string]order.Amount) {
	taxByRate, grossByRate = map[string]order.Amount{}, map[string]order.Amount{}
	for _, p := range parts {
		for _, l := range p.Lines {
			gross += l.Net + l.Tax
			tax += l.Tax
			taxByRate[p.VATRate] += l.Tax
			grossByRate[p.VATRate] += l.Net + l.Tax
		}
	}
	return gross, tax, taxByRate, grossByRate
}

// An order mixing rates is split by them, each line with its own shipping,
// discount and gift wrap: a zero-rated book (10.00, shipping 2.99 without
// VAT, a 1.00 promotion) beside a standard-rated mug (24.00 with 4.00 VAT,
// shipping 3.49 with 0.58, a 6.00 promotion taking 1.00 VAT off, gift wrap
// 1.20 with 0.20). Each rate holds exactly its lines' amounts and VAT, and
// the parts sum to the order.
func TestSplitByRate(t *testing.T) {
	book := postings.RecordLine{Total: amt(t, "10.00"), Shipping: amt(t, "2.99"), Discount: amt(t, "1.00")}
	mug := postings.RecordLine{Total: amt(t, "24.00"), Tax: amt(t, "4.00"), Shipping: amt(t, "3.49"), ShippingTax: amt(t, "0.58"),
		Discount: amt(t, "6.00"), DiscountTax: amt(t, "1.00"), GiftWrap: amt(t, "1.20"), GiftWrapTax: amt(t, "0.20")}
	r := postings.Record{PaymentStatus: order.PaymentPaid, Jurisdiction: "GB",
		Subtotal: amt(t, "34.00"), Shipping: amt(t, "6.48"), Discount: amt(t, "7.00"), Tax: amt(t, "3.78"), Total: amt(t, "34.68"),
		Lines: []postings.RecordLine{book, mug}}
	parts, ok := postings.Split(r)
	if !ok || len(parts) != 2 {
		t.Fatalf("Split: %+v, %v; want two rates", parts, ok)
	}
	gross, tax, taxBy, grossBy := sumParts(parts)
	if gross != r.Total || tax != r.Tax {
		t.Errorf("the parts sum to %s gross, %s VAT; want the order's %s and %s", gross, tax, r.Total, r.Tax)
	}
	if taxBy["0"] != 0 || grossBy["0"] != amt(t, "11.99") || taxBy["20"] != amt(t, "3.78") || grossBy["20"] != amt(t, "22.69") {
		t.Errorf("by rate: VAT %v, gross %v; want 0 VAT on 11.99 at 0%% and 3.78 on 22.69 at 20%%", taxBy, grossBy)
	}
	// A single-rate order is one part, the whole.
	one := postings.Record{PaymentStatus: order.PaymentPaid, Subtotal: amt(t, "24.00"), Tax: amt(t, "4.00"), Total: amt(t, "24.00"),
		Lines: []postings.RecordLine{{Total: amt(t, "24.00"), Tax: amt(t, "4.00")}}}
	if parts, _ := postings.Split(one); len(parts) != 1 || parts[0].VATRate != "20" {
		t.Errorf("a single-rate order split into %+v", parts)
	}
}

// A record written before lines kept their shipping and discounts: what the
// lines do not hold is apportioned, untaxed shipping with the zero-rated
// goods and taxed shipping with the rated ones, so that no part reads at a
// rate no line has (the 16.8% an even spread of the book's free-of-VAT
// shipping over both lines would make).
func TestSplitApportionsWhatTheLinesDoNotHold(t *testing.T) {
	for _, c := range []struct {
		name                   string
		shippingVAT, zeroGross string
	}{
		{"untaxed shipping", "0.00", "26.99"},
		{"taxed shipping", "0.83", "22.00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			shippingVAT := amt(t, c.shippingVAT)
			r := postings.Record{PaymentStatus: order.PaymentPaid, Jurisdiction: "GB",
				Subtotal: amt(t, "30.99"), Shipping: amt(t, "4.99"), Tax: amt(t, "1.50") + shippingVAT, Total: amt(t, "35.98"),
				Lines: []postings.RecordLine{{Total: amt(t, "22.00")}, {Total: amt(t, "8.99"), Tax: amt(t, "1.50")}}}
			parts, _ := postings.Split(r)
			gross, tax, taxBy, grossBy := sumParts(parts)
			if gross != r.Total || tax != r.Tax {
				t.Errorf("the parts sum to %s gross, %s VAT; want %s and %s", gross, tax, r.Total, r.Tax)
			}
			for _, p := range parts {
				if p.VATRate != "0" && p.VATRate != "20" {
					t.Errorf("a part at %s%%: %+v", p.VATRate, p)
				}
			}
			if grossBy["0"] != amt(t, c.zeroGross) || taxBy["0"] != 0 {
				t.Errorf("zero-rated part: gross %s, VAT %s; want %s, no VAT", grossBy["0"], taxBy["0"], c.zeroGross)
			}
		})
	}
}

// An order mixing rates on which the marketplace collected the VAT (Amazon
// under IOSS: all of each line's VAT): the seller posts no VAT at any rate,
// the marketplace's 4.00 is its own line, and no part reads at a rate made
// of a share of the marketplace's VAT (the 3.4% spreading it by goods made).
func TestSplitMarketplaceVATGoesWithTheVAT(t *testing.T) {
	r := postings.Record{PaymentStatus: order.PaymentPaid, Jurisdiction: "DE",
		Subtotal: amt(t, "34.00"), Tax: amt(t, "4.00"), Total: amt(t, "34.00"), MarketplaceTax: amt(t, "4.00"),
		Lines: []postings.RecordLine{{Total: amt(t, "10.00")}, {Total: amt(t, "24.00"), Tax: amt(t, "4.00")}}}
	parts, _ := postings.Split(r)
	gross, tax, _, _ := sumParts(parts)
	var mp order.Amount
	for _, p := range parts {
		if p.VATRate != "0" {
			t.Errorf("a part at %s%%: %+v", p.VATRate, p.Lines)
		}
		for _, l := range p.Lines {
			if l.Kind == accounting.LineMarketplaceVAT {
				mp += l.Net
			}
		}
	}
	if gross != r.Total || tax != 0 || mp != r.MarketplaceTax {
		t.Errorf("parts: gross %s, seller VAT %s, marketplace VAT %s; want %s, none, %s", gross, tax, mp, r.Total, r.MarketplaceTax)
	}
}

// Amazon US as marketplace facilitator (the normaliser's
// us-usd-marketplace-facilitator order): the 8.81 sales tax is added on
// top and is all Amazon's. The seller posts its 85.97 at no tax of its
// own, in one part whatever its lines' tax rates, and the sales tax nowhere.
func TestMarketplaceSalesTaxOnTopIsNeverTheSellers(t *testing.T) {
	r := postings.Record{PaymentStatus: order.PaymentPaid, Jurisdiction: "US", Currency: "USD",
		Subtotal: amt(t, "79.98"), Shipping: amt(t, "5.99"), Tax: amt(t, "8.81"), Total: amt(t, "94.78"), MarketplaceTax: amt(t, "8.81"),
		Lines: []postings.RecordLine{{Total: amt(t, "49.99"), Tax: amt(t, "4.44"), Shipping: amt(t, "5.99"), ShippingTax: amt(t, "0.53")},
			{Total: amt(t, "29.99"), Tax: amt(t, "3.84")}}}
	parts, ok := postings.Split(r)
	if !ok || len(parts) != 1 {
		t.Fatalf("Split: %+v, want one part", parts)
	}
	gross, tax, _, _ := sumParts(parts)
	if parts[0].VATRate != "0" || tax != 0 || gross != amt(t, "85.97") {
		t.Errorf("the order posts %s gross, %s tax at %s%%: %+v; want 85.97 with no tax of the seller's", gross, tax, parts[0].VATRate, parts[0].Lines)
	}
	for _, l := range parts[0].Lines {
		if l.Kind == accounting.LineMarketplaceVAT {
			t.Errorf("sales tax added on top posted as a line: %+v", l)
		}
	}
}
