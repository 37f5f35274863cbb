package normalize

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Amazon SP-API Orders payloads. Two shapes share the channel (DESIGN.md, external
// contract): the Orders API v0 shape {"order": Order, "items": [OrderItem...]},
// normalised here, and the Orders API v2026-01-01 shape {"order": Order} with the items
// inside the order, normalised in amazon2026.go. testdata/amazon/README.md gives the
// source of every field mapping and the reasons for each choice.
//
// Both are read in one pass with jsonReader into the few fields the canonical order
// needs (encoding/json would read every byte twice and allocate every string), then
// checked and mapped.

// amazonDecoders keeps decoders, with their buffers, between messages.
var amazonDecoders = sync.Pool{New: func() any { return new(amazonDecoder) }}

func getAmazonDecoder() *amazonDecoder {
	d := amazonDecoders.Get().(*amazonDecoder)
	d.r = &d.own
	return d
}

// release returns d to the pool, keeping neither the message nor the returned order's
// strings alive.
func (d *amazonDecoder) release() {
	d.r, d.s = nil, ""
	if d.own.release() {
		amazonDecoders.Put(d)
	}
}

// normalizeAmazon detects a payload's shape and normalises it, on its own: payload
// must be one that Normalize's reader has read whole (see jsonReader.resetChecked).
// Every failure is an *Error whose Field is a path in the message
// ("payload.items[1].ItemPrice.Amount").
func normalizeAmazon(payload []byte, latest time.Time) (order.Order, error) {
	d := getAmazonDecoder()
	defer d.release()
	if d.shape = detectAmazonShape(&d.own, payload); d.shape == amazonNoOrder {
		return order.Order{}, fail(ReasonMissingField, "payload.order", "missing")
	}
	d.r.resetChecked(payload, "payload")
	d.decode()
	d.r.end()
	if d.r.err != nil {
		return order.Order{}, d.r.err
	}
	return d.mapOrder(string(d.r.buf), latest)
}

// read reads the payload that is the next value of r, the message's reader, as
// Normalize calls it when the channel comes before the payload. It returns an error
// that is not the reader's: a payload without an order, which it skips.
func (d *amazonDecoder) read(r *jsonReader) *Error {
	// The shape is told by a look ahead with d's own reader, which reads from the
	// payload's first byte to, usually, a few dozen bytes in.
	if d.shape = detectAmazonShape(&d.own, r.data[r.valueStart():]); d.shape == amazonNoOrder {
		r.skip()
		return fail(ReasonMissingField, "payload.order", "missing")
	}
	d.r = r
	d.decode()
	return nil
}

func (d *amazonDecoder) decode() {
	if d.shape == amazonShape2026 {
		d.decode2026()
	} else {
		d.decodeV0()
	}
}

// mapOrder checks and maps the payload read; s is the reader's buffer as a string.
func (d *amazonDecoder) mapOrder(s string, latest time.Time) (order.Order, error) {
	// One string holds every string value of the payload: the order's strings are
	// slices of it, so they cost one allocation and share nothing with the payload.
	d.s, d.latest = s, latest
	if d.shape == amazonShape2026 {
		return d.map2026()
	}
	return d.mapV0()
}

type amazonShape int

const (
	amazonShapeV0 amazonShape = iota
	amazonShape2026
	amazonNoOrder // an object without an "order" member (or with "order": null)
)

// isV2026OnlyKey reports members of a v2026 Order that a v0 Order never has: with
// them, an order that lacks its id is still recognised as v2026, so that the error
// names the id that shape requires (orderId) rather than v0's AmazonOrderId.
func isV2026OnlyKey(key []byte) bool {
	switch string(key) {
	case "orderItems", "createdTime", "lastUpdatedTime", "salesChannel", "orderAliases":
		return true
	}
	return false
}

// detectAmazonShape tells the two shapes apart by the members of the payload's "order"
// object: "AmazonOrderId" means v0, "orderId" means v2026-01-01. Both come first in
// Amazon's responses, so the pass usually stops after a few dozen bytes; it reads
// member names and skips every value but the order. Anything it cannot read is left
// to the v0 decoder to report. It reads with r, which it leaves where it stopped.
func detectAmazonShape(r *jsonReader, payload []byte) amazonShape {
	r.resetChecked(payload, "payload")
	if r.peek() != '{' {
		return amazonShapeV0 // not an object: decoding says so with a schema mismatch
	}
	r.beginObject("")
	for {
		key, ok := r.nextKey()
		if !ok {
			if r.err != nil {
				return amazonShapeV0
			}
			return amazonNoOrder
		}
		if string(key) != "order" {
			r.skip()
			continue
		}
		if r.null() {
			return amazonNoOrder
		}
		if r.peek() != '{' {
			return amazonShapeV0
		}
		r.beginObject("order")
		only2026 := false
		for {
			key, ok := r.nextKey()
			switch {
			case !ok:
				if only2026 && r.err == nil {
					return amazonShape2026
				}
				return amazonShapeV0
			case string(key) == "AmazonOrderId":
				return amazonShapeV0
			case string(key) == "orderId":
				if r.peek() == 0 { // the name is all there is: malformed
					return amazonShapeV0
				}
				return amazonShape2026
			case isV2026OnlyKey(key):
				only2026 = true
			}
			r.skip()
		}
	}
}

// amazonDecoder reads one payload of either shape.
type amazonDecoder struct {
	r     *jsonReader // &own, or the message's reader in Normalize
	own   jsonReader
	shape amazonShape
	v0    v0Doc
	v26   v2026Doc
	s     string // every string value of the payload once read; spans index it
	// latest is the latest instant an event of the order may have (now + skew).
	latest time.Time
}

// str is a string value of the payload, a slice of d.s: no allocation.
func (d *amazonDecoder) str(sp span) string { return sp.in(d.s) }

// amazonMoney is a Money of either shape, as read.
type amazonMoney struct{ amount, currency span }

// moneyKeys names a Money's amount and currency members in one shape.
type moneyKeys struct{ amount, currency string }

var (
	v0Keys    = moneyKeys{amount: "Amount", currency: "CurrencyCode"}
	v2026Keys = moneyKeys{amount: "amount", currency: "currencyCode"}
)

func (d *amazonDecoder) money(m *amazonMoney, key string, keys moneyKeys) {
	d.r.members(key, func(name []byte) {
		switch string(name) {
		case keys.amount:
			m.amount = d.r.str(keys.amount)
		case keys.currency:
			m.currency = d.r.str(keys.currency)
		default:
			d.r.skip()
		}
	})
}

// amazonAddressDoc is a delivery address of either shape, as read.
type amazonAddressDoc struct {
	present                                        bool
	name, company, line1, line2, line3             span
	city, county, district, state, postal, country span
	phone, addressType                             span
}

// The Orders API v0 shape, as read. Names follow ordersV0.json.

type v0Doc struct {
	hasItems bool
	order    v0OrderDoc
	items    []v0ItemDoc
}

type v0OrderDoc struct {
	amazonOrderID, sellerOrderID, purchaseDate, lastUpdateDate, status span
	fulfillmentChannel, shipServiceLevel, serviceLevelCategory         span
	marketplaceID, latestShipDate, latestDeliveryDate                  span
	total                                                              amazonMoney
	isBusiness, isPrime                                                bool
	address                                                            amazonAddressDoc
	// BuyerInfo; vatNumber is the first TaxClassification named VATNumber.
	buyerEmail, buyerName, purchaseOrder, companyLegalName, vatNumber span
	// BuyerTaxInformation: the Turkey marketplace's business-invoice data.
	legalCompanyName, taxRegistrationID span
}

type v0ItemDoc struct {
	asin, sku, id, title                  span
	qtyOrdered, qtyShipped                int64
	hasQtyOrdered                         bool
	itemPrice, shippingPrice              amazonMoney
	itemTax, shippingTax                  amazonMoney
	shippingDiscount, shippingDiscountTax amazonMoney
	promotionDiscount, promotionDiscTax   amazonMoney
	giftWrapPrice, giftWrapTax            amazonMoney
	promotionIDs                          []span
	isGift, taxModel, deemedReseller      span
	customizedURL, giftMessage            span
	cancelRequested                       span
}

func (d *amazonDecoder) decodeV0() {
	doc := &d.v0
	*doc = v0Doc{items: doc.items[:0]}
	d.r.members("", func(name []byte) {
		switch string(name) {
		case "order":
			d.decodeV0Order(&doc.order)
		case "items":
			doc.hasItems = d.r.peek() == '['
			doc.items = doc.items[:0] // a repeated key replaces, as in encoding/json
			d.r.elements("items", func(int) { d.decodeV0Item(nextV0Item(&doc.items)) })
		default:
			d.r.skip()
		}
	})
}

func nextV0Item(items *[]v0ItemDoc) *v0ItemDoc {
	if len(*items) < cap(*items) {
		*items = (*items)[:len(*items)+1]
		it := &(*items)[len(*items)-1]
		*it = v0ItemDoc{promotionIDs: it.promotionIDs[:0]}
		return it
	}
	*items = append(*items, v0ItemDoc{})
	return &(*items)[len(*items)-1]
}

func (d *amazonDecoder) decodeV0Order(o *v0OrderDoc) {
	r := d.r
	d.r.members("order", func(name []byte) {
		switch string(name) {
		case "AmazonOrderId":
			o.amazonOrderID = r.str("AmazonOrderId")
		case "SellerOrderId":
			o.sellerOrderID = r.str("SellerOrderId")
		case "PurchaseDate":
			o.purchaseDate = r.str("PurchaseDate")
		case "LastUpdateDate":
			o.lastUpdateDate = r.str("LastUpdateDate")
		case "OrderStatus":
			o.status = r.str("OrderStatus")
		case "FulfillmentChannel":
			o.fulfillmentChannel = r.str("FulfillmentChannel")
		case "ShipServiceLevel":
			o.shipServiceLevel = r.str("ShipServiceLevel")
		case "ShipmentServiceLevelCategory":
			o.serviceLevelCategory = r.str("ShipmentServiceLevelCategory")
		case "MarketplaceId":
			o.marketplaceID = r.str("MarketplaceId")
		case "LatestShipDate":
			o.latestShipDate = r.str("LatestShipDate")
		case "LatestDeliveryDate":
			o.latestDeliveryDate = r.str("LatestDeliveryDate")
		case "OrderTotal":
			d.money(&o.total, "OrderTotal", v0Keys)
		case "IsBusinessOrder":
			o.isBusiness = r.boolean("IsBusinessOrder")
		case "IsPrime":
			o.isPrime = r.boolean("IsPrime")
		case "ShippingAddress":
			d.v0Address(&o.address)
		case "BuyerInfo":
			d.v0BuyerInfo(o)
		case "BuyerTaxInformation":
			d.r.members("BuyerTaxInformation", func(name []byte) {
				switch string(name) {
				case "BuyerLegalCompanyName":
					o.legalCompanyName = r.str("BuyerLegalCompanyName")
				case "BuyerTaxRegistrationId":
					o.taxRegistrationID = r.str("BuyerTaxRegistrationId")
				default:
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
}

func (d *amazonDecoder) v0Address(a *amazonAddressDoc) {
	r := d.r
	*a = amazonAddressDoc{present: r.peek() == '{'}
	d.r.members("ShippingAddress", func(name []byte) {
		switch string(name) {
		case "Name":
			a.name = r.str("Name")
		case "CompanyName":
			a.company = r.str("CompanyName")
		case "AddressLine1":
			a.line1 = r.str("AddressLine1")
		case "AddressLine2":
			a.line2 = r.str("AddressLine2")
		case "AddressLine3":
			a.line3 = r.str("AddressLine3")
		case "City":
			a.city = r.str("City")
		case "County":
			a.county = r.str("County")
		case "District":
			a.district = r.str("District")
		case "StateOrRegion":
			a.state = r.str("StateOrRegion")
		case "PostalCode":
			a.postal = r.str("PostalCode")
		case "CountryCode":
			a.country = r.str("CountryCode")
		case "Phone":
			a.phone = r.str("Phone")
		case "AddressType":
			a.addressType = r.str("AddressType")
		default:
			r.skip()
		}
	})
}

func (d *amazonDecoder) v0BuyerInfo(o *v0OrderDoc) {
	r := d.r
	d.r.members("BuyerInfo", func(name []byte) {
		switch string(name) {
		case "BuyerEmail":
			o.buyerEmail = r.str("BuyerEmail")
		case "BuyerName":
			o.buyerName = r.str("BuyerName")
		case "PurchaseOrderNumber":
			o.purchaseOrder = r.str("PurchaseOrderNumber")
		case "BuyerTaxInfo":
			d.r.members("BuyerTaxInfo", func(name []byte) {
				switch string(name) {
				case "CompanyLegalName":
					o.companyLegalName = r.str("CompanyLegalName")
				case "TaxClassifications":
					d.r.elements("TaxClassifications", func(int) {
						var tcName, tcValue span
						d.r.members("", func(name []byte) {
							switch string(name) {
							case "Name":
								tcName = r.str("Name")
							case "Value":
								tcValue = r.str("Value")
							default:
								r.skip()
							}
						})
						if o.vatNumber.empty() && d.r.is(tcName, "VATNumber") {
							o.vatNumber = tcValue
						}
					})
				default:
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
}

func (d *amazonDecoder) decodeV0Item(it *v0ItemDoc) {
	r := d.r
	d.r.members("", func(name []byte) {
		switch string(name) {
		case "ASIN":
			it.asin = r.str("ASIN")
		case "SellerSKU":
			it.sku = r.str("SellerSKU")
		case "OrderItemId":
			it.id = r.str("OrderItemId")
		case "Title":
			it.title = r.str("Title")
		case "QuantityOrdered":
			it.qtyOrdered, it.hasQtyOrdered = r.integer("QuantityOrdered")
		case "QuantityShipped":
			it.qtyShipped, _ = r.integer("QuantityShipped")
		case "ItemPrice":
			d.money(&it.itemPrice, "ItemPrice", v0Keys)
		case "ShippingPrice":
			d.money(&it.shippingPrice, "ShippingPrice", v0Keys)
		case "ItemTax":
			d.money(&it.itemTax, "ItemTax", v0Keys)
		case "ShippingTax":
			d.money(&it.shippingTax, "ShippingTax", v0Keys)
		case "ShippingDiscount":
			d.money(&it.shippingDiscount, "ShippingDiscount", v0Keys)
		case "ShippingDiscountTax":
			d.money(&it.shippingDiscountTax, "ShippingDiscountTax", v0Keys)
		case "PromotionDiscount":
			d.money(&it.promotionDiscount, "PromotionDiscount", v0Keys)
		case "PromotionDiscountTax":
			d.money(&it.promotionDiscTax, "PromotionDiscountTax", v0Keys)
		case "PromotionIds":
			it.promotionIDs = it.promotionIDs[:0]
			d.r.elements("PromotionIds", func(int) {
				if id := r.str(""); !id.empty() {
					it.promotionIDs = append(it.promotionIDs, id)
				}
			})
		case "IsGift":
			it.isGift = r.str("IsGift")
		case "TaxCollection":
			d.r.members("TaxCollection", func(name []byte) {
				if string(name) == "Model" {
					it.taxModel = r.str("Model")
				} else {
					r.skip()
				}
			})
		case "DeemedResellerCategory":
			it.deemedReseller = r.str("DeemedResellerCategory")
		case "BuyerInfo":
			d.r.members("BuyerInfo", func(name []byte) {
				switch string(name) {
				case "BuyerCustomizedInfo":
					d.r.members("BuyerCustomizedInfo", func(name []byte) {
						if string(name) == "CustomizedURL" {
							it.customizedURL = r.str("CustomizedURL")
						} else {
							r.skip()
						}
					})
				case "GiftWrapPrice":
					d.money(&it.giftWrapPrice, "GiftWrapPrice", v0Keys)
				case "GiftWrapTax":
					d.money(&it.giftWrapTax, "GiftWrapTax", v0Keys)
				case "GiftMessageText":
					it.giftMessage = r.str("GiftMessageText")
				default:
					r.skip()
				}
			})
		case "BuyerRequestedCancel":
			d.r.members("BuyerRequestedCancel", func(name []byte) {
				if string(name) == "IsBuyerRequestedCancel" {
					it.cancelRequested = r.str("IsBuyerRequestedCancel")
				} else {
					r.skip()
				}
			})
		default:
			r.skip()
		}
	})
}

// amazonState is a canonical status pair for one Amazon status value.
type amazonState struct {
	status  order.Status
	payment order.PaymentStatus
}

// amazonV0Statuses maps every definitions.Order.OrderStatus value. Amazon takes the
// buyer's payment once it has authorised it, so an order is paid from Unshipped on,
// and a cancelled order was never charged (voided).
var amazonV0Statuses = map[string]amazonState{
	"Pending":             {order.StatusPending, order.PaymentPending},
	"PendingAvailability": {order.StatusPendingAvailability, order.PaymentPending},
	"Unshipped":           {order.StatusUnshipped, order.PaymentPaid},
	"PartiallyShipped":    {order.StatusPartiallyShipped, order.PaymentPaid},
	"Shipped":             {order.StatusShipped, order.PaymentPaid},
	"InvoiceUnconfirmed":  {order.StatusShipped, order.PaymentPaid}, // shipped; only the invoice upload is pending
	"Canceled":            {order.StatusCancelled, order.PaymentVoided},
	"Unfulfillable":       {order.StatusUnfulfillable, order.PaymentPaid},
}

// amazonV0Fulfilment maps FulfillmentChannel.
var amazonV0Fulfilment = map[string]order.Fulfilment{
	"MFN": order.FulfilmentMerchant,
	"AFN": order.FulfilmentMarketplace,
}

func (d *amazonDecoder) mapV0() (order.Order, error) {
	src := &d.v0.order
	if src.amazonOrderID.empty() {
		return order.Order{}, fail(ReasonMissingField, "payload.order.AmazonOrderId", "missing")
	}
	if !d.v0.hasItems {
		return order.Order{}, fail(ReasonMissingField, "payload.items", "missing")
	}
	o := order.Order{
		Channel:          order.ChannelAmazon,
		SourceFormat:     order.SourceAmazonOrdersV0,
		Marketplace:      d.str(src.marketplaceID),
		ChannelOrderID:   d.str(src.amazonOrderID),
		SellerOrderID:    d.str(src.sellerOrderID),
		SourceStatus:     d.str(src.status),
		IsPrime:          src.isPrime,
		IsBusiness:       src.isBusiness,
		ShipServiceLevel: d.str(src.serviceLevelCategory),
	}
	if o.ShipServiceLevel == "" {
		o.ShipServiceLevel = d.str(src.shipServiceLevel) // the seller-facing name, when Amazon gives no category
	}
	if o.Marketplace == "" {
		return order.Order{}, fail(ReasonMissingField, "payload.order.MarketplaceId", "missing")
	}
	if o.SourceStatus == "" {
		return order.Order{}, fail(ReasonMissingField, "payload.order.OrderStatus", "missing")
	}
	state, ok := amazonV0Statuses[o.SourceStatus]
	if !ok {
		return order.Order{}, failValue(ReasonInvalidValue, "payload.order.OrderStatus", "is not an Amazon order status", o.SourceStatus)
	}
	o.Status, o.PaymentStatus = state.status, state.payment
	channel := d.str(src.fulfillmentChannel)
	if o.Fulfilment, ok = amazonV0Fulfilment[channel]; !ok {
		if channel != "" {
			return order.Order{}, failValue(ReasonInvalidValue, "payload.order.FulfillmentChannel", "is not MFN or AFN", channel)
		}
		o.Fulfilment = order.FulfilmentMerchant // optional in the model; sellers ship unless Amazon says AFN
	}

	var err error
	if o.PurchasedAt, err = eventTime("payload.order.PurchaseDate", d.str(src.purchaseDate), d.latest); err != nil {
		return order.Order{}, err
	}
	if o.SourceUpdatedAt, err = eventTime("payload.order.LastUpdateDate", d.str(src.lastUpdateDate), d.latest); err != nil {
		return order.Order{}, err
	}
	if o.LatestShipAt, err = optionalTime("payload.order.LatestShipDate", d.str(src.latestShipDate)); err != nil {
		return order.Order{}, err
	}
	if o.LatestDeliveryAt, err = optionalTime("payload.order.LatestDeliveryDate", d.str(src.latestDeliveryDate)); err != nil {
		return order.Order{}, err
	}

	o.Buyer = order.Buyer{
		Name:                d.str(src.buyerName),
		Email:               d.str(src.buyerEmail),
		CompanyName:         d.str(src.companyLegalName),
		PurchaseOrderNumber: d.str(src.purchaseOrder),
		TaxID:               d.str(src.vatNumber),
	}
	if o.Buyer.CompanyName == "" {
		o.Buyer.CompanyName = d.str(src.legalCompanyName)
	}
	if o.Buyer.TaxID == "" {
		o.Buyer.TaxID = d.str(src.taxRegistrationID)
	}
	if o.ShippingAddress, err = d.address(&src.address, o.Fulfilment, "payload.order.ShippingAddress.CountryCode"); err != nil {
		return order.Order{}, err
	}

	var cur currencyGuard
	total, merr := d.readMoney(&cur, src.total, v0Keys)
	if merr != nil {
		return order.Order{}, under(merr, "payload.order.OrderTotal")
	}

	o.Lines = make([]order.Line, 0, len(d.v0.items))
	o.FreeText = []order.FreeText{}
	o.MarketplaceTaxes = []order.MarketplaceTax{}
	o.Refunds = []order.Refund{} // v0 orders carry no refunds (the Finances API has them)
	for i := range d.v0.items {
		it := &d.v0.items[i]
		line, err := d.v0Line(it, i, &cur)
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
		model := d.str(it.deemedReseller)
		switch model {
		case "", "IOSS", "UOSS":
		default:
			return order.Order{}, failValue(ReasonInvalidValue, v0ItemPath(i, "DeemedResellerCategory"), "is not IOSS or UOSS", model)
		}
		switch taxModel := d.str(it.taxModel); taxModel {
		case "":
		case "MarketplaceFacilitator":
			if model == "" {
				model = taxModel
			}
		default:
			return order.Order{}, failValue(ReasonInvalidValue, v0ItemPath(i, "TaxCollection.Model"), "is not MarketplaceFacilitator", taxModel)
		}
		if model != "" {
			if err := appendMarketplaceTax(&o, line, model, v0ItemPath(i, "ItemTax")); err != nil {
				return order.Order{}, err
			}
		}
		o.Lines = append(o.Lines, line)
	}
	if o.Totals, err = amazonTotals(o.Lines, total, "payload.items"); err != nil {
		return order.Order{}, err
	}
	return withValidIDs(o, amazonV0IDs)
}

// v0Line maps one OrderItem. ItemPrice is the line total (unit price x quantity).
func (d *amazonDecoder) v0Line(it *v0ItemDoc, i int, cur *currencyGuard) (order.Line, error) {
	l := order.Line{
		LineID: d.str(it.id),
		ASIN:   d.str(it.asin),
		SKU:    d.str(it.sku),
		Title:  d.str(it.title),
	}
	if l.LineID == "" {
		return l, fail(ReasonMissingField, v0ItemPath(i, "OrderItemId"), "missing")
	}
	if l.ASIN == "" {
		return l, fail(ReasonMissingField, v0ItemPath(i, "ASIN"), "missing")
	}
	if !it.hasQtyOrdered {
		return l, fail(ReasonMissingField, v0ItemPath(i, "QuantityOrdered"), "missing")
	}
	var err error
	if l.Quantity, err = quantity("", int(it.qtyOrdered)); err != nil {
		return l, at(err, v0ItemPath(i, "QuantityOrdered"))
	}
	if l.QuantityShipped, err = quantity("", int(it.qtyShipped)); err != nil {
		return l, at(err, v0ItemPath(i, "QuantityShipped"))
	}
	if l.IsGift, err = amazonStringBool(d.str(it.isGift)); err != nil {
		return l, at(err, v0ItemPath(i, "IsGift"))
	}
	if l.CancelRequested, err = amazonStringBool(d.str(it.cancelRequested)); err != nil {
		return l, at(err, v0ItemPath(i, "BuyerRequestedCancel.IsBuyerRequestedCancel"))
	}
	if len(it.promotionIDs) > 0 {
		l.PromotionIDs = make([]string, len(it.promotionIDs))
		for k, id := range it.promotionIDs {
			l.PromotionIDs[k] = d.str(id)
		}
	}

	amounts := [...]struct {
		name string
		src  *amazonMoney
		dst  *order.Money
	}{
		{"ItemPrice", &it.itemPrice, &l.LineTotal},
		{"ItemTax", &it.itemTax, &l.Tax},
		{"ShippingPrice", &it.shippingPrice, &l.Shipping},
		{"ShippingTax", &it.shippingTax, &l.ShippingTax},
		{"BuyerInfo.GiftWrapPrice", &it.giftWrapPrice, &l.GiftWrap},
		{"BuyerInfo.GiftWrapTax", &it.giftWrapTax, &l.GiftWrapTax},
	}
	for _, a := range amounts {
		m, merr := d.readMoney(cur, *a.src, v0Keys)
		if merr != nil {
			return l, under(merr, v0ItemPath(i, a.name))
		}
		*a.dst = m
	}
	// Amazon reports discounts and their tax as positive amounts; the canonical line
	// holds the promotions' magnitude whatever sign a snapshot uses.
	discounts := [...]struct {
		name string
		src  *amazonMoney
		dst  *order.Money
	}{
		{"PromotionDiscount", &it.promotionDiscount, &l.Discount},
		{"ShippingDiscount", &it.shippingDiscount, &l.Discount},
		{"PromotionDiscountTax", &it.promotionDiscTax, &l.DiscountTax},
		{"ShippingDiscountTax", &it.shippingDiscountTax, &l.DiscountTax},
	}
	for _, a := range discounts {
		m, merr := d.readMoney(cur, *a.src, v0Keys)
		if merr != nil {
			return l, under(merr, v0ItemPath(i, a.name))
		}
		if *a.dst, err = addMoney(*a.dst, magnitude(m)); err != nil {
			return l, at(err, v0ItemPath(i, a.name))
		}
	}
	l.UnitPrice = unitPrice(l.LineTotal, l.Quantity)
	return l, nil
}

func v0ItemPath(i int, field string) string {
	return "payload.items[" + strconv.Itoa(i) + "]." + field
}

// Helpers shared by both Amazon shapes.

// address maps a delivery address. Amazon gives a marketplace-fulfilled (FBA) order's
// seller only the town, region and postcode, and the canonical order promises no
// street address for such orders, so anything more is dropped. An absent or empty
// address is no address.
func (d *amazonDecoder) address(a *amazonAddressDoc, f order.Fulfilment, countryField string) (*order.Address, error) {
	if !a.present {
		return nil, nil
	}
	county := d.str(a.county)
	if county == "" {
		county = d.str(a.district) // v0 only: District where Amazon gives no County
	}
	addr := order.Address{
		Name: d.str(a.name), CompanyName: d.str(a.company),
		Line1: d.str(a.line1), Line2: d.str(a.line2), Line3: d.str(a.line3),
		City: d.str(a.city), County: county, StateOrRegion: d.str(a.state),
		PostalCode: d.str(a.postal), CountryCode: d.str(a.country), Phone: d.str(a.phone),
		AddressType: amazonAddressType(d.str(a.addressType)),
	}
	if addr.CountryCode != "" && !order.ValidCountryCode(addr.CountryCode) {
		// Not quoted: a corrupt message could put any part of the address here.
		return nil, fail(ReasonInvalidValue, countryField, "not an ISO 3166-1 alpha-2 country code")
	}
	if f == order.FulfilmentMarketplace {
		addr.Name, addr.CompanyName, addr.Line1, addr.Line2, addr.Line3, addr.Phone = "", "", "", "", "", ""
	}
	if addr == (order.Address{}) {
		return nil, nil
	}
	return &addr, nil
}

// currencyGuard holds an order's amounts to one currency: the first present amount's.
// An order whose amounts mix currencies cannot be totalled.
type currencyGuard struct{ currency string }

// readMoney parses one amount. A failure's Field is the member at fault (keys.amount
// or keys.currency), for the caller to put under the Money's own path.
func (d *amazonDecoder) readMoney(g *currencyGuard, src amazonMoney, keys moneyKeys) (order.Money, *Error) {
	amount, currency := d.str(src.amount), d.str(src.currency)
	m, err := money("", amount, currency)
	if err != nil {
		field := keys.amount
		if amount != "" && !isISOCurrency(currency) {
			field = keys.currency
		}
		return order.Money{}, asError(at(err, field))
	}
	if m.IsZero() {
		return m, nil
	}
	switch g.currency {
	case "":
		g.currency = m.Currency
	case m.Currency:
	default:
		return order.Money{}, &Error{Reason: ReasonBadAmount, Field: keys.currency,
			Rule: "differs from the order's currency", Err: order.ErrCurrencyMismatch}
	}
	return m, nil
}

// amazonStringBool reads Amazon's string booleans (IsGift, IsBuyerRequestedCancel):
// "true", "false" or absent.
func amazonStringBool(s string) (bool, error) {
	switch s {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, failValue(ReasonInvalidValue, "", `is not "true" or "false"`, s)
}

// amazonAddressType lower-cases Amazon's address types. The canonical schema knows only
// residential and commercial, so PICKUP_POINT (v2026) and anything new is left unknown.
func amazonAddressType(s string) string {
	switch s {
	case "Residential", "RESIDENTIAL":
		return "residential"
	case "Commercial", "COMMERCIAL":
		return "commercial"
	}
	return ""
}

// vatMarketplaces are the UK and EU Amazon marketplaces (developer-docs.amazon.com/
// sp-api/docs/marketplace-ids): tax Amazon collects there is VAT (deemed reseller,
// IOSS/UOSS, UK low-value imports); elsewhere it is sales tax (US marketplace
// facilitator laws).
var vatMarketplaces = map[string]bool{
	"A1F83G8C2ARO7P": true, // United Kingdom
	"A28R8C7NBKEWEA": true, // Ireland
	"A1PA6795UKMFR9": true, // Germany
	"A13V1IB3VIYZZH": true, // France
	"APJ6JRA9NG5V4":  true, // Italy
	"A1RKKUPIHCS9HS": true, // Spain
	"A1805IZSGTT6HS": true, // Netherlands
	"AMEN7PMS3EDWL":  true, // Belgium
	"A2NODRKZP88ZB9": true, // Sweden
	"A1C3SOZRARQ6R3": true, // Poland
}

// appendMarketplaceTax records that Amazon collects and remits a line's tax: all of it,
// item, shipping and gift wrap, net of the promotions' tax. A line without any tax
// amount has nothing to record.
func appendMarketplaceTax(o *order.Order, l order.Line, model, field string) error {
	amount, err := lineTax(l)
	if err != nil {
		return at(err, field)
	}
	if amount.IsZero() {
		return nil
	}
	taxType := "SALES_TAX"
	if vatMarketplaces[o.Marketplace] {
		taxType = "VAT"
	}
	o.MarketplaceTaxes = append(o.MarketplaceTaxes, order.MarketplaceTax{LineID: l.LineID, TaxType: taxType, Model: model, Amount: amount})
	return nil
}

// lineTax is a line's whole tax: item, shipping and gift wrap, less the promotions' tax.
func lineTax(l order.Line) (order.Money, error) {
	t, err := addMoney(l.Tax, l.ShippingTax)
	if err == nil {
		t, err = addMoney(t, l.GiftWrapTax)
	}
	if err == nil {
		t, err = addMoney(t, negate(l.DiscountTax))
	}
	return t, err
}

// amazonTotals sums the lines into the order's totals; Total is Amazon's own figure
// (OrderTotal, proceeds.grandTotal), never recomputed. field names the lines' list,
// for the (overflow-only) errors.
func amazonTotals(lines []order.Line, total order.Money, field string) (order.Totals, error) {
	t := order.Totals{Total: total}
	for i := range lines {
		l := &lines[i]
		tax, err := lineTax(*l)
		if err == nil {
			t.Tax, err = addMoney(t.Tax, tax)
		}
		if err == nil {
			t.Subtotal, err = addMoney(t.Subtotal, l.LineTotal)
		}
		if err == nil {
			t.Shipping, err = addMoney(t.Shipping, l.Shipping)
		}
		if err == nil {
			t.Discount, err = addMoney(t.Discount, l.Discount)
		}
		if err != nil {
			return t, at(err, field)
		}
	}
	return t, nil
}

// mulMoney returns m x n (n >= 0), or fails if that overflows.
func mulMoney(m order.Money, n int) (order.Money, error) {
	switch {
	case m.IsZero():
		return m, nil
	case n == 0:
		return order.Money{Currency: m.Currency}, nil
	}
	a := int64(m.Amount)
	if a == math.MinInt64 || (a > 0 && a > math.MaxInt64/int64(n)) || (a < 0 && -a > math.MaxInt64/int64(n)) {
		return order.Money{}, &Error{Reason: ReasonBadAmount, Rule: "line total too large"}
	}
	return order.Money{Amount: order.Amount(a * int64(n)), Currency: m.Currency}, nil
}
