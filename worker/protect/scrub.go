package protect

import (
	"fmt"
	"slices"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
)

// scrubbed is a canonical order after scrub: no card number in any string but
// the exempt marketplace identifiers, no free text. Everything the stage keeps,
// tokenises or encrypts is read from one, so nothing can be protected or kept
// before the scrub has run: the type says so.
type scrubbed struct {
	o       order.Order
	channel string // the order's channel as a metric label: channelLabel
}

// cardScan is the policy's card_scan, as scrub needs it: which fields it
// does not scan (marketplace identifiers, which the normaliser holds to their
// formats instead) and which it does (for the metric's series).
type cardScan struct {
	exempt  map[string]bool
	scanned []string // sorted
}

// add records one field's rule. A field that is personal data (tokenised or
// encrypted) cannot be exempt: no marketplace assigns it, anyone can type in
// it.
func (c *cardScan) add(path string, rule policy.Rule) error {
	switch rule.CardScan.Mode {
	case policy.Scan:
		c.scanned = append(c.scanned, path)
	case policy.Exempt:
		if rule.Treatment != policy.Keep && rule.Treatment != policy.Drop {
			return fmt.Errorf("protect: policy field %s: card_scan exempt, but a field treated %s is personal data that buyers type; only marketplace identifiers are exempt", path, rule.Treatment)
		}
		if c.exempt == nil {
			c.exempt = make(map[string]bool)
		}
		c.exempt[path] = true
	}
	return nil
}

// tally counts what one batch removed. The stage adds it to the metrics only
// when the batch succeeds: a batch that fails is retried whole, and counting
// each attempt would report one card number as many.
type tally struct {
	cards    map[cardKey]int
	schemes  map[schemeKey]int
	freeText map[freeTextKey]int
}

type cardKey struct{ channel, field string }

type schemeKey struct {
	channel string
	scheme  cardnumber.Scheme
}

type freeTextKey struct{ channel, kind string }

// scrub returns a copy of o with every card number removed from every string
// field (P3) and its free text dropped (P4), and counts both in t. o is not
// modified, nor anything it points to: what changes is copied first, and only
// then, so an order without card numbers costs no allocation. label is the
// order's channel as the metrics count it (channelLabel).
//
// Every string means every one, enums and currency codes included, whatever
// the policy does with the field afterwards, except the marketplace identifiers
// that the policy exempts (cs): the marketplace assigns them, and a Luhn-valid
// window cut out of one would corrupt the ClickHouse key it is part of. The
// normaliser has held them to their formats, which narrow what fits (fixed
// lengths, no separators, no email) but do not rule a card number out: a 3-7-7
// order id or a 14-digit line id can hold a Luhn-valid window, and is kept. A test fills each string field of the canonical order
// with a card number and checks that each is found and counted under the
// field's policy path, and that only the exempt ones are left as they were.
func scrub(o order.Order, label string, t *tally, cs *cardScan) scrubbed {
	c := cleaner{t: t, channel: label, exempt: cs.exempt}
	c.str("tenant_id", &o.TenantID)
	c.str("source_format", &o.SourceFormat)
	c.str("marketplace", &o.Marketplace)
	c.str("channel_order_id", &o.ChannelOrderID)
	c.str("seller_order_id", &o.SellerOrderID)
	c.str("source_status", &o.SourceStatus)
	c.str("ship_service_level", &o.ShipServiceLevel)
	o.Channel = order.Channel(c.clean("channel", string(o.Channel)))
	o.Status = order.Status(c.clean("status", string(o.Status)))
	o.PaymentStatus = order.PaymentStatus(c.clean("payment_status", string(o.PaymentStatus)))
	o.Fulfilment = order.Fulfilment(c.clean("fulfilment", string(o.Fulfilment)))

	b := &o.Buyer
	c.str("buyer.name", &b.Name)
	c.str("buyer.email", &b.Email)
	c.str("buyer.phone", &b.Phone)
	c.str("buyer.username", &b.Username)
	c.str("buyer.user_id", &b.UserID)
	c.str("buyer.company_name", &b.CompanyName)
	c.str("buyer.tax_id", &b.TaxID)
	c.str("buyer.purchase_order_number", &b.PurchaseOrderNumber)

	o.ShippingAddress = c.address(o.ShippingAddress, &shippingPaths)
	o.BillingAddress = c.address(o.BillingAddress, &billingPaths)

	o.Lines = c.lines(o.Lines)
	c.money("totals.subtotal", &o.Totals.Subtotal)
	c.money("totals.tax", &o.Totals.Tax)
	c.money("totals.shipping", &o.Totals.Shipping)
	c.money("totals.discount", &o.Totals.Discount)
	c.money("totals.total", &o.Totals.Total)
	o.MarketplaceTaxes = c.marketplaceTaxes(o.MarketplaceTaxes)
	o.Refunds = c.refunds(o.Refunds)

	for _, ft := range o.FreeText {
		// Scanned although dropped: a card number typed into a gift message is
		// worth knowing about (the metric), even though it goes nowhere.
		c.clean("free_text.kind", string(ft.Kind))
		c.clean("free_text.line_id", ft.LineID)
		c.clean("free_text.text", ft.Text)
		t.addFreeText(c.channel, freeTextKindLabel(ft.Kind))
	}
	o.FreeText = nil
	return scrubbed{o: o, channel: label}
}

// cleaner scrubs the fields of one order.
type cleaner struct {
	t       *tally
	channel string          // label value
	exempt  map[string]bool // paths not scanned
	changed bool            // set when a card number was removed; callers reset it
}

// clean returns s without its card numbers, counting them under path. Most
// strings have too few digits to hold one; only those that could are looked
// up among the exempt paths (a map lookup costs more than MayContain's count),
// and RedactCandidate scans them without making that count a second time.
func (c *cleaner) clean(path, s string) string {
	if !cardnumber.MayContain(s) || c.exempt[path] {
		return s
	}
	r, ms := cardnumber.RedactCandidate(s)
	if len(ms) > 0 {
		c.t.addCards(c.channel, path, ms)
		c.changed = true
	}
	return r
}

func (c *cleaner) str(path string, s *string) { *s = c.clean(path, *s) }

// money scans the currency: order.ParseMoney admits only three capital letters,
// but a Money built any other way is a string like the rest.
func (c *cleaner) money(path string, m *order.Money) { c.str(path, &m.Currency) }

// address returns a, or a scrubbed copy of it if it held a card number.
func (c *cleaner) address(a *order.Address, p *addressPaths) *order.Address {
	if a == nil {
		return nil
	}
	cp := *a
	c.changed = false
	c.str(p.name, &cp.Name)
	c.str(p.companyName, &cp.CompanyName)
	c.str(p.line1, &cp.Line1)
	c.str(p.line2, &cp.Line2)
	c.str(p.line3, &cp.Line3)
	c.str(p.city, &cp.City)
	c.str(p.county, &cp.County)
	c.str(p.stateOrRegion, &cp.StateOrRegion)
	c.str(p.postalCode, &cp.PostalCode)
	c.str(p.countryCode, &cp.CountryCode)
	c.str(p.phone, &cp.Phone)
	c.str(p.email, &cp.Email)
	c.str(p.addressType, &cp.AddressType)
	if !c.changed {
		return a
	}
	scrubbed := new(order.Address)
	*scrubbed = cp
	return scrubbed
}

func (c *cleaner) lines(lines []order.Line) []order.Line {
	return cleanEach(c, lines, func(l order.Line) order.Line {
		c.str("lines.line_id", &l.LineID)
		c.str("lines.sku", &l.SKU)
		c.str("lines.asin", &l.ASIN)
		c.str("lines.item_id", &l.ItemID)
		c.str("lines.title", &l.Title)
		c.money("lines.unit_price", &l.UnitPrice)
		c.money("lines.line_total", &l.LineTotal)
		c.money("lines.tax", &l.Tax)
		c.money("lines.shipping", &l.Shipping)
		c.money("lines.shipping_tax", &l.ShippingTax)
		c.money("lines.discount", &l.Discount)
		c.money("lines.discount_tax", &l.DiscountTax)
		c.money("lines.gift_wrap", &l.GiftWrap)
		c.money("lines.gift_wrap_tax", &l.GiftWrapTax)
		l.PromotionIDs = c.strings("lines.promotion_ids", l.PromotionIDs)
		return l
	})
}

func (c *cleaner) strings(path string, ss []string) []string {
	return cleanEach(c, ss, func(s string) string { return c.clean(path, s) })
}

func (c *cleaner) marketplaceTaxes(taxes []order.MarketplaceTax) []order.MarketplaceTax {
	return cleanEach(c, taxes, func(t order.MarketplaceTax) order.MarketplaceTax {
		c.str("marketplace_taxes.line_id", &t.LineID)
		c.str("marketplace_taxes.tax_type", &t.TaxType)
		c.str("marketplace_taxes.model", &t.Model)
		c.money("marketplace_taxes.amount", &t.Amount)
		return t
	})
}

func (c *cleaner) refunds(refunds []order.Refund) []order.Refund {
	return cleanEach(c, refunds, func(r order.Refund) order.Refund {
		c.str("refunds.refund_id", &r.RefundID)
		c.str("refunds.line_id", &r.LineID)
		c.str("refunds.status", &r.Status)
		c.money("refunds.amount", &r.Amount)
		return r
	})
}

// cleanEach scrubs each element of list with clean, copying list only when an
// element changed (c.changed), so that a clean order allocates nothing and the
// caller's order is never modified.
func cleanEach[T any](c *cleaner, list []T, clean func(T) T) []T {
	outer := c.changed
	copied := false
	for i := range list {
		c.changed = false
		e := clean(list[i])
		if c.changed {
			if !copied {
				list, copied = slices.Clone(list), true
			}
			list[i] = e
		}
	}
	c.changed = outer || copied
	return list
}

// addressPaths are the policy paths of one address's fields, built once so that
// scrubbing concatenates nothing.
type addressPaths struct {
	name, companyName, line1, line2, line3, city, county, stateOrRegion,
	postalCode, countryCode, phone, email, addressType string
}

func newAddressPaths(prefix string) addressPaths {
	return addressPaths{
		name: prefix + ".name", companyName: prefix + ".company_name",
		line1: prefix + ".line1", line2: prefix + ".line2", line3: prefix + ".line3",
		city: prefix + ".city", county: prefix + ".county", stateOrRegion: prefix + ".state_or_region",
		postalCode: prefix + ".postal_code", countryCode: prefix + ".country_code",
		phone: prefix + ".phone", email: prefix + ".email", addressType: prefix + ".address_type",
	}
}

var (
	shippingPaths = newAddressPaths("shipping_address")
	billingPaths  = newAddressPaths("billing_address")
)

func (t *tally) addCards(channel, field string, ms []cardnumber.Match) {
	if t.cards == nil {
		t.cards = make(map[cardKey]int)
		t.schemes = make(map[schemeKey]int)
	}
	t.cards[cardKey{channel, field}] += len(ms)
	for _, m := range ms {
		t.schemes[schemeKey{channel, m.Scheme}]++
	}
}

func (t *tally) addFreeText(channel, kind string) {
	if t.freeText == nil {
		t.freeText = make(map[freeTextKey]int)
	}
	t.freeText[freeTextKey{channel, kind}]++
}

// channelLabel bounds the channel label's values to the registered channels:
// normalize admits no other, but a label must stay bounded whatever it is given.
func channelLabel(channels *channel.Registry, ch order.Channel) string {
	if channels.Has(ch) {
		return string(ch)
	}
	return "other"
}

func freeTextKindLabel(k order.FreeTextKind) string {
	switch k {
	case order.FreeTextGiftMessage, order.FreeTextCheckoutNote, order.FreeTextCustomisation:
		return string(k)
	}
	return "other"
}
