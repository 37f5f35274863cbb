package protect

import (
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// keep copies the fields the policy keeps (keptPaths) from a scrubbed order
// into dst. It names each field: a field added to the canonical order is not
// copied until someone adds it here and to keptPaths, and the policy marks it
// keep, so nothing new reaches the output unclassified. Times behind pointers
// and promotion id slices are shared with the canonical order, which nothing
// modifies.
func keep(dst *protected.Order, s *scrubbed, a *arena) {
	o := &s.o
	*dst = protected.Order{
		SchemaVersion:    o.SchemaVersion,
		TenantID:         o.TenantID,
		Channel:          o.Channel,
		SourceFormat:     o.SourceFormat,
		Marketplace:      o.Marketplace,
		ChannelOrderID:   o.ChannelOrderID,
		SellerOrderID:    o.SellerOrderID,
		Status:           o.Status,
		PaymentStatus:    o.PaymentStatus,
		SourceStatus:     o.SourceStatus,
		CancelRequested:  o.CancelRequested,
		Fulfilment:       o.Fulfilment,
		IsPrime:          o.IsPrime,
		IsBusiness:       o.IsBusiness,
		ShipServiceLevel: o.ShipServiceLevel,
		PurchasedAt:      o.PurchasedAt,
		SourceUpdatedAt:  o.SourceUpdatedAt,
		ReceivedAt:       o.ReceivedAt,
		LatestShipAt:     o.LatestShipAt,
		LatestDeliveryAt: o.LatestDeliveryAt,
		ShippingAddress:  a.address(o.ShippingAddress),
		BillingAddress:   a.address(o.BillingAddress),
		Lines:            a.copyLines(o.Lines),
		Totals: protected.Totals{
			Subtotal: o.Totals.Subtotal,
			Tax:      o.Totals.Tax,
			Shipping: o.Totals.Shipping,
			Discount: o.Totals.Discount,
			Total:    o.Totals.Total,
		},
		MarketplaceTaxes: a.copyTaxes(o.MarketplaceTaxes),
		Refunds:          a.copyRefunds(o.Refunds),
	}
}

// arena holds the output's addresses, lines, taxes and refunds for a whole
// batch, so that a batch makes four allocations for them rather than several
// per order. Each is sized by a first pass over the batch; should one be short,
// append moves it, which is harmless: what was handed out stays where it was.
type arena struct {
	addresses []protected.Address
	lines     []protected.Line
	taxes     []protected.MarketplaceTax
	refunds   []protected.Refund
}

func newArena(orders []order.Order) arena {
	var nAddr, nLines, nTaxes, nRefunds int
	for i := range orders {
		o := &orders[i]
		if o.ShippingAddress != nil {
			nAddr++
		}
		if o.BillingAddress != nil {
			nAddr++
		}
		nLines += len(o.Lines)
		nTaxes += len(o.MarketplaceTaxes)
		nRefunds += len(o.Refunds)
	}
	return arena{
		addresses: make([]protected.Address, 0, nAddr),
		lines:     make([]protected.Line, 0, nLines),
		taxes:     make([]protected.MarketplaceTax, 0, nTaxes),
		refunds:   make([]protected.Refund, 0, nRefunds),
	}
}

func (a *arena) address(src *order.Address) *protected.Address {
	if src == nil {
		return nil
	}
	a.addresses = append(a.addresses, protected.Address{CountryCode: src.CountryCode, AddressType: src.AddressType})
	return &a.addresses[len(a.addresses)-1]
}

func (a *arena) copyLines(src []order.Line) []protected.Line {
	return carve(&a.lines, src, func(l *order.Line) protected.Line {
		return protected.Line{
			LineID:          l.LineID,
			SKU:             l.SKU,
			ASIN:            l.ASIN,
			ItemID:          l.ItemID,
			Title:           l.Title,
			Quantity:        l.Quantity,
			QuantityShipped: l.QuantityShipped,
			UnitPrice:       l.UnitPrice,
			LineTotal:       l.LineTotal,
			Tax:             l.Tax,
			Shipping:        l.Shipping,
			ShippingTax:     l.ShippingTax,
			Discount:        l.Discount,
			DiscountTax:     l.DiscountTax,
			GiftWrap:        l.GiftWrap,
			GiftWrapTax:     l.GiftWrapTax,
			PromotionIDs:    l.PromotionIDs,
			IsGift:          l.IsGift,
			CancelRequested: l.CancelRequested,
		}
	})
}

func (a *arena) copyTaxes(src []order.MarketplaceTax) []protected.MarketplaceTax {
	return carve(&a.taxes, src, func(t *order.MarketplaceTax) protected.MarketplaceTax {
		return protected.MarketplaceTax{LineID: t.LineID, TaxType: t.TaxType, Model: t.Model, Amount: t.Amount}
	})
}

func (a *arena) copyRefunds(src []order.Refund) []protected.Refund {
	return carve(&a.refunds, src, func(r *order.Refund) protected.Refund {
		return protected.Refund{RefundID: r.RefundID, LineID: r.LineID, Amount: r.Amount, RefundedAt: r.RefundedAt, Status: r.Status}
	})
}

// carve appends src, each element converted, to the arena's buf and returns
// the appended part (nil for an empty src), its capacity cut at its end so
// that an append to one order's slice cannot write over the next order's.
func carve[S, D any](buf *[]D, src []S, convert func(*S) D) []D {
	if len(src) == 0 {
		return nil
	}
	start := len(*buf)
	for i := range src {
		*buf = append(*buf, convert(&src[i]))
	}
	end := len(*buf)
	return (*buf)[start:end:end]
}
