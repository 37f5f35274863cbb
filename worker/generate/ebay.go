package generate

// eBay Sell Fulfillment API Order payloads, as getOrder returns them and as the
// fixtures in worker/normalize/testdata/ebay are (their README cites
// sel:Order and the OpenAPI document). UK sellers on managed payments get no tax
// lines; prices include VAT, so total = subtotal - discount + delivery - delivery
// discount. Refunds leave the pricing summary as it was.

// ebayStates spells a state as eBay's three order states.
var ebayStates = [...]struct{ fulfilment, payment, cancel string }{
	stPending:           {"NOT_STARTED", "PENDING", "NONE_REQUESTED"},
	stUnshipped:         {"NOT_STARTED", "PAID", "NONE_REQUESTED"},
	stCancelRequested:   {"NOT_STARTED", "PAID", "IN_PROGRESS"},
	stPartiallyShipped:  {"IN_PROGRESS", "PAID", "NONE_REQUESTED"},
	stShipped:           {"FULFILLED", "PAID", "NONE_REQUESTED"},
	stCancelled:         {"NOT_STARTED", "FULLY_REFUNDED", "CANCELED"},
	stRefundedPartial:   {"FULFILLED", "PARTIALLY_REFUNDED", "NONE_REQUESTED"},
	stRefundedFull:      {"FULFILLED", "FULLY_REFUNDED", "NONE_REQUESTED"},
	stRefundedUnshipped: {"NOT_STARTED", "FULLY_REFUNDED", "NONE_REQUESTED"},
}

// ebayAmount appends an Amount member: {"value":"34.99","currency":"GBP"}.
func ebayAmount(b []byte, key, currency string, v int64) []byte {
	return amountMember(b, key, "value", "currency", currency, v, appendEbayMinor)
}

func renderEbay(b []byte, s *snapshot) []byte {
	p, st, f := s.p, s.st, s.fault
	m, cur := p.m, p.m.currency
	states := ebayStates[st]
	total := p.total()
	s.total = total
	created := p.purchase
	refundLine, refundAmount := -1, int64(0)
	orderRefund := false
	switch st {
	case stRefundedPartial:
		refundLine, refundAmount = p.refundLine()
	case stCancelled, stRefundedFull, stRefundedUnshipped:
		orderRefund, refundAmount = true, total
	}
	s.refunded = refundAmount
	shipped := st == stShipped || st == stPartiallyShipped || st == stRefundedPartial || st == stRefundedFull

	b = append(b, '{')
	if !f.missingField {
		b = mBytes(b, "orderId", p.id)
	}
	b = append(mKey(b, "legacyOrderId"), '"')
	b = append(b, p.lines[0].p.itemID...)
	b = append(b, '-')
	b = appendDigits(b, mix(p.seq, mulA, p.salt^0x7f4a, 1e13), 13)
	b = append(b, '"')
	b = mTime(b, "creationDate", created, true)
	b = mTime(b, "lastModifiedDate", s.at, true)
	fulfilment := states.fulfilment
	if f.unknownStatus {
		fulfilment = "SHIPPED"
	}
	b = mStr(b, "orderFulfillmentStatus", fulfilment)
	b = mStr(b, "orderPaymentStatus", states.payment)
	b = mStr(b, "sellerId", p.t.seller)

	// buyer
	bu := p.b
	a := &bu.addr
	b = append(mKey(b, "buyer"), '{')
	b = mStr(b, "username", bu.username)
	b = append(mKey(b, "taxAddress"), '{')
	b = mStr(b, "city", a.city)
	if a.county != "" {
		b = mStr(b, "stateOrProvince", a.county)
	} else {
		b = mOpt(b, "stateOrProvince", a.region)
	}
	b = mStr(b, "postalCode", a.postcode)
	b = mStr(b, "countryCode", a.country)
	b = append(b, '}')
	if p.isBusiness() {
		b = append(mKey(b, "taxIdentifier"), '{')
		b = mStr(b, "taxpayerId", bu.vat)
		b = mRaw(b, `"taxIdentifierType":"VATIN"`)
		b = mStr(b, "issuingCountry", a.country)
		b = append(b, '}')
	}
	b = append(mKey(b, "buyerRegistrationAddress"), '{')
	b = ebayContact(b, s, a.line2)
	b = append(b, `}}`...)

	// pricingSummary
	var subtotal, discount, delivery, deliveryDiscount int64
	for i := range p.lines {
		l := &p.lines[i]
		subtotal += l.itemTotal()
		discount += l.discount
		delivery += l.ship
		deliveryDiscount += l.shipDiscount
	}
	b = append(mKey(b, "pricingSummary"), '{')
	if f.commaAmount {
		b = append(mKey(b, "priceSubtotal"), `{"value":"`...)
		b = appendCommaMinor(b, subtotal)
		b = append(b, `","currency":"`...)
		b = append(b, cur...)
		b = append(b, `"}`...)
	} else {
		b = ebayAmount(b, "priceSubtotal", cur, subtotal)
	}
	if discount != 0 {
		b = ebayAmount(b, "priceDiscount", cur, -discount)
	}
	b = ebayAmount(b, "deliveryCost", cur, delivery)
	if deliveryDiscount != 0 {
		b = ebayAmount(b, "deliveryDiscount", cur, -deliveryDiscount)
	}
	b = ebayAmount(b, "total", cur, total)
	b = append(b, '}')

	// cancelStatus
	b = append(mKey(b, "cancelStatus"), '{')
	if st == stCancelled {
		b = mTime(b, "cancelledDate", s.at-1000, true)
	}
	b = mStr(b, "cancelState", states.cancel)
	b = append(mKey(b, "cancelRequests"), '[')
	if st == stCancelRequested || st == stCancelled {
		b = append(sep(b), '{')
		b = append(mKey(b, "cancelRequestId"), `"52`...)
		b = appendDigits(b, mix(p.seq, mulA, p.salt^0x3c6e, 1e8), 8)
		b = append(b, '"')
		if p.buyerCancel {
			b = mRaw(b, `"cancelInitiator":"Buyer"`)
		} else {
			b = mRaw(b, `"cancelInitiator":"Seller"`)
		}
		b = mStr(b, "cancelReason", p.cancel)
		requested := s.at - 1000
		if st == stCancelled && s.k > 0 {
			requested = p.times[s.k-1] - 1000
		}
		b = mTime(b, "cancelRequestedDate", requested, true)
		if st == stCancelled {
			b = mTime(b, "cancelCompletedDate", s.at-1000, true)
			b = mRaw(b, `"cancelRequestState":"COMPLETED"`)
		} else {
			b = mRaw(b, `"cancelRequestState":"REQUESTED"`)
		}
		b = append(b, '}')
	}
	b = append(b, `]}`...)

	// paymentSummary
	b = append(mKey(b, "paymentSummary"), '{')
	b = ebayAmount(b, "totalDueSeller", cur, total-refundAmount)
	b = append(mKey(b, "refunds"), '[')
	if orderRefund {
		b = append(sep(b), '{')
		b = refundMembers(b, p, s.at, cur, refundAmount)
		b = mRaw(b, `"refundStatus":"REFUNDED"`)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = append(mKey(b, "payments"), `[{"paymentMethod":"EBAY"`...)
	b = append(mKey(b, "paymentReferenceId"), `"3`...)
	b = appendDigits(b, mix(p.seq, mulA, p.salt^0x11d9, 1e9), 9)
	b = append(b, `X"`...)
	b = ebayAmount(b, "amount", cur, total)
	if st == stPending {
		b = mRaw(b, `"paymentStatus":"PENDING"`)
	} else {
		b = mRaw(b, `"paymentStatus":"PAID"`)
	}
	b = mTime(b, "paymentDate", created+412, true)
	b = append(b, `}]}`...)

	// fulfillmentStartInstructions
	d := dayStart(created)
	minDelivery, maxDelivery := d+3*day+23*3600*1000, d+5*day+23*3600*1000
	shipBy := d + 3*day - 1000
	if m != mktUK {
		maxDelivery += 4 * day
	}
	svc := ukServices[p.service]
	if m != mktUK {
		svc = euServices[p.service]
	}
	b = append(mKey(b, "fulfillmentStartInstructions"), `[{"fulfillmentInstructionsType":"SHIP_TO"`...)
	b = mTime(b, "minEstimatedDeliveryDate", minDelivery, true)
	b = mTime(b, "maxEstimatedDeliveryDate", maxDelivery, true)
	b = mRaw(b, `"ebaySupportedFulfillment":false`)
	b = append(mKey(b, "shippingStep"), '{')
	b = append(mKey(b, "shipTo"), '{')
	b = ebayContact(b, s, p.line2)
	if p.l2Card {
		s.cards[CardInAddressLine2]++
	}
	b = append(b, '}')
	b = mStr(b, "shippingCarrierCode", svc.carrier)
	b = mStr(b, "shippingServiceCode", svc.code)
	b = append(b, `}}]`...)
	b = append(mKey(b, "fulfillmentHrefs"), '[')
	if shipped {
		b = append(b, `"https://api.ebay.com/sell/fulfillment/v1/order/`...)
		b = append(b, p.id...)
		b = append(b, `/shipping_fulfillment/RM`...)
		b = appendDigits(b, mix(p.seq, mulA, p.salt^0x2f1e, 1e9), 9)
		b = append(b, `GB"`...)
	}
	b = append(b, ']')

	// lineItems
	b = append(mKey(b, "lineItems"), '[')
	for i := range p.lines {
		l := &p.lines[i]
		b = append(sep(b), '{')
		b = mLineID(b, "lineItemId", p, i)
		b = mStr(b, "legacyItemId", l.p.itemID)
		b = mStr(b, "sku", l.p.sku)
		b = mStr(b, "title", l.p.title)
		b = ebayAmount(b, "lineItemCost", cur, l.itemTotal())
		if l.discount != 0 {
			b = ebayAmount(b, "discountedLineItemCost", cur, l.itemTotal()-l.discount)
		}
		if f.quantityString && i == 0 {
			b = append(mKey(b, "quantity"), '"')
			b = append(appendInt(b, l.qty), '"')
		} else {
			b = mInt(b, "quantity", l.qty)
		}
		b = mRaw(b, `"soldFormat":"FIXED_PRICE"`)
		b = mStr(b, "listingMarketplaceId", m.ebayID)
		b = mStr(b, "purchaseMarketplaceId", m.ebayID)
		if shippedQty(st, i, l) > 0 {
			b = mRaw(b, `"lineItemFulfillmentStatus":"FULFILLED"`)
		} else {
			b = mRaw(b, `"lineItemFulfillmentStatus":"NOT_STARTED"`)
		}
		b = ebayAmount(b, "total", cur, l.charged())
		b = append(mKey(b, "deliveryCost"), '{')
		b = ebayAmount(b, "shippingCost", cur, l.ship)
		if l.shipDiscount != 0 {
			b = ebayAmount(b, "discountAmount", cur, l.shipDiscount)
		}
		b = append(b, '}')
		b = append(mKey(b, "appliedPromotions"), '[')
		if l.promoItem >= 0 && l.discount != 0 {
			promo := ebayPromotions[l.promoItem]
			b = append(sep(b), '{')
			b = mStr(b, "promotionId", promo.id)
			b = mStr(b, "description", promo.description)
			b = ebayAmount(b, "discountAmount", cur, l.discount)
			b = append(b, '}')
		}
		b = append(b, ']')
		b = mRaw(b, `"taxes":[],"properties":{"buyerProtection":true}`)
		b = append(mKey(b, "lineItemFulfillmentInstructions"), '{')
		b = mTime(b, "minEstimatedDeliveryDate", minDelivery, true)
		b = mTime(b, "maxEstimatedDeliveryDate", maxDelivery, true)
		b = mTime(b, "shipByDate", shipBy, true)
		b = mRaw(b, `"guaranteedDelivery":false}`)
		b = append(mKey(b, "refunds"), '[')
		if i == refundLine {
			b = append(sep(b), '{')
			b = refundMembers(b, p, s.at, cur, refundAmount)
			b = append(b, '}')
		}
		b = append(b, `]}`...)
	}
	b = append(b, ']')
	if p.note != "" {
		b = mStr(b, "buyerCheckoutNotes", p.note)
		if p.noteCard {
			s.cards[CardInCheckoutNote]++
		}
	}
	b = mBytes(b, "salesRecordReference", p.sellerID)
	b = ebayAmount(b, "totalFeeBasisAmount", cur, total)
	b = ebayAmount(b, "totalMarketplaceFee", cur, total*128/1000+30)
	return append(b, '}')
}

// ebayContact appends the members of an ExtendedContact for the order's buyer,
// with line2 as the address's second line.
func ebayContact(b []byte, s *snapshot, line2 string) []byte {
	bu := s.p.b
	a := &bu.addr
	b = mStr(b, "fullName", bu.name)
	b = mOpt(b, "companyName", bu.company)
	b = append(mKey(b, "contactAddress"), '{')
	b = mStr(b, "addressLine1", a.line1)
	b = mOpt(b, "addressLine2", line2)
	b = mStr(b, "city", a.city)
	b = mOpt(b, "stateOrProvince", a.region)
	b = mStr(b, "postalCode", a.postcode)
	b = mOpt(b, "county", a.county)
	b = mStr(b, "countryCode", a.country)
	b = append(b, '}')
	b = append(mKey(b, "primaryPhone"), '{')
	b = mStr(b, "phoneNumber", bu.phone)
	b = append(b, '}')
	return mStr(b, "email", bu.email)
}

func refundMembers(b []byte, p *orderPlan, at int64, currency string, amount int64) []byte {
	b = append(mKey(b, "refundId"), `"50`...)
	b = appendDigits(b, mix(p.seq, mulA, p.salt^0x6a09, 1e8), 8)
	b = append(b, '"')
	b = mTime(b, "refundDate", at-20*1000, true)
	return ebayAmount(b, "amount", currency, amount)
}
