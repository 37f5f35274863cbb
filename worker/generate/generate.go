// Package generate makes synthetic order streams for demos, benchmarks and tests:
// Kafka messages in the envelope of DESIGN.md around Amazon SP-API Orders v0, Amazon
// Orders API v2026-01-01 and eBay Sell Fulfillment payloads shaped as the channels
// send them, with an exact tally of what was generated.
//
// A Generator is deterministic: the same Config gives byte-identical messages. It
// makes new orders of 1-5 lines from each tenant's catalogue for invented UK (and
// some German, French and Irish) buyers, some of whom buy again; later snapshots of
// some of those orders (shipped, cancelled, refunded) that supersede the earlier
// ones; a few malformed messages, each of which the worker must refuse with a known
// reason; and a few card numbers typed into gift messages, checkout notes and
// address lines, which the protect stage must remove. Amazon orders of EU
// consumers worth at most 150 euros carry the VAT that Amazon, as deemed supplier
// under IOSS, collects and remits itself. Every other message
// normalises without error, and the tally (Stats) says what the worker should make
// of the stream: orders per tenant and channel, final totals and marketplace-
// collected tax per currency to the penny, dead letters per reason, card numbers
// removed.
//
// Pure: no I/O. The `orderflow generate` command produces its messages to Kafka.
package generate

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Config configures a Generator. The zero value of each field means its default.
type Config struct {
	// Seed seeds the generator: the same Seed and options give the same messages.
	Seed uint64
	// Tenants is how many sellers the orders belong to: "acme-home",
	// "brightside-books", "cobble-and-twine", ... then "tenant-009" and on.
	// Default 3; at most 999.
	Tenants int
	// Now is the instant the stream is generated as of: orders were placed over
	// the Days before it, and every last-update time is before it. Default: the
	// current time, to the second; set it for byte-identical runs.
	Now time.Time
	// Days is how many days before Now purchase dates spread over. Default 30.
	Days int
	// MalformedRate is the share of messages that the worker must dead-letter:
	// bad JSON, missing fields, amounts with commas, a channel on the wrong topic.
	// Default 0.005; negative for none.
	MalformedRate float64
	// CardInTextRate is the share of orders with a card number typed into a gift
	// message, checkout note or address line. Default 0.005; negative for none.
	CardInTextRate float64
	// UpdateRate is the share of orders that get later snapshots (shipped,
	// cancelled, refunded). Default 0.35; negative for none.
	UpdateRate float64
	// RepeatBuyerRate is the share of orders placed by a buyer who has ordered
	// from the same tenant before. Default 0.25; negative for none.
	RepeatBuyerRate float64
	// MaxUpdateGap bounds how many messages later an order's next snapshot
	// follows. Default 1000.
	MaxUpdateGap int
}

// Defaults of Config's fields.
const (
	DefaultTenants         = 3
	DefaultDays            = 30
	DefaultMalformedRate   = 0.005
	DefaultCardInTextRate  = 0.005
	DefaultUpdateRate      = 0.35
	DefaultRepeatBuyerRate = 0.25
	DefaultMaxUpdateGap    = 1000
	maxTenants             = 999
)

func rateDefault(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// withDefaults fills the defaults in and checks the result.
func (c Config) withDefaults() (Config, error) {
	if c.Tenants == 0 {
		c.Tenants = DefaultTenants
	}
	if c.Now.IsZero() {
		c.Now = time.Now().Truncate(time.Second)
	}
	c.Now = c.Now.UTC()
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.MaxUpdateGap == 0 {
		c.MaxUpdateGap = DefaultMaxUpdateGap
	}
	c.MalformedRate = rateDefault(c.MalformedRate, DefaultMalformedRate)
	c.CardInTextRate = rateDefault(c.CardInTextRate, DefaultCardInTextRate)
	c.UpdateRate = rateDefault(c.UpdateRate, DefaultUpdateRate)
	c.RepeatBuyerRate = rateDefault(c.RepeatBuyerRate, DefaultRepeatBuyerRate)

	var errs []error
	if c.Tenants < 1 || c.Tenants > maxTenants {
		errs = append(errs, fmt.Errorf("tenants: %d is not between 1 and %d", c.Tenants, maxTenants))
	}
	if c.Days < 1 || c.Days > 3650 {
		errs = append(errs, fmt.Errorf("days: %d is not between 1 and 3650", c.Days))
	}
	if c.MaxUpdateGap < 1 {
		errs = append(errs, fmt.Errorf("max update gap: %d is not positive", c.MaxUpdateGap))
	}
	if y := c.Now.Year(); y < 2000 || y > 9000 {
		errs = append(errs, fmt.Errorf("now: year %d is out of range", y))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"malformed rate", c.MalformedRate}, {"card-in-text rate", c.CardInTextRate}, {"update rate", c.UpdateRate}, {"repeat buyer rate", c.RepeatBuyerRate}} {
		if r.v > 1 || r.v != r.v {
			errs = append(errs, fmt.Errorf("%s: %v is not between 0 and 1", r.name, r.v))
		}
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("generate: %w", errors.Join(errs...))
	}
	return c, nil
}

// Kind says what a message is.
type Kind uint8

const (
	// KindOrder is an order's first snapshot.
	KindOrder Kind = iota
	// KindUpdate is a later snapshot of an order, superseding the earlier ones.
	KindUpdate
	// KindMalformed is a message the worker must dead-letter.
	KindMalformed
)

func (k Kind) String() string {
	switch k {
	case KindOrder:
		return "order"
	case KindUpdate:
		return "update"
	}
	return "malformed"
}

// ReasonWrongTopic is the dead-letter reason of a well-formed order of one
// channel sent to the other channel's topic (pipeline.ReasonWrongTopic); the
// normaliser accepts such a message and the pipeline refuses it.
const ReasonWrongTopic = "wrong_topic"

// Meta is what the tally needs to know of a message: everything but its bytes.
type Meta struct {
	// Topic is the input topic the message goes to: amazon for the Amazon order
	// topic, ebay for the eBay one.
	Topic order.Channel
	// Tenant is the tenant the message's key names.
	Tenant string
	Kind   Kind
	// Reason is, for a malformed message, the reason the worker must give its dead
	// letter: a normalize.Reason, or ReasonWrongTopic.
	Reason string
	// Format is the source format of the payload (order.SourceAmazonOrdersV0, ...).
	Format string
	// OrderSeq numbers the message's order within the generator's run; snapshots
	// of one order share it.
	OrderSeq uint64
	// Snapshot is the snapshot's index within its order: 0 for KindOrder.
	Snapshot int
	// Snapshots is how many snapshots the order has in the generator's plan (a
	// run that stops early makes fewer).
	Snapshots int
	// Version is the snapshot's source update time, Unix milliseconds: the
	// canonical order's SourceUpdatedAt.
	Version int64
	// Status is the canonical status the snapshot normalises to.
	Status order.Status
	// Currency is the order's currency; Total its stated total in this snapshot
	// (the canonical totals.total, zero when the snapshot states none, as
	// Amazon's cancelled orders do); Refunded the sum of its canonical refunds.
	Currency string
	Total    order.Amount
	Refunded order.Amount
	// MarketplaceTax is the tax the marketplace collected and remits on the
	// snapshot: the sum of the canonical order's marketplace_taxes.
	MarketplaceTax order.Amount
	// Cards counts the card numbers planted in the snapshot, indexed by CardField:
	// each is in a field that the canonical order keeps, where the protect stage
	// finds it.
	Cards [NumCardFields]uint8
}

// CardCount is the number of card numbers planted in the message.
func (m *Meta) CardCount() int {
	n := 0
	for _, c := range m.Cards {
		n += int(c)
	}
	return n
}

// Message is one generated Kafka message.
type Message struct {
	// Key is "<tenant_id>/<channel order id>"; Value the envelope. They share one
	// allocation, which the message owns.
	Key, Value []byte
	Meta
}

// Generator makes messages. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	tenants []*tenant
	now     int64 // ms
	salt    uint64

	n        uint64 // messages made
	orderSeq uint64
	pending  planHeap
	free     []*orderPlan // plans to reuse
	buf      []byte       // the message being rendered
	scratch  []byte       // a new buyer's strings
	year     string       // Now's year, for reference numbers
	tally    Tally
}

// New returns a Generator for cfg, with its defaults filled in.
func New(cfg Config) (*Generator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:  cfg,
		rng:  rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now:  cfg.Now.UnixMilli(),
		buf:  make([]byte, 0, 16<<10),
		salt: cfg.Seed*0x2545f4914f6cdd1d + 0x5851f42d4c957f2d,
		year: cfg.Now.Format("2006"),
	}
	g.tally.init()
	g.tenants = g.makeTenants(cfg.Tenants)
	return g, nil
}

// Config returns the generator's configuration, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Stats returns the tally of every message made so far.
func (g *Generator) Stats() Stats { return g.tally.Stats() }

// Next makes the next message.
func (g *Generator) Next() Message {
	g.n++
	var m Message
	switch {
	case len(g.pending) > 0 && g.pending[0].due <= g.n:
		p := g.pending.pop()
		m = g.emit(p, fault{})
		g.schedule(p)
	case g.cfg.MalformedRate > 0 && g.rng.Float64() < g.cfg.MalformedRate:
		m = g.malformed()
	default:
		p := g.newOrder(false)
		m = g.emit(p, fault{})
		g.schedule(p)
	}
	g.tally.Add(m.Meta)
	return m
}

// schedule queues the plan's next snapshot, or releases the plan when it has none.
func (g *Generator) schedule(p *orderPlan) {
	if p.next >= len(p.states) {
		g.releasePlan(p)
		return
	}
	p.due = g.n + 1 + uint64(g.rng.IntN(g.cfg.MaxUpdateGap))
	g.pending.push(p)
}

// emit renders the plan's next snapshot, or with a fault, the malformed message.
func (g *Generator) emit(p *orderPlan, f fault) Message {
	k := p.next
	p.next++
	s := snapshot{p: p, k: k, st: p.states[k], at: p.times[k], fault: f}
	b := append(g.buf[:0], p.t.id...)
	b = append(b, '/')
	b = append(b, p.id...)
	keyLen := len(b)
	b = g.renderEnvelope(b, &s)
	g.buf = b

	out := make([]byte, len(b))
	copy(out, b)
	m := Message{Key: out[:keyLen:keyLen], Value: out[keyLen:]}
	m.Topic = p.f.channel()
	m.Tenant = p.t.id
	m.Kind = KindOrder
	if k > 0 {
		m.Kind = KindUpdate
	}
	m.Format = p.f.source()
	m.OrderSeq = p.seq
	m.Snapshot = k
	m.Snapshots = len(p.states)
	m.Version = s.at
	m.Status = s.st.canonical()
	m.Currency = p.m.currency
	m.Total = order.Amount(s.total * 100)
	m.Refunded = order.Amount(s.refunded * 100)
	m.MarketplaceTax = order.Amount(s.marketplaceTax * 100)
	m.Cards = s.cards
	return m
}

// snapshot is one rendering of a plan: what the renderers need and what they
// report back.
type snapshot struct {
	p     *orderPlan
	k     int
	st    state
	at    int64 // last-update time, ms
	fault fault

	// Set by the renderer.
	total, refunded, marketplaceTax int64
	cards                           [NumCardFields]uint8
}

func (g *Generator) renderEnvelope(b []byte, s *snapshot) []byte {
	p := s.p
	f := s.fault
	b = append(b, '{')
	if !f.noTenant {
		b = appendKV(b, "tenant_id", p.t.id)
		b = append(b, ',')
	}
	channel := string(p.f.channel())
	if f.channel != "" {
		channel = f.channel
	}
	b = appendKV(b, "channel", channel)
	if !f.missingComma {
		b = append(b, ',')
	}
	b = append(b, `"received_at":`...)
	b = append(b, '"')
	b = appendTime(b, s.at+receivedDelay(p.seq, s.k), p.f == fmtEbay)
	b = append(b, `","payload":`...)
	switch p.f {
	case fmtAmazonV0:
		b = renderAmazonV0(b, s)
	case fmtAmazon2026:
		b = renderAmazon2026(b, s)
	default:
		b = renderEbay(b, s)
	}
	return append(b, '}')
}

// receivedDelay is how long after a snapshot's update the platform fetched it.
func receivedDelay(seq uint64, k int) int64 {
	return int64(3000 + (seq*7919+uint64(k)*104729)%290000)
}

// planHeap is a min-heap of plans by due message number, then order number: the
// orders whose next snapshot is waiting.
type planHeap []*orderPlan

func (h planHeap) less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}

func (h *planHeap) push(p *orderPlan) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *planHeap) pop() *orderPlan {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, min) {
			min = l
		}
		if r < len(s) && s.less(r, min) {
			min = r
		}
		if min == i {
			break
		}
		s[i], s[min] = s[min], s[i]
		i = min
	}
	*h = s
	return top
}
