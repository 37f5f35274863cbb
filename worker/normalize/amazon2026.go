package normalize

import (
	"strconv"

	"github.com/orderflow/orderflow/worker/order"
)

// The Orders API v2026-01-01 shape: {"order": Order}, items inside the order, amounts
// in per-item proceeds breakdowns. Names follow orders_2026-01-01.json.

type v2026Doc struct {
	orderID, createdTime, lastUpdatedTime, marketplaceID, sellerOrderID span
	isPrime, isBusiness                                                 bool
	buyerName, buyerEmail, buyerCompany, buyerPO                        span
	// tax.taxRegistrations: the buyer's VAT registration.
	taxID, taxLegalName span
	address             amazonAddressDoc
	grandTotal          amazonMoney
	// fulfillment
	status, fulfilledBy, serviceLevel, latestShip, latestDelivery span
	hasItems                                                      bool
	items                                                         []v2026ItemDoc
}

type v2026ItemDoc struct {
	id                          span
	qtyOrdered, qtyFulfilled    int64
	hasQtyOrdered               bool
	asin, title, sku            span
	unitPrice                   amazonMoney
	customizedURL               span
	breakdowns                  []v2026Breakdown
	promotionIDs                []span
	requester, cancelledBy      span
	giftMessage, giftWrapLevel  span
	reportingSchemes, taxModels []span
}

// v2026Breakdown is definitions.ItemProceedsBreakdown.
type v2026Breakdown struct {
	kind     span
	subtotal amazonMoney
	details  []v2026Detail
}

type v2026Detail struct {
	subtype span
	value   amazonMoney
}

func (d *amazonDecoder) decode2026() {
	doc := &d.v26
	*doc = v2026Doc{items: doc.items[:0]}
	d.r.members("", func(name []byte) {
		if string(name) == "order" {
			d.decode2026Order(doc)
		} else {
			d.r.skip()
		}
	})
}

func (d *amazonDecoder) decode2026Order(o *v2026Doc) {
	r := d.r
	d.r.members("order", func(name []byte) {
		switch string(name) {
		case "orderId":
			o.orderID = r.str("orderId")
		case "orderAliases":
			d.r.elements("orderAliases", func(int) {
				var id, kind span
				d.r.members("", func(name []byte) {
					switch string(name) {
					case "aliasId":
						id = r.str("aliasId")
					case "aliasType":
						kind = r.str("aliasType")
					default:
						r.skip()
					}
				})
				if o.sellerOrderID.empty() && d.r.is(kind, "SELLER_ORDER_ID") {
					o.sellerOrderID = id
				}
			})
		case "createdTime":
			o.createdTime = r.str("createdTime")
		case "lastUpdatedTime":
			o.lastUpdatedTime = r.str("lastUpdatedTime")
		case "programs":
			d.r.elements("programs", func(int) {
				switch p := r.str(""); {
				case d.r.is(p, "PRIME"):
					o.isPrime = true
				case d.r.is(p, "AMAZON_BUSINESS"):
					o.isBusiness = true
				}
			})
		case "salesChannel":
			d.r.members("salesChannel", func(name []byte) {
				if string(name) == "marketplaceId" {
					o.marketplaceID = r.str("marketplaceId")
				} else {
					r.skip()
				}
			})
		case "buyer":
			d.r.members("buyer", func(name []byte) {
				switch string(name) {
				case "buyerName":
					o.buyerName = r.str("buyerName")
				case "buyerEmail":
					o.buyerEmail = r.str("buyerEmail")
				case "buyerCompanyName":
					o.buyerCompany = r.str("buyerCompanyName")
				case "buyerPurchaseOrderNumber":
					o.buyerPO = r.str("buyerPurchaseOrderNumber")
				default:
					r.skip()
				}
			})
		case "recipient":
			d.r.members("recipient", func(name []byte) {
				if string(name) == "deliveryAddress" {
					d.address2026(&o.address)
				} else {
					r.skip()
				}
			})
		case "proceeds":
			d.r.members("proceeds", func(name []byte) {
				if string(name) == "grandTotal" {
					d.money(&o.grandTotal, "grandTotal", v2026Keys)
				} else {
					r.skip()
				}
			})
		case "tax":
			d.r.members("tax", func(name []byte) {
				if string(name) == "taxRegistrations" {
					d.taxRegistrations(o)
				} else {
					r.skip()
				}
			})
		case "fulfillment":
			d.r.members("fulfillment", func(name []byte) {
				switch string(name) {
				case "fulfillmentStatus":
					o.status = r.str("fulfillmentStatus")
				case "fulfilledBy":
					o.fulfilledBy = r.str("fulfilledBy")
				case "fulfillmentServiceLevel":
					o.serviceLevel = r.str("fulfillmentServiceLevel")
				case "shipByWindow":
					o.latestShip = d.latestDateTime("shipByWindow")
				case "deliverByWindow":
					o.latestDelivery = d.latestDateTime("deliverByWindow")
				default:
					r.skip()
				}
			})
		case "orderItems":
			o.hasItems = r.peek() == '['
			o.items = o.items[:0] // a repeated "orderItems" replaces, as in encoding/json
			d.r.elements("orderItems", func(int) { d.decode2026Item(next2026Item(&o.items)) })
		default:
			r.skip()
		}
	})
}

func next2026Item(items *[]v2026ItemDoc) *v2026ItemDoc {
	if len(*items) < cap(*items) {
		*items = (*items)[:len(*items)+1]
		it := &(*items)[len(*items)-1]
		*it = v2026ItemDoc{breakdowns: it.breakdowns[:0], promotionIDs: it.promotionIDs[:0],
			reportingSchemes: it.reportingSchemes[:0], taxModels: it.taxModels[:0]}
		return it
	}
	*items = append(*items, v2026ItemDoc{})
	return &(*items)[len(*items)-1]
}

func (d *amazonDecoder) latestDateTime(key string) (latest span) {
	d.r.members(key, func(name []byte) {
		if string(name) == "latestDateTime" {
			latest = d.r.str("latestDateTime")
		} else {
			d.r.skip()
		}
	})
	return latest
}

func (d *amazonDecoder) taxRegistrations(o *v2026Doc) {
	r := d.r
	d.r.elements("taxRegistrations", func(int) {
		var entity, kind, number, legalName span
		d.r.members("", func(name []byte) {
			switch string(name) {
			case "entityType":
				entity = r.str("entityType")
			case "taxRegistrationType":
				kind = r.str("taxRegistrationType")
			case "taxRegistrationNumber":
				number = r.str("taxRegistrationNumber")
			case "legalName":
				legalName = r.str("legalName")
			default:
				r.skip()
			}
		})
		if o.taxID.empty() && !number.empty() && d.r.is(entity, "BUYER") && d.r.is(kind, "VAT") {
			o.taxID, o.taxLegalName = number, legalName
		}
	})
}

func (d *amazonDecoder) address2026(a *amazonAddressDoc) {
	r := d.r
	*a = amazonAddressDoc{present: r.peek() == '{'}
	d.r.members("deliveryAddress", func(name []byte) {
		switch string(name) {
		case "name":
			a.name = r.str("name")
		case "companyName":
			a.company = r.str("companyName")
		case "addressLine1":
			a.line1 = r.str("addressLine1")
		case "addressLine2":
			a.line2 = r.str("addressLine2")
		case "addressLine3":
			a.line3 = r.str("addressLine3")
		case "city":
			a.city = r.str("city")
		case "districtOrCounty":
			a.county = r.str("districtOrCounty")
		case "stateOrRegion":
			a.state = r.str("stateOrRegion")
		case "postalCode":
			a.postal = r.str("postalCode")
		case "countryCode":
			a.country = r.str("countryCode")
		case "phone":
			a.phone = r.str("phone")
		case "addressType":
			a.addressType = r.str("addressType")
		default:
			r.skip()
		}
	})
}

func (d *amazonDecoder) decode2026Item(it *v2026ItemDoc) {
	r := d.r
	d.r.members("", func(name []byte) {
		switch string(name) {
		case "orderItemId":
			it.id = r.str("orderItemId")
		case "quantityOrdered":
			it.qtyOrdered, it.hasQtyOrdered = r.integer("quantityOrdered")
		case "product":
			d.r.members("product", func(name []byte) {
				switch string(name) {
				case "asin":
					it.asin = r.str("asin")
				case "title":
					it.title = r.str("title")
				case "sellerSku":
					it.sku = r.str("sellerSku")
				case "price":
					d.r.members("price", func(name []byte) {
						if string(name) == "unitPrice" {
							d.money(&it.unitPrice, "unitPrice", v2026Keys)
						} else {
							r.skip()
						}
					})
				case "customization":
					d.r.members("customization", func(name []byte) {
						if string(name) == "customizedUrl" {
							it.customizedURL = r.str("customizedUrl")
						} else {
							r.skip()
						}
					})
				default:
					r.skip()
				}
			})
		case "proceeds":
			d.r.members("proceeds", func(name []byte) {
				if string(name) == "breakdowns" {
					it.breakdowns = it.breakdowns[:0]
					d.r.elements("breakdowns", func(int) { d.breakdown(nextBreakdown(&it.breakdowns)) })
				} else {
					r.skip()
				}
			})
		case "promotion":
			d.r.members("promotion", func(name []byte) {
				if string(name) != "breakdowns" {
					r.skip()
					return
				}
				it.promotionIDs = it.promotionIDs[:0]
				d.r.elements("breakdowns", func(int) {
					d.r.members("", func(name []byte) {
						if string(name) != "promotionId" {
							r.skip()
						} else if id := r.str("promotionId"); !id.empty() {
							it.promotionIDs = append(it.promotionIDs, id)
						}
					})
				})
			})
		case "cancellation":
			d.r.members("cancellation", func(name []byte) {
				switch string(name) {
				case "cancellationRequest":
					d.r.members("cancellationRequest", func(name []byte) {
						if string(name) == "requester" {
							it.requester = r.str("requester")
						} else {
							r.skip()
						}
					})
				case "cancellationExecution":
					d.r.members("cancellationExecution", func(name []byte) {
						if string(name) == "cancelledBy" {
							it.cancelledBy = r.str("cancelledBy")
						} else {
							r.skip()
						}
					})
				default:
					r.skip()
				}
			})
		case "fulfillment":
			d.r.members("fulfillment", func(name []byte) {
				switch string(name) {
				case "quantityFulfilled":
					it.qtyFulfilled, _ = r.integer("quantityFulfilled")
				case "packing":
					d.r.members("packing", func(name []byte) {
						if string(name) != "giftOption" {
							r.skip()
							return
						}
						d.r.members("giftOption", func(name []byte) {
							switch string(name) {
							case "giftMessage":
								it.giftMessage = r.str("giftMessage")
							case "giftWrapLevel":
								it.giftWrapLevel = r.str("giftWrapLevel")
							default:
								r.skip()
							}
						})
					})
				default:
					r.skip()
				}
			})
		case "tax":
			d.r.members("tax", func(name []byte) {
				switch string(name) {
				case "taxCalculationBreakdowns":
					it.reportingSchemes = d.taxNames("taxCalculationBreakdowns", "reportingScheme", it.reportingSchemes[:0])
				case "taxCollections":
					it.taxModels = d.taxNames("taxCollections", "model", it.taxModels[:0])
				default:
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
}

// taxNames reads the member named member of each object in the array at key, keeping
// one entry per element (empty where absent) so that errors can give its index.
func (d *amazonDecoder) taxNames(key, member string, into []span) []span {
	d.r.elements(key, func(int) {
		var v span
		d.r.members("", func(name []byte) {
			if string(name) == member {
				v = d.r.str(member)
			} else {
				d.r.skip()
			}
		})
		into = append(into, v)
	})
	return into
}

func nextBreakdown(bs *[]v2026Breakdown) *v2026Breakdown {
	if len(*bs) < cap(*bs) {
		*bs = (*bs)[:len(*bs)+1]
		b := &(*bs)[len(*bs)-1]
		*b = v2026Breakdown{details: b.details[:0]}
		return b
	}
	*bs = append(*bs, v2026Breakdown{})
	return &(*bs)[len(*bs)-1]
}

func (d *amazonDecoder) breakdown(b *v2026Breakdown) {
	r := d.r
	d.r.members("", func(name []byte) {
		switch string(name) {
		case "type":
			b.kind = r.str("type")
		case "subtotal":
			d.money(&b.subtotal, "subtotal", v2026Keys)
		case "detailedBreakdowns":
			b.details = b.details[:0]
			d.r.elements("detailedBreakdowns", func(int) {
				var det v2026Detail
				d.r.members("", func(name []byte) {
					switch string(name) {
					case "subtype":
						det.subtype = r.str("subtype")
					case "value":
						d.money(&det.value, "value", v2026Keys)
					default:
						r.skip()
					}
				})
				b.details = append(b.details, det)
			})
		default:
			r.skip()
		}
	})
}

// amazon2026Statuses maps every FulfillmentStatus value, as amazonV0Statuses does
// for v0 (which spells CANCELLED "Canceled" and has InvoiceUnconfirmed besides).
var amazon2026Statuses = map[string]amazonState{
	"PENDING_AVAILABILITY": {order.StatusPendingAvailability, order.PaymentPending},
	"PENDING":              {order.StatusPending, order.PaymentPending},
	"UNSHIPPED":            {order.StatusUnshipped, order.PaymentPaid},
	"PARTIALLY_SHIPPED":    {order.StatusPartiallyShipped, order.PaymentPaid},
	"SHIPPED":              {order.StatusShipped, order.PaymentPaid},
	"CANCELLED":            {order.StatusCancelled, order.PaymentVoided},
	"UNFULFILLABLE":        {order.StatusUnfulfillable, order.PaymentPaid},
}

// amazon2026Fulfilment maps fulfillment.fulfilledBy.
var amazon2026Fulfilment = map[string]order.Fulfilment{
	"MERCHANT": order.FulfilmentMerchant,
	"AMAZON":   order.FulfilmentMarketplace,
}

// amazon2026ServiceLevels spells fulfillmentServiceLevel as v0's
// ShipmentServiceLevelCategory does, so that one service reads the same whichever API
// an order came through.
var amazon2026ServiceLevels = map[string]string{
	"EXPEDITED":    "Expedited",
	"FREE_ECONOMY": "FreeEconomy",
	"NEXT_DAY":     "NextDay",
	"PRIORITY":     "Priority",
	"SAME_DAY":     "SameDay",
	"SECOND_DAY":   "SecondDay",
	"SCHEDULED":    "Scheduled",
	"STANDARD":     "Standard",
}

func (d *amazonDecoder) map2026() (order.Order, error) {
	src := &d.v26
	if src.orderID.empty() {
		return order.Order{}, fail(ReasonMissingField, "payload.order.orderId", "missing")
	}
	if !src.hasItems {
		return order.Order{}, fail(ReasonMissingField, "payload.order.orderItems", "missing")
	}
	o := order.Order{
		Channel:        order.ChannelAmazon,
		SourceFormat:   order.SourceAmazonOrders202601,
		Marketplace:    d.str(src.marketplaceID),
		ChannelOrderID: d.str(src.orderID),
		SellerOrderID:  d.str(src.sellerOrderID),
		SourceStatus:   d.str(src.status),
		IsPrime:        src.isPrime,
		IsBusiness:     src.isBusiness,
	}
	if o.Marketplace == "" {
		return order.Order{}, fail(ReasonMissingField, "payload.order.salesChannel.marketplaceId", "missing")
	}
	if o.SourceStatus == "" {
		return order.Order{}, fail(ReasonMissingField, "payload.order.fulfillment.fulfillmentStatus", "missing")
	}
	state, ok := amazon2026Statuses[o.SourceStatus]
	if !ok {
		return order.Order{}, failValue(ReasonInvalidValue, "payload.order.fulfillment.fulfillmentStatus", "is not an Amazon fulfillment status", o.SourceStatus)
	}
	o.Status, o.PaymentStatus = state.status, state.payment
	by := d.str(src.fulfilledBy)
	if o.Fulfilment, ok = amazon2026Fulfilment[by]; !ok {
		if by != "" {
			return order.Order{}, failValue(ReasonInvalidValue, "payload.order.fulfillment.fulfilledBy", "is not MERCHANT or AMAZON", by)
		}
		o.Fulfilment = order.FulfilmentMerchant // optional in the model, as v0's FulfillmentChannel
	}
	level := d.str(src.serviceLevel)
	if o.ShipServiceLevel, ok = amazon2026ServiceLevels[level]; !ok {
		o.ShipServiceLevel = level // a level newer than this code: keep Amazon's spelling
	}

	var err error
	if o.PurchasedAt, err = eventTime("payload.order.createdTime", d.str(src.createdTime), d.latest); err != nil {
		return order.Order{}, err
	}
	if o.SourceUpdatedAt, err = eventTime("payload.order.lastUpdatedTime", d.str(src.lastUpdatedTime), d.latest); err != nil {
		return order.Order{}, err
	}
	if o.LatestShipAt, err = optionalTime("payload.order.fulfillment.shipByWindow.latestDateTime", d.str(src.latestShip)); err != nil {
		return order.Order{}, err
	}
	if o.LatestDeliveryAt, err = optionalTime("payload.order.fulfillment.deliverByWindow.latestDateTime", d.str(src.latestDelivery)); err != nil {
		return order.Order{}, err
	}

	o.Buyer = order.Buyer{
		Name:                d.str(src.buyerName),
		Email:               d.str(src.buyerEmail),
		CompanyName:         d.str(src.buyerCompany),
		PurchaseOrderNumber: d.str(src.buyerPO),
		TaxID:               d.str(src.taxID),
	}
	if o.Buyer.CompanyName == "" {
		o.Buyer.CompanyName = d.str(src.taxLegalName)
	}
	if o.ShippingAddress, err = d.address(&src.address, o.Fulfilment, "payload.order.recipient.deliveryAddress.countryCode"); err != nil {
		return order.Order{}, err
	}

	var cur currencyGuard
	total, merr := d.readMoney(&cur, src.grandTotal, v2026Keys)
	if merr != nil {
		return order.Order{}, under(merr, "payload.order.proceeds.grandTotal")
	}

	o.Lines = make([]order.Line, 0, len(src.items))
	o.FreeText = []order.FreeText{}
	o.MarketplaceTaxes = []order.MarketplaceTax{}
	o.Refunds = []order.Refund{} // the v2026 model has no refunds
	for i := range src.items {
		it := &src.items[i]
		prefix := v2026ItemPath(i)
		line, err := d.v2026Line(it, prefix, &cur)
		if err != nil {
			return order.Order{}, err
		}
		if line.CancelRequested && o.Status != order.StatusCancelled {
			o.CancelRequested = true
		}
		if msg := d.str(it.giftMessage); msg != "" {
			o.FreeText = append(o.FreeText, order.FreeText{Kind: order.FreeTextGiftMessage, LineID: line.LineID, Text: msg})
		}
		if url := d.str(it.customizedURL); url != "" {
			o.FreeText = append(o.FreeText, order.FreeText{Kind: order.FreeTextCustomisation, LineID: line.LineID, Text: url})
		}
		model, err := d.v2026TaxModel(it, prefix)
		if err != nil {
			return order.Order{}, err
		}
		if model != "" {
			if err := appendMarketplaceTax(&o, line, model, prefix+".proceeds"); err != nil {
				return order.Order{}, err
			}
		}
		o.Lines = append(o.Lines, line)
	}
	if o.Totals, err = amazonTotals(o.Lines, total, "payload.order.orderItems"); err != nil {
		return order.Order{}, err
	}
	return withValidIDs(o, amazon2026IDs)
}

func v2026ItemPath(i int) string {
	return "payload.order.orderItems[" + strconv.Itoa(i) + "]"
}

// v2026Line maps one OrderItem. unitPrice is per unit; the item's other amounts come
// from its proceeds breakdowns: SHIPPING, GIFT_WRAP and DISCOUNT by type, and TAX
// split by its detailed breakdowns' subtype.
func (d *amazonDecoder) v2026Line(it *v2026ItemDoc, prefix string, cur *currencyGuard) (order.Line, error) {
	l := order.Line{
		LineID: d.str(it.id),
		ASIN:   d.str(it.asin),
		SKU:    d.str(it.sku),
		Title:  d.str(it.title),
		// The model has no gift flag: a gift option (message or wrap) is what makes one.
		IsGift: !it.giftMessage.empty() || !it.giftWrapLevel.empty(),
		// A buyer's request that nobody has acted on yet.
		CancelRequested: d.str(it.requester) == "BUYER" && it.cancelledBy.empty(),
	}
	if l.LineID == "" {
		return l, fail(ReasonMissingField, prefix+".orderItemId", "missing")
	}
	if !it.hasQtyOrdered {
		return l, fail(ReasonMissingField, prefix+".quantityOrdered", "missing")
	}
	var err error
	if l.Quantity, err = quantity("", int(it.qtyOrdered)); err != nil {
		return l, at(err, prefix+".quantityOrdered")
	}
	if l.QuantityShipped, err = quantity("", int(it.qtyFulfilled)); err != nil {
		return l, at(err, prefix+".fulfillment.quantityFulfilled")
	}
	if len(it.promotionIDs) > 0 {
		l.PromotionIDs = make([]string, len(it.promotionIDs))
		for k, id := range it.promotionIDs {
			l.PromotionIDs[k] = d.str(id)
		}
	}

	unit, merr := d.readMoney(cur, it.unitPrice, v2026Keys)
	if merr != nil {
		return l, under(merr, prefix+".product.price.unitPrice")
	}
	var itemAmount order.Money // the ITEM breakdown: the line total when there is no unit price
	for j := range it.breakdowns {
		b := &it.breakdowns[j]
		m, merr := d.readMoney(cur, b.subtotal, v2026Keys)
		if merr != nil {
			return l, under(merr, breakdownPath(prefix, j)+".subtotal")
		}
		switch kind := d.str(b.kind); kind {
		case "ITEM":
			itemAmount, err = addMoney(itemAmount, m)
		case "SHIPPING":
			l.Shipping, err = addMoney(l.Shipping, m)
		case "GIFT_WRAP":
			l.GiftWrap, err = addMoney(l.GiftWrap, m)
		case "DISCOUNT":
			// The sign of a discount in proceeds is not documented: the canonical
			// line holds its magnitude.
			l.Discount, err = addMoney(l.Discount, magnitude(m))
		case "TAX":
			if err := d.v2026Tax(&l, b, m, breakdownPath(prefix, j), cur); err != nil {
				return l, err // already names the detailed breakdown at fault
			}
		case "COD_FEE", "OTHER":
			// No canonical line amount holds these (see testdata/amazon/README.md).
		default:
			return l, failValue(ReasonInvalidValue, breakdownPath(prefix, j)+".type", "is not a proceeds type this normaliser knows", kind)
		}
		if err != nil {
			return l, at(err, breakdownPath(prefix, j)+".subtotal")
		}
	}
	if unit.IsZero() {
		l.LineTotal = itemAmount
		l.UnitPrice = unitPrice(itemAmount, l.Quantity)
		return l, nil
	}
	l.UnitPrice = unit
	if l.LineTotal, err = mulMoney(unit, l.Quantity); err != nil {
		return l, at(err, prefix+".product.price.unitPrice")
	}
	return l, nil
}

// v2026Tax spreads a TAX breakdown over the line's tax amounts by detailed subtype. A
// TAX breakdown without details is the item's tax; COD_FEE and OTHER tax, which the
// canonical line has no place for, counts as item tax so that the order's tax total
// stays whole.
func (d *amazonDecoder) v2026Tax(l *order.Line, b *v2026Breakdown, subtotal order.Money, path string, cur *currencyGuard) error {
	if len(b.details) == 0 {
		var err error
		if l.Tax, err = addMoney(l.Tax, subtotal); err != nil {
			return at(err, path+".subtotal")
		}
		return nil
	}
	for k := range b.details {
		det := &b.details[k]
		detailPath := func() string { return path + ".detailedBreakdowns[" + strconv.Itoa(k) + "]" }
		m, merr := d.readMoney(cur, det.value, v2026Keys)
		if merr != nil {
			return under(merr, detailPath()+".value")
		}
		var err error
		switch subtype := d.str(det.subtype); subtype {
		case "ITEM", "COD_FEE", "OTHER":
			l.Tax, err = addMoney(l.Tax, m)
		case "SHIPPING":
			l.ShippingTax, err = addMoney(l.ShippingTax, m)
		case "GIFT_WRAP":
			l.GiftWrapTax, err = addMoney(l.GiftWrapTax, m)
		case "DISCOUNT":
			l.DiscountTax, err = addMoney(l.DiscountTax, magnitude(m))
		default:
			return failValue(ReasonInvalidValue, detailPath()+".subtype", "is not a tax subtype this normaliser knows", subtype)
		}
		if err != nil {
			return at(err, detailPath()+".value")
		}
	}
	return nil
}

func breakdownPath(prefix string, j int) string {
	return prefix + ".proceeds.breakdowns[" + strconv.Itoa(j) + "]"
}

// v2026TaxModel says whether Amazon collects the item's tax itself, and why: an EU/UK
// reporting scheme (IOSS, UOSS) when it names one, else MarketplaceFacilitator, the
// name v0 uses, so that one model reads the same from both APIs. "" means the seller
// collects it.
func (d *amazonDecoder) v2026TaxModel(it *v2026ItemDoc, prefix string) (string, error) {
	model := ""
	for k, sp := range it.reportingSchemes {
		switch scheme := d.str(sp); scheme {
		case "":
		case "IOSS", "UOSS":
			model = scheme
		default:
			return "", failValue(ReasonInvalidValue, prefix+".tax.taxCalculationBreakdowns["+strconv.Itoa(k)+"].reportingScheme", "is not IOSS or UOSS", scheme)
		}
	}
	for k, sp := range it.taxModels {
		switch m := d.str(sp); m {
		case "":
		case "MARKETPLACE_FACILITATOR":
			if model == "" {
				model = "MarketplaceFacilitator"
			}
		default:
			return "", failValue(ReasonInvalidValue, prefix+".tax.taxCollections["+strconv.Itoa(k)+"].model", "is not MARKETPLACE_FACILITATOR", m)
		}
	}
	return model, nil
}
