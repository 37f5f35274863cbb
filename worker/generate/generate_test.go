package generate

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/cardnumber"
	"github.com/orderflow/orderflow/worker/channel"
	"github.com/orderflow/orderflow/worker/normalize"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/pipeline"
)

var testNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// normalizer reads what the generator writes as the worker does.
var normalizer = func() *normalize.Normalizer {
	n, err := channel.Default().Normalizer(normalize.Config{})
	if err != nil {
		panic(err)
	}
	return n
}()

func newGenerator(t testing.TB, cfg Config) *Generator {
	t.Helper()
	if cfg.Now.IsZero() {
		cfg.Now = testNow
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSameSeedSameBytes(t *testing.T) {
	a := newGenerator(t, Config{Seed: 42, Tenants: 5})
	b := newGenerator(t, Config{Seed: 42, Tenants: 5})
	for i := range 5000 {
		ma, mb := a.Next(), b.Next()
		if !bytes.Equal(ma.Key, mb.Key) || !bytes.Equal(ma.Value, mb.Value) || ma.Meta != mb.Meta {
			t.Fatalf("message %d differs between two generators with one seed:\n%s\n%s", i, ma.Value, mb.Value)
		}
	}
	if diff := cmp.Diff(a.Stats(), b.Stats()); diff != "" {
		t.Errorf("tallies differ (-a +b):\n%s", diff)
	}
}

func TestDifferentSeedsDiffer(t *testing.T) {
	a := newGenerator(t, Config{Seed: 1})
	b := newGenerator(t, Config{Seed: 2})
	sameValues, sameKeys := 0, 0
	for range 2000 {
		ma, mb := a.Next(), b.Next()
		if bytes.Equal(ma.Value, mb.Value) {
			sameValues++
		}
		if bytes.Equal(ma.Key, mb.Key) {
			sameKeys++
		}
	}
	if sameValues > 0 || sameKeys > 0 {
		t.Errorf("seeds 1 and 2 made %d identical messages and %d identical keys out of 2000", sameValues, sameKeys)
	}
}

// TestEveryMessageNormalises is the contract with the worker: every good message
// normalises into the order its Meta describes, every malformed one fails with
// the reason its Meta gives, and the tally equals what the normalised orders add
// up to, to the penny.
func TestEveryMessageNormalises(t *testing.T) {
	configs := []Config{
		{Seed: 1},
		{Seed: 7, Tenants: 1},
		{Seed: 42, Tenants: 5},
		{Seed: 2026, Tenants: 12, MalformedRate: 0.05, CardInTextRate: 0.05, UpdateRate: 0.7, RepeatBuyerRate: 0.6, MaxUpdateGap: 50},
		{Seed: 99, MalformedRate: -1, CardInTextRate: -1, UpdateRate: -1, RepeatBuyerRate: -1},
	}
	for _, cfg := range configs {
		t.Run("seed"+itoa(cfg.Seed), func(t *testing.T) {
			t.Parallel()
			g := newGenerator(t, cfg)
			checkStream(t, g, 8000)
		})
	}
}

func itoa(v uint64) string { return string(appendInt(nil, int64(v))) }

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// checkStream makes n messages and checks each, and the tally, against the
// normaliser.
func checkStream(t *testing.T, g *Generator, n int) {
	t.Helper()
	now := g.Config().Now
	type final struct {
		o      order.Order
		topic  string
		tenant string
	}
	finals := map[string]*final{} // by key
	want := newStats()
	bump := func(tenant, topic string, f func(*Counts)) {
		c := want.Channels[topic]
		f(&c)
		want.Channels[topic] = c
		if want.Tenants[tenant] == nil {
			want.Tenants[tenant] = map[string]Counts{}
		}
		tc := want.Tenants[tenant][topic]
		f(&tc)
		want.Tenants[tenant][topic] = tc
	}
	failures := 0
	fail := func(format string, args ...any) {
		t.Helper()
		failures++
		if failures <= 10 {
			t.Errorf(format, args...)
		}
	}

	for i := range n {
		m := g.Next()
		want.Messages++
		key := string(m.Key)
		tenant, _, ok := strings.Cut(key, "/")
		if !ok || tenant != m.Tenant || !tenantIDPattern.MatchString(tenant) {
			fail("message %d: key %q does not start with a valid tenant id %q", i, key, m.Tenant)
		}
		topic := string(m.Topic)
		bump(m.Tenant, topic, func(c *Counts) { c.Messages++ })
		o, err := normalizer.Normalize(m.Value)

		if m.Kind == KindMalformed {
			want.Malformed++
			want.MalformedByReason[m.Reason]++
			bump(m.Tenant, topic, func(c *Counts) { c.Malformed++ })
			if m.Reason == ReasonWrongTopic {
				if err != nil || string(o.Channel) == topic {
					fail("message %d: a %s order for the wrong topic: normalised to channel %q on topic %s, err %v", i, m.Format, o.Channel, topic, err)
				}
				continue
			}
			if got := string(normalize.ReasonOf(err)); got != m.Reason {
				fail("message %d: malformed with reason %s, but the normaliser says %v\n%s", i, m.Reason, err, m.Value)
			}
			continue
		}
		if err != nil {
			fail("message %d (%s, %s): %v\n%s", i, m.Kind, m.Format, err, m.Value)
			continue
		}
		cards := cardsIn(o)
		checkOrder(t, fail, i, m, o, cards, now)

		want.Snapshots++
		if m.Kind == KindUpdate {
			want.Updates++
		}
		want.Formats[o.SourceFormat]++
		bump(m.Tenant, topic, func(c *Counts) { c.Snapshots++ })
		want.CardNumbers += int64(cards)
		for f, n := range m.Cards { // by field: the Meta's split, whose total is checked
			if n > 0 {
				want.CardNumbersByField[CardField(f).String()] += int64(n)
			}
		}
		prev := finals[key]
		switch {
		case prev == nil:
			finals[key] = &final{o: o, topic: topic, tenant: m.Tenant}
			bump(m.Tenant, topic, func(c *Counts) { c.Orders++ })
			want.Orders++
			if m.Kind != KindOrder {
				fail("message %d: the first message of %s is an %s", i, key, m.Kind)
			}
		case !o.SourceUpdatedAt.After(prev.o.SourceUpdatedAt):
			fail("message %d: snapshot of %s at %s does not supersede the one at %s", i, key, o.SourceUpdatedAt, prev.o.SourceUpdatedAt)
		default:
			prev.o = o
		}
	}
	for _, f := range finals {
		want.Statuses[string(f.o.Status)]++
		cur := orderCurrency(f.o)
		ct := want.Currencies[cur]
		ct.Orders++
		ct.Total += f.o.Totals.Total.Amount
		for _, r := range f.o.Refunds {
			ct.Refunded += r.Amount.Amount
		}
		if mt := marketplaceTax(f.o); mt != 0 {
			ct.MarketplaceTax += mt
			ct.MarketplaceTaxOrders++
		}
		want.Currencies[cur] = ct
	}
	if diff := cmp.Diff(want, g.Stats()); diff != "" {
		t.Errorf("the tally is not what the normalised messages add up to (-normalised +tally):\n%s", diff)
	}
}

// checkOrder checks one normalised order against the Meta of its message.
func checkOrder(t *testing.T, fail func(string, ...any), i int, m Message, o order.Order, cards int, now time.Time) {
	t.Helper()
	switch {
	case string(m.Key) != o.TenantID+"/"+o.ChannelOrderID:
		fail("message %d: key %q, but the order is %s/%s", i, m.Key, o.TenantID, o.ChannelOrderID)
	case o.Channel != m.Topic:
		fail("message %d: a %s order for the %s topic", i, o.Channel, m.Topic)
	case o.SourceFormat != m.Format:
		fail("message %d: format %s, tallied as %s", i, o.SourceFormat, m.Format)
	case o.Status != m.Status:
		fail("message %d: status %s (%s), tallied as %s", i, o.Status, o.SourceStatus, m.Status)
	case o.SourceUpdatedAt.UnixMilli() != m.Version:
		fail("message %d: updated at %s, tallied as %d", i, o.SourceUpdatedAt, m.Version)
	case o.Totals.Total.Amount != m.Total:
		fail("message %d: total %s, tallied as %s", i, o.Totals.Total, m.Total)
	case orderCurrency(o) != m.Currency:
		fail("message %d: currency %s, tallied as %s", i, orderCurrency(o), m.Currency)
	case cards != m.CardCount():
		fail("message %d: %d card numbers in the order, %d tallied\n%s", i, cards, m.CardCount(), m.Value)
	case o.SourceUpdatedAt.After(now) || o.PurchasedAt.After(o.SourceUpdatedAt):
		fail("message %d: purchased %s, updated %s, now %s", i, o.PurchasedAt, o.SourceUpdatedAt, now)
	case o.ReceivedAt.Before(o.SourceUpdatedAt):
		fail("message %d: received %s before its update %s", i, o.ReceivedAt, o.SourceUpdatedAt)
	}
	var refunded order.Amount
	for _, r := range o.Refunds {
		refunded += r.Amount.Amount
	}
	if refunded != m.Refunded {
		fail("message %d: refunds %s, tallied as %s", i, refunded, m.Refunded)
	}
	if mt := marketplaceTax(o); mt != m.MarketplaceTax {
		fail("message %d: marketplace-collected tax %s, tallied as %s", i, mt, m.MarketplaceTax)
	}
	checkAmounts(fail, i, o)
	checkMarketplaceTax(fail, i, o)
}

// marketplaceTax sums the tax the marketplace collected on o, in o's currency.
func marketplaceTax(o order.Order) order.Amount {
	var sum order.Amount
	for _, mt := range o.MarketplaceTaxes {
		sum += mt.Amount.Amount
	}
	return sum
}

// iossLimitEUR is the EU's limit on an imported consignment's intrinsic value (the
// goods, without VAT or delivery) for the IOSS scheme, under which Amazon, as
// deemed supplier, collects the import VAT of a UK seller's sale to an EU
// consumer: 150 euros.
const iossLimitEUR = 150 * order.Amount(10000)

// checkMarketplaceTax holds for every generated order: Amazon collects the VAT
// of exactly the orders sent from the UK seller to EU consumers whose goods are
// worth at most 150 euros without VAT (IOSS), and of none other: none on
// amazon.co.uk (the seller is established in the UK), none above the limit (the
// buyer pays import VAT at the border), none for a business buyer (who accounts
// for it), none on eBay here.
func checkMarketplaceTax(fail func(string, ...any), i int, o order.Order) {
	var goods, tax order.Amount
	for _, l := range o.Lines {
		goods += l.LineTotal.Amount - l.Tax.Amount
		tax += l.Tax.Amount + l.ShippingTax.Amount + l.GiftWrapTax.Amount - l.DiscountTax.Amount
	}
	eu := o.Marketplace == "A1PA6795UKMFR9" || o.Marketplace == "A13V1IB3VIYZZH" || o.Marketplace == "A28R8C7NBKEWEA"
	ioss := o.Channel == order.ChannelAmazon && eu && !o.IsBusiness && goods <= iossLimitEUR
	switch got := marketplaceTax(o); {
	case ioss && got != tax:
		fail("message %d: a %s IOSS order (goods %s EUR) with %s marketplace-collected tax, want all its tax, %s", i, o.Marketplace, goods, got, tax)
	case !ioss && len(o.MarketplaceTaxes) > 0:
		fail("message %d: a %s %s order (business %t, goods %s) with marketplace-collected tax", i, o.Channel, o.Marketplace, o.IsBusiness, goods)
	}
	// A zero-rated line (a book) and a cancelled v0 order's lines state a tax of
	// 0.00, which the normaliser records as such.
	for _, mt := range o.MarketplaceTaxes {
		if mt.TaxType != "VAT" || mt.Model != "IOSS" || mt.Amount.Currency != "EUR" || mt.Amount.Amount < 0 {
			fail("message %d: marketplace tax %+v, want EUR VAT under IOSS", i, mt)
		}
	}
}

// TestMarketplaceCollectedVAT: the start of the demo's stream (seed 2026, 3
// tenants) holds orders on which Amazon collected the VAT, in both Amazon
// formats, and the tally's figure is what their normalised marketplace
// taxes add up to.
func TestMarketplaceCollectedVAT(t *testing.T) {
	g := newGenerator(t, Config{Seed: 2026, Tenants: 3})
	const n = 5000
	latest := map[string]order.Order{}
	formats := map[string]int{}
	for i := range n {
		m := g.Next()
		if m.Kind == KindMalformed {
			continue
		}
		o, err := normalizer.Normalize(m.Value)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(o.MarketplaceTaxes) > 0 {
			formats[o.SourceFormat]++
		}
		if prev, ok := latest[string(m.Key)]; !ok || o.SourceUpdatedAt.After(prev.SourceUpdatedAt) {
			latest[string(m.Key)] = o
		}
	}
	want := map[string]CurrencyTotals{}
	for _, o := range latest {
		if mt := marketplaceTax(o); mt != 0 {
			c := want[orderCurrency(o)]
			c.MarketplaceTax += mt
			c.MarketplaceTaxOrders++
			want[orderCurrency(o)] = c
		}
	}
	s := g.Stats()
	for _, f := range []string{order.SourceAmazonOrdersV0, order.SourceAmazonOrders202601} {
		if formats[f] == 0 {
			t.Errorf("no %s snapshot carries marketplace-collected tax", f)
		}
	}
	if want["EUR"].MarketplaceTaxOrders == 0 {
		t.Fatalf("no order carries marketplace-collected VAT")
	}
	for cur, c := range s.Currencies {
		w := want[cur]
		if c.MarketplaceTax != w.MarketplaceTax || c.MarketplaceTaxOrders != w.MarketplaceTaxOrders {
			t.Errorf("%s: tallied %s marketplace-collected tax on %d orders; the normalised orders carry %s on %d",
				cur, c.MarketplaceTax, c.MarketplaceTaxOrders, w.MarketplaceTax, w.MarketplaceTaxOrders)
		}
	}
	t.Logf("%d of %d orders (%.2f%%; %d EUR orders) carry marketplace-collected VAT: %s EUR",
		want["EUR"].MarketplaceTaxOrders, s.Orders, 100*float64(want["EUR"].MarketplaceTaxOrders)/float64(s.Orders),
		s.Currencies["EUR"].Orders, want["EUR"].MarketplaceTax)
}

// checkAmounts holds for every generated order: lines add up to the totals, and
// prices include VAT, so the total is what the lines charge.
func checkAmounts(fail func(string, ...any), i int, o order.Order) {
	var subtotal, shipping, discount, giftWrap, tax order.Amount
	for _, l := range o.Lines {
		if !l.UnitPrice.IsZero() && l.UnitPrice.Amount*order.Amount(l.Quantity) != l.LineTotal.Amount {
			fail("message %d: line %s: %s x %d is not %s", i, l.LineID, l.UnitPrice, l.Quantity, l.LineTotal)
		}
		subtotal += l.LineTotal.Amount
		shipping += l.Shipping.Amount
		discount += l.Discount.Amount
		giftWrap += l.GiftWrap.Amount
		tax += l.Tax.Amount + l.ShippingTax.Amount + l.GiftWrapTax.Amount - l.DiscountTax.Amount
	}
	tt := o.Totals
	if tt.Subtotal.Amount != subtotal || tt.Shipping.Amount != shipping || tt.Discount.Amount != discount || tt.Tax.Amount != tax {
		fail("message %d: lines (%s, %s, %s, %s) do not add up to the totals %+v", i, subtotal, shipping, discount, tax, tt)
	}
	if tt.Total.IsZero() {
		if o.Channel != order.ChannelAmazon || o.Status != order.StatusCancelled {
			fail("message %d: a %s %s order without a total", i, o.Status, o.Channel)
		}
		return
	}
	want := subtotal + shipping + giftWrap - discount
	if o.Channel == order.ChannelEbay {
		want = tt.Subtotal.Amount - tt.Discount.Amount + tt.Shipping.Amount + tt.Tax.Amount
	}
	if tt.Total.Amount != want || tt.Total.Amount <= 0 {
		fail("message %d: total %s, but the lines charge %s", i, tt.Total, want)
	}
}

// orderCurrency is the currency of an order's amounts: its total's, or, for an
// order that states no total, its lines'.
func orderCurrency(o order.Order) string {
	if c := o.Totals.Total.Currency; c != "" {
		return c
	}
	for _, l := range o.Lines {
		for _, m := range []order.Money{l.UnitPrice, l.LineTotal, l.Tax} {
			if m.Currency != "" {
				return m.Currency
			}
		}
	}
	return ""
}

// cardsIn counts the card numbers in the strings of o that the protect stage
// scans: every one but the marketplace identifiers the policy exempts.
func cardsIn(o order.Order) int {
	n := 0
	walkStrings(reflect.ValueOf(o), "", func(path, s string) {
		if !exemptFromScan[path] {
			n += len(cardnumber.Find(s))
		}
	})
	return n
}

var exemptFromScan = func() map[string]bool {
	p, err := policy.Load()
	if err != nil {
		panic(err)
	}
	m := map[string]bool{}
	for _, path := range p.CardScanPaths(policy.Exempt) {
		m[path] = true
	}
	return m
}()

var timeType = reflect.TypeFor[time.Time]()

// walkStrings calls f with every string of v and its path as the policy
// names it (JSON names joined by dots, a list's elements under its name).
func walkStrings(v reflect.Value, path string, f func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		f(path, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, f)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkStrings(v.Index(i), path, f)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		if v.Type() == reflect.TypeFor[order.Money]() {
			walkStrings(v.FieldByName("Currency"), path, f)
			return
		}
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if path != "" {
				name = path + "." + name
			}
			walkStrings(v.Field(i), name, f)
		}
	}
}

// TestTallyInAnyOrder: a tally of acknowledged messages sees them in the order
// the brokers acknowledge them, not the generator's.
func TestTallyInAnyOrder(t *testing.T) {
	g := newGenerator(t, Config{Seed: 5, UpdateRate: 0.8, MaxUpdateGap: 20})
	var metas []Meta
	for range 5000 {
		metas = append(metas, g.Next().Meta)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(metas), func(i, j int) { metas[i], metas[j] = metas[j], metas[i] })
	tally := NewTally()
	for _, m := range metas {
		tally.Add(m)
	}
	if diff := cmp.Diff(g.Stats(), tally.Stats()); diff != "" {
		t.Errorf("a shuffled tally differs (-in order +shuffled):\n%s", diff)
	}
}

func TestStatsIsACopy(t *testing.T) {
	g := newGenerator(t, Config{Seed: 3})
	for range 100 {
		g.Next()
	}
	s := g.Stats()
	before := cmp.Diff(Stats{}, s)
	for range 1000 {
		g.Next()
	}
	if after := cmp.Diff(Stats{}, s); after != before {
		t.Error("Stats changed after more messages were made")
	}
}

// TestMix checks that the stream has the variety a demo needs, in roughly the
// proportions asked for.
func TestMix(t *testing.T) {
	g := newGenerator(t, Config{Seed: 11})
	const n = 20000
	type buyerKey struct{ tenant, name, email string }
	seenBuyers := map[buyerKey]int{}
	var (
		orders, repeat, multiLine, business, gifts, notes, promotions, refunds, cancelled, prime, afn, eur int
		markets                                                                                            = map[string]int{}
	)
	for range n {
		m := g.Next()
		if m.Kind == KindMalformed {
			continue
		}
		o, err := normalizer.Normalize(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == order.StatusCancelled {
			cancelled++
		}
		if len(o.Refunds) > 0 {
			refunds++
		}
		if m.Kind != KindOrder {
			continue
		}
		orders++
		markets[o.Marketplace]++
		if o.Buyer.Name != "" {
			k := buyerKey{o.TenantID, o.Buyer.Name, o.Buyer.Email}
			if seenBuyers[k] > 0 {
				repeat++
			}
			seenBuyers[k]++
		}
		if len(o.Lines) > 1 {
			multiLine++
		}
		if o.IsBusiness && o.Buyer.TaxID != "" {
			business++
		}
		for _, ft := range o.FreeText {
			switch ft.Kind {
			case order.FreeTextGiftMessage:
				gifts++
			case order.FreeTextCheckoutNote:
				notes++
			}
		}
		if o.Totals.Discount.Amount > 0 {
			promotions++
		}
		if o.IsPrime {
			prime++
		}
		if o.Fulfilment == order.FulfilmentMarketplace {
			afn++
		}
		if orderCurrency(o) == "EUR" {
			eur++
		}
	}
	s := g.Stats()
	share := func(count int64) float64 { return float64(count) / float64(s.Snapshots) }
	for format, want := range map[string]float64{
		order.SourceAmazonOrdersV0: 0.45, order.SourceAmazonOrders202601: 0.15, order.SourceEbayFulfillmentV1: 0.40,
	} {
		if got := share(s.Formats[format]); math.Abs(got-want) > 0.02 {
			t.Errorf("%s: %.3f of messages, want about %.2f", format, got, want)
		}
	}
	if got := float64(s.Malformed) / float64(s.Messages); got < 0.003 || got > 0.008 {
		t.Errorf("malformed share %.4f, want about %.3f", got, DefaultMalformedRate)
	}
	if got := float64(s.Updates) / float64(s.Snapshots); got < 0.2 || got > 0.5 {
		t.Errorf("updates are %.3f of snapshots", got)
	}
	for _, mk := range []string{"A1F83G8C2ARO7P", "EBAY_GB", "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "A28R8C7NBKEWEA", "EBAY_DE", "EBAY_FR", "EBAY_IE"} {
		if markets[mk] == 0 {
			t.Errorf("no orders on marketplace %s", mk)
		}
	}
	if uk := float64(markets["A1F83G8C2ARO7P"]+markets["EBAY_GB"]) / float64(orders); uk < 0.85 || uk > 0.91 {
		t.Errorf("UK marketplaces have %.3f of orders, want about 0.88", uk)
	}
	for name, c := range map[string]struct {
		got int
		min float64
	}{
		"repeat buyers": {repeat, 0.1}, "multi-line orders": {multiLine, 0.3}, "business orders with tax ids": {business, 0.02},
		"gift messages": {gifts, 0.015}, "checkout notes": {notes, 0.01}, "promotions": {promotions, 0.08},
		"Prime orders": {prime, 0.05}, "Amazon-fulfilled orders": {afn, 0.05}, "EUR orders": {eur, 0.08},
		"refunded snapshots": {refunds, 0.01}, "cancelled snapshots": {cancelled, 0.02},
	} {
		if float64(c.got)/float64(orders) < c.min {
			t.Errorf("%s: %d of %d orders, want at least %.1f%%", name, c.got, orders, 100*c.min)
		}
	}
	if s.CardNumbers == 0 || len(s.CardNumbersByField) != int(NumCardFields) {
		t.Errorf("card numbers planted: %d, by field %v", s.CardNumbers, s.CardNumbersByField)
	}
}

func TestEveryMalformedReasonOccurs(t *testing.T) {
	g := newGenerator(t, Config{Seed: 8, MalformedRate: 0.3})
	for range 3000 {
		g.Next()
	}
	got := g.Stats().MalformedByReason
	for _, r := range MalformedReasons() {
		if got[r] == 0 {
			t.Errorf("no malformed message with reason %s", r)
		}
	}
	if ReasonWrongTopic != pipeline.ReasonWrongTopic {
		t.Errorf("ReasonWrongTopic is %q, the pipeline's is %q", ReasonWrongTopic, pipeline.ReasonWrongTopic)
	}
	for r := range got {
		if r != ReasonWrongTopic && !isNormalizeReason(r) {
			t.Errorf("reason %q is neither a normaliser reason nor %s", r, ReasonWrongTopic)
		}
	}
}

func isNormalizeReason(r string) bool {
	for _, nr := range normalize.Reasons {
		if string(nr) == r {
			return true
		}
	}
	return false
}

func TestTenants(t *testing.T) {
	g := newGenerator(t, Config{Seed: 1, Tenants: 12})
	seen := map[string]bool{}
	for range 20000 {
		seen[g.Next().Tenant] = true
	}
	if len(seen) != 12 {
		t.Errorf("%d tenants seen, want 12: %v", len(seen), seen)
	}
	for _, id := range []string{"acme-home", "brightside-books", "cobble-and-twine", "tenant-009", "tenant-012"} {
		if !seen[id] {
			t.Errorf("no orders for tenant %s", id)
		}
	}
}

func TestConfigIsChecked(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"too many tenants": {Config{Tenants: 1000}, "tenants"},
		"negative tenants": {Config{Tenants: -1}, "tenants"},
		"malformed rate":   {Config{MalformedRate: 1.5}, "malformed rate"},
		"card rate NaN":    {Config{CardInTextRate: math.NaN()}, "card-in-text rate"},
		"update rate":      {Config{UpdateRate: 2}, "update rate"},
		"negative days":    {Config{Days: -3}, "days"},
		"negative gap":     {Config{MaxUpdateGap: -1}, "max update gap"},
		"now out of range": {Config{Now: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, "now"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New(%+v) = %v, want an error naming %q", c.cfg, err, c.want)
			}
		})
	}
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := g.Config()
	if cfg.Tenants != DefaultTenants || cfg.MalformedRate != DefaultMalformedRate || cfg.UpdateRate != DefaultUpdateRate || cfg.Now.IsZero() {
		t.Errorf("defaults not filled in: %+v", cfg)
	}
	if g, _ := New(Config{MalformedRate: -1}); g.Config().MalformedRate != 0 {
		t.Errorf("a negative rate should turn malformed messages off")
	}
}

// TestCardNumbersAreFound: every card number the generator plants, however
// it is written, is one match of the scanner, which covers all its digits.
func TestCardNumbersAreFound(t *testing.T) {
	g := newGenerator(t, Config{Seed: 3})
	shapes := map[string]bool{}
	for range 5000 {
		c := g.cardNumber()
		in := "Card no " + c + " thanks"
		ms := cardnumber.Find(in)
		if len(ms) != 1 || ms[0].Start > len("Card no ")+1 || ms[0].End < len("Card no ")+len(c)-len(" 12/29 123") {
			t.Fatalf("card number %q: found %v", c, ms)
		}
		for _, r := range c {
			switch {
			case r >= '０' && r <= '９':
				shapes["full-width"] = true
			case r >= '٠' && r <= '٩':
				shapes["Arabic-Indic"] = true
			case r >= '०' && r <= '९':
				shapes["Devanagari"] = true
			case r == '\u200b' || r == '\u00ad':
				shapes["invisible separator"] = true
			case r == '+':
				shapes["leading plus"] = true
			case r == '/':
				shapes["expiry or slashes"] = true
			}
		}
		if ms[0].Scheme == cardnumber.Other {
			shapes["issuer outside the table"] = true
		}
	}
	if len(shapes) != 7 {
		t.Errorf("shapes planted: %v, want all 7", shapes)
	}
}

// TestNothingElseLooksLikeACard: the generator's lists (titles, SKUs,
// promotions, messages, notes, streets, names, companies) hold nothing the
// scanner takes for a card number, so that the demo's count of card numbers
// removed is exactly the tally's. Drawn values (phone numbers, relay
// addresses) are checked as they are drawn; checkStream checks whole orders.
func TestNothingElseLooksLikeACard(t *testing.T) {
	var all []string
	for _, list := range catalogue {
		for _, p := range list {
			all = append(all, p.title, p.code, "AH-"+p.code)
		}
	}
	for _, place := range ukPlaces {
		all = append(all, place.city, place.county, place.region)
	}
	for _, r := range euRegions {
		all = append(all, r.streets...)
		all = append(all, r.companies...)
		for _, p := range r.places {
			all = append(all, p.city, p.region)
		}
	}
	for _, p := range ebayPromotions {
		all = append(all, p.id, p.description)
	}
	for _, list := range [][]string{ukStreets, ukLine2, ukHouseNames, ukFirstNames, ukSurnames, ukCompanies, emailDomains,
		giftMessages, checkoutNotes, cardLeadIns, cancelReasons, amazonPromotions, usernameWords[0], usernameWords[1]} {
		all = append(all, list...)
	}
	for _, s := range all {
		if ms := cardnumber.Find(s); ms != nil {
			t.Errorf("%q is taken for a card number", s)
		}
	}
	if len(all) < 200 {
		t.Errorf("only %d strings checked", len(all))
	}
}

func TestAppendTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		ms := rng.Int64N(4102444800000) // 1970 to 2100
		tm := time.UnixMilli(ms).UTC()
		if got, want := string(appendTime(nil, ms, false)), tm.Format("2006-01-02T15:04:05Z"); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ms, got, want)
		}
		if got, want := string(appendTime(nil, ms, true)), tm.Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Fatalf("appendTime(%d, millis) = %s, want %s", ms, got, want)
		}
	}
}

func TestAmountFormats(t *testing.T) {
	for _, c := range []struct {
		v                   int64
		amazon, ebay, comma string
	}{
		{4649, "46.49", "46.49", "46,49"}, {3200, "32.00", "32.0", "32,00"}, {450, "4.50", "4.5", "4,50"},
		{0, "0.00", "0.0", "0,00"}, {5, "0.05", "0.05", "0,05"}, {-1699, "-16.99", "-16.99", ""}, {-600, "-6.00", "-6.0", ""},
	} {
		if got := string(appendMinor(nil, c.v)); got != c.amazon {
			t.Errorf("appendMinor(%d) = %s, want %s", c.v, got, c.amazon)
		}
		if got := string(appendEbayMinor(nil, c.v)); got != c.ebay {
			t.Errorf("appendEbayMinor(%d) = %s, want %s", c.v, got, c.ebay)
		}
		if c.comma != "" {
			if got := string(appendCommaMinor(nil, c.v)); got != c.comma {
				t.Errorf("appendCommaMinor(%d) = %s, want %s", c.v, got, c.comma)
			}
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		``:                  `""`,
		`Zoë's "gift" \o/`:  `"Zoë's \"gift\" \\o/"`,
		"line\nbreak\t\x01": `"line\nbreak\t\u0001"`,
		"🎄 Nadolig Llawen":  `"🎄 Nadolig Llawen"`,
	} {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestMemoryIsBounded: the generator and its tally keep only the orders whose
// next snapshot is still to come, however long the run.
func TestMemoryIsBounded(t *testing.T) {
	g := newGenerator(t, Config{Seed: 4, MaxUpdateGap: 100})
	for i := range 30000 {
		g.Next()
		if i%1000 == 0 && len(g.tally.open) != len(g.pending) {
			t.Fatalf("after %d messages the tally holds %d orders open, %d are pending", i, len(g.tally.open), len(g.pending))
		}
	}
	if len(g.pending) > 200 {
		t.Errorf("%d orders pending with updates at most 100 messages apart", len(g.pending))
	}
}
