package generate

import (
	"strconv"

	"github.com/orderflow/orderflow/worker/cardnumber"
)

// Planning: what each new order is, drawn from the generator's random stream.

func (g *Generator) makeTenants(n int) []*tenant {
	ts := make([]*tenant, n)
	var cum float64
	for i := range ts {
		t := &tenant{sellerOrderSeq: 100000, salesRecordSeq: 10000}
		if i < len(tenantNames) {
			t.id, t.seller, t.prefix = tenantNames[i].id, tenantNames[i].seller, tenantNames[i].prefix
		} else {
			num := strconv.Itoa(1000 + i + 1)[1:] // 009, 010, ...
			// A prefix of letters: digits would join the seller order id's
			// ("T009-2026-100005") into a run long enough to pass for a card.
			t.id, t.seller, t.prefix = "tenant-"+num, "tenant_"+num, "T"+string(rune('A'+i/26%26))+string(rune('A'+i%26))
		}
		// Bigger sellers first: tenant i gets a share proportional to 1/(i+1).
		cum += 1 / float64(i+1)
		t.weight = cum

		main := catalogue[i%len(catalogue)]
		extra := catalogue[(i+3)%len(catalogue)][:2]
		for _, list := range [][]product{main, extra} {
			for j := range list {
				pr := &list[j]
				var asin, item []byte
				asin = append(asin, "B0"...)
				asin = randAlnum(g.rng, asin, 8, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
				item = append(item, byte('1'+g.rng.IntN(2)))
				item = randDigits(g.rng, item, 11)
				t.products = append(t.products, tenantProduct{
					product:  pr,
					sku:      t.prefix + "-" + pr.code,
					asin:     string(asin),
					itemID:   string(item),
					priceEUR: pr.price*117/100/100*100 + 99,
				})
			}
		}
		ts[i] = t
	}
	for _, t := range ts {
		t.weight /= cum
	}
	return ts
}

func (g *Generator) pickTenant() *tenant {
	r := g.rng.Float64()
	for _, t := range g.tenants {
		if r < t.weight {
			return t
		}
	}
	return g.tenants[len(g.tenants)-1]
}

// pick returns an index drawn with the given weights.
func (g *Generator) pick(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	r := g.rng.IntN(total)
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

func (g *Generator) chance(p float64) bool { return p > 0 && g.rng.Float64() < p }

func oneOf[T any](g *Generator, list []T) T { return list[g.rng.IntN(len(list))] }

// newOrder plans a new order. A malformed message's order gets one snapshot,
// unshipped, and no card number.
func (g *Generator) newOrder(malformed bool) *orderPlan {
	rng := g.rng
	g.orderSeq++
	t := g.pickTenant()
	p := g.allocPlan()
	*p = orderPlan{seq: g.orderSeq, t: t, salt: g.salt, lines: p.lines[:0], times: p.times[:0]}
	switch g.pick(45, 15, 40) {
	case 0:
		p.f = fmtAmazonV0
	case 1:
		p.f = fmtAmazon2026
	default:
		p.f = fmtEbay
	}
	switch g.pick(88, 5, 4, 3) {
	case 0:
		p.m = mktUK
	case 1:
		p.m = mktDE
	case 2:
		p.m = mktFR
	default:
		p.m = mktIE
	}
	p.b = g.pickBuyer(t, p.m)
	ids := g.appendOrderID(p.idBuf[:0], p)
	p.id = ids[:len(ids):len(ids)]
	amazon := p.f != fmtEbay
	uk := p.m == mktUK

	if amazon {
		p.afn = uk && g.chance(0.2)
		switch {
		case p.afn:
			p.prime = g.chance(0.6)
		case uk:
			p.prime = g.chance(0.2)
			p.nextDay = p.prime && g.chance(0.6)
		}
		if g.chance(0.5) {
			t.sellerOrderSeq++
			// The year and the number make one run of digits, which could pass
			// for a card number once the number has eight digits.
			for t.sellerOrderSeq >= 1e7 && holdsCard(strconv.AppendInt([]byte(g.year), t.sellerOrderSeq, 10)) {
				t.sellerOrderSeq++
			}
			ids = append(ids, t.prefix...)
			ids = append(ids, '-')
			ids = append(ids, g.year...)
			ids = append(ids, '-')
			ids = strconv.AppendInt(ids, t.sellerOrderSeq, 10)
			p.sellerID = ids[len(p.id):]
		}
	} else {
		t.salesRecordSeq++
		ids = strconv.AppendInt(ids, t.salesRecordSeq, 10)
		p.sellerID = ids[len(p.id):]
		if uk {
			p.service = rng.IntN(len(ukServices))
		} else {
			p.service = rng.IntN(len(euServices))
		}
	}
	if p.isBusiness() && g.chance(0.7) {
		p.po = "PO-" + g.year + "-" + strconv.Itoa(10000+rng.IntN(90000))
	}

	// Lines: distinct products.
	n := 1 + g.pick(60, 25, 10, 3, 2)
	if cap(p.lines) < n {
		p.lines = make([]linePlan, n, 5)
	}
	p.lines = p.lines[:n]
	var used [8]int
	for i := range p.lines {
		var k int
		for again := true; again; {
			k = rng.IntN(len(t.products))
			again = false
			for _, u := range used[:i] {
				again = again || u == k
			}
		}
		used[i] = k
		tp := &t.products[k]
		l := &p.lines[i]
		*l = linePlan{p: tp, promoItem: -1, promoShip: -1}
		if p.isBusiness() {
			l.qty = 1 + int64(rng.IntN(10))
		} else {
			l.qty = 1 + int64(g.pick(72, 18, 6, 3, 1))
		}
		l.unit, l.vat = tp.price, tp.vat
		if !uk {
			l.unit = tp.priceEUR
			if tp.vat != 0 {
				l.vat = p.m.vat
			}
		}
	}

	// Delivery charges.
	first := &p.lines[0]
	switch {
	case amazon && p.afn, amazon && p.prime:
	case amazon && uk:
		first.ship = []int64{0, 299, 349, 399, 499}[rng.IntN(5)]
	case amazon:
		first.ship = []int64{599, 799, 1290}[rng.IntN(3)]
	case uk:
		first.ship = []int64{0, 320, 395, 450, 499, 749}[rng.IntN(6)]
		for i := 1; i < n; i++ {
			if g.chance(0.15) {
				p.lines[i].ship = 250
			}
		}
	default:
		first.ship = []int64{999, 1290}[rng.IntN(2)]
	}

	// Promotions.
	if g.chance(0.12) {
		for i := range p.lines {
			l := &p.lines[i]
			if i > 0 && !g.chance(0.5) {
				continue
			}
			pct := []int64{10, 20}[rng.IntN(2)]
			l.discount = (l.itemTotal()*pct + 50) / 100
			if amazon {
				l.promoItem = 1 + rng.IntN(len(amazonPromotions)-1)
			} else {
				l.promoItem = rng.IntN(len(ebayPromotions))
			}
		}
		if first.ship > 0 && g.chance(0.3) {
			first.shipDiscount = first.ship
			first.promoShip = 0
		}
	}

	// Gifts and notes.
	if amazon && g.chance(0.06) {
		first.giftMessage = oneOf(g, giftMessages)
		if g.chance(0.7) {
			first.giftWrap = 399
			if !uk {
				first.giftWrap = 499
			}
		}
	}
	if !amazon && g.chance(0.05) {
		p.note = oneOf(g, checkoutNotes)
	}
	p.line2 = p.b.addr.line2
	// Not on a malformed message: a truncated one is cut at a length drawn from
	// its own, and the fields would change where a seed's message is cut.
	p.ioss = !malformed && p.iossApplies()

	// A card number typed where it does not belong.
	if !malformed && g.chance(g.cfg.CardInTextRate) {
		card := oneOf(g, cardLeadIns) + g.cardNumber()
		switch {
		case amazon && (p.afn || g.chance(0.6)):
			if first.giftMessage == "" {
				first.giftMessage = oneOf(g, giftMessages)
			}
			first.giftMessage += " " + card
			first.giftCard = true
		case !amazon && g.chance(0.6):
			if p.note == "" {
				p.note = oneOf(g, checkoutNotes)
			}
			p.note += ". " + card
			p.noteCard = true
		default:
			p.line2 = g.cardNumber()
			p.l2Card = true
		}
	}

	// Lifecycle and times.
	updated := !malformed && g.chance(g.cfg.UpdateRate)
	switch {
	case malformed:
		p.states = []state{stUnshipped}
	case amazon && p.afn && updated:
		p.states = pickLifecycle(rng, amazonAFNUpdated, n)
	case amazon && p.afn:
		p.states = pickLifecycle(rng, amazonAFNSingle, n)
	case amazon && updated:
		p.states = pickLifecycle(rng, amazonUpdated, n)
	case amazon:
		p.states = pickLifecycle(rng, amazonSingle, n)
	case updated:
		p.states = pickLifecycle(rng, ebayUpdated, n)
	default:
		p.states = pickLifecycle(rng, ebaySingle, n)
	}
	for _, st := range p.states {
		switch st {
		case stCancelRequested:
			p.buyerCancel = true
			fallthrough
		case stCancelled:
			p.cancel = oneOf(g, cancelReasons)
		}
	}
	const hour = 3600 * 1000
	span := int64(g.cfg.Days)*24*hour - 3*hour
	p.purchase = (g.now - 3*hour - rng.Int64N(span)) / 1000 * 1000
	if cap(p.times) < len(p.states) {
		p.times = make([]int64, len(p.states), 3)
	}
	p.times = p.times[:len(p.states)]
	at := p.purchase
	switch p.states[0] {
	case stPending: // Amazon's Pending snapshot is the order as placed
	case stUnshipped, stCancelRequested: // minutes after checkout
		at += (30 + rng.Int64N(2400)) * 1000
	default: // shipped or cancelled already: hours to two days later
		room := (g.now - at) / 2
		lo, hi := min(2*hour, room/2), min(48*hour, room)
		at += (lo + rng.Int64N(hi-lo+1)) / 1000 * 1000
	}
	p.times[0] = at
	for k := 1; k < len(p.times); k++ {
		room := min((g.now-at)/2, 72*hour)
		at += 1000 + rng.Int64N(room)/1000*1000
		p.times[k] = at
	}
	return p
}

// appendOrderID appends the channel's order id: Amazon's 3-7-7 digits
// ("206-7730194-2285123"), eBay's 2-5-5 ("21-13579-24680").
func (g *Generator) appendOrderID(out []byte, p *orderPlan) []byte {
	if p.f == fmtEbay {
		v := mix(p.seq, mulA, g.salt, 1e12)
		out = appendDigits(out, v/1e10, 2)
		out = append(out, '-')
		out = appendDigits(out, v/1e5%1e5, 5)
		out = append(out, '-')
		return appendDigits(out, v%1e5, 5)
	}
	lead := byte('2')
	if p.m != mktUK {
		lead = '3'
	}
	out = append(out, lead, '0', byte('2'+g.rng.IntN(5)), '-')
	v := mix(p.seq, mulA, g.salt, 1e14)
	out = appendDigits(out, v/1e7, 7)
	out = append(out, '-')
	return appendDigits(out, v%1e7, 7)
}

// allocPlan returns a plan to reuse, or a new one; releasePlan takes back one
// whose last snapshot has been made.
func (g *Generator) allocPlan() *orderPlan {
	if n := len(g.free); n > 0 {
		p := g.free[n-1]
		g.free = g.free[:n-1]
		return p
	}
	return new(orderPlan)
}

func (g *Generator) releasePlan(p *orderPlan) {
	p.b, p.t = nil, nil
	g.free = append(g.free, p)
}

// appendLineID appends line i's id: 14 digits (the format the normaliser
// enforces), unique per order and line.
func appendLineID(b []byte, p *orderPlan, i int) []byte {
	if p.f == fmtEbay {
		b = append(b, '1')
	} else {
		b = append(b, safeFirstDigits[p.seq%uint64(len(safeFirstDigits))])
	}
	b = appendDigits(b, mix(p.seq, mulA, p.salt^0x5bd1e995, 1e11), 11)
	return appendDigits(b, uint64(i+1), 2)
}

// mLineID appends a member whose value is line i's id (see appendLineID).
func mLineID(b []byte, key string, p *orderPlan, i int) []byte {
	b = append(mKey(b, key), '"')
	b = appendLineID(b, p, i)
	return append(b, '"')
}

func (g *Generator) pickBuyer(t *tenant, m *marketplace) *buyer {
	pool := &t.buyers[marketIndex[m]]
	if len(*pool) > 0 && g.chance(g.cfg.RepeatBuyerRate) {
		return (*pool)[g.rng.IntN(len(*pool))]
	}
	b := g.newBuyer(m)
	if len(*pool) < maxBuyersPerPool {
		*pool = append(*pool, b)
	} else {
		(*pool)[g.rng.IntN(len(*pool))] = b
	}
	return b
}

func (g *Generator) newBuyer(m *marketplace) *buyer {
	rng := g.rng
	b := &buyer{}
	a := &b.addr
	// Every string the buyer needs is written into s, made one string, and sliced.
	s := g.scratch[:0]
	var ends [9]int
	var first, last string
	if m.region == nil {
		first, last = oneOf(g, ukFirstNames), oneOf(g, ukSurnames)
		place := &ukPlaces[rng.IntN(len(ukPlaces))]
		street := oneOf(g, ukStreets)
		a.city, a.county, a.country = place.city, place.county, "GB"
		if g.chance(0.85) {
			s = strconv.AppendInt(s, int64(1+rng.IntN(199)), 10)
			s = append(s, ' ')
			s = append(s, street...)
			if g.chance(0.2) {
				a.line2 = oneOf(g, ukLine2)
			}
		} else {
			s = append(s, oneOf(g, ukHouseNames)...)
			a.line2 = street
		}
		ends[0] = len(s) // line1
		s = append(s, oneOf(g, place.outward)...)
		s = append(s, ' ', byte('0'+rng.IntN(10)))
		s = randAlnum(rng, s, 2, "ABDEFGHJLNPQRSTUWXYZ")
		ends[1] = len(s) // postcode
		pattern := place.phone
		if g.chance(0.4) {
			pattern = ukMobile
		}
		// Drawn again until neither form holds a run that passes for a card
		// number: one in ten +44 numbers has a Luhn-valid 12 digits.
		for {
			s = g.appendPattern(s[:ends[1]], pattern)
			ends[2] = len(s) // phone
			s = append(s, "+44 "...)
			s = append(s, s[ends[1]+1:ends[2]]...)
			ends[3] = len(s) // intl
			if !holdsCard(s[ends[1]:ends[2]]) && !holdsCard(s[ends[2]:ends[3]]) {
				break
			}
		}
		if g.chance(0.05) {
			b.company = oneOf(g, ukCompanies)
			s = append(s, "GB"...)
			s = randDigits(rng, s, 9)
		}
		ends[4] = len(s) // vat
	} else {
		r := m.region
		first, last = oneOf(g, r.firstNames), oneOf(g, r.surnames)
		place := &r.places[rng.IntN(len(r.places))]
		street := oneOf(g, r.streets)
		no := 1 + rng.IntN(120)
		a.city, a.region, a.country = place.city, place.region, r.country
		if r.streetFirst {
			s = append(s, street...)
			s = append(s, ' ')
			s = strconv.AppendInt(s, int64(no), 10)
		} else {
			s = strconv.AppendInt(s, int64(no), 10)
			s = append(s, ' ')
			s = append(s, street...)
		}
		ends[0] = len(s)
		s = append(s, place.postcode...)
		switch r.country {
		case "DE":
			s = randDigits(rng, s, 2)
		case "FR":
			s = randDigits(rng, s, 1)
		default:
			s = randAlnum(rng, s, 4, "0123456789ACDEFHKNPRTVWXY")
		}
		ends[1] = len(s)
		for { // as for UK numbers above
			if s = g.appendPattern(s[:ends[1]], r.phone); !holdsCard(s[ends[1]:]) {
				break
			}
		}
		ends[2] = len(s)
		ends[3] = len(s) // the phone is already international
		if g.chance(0.1) {
			b.company = oneOf(g, r.companies)
			s = append(s, r.country...)
			switch r.country {
			case "DE":
				s = randDigits(rng, s, 9)
			case "FR":
				s = randDigits(rng, s, 11)
			default:
				s = randDigits(rng, s, 7)
				s = append(s, 'T')
			}
		}
		ends[4] = len(s)
	}
	s = append(s, first...)
	s = append(s, ' ')
	s = append(s, last...)
	ends[5] = len(s) // name
	s = appendFold(s, first)
	s = append(s, '.')
	s = appendFold(s, last)
	if g.chance(0.3) {
		s = randDigits(rng, s, 2)
	}
	s = append(s, '@')
	s = append(s, oneOf(g, emailDomains)...)
	ends[6] = len(s) // email
	s = append(s, oneOf(g, usernameWords[0])...)
	s = append(s, '_')
	s = append(s, oneOf(g, usernameWords[1])...)
	if g.chance(0.5) {
		s = randDigits(rng, s, 2)
	}
	ends[7] = len(s) // username
	for start := len(s); ; {
		if s = randAlnum(rng, s[:start], 15, "abcdefghijklmnopqrstuvwxyz0123456789"); !holdsCard(s[start:]) {
			break
		}
	}
	s = append(s, '@')
	s = append(s, m.amazonDomain...)
	ends[8] = len(s) // relay
	g.scratch = s

	all := string(s)
	a.line1, a.postcode = all[:ends[0]], all[ends[0]:ends[1]]
	b.phone, b.intl = all[ends[1]:ends[2]], all[ends[2]:ends[3]]
	if ends[3] == ends[2] {
		b.intl = b.phone
	}
	b.vat = all[ends[3]:ends[4]]
	b.name = all[ends[4]:ends[5]]
	b.email = all[ends[5]:ends[6]]
	b.username = all[ends[6]:ends[7]]
	b.relay = all[ends[7]:ends[8]]
	return b
}

// holdsCard reports whether b holds what the protect stage takes for a card
// number: the generator plants those on purpose only, and counts them.
func holdsCard(b []byte) bool { return cardnumber.Find(string(b)) != nil }

// appendPattern appends pattern with each '#' replaced by a random digit.
func (g *Generator) appendPattern(s []byte, pattern string) []byte {
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '#' {
			c = byte('0' + g.rng.IntN(10))
		}
		s = append(s, c)
	}
	return s
}
