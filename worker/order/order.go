// Package order defines the canonical order: one shape for every channel's order
// snapshot, with exact money, UTC timestamps and every personal-data field named, so
// that the protect stage can treat each one. Pure: no I/O.
//
// schemas/order/v1.schema.json is the same shape as JSON Schema; a test keeps them
// in step.
package order

import "time"

// SchemaVersion is the version of the canonical order that this package writes.
const SchemaVersion = 1

// Channel is the marketplace an order came from.
type Channel string

const (
	ChannelAmazon Channel = "amazon"
	ChannelEbay   Channel = "ebay"
)

// Status is the order's fulfilment state, one enum for every channel.
type Status string

const (
	// StatusPending: placed, payment not yet authorised (Amazon Pending, eBay
	// payment PENDING). Not safe to ship.
	StatusPending Status = "pending"
	// StatusPendingAvailability: a pre-order waiting for the item's release.
	StatusPendingAvailability Status = "pending_availability"
	// StatusUnshipped: paid, nothing shipped yet.
	StatusUnshipped Status = "unshipped"
	// StatusPartiallyShipped: some items shipped.
	StatusPartiallyShipped Status = "partially_shipped"
	// StatusShipped: everything shipped (Amazon InvoiceUnconfirmed included).
	StatusShipped Status = "shipped"
	// StatusCancelled: cancelled, or refunded in full before anything shipped.
	StatusCancelled Status = "cancelled"
	// StatusUnfulfillable: Amazon-fulfilled order that cannot be fulfilled.
	StatusUnfulfillable Status = "unfulfillable"
	// StatusPaymentFailed: the buyer's payment failed; nothing will ship.
	StatusPaymentFailed Status = "payment_failed"
)

// Statuses lists every Status, for schemas and exhaustive tests.
var Statuses = []Status{
	StatusPending, StatusPendingAvailability, StatusUnshipped, StatusPartiallyShipped,
	StatusShipped, StatusCancelled, StatusUnfulfillable, StatusPaymentFailed,
}

// PaymentStatus is the state of the buyer's payment, refunds included.
type PaymentStatus string

const (
	PaymentPending PaymentStatus = "pending"
	PaymentPaid    PaymentStatus = "paid"
	PaymentFailed  PaymentStatus = "failed"
	// PaymentVoided: cancelled before the buyer was charged (Amazon charges at shipment).
	PaymentVoided            PaymentStatus = "voided"
	PaymentPartiallyRefunded PaymentStatus = "partially_refunded"
	PaymentRefunded          PaymentStatus = "refunded"
)

// PaymentStatuses lists every PaymentStatus.
var PaymentStatuses = []PaymentStatus{PaymentPending, PaymentPaid, PaymentFailed, PaymentVoided, PaymentPartiallyRefunded, PaymentRefunded}

// Fulfilment says who ships the order.
type Fulfilment string

const (
	// FulfilmentMerchant: the seller ships (Amazon MFN, every eBay order the seller posts).
	FulfilmentMerchant Fulfilment = "merchant"
	// FulfilmentMarketplace: the marketplace ships (Amazon FBA/AFN, eBay fulfilment);
	// such orders carry no delivery address for the seller.
	FulfilmentMarketplace Fulfilment = "marketplace"
)

// Source formats: which channel payload shape an order was normalised from.
const (
	SourceAmazonOrdersV0     = "amazon.orders.v0"
	SourceAmazonOrders202601 = "amazon.orders.2026-01-01"
	SourceEbayFulfillmentV1  = "ebay.sell.fulfillment.v1"
)

// Order is one snapshot of one channel order. A later snapshot of the same
// (tenant, channel, channel order id) supersedes an earlier one: SourceUpdatedAt is
// the version.
type Order struct {
	SchemaVersion int `json:"schema_version"`
	// TenantID is the seller the order belongs to.
	TenantID string  `json:"tenant_id"`
	Channel  Channel `json:"channel"`
	// SourceFormat is one of the Source* constants.
	SourceFormat string `json:"source_format"`
	// Marketplace is the channel's marketplace id: Amazon's MarketplaceId
	// (A1F83G8C2ARO7P for amazon.co.uk), eBay's purchaseMarketplaceId (EBAY_GB).
	Marketplace    string `json:"marketplace"`
	ChannelOrderID string `json:"channel_order_id"`
	// SellerOrderID is the seller's own reference: Amazon SellerOrderId or the
	// SELLER_ORDER_ID alias, eBay salesRecordReference.
	SellerOrderID string        `json:"seller_order_id,omitempty"`
	Status        Status        `json:"status"`
	PaymentStatus PaymentStatus `json:"payment_status"`
	// SourceStatus keeps the channel's own status values, for tracing a mapping:
	// "Shipped", "SHIPPED", or eBay's "FULFILLED/PAID/NONE_REQUESTED".
	SourceStatus string `json:"source_status"`
	// CancelRequested: the buyer asked to cancel and the seller has not yet decided.
	CancelRequested bool       `json:"cancel_requested"`
	Fulfilment      Fulfilment `json:"fulfilment"`
	IsPrime         bool       `json:"is_prime"`
	IsBusiness      bool       `json:"is_business"`
	// ShipServiceLevel is the delivery service the buyer chose ("Standard",
	// "NextDay", eBay's shippingServiceCode).
	ShipServiceLevel string `json:"ship_service_level,omitempty"`
	// PurchasedAt, SourceUpdatedAt and ReceivedAt are UTC.
	PurchasedAt time.Time `json:"purchased_at"`
	// SourceUpdatedAt is the channel's last-update time (LastUpdateDate,
	// lastUpdatedTime, lastModifiedDate): the snapshot's version.
	SourceUpdatedAt time.Time `json:"source_updated_at"`
	// ReceivedAt is when the platform fetched the snapshot (the envelope's received_at).
	ReceivedAt time.Time `json:"received_at"`
	// LatestShipAt and LatestDeliveryAt are the channel's promises, when it gives them.
	LatestShipAt     *time.Time `json:"latest_ship_at,omitempty"`
	LatestDeliveryAt *time.Time `json:"latest_delivery_at,omitempty"`

	Buyer Buyer `json:"buyer"`
	// ShippingAddress is absent for marketplace-fulfilled orders and for orders
	// whose status does not release it (Amazon Pending, Canceled).
	ShippingAddress *Address `json:"shipping_address,omitempty"`
	// BillingAddress is the invoice or tax address, when the channel gives one.
	BillingAddress *Address `json:"billing_address,omitempty"`

	Lines  []Line `json:"lines"`
	Totals Totals `json:"totals"`
	// MarketplaceTaxes is tax that the marketplace collected and remits itself
	// (Amazon marketplace facilitator / deemed reseller, eBay collect and remit).
	// It is never the seller's output VAT: accounting must not count it.
	MarketplaceTaxes []MarketplaceTax `json:"marketplace_taxes"`
	Refunds          []Refund         `json:"refunds"`
	// FreeText holds what buyers typed: gift messages, checkout notes,
	// customisation. It may reveal anything, so it is never stored or forwarded.
	FreeText []FreeText `json:"free_text"`
}

// Buyer is who bought. Every field is personal data.
type Buyer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Username is the marketplace account name (eBay username).
	Username string `json:"username,omitempty"`
	// UserID is an immutable marketplace account id, where the channel gives one.
	UserID      string `json:"user_id,omitempty"`
	CompanyName string `json:"company_name,omitempty"`
	// TaxID is a business buyer's tax identifier (VAT number, codice fiscale).
	TaxID string `json:"tax_id,omitempty"`
	// PurchaseOrderNumber is a business buyer's own PO reference.
	PurchaseOrderNumber string `json:"purchase_order_number,omitempty"`
}

// Address is a postal address with its addressee. Every field except CountryCode
// and AddressType is personal data; PostalCode too.
type Address struct {
	Name          string `json:"name,omitempty"`
	CompanyName   string `json:"company_name,omitempty"`
	Line1         string `json:"line1,omitempty"`
	Line2         string `json:"line2,omitempty"`
	Line3         string `json:"line3,omitempty"`
	City          string `json:"city,omitempty"`
	County        string `json:"county,omitempty"`
	StateOrRegion string `json:"state_or_region,omitempty"`
	PostalCode    string `json:"postal_code,omitempty"`
	// CountryCode is ISO 3166-1 alpha-2.
	CountryCode string `json:"country_code,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
	// AddressType is "residential" or "commercial" when known.
	AddressType string `json:"address_type,omitempty"`
}

// Line is one order line. Amounts are totals for the line's whole quantity unless
// named unit.
type Line struct {
	// LineID is the channel's line id: Amazon OrderItemId, eBay lineItemId.
	LineID string `json:"line_id"`
	SKU    string `json:"sku,omitempty"`
	// ASIN is Amazon's product id; ItemID is eBay's listing id (legacyItemId).
	ASIN            string `json:"asin,omitempty"`
	ItemID          string `json:"item_id,omitempty"`
	Title           string `json:"title,omitempty"`
	Quantity        int    `json:"quantity"`
	QuantityShipped int    `json:"quantity_shipped"`
	UnitPrice       Money  `json:"unit_price,omitzero"`
	// LineTotal is unit price x quantity, before discounts, tax and shipping.
	LineTotal   Money `json:"line_total,omitzero"`
	Tax         Money `json:"tax,omitzero"`
	Shipping    Money `json:"shipping,omitzero"`
	ShippingTax Money `json:"shipping_tax,omitzero"`
	// Discount is the promotions' total as a positive amount (item and shipping).
	Discount     Money    `json:"discount,omitzero"`
	DiscountTax  Money    `json:"discount_tax,omitzero"`
	GiftWrap     Money    `json:"gift_wrap,omitzero"`
	GiftWrapTax  Money    `json:"gift_wrap_tax,omitzero"`
	PromotionIDs []string `json:"promotion_ids,omitempty"`
	IsGift       bool     `json:"is_gift"`
	// CancelRequested: the buyer asked to cancel this line.
	CancelRequested bool `json:"cancel_requested,omitempty"`
}

// Totals are the order's amounts, as the channel states them.
type Totals struct {
	Subtotal Money `json:"subtotal,omitzero"`
	Tax      Money `json:"tax,omitzero"`
	Shipping Money `json:"shipping,omitzero"`
	Discount Money `json:"discount,omitzero"`
	Total    Money `json:"total,omitzero"`
}

// MarketplaceTax is tax the marketplace collected and remits.
type MarketplaceTax struct {
	// LineID is the line it applies to; empty for the whole order.
	LineID string `json:"line_id,omitempty"`
	// TaxType is the channel's tax type: "VAT", "GST", "STATE_SALES_TAX".
	TaxType string `json:"tax_type"`
	// Model says why the marketplace collects it: Amazon "MarketplaceFacilitator"
	// or a DeemedResellerCategory ("IOSS", "UOSS"), eBay "COLLECT_AND_REMIT".
	Model  string `json:"model"`
	Amount Money  `json:"amount"`
}

// Refund is money returned to the buyer.
type Refund struct {
	RefundID string `json:"refund_id,omitempty"`
	// LineID is the refunded line; empty for an order-level refund.
	LineID     string     `json:"line_id,omitempty"`
	Amount     Money      `json:"amount"`
	RefundedAt *time.Time `json:"refunded_at,omitempty"`
	// Status is the channel's refund state, lower case ("refunded", "pending", "failed").
	Status string `json:"status,omitempty"`
}

// FreeTextKind says where buyer-typed text came from.
type FreeTextKind string

const (
	FreeTextGiftMessage   FreeTextKind = "gift_message"
	FreeTextCheckoutNote  FreeTextKind = "checkout_note"
	FreeTextCustomisation FreeTextKind = "customisation"
)

// FreeText is text the buyer typed. Never stored or forwarded (promise P4).
type FreeText struct {
	Kind   FreeTextKind `json:"kind"`
	LineID string       `json:"line_id,omitempty"`
	Text   string       `json:"text"`
}
