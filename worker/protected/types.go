// Package protected holds the protected order: a canonical order whose buyer
// personal data exists only as Vault transit tokens and ciphertexts, which
// print, format, log and marshal as "<redacted>". The protect stage
// (worker/protect) makes them; the writers, the pipeline and the connectors
// read them, importing this package rather than the stage and what it brings
// (Vault, the policy, card scanning). It imports worker/order and the standard
// library only.
package protected

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Order is a canonical order with its personal data protected: what the writers
// and connectors receive. It has no field that can hold a buyer's name, contact
// details or address in plaintext: those exist only as a Token or a Ciphertext,
// which only the protect stage makes. The strings it does hold are the fields
// the policy marks keep (identifiers, statuses, product data), copied after the
// card number scrub, and the coarsened postcode areas.
//
// Its JSON names mirror the canonical order's field paths ("buyer.email",
// "lines.sku", "shipping_address.country_code"), so the policy's paths name its
// fields too. Printed, logged or marshalled, it shows "<redacted>" for every
// token and ciphertext: a dump of it is safe to log.
type Order struct {
	SchemaVersion    int                 `json:"schema_version"`
	TenantID         string              `json:"tenant_id"`
	Channel          order.Channel       `json:"channel"`
	SourceFormat     string              `json:"source_format"`
	Marketplace      string              `json:"marketplace"`
	ChannelOrderID   string              `json:"channel_order_id"`
	SellerOrderID    string              `json:"seller_order_id,omitempty"`
	Status           order.Status        `json:"status"`
	PaymentStatus    order.PaymentStatus `json:"payment_status"`
	SourceStatus     string              `json:"source_status"`
	CancelRequested  bool                `json:"cancel_requested"`
	Fulfilment       order.Fulfilment    `json:"fulfilment"`
	IsPrime          bool                `json:"is_prime"`
	IsBusiness       bool                `json:"is_business"`
	ShipServiceLevel string              `json:"ship_service_level,omitempty"`
	PurchasedAt      time.Time           `json:"purchased_at"`
	SourceUpdatedAt  time.Time           `json:"source_updated_at"`
	ReceivedAt       time.Time           `json:"received_at"`
	LatestShipAt     *time.Time          `json:"latest_ship_at,omitempty"`
	LatestDeliveryAt *time.Time          `json:"latest_delivery_at,omitempty"`

	// Buyer holds the buyer's tokens, for counting and joining buyers.
	Buyer BuyerTokens `json:"buyer"`
	// ShippingAddress and BillingAddress keep what is not personal about the
	// canonical order's addresses; each is nil when the canonical one is.
	ShippingAddress *Address `json:"shipping_address,omitempty"`
	BillingAddress  *Address `json:"billing_address,omitempty"`
	// ShipPostcodeArea and BillingPostcodeArea are the postcodes coarsened to
	// their area ("SW1A 1AA" -> "SW"), or "" when the country has no rule (see
	// protect.PostcodeArea).
	ShipPostcodeArea    string `json:"ship_postcode_area,omitempty"`
	BillingPostcodeArea string `json:"billing_postcode_area,omitempty"`

	// DeliveryLabel is the delivery label's data (retention class label: purged
	// after 21 days), encrypted under the tenant's key: a Document of the
	// fields the policy encrypts with retention label (today the shipping
	// address's). It is set when, and only when, the order has a shipping
	// address (and the policy encrypts anything with retention label).
	DeliveryLabel Ciphertext `json:"delivery_label,omitzero"`
	// InvoiceParty is the invoice party (retention class financial: kept 6
	// years), encrypted under the tenant's key: a Document of the fields the
	// policy encrypts with retention financial (billing address, the business
	// buyer's company, tax id and PO number). It is set when one of them has a
	// value.
	InvoiceParty Ciphertext `json:"invoice_party,omitzero"`

	Lines            []Line           `json:"lines"`
	Totals           Totals           `json:"totals"`
	MarketplaceTaxes []MarketplaceTax `json:"marketplace_taxes"`
	Refunds          []Refund         `json:"refunds"`
	// The canonical order's free text is not here at all: it is dropped (P4).
}

// BuyerTokens are the buyer's identifiers as per-tenant HMAC tokens. A field is
// zero when the canonical order had no value for it or the policy drops it.
type BuyerTokens struct {
	Name     Token `json:"name,omitzero"`
	Email    Token `json:"email,omitzero"`
	Phone    Token `json:"phone,omitzero"`
	Username Token `json:"username,omitzero"`
	UserID   Token `json:"user_id,omitzero"`
}

// Address is what is kept of an address: no line of it, only its kind.
type Address struct {
	// CountryCode is ISO 3166-1 alpha-2.
	CountryCode string `json:"country_code,omitempty"`
	// AddressType is "residential" or "commercial" when known.
	AddressType string `json:"address_type,omitempty"`
}

// Line is an order line as the canonical order has it (order.Line), every field
// of which the policy keeps.
type Line struct {
	LineID          string      `json:"line_id"`
	SKU             string      `json:"sku,omitempty"`
	ASIN            string      `json:"asin,omitempty"`
	ItemID          string      `json:"item_id,omitempty"`
	Title           string      `json:"title,omitempty"`
	Quantity        int         `json:"quantity"`
	QuantityShipped int         `json:"quantity_shipped"`
	UnitPrice       order.Money `json:"unit_price,omitzero"`
	LineTotal       order.Money `json:"line_total,omitzero"`
	Tax             order.Money `json:"tax,omitzero"`
	Shipping        order.Money `json:"shipping,omitzero"`
	ShippingTax     order.Money `json:"shipping_tax,omitzero"`
	Discount        order.Money `json:"discount,omitzero"`
	DiscountTax     order.Money `json:"discount_tax,omitzero"`
	GiftWrap        order.Money `json:"gift_wrap,omitzero"`
	GiftWrapTax     order.Money `json:"gift_wrap_tax,omitzero"`
	PromotionIDs    []string    `json:"promotion_ids,omitempty"`
	IsGift          bool        `json:"is_gift"`
	CancelRequested bool        `json:"cancel_requested,omitempty"`
}

// Totals are the order's amounts (order.Totals).
type Totals struct {
	Subtotal order.Money `json:"subtotal,omitzero"`
	Tax      order.Money `json:"tax,omitzero"`
	Shipping order.Money `json:"shipping,omitzero"`
	Discount order.Money `json:"discount,omitzero"`
	Total    order.Money `json:"total,omitzero"`
}

// MarketplaceTax is tax the marketplace collected and remits (order.MarketplaceTax).
type MarketplaceTax struct {
	LineID  string      `json:"line_id,omitempty"`
	TaxType string      `json:"tax_type"`
	Model   string      `json:"model"`
	Amount  order.Money `json:"amount"`
}

// Refund is money returned to the buyer (order.Refund).
type Refund struct {
	RefundID   string      `json:"refund_id,omitempty"`
	LineID     string      `json:"line_id,omitempty"`
	Amount     order.Money `json:"amount"`
	RefundedAt *time.Time  `json:"refunded_at,omitempty"`
	Status     string      `json:"status,omitempty"`
}

// Token is a per-tenant HMAC token of a buyer identifier, from Vault transit
// ("vault:v1:..."). Only the protect stage makes them (SealTokens); the zero
// Token means "no value".
//
// A token is pseudonymous, not anonymous: within a tenant it links every order
// of one buyer, and whoever may use the tenant's HMAC key can confirm a guess
// ("is this the token of ann@example.com?"). So it is personal data under UK
// GDPR, and it prints, formats, logs and marshals as "<redacted>" ("<none>" when
// zero), like every personal-data type here. The one way to the value is
// Value, which the writers call to store it in the analytics tables: a reader
// of the code can find every place a token leaves this type by that name.
type Token struct{ p sealed }

// Ciphertext is Vault transit ciphertext ("vault:v1:...") of a Document under
// the tenant's encryption key. Only the protect stage makes them
// (SealCiphertexts); the zero Ciphertext means "nothing to encrypt". It prints,
// formats, logs and marshals as "<redacted>" ("<none>" when zero): it is safe
// without the key, but it has no business in logs, and the rule is simpler
// without exceptions. Value returns it for the writers.
type Ciphertext struct{ p sealed }

// sealed holds a Token's or Ciphertext's value behind a pointer to a string,
// so that even where fmt cannot call their methods (a Token inside an
// unexported field of another type, or under a verb fmt calls bad) it prints
// an address, not the value: fmt follows a pointer to a struct, never one to a
// string. A test tries each way.
type sealed = *string

const (
	redacted = "<redacted>"
	none     = "<none>"
)

// Value returns the token ("" when zero), for the writers that store it.
func (t Token) Value() string { return value(t.p) }

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.p == nil }

// Equal reports whether t and u hold the same token (go-cmp uses it).
func (t Token) Equal(u Token) bool { return value(t.p) == value(u.p) }

// The ways a Token is printed, formatted, marshalled and logged, each redacted.

func (t Token) String() string                { return show(t.p) }
func (t Token) GoString() string              { return "protected.Token(" + show(t.p) + ")" }
func (t Token) Format(f fmt.State, verb rune) { format(f, verb, "protected.Token", t.p) }
func (t Token) MarshalText() ([]byte, error)  { return []byte(show(t.p)), nil }
func (t Token) MarshalJSON() ([]byte, error)  { return []byte(`"` + show(t.p) + `"`), nil }
func (t Token) LogValue() slog.Value          { return slog.StringValue(show(t.p)) }

// Value returns the ciphertext ("" when zero), for the writers that store it.
func (c Ciphertext) Value() string { return value(c.p) }

// IsZero reports whether c holds no ciphertext.
func (c Ciphertext) IsZero() bool { return c.p == nil }

// Equal reports whether c and d hold the same ciphertext (go-cmp uses it).
func (c Ciphertext) Equal(d Ciphertext) bool { return value(c.p) == value(d.p) }

// The ways a Ciphertext is printed, formatted, marshalled and logged, each redacted.

func (c Ciphertext) String() string                { return show(c.p) }
func (c Ciphertext) GoString() string              { return "protected.Ciphertext(" + show(c.p) + ")" }
func (c Ciphertext) Format(f fmt.State, verb rune) { format(f, verb, "protected.Ciphertext", c.p) }
func (c Ciphertext) MarshalText() ([]byte, error)  { return []byte(show(c.p)), nil }
func (c Ciphertext) MarshalJSON() ([]byte, error)  { return []byte(`"` + show(c.p) + `"`), nil }
func (c Ciphertext) LogValue() slog.Value          { return slog.StringValue(show(c.p)) }

func value(s sealed) string {
	if s == nil {
		return ""
	}
	return *s
}

func show(s sealed) string {
	if s == nil {
		return none
	}
	return redacted
}

// format answers every verb and flag with the redacted form: %x or %q must not
// be a way round String.
func format(f fmt.State, verb rune, typeName string, s sealed) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, typeName+"("+show(s)+")")
	case verb == 'q':
		_, _ = io.WriteString(f, `"`+show(s)+`"`)
	default:
		_, _ = io.WriteString(f, show(s))
	}
}
