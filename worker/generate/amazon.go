package generate

// Amazon payloads, member by member in Amazon's order, as the fixtures in
// worker/normalize/testdata/amazon and amazon2026 are (their README cites the
// models: ordersV0.json and orders_2026-01-01.json). UK and EU prices include
// VAT: an order's total is its items, shipping and gift wrap less its promotions,
// and the tax amounts are the VAT inside them.

const day = 24 * 3600 * 1000

// dayStart returns the midnight (UTC) that starts t's day.
func dayStart(t int64) int64 { return floorDiv(t, day) * day }

var v0Statuses = [...]string{
	stPending: "Pending", stUnshipped: "Unshipped", stCancelRequested: "Unshipped",
	stPartiallyShipped: "PartiallyShipped", stShipped: "Shipped", stCancelled: "Canceled",
}

var v2026Statuses = [...]string{
	stPending: "PENDING", stUnshipped: "UNSHIPPED", stCancelRequested: "UNSHIPPED",
	stPartiallyShipped: "PARTIALLY_SHIPPED", stShipped: "SHIPPED", stCancelled: "CANCELLED",
}

// shippedQty is how many of line i's units have shipped in state st.
func shippedQty(st state, i int, l *linePlan) int64 {
	switch {
	case st == stShipped || st == stRefundedPartial || st == stRefundedFull:
		return l.qty
	case st == stPartiallyShipped && i == 0:
		return l.qty
	}
	return 0
}

// promises are an order's ship-by and deliver-by days after its purchase day.
func (p *orderPlan) promises() (ship, deliver int64) {
	if p.nextDay || p.afn {
		return 0, 1
	}
	if p.m != mktUK {
		return 2, 7
	}
	return 2, 5
}

// v0Money appends a v0 Money member: {"CurrencyCode":"GBP","Amount":"18.50"}.
func v0Money(b []byte, key, currency string, v int64) []byte {
	b = append(mKey(b, key), `{"CurrencyCode":"`...)
	b = append(b, currency...)
	b = append(b, `","Amount":"`...)
	b = appendMinor(b, v)
	return append(b, `"}`...)
}

// money2026 appends a v2026 Money member: {"amount":"154.99","currencyCode":"GBP"}.
func money2026(b []byte, key, currency string, v int64) []byte {
	return amountMember(b, key, "amount", "currencyCode", currency, v, appendMinor)
}

// amountMember appends key: {"<amountKey>":"<amount>","<currencyKey>":"<currency>"},
// the amount in minor units written by minor: how v2026 and eBay spell money
// (the same object under other names, and eBay drops a trailing zero).
func amountMember(b []byte, key, amountKey, currencyKey, currency string, v int64, minor func([]byte, int64) []byte) []byte {
	b = append(mKey(b, key), `{"`...)
	b = append(b, amountKey...)
	b = append(b, `":"`...)
	b = minor(b, v)
	b = append(b, `","`...)
	b = append(b, currencyKey...)
	b = append(b, `":"`...)
	b = append(b, currency...)
	return append(b, `"}`...)
}

// v0IOSS are the members of a v0 OrderItem whose VAT Amazon collects under IOSS
// (ordersV0.json: TaxCollection's only Model and ResponsibleParty values,
// DeemedResellerCategory, and the IOSS number the seller gives its carrier),
// in the shape of worker/normalize/testdata/amazon's fixtures. The IOSS number is
// invented, in the scheme's format: IM, the numeric code of the member state of
// identification (442, Luxembourg, where Amazon EU is established) and 7 digits.
const v0IOSS = `"TaxCollection":{"Model":"MarketplaceFacilitator","ResponsibleParty":"Amazon Services, Inc."},` +
	`"DeemedResellerCategory":"IOSS","IossNumber":"IM4420007391"`

// v2026IOSS is the v2026 OrderItem's tax member for the same: the reporting
// scheme names the model, beside MARKETPLACE_FACILITATOR (as in the fixture
// worker/normalize/testdata/amazon2026/de-uoss-aeroeskobing.json).
const v2026IOSS = `"tax":{"taxCalculationBreakdowns":[{"reportingScheme":"IOSS"}],` +
	`"taxCollections":[{"model":"MARKETPLACE_FACILITATOR","responsibleParty":"Amazon EU S.à r.l."}]}`

func renderAmazonV0(b []byte, s *snapshot) []byte {
	p, st, f := s.p, s.st, s.fault
	m, cur := p.m, p.m.currency
	cancelled := st == stCancelled
	withAddress := hasAmazonAddress(st)

	b = append(b, `{"order":{`...)
	b = mBytes(b, "AmazonOrderId", p.id)
	if len(p.sellerID) > 0 {
		b = mBytes(b, "SellerOrderId", p.sellerID)
	}
	b = mTime(b, "PurchaseDate", p.purchase, false)
	if !f.missingField {
		b = mTime(b, "LastUpdateDate", s.at, false)
	}
	status := v0Statuses[st]
	if f.unknownStatus {
		status = "Delivered"
	}
	b = mStr(b, "OrderStatus", status)
	if p.afn {
		b = mRaw(b, `"FulfillmentChannel":"AFN"`)
	} else {
		b = mRaw(b, `"FulfillmentChannel":"MFN"`)
	}
	b = mStr(b, "SalesChannel", m.amazonName)
	level, category := m.shipLevel, "Standard"
	switch {
	case p.afn:
		level, category = "Expedited", "Expedited"
	case p.nextDay:
		level, category = "NextDay UK Dom", "NextDay"
	}
	b = mStr(b, "ShipServiceLevel", level)
	s.marketplaceTax = p.marketplaceTax(st)
	if !cancelled { // Amazon states no total for a cancelled order
		s.total = p.total()
		if f.commaAmount {
			b = append(mKey(b, "OrderTotal"), `{"CurrencyCode":"`...)
			b = append(b, cur...)
			b = append(b, `","Amount":"`...)
			b = appendCommaMinor(b, s.total)
			b = append(b, `"}`...)
		} else {
			b = v0Money(b, "OrderTotal", cur, s.total)
		}
	}
	var shipped, unshipped int64
	for i := range p.lines {
		l := &p.lines[i]
		n := shippedQty(st, i, l)
		shipped += n
		if !cancelled {
			unshipped += l.qty - n
		}
	}
	b = mInt(b, "NumberOfItemsShipped", shipped)
	b = mInt(b, "NumberOfItemsUnshipped", unshipped)
	b = mRaw(b, `"PaymentMethod":"Other","PaymentMethodDetails":["Standard"]`)
	b = mStr(b, "MarketplaceId", m.amazonID)
	b = mStr(b, "ShipmentServiceLevelCategory", category)
	b = mRaw(b, `"OrderType":"StandardOrder"`)
	if st != stPending {
		d := dayStart(p.purchase)
		ship, deliver := p.promises()
		b = mTime(b, "EarliestShipDate", d, false)
		b = mTime(b, "LatestShipDate", d+(ship+1)*day-1000, false)
		b = mTime(b, "EarliestDeliveryDate", d+(ship+1)*day, false)
		b = mTime(b, "LatestDeliveryDate", d+(deliver+1)*day-1000, false)
	}
	b = mBool(b, "IsBusinessOrder", p.isBusiness())
	b = mBool(b, "IsPrime", p.prime)
	b = mRaw(b, `"IsPremiumOrder":false,"IsGlobalExpressEnabled":false,"IsReplacementOrder":false,"IsSoldByAB":false,"IsIBA":false,"IsISPU":false,"IsAccessPointOrder":false,"HasRegulatedItems":false`)
	if withAddress {
		b = append(mKey(b, "ShippingAddress"), '{')
		b = amazonAddress(b, s, &v0AddressKeys)
		b = append(b, '}')
		b = append(mKey(b, "BuyerInfo"), '{')
		if !p.afn { // Amazon gives no buyer details of its own fulfilment's orders
			b = mStr(b, "BuyerEmail", p.b.relay)
			b = mStr(b, "BuyerName", p.b.name)
			if p.isBusiness() {
				b = append(mKey(b, "BuyerTaxInfo"), '{')
				b = mStr(b, "CompanyLegalName", p.b.company)
				b = mStr(b, "TaxingRegion", m.country)
				b = append(mKey(b, "TaxClassifications"), `[{"Name":"VATNumber"`...)
				b = mStr(b, "Value", p.b.vat)
				b = append(b, `}]}`...)
			}
			b = mOpt(b, "PurchaseOrderNumber", p.po)
		}
		b = append(b, '}')
	}
	b = mRaw(b, `"AutomatedShippingSettings":{"HasAutomatedShippingSettings":false}},"items":[`)

	for i := range p.lines {
		l := &p.lines[i]
		b = append(sep(b), '{')
		b = mStr(b, "ASIN", l.p.asin)
		b = mStr(b, "SellerSKU", l.p.sku)
		b = mLineID(b, "OrderItemId", p, i)
		b = mStr(b, "Title", l.p.title)
		qty := l.qty
		if cancelled {
			qty = 0 // as Amazon reports a cancelled order's items
		}
		if f.quantityString && i == 0 {
			b = append(mKey(b, "QuantityOrdered"), '"')
			b = append(appendInt(b, qty), '"')
		} else {
			b = mInt(b, "QuantityOrdered", qty)
		}
		b = mInt(b, "QuantityShipped", shippedQty(st, i, l))
		b = mRaw(b, `"ProductInfo":{"NumberOfItems":"1"}`)
		if cancelled {
			b = v0Money(b, "ItemPrice", cur, 0)
			b = v0Money(b, "ItemTax", cur, 0)
			b = mRaw(b, `"PromotionIds":[]`)
		} else {
			b = v0Money(b, "ItemPrice", cur, l.itemTotal())
			b = v0Money(b, "ShippingPrice", cur, l.ship)
			b = v0Money(b, "ItemTax", cur, vatOf(l.itemTotal(), l.vat))
			b = v0Money(b, "ShippingTax", cur, vatOf(l.ship, l.vat))
			b = v0Money(b, "ShippingDiscount", cur, l.shipDiscount)
			b = v0Money(b, "ShippingDiscountTax", cur, vatOf(l.shipDiscount, l.vat))
			b = v0Money(b, "PromotionDiscount", cur, l.discount)
			b = v0Money(b, "PromotionDiscountTax", cur, vatOf(l.discount, l.vat))
			b = append(mKey(b, "PromotionIds"), '[')
			for _, k := range [2]int{l.promoShip, l.promoItem} {
				if k >= 0 {
					b = appendString(sep(b), amazonPromotions[k])
				}
			}
			b = append(b, ']')
		}
		gift := !cancelled && (l.giftMessage != "" || l.giftWrap > 0)
		if gift {
			b = mRaw(b, `"IsGift":"true"`)
		} else {
			b = mRaw(b, `"IsGift":"false"`)
		}
		b = mRaw(b, `"ConditionId":"New","ConditionSubtypeId":"New","IsTransparency":false,"SerialNumberRequired":false`)
		if p.isBusiness() {
			b = mRaw(b, `"PriceDesignation":"BusinessPrice"`)
		}
		if p.ioss {
			b = mRaw(b, v0IOSS)
		}
		if !cancelled {
			b = append(mKey(b, "BuyerInfo"), '{')
			if l.giftWrap > 0 {
				b = v0Money(b, "GiftWrapPrice", cur, l.giftWrap)
				b = v0Money(b, "GiftWrapTax", cur, vatOf(l.giftWrap, l.vat))
				b = mRaw(b, `"GiftWrapLevel":"Classic"`)
			}
			// The message is restricted data, released with the address.
			if withAddress && l.giftMessage != "" {
				b = mStr(b, "GiftMessageText", l.giftMessage)
				if l.giftCard {
					s.cards[CardInGiftMessage]++
				}
			}
			b = append(b, '}')
		}
		if p.buyerCancel && (st == stCancelRequested || st == stCancelled) {
			b = mRaw(b, `"BuyerRequestedCancel":{"IsBuyerRequestedCancel":"true"`)
			b = mStr(b, "BuyerCancelReason", p.cancel)
			b = append(b, '}')
		} else {
			b = mRaw(b, `"BuyerRequestedCancel":{"IsBuyerRequestedCancel":"false","BuyerCancelReason":""}`)
		}
		b = append(b, '}')
	}
	return append(b, `]}`...)
}

// amazonAddressKeys are the member names of an Amazon address in one format
// version: v0's ShippingAddress and v2026's deliveryAddress carry the same
// members, in the same order, under names that differ only in spelling.
type amazonAddressKeys struct {
	name, company, line1, line2, city, county, region, postcode, country, phone string
	// commercial and residential are the whole address-type members.
	commercial, residential string
}

var (
	v0AddressKeys = amazonAddressKeys{
		name: "Name", company: "CompanyName", line1: "AddressLine1", line2: "AddressLine2",
		city: "City", county: "County", region: "StateOrRegion", postcode: "PostalCode",
		country: "CountryCode", phone: "Phone",
		commercial: `"AddressType":"Commercial"`, residential: `"AddressType":"Residential"`,
	}
	address2026Keys = amazonAddressKeys{
		name: "name", company: "companyName", line1: "addressLine1", line2: "addressLine2",
		city: "city", county: "districtOrCounty", region: "stateOrRegion", postcode: "postalCode",
		country: "countryCode", phone: "phone",
		commercial: `"addressType":"COMMERCIAL"`, residential: `"addressType":"RESIDENTIAL"`,
	}
)

// amazonAddress appends the members of an address (v0's ShippingAddress or
// v2026's deliveryAddress, by k). For Amazon's own fulfilment (AFN) the seller
// sees only the town, region and postcode, with the county as the region.
func amazonAddress(b []byte, s *snapshot, k *amazonAddressKeys) []byte {
	p := s.p
	a := &p.b.addr
	if p.afn {
		b = mStr(b, k.city, a.city)
		b = mOpt(b, k.region, a.county)
		b = mStr(b, k.postcode, a.postcode)
		return mStr(b, k.country, a.country)
	}
	b = mStr(b, k.name, p.b.name)
	b = mOpt(b, k.company, p.b.company)
	b = mStr(b, k.line1, a.line1)
	b = mOpt(b, k.line2, p.line2)
	if p.l2Card {
		s.cards[CardInAddressLine2]++
	}
	b = mStr(b, k.city, a.city)
	b = mOpt(b, k.county, a.county)
	b = mOpt(b, k.region, a.region)
	b = mStr(b, k.postcode, a.postcode)
	b = mStr(b, k.country, a.country)
	b = mStr(b, k.phone, p.b.intl)
	if p.isBusiness() {
		return mRaw(b, k.commercial)
	}
	return mRaw(b, k.residential)
}

func renderAmazon2026(b []byte, s *snapshot) []byte {
	p, st, f := s.p, s.st, s.fault
	m, cur := p.m, p.m.currency
	cancelled := st == stCancelled
	withAddress := hasAmazonAddress(st)

	b = append(b, `{"order":{`...)
	if !f.missingField {
		b = mBytes(b, "orderId", p.id)
	}
	if len(p.sellerID) > 0 {
		b = append(mKey(b, "orderAliases"), '[', '{')
		b = mBytes(b, "aliasId", p.sellerID)
		b = append(b, `,"aliasType":"SELLER_ORDER_ID"}]`...)
	}
	b = mTime(b, "createdTime", p.purchase, false)
	b = mTime(b, "lastUpdatedTime", s.at, false)
	b = append(mKey(b, "programs"), '[')
	if p.prime {
		b = append(b, `"PRIME"`...)
	}
	if p.isBusiness() {
		b = append(sep(b), `"AMAZON_BUSINESS"`...)
	}
	b = append(b, ']')
	b = append(mKey(b, "salesChannel"), `{"channelName":"AMAZON"`...)
	b = mStr(b, "marketplaceId", m.amazonID)
	b = mStr(b, "marketplaceName", m.amazonName)
	b = append(b, '}')
	if withAddress {
		b = append(mKey(b, "buyer"), '{')
		b = mStr(b, "buyerName", p.b.name)
		if !p.afn { // the email comes only with merchant-fulfilled orders
			b = mStr(b, "buyerEmail", p.b.relay)
			b = mOpt(b, "buyerCompanyName", p.b.company)
			b = mOpt(b, "buyerPurchaseOrderNumber", p.po)
		}
		b = append(b, '}')
		b = append(mKey(b, "recipient"), '{')
		b = append(mKey(b, "deliveryAddress"), '{')
		b = amazonAddress(b, s, &address2026Keys)
		b = append(b, '}')
		if !p.afn {
			b = mRaw(b, `"deliveryPreference":{"dropOffLocation":"Porch","deliveryCapabilities":[]}`)
		}
		b = append(b, '}')
	}
	s.marketplaceTax = p.marketplaceTax(st)
	if !cancelled {
		s.total = p.total()
		var item, ship, wrap, disc, tax int64
		for i := range p.lines {
			l := &p.lines[i]
			item += l.itemTotal()
			ship += l.ship
			wrap += l.giftWrap
			disc += l.discount + l.shipDiscount
			tax += lineVAT(l)
		}
		b = append(mKey(b, "proceeds"), '{')
		b = money2026(b, "grandTotal", cur, s.total)
		b = append(mKey(b, "breakdowns"), '[')
		b = breakdown(b, "ITEM", cur, item)
		if ship != 0 {
			b = breakdown(b, "SHIPPING", cur, ship)
		}
		if wrap != 0 {
			b = breakdown(b, "GIFT_WRAP", cur, wrap)
		}
		if disc != 0 {
			b = breakdown(b, "DISCOUNT", cur, -disc)
		}
		b = breakdown(b, "TAX", cur, tax)
		b = append(b, `]}`...)
	}
	if withAddress && p.isBusiness() && !p.afn {
		b = mRaw(b, `"tax":{"taxRegistrations":[{"entityType":"BUYER"`)
		b = mStr(b, "legalName", p.b.company)
		b = mRaw(b, `"taxRegistrationType":"VAT"`)
		b = mStr(b, "taxRegistrationNumber", p.b.vat)
		b = append(b, `}]}`...)
	}
	status := v2026Statuses[st]
	if f.unknownStatus {
		status = "DELIVERED"
	}
	b = append(mKey(b, "fulfillment"), '{')
	b = mStr(b, "fulfillmentStatus", status)
	level := "STANDARD"
	if p.afn {
		b = mRaw(b, `"fulfilledBy":"AMAZON"`)
		level = "EXPEDITED"
	} else {
		b = mRaw(b, `"fulfilledBy":"MERCHANT"`)
		if p.nextDay {
			level = "NEXT_DAY"
		}
	}
	b = mStr(b, "fulfillmentServiceLevel", level)
	if st != stPending && !cancelled {
		d := dayStart(p.purchase)
		ship, deliver := p.promises()
		b = append(mKey(b, "shipByWindow"), '{')
		b = mTime(b, "earliestDateTime", d, false)
		b = mTime(b, "latestDateTime", d+(ship+1)*day-1000, false)
		b = append(b, '}')
		b = append(mKey(b, "deliverByWindow"), '{')
		b = mTime(b, "earliestDateTime", d+(ship+1)*day, false)
		b = mTime(b, "latestDateTime", d+(deliver+1)*day-1000, false)
		b = append(b, '}')
	}
	b = append(b, '}')

	b = append(mKey(b, "orderItems"), '[')
	for i := range p.lines {
		l := &p.lines[i]
		b = append(sep(b), '{')
		b = mLineID(b, "orderItemId", p, i)
		if f.quantityString && i == 0 {
			b = append(mKey(b, "quantityOrdered"), '"')
			b = append(appendInt(b, l.qty), '"')
		} else {
			b = mInt(b, "quantityOrdered", l.qty)
		}
		b = append(mKey(b, "product"), '{')
		b = mStr(b, "asin", l.p.asin)
		b = mStr(b, "title", l.p.title)
		b = mStr(b, "sellerSku", l.p.sku)
		b = mRaw(b, `"condition":{"conditionType":"NEW","conditionSubtype":"NEW","conditionNote":""}`)
		b = append(mKey(b, "price"), '{')
		b = money2026(b, "unitPrice", cur, l.unit)
		b = append(b, `}}`...)
		if !cancelled {
			b = append(mKey(b, "proceeds"), '{')
			b = money2026(b, "proceedsTotal", cur, l.charged())
			b = append(mKey(b, "breakdowns"), '[')
			if f.commaAmount && i == 0 {
				b = append(sep(b), `{"type":"ITEM"`...)
				b = amountMember(b, "subtotal", "amount", "currencyCode", cur, l.itemTotal(), appendCommaMinor)
				b = append(b, '}')
			} else {
				b = breakdown(b, "ITEM", cur, l.itemTotal())
			}
			if l.ship != 0 {
				b = breakdown(b, "SHIPPING", cur, l.ship)
			}
			if l.giftWrap != 0 {
				b = breakdown(b, "GIFT_WRAP", cur, l.giftWrap)
			}
			if d := l.discount + l.shipDiscount; d != 0 {
				b = breakdownOpen(b, "DISCOUNT", cur, -d)
				if l.discount != 0 {
					b = detail(b, "ITEM", cur, -l.discount)
				}
				if l.shipDiscount != 0 {
					b = detail(b, "SHIPPING", cur, -l.shipDiscount)
				}
				b = append(b, `]}`...)
			}
			b = breakdownOpen(b, "TAX", cur, lineVAT(l))
			b = detail(b, "ITEM", cur, vatOf(l.itemTotal(), l.vat))
			if l.ship != 0 {
				b = detail(b, "SHIPPING", cur, vatOf(l.ship, l.vat))
			}
			if l.giftWrap != 0 {
				b = detail(b, "GIFT_WRAP", cur, vatOf(l.giftWrap, l.vat))
			}
			if l.discount+l.shipDiscount != 0 {
				b = detail(b, "DISCOUNT", cur, -(vatOf(l.discount, l.vat) + vatOf(l.shipDiscount, l.vat)))
			}
			b = append(b, `]}]}`...)
		}
		if l.promoItem >= 0 || l.promoShip >= 0 {
			b = append(mKey(b, "promotion"), `{"breakdowns":[`...)
			for _, k := range [2]int{l.promoShip, l.promoItem} {
				if k >= 0 {
					b = append(sep(b), '{')
					b = mStr(b, "promotionId", amazonPromotions[k])
					b = append(b, '}')
				}
			}
			b = append(b, `]}`...)
		}
		if p.cancel != "" && (st == stCancelRequested || st == stCancelled) {
			b = append(mKey(b, "cancellation"), '{')
			if p.buyerCancel {
				b = mRaw(b, `"cancellationRequest":{"requester":"BUYER"`)
				b = mStr(b, "cancelReason", p.cancel)
				b = append(b, '}')
			}
			if cancelled {
				if p.buyerCancel {
					b = mRaw(b, `"cancellationExecution":{"cancelledBy":"MERCHANT","cancelReason":"Buyer requested cancellation"}`)
				} else {
					b = mRaw(b, `"cancellationExecution":{"cancelledBy":"MERCHANT"`)
					b = mStr(b, "cancelReason", p.cancel)
					b = append(b, '}')
				}
			}
			b = append(b, '}')
		}
		n := shippedQty(st, i, l)
		b = append(mKey(b, "fulfillment"), '{')
		b = mInt(b, "quantityFulfilled", n)
		b = mInt(b, "quantityUnfulfilled", l.qty-n)
		if withAddress && !cancelled && (l.giftMessage != "" || l.giftWrap > 0) {
			b = append(mKey(b, "packing"), `{"giftOption":{`...)
			if l.giftMessage != "" {
				b = mStr(b, "giftMessage", l.giftMessage)
				if l.giftCard {
					s.cards[CardInGiftMessage]++
				}
			}
			if l.giftWrap > 0 {
				b = mRaw(b, `"giftWrapLevel":"CLASSIC"`)
			}
			b = append(b, `}}`...)
		}
		b = append(b, '}')
		if p.ioss {
			b = mRaw(b, v2026IOSS)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if st == stShipped || st == stPartiallyShipped {
		b = packages2026(b, s)
	}
	return append(b, `}}`...)
}

// lineVAT is the VAT inside what the buyer pays for a line.
func lineVAT(l *linePlan) int64 {
	return vatOf(l.itemTotal(), l.vat) + vatOf(l.ship, l.vat) + vatOf(l.giftWrap, l.vat) -
		vatOf(l.discount, l.vat) - vatOf(l.shipDiscount, l.vat)
}

func breakdown(b []byte, kind, currency string, v int64) []byte {
	return append(typedMoney(b, "type", kind, "subtotal", currency, v), '}')
}

// breakdownOpen starts a breakdown with detailed breakdowns; the caller appends
// them and `]}`.
func breakdownOpen(b []byte, kind, currency string, v int64) []byte {
	return append(typedMoney(b, "type", kind, "subtotal", currency, v), `,"detailedBreakdowns":[`...)
}

func detail(b []byte, subtype, currency string, v int64) []byte {
	return append(typedMoney(b, "subtype", subtype, "value", currency, v), '}')
}

// typedMoney starts an array element {"<typeKey>":"<typ>","<moneyKey>":Money,
// the shape of v2026's breakdowns and their details; the caller closes it.
func typedMoney(b []byte, typeKey, typ, moneyKey, currency string, v int64) []byte {
	b = mStr(append(sep(b), '{'), typeKey, typ)
	return money2026(b, moneyKey, currency, v)
}

func packages2026(b []byte, s *snapshot) []byte {
	p := s.p
	b = append(mKey(b, "packages"), `[{"packageReferenceId":"1"`...)
	b = mTime(b, "createdTime", s.at-(s.at-p.purchase)/2/1000*1000, false)
	b = mRaw(b, `"packageStatus":{"status":"IN_TRANSIT","detailedStatus":"PICKED_UP"},"carrier":"Royal Mail"`)
	b = mTime(b, "shipTime", s.at-(s.at-p.purchase)/4/1000*1000, false)
	b = mRaw(b, `"shippingService":"Royal Mail Tracked 48"`)
	b = append(mKey(b, "trackingNumber"), `"QF`...)
	b = appendDigits(b, mix(p.seq, mulA, p.salt^0x2f1e, 1e9), 9)
	b = append(b, `GB"`...)
	b = append(mKey(b, "packageItems"), '[')
	for i := range p.lines {
		l := &p.lines[i]
		if n := shippedQty(s.st, i, l); n > 0 {
			b = append(sep(b), '{')
			b = mLineID(b, "orderItemId", p, i)
			b = mInt(b, "quantity", n)
			b = append(b, '}')
		}
	}
	return append(b, `]}]`...)
}
