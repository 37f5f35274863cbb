// Package outbox is the courier outbox: the jobs the pipeline writes to
// connector.courier beside the facts of a batch, and the dispatcher reads.
// A Job holds personal data only as transit ciphertext under its tenant's
// key (Recipient), so the topic is as safe as the DLQ and an offboarding
// shreds it with the tenant's key.
package outbox

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// JobVersion is the version of the Job format a writer writes; a reader
// refuses a higher one.
const JobVersion = 1

// Kind says what a job asks of the courier.
type Kind string

const (
	// KindCreate asks the courier to create the shipment of an order that
	// has become ready to ship: merchant-fulfilled, paid, not cancelled, not
	// yet sent.
	KindCreate Kind = "create"
	// KindCancel asks the courier to cancel the shipment of an order that
	// was cancelled after it may have been sent to the courier. A cancel for
	// an order the courier does not have is done.
	KindCancel Kind = "cancel"
)

// Job is one piece of courier work, as JSON on connector.courier under the
// key Key() ("<tenant>/<channel>/<order id>"), so that one order's jobs stay
// in order on one partition.
type Job struct {
	Version int  `json:"v"`
	Kind    Kind `json:"kind"`
	// IdempotencyKey is IdempotencyKey(tenant, channel, order id, kind,
	// source version): a redelivered job carries the same one.
	IdempotencyKey string        `json:"idempotency_key"`
	TenantID       string        `json:"tenant_id"`
	Channel        order.Channel `json:"channel"`
	Marketplace    string        `json:"marketplace"`
	ChannelOrderID string        `json:"channel_order_id"`
	SellerOrderID  string        `json:"seller_order_id,omitempty"`
	// SourceVersion is the order's last update at the channel, in Unix
	// milliseconds: the snapshot the job was made from.
	SourceVersion int64     `json:"source_version"`
	PurchasedAt   time.Time `json:"purchased_at"`
	// ShipServiceLevel is the channel's shipping service ("Standard",
	// "NextDay"): what a connector maps to its own service code.
	ShipServiceLevel string `json:"ship_service_level,omitempty"`
	// DestinationCountry (ISO 3166-1 alpha-2) and AddressType are the
	// non-personal parts of the shipping address: whether a customs
	// declaration is needed, and service selection.
	DestinationCountry string `json:"destination_country"`
	AddressType        string `json:"address_type,omitempty"`
	// Currency and the amounts are the order's; a connector sends them only
	// where its allow-list says (a customs declaration, a required total).
	Currency string      `json:"currency"`
	Subtotal order.Money `json:"subtotal"`
	Shipping order.Money `json:"shipping"`
	Total    order.Money `json:"total"`
	Lines    []Line      `json:"lines"`
	// Recipient is the order's delivery label (protected.Order.DeliveryLabel):
	// transit ciphertext under the tenant's key of a protected.Document of
	// the shipping address's fields (shipping_address.name, .line1, ...,
	// .phone, .email). Empty on a cancel job.
	Recipient string `json:"recipient,omitempty"`
	// CreatedAt is when the pipeline wrote the job.
	CreatedAt time.Time `json:"created_at"`
}

// Line is an order line as a courier may need it: product data for a
// customs declaration, never anything of the buyer's.
type Line struct {
	LineID    string      `json:"line_id"`
	SKU       string      `json:"sku,omitempty"`
	Title     string      `json:"title,omitempty"`
	Quantity  int         `json:"quantity"`
	UnitPrice order.Money `json:"unit_price"`
	LineTotal order.Money `json:"line_total"`
}

// Key is the job's Kafka key: one order's jobs share it, and so a partition.
func (j *Job) Key() string {
	return j.TenantID + "/" + string(j.Channel) + "/" + j.ChannelOrderID
}

// IdempotencyKey derives a job's idempotency key from what identifies the
// work: 32 hex characters of SHA-256, so that it carries no order id in the
// clear (an order id field can hold anything) and fits every provider's
// limit.
func IdempotencyKey(tenant string, channel order.Channel, orderID string, kind Kind, sourceVersion int64) string {
	h := sha256.New()
	for _, part := range []string{tenant, string(channel), orderID, string(kind), strconv.FormatInt(sourceVersion, 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
