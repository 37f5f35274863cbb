package protect

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/telemetry"

	"github.com/orderflow/orderflow/worker/order"
)

type metrics struct {
	cards    *prometheus.CounterVec
	freeText *prometheus.CounterVec
	orders   *prometheus.CounterVec
	duration prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		cards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_card_numbers_redacted_total",
			Help: "Card numbers removed from orders before anything was stored (P3), by channel and the canonical order field they were in.",
		}, []string{"channel", "field"}),
		freeText: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_free_text_dropped_total",
			Help: "Buyer free-text entries dropped unread (P4), by channel and kind (gift_message, checkout_note, customisation).",
		}, []string{"channel", "kind"}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orderflow_orders_protected_total",
			Help: "Orders whose personal data was tokenised, encrypted or dropped, by channel.",
		}, []string{"channel"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "orderflow_protect_batch_duration_seconds",
			Help:    "Time to protect one batch of orders, Vault calls included; failed batches are not observed.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	var errs []error
	m.cards = telemetry.Register(reg, m.cards, &errs)
	m.freeText = telemetry.Register(reg, m.freeText, &errs)
	m.orders = telemetry.Register(reg, m.orders, &errs)
	m.duration = telemetry.Register(reg, m.duration, &errs)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("protect metrics: %w", err)
	}
	// Every series exists from the start at zero, so that an alert on
	// increase() sees the first card number, not only the second.
	for _, ch := range []order.Channel{order.ChannelAmazon, order.ChannelEbay} {
		m.orders.WithLabelValues(string(ch))
		for _, kind := range []order.FreeTextKind{order.FreeTextGiftMessage, order.FreeTextCheckoutNote, order.FreeTextCustomisation} {
			m.freeText.WithLabelValues(string(ch), string(kind))
		}
		for _, field := range scannedFields {
			m.cards.WithLabelValues(string(ch), field)
		}
	}
	return m, nil
}

// scannedFields are the field label values created at zero: the canonical
// order's free-form strings, where a buyer or seller can type a card number.
// The scrub scans every other string too (tenant id, enums, codes, currencies);
// those hold no free-form text, so their series appear only if one ever counts.
var scannedFields = []string{
	"source_format", "marketplace", "channel_order_id", "seller_order_id", "source_status", "ship_service_level",
	"buyer.name", "buyer.email", "buyer.phone", "buyer.username", "buyer.user_id",
	"buyer.company_name", "buyer.tax_id", "buyer.purchase_order_number",
	"shipping_address.name", "shipping_address.company_name", "shipping_address.line1",
	"shipping_address.line2", "shipping_address.line3", "shipping_address.city",
	"shipping_address.county", "shipping_address.state_or_region", "shipping_address.postal_code",
	"shipping_address.phone", "shipping_address.email",
	"billing_address.name", "billing_address.company_name", "billing_address.line1",
	"billing_address.line2", "billing_address.line3", "billing_address.city",
	"billing_address.county", "billing_address.state_or_region", "billing_address.postal_code",
	"billing_address.phone", "billing_address.email",
	"lines.line_id", "lines.sku", "lines.asin", "lines.item_id", "lines.title", "lines.promotion_ids",
	"marketplace_taxes.line_id", "marketplace_taxes.tax_type", "marketplace_taxes.model",
	"refunds.refund_id", "refunds.line_id", "refunds.status",
	"free_text.line_id", "free_text.text",
}

// add records a successful batch's tally.
func (m *metrics) add(t *tally) {
	for k, n := range t.cards {
		m.cards.WithLabelValues(k.channel, k.field).Add(float64(n))
	}
	for k, n := range t.freeText {
		m.freeText.WithLabelValues(k.channel, k.kind).Add(float64(n))
	}
}
