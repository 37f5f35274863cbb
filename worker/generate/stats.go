package generate

import (
	"maps"

	"github.com/orderflow/orderflow/worker/order"
)

// Stats is an exact tally of a stream of messages: what a worker that reads it
// whole should write. Maps are keyed by tenant id, channel ("amazon", "ebay"),
// dead-letter reason, card field or currency code, and hold only keys seen.
type Stats struct {
	// Messages counts every message.
	Messages int64 `json:"messages"`
	// Snapshots counts the good messages: order snapshots that normalise; Updates
	// those of them that supersede an earlier snapshot of their order.
	Snapshots int64 `json:"snapshots"`
	Updates   int64 `json:"updates"`
	// Orders counts distinct orders (message keys) among the good messages.
	Orders int64 `json:"orders"`
	// Malformed counts the messages the worker must dead-letter, and
	// MalformedByReason by the reason it must give.
	Malformed         int64            `json:"malformed"`
	MalformedByReason map[string]int64 `json:"malformed_by_reason"`
	// CardNumbers counts the card numbers planted in good messages, each time a
	// message carries one (a later snapshot repeats its order's): what the protect
	// stage must remove. CardNumbersByField splits them by field.
	CardNumbers        int64            `json:"card_numbers"`
	CardNumbersByField map[string]int64 `json:"card_numbers_by_field"`
	// Formats counts good messages by source format (order.SourceAmazonOrdersV0, ...).
	Formats map[string]int64 `json:"formats"`
	// Channels counts by input topic; Tenants by tenant, then input topic.
	Channels map[string]Counts            `json:"channels"`
	Tenants  map[string]map[string]Counts `json:"tenants"`
	// Statuses counts orders by the canonical status of their latest snapshot.
	Statuses map[string]int64 `json:"statuses"`
	// Currencies sums the orders' latest snapshots by currency.
	Currencies map[string]CurrencyTotals `json:"currencies"`
}

// Counts are the messages of one topic, or of one tenant on one topic.
type Counts struct {
	// Messages counts every message on the topic, malformed ones included.
	Messages int64 `json:"messages"`
	// Snapshots counts the good messages; Orders the distinct orders among them.
	Snapshots int64 `json:"snapshots"`
	Orders    int64 `json:"orders"`
	// Malformed counts the messages the worker must dead-letter.
	Malformed int64 `json:"malformed"`
}

// CurrencyTotals sums the latest snapshot of every order in one currency.
type CurrencyTotals struct {
	Orders int64 `json:"orders"`
	// Total is the sum of the canonical orders' totals.total (an Amazon order
	// cancelled before it was charged states none: it counts as zero).
	Total order.Amount `json:"total"`
	// Refunded is the sum of their canonical refunds.
	Refunded order.Amount `json:"refunded"`
	// MarketplaceTax is the tax the marketplace collected and remits itself
	// (Amazon's IOSS VAT: the canonical marketplace_taxes), never the seller's
	// output tax; MarketplaceTaxOrders counts the orders carrying any.
	MarketplaceTax       order.Amount `json:"marketplace_tax"`
	MarketplaceTaxOrders int64        `json:"marketplace_tax_orders"`
}

// Tally accumulates Stats from messages' Meta, in any order: an order's latest
// snapshot is the one with the latest Version, wherever it came in the stream.
// Each message must be added once. The zero Tally is not ready: use NewTally. It
// is not safe for concurrent use.
type Tally struct {
	s Stats
	// open holds the latest snapshot so far of each order with more snapshots
	// still to come; an order is counted into s once all have been added.
	open map[uint64]latest
}

type latest struct {
	version                         int64
	status                          order.Status
	currency                        string
	total, refunded, marketplaceTax order.Amount
	seen                            int // snapshots added
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	t := &Tally{}
	t.init()
	return t
}

func (t *Tally) init() {
	t.s = newStats()
	t.open = map[uint64]latest{}
}

// newStats returns empty Stats with every map made, so that a report of
// nothing shows {} rather than null.
func newStats() Stats {
	return Stats{
		MalformedByReason:  map[string]int64{},
		CardNumbersByField: map[string]int64{},
		Formats:            map[string]int64{},
		Channels:           map[string]Counts{},
		Tenants:            map[string]map[string]Counts{},
		Statuses:           map[string]int64{},
		Currencies:         map[string]CurrencyTotals{},
	}
}

// Add counts one message.
func (t *Tally) Add(m Meta) {
	s := &t.s
	topic := string(m.Topic)
	s.Messages++
	c := s.Channels[topic]
	byTopic := s.Tenants[m.Tenant]
	if byTopic == nil {
		byTopic = map[string]Counts{}
		s.Tenants[m.Tenant] = byTopic
	}
	tc := byTopic[topic]
	c.Messages++
	tc.Messages++
	defer func() { s.Channels[topic], byTopic[topic] = c, tc }()

	if m.Kind == KindMalformed {
		s.Malformed++
		s.MalformedByReason[m.Reason]++
		c.Malformed++
		tc.Malformed++
		return
	}
	s.Snapshots++
	c.Snapshots++
	tc.Snapshots++
	if m.Snapshot > 0 {
		s.Updates++
	}
	s.Formats[m.Format]++
	for f, n := range m.Cards {
		if n > 0 {
			s.CardNumbers += int64(n)
			s.CardNumbersByField[cardFieldNames[f]] += int64(n)
		}
	}
	l := latest{version: m.Version, status: m.Status, currency: m.Currency, total: m.Total, refunded: m.Refunded,
		marketplaceTax: m.MarketplaceTax, seen: 1}
	prev, seen := t.open[m.OrderSeq]
	if !seen {
		s.Orders++
		c.Orders++
		tc.Orders++
	} else {
		l.seen += prev.seen
		if l.version < prev.version {
			l.version, l.status, l.currency, l.total, l.refunded, l.marketplaceTax =
				prev.version, prev.status, prev.currency, prev.total, prev.refunded, prev.marketplaceTax
		}
	}
	if l.seen >= m.Snapshots {
		count(s, l)
		delete(t.open, m.OrderSeq)
		return
	}
	t.open[m.OrderSeq] = l
}

// count adds an order's latest snapshot to s.
func count(s *Stats, l latest) {
	s.Statuses[string(l.status)]++
	ct := s.Currencies[l.currency]
	ct.Orders++
	ct.Total += l.total
	ct.Refunded += l.refunded
	if l.marketplaceTax != 0 {
		ct.MarketplaceTax += l.marketplaceTax
		ct.MarketplaceTaxOrders++
	}
	s.Currencies[l.currency] = ct
}

// Stats returns the tally so far: a copy, which later Adds do not change.
func (t *Tally) Stats() Stats {
	s := t.s
	s.MalformedByReason = maps.Clone(t.s.MalformedByReason)
	s.CardNumbersByField = maps.Clone(t.s.CardNumbersByField)
	s.Formats = maps.Clone(t.s.Formats)
	s.Channels = maps.Clone(t.s.Channels)
	s.Tenants = make(map[string]map[string]Counts, len(t.s.Tenants))
	for k, v := range t.s.Tenants {
		s.Tenants[k] = maps.Clone(v)
	}
	s.Statuses = maps.Clone(t.s.Statuses)
	s.Currencies = maps.Clone(t.s.Currencies)
	// The orders still open count with their latest snapshot so far.
	for _, l := range t.open {
		count(&s, l)
	}
	return s
}
