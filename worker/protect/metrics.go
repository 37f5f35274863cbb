package protect

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

type metrics struct {
	cards    *prometheus.CounterVec
	schemes  *prometheus.CounterVec
	freeText *prometheus.CounterVec
	orders   *prometheus.CounterVec
	duration prometheus.Histogram
}

// newMetrics makes the stage's metrics; cs says which fields are scanned for
// card numbers, whose series exist from the start for each of channels.
//
// The card scheme is a label of its own counter rather than a third label of
// the per-field one: channel x field x scheme would be some 1,400 series kept
// at zero for alerts, where channel x scheme is 18.
func newMetrics(reg prometheus.Registerer, cs *cardScan, channels []order.Channel) (*metrics, error) {
	set := metricsreg.NewSet(reg)
	m := &metrics{
		cards: set.CounterVec("orderflow_card_numbers_redacted_total",
			"Card numbers removed from orders before anything was stored (P3), by channel and the canonical order field they were in.",
			"channel", "field"),
		schemes: set.CounterVec("orderflow_card_numbers_redacted_by_scheme_total",
			"Card numbers removed from orders (P3), by channel and the card scheme whose issuer range they fall in (visa, mastercard, amex, diners, discover, jcb, unionpay, maestro; other for Luhn-valid numbers outside those ranges, which are removed all the same).",
			"channel", "scheme"),
		freeText: set.CounterVec("orderflow_free_text_dropped_total",
			"Buyer free-text entries dropped unread (P4), by channel and kind (gift_message, checkout_note, customisation).",
			"channel", "kind"),
		orders: set.CounterVec("orderflow_orders_protected_total",
			"Orders whose personal data was tokenised, encrypted or dropped, by channel.",
			"channel"),
		duration: set.Histogram("orderflow_protect_batch_duration_seconds",
			"Time to protect one batch of orders, Vault calls included; failed batches are not observed.",
			prometheus.ExponentialBuckets(0.005, 2, 12)),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("protect metrics: %w", err)
	}
	// Every series exists from the start at zero, so that an alert on
	// increase() sees the first card number, not only the second.
	for _, ch := range channels {
		m.orders.WithLabelValues(string(ch))
		for _, kind := range []order.FreeTextKind{order.FreeTextGiftMessage, order.FreeTextCheckoutNote, order.FreeTextCustomisation} {
			m.freeText.WithLabelValues(string(ch), string(kind))
		}
		for _, field := range cs.scanned {
			m.cards.WithLabelValues(string(ch), field)
		}
		for _, s := range cardnumber.Schemes() {
			m.schemes.WithLabelValues(string(ch), s.String())
		}
	}
	return m, nil
}

// add records a successful batch's tally.
func (m *metrics) add(t *tally) {
	for k, n := range t.cards {
		m.cards.WithLabelValues(k.channel, k.field).Add(float64(n))
	}
	for k, n := range t.schemes {
		m.schemes.WithLabelValues(k.channel, k.scheme.String()).Add(float64(n))
	}
	for k, n := range t.freeText {
		m.freeText.WithLabelValues(k.channel, k.kind).Add(float64(n))
	}
}
