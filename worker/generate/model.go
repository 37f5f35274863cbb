package generate

import (
	"math/bits"
	"math/rand/v2"

	"github.com/orderflow/orderflow/worker/order"
)

// The order model: what one synthetic order is, across its snapshots. Amounts are
// in minor units (pence, cents); times in Unix milliseconds.

// format is the payload shape of an order.
type format uint8

const (
	fmtAmazonV0 format = iota
	fmtAmazon2026
	fmtEbay
)

func (f format) channel() order.Channel {
	if f == fmtEbay {
		return order.ChannelEbay
	}
	return order.ChannelAmazon
}

func (f format) source() string {
	switch f {
	case fmtAmazonV0:
		return order.SourceAmazonOrdersV0
	case fmtAmazon2026:
		return order.SourceAmazonOrders202601
	}
	return order.SourceEbayFulfillmentV1
}

// state is an order's state in one snapshot, in the channels' common terms.
type state uint8

const (
	stPending          state = iota // Amazon Pending; eBay payment PENDING
	stUnshipped                     // paid, nothing shipped
	stCancelRequested               // unshipped, the buyer asked to cancel
	stPartiallyShipped              // the first line shipped, the rest not
	stShipped
	stCancelled
	stRefundedPartial   // eBay: shipped, then one line refunded
	stRefundedFull      // eBay: shipped, then refunded in full
	stRefundedUnshipped // eBay: refunded in full before shipping, without a cancellation
)

// canonical is the status the normaliser gives a snapshot in state st.
func (st state) canonical() order.Status {
	switch st {
	case stPending:
		return order.StatusPending
	case stUnshipped, stCancelRequested:
		return order.StatusUnshipped
	case stPartiallyShipped:
		return order.StatusPartiallyShipped
	case stShipped, stRefundedPartial, stRefundedFull:
		return order.StatusShipped
	}
	return order.StatusCancelled // stCancelled, stRefundedUnshipped
}

// lifecycle is a sequence of states, one per snapshot, with a weight.
type lifecycle struct {
	weight    int
	states    []state
	multiLine bool // only for orders of two lines or more
}

// Lifecycles of orders with one snapshot, and of orders that get later ones.
var (
	amazonSingle = []lifecycle{
		{60, []state{stUnshipped}, false}, {25, []state{stShipped}, false}, {8, []state{stPending}, false},
		{3, []state{stCancelRequested}, false}, {4, []state{stCancelled}, false},
	}
	amazonUpdated = []lifecycle{
		{50, []state{stUnshipped, stShipped}, false},
		{12, []state{stPending, stUnshipped, stShipped}, false},
		{10, []state{stUnshipped, stPartiallyShipped, stShipped}, true},
		{10, []state{stUnshipped, stCancelled}, false},
		{6, []state{stPending, stCancelled}, false},
		{7, []state{stCancelRequested, stCancelled}, false},
		{5, []state{stUnshipped, stCancelRequested, stCancelled}, false},
	}
	amazonAFNSingle  = []lifecycle{{80, []state{stShipped}, false}, {20, []state{stUnshipped}, false}}
	amazonAFNUpdated = []lifecycle{{60, []state{stUnshipped, stShipped}, false}, {40, []state{stPending, stUnshipped, stShipped}, false}}
	ebaySingle       = []lifecycle{
		{65, []state{stUnshipped}, false}, {25, []state{stShipped}, false}, {4, []state{stPending}, false},
		{3, []state{stCancelRequested}, false}, {3, []state{stCancelled}, false},
	}
	ebayUpdated = []lifecycle{
		{45, []state{stUnshipped, stShipped}, false},
		{5, []state{stPending, stUnshipped, stShipped}, false},
		{10, []state{stUnshipped, stPartiallyShipped, stShipped}, true},
		{10, []state{stUnshipped, stCancelRequested, stCancelled}, false},
		{5, []state{stUnshipped, stCancelled}, false},
		{15, []state{stUnshipped, stShipped, stRefundedPartial}, false},
		{5, []state{stUnshipped, stShipped, stRefundedFull}, false},
		{5, []state{stUnshipped, stRefundedUnshipped}, false},
	}
)

func pickLifecycle(rng *rand.Rand, ls []lifecycle, lines int) []state {
	total := 0
	for _, l := range ls {
		if !l.multiLine || lines > 1 {
			total += l.weight
		}
	}
	r := rng.IntN(total)
	for _, l := range ls {
		if l.multiLine && lines < 2 {
			continue
		}
		if r < l.weight {
			return l.states
		}
		r -= l.weight
	}
	return ls[0].states
}

// tenant is one seller: its catalogue, its repeat buyers and its counters.
type tenant struct {
	id, seller, prefix string
	weight             float64 // cumulative share of orders, for picking
	products           []tenantProduct
	buyers             [4][]*buyer // by market index
	sellerOrderSeq     int64
	salesRecordSeq     int64
}

type tenantProduct struct {
	*product
	sku, asin, itemID string
	priceEUR          int64
}

// address is a postal address; region is a state or region (EU), county a UK county.
type address struct {
	line1, line2, city, county, region, postcode, country string
}

// buyer is one buyer of one tenant: the same name, emails and address every time
// they order (repeat buyers).
type buyer struct {
	name     string
	relay    string // Amazon's anonymised relay address
	email    string // the eBay registration email
	username string // eBay user id
	phone    string // national format, as eBay gives it
	intl     string // international format, as Amazon gives it
	addr     address
	company  string // a business buyer's company, with its VAT number
	vat      string
}

const maxBuyersPerPool = 4096

var marketIndex = map[*marketplace]int{mktUK: 0, mktDE: 1, mktFR: 2, mktIE: 3}

// linePlan is one order line.
type linePlan struct {
	p                  *tenantProduct
	qty                int64
	unit               int64 // unit price, VAT included
	vat                int64 // percent
	ship, shipDiscount int64
	discount           int64 // item promotion discount
	promoItem          int   // index into the channel's promotion list, -1 for none
	promoShip          int
	giftWrap           int64
	giftMessage        string
	giftCard           bool // giftMessage holds a card number
}

func (l *linePlan) itemTotal() int64 { return l.unit * l.qty }

// charged is what the buyer pays for the line: item, shipping and gift wrap, less
// the promotions. UK and EU prices include VAT.
func (l *linePlan) charged() int64 {
	return l.itemTotal() + l.ship + l.giftWrap - l.discount - l.shipDiscount
}

// vatOf returns the VAT inside a VAT-inclusive amount at rate percent, rounded
// half up to the minor unit.
func vatOf(gross, rate int64) int64 {
	if gross <= 0 || rate == 0 {
		return 0
	}
	return (gross*rate*2 + 100 + rate) / (2 * (100 + rate))
}

// orderPlan is one order across its snapshots.
type orderPlan struct {
	seq      uint64 // the generator's order number: ids derive from it
	salt     uint64 // the generator's, for ids
	t        *tenant
	f        format
	m        *marketplace
	b        *buyer
	id       []byte // the channel's order id, in idBuf
	sellerID []byte // Amazon SellerOrderId, eBay salesRecordReference; may be empty
	idBuf    [48]byte
	po       string // a business buyer's purchase order number
	afn      bool   // Amazon-fulfilled (FBA)
	prime    bool
	nextDay  bool
	service  int // index into ukServices / euServices (eBay)
	lines    []linePlan
	note     string // eBay buyerCheckoutNotes
	noteCard bool
	line2    string // the delivery address's second line for this order
	l2Card   bool
	cancel   string // the cancel reason, when a state needs one
	// ioss: Amazon collects and remits the order's VAT itself, as deemed
	// supplier under the EU's Import One-Stop Shop (see iossApplies).
	ioss bool
	// buyerCancel: the buyer asked to cancel (a stCancelRequested state), rather
	// than the seller or Amazon cancelling.
	buyerCancel bool

	purchase int64   // ms
	states   []state // one per snapshot
	times    []int64 // last-update time of each snapshot, ms
	next     int     // the next snapshot to emit
	due      uint64  // the message number at which it is due
}

func (p *orderPlan) total() int64 {
	var t int64
	for i := range p.lines {
		t += p.lines[i].charged()
	}
	return t
}

// refundLine is the line refunded in stRefundedPartial and its amount: the last
// line's goods (after its promotion), or half of them for a one-line order.
func (p *orderPlan) refundLine() (int, int64) {
	i := len(p.lines) - 1
	l := &p.lines[i]
	amount := l.itemTotal() - l.discount
	if len(p.lines) == 1 {
		amount /= 2
	}
	return i, amount
}

func (p *orderPlan) isBusiness() bool { return p.b.company != "" }

// iossLimit is the EU's limit, in euro cents, on the intrinsic value of an
// imported consignment (its goods without VAT, delivery or gift wrap) for the
// Import One-Stop Shop (Directive 2006/112/EC, art. 14a(1)).
const iossLimit = 150_00

// goodsValue is the order's goods without their VAT, before promotions: the
// consignment's intrinsic value, in the order's minor units.
func (p *orderPlan) goodsValue() int64 {
	var v int64
	for i := range p.lines {
		l := &p.lines[i]
		v += l.itemTotal() - vatOf(l.itemTotal(), l.vat)
	}
	return v
}

// iossApplies says whether Amazon is the deemed supplier of the order and
// collects its VAT: every seller here is established in the UK and ships from
// there, so an EU order is an import, and for a consumer's consignment worth at
// most 150 euros the marketplace that facilitated the sale collects the VAT
// under IOSS (art. 14a(1)). Not on amazon.co.uk (a UK seller's domestic sale),
// not for a business buyer (who accounts for the VAT itself), not above the
// limit (the buyer pays import VAT at the border). Decided from what the plan
// already holds, without drawing from the random stream, so that a seed's
// messages are what they were before the generator knew of IOSS, plus the
// fields that say it.
func (p *orderPlan) iossApplies() bool {
	return p.f != fmtEbay && p.m != mktUK && p.m.currency == "EUR" && !p.isBusiness() && p.goodsValue() <= iossLimit
}

// marketplaceTax is the VAT Amazon collects in state st: all of each line's
// (the normaliser records all of it), none once cancelled (nothing is charged).
func (p *orderPlan) marketplaceTax(st state) int64 {
	if !p.ioss || st == stCancelled {
		return 0
	}
	var t int64
	for i := range p.lines {
		t += lineVAT(&p.lines[i])
	}
	return t
}

// hasAddress says whether an Amazon snapshot in state st carries the delivery
// address: Amazon releases it from Unshipped on and withholds it for Pending and
// Canceled orders (ordersV0.json, Order.ShippingAddress).
func hasAmazonAddress(st state) bool { return st != stPending && st != stCancelled }

// ids: each is a bijection of the order number, salted by the seed, so ids are
// unique within a run and look random.

// mulA is odd and not a multiple of 5: a unit modulo every power of ten.
const mulA = 25214903917

// mix returns (a*x + salt) mod m.
func mix(x, a, salt, m uint64) uint64 {
	hi, lo := bits.Mul64(a, x)
	lo, carry := bits.Add64(lo, salt%m, 0)
	hi += carry
	return bits.Rem64(hi%m, lo, m)
}

func appendDigits(b []byte, v uint64, n int) []byte {
	var tmp [20]byte
	for i := n - 1; i >= 0; i-- {
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[:n]...)
}

// safeFirstDigits start Amazon's 14-digit line ids. Marketplace ids are exempt
// from the card scan (the normaliser holds them to their formats), so any digits
// would do; these keep the ids varied.
const safeFirstDigits = "0124789"

func randDigits(rng *rand.Rand, b []byte, n int) []byte {
	for range n {
		b = append(b, byte('0'+rng.IntN(10)))
	}
	return b
}

func randAlnum(rng *rand.Rand, b []byte, n int, alphabet string) []byte {
	for range n {
		b = append(b, alphabet[rng.IntN(len(alphabet))])
	}
	return b
}

// appendFold appends a name as an email address or username spells it: lower
// case ASCII letters only.
func appendFold(b []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			b = append(b, byte(r))
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r+'a'-'A'))
		default:
			b = append(b, fold(r)...)
		}
	}
	return b
}

func fold(r rune) string {
	switch r {
	case 'à', 'á', 'â', 'ä', 'å', 'Á':
		return "a"
	case 'æ':
		return "ae"
	case 'ç':
		return "c"
	case 'è', 'é', 'ê', 'ë', 'É':
		return "e"
	case 'ì', 'í', 'î', 'ï', 'Í':
		return "i"
	case 'ò', 'ó', 'ô', 'ö', 'ø', 'Ó':
		return "o"
	case 'ù', 'ú', 'û', 'ü', 'Ú':
		return "u"
	case 'ŵ':
		return "w"
	case 'ŷ':
		return "y"
	case 'ß':
		return "ss"
	}
	return "" // spaces, apostrophes, hyphens
}
