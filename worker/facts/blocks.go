package facts

import (
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	schema "github.com/orderflow/orderflow/schemas/clickhouse"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// table is one of the four tables the writer fills.
type table int

const (
	orderFacts table = iota
	orderLineFacts
	deliveryLabels
	financialRecords
	numTables
)

var tableNames = [numTables]string{schema.TableOrderFacts, schema.TableOrderLineFacts, schema.TableDeliveryLabels, schema.TableFinancialRecords}

func (t table) String() string { return tableNames[t] }

// restricted reports whether t lives in the restricted database.
func (t table) restricted() bool {
	db, _ := schema.DatabaseOf(tableNames[t])
	return db == schema.Restricted
}

// A block is one table's rows as columns, ready to append to a driver batch:
// each column's data is a pointer to one of the typed slices of the table's
// *Cols struct, whose columns method pairs the slices with the column names,
// so that the names in the INSERT and the data appended cannot drift apart.
type block struct {
	table table
	rows  int
	cols  []column
	// parts is each row's partition, computed in UTC (see maxPartitionsPerInsert).
	parts []int64
}

type column struct {
	name string
	data any // *[]string, *[]uint8, *[]uint16, *[]uint32, *[]uint64, *[]int64 (DateTime: Unix seconds), *[]*time.Time, *[]decimal.Decimal, *[][]string, *[][]uint32, *[][]decimal.Decimal
}

// columnNames are each table's columns in insert order.
var columnNames = func() (names [numTables][]string) {
	for t := range numTables {
		for _, c := range newCols(t).columns() {
			names[t] = append(names[t], c.name)
		}
	}
	return names
}()

// cols is a table's typed column slices.
type cols interface{ columns() []column }

func newCols(t table) cols {
	switch t {
	case orderFacts:
		return new(factCols)
	case orderLineFacts:
		return new(lineCols)
	case deliveryLabels:
		return new(labelCols)
	default:
		return new(financialCols)
	}
}

// newBlock returns an empty block of t with room for n rows.
func newBlock(t table, n int) (*block, cols) {
	c := newCols(t)
	b := &block{table: t, cols: c.columns(), parts: make([]int64, 0, n)}
	for _, col := range b.cols {
		allocColumn(col.data, n)
	}
	return b, c
}

type factCols struct {
	tenantID, channel, channelOrderID                                               []string
	version                                                                         []uint64
	schemaVersion                                                                   []uint8
	sourceFormat, marketplace, sellerOrderID, status, paymentStatus, sourceStatus   []string
	cancelRequested                                                                 []uint8
	fulfilment                                                                      []string
	isPrime, isBusiness                                                             []uint8
	shipServiceLevel                                                                []string
	purchasedAt, sourceUpdatedAt, receivedAt                                        []int64 // DateTime: Unix seconds
	latestShipAt, latestDeliveryAt                                                  []*time.Time
	buyerName, buyerEmail, buyerPhone, buyerUsername, buyerUserID                   []string
	shipCountry, shipAddressType, shipPostcodeArea, billingCountry, billingPostcode []string
	currency                                                                        []string
	subtotal, tax, shipping, discount, total, marketplaceTax, refunded              []decimal.Decimal
	lineCount                                                                       []uint16
	units                                                                           []uint32
	writtenAt                                                                       []int64
}

func (c *factCols) columns() []column {
	return []column{
		{"tenant_id", &c.tenantID}, {"channel", &c.channel}, {"channel_order_id", &c.channelOrderID},
		{"version", &c.version}, {"schema_version", &c.schemaVersion}, {"source_format", &c.sourceFormat},
		{"marketplace", &c.marketplace}, {"seller_order_id", &c.sellerOrderID}, {"status", &c.status},
		{"payment_status", &c.paymentStatus}, {"source_status", &c.sourceStatus},
		{"cancel_requested", &c.cancelRequested}, {"fulfilment", &c.fulfilment}, {"is_prime", &c.isPrime},
		{"is_business", &c.isBusiness}, {"ship_service_level", &c.shipServiceLevel},
		{"purchased_at", &c.purchasedAt}, {"source_updated_at", &c.sourceUpdatedAt}, {"received_at", &c.receivedAt},
		{"latest_ship_at", &c.latestShipAt}, {"latest_delivery_at", &c.latestDeliveryAt},
		{"buyer_name_token", &c.buyerName}, {"buyer_email_token", &c.buyerEmail}, {"buyer_phone_token", &c.buyerPhone},
		{"buyer_username_token", &c.buyerUsername}, {"buyer_user_id_token", &c.buyerUserID},
		{"ship_country", &c.shipCountry}, {"ship_address_type", &c.shipAddressType},
		{"ship_postcode_area", &c.shipPostcodeArea}, {"billing_country", &c.billingCountry},
		{"billing_postcode_area", &c.billingPostcode}, {"currency", &c.currency},
		{"subtotal", &c.subtotal}, {"tax", &c.tax}, {"shipping", &c.shipping}, {"discount", &c.discount},
		{"total", &c.total}, {"marketplace_tax", &c.marketplaceTax}, {"refunded", &c.refunded},
		{"line_count", &c.lineCount}, {"units", &c.units}, {"written_at", &c.writtenAt},
	}
}

type lineCols struct {
	tenantID, channel, channelOrderID, lineID                               []string
	version                                                                 []uint64
	marketplace                                                             []string
	purchasedAt                                                             []int64
	status, sku, asin, itemID, title                                        []string
	quantity, quantityShipped                                               []uint32
	currency                                                                []string
	unitPrice, lineTotal, tax, shipping, shippingTax, discount, discountTax []decimal.Decimal
	giftWrap, giftWrapTax                                                   []decimal.Decimal
	promotionIDs                                                            [][]string
	isGift, cancelRequested                                                 []uint8
	writtenAt                                                               []int64
}

func (c *lineCols) columns() []column {
	return []column{
		{"tenant_id", &c.tenantID}, {"channel", &c.channel}, {"channel_order_id", &c.channelOrderID},
		{"line_id", &c.lineID}, {"version", &c.version}, {"marketplace", &c.marketplace},
		{"purchased_at", &c.purchasedAt}, {"status", &c.status}, {"sku", &c.sku}, {"asin", &c.asin},
		{"item_id", &c.itemID}, {"title", &c.title}, {"quantity", &c.quantity},
		{"quantity_shipped", &c.quantityShipped}, {"currency", &c.currency}, {"unit_price", &c.unitPrice},
		{"line_total", &c.lineTotal}, {"tax", &c.tax}, {"shipping", &c.shipping},
		{"shipping_tax", &c.shippingTax}, {"discount", &c.discount}, {"discount_tax", &c.discountTax},
		{"gift_wrap", &c.giftWrap}, {"gift_wrap_tax", &c.giftWrapTax}, {"promotion_ids", &c.promotionIDs},
		{"is_gift", &c.isGift}, {"cancel_requested", &c.cancelRequested}, {"written_at", &c.writtenAt},
	}
}

type labelCols struct {
	tenantID, channel, channelOrderID []string
	version                           []uint64
	purchasedAt                       []int64
	shipCountry, shipServiceLevel     []string
	labelCiphertext                   []string
	writtenAt                         []int64
}

func (c *labelCols) columns() []column {
	return []column{
		{"tenant_id", &c.tenantID}, {"channel", &c.channel}, {"channel_order_id", &c.channelOrderID},
		{"version", &c.version}, {"purchased_at", &c.purchasedAt}, {"ship_country", &c.shipCountry},
		{"ship_service_level", &c.shipServiceLevel}, {"label_ciphertext", &c.labelCiphertext},
		{"written_at", &c.writtenAt},
	}
}

type financialCols struct {
	tenantID, channel, channelOrderID                                  []string
	version                                                            []uint64
	jurisdiction, marketplace, sellerOrderID                           []string
	purchasedAt, lastEvent                                             []int64
	status, paymentStatus                                              []string
	isBusiness                                                         []uint8
	currency                                                           []string
	subtotal, tax, shipping, discount, total, marketplaceTax, refunded []decimal.Decimal
	lineIDs, lineSKUs, lineTitles                                      [][]string
	lineQuantities                                                     [][]uint32
	lineUnitPrices, lineTotals, lineTaxes                              [][]decimal.Decimal
	lineShipping, lineShippingTaxes, lineDiscounts, lineDiscountTaxes  [][]decimal.Decimal
	lineGiftWraps, lineGiftWrapTaxes                                   [][]decimal.Decimal
	invoiceParty                                                       []string
	writtenAt                                                          []int64
}

func (c *financialCols) columns() []column {
	return []column{
		{"tenant_id", &c.tenantID}, {"channel", &c.channel}, {"channel_order_id", &c.channelOrderID},
		{"version", &c.version}, {"jurisdiction", &c.jurisdiction}, {"marketplace", &c.marketplace},
		{"seller_order_id", &c.sellerOrderID}, {"purchased_at", &c.purchasedAt},
		{"last_financial_event_at", &c.lastEvent}, {"status", &c.status},
		{"payment_status", &c.paymentStatus}, {"is_business", &c.isBusiness}, {"currency", &c.currency},
		{"subtotal", &c.subtotal}, {"tax", &c.tax}, {"shipping", &c.shipping}, {"discount", &c.discount},
		{"total", &c.total}, {"marketplace_tax", &c.marketplaceTax}, {"refunded", &c.refunded},
		{"line_ids", &c.lineIDs}, {"line_skus", &c.lineSKUs}, {"line_titles", &c.lineTitles},
		{"line_quantities", &c.lineQuantities}, {"line_unit_prices", &c.lineUnitPrices},
		{"line_totals", &c.lineTotals}, {"line_taxes", &c.lineTaxes},
		{"line_shipping", &c.lineShipping}, {"line_shipping_taxes", &c.lineShippingTaxes},
		{"line_discounts", &c.lineDiscounts}, {"line_discount_taxes", &c.lineDiscountTaxes},
		{"line_gift_wraps", &c.lineGiftWraps}, {"line_gift_wrap_taxes", &c.lineGiftWrapTaxes},
		{"invoice_party_ciphertext", &c.invoiceParty}, {"written_at", &c.writtenAt},
	}
}

// batchBlocks is a batch's four blocks.
type batchBlocks struct {
	blocks        [numTables]*block
	labelsSkipped int
}

// zeroDecimal is shared by every zero amount (most discounts, gift wraps and
// shipping taxes): a decimal.Decimal is immutable, and the driver only reads it.
var zeroDecimal = decimal.New(0, -order.AmountScale)

// decimals converts amounts to the Decimal(18, 4) the columns take, exactly,
// remembering recent conversions: a batch repeats its prices and taxes, and a
// decimal.Decimal costs two allocations. A direct-mapped cache, so that its
// cost is bounded whatever the batch.
type decimals struct {
	keys [1 << 12]order.Amount
	vals [1 << 12]decimal.Decimal
}

func (c *decimals) get(a order.Amount) decimal.Decimal {
	if a == 0 {
		return zeroDecimal
	}
	i := uint64(a) * 0x9E3779B97F4A7C15 >> 52 // Fibonacci hashing to 12 bits
	if c.keys[i] == a {
		return c.vals[i]
	}
	d := decimal.New(int64(a), -order.AmountScale)
	c.keys[i], c.vals[i] = a, d
	return d
}

// build maps the orders to the four tables' rows (see the schema files in
// schemas/clickhouse for what each column means). Every amount is converted
// once: order_facts and financial_records share the order's decimals, and
// financial_records' line arrays are views of order_line_facts' columns.
// labelCutoff is the purchase time at or before which labels have expired.
func build(orders []protected.Order, channels *channel.Registry, now, labelCutoff time.Time) (*batchBlocks, error) {
	n, nLines, nLabels := len(orders), 0, 0
	for i := range orders {
		nLines += len(orders[i].Lines)
		if !orders[i].DeliveryLabel.IsZero() {
			nLabels++
		}
	}
	// Every order is checked before any row is built, so that the error
	// names each order no retry can write, not only the first.
	var invalid []error
	for i := range orders {
		if err := validate(&orders[i], channels); err != nil {
			invalid = append(invalid, &invalidOrderError{index: i, rule: err})
		}
	}
	if invalid != nil {
		return nil, errors.Join(invalid...)
	}
	var bs batchBlocks
	written := now.Unix()
	dc := new(decimals)
	fb, fcols := newBlock(orderFacts, n)
	lb, lcols := newBlock(orderLineFacts, nLines)
	bb, bcols := newBlock(deliveryLabels, nLabels)
	rb, rcols := newBlock(financialRecords, n)
	f, l, lab, fin := fcols.(*factCols), lcols.(*lineCols), bcols.(*labelCols), rcols.(*financialCols)
	bs.blocks = [numTables]*block{fb, lb, bb, rb}

	for i := range orders {
		o := &orders[i]
		version := uint64(max(o.SourceUpdatedAt.UnixMilli(), 0))
		month := yearMonth(o.PurchasedAt)
		purchased := o.PurchasedAt.Unix()
		channel, status, payment := string(o.Channel), string(o.Status), string(o.PaymentStatus)
		currency := currencyOf(o)
		subtotal, tax, shipping := dc.get(o.Totals.Subtotal.Amount), dc.get(o.Totals.Tax.Amount), dc.get(o.Totals.Shipping.Amount)
		discount, total := dc.get(o.Totals.Discount.Amount), dc.get(o.Totals.Total.Amount)
		var mtax, refunded order.Amount
		for j := range o.MarketplaceTaxes {
			mtax += o.MarketplaceTaxes[j].Amount.Amount
		}
		for j := range o.Refunds {
			if s := o.Refunds[j].Status; s != "failed" && s != "pending" {
				refunded += o.Refunds[j].Amount.Amount
			}
		}
		marketplaceTax, refundedDec := dc.get(mtax), dc.get(refunded)
		isBusiness := b2u(o.IsBusiness)

		// order_line_facts, and the views of its columns for financial_records.
		first := len(l.lineID)
		units := uint64(0)
		for j := range o.Lines {
			ln := &o.Lines[j]
			units += uint64(max(ln.Quantity, 0))
			l.tenantID = append(l.tenantID, o.TenantID)
			l.channel = append(l.channel, channel)
			l.channelOrderID = append(l.channelOrderID, o.ChannelOrderID)
			l.lineID = append(l.lineID, ln.LineID)
			l.version = append(l.version, version)
			l.marketplace = append(l.marketplace, o.Marketplace)
			l.purchasedAt = append(l.purchasedAt, purchased)
			l.status = append(l.status, status)
			l.sku = append(l.sku, ln.SKU)
			l.asin = append(l.asin, ln.ASIN)
			l.itemID = append(l.itemID, ln.ItemID)
			l.title = append(l.title, ln.Title)
			l.quantity = append(l.quantity, clampU32(ln.Quantity))
			l.quantityShipped = append(l.quantityShipped, clampU32(ln.QuantityShipped))
			l.currency = append(l.currency, currency)
			l.unitPrice = append(l.unitPrice, dc.get(ln.UnitPrice.Amount))
			l.lineTotal = append(l.lineTotal, dc.get(ln.LineTotal.Amount))
			l.tax = append(l.tax, dc.get(ln.Tax.Amount))
			l.shipping = append(l.shipping, dc.get(ln.Shipping.Amount))
			l.shippingTax = append(l.shippingTax, dc.get(ln.ShippingTax.Amount))
			l.discount = append(l.discount, dc.get(ln.Discount.Amount))
			l.discountTax = append(l.discountTax, dc.get(ln.DiscountTax.Amount))
			l.giftWrap = append(l.giftWrap, dc.get(ln.GiftWrap.Amount))
			l.giftWrapTax = append(l.giftWrapTax, dc.get(ln.GiftWrapTax.Amount))
			l.promotionIDs = append(l.promotionIDs, ln.PromotionIDs)
			l.isGift = append(l.isGift, b2u(ln.IsGift))
			l.cancelRequested = append(l.cancelRequested, b2u(ln.CancelRequested))
			l.writtenAt = append(l.writtenAt, written)
			lb.parts = append(lb.parts, month)
		}
		last := len(l.lineID) // the slices never grow past their capacity: views stay valid

		f.tenantID = append(f.tenantID, o.TenantID)
		f.channel = append(f.channel, channel)
		f.channelOrderID = append(f.channelOrderID, o.ChannelOrderID)
		f.version = append(f.version, version)
		f.schemaVersion = append(f.schemaVersion, uint8(o.SchemaVersion))
		f.sourceFormat = append(f.sourceFormat, o.SourceFormat)
		f.marketplace = append(f.marketplace, o.Marketplace)
		f.sellerOrderID = append(f.sellerOrderID, o.SellerOrderID)
		f.status = append(f.status, status)
		f.paymentStatus = append(f.paymentStatus, payment)
		f.sourceStatus = append(f.sourceStatus, o.SourceStatus)
		f.cancelRequested = append(f.cancelRequested, b2u(o.CancelRequested))
		f.fulfilment = append(f.fulfilment, string(o.Fulfilment))
		f.isPrime = append(f.isPrime, b2u(o.IsPrime))
		f.isBusiness = append(f.isBusiness, isBusiness)
		f.shipServiceLevel = append(f.shipServiceLevel, o.ShipServiceLevel)
		f.purchasedAt = append(f.purchasedAt, purchased)
		f.sourceUpdatedAt = append(f.sourceUpdatedAt, o.SourceUpdatedAt.Unix())
		f.receivedAt = append(f.receivedAt, o.ReceivedAt.Unix())
		f.latestShipAt = append(f.latestShipAt, o.LatestShipAt)
		f.latestDeliveryAt = append(f.latestDeliveryAt, o.LatestDeliveryAt)
		f.buyerName = append(f.buyerName, o.Buyer.Name.Value())
		f.buyerEmail = append(f.buyerEmail, o.Buyer.Email.Value())
		f.buyerPhone = append(f.buyerPhone, o.Buyer.Phone.Value())
		f.buyerUsername = append(f.buyerUsername, o.Buyer.Username.Value())
		f.buyerUserID = append(f.buyerUserID, o.Buyer.UserID.Value())
		shipCountry, shipType, billingCountry := "", "", ""
		if a := o.ShippingAddress; a != nil {
			shipCountry, shipType = a.CountryCode, a.AddressType
		}
		if a := o.BillingAddress; a != nil {
			billingCountry = a.CountryCode
		}
		f.shipCountry = append(f.shipCountry, shipCountry)
		f.shipAddressType = append(f.shipAddressType, shipType)
		f.shipPostcodeArea = append(f.shipPostcodeArea, o.ShipPostcodeArea)
		f.billingCountry = append(f.billingCountry, billingCountry)
		f.billingPostcode = append(f.billingPostcode, o.BillingPostcodeArea)
		f.currency = append(f.currency, currency)
		f.subtotal = append(f.subtotal, subtotal)
		f.tax = append(f.tax, tax)
		f.shipping = append(f.shipping, shipping)
		f.discount = append(f.discount, discount)
		f.total = append(f.total, total)
		f.marketplaceTax = append(f.marketplaceTax, marketplaceTax)
		f.refunded = append(f.refunded, refundedDec)
		f.lineCount = append(f.lineCount, uint16(min(len(o.Lines), 1<<16-1)))
		f.units = append(f.units, uint32(min(units, 1<<32-1)))
		f.writtenAt = append(f.writtenAt, written)
		fb.parts = append(fb.parts, month)

		if !o.DeliveryLabel.IsZero() {
			if o.PurchasedAt.After(labelCutoff) {
				lab.tenantID = append(lab.tenantID, o.TenantID)
				lab.channel = append(lab.channel, channel)
				lab.channelOrderID = append(lab.channelOrderID, o.ChannelOrderID)
				lab.version = append(lab.version, version)
				lab.purchasedAt = append(lab.purchasedAt, purchased)
				lab.shipCountry = append(lab.shipCountry, shipCountry)
				lab.shipServiceLevel = append(lab.shipServiceLevel, o.ShipServiceLevel)
				lab.labelCiphertext = append(lab.labelCiphertext, o.DeliveryLabel.Value())
				lab.writtenAt = append(lab.writtenAt, written)
				bb.parts = append(bb.parts, month)
			} else {
				bs.labelsSkipped++
			}
		}

		jurisdiction := channels.Jurisdiction(o.Channel, o.Marketplace)
		fin.tenantID = append(fin.tenantID, o.TenantID)
		fin.channel = append(fin.channel, channel)
		fin.channelOrderID = append(fin.channelOrderID, o.ChannelOrderID)
		fin.version = append(fin.version, version)
		fin.jurisdiction = append(fin.jurisdiction, jurisdiction)
		fin.marketplace = append(fin.marketplace, o.Marketplace)
		fin.sellerOrderID = append(fin.sellerOrderID, o.SellerOrderID)
		fin.purchasedAt = append(fin.purchasedAt, purchased)
		fin.lastEvent = append(fin.lastEvent, lastFinancialEvent(o))
		fin.status = append(fin.status, status)
		fin.paymentStatus = append(fin.paymentStatus, payment)
		fin.isBusiness = append(fin.isBusiness, isBusiness)
		fin.currency = append(fin.currency, currency)
		fin.subtotal = append(fin.subtotal, subtotal)
		fin.tax = append(fin.tax, tax)
		fin.shipping = append(fin.shipping, shipping)
		fin.discount = append(fin.discount, discount)
		fin.total = append(fin.total, total)
		fin.marketplaceTax = append(fin.marketplaceTax, marketplaceTax)
		fin.refunded = append(fin.refunded, refundedDec)
		fin.lineIDs = append(fin.lineIDs, l.lineID[first:last:last])
		fin.lineSKUs = append(fin.lineSKUs, l.sku[first:last:last])
		fin.lineTitles = append(fin.lineTitles, l.title[first:last:last])
		fin.lineQuantities = append(fin.lineQuantities, l.quantity[first:last:last])
		fin.lineUnitPrices = append(fin.lineUnitPrices, l.unitPrice[first:last:last])
		fin.lineTotals = append(fin.lineTotals, l.lineTotal[first:last:last])
		fin.lineTaxes = append(fin.lineTaxes, l.tax[first:last:last])
		fin.lineShipping = append(fin.lineShipping, l.shipping[first:last:last])
		fin.lineShippingTaxes = append(fin.lineShippingTaxes, l.shippingTax[first:last:last])
		fin.lineDiscounts = append(fin.lineDiscounts, l.discount[first:last:last])
		fin.lineDiscountTaxes = append(fin.lineDiscountTaxes, l.discountTax[first:last:last])
		fin.lineGiftWraps = append(fin.lineGiftWraps, l.giftWrap[first:last:last])
		fin.lineGiftWrapTaxes = append(fin.lineGiftWrapTaxes, l.giftWrapTax[first:last:last])
		fin.invoiceParty = append(fin.invoiceParty, o.InvoiceParty.Value())
		fin.writtenAt = append(fin.writtenAt, written)
		rb.parts = append(rb.parts, financialYear(o.PurchasedAt))
	}
	for _, b := range bs.blocks {
		b.rows = len(b.parts)
	}
	return &bs, nil
}

// currencyOf is the order's currency: its total's, else the first among its
// other amounts (the normaliser never mixes currencies in an order).
func currencyOf(o *protected.Order) string {
	if c := o.Totals.Total.Currency; c != "" {
		return c
	}
	for _, m := range [...]order.Money{o.Totals.Subtotal, o.Totals.Tax, o.Totals.Shipping, o.Totals.Discount} {
		if m.Currency != "" {
			return m.Currency
		}
	}
	for i := range o.Lines {
		ln := &o.Lines[i]
		for _, m := range [...]order.Money{ln.UnitPrice, ln.LineTotal, ln.Tax, ln.Shipping, ln.ShippingTax,
			ln.Discount, ln.DiscountTax, ln.GiftWrap, ln.GiftWrapTax} {
			if m.Currency != "" {
				return m.Currency
			}
		}
	}
	for i := range o.MarketplaceTaxes {
		if c := o.MarketplaceTaxes[i].Amount.Currency; c != "" {
			return c
		}
	}
	for i := range o.Refunds {
		if c := o.Refunds[i].Amount.Currency; c != "" {
			return c
		}
	}
	return ""
}

// validate checks the values the tables' Enum8 columns must accept (the driver
// would refuse the whole block, and every retry with it) and the times their
// DateTime columns can hold. Its errors name the field and the rule, never the
// value.
func validate(o *protected.Order, channels *channel.Registry) error {
	if !channels.Has(o.Channel) {
		return errors.New("channel is not a registered channel")
	}
	switch o.Status {
	case order.StatusPending, order.StatusPendingAvailability, order.StatusUnshipped, order.StatusPartiallyShipped,
		order.StatusShipped, order.StatusCancelled, order.StatusUnfulfillable, order.StatusPaymentFailed:
	default:
		return errors.New("status is not a canonical status")
	}
	switch o.PaymentStatus {
	case order.PaymentPending, order.PaymentPaid, order.PaymentFailed, order.PaymentVoided,
		order.PaymentPartiallyRefunded, order.PaymentRefunded:
	default:
		return errors.New("payment status is not a canonical payment status")
	}
	switch o.Fulfilment {
	case order.FulfilmentMerchant, order.FulfilmentMarketplace:
	default:
		return errors.New("fulfilment is not merchant or marketplace")
	}
	return validateTimes(o)
}

// A DateTime holds the seconds from 1970-01-01 00:00:00 UTC to 2106-02-07
// 06:28:15 UTC in a UInt32: an instant outside would wrap (1969 becomes 2105,
// 2150 becomes 2013) and retention would keep or drop its row for the wrong
// decades. The normaliser refuses such times; this is the writer's own guard.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(1<<32-1, 0).UTC()
)

// validateTimes checks that every time the tables store fits a DateTime.
func validateTimes(o *protected.Order) error {
	fits := func(t time.Time) bool { return !t.Before(minDateTime) && !t.After(maxDateTime) }
	for _, f := range []struct {
		name string
		t    *time.Time
	}{
		{"purchased_at", &o.PurchasedAt}, {"source_updated_at", &o.SourceUpdatedAt}, {"received_at", &o.ReceivedAt},
		{"latest_ship_at", o.LatestShipAt}, {"latest_delivery_at", o.LatestDeliveryAt},
	} {
		if f.t != nil && !fits(*f.t) {
			return fmt.Errorf("%s is outside what a ClickHouse DateTime holds (1970 to 2106)", f.name)
		}
	}
	for i := range o.Refunds {
		if t := o.Refunds[i].RefundedAt; t != nil && !fits(*t) {
			return fmt.Errorf("refunds[%d].refunded_at is outside what a ClickHouse DateTime holds (1970 to 2106)", i)
		}
	}
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func clampU32(n int) uint32 { return uint32(min(max(n, 0), 1<<32-1)) }

// yearMonth and financialYear are the tables' partition keys (worker/config's
// TimeKeys: a month, the UK financial year to 31 March) in UTC.
func yearMonth(t time.Time) int64 {
	y, m, _ := t.UTC().Date()
	return int64(y)*100 + int64(m)
}

func financialYear(t time.Time) int64 {
	y, m, _ := t.UTC().Date()
	if m >= time.April {
		y++
	}
	return int64(y)
}

// maxPartitionsPerInsert caps the partitions one block insert touches.
// Current ClickHouse refuses an INSERT block that spans more than
// max_partitions_per_insert_block (default 100) partitions, and a batch that
// is refused every time would stop the pipeline for good: a batch of updates to
// old orders across many years of months can exceed it. The rows' partitions
// are computed in UTC while the server computes them in its own time zone,
// where one UTC month or year can straddle two; 50 UTC partitions are at most
// 100 server partitions.
const maxPartitionsPerInsert = 50

// split returns b itself when its rows span at most limit partitions, else
// blocks of at most limit partitions each (in the order partitions first
// appear, rows kept in batch order within each block, so a key's snapshots stay
// together and in order).
func (b *block) split(limit int) []*block {
	seen := make([]int64, 0, 8)
	last := int64(-1)
	for _, p := range b.parts {
		if p == last {
			continue
		}
		last = p
		found := false
		for _, s := range seen {
			if s == p {
				found = true
				break
			}
		}
		if !found {
			if seen = append(seen, p); len(seen) > limit {
				return b.chunks(limit)
			}
		}
	}
	return []*block{b}
}

func (b *block) chunks(limit int) []*block {
	chunkOf := map[int64]int{}
	var rows [][]int
	for i, p := range b.parts {
		c, ok := chunkOf[p]
		if !ok {
			c = len(chunkOf) / limit
			chunkOf[p] = c
			if c == len(rows) {
				rows = append(rows, nil)
			}
		}
		rows[c] = append(rows[c], i)
	}
	out := make([]*block, len(rows))
	for c, idx := range rows {
		out[c] = b.pick(idx)
	}
	return out
}

// pick returns a block of b's rows at idx, in that order.
func (b *block) pick(idx []int) *block {
	nb, _ := newBlock(b.table, len(idx))
	for k, col := range b.cols {
		gatherColumn(nb.cols[k].data, col.data, idx)
	}
	for _, i := range idx {
		nb.parts = append(nb.parts, b.parts[i])
	}
	nb.rows = len(idx)
	return nb
}

// byShard returns b's rows by the shard that owns each row's order (shardOf
// of its tenant_id and channel_order_id, 0 to n-1): nil for a shard that owns
// none, b itself when n is 1. Rows keep their batch order.
func (b *block) byShard(n int, shardOf func(tenantID, channelOrderID string) int) []*block {
	if n == 1 {
		return []*block{b}
	}
	var tenants, orders []string
	for _, c := range b.cols {
		switch c.name {
		case "tenant_id":
			tenants = *c.data.(*[]string)
		case "channel_order_id":
			orders = *c.data.(*[]string)
		}
	}
	idx := make([][]int, n)
	for i := range b.rows {
		s := shardOf(tenants[i], orders[i])
		idx[s] = append(idx[s], i)
	}
	out := make([]*block, n)
	for s := range idx {
		if len(idx[s]) > 0 {
			out[s] = b.pick(idx[s])
		}
	}
	return out
}

func allocColumn(data any, n int) {
	switch p := data.(type) {
	case *[]string:
		*p = make([]string, 0, n)
	case *[]uint8:
		*p = make([]uint8, 0, n)
	case *[]uint16:
		*p = make([]uint16, 0, n)
	case *[]uint32:
		*p = make([]uint32, 0, n)
	case *[]uint64:
		*p = make([]uint64, 0, n)
	case *[]int64:
		*p = make([]int64, 0, n)
	case *[]*time.Time:
		*p = make([]*time.Time, 0, n)
	case *[]decimal.Decimal:
		*p = make([]decimal.Decimal, 0, n)
	case *[][]string:
		*p = make([][]string, 0, n)
	case *[][]uint32:
		*p = make([][]uint32, 0, n)
	case *[][]decimal.Decimal:
		*p = make([][]decimal.Decimal, 0, n)
	default:
		panic(fmt.Sprintf("facts: column of type %T", data))
	}
}

func gatherColumn(dst, src any, idx []int) {
	switch d := dst.(type) {
	case *[]string:
		gather(d, *src.(*[]string), idx)
	case *[]uint8:
		gather(d, *src.(*[]uint8), idx)
	case *[]uint16:
		gather(d, *src.(*[]uint16), idx)
	case *[]uint32:
		gather(d, *src.(*[]uint32), idx)
	case *[]uint64:
		gather(d, *src.(*[]uint64), idx)
	case *[]int64:
		gather(d, *src.(*[]int64), idx)
	case *[]*time.Time:
		gather(d, *src.(*[]*time.Time), idx)
	case *[]decimal.Decimal:
		gather(d, *src.(*[]decimal.Decimal), idx)
	case *[][]string:
		gather(d, *src.(*[][]string), idx)
	case *[][]uint32:
		gather(d, *src.(*[][]uint32), idx)
	case *[][]decimal.Decimal:
		gather(d, *src.(*[][]decimal.Decimal), idx)
	default:
		panic(fmt.Sprintf("facts: column of type %T", dst))
	}
}

func gather[T any](dst *[]T, src []T, idx []int) {
	for _, i := range idx {
		*dst = append(*dst, src[i])
	}
}

// appendColumn appends a whole column to the batch: one call for a plain
// column (the driver copies strings into its buffer in one go), one per row for
// arrays (the driver's reflection-free path for a []T row; a [][]T column would
// go through reflection).
func appendColumn(bc driver.BatchColumn, data any) error {
	switch p := data.(type) {
	case *[][]string:
		return appendRows(bc, *p)
	case *[][]uint32:
		return appendRows(bc, *p)
	case *[][]decimal.Decimal:
		return appendRows(bc, *p)
	case *[]string:
		return bc.Append(*p)
	case *[]uint8:
		return bc.Append(*p)
	case *[]uint16:
		return bc.Append(*p)
	case *[]uint32:
		return bc.Append(*p)
	case *[]uint64:
		return bc.Append(*p)
	case *[]int64:
		return bc.Append(*p)
	case *[]*time.Time:
		return bc.Append(*p)
	case *[]decimal.Decimal:
		return bc.Append(*p)
	default:
		panic(fmt.Sprintf("facts: column of type %T", data))
	}
}

func appendRows[T any](bc driver.BatchColumn, rows [][]T) error {
	for _, r := range rows {
		if err := bc.AppendRow(r); err != nil {
			return err
		}
	}
	return nil
}
