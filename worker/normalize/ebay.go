package normalize

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// The eBay payload is a Sell Fulfillment API v1 Order exactly as getOrder returns it
// (developer.ebay.com/api-docs/sell/fulfillment/types/sel:Order). testdata/ebay/README.md
// gives the source of every field mapping below and the reasons for each choice.

// ebayDecoders keeps decoders, with their buffers, between messages: a decoder's
// buffers reach the size of a typical order after a few messages and then cost nothing.
var ebayDecoders = sync.Pool{New: func() any { return new(ebayDecoder) }}

func getEbayDecoder() *ebayDecoder {
	d := ebayDecoders.Get().(*ebayDecoder)
	d.r = &d.own
	return d
}

// release returns d to the pool, keeping no message alive.
func (d *ebayDecoder) release() {
	d.r = nil
	if d.own.release() {
		ebayDecoders.Put(d)
	}
}

// normalizeEbay maps one eBay Order payload, on its own, to the canonical order:
// payload must be one that Normalize's reader has read whole (see
// jsonReader.resetChecked). It reads the payload once into the few fields the
// canonical order needs, skipping the rest, then checks and converts them.
func normalizeEbay(payload []byte, latest time.Time) (order.Order, error) {
	d := getEbayDecoder()
	defer d.release()
	d.r.resetChecked(payload, "payload")
	d.o.reset()
	d.order()
	d.r.end()
	if d.r.err != nil {
		return order.Order{}, d.r.err
	}
	return d.mapOrder(string(d.r.buf), latest)
}

// read reads the payload that is the next value of r, the message's reader, as
// Normalize calls it when the channel comes before the payload.
func (d *ebayDecoder) read(r *jsonReader) *Error {
	d.r = r
	d.o.reset()
	d.order()
	return nil
}

// mapOrder checks and maps the payload read; s is the reader's buffer as a string.
func (d *ebayDecoder) mapOrder(s string, latest time.Time) (order.Order, error) {
	// One string holds every string value of the payload: the order's strings are
	// slices of it, so they cost one allocation and share nothing with the payload.
	m := ebayMapper{o: &d.o, s: s, latest: latest}
	return m.order()
}

// The payload's fields that the canonical order uses. Strings are spans of the
// decoder's string buffer; an absent value is the zero value.

type ebayOrder struct {
	orderID, salesRecord, created, modified                      span
	fulfillmentStatus, paymentStatus, cancelState, checkoutNotes span

	username, taxpayerID, taxIDType span
	taxAddress                      ebayAddress
	registration                    ebayContact

	instructions                              int // fulfillmentStartInstructions read
	instructionType, serviceCode, maxDelivery span
	shipTo                                    ebayContact

	lines []ebayLine

	subtotal, priceDiscount, priceDiscountSubtotal, delivery, deliveryDiscount, tax, total ebayAmount

	refunds []ebayRefund // paymentSummary.refunds
}

// ebayAmount is the Amount type: value and currency, and the pre-conversion pair when
// eBay converted the amount.
type ebayAmount struct {
	value, currency, fromValue, fromCurrency span
	present                                  bool
}

// ebayContact is the ExtendedContact type (shipTo, buyerRegistrationAddress).
type ebayContact struct {
	fullName, companyName, email, phone span
	address                             ebayAddress
	present                             bool
}

// ebayAddress is the AddressWithCC type, and TaxAddress, which has fewer fields.
type ebayAddress struct {
	line1, line2, city, state, postalCode, countryCode, county span
	present                                                    bool
}

type ebayLine struct {
	id, itemID, sku, title                                     span
	purchaseMarketplace, listingMarketplace, fulfillmentStatus span
	shipBy, giftMessage                                        span
	quantity                                                   int64
	hasQuantity, gift                                          bool
	cost, shipping, shippingDiscount                           ebayAmount
	promotions                                                 []ebayPromotion
	taxes, collected                                           []ebayTax // taxes, ebayCollectAndRemitTaxes
	refunds                                                    []ebayRefund
}

type ebayPromotion struct {
	id     span
	amount ebayAmount
}

// ebayTax is the Tax type and the EbayCollectAndRemitTax type.
type ebayTax struct {
	taxType span
	amount  ebayAmount
}

// ebayRefund is the LineItemRefund type and the OrderRefund type (which adds status).
type ebayRefund struct {
	id, referenceID, date, status span
	amount                        ebayAmount
}

// reset empties the order for reuse, keeping its slices' memory.
func (o *ebayOrder) reset() {
	lines, refunds := o.lines[:0], o.refunds[:0]
	*o = ebayOrder{lines: lines, refunds: refunds}
}

// appendReused extends s by one element, reusing the memory of an earlier message's element
// when there is one, and returns the element, reset by clear.
func appendReused[T any](s *[]T, clear func(*T)) *T {
	if len(*s) < cap(*s) {
		*s = (*s)[:len(*s)+1]
	} else {
		var zero T
		*s = append(*s, zero)
	}
	e := &(*s)[len(*s)-1]
	clear(e)
	return e
}

func clearLine(l *ebayLine) {
	*l = ebayLine{promotions: l.promotions[:0], taxes: l.taxes[:0], collected: l.collected[:0], refunds: l.refunds[:0]}
}

func clearPromotion(p *ebayPromotion) { *p = ebayPromotion{} }
func clearTax(t *ebayTax)             { *t = ebayTax{} }
func clearRefund(r *ebayRefund)       { *r = ebayRefund{} }

type ebayDecoder struct {
	r   *jsonReader // &own, or the message's reader in Normalize
	own jsonReader
	o   ebayOrder
}

// order reads the payload: an Order object. Each object is read with
// jsonReader.members, which keeps the path for error messages.
func (d *ebayDecoder) order() {
	r, o := d.r, &d.o
	r.members("", func(key []byte) {
		switch string(key) {
		case "orderId":
			o.orderID = r.str("orderId")
		case "salesRecordReference":
			o.salesRecord = r.str("salesRecordReference")
		case "creationDate":
			o.created = r.str("creationDate")
		case "lastModifiedDate":
			o.modified = r.str("lastModifiedDate")
		case "orderFulfillmentStatus":
			o.fulfillmentStatus = r.str("orderFulfillmentStatus")
		case "orderPaymentStatus":
			o.paymentStatus = r.str("orderPaymentStatus")
		case "buyerCheckoutNotes":
			o.checkoutNotes = r.str("buyerCheckoutNotes")
		case "buyer":
			d.buyer()
		case "cancelStatus":
			r.members("cancelStatus", func(key []byte) {
				if string(key) == "cancelState" {
					o.cancelState = r.str("cancelState")
				} else {
					r.skip() // cancelRequests: who asked and why; the state is enough
				}
			})
		case "fulfillmentStartInstructions":
			d.instructions()
		case "lineItems":
			o.lines = o.lines[:0]
			r.elements("lineItems", func(int) { d.lineItem(appendReused(&o.lines, clearLine)) })
		case "pricingSummary":
			d.pricingSummary()
		case "paymentSummary":
			r.members("paymentSummary", func(key []byte) {
				if string(key) == "refunds" {
					d.refunds(&o.refunds, "refunds")
				} else {
					r.skip() // payments, totalDueSeller: the seller's payout, not the order
				}
			})
		default:
			r.skip()
		}
	})
}

func (d *ebayDecoder) buyer() {
	r, o := d.r, &d.o
	r.members("buyer", func(key []byte) {
		switch string(key) {
		case "username":
			o.username = r.str("username")
		case "taxAddress":
			d.address(&o.taxAddress, "taxAddress")
		case "taxIdentifier":
			r.members("taxIdentifier", func(key []byte) {
				switch string(key) {
				case "taxpayerId":
					o.taxpayerID = r.str("taxpayerId")
				case "taxIdentifierType":
					o.taxIDType = r.str("taxIdentifierType")
				default:
					r.skip()
				}
			})
		case "buyerRegistrationAddress":
			d.contact(&o.registration, "buyerRegistrationAddress")
		default:
			r.skip()
		}
	})
}

// instructions reads fulfillmentStartInstructions. eBay returns one element today
// (sel:Order); only the first is read, the rest are counted and skipped.
func (d *ebayDecoder) instructions() {
	r, o := d.r, &d.o
	r.elements("fulfillmentStartInstructions", func(i int) {
		o.instructions++
		if i > 0 {
			r.skip()
			return
		}
		r.members("", func(key []byte) {
			switch string(key) {
			case "fulfillmentInstructionsType":
				o.instructionType = r.str("fulfillmentInstructionsType")
			case "maxEstimatedDeliveryDate":
				o.maxDelivery = r.str("maxEstimatedDeliveryDate")
			case "shippingStep":
				r.members("shippingStep", func(key []byte) {
					switch string(key) {
					case "shippingServiceCode":
						o.serviceCode = r.str("shippingServiceCode")
					case "shipTo":
						d.contact(&o.shipTo, "shipTo")
					default:
						r.skip()
					}
				})
			default:
				// finalDestinationAddress among them: the Global Shipping
				// Programme's end address, where the seller must not ship.
				r.skip()
			}
		})
	})
}

func (d *ebayDecoder) contact(c *ebayContact, name string) {
	r := d.r
	if r.members(name, func(key []byte) {
		switch string(key) {
		case "fullName":
			c.fullName = r.str("fullName")
		case "companyName":
			c.companyName = r.str("companyName")
		case "email":
			c.email = r.str("email")
		case "contactAddress":
			d.address(&c.address, "contactAddress")
		case "primaryPhone":
			r.members("primaryPhone", func(key []byte) {
				if string(key) == "phoneNumber" {
					c.phone = r.str("phoneNumber")
				} else {
					r.skip()
				}
			})
		default:
			r.skip()
		}
	}) {
		c.present = true
	}
}

func (d *ebayDecoder) address(a *ebayAddress, name string) {
	r := d.r
	if r.members(name, func(key []byte) {
		switch string(key) {
		case "addressLine1":
			a.line1 = r.str("addressLine1")
		case "addressLine2":
			a.line2 = r.str("addressLine2")
		case "city":
			a.city = r.str("city")
		case "stateOrProvince":
			a.state = r.str("stateOrProvince")
		case "postalCode":
			a.postalCode = r.str("postalCode")
		case "countryCode":
			a.countryCode = r.str("countryCode")
		case "county":
			a.county = r.str("county")
		default:
			r.skip()
		}
	}) {
		a.present = true
	}
}

func (d *ebayDecoder) amount(a *ebayAmount, name string) {
	r := d.r
	if r.members(name, func(key []byte) {
		switch string(key) {
		case "value":
			a.value = r.str("value")
		case "currency":
			a.currency = r.str("currency")
		case "convertedFromValue":
			a.fromValue = r.str("convertedFromValue")
		case "convertedFromCurrency":
			a.fromCurrency = r.str("convertedFromCurrency")
		default:
			r.skip()
		}
	}) {
		a.present = true
	}
}

func (d *ebayDecoder) lineItem(l *ebayLine) {
	r := d.r
	r.members("", func(key []byte) {
		switch string(key) {
		case "lineItemId":
			l.id = r.str("lineItemId")
		case "legacyItemId":
			l.itemID = r.str("legacyItemId")
		case "sku":
			l.sku = r.str("sku")
		case "title":
			l.title = r.str("title")
		case "quantity":
			l.quantity, l.hasQuantity = r.integer("quantity")
		case "lineItemCost":
			d.amount(&l.cost, "lineItemCost")
		case "deliveryCost":
			r.members("deliveryCost", func(key []byte) {
				switch string(key) {
				case "shippingCost":
					d.amount(&l.shipping, "shippingCost")
				case "discountAmount":
					d.amount(&l.shippingDiscount, "discountAmount")
				default:
					r.skip() // importCharges, shippingIntermediationFee: not the seller's
				}
			})
		case "appliedPromotions":
			d.promotions(l)
		case "taxes":
			d.taxes(&l.taxes, "taxes")
		case "ebayCollectAndRemitTaxes":
			d.taxes(&l.collected, "ebayCollectAndRemitTaxes")
		case "refunds":
			d.refunds(&l.refunds, "refunds")
		case "lineItemFulfillmentStatus":
			l.fulfillmentStatus = r.str("lineItemFulfillmentStatus")
		case "purchaseMarketplaceId":
			l.purchaseMarketplace = r.str("purchaseMarketplaceId")
		case "listingMarketplaceId":
			l.listingMarketplace = r.str("listingMarketplaceId")
		case "lineItemFulfillmentInstructions":
			r.members("lineItemFulfillmentInstructions", func(key []byte) {
				if string(key) == "shipByDate" {
					l.shipBy = r.str("shipByDate")
				} else {
					r.skip()
				}
			})
		case "giftDetails":
			if r.members("giftDetails", func(key []byte) {
				if string(key) == "message" {
					l.giftMessage = r.str("message")
				} else {
					r.skip() // recipientEmail, senderName: not the buyer's to give us
				}
			}) {
				l.gift = true
			}
		default:
			r.skip()
		}
	})
}

func (d *ebayDecoder) promotions(l *ebayLine) {
	r := d.r
	l.promotions = l.promotions[:0]
	r.elements("appliedPromotions", func(int) {
		p := appendReused(&l.promotions, clearPromotion)
		r.members("", func(key []byte) {
			switch string(key) {
			case "promotionId":
				p.id = r.str("promotionId")
			case "discountAmount":
				d.amount(&p.amount, "discountAmount")
			default:
				r.skip()
			}
		})
	})
}

func (d *ebayDecoder) taxes(list *[]ebayTax, name string) {
	r := d.r
	*list = (*list)[:0]
	r.elements(name, func(int) {
		t := appendReused(list, clearTax)
		r.members("", func(key []byte) {
			switch string(key) {
			case "taxType":
				t.taxType = r.str("taxType")
			case "amount":
				d.amount(&t.amount, "amount")
			default:
				r.skip()
			}
		})
	})
}

func (d *ebayDecoder) refunds(list *[]ebayRefund, name string) {
	r := d.r
	*list = (*list)[:0]
	r.elements(name, func(int) {
		f := appendReused(list, clearRefund)
		r.members("", func(key []byte) {
			switch string(key) {
			case "refundId":
				f.id = r.str("refundId")
			case "refundReferenceId":
				f.referenceID = r.str("refundReferenceId")
			case "refundDate":
				f.date = r.str("refundDate")
			case "refundStatus":
				f.status = r.str("refundStatus")
			case "amount":
				d.amount(&f.amount, "amount")
			default:
				r.skip()
			}
		})
	})
}

func (d *ebayDecoder) pricingSummary() {
	r, o := d.r, &d.o
	r.members("pricingSummary", func(key []byte) {
		switch string(key) {
		case "priceSubtotal":
			d.amount(&o.subtotal, "priceSubtotal")
		case "priceDiscount":
			d.amount(&o.priceDiscount, "priceDiscount")
		case "priceDiscountSubtotal":
			d.amount(&o.priceDiscountSubtotal, "priceDiscountSubtotal")
		case "deliveryCost":
			d.amount(&o.delivery, "deliveryCost")
		case "deliveryDiscount":
			d.amount(&o.deliveryDiscount, "deliveryDiscount")
		case "tax":
			d.amount(&o.tax, "tax")
		case "total":
			d.amount(&o.total, "total")
		default:
			r.skip() // adjustment, fee: see testdata/ebay/README.md
		}
	})
}

// ebayMapper checks the decoded fields and builds the canonical order.
type ebayMapper struct {
	o      *ebayOrder
	s      string    // every string value of the payload; spans index it
	cur    string    // the order's currency: pricingSummary.total's
	latest time.Time // the latest instant an event of the order may have
}

func (m *ebayMapper) str(s span) string { return s.in(m.s) }

// Values of the eBay enums that the mapping reads (sel:OrderFulfillmentStatus,
// sel:OrderPaymentStatusEnum, sel:CancelStateEnum, sel:LineItemFulfillmentStatusEnum,
// sel:FulfillmentInstructionsType, sel:RefundStatusEnum, sel:TaxIdentifierTypeEnum).
const (
	ebayNotStarted = "NOT_STARTED"
	ebayInProgress = "IN_PROGRESS"
	ebayFulfilled  = "FULFILLED"

	ebayPaid              = "PAID"
	ebayPending           = "PENDING"
	ebayFailed            = "FAILED"
	ebayPartiallyRefunded = "PARTIALLY_REFUNDED"
	ebayFullyRefunded     = "FULLY_REFUNDED"

	ebayCanceled      = "CANCELED"
	ebayNoneRequested = "NONE_REQUESTED"
	// ebayInProgress is also the cancel state of a request awaiting a decision.

	ebayFulfilledByEbay = "FULFILLED_BY_EBAY"
	ebayVATIN           = "VATIN"

	// ebayCollectAndRemit is the MarketplaceTax model of eBay's collect-and-remit tax.
	ebayCollectAndRemit = "COLLECT_AND_REMIT"
)

// ebayStatus maps eBay's three order states to the canonical status, payment status
// and cancel request. Every combination of known values has a result; an unknown
// value of any is ReasonInvalidValue, a missing one ReasonMissingField.
func ebayStatus(fulfilment, payment, cancel string) (order.Status, order.PaymentStatus, bool, error) {
	switch fulfilment {
	case ebayNotStarted, ebayInProgress, ebayFulfilled:
	case "":
		return "", "", false, fail(ReasonMissingField, "payload.orderFulfillmentStatus", "missing")
	default:
		return "", "", false, failValue(ReasonInvalidValue, "payload.orderFulfillmentStatus", "is not a known order fulfilment status", fulfilment)
	}
	var ps order.PaymentStatus
	switch payment {
	case ebayPaid:
		ps = order.PaymentPaid
	case ebayPending:
		ps = order.PaymentPending
	case ebayFailed:
		ps = order.PaymentFailed
	case ebayPartiallyRefunded:
		ps = order.PaymentPartiallyRefunded
	case ebayFullyRefunded:
		ps = order.PaymentRefunded
	case "":
		return "", "", false, fail(ReasonMissingField, "payload.orderPaymentStatus", "missing")
	default:
		return "", "", false, failValue(ReasonInvalidValue, "payload.orderPaymentStatus", "is not a known order payment status", payment)
	}
	switch cancel {
	case ebayCanceled, ebayInProgress, ebayNoneRequested:
	case "":
		return "", "", false, fail(ReasonMissingField, "payload.cancelStatus.cancelState", "missing")
	default:
		return "", "", false, failValue(ReasonInvalidValue, "payload.cancelStatus.cancelState", "is not a known cancel state", cancel)
	}
	// A cancel state of IN_PROGRESS is a request the seller has not yet decided.
	requested := cancel == ebayInProgress
	var st order.Status
	switch {
	case cancel == ebayCanceled:
		st = order.StatusCancelled
	case payment == ebayFailed:
		st = order.StatusPaymentFailed
	case payment == ebayPending:
		st = order.StatusPending
	case payment == ebayFullyRefunded && fulfilment == ebayNotStarted:
		// Refunded in full before anything shipped: the order will not ship.
		st = order.StatusCancelled
	case fulfilment == ebayNotStarted:
		st = order.StatusUnshipped
	case fulfilment == ebayInProgress:
		st = order.StatusPartiallyShipped
	default:
		st = order.StatusShipped
	}
	return st, ps, requested, nil
}

func (m *ebayMapper) order() (order.Order, error) {
	o := m.o
	out := order.Order{
		Channel:      order.ChannelEbay,
		SourceFormat: order.SourceEbayFulfillmentV1,
		// Empty, not absent: the canonical order always lists these.
		MarketplaceTaxes: []order.MarketplaceTax{},
		Refunds:          []order.Refund{},
		FreeText:         []order.FreeText{},
	}
	var err error
	out.ChannelOrderID = m.str(o.orderID)
	if err = requireString("payload.orderId", out.ChannelOrderID); err != nil {
		return order.Order{}, err
	}
	out.SellerOrderID = m.str(o.salesRecord)
	if out.PurchasedAt, err = eventTime("payload.creationDate", m.str(o.created), m.latest); err != nil {
		return order.Order{}, err
	}
	if out.SourceUpdatedAt, err = eventTime("payload.lastModifiedDate", m.str(o.modified), m.latest); err != nil {
		return order.Order{}, err
	}
	fulfilment, payment, cancel := m.str(o.fulfillmentStatus), m.str(o.paymentStatus), m.str(o.cancelState)
	if out.Status, out.PaymentStatus, out.CancelRequested, err = ebayStatus(fulfilment, payment, cancel); err != nil {
		return order.Order{}, err
	}
	out.SourceStatus = fulfilment + "/" + payment + "/" + cancel
	if note := m.str(o.checkoutNotes); note != "" {
		out.FreeText = append(out.FreeText, order.FreeText{Kind: order.FreeTextCheckoutNote, Text: note})
	}

	if err = m.currency(); err != nil {
		return order.Order{}, err
	}
	if err = m.totals(&out); err != nil {
		return order.Order{}, err
	}
	if err = m.lines(&out); err != nil {
		return order.Order{}, err
	}
	if err = m.refunds(&out); err != nil {
		return order.Order{}, err
	}
	m.fulfilment(&out)
	if out.LatestDeliveryAt, err = optionalTime("payload.fulfillmentStartInstructions[0].maxEstimatedDeliveryDate", m.str(o.maxDelivery)); err != nil {
		return order.Order{}, err
	}
	m.buyer(&out)
	return withValidIDs(out, ebayIDs)
}

// currency sets the order's currency from pricingSummary.total, which every order has.
func (m *ebayMapper) currency() error {
	t := &m.o.total
	if !t.present {
		return fail(ReasonMissingField, "payload.pricingSummary.total", "missing")
	}
	cur := m.str(t.currency)
	if !isISOCurrency(cur) {
		_, err := money("payload.pricingSummary.total.currency", m.str(t.value), cur)
		if err == nil { // an empty value and currency: money calls that absent
			err = fail(ReasonMissingField, "payload.pricingSummary.total.currency", "missing")
		}
		return err
	}
	m.cur = cur
	return nil
}

// money reads an amount in the order's currency; where names the amount's field, and
// is called only for an error message. An amount that eBay converted out of the order's
// currency (into the seller's payout currency, as paymentSummary amounts are) is read
// from its pre-conversion pair, which is exact; any other currency is ReasonBadAmount.
func (m *ebayMapper) money(a *ebayAmount, where func() string) (order.Money, error) {
	if !a.present {
		return order.Money{}, nil
	}
	value, cur, valueKey, curKey := m.str(a.value), m.str(a.currency), "value", "currency"
	if cur != m.cur && m.str(a.fromCurrency) == m.cur {
		value, cur, valueKey, curKey = m.str(a.fromValue), m.cur, "convertedFromValue", "convertedFromCurrency"
	}
	if value == "" && cur == "" {
		return order.Money{}, nil // an empty object: absent, as money says
	}
	v, err := money("", value, cur)
	if err != nil {
		if value != "" && !isISOCurrency(cur) {
			return order.Money{}, at(err, where()+"."+curKey)
		}
		return order.Money{}, at(err, where()+"."+valueKey)
	}
	if !v.IsZero() && v.Currency != m.cur {
		return order.Money{}, &Error{Reason: ReasonBadAmount, Field: where() + "." + curKey,
			Rule: "differs from the order's currency", Err: order.ErrCurrencyMismatch}
	}
	return v, nil
}

func (m *ebayMapper) totals(out *order.Order) error {
	o := m.o
	var err error
	t := &out.Totals
	if t.Total, err = m.money(&o.total, func() string { return "payload.pricingSummary.total" }); err != nil {
		return err
	}
	if t.Subtotal, err = m.money(&o.subtotal, func() string { return "payload.pricingSummary.priceSubtotal" }); err != nil {
		return err
	}
	// priceDiscount replaced priceDiscountSubtotal; eBay documents both as negative.
	discount := &o.priceDiscount
	discountField := "payload.pricingSummary.priceDiscount"
	if !discount.present {
		discount, discountField = &o.priceDiscountSubtotal, "payload.pricingSummary.priceDiscountSubtotal"
	}
	d, err := m.money(discount, func() string { return discountField })
	if err != nil {
		return err
	}
	t.Discount = magnitude(d)
	delivery, err := m.money(&o.delivery, func() string { return "payload.pricingSummary.deliveryCost" })
	if err != nil {
		return err
	}
	deliveryDiscount, err := m.money(&o.deliveryDiscount, func() string { return "payload.pricingSummary.deliveryDiscount" })
	if err != nil {
		return err
	}
	// deliveryCost is before the delivery discount; the canonical shipping is what the
	// buyer pays for delivery.
	deliveryDiscount.Amount = -magnitude(deliveryDiscount).Amount
	if t.Shipping, err = sum("payload.pricingSummary.deliveryCost", delivery, deliveryDiscount); err != nil {
		return err
	}
	// The collect-and-remit part of tax is taken out when the lines are read.
	t.Tax, err = m.money(&o.tax, func() string { return "payload.pricingSummary.tax" })
	return err
}

func linePath(i int, rest string) string { return fmt.Sprintf("payload.lineItems[%d].%s", i, rest) }

func linePath2(i int, list string, j int, rest string) string {
	return fmt.Sprintf("payload.lineItems[%d].%s[%d].%s", i, list, j, rest)
}

func (m *ebayMapper) lines(out *order.Order) error {
	o := m.o
	if len(o.lines) == 0 {
		return fail(ReasonMissingField, "payload.lineItems", "missing")
	}
	out.Lines = make([]order.Line, len(o.lines))
	var collected order.Money // collect-and-remit tax that the stated tax includes
	var seen map[string]int   // line ids, for orders too long to compare pairwise
	if len(o.lines) > 16 {
		seen = make(map[string]int, len(o.lines))
	}
	for i := range o.lines {
		l, line := &o.lines[i], &out.Lines[i]
		line.LineID = m.str(l.id)
		if line.LineID == "" {
			return fail(ReasonMissingField, linePath(i, "lineItemId"), "missing")
		}
		if j := repeatOf(out.Lines[:i], line.LineID, seen, i); j >= 0 {
			return &Error{Reason: ReasonInvalidValue, Field: linePath(i, "lineItemId"),
				Rule: "repeats the id of an earlier line", Detail: "lineItems[" + strconv.Itoa(j) + "]"}
		}
		if out.Marketplace == "" {
			out.Marketplace = m.str(l.purchaseMarketplace)
			if out.Marketplace == "" {
				out.Marketplace = m.str(l.listingMarketplace)
			}
		}
		line.SKU, line.ItemID, line.Title = m.str(l.sku), m.str(l.itemID), m.str(l.title)
		if !l.hasQuantity {
			return fail(ReasonMissingField, linePath(i, "quantity"), "missing")
		}
		q, err := quantity("", int(l.quantity))
		if err != nil {
			return at(err, linePath(i, "quantity"))
		}
		line.Quantity = q
		switch status := m.str(l.fulfillmentStatus); status {
		case ebayFulfilled:
			// eBay marks a line FULFILLED once any of its units is in a shipment
			// (sel:LineItemFulfillmentStatusEnum): the closest it comes to a count.
			line.QuantityShipped = q
		case ebayNotStarted, ebayInProgress, "":
		default:
			return failValue(ReasonInvalidValue, linePath(i, "lineItemFulfillmentStatus"), "is not a known line fulfilment status", status)
		}
		if line.LineTotal, err = m.money(&l.cost, func() string { return linePath(i, "lineItemCost") }); err != nil {
			return err
		}
		if line.LineTotal.IsZero() {
			return fail(ReasonMissingField, linePath(i, "lineItemCost"), "missing")
		}
		line.UnitPrice = unitPrice(line.LineTotal, q)
		if line.Shipping, err = m.money(&l.shipping, func() string { return linePath(i, "deliveryCost.shippingCost") }); err != nil {
			return err
		}
		// The line's shipping is what the buyer pays for it, as the order's is: net of
		// the line's share of pricingSummary.deliveryDiscount, so that lines add up to
		// the totals.
		shippingDiscount, err := m.money(&l.shippingDiscount, func() string { return linePath(i, "deliveryCost.discountAmount") })
		if err != nil {
			return err
		}
		// addMoney, not a subtraction in place: a line may have a discount and no
		// shipping cost, and the difference needs the discount's currency.
		if line.Shipping, err = addMoney(line.Shipping, negate(magnitude(shippingDiscount))); err != nil {
			return at(err, linePath(i, "deliveryCost.discountAmount"))
		}
		for j := range l.promotions {
			p := &l.promotions[j]
			d, err := m.money(&p.amount, func() string { return linePath2(i, "appliedPromotions", j, "discountAmount") })
			if err != nil {
				return err
			}
			if line.Discount, err = sum("", line.Discount, magnitude(d)); err != nil {
				return at(err, linePath2(i, "appliedPromotions", j, "discountAmount"))
			}
			if id := m.str(p.id); id != "" {
				line.PromotionIDs = append(line.PromotionIDs, id)
			}
		}
		lineCollected, err := m.lineTaxes(i, l, line, out)
		if err != nil {
			return err
		}
		if collected, err = sum("payload.lineItems", collected, lineCollected); err != nil {
			return err
		}
		for j := range l.refunds {
			r, err := m.refund(&l.refunds[j], func() string { return linePath2(i, "refunds", j, "") })
			if err != nil {
				return err
			}
			if r.Amount.IsZero() {
				continue // eBay gives a line refund's amount only once one is due
			}
			r.LineID = line.LineID
			out.Refunds = append(out.Refunds, r)
		}
		if l.gift {
			line.IsGift = true
			if msg := m.str(l.giftMessage); msg != "" {
				out.FreeText = append(out.FreeText, order.FreeText{Kind: order.FreeTextGiftMessage, LineID: line.LineID, Text: msg})
			}
		}
		shipBy, err := optionalTime("", m.str(l.shipBy))
		if err != nil {
			return at(err, linePath(i, "lineItemFulfillmentInstructions.shipByDate"))
		}
		if shipBy != nil && (out.LatestShipAt == nil || shipBy.Before(*out.LatestShipAt)) {
			out.LatestShipAt = shipBy // the earliest line's promise binds the order
		}
	}
	if out.Marketplace == "" {
		return fail(ReasonMissingField, "payload.lineItems[0].purchaseMarketplaceId", "missing")
	}
	// pricingSummary.tax includes the collect-and-remit tax that the lines' taxes
	// mirror; the canonical tax is the seller's alone.
	if !collected.IsZero() && !out.Totals.Tax.IsZero() && out.Totals.Tax.Amount >= collected.Amount {
		out.Totals.Tax.Amount -= collected.Amount
		if out.Totals.Tax.Amount == 0 {
			out.Totals.Tax = order.Money{} // all of it was eBay's
		}
	}
	return nil
}

// repeatOf returns the index of the earlier line with id, or -1; seen, when not nil,
// indexes the earlier lines' ids and gets line i's.
func repeatOf(earlier []order.Line, id string, seen map[string]int, i int) int {
	if seen == nil {
		for j := range earlier {
			if earlier[j].LineID == id {
				return j
			}
		}
		return -1
	}
	if j, ok := seen[id]; ok {
		return j
	}
	seen[id] = i
	return -1
}

// lineTaxes sets the line's seller tax and lists the tax that eBay collects and
// remits, returning the part of the latter that the line's taxes repeat.
//
// eBay lists collect-and-remit tax in ebayCollectAndRemitTaxes, and repeats it in
// taxes (same type and amount) when it is included in the line's and order's totals
// (sel:EbayCollectAndRemitTax, sel:PricingSummary). A taxes entry that repeats one is
// not the seller's tax.
func (m *ebayMapper) lineTaxes(i int, l *ebayLine, line *order.Line, out *order.Order) (order.Money, error) {
	// Room for the taxes of any real line without allocating.
	var taxesBuf [8]order.Money
	var usedBuf [8]bool
	taxes, used := taxesBuf[:0], usedBuf[:0]
	if n := len(l.taxes); n > len(taxesBuf) {
		taxes, used = make([]order.Money, 0, n), make([]bool, 0, n)
	}
	var lineTax, mirrored order.Money
	for j := range l.taxes {
		v, err := m.money(&l.taxes[j].amount, func() string { return linePath2(i, "taxes", j, "amount") })
		if err != nil {
			return order.Money{}, err
		}
		taxes, used = append(taxes, v), append(used, false)
		if lineTax, err = sum("", lineTax, v); err != nil {
			return order.Money{}, at(err, linePath2(i, "taxes", j, "amount"))
		}
	}
	for j := range l.collected {
		c := &l.collected[j]
		v, err := m.money(&c.amount, func() string { return linePath2(i, "ebayCollectAndRemitTaxes", j, "amount") })
		if err != nil {
			return order.Money{}, err
		}
		if v.IsZero() {
			return order.Money{}, fail(ReasonMissingField, linePath2(i, "ebayCollectAndRemitTaxes", j, "amount"), "missing")
		}
		taxType := m.str(c.taxType)
		if taxType == "" {
			return order.Money{}, fail(ReasonMissingField, linePath2(i, "ebayCollectAndRemitTaxes", j, "taxType"), "missing")
		}
		out.MarketplaceTaxes = append(out.MarketplaceTaxes, order.MarketplaceTax{
			LineID: line.LineID, TaxType: taxType, Model: ebayCollectAndRemit, Amount: v,
		})
		for k := range taxes {
			if used[k] || taxes[k] != v {
				continue
			}
			// taxType is in taxes only with fieldGroups=TAX_BREAKDOWN.
			if t := m.str(l.taxes[k].taxType); t != "" && t != taxType {
				continue
			}
			used[k] = true
			mirrored = order.Money{Amount: mirrored.Amount + v.Amount, Currency: v.Currency}
			break
		}
	}
	if !mirrored.IsZero() {
		lineTax.Amount -= mirrored.Amount
		if lineTax.Amount == 0 {
			lineTax = order.Money{} // all of it was eBay's
		}
	}
	line.Tax = lineTax
	return mirrored, nil
}

func (m *ebayMapper) refund(f *ebayRefund, where func() string) (order.Refund, error) {
	var r order.Refund
	var err error
	if r.Amount, err = m.money(&f.amount, func() string { return where() + "amount" }); err != nil {
		return r, err
	}
	// refundId is set for refunds issued through issueRefund; other refunds carry
	// refundReferenceId (sel:OrderRefund).
	r.RefundID = m.str(f.id)
	if r.RefundID == "" {
		r.RefundID = m.str(f.referenceID)
	}
	if r.RefundedAt, err = optionalEventTime("", m.str(f.date), m.latest); err != nil {
		return r, at(err, where()+"refundDate")
	}
	switch s := m.str(f.status); s { // sel:RefundStatusEnum, lower-cased
	case "":
	case "FAILED":
		r.Status = "failed"
	case "PENDING":
		r.Status = "pending"
	case "REFUNDED":
		r.Status = "refunded"
	default:
		return r, failValue(ReasonInvalidValue, where()+"refundStatus", "is not a known refund status", s)
	}
	return r, nil
}

// refunds adds the order-level refunds. eBay lists a refund either on its line or on
// the order, never both (sel:OrderRefund, sel:LineItemRefund); an order-level refund
// with the id of a line's refund is skipped all the same, so that a change on eBay's
// side cannot count one twice.
func (m *ebayMapper) refunds(out *order.Order) error {
	lineRefunds := len(out.Refunds)
	for j := range m.o.refunds {
		r, err := m.refund(&m.o.refunds[j], func() string { return fmt.Sprintf("payload.paymentSummary.refunds[%d].", j) })
		if err != nil {
			return err
		}
		if r.Amount.IsZero() {
			return fail(ReasonMissingField, fmt.Sprintf("payload.paymentSummary.refunds[%d].amount", j), "missing")
		}
		dup := false
		for _, lr := range out.Refunds[:lineRefunds] {
			dup = dup || r.RefundID != "" && lr.RefundID == r.RefundID
		}
		if !dup {
			out.Refunds = append(out.Refunds, r)
		}
	}
	return nil
}

func (m *ebayMapper) fulfilment(out *order.Order) {
	o := m.o
	out.ShipServiceLevel = m.str(o.serviceCode)
	if m.str(o.instructionType) == ebayFulfilledByEbay {
		// eBay ships from its own stock and gives the seller no address.
		out.Fulfilment = order.FulfilmentMarketplace
		return
	}
	out.Fulfilment = order.FulfilmentMerchant
	// shipTo is the label address: for the Global Shipping Programme it is eBay's
	// hub, and finalDestinationAddress (not read) the buyer's, where the seller must
	// not ship.
	if a := m.address(&o.shipTo); a != nil {
		out.ShippingAddress = a
	}
}

// address maps an ExtendedContact; nil when it holds nothing.
func (m *ebayMapper) address(c *ebayContact) *order.Address {
	if !c.present {
		return nil
	}
	a := order.Address{
		Name:          m.str(c.fullName),
		CompanyName:   m.str(c.companyName),
		Line1:         m.str(c.address.line1),
		Line2:         m.str(c.address.line2),
		City:          m.str(c.address.city),
		County:        m.str(c.address.county),
		StateOrRegion: m.str(c.address.state),
		PostalCode:    m.str(c.address.postalCode),
		CountryCode:   m.str(c.address.countryCode),
		Phone:         m.str(c.phone),
		Email:         ebayEmail(m.str(c.email)),
	}
	if a == (order.Address{}) {
		return nil
	}
	return &a
}

// ebayEmail drops what eBay puts in an email field once it stops giving the address
// (after 14 days: "Invalid Request", sel:ExtendedContact).
func ebayEmail(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			return s
		}
	}
	return ""
}

func (m *ebayMapper) buyer(out *order.Order) {
	o := m.o
	b := &out.Buyer
	b.Username = m.str(o.username)
	b.TaxID = m.str(o.taxpayerID)
	// A VAT number marks a business; the other identifiers (codice fiscale, DNI, ...)
	// are personal.
	out.IsBusiness = b.TaxID != "" && m.str(o.taxIDType) == ebayVATIN
	if r := &o.registration; r.present {
		b.Name = m.str(r.fullName)
		b.Email = ebayEmail(m.str(r.email))
		b.Phone = m.str(r.phone)
		b.CompanyName = m.str(r.companyName)
	}
	if t := &o.taxAddress; t.present {
		a := order.Address{
			City:          m.str(t.city),
			StateOrRegion: m.str(t.state),
			PostalCode:    m.str(t.postalCode),
			CountryCode:   m.str(t.countryCode),
		}
		if a != (order.Address{}) {
			out.BillingAddress = &a
		}
	}
}
