package postings

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/worker/order"
)

// Periodicity is how long a posting's period is; a period never crosses a
// month end, so a week that does is two periods.
type Periodicity string

const (
	Daily   Periodicity = "daily"
	Weekly  Periodicity = "weekly" // Monday to Sunday
	Monthly Periodicity = "monthly"
)

// PeriodOf is the period holding t's day (in UTC).
func PeriodOf(t time.Time, p Periodicity) (accounting.Period, error) {
	day := time.Date(t.UTC().Year(), t.UTC().Month(), t.UTC().Day(), 0, 0, 0, 0, time.UTC)
	first := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1)
	switch p {
	case Daily:
		return accounting.Period{From: day, To: day}, nil
	case Weekly:
		monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		return accounting.Period{From: later(monday, first), To: earlier(monday.AddDate(0, 0, 6), last)}, nil
	case Monthly:
		return accounting.Period{From: first, To: last}, nil
	}
	return accounting.Period{}, fmt.Errorf("periodicity %q is not daily, weekly or monthly", p)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Config says how postings are cut.
type Config struct {
	// Periodicity of the postings. Default Daily.
	Periodicity Periodicity
	// Grace is how long after its last day a period waits for late updates
	// before it is posted. Default 48h.
	Grace time.Duration
	// Now is the instant the periods' closing is judged at.
	Now time.Time
	// Invoices gives each business order with an invoice party a VAT
	// invoice of its own (KindInvoice), which its period's summary then
	// leaves out. Default false: every order is in its summary.
	Invoices bool
}

// Closed reports whether p has closed at c.Now: its last day and the grace
// have passed.
func (c Config) Closed(p accounting.Period) bool {
	return !c.Now.Before(p.To.AddDate(0, 0, 1).Add(c.Grace))
}

// Key identifies a period's postings: a summary and its adjustments.
type Key struct {
	TenantID, Marketplace, Currency, VATRate string
	From                                     time.Time
	// OrderID is a per-order invoice's order; "" for a period's summary.
	OrderID string
}

// KeyOf is a posting's Key.
func KeyOf(p *accounting.Posting) Key {
	return Key{TenantID: p.TenantID, Marketplace: p.Marketplace, Currency: p.Currency, VATRate: p.VATRate, From: p.Period.From, OrderID: p.ChannelOrderID}
}

// Sum sums the records' amounts per tenant, marketplace, currency, VAT
// rate and period: what ClickHouse says each posting should hold.
func Sum(records []Record, periodicity Periodicity) (map[Key]*Totals, error) {
	return sum(records, periodicity, false)
}

func sum(records []Record, periodicity Periodicity, invoices bool) (map[Key]*Totals, error) {
	out := map[Key]*Totals{}
	for i := range records {
		r := &records[i]
		parts, ok := Split(*r)
		if !ok {
			continue
		}
		for _, a := range parts {
			p, err := PeriodOf(r.PurchasedAt, periodicity)
			if err != nil {
				return nil, err
			}
			k := Key{TenantID: r.TenantID, Marketplace: r.Marketplace, Currency: r.Currency, VATRate: a.VATRate, From: p.From}
			if invoices && r.IsBusiness && r.InvoiceParty != "" {
				// Its own VAT invoice, dated on its day.
				k.OrderID = r.ChannelOrderID
				p, _ = PeriodOf(r.PurchasedAt, Daily) // Daily never fails
				k.From = p.From
			}
			t := out[k]
			if t == nil {
				t = &Totals{Period: p, Jurisdiction: r.Jurisdiction, lines: map[accounting.LineKind]accounting.Line{}}
				if k.OrderID != "" {
					t.party = r.InvoiceParty
				}
				out[k] = t
			}
			t.Orders++
			for _, l := range a.Lines {
				t.add(l)
			}
		}
	}
	return out, nil
}

// Totals are a period's amounts by line kind.
type Totals struct {
	Period       accounting.Period
	Jurisdiction string
	Orders       int
	lines        map[accounting.LineKind]accounting.Line
	party        string // a per-order invoice's invoice party ciphertext
}

func (t *Totals) add(l accounting.Line) {
	cur := t.lines[l.Kind]
	cur.Kind, cur.Net, cur.Tax = l.Kind, cur.Net+l.Net, cur.Tax+l.Tax
	t.lines[l.Kind] = cur
}

// Lines are the totals' lines in accounting.LineKinds() order, zero ones
// left out.
func (t *Totals) Lines() []accounting.Line {
	var out []accounting.Line
	for _, k := range accounting.LineKinds() {
		if l, ok := t.lines[k]; ok && (l.Net != 0 || l.Tax != 0) {
			out = append(out, l)
		}
	}
	return out
}

// Build returns the postings due at cfg.Now: a summary of every closed
// period not posted yet, and an adjustment of every posted period whose
// records have changed since (by line kind: what the records now sum, less
// what the period's postings hold; all of it when they sum to nothing now).
// records and posted must cover the same periods: the records purchased
// in them and the ledger's postings of them.
func Build(records []Record, posted []accounting.Posting, cfg Config) ([]accounting.Posting, error) {
	if cfg.Periodicity == "" {
		cfg.Periodicity = Daily
	}
	totals, err := sum(records, cfg.Periodicity, cfg.Invoices)
	if err != nil {
		return nil, err
	}
	done := map[Key]*Totals{}
	lastSeq := map[Key]int{}
	for i := range posted {
		p := &posted[i]
		k := KeyOf(p)
		if done[k] == nil {
			done[k] = &Totals{Period: p.Period, Jurisdiction: p.Jurisdiction, lines: map[accounting.LineKind]accounting.Line{}}
			lastSeq[k] = -1
		}
		for _, l := range p.Lines {
			done[k].add(l)
		}
		lastSeq[k] = max(lastSeq[k], p.Sequence)
	}
	// A posted period whose records no longer count anything (its only
	// order cancelled before payment, a business order's invoice whose
	// order was voided, a rate corrected to another) sums to nothing now:
	// its adjustment reverses what was posted.
	for k, prev := range done {
		if totals[k] == nil {
			totals[k] = &Totals{Period: prev.Period, Jurisdiction: prev.Jurisdiction, lines: map[accounting.LineKind]accounting.Line{}}
		}
	}
	var out []accounting.Posting
	for _, k := range sortedKeys(totals) {
		t := totals[k]
		if !cfg.Closed(t.Period) {
			continue
		}
		p := accounting.Posting{
			Version: accounting.PostingVersion, Kind: accounting.KindSummary, TenantID: k.TenantID, Marketplace: k.Marketplace,
			Jurisdiction: t.Jurisdiction, Currency: k.Currency, VATRate: k.VATRate, Period: t.Period, Orders: t.Orders, CreatedAt: cfg.Now,
		}
		if k.OrderID != "" {
			p.Kind, p.ChannelOrderID, p.InvoiceParty = accounting.KindInvoice, k.OrderID, t.party
		}
		if prev := done[k]; prev == nil {
			p.Lines = t.Lines()
		} else {
			p.Kind, p.Sequence = accounting.KindAdjustment, lastSeq[k]+1
			p.Lines = difference(t, prev)
			if len(p.Lines) == 0 {
				continue
			}
		}
		p.IdempotencyKey = accounting.IdempotencyKey(p.TenantID, p.Marketplace, p.Currency, p.VATRate, p.Period, p.Kind, p.Sequence, p.ChannelOrderID)
		out = append(out, p)
	}
	return out, nil
}

// difference is now - before, by line kind, zero lines left out.
func difference(now, before *Totals) []accounting.Line {
	var out []accounting.Line
	for _, k := range accounting.LineKinds() {
		a, b := now.lines[k], before.lines[k]
		if d := (accounting.Line{Kind: k, Net: a.Net - b.Net, Tax: a.Tax - b.Tax}); d.Net != 0 || d.Tax != 0 {
			out = append(out, d)
		}
	}
	return out
}

func sortedKeys(m map[Key]*Totals) []Key {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.Marketplace, b.Marketplace), cmp.Compare(a.Currency, b.Currency),
			cmp.Compare(a.VATRate, b.VATRate), a.From.Compare(b.From), cmp.Compare(a.OrderID, b.OrderID))
	})
	return keys
}

// Gross is the sum of lines' net and tax.
func Gross(lines []accounting.Line) order.Amount {
	var g order.Amount
	for _, l := range lines {
		g += l.Net + l.Tax
	}
	return g
}

// Difference is one period's reconciliation: what the records sum to
// beside what was posted (summary and adjustments), by gross, net and tax.
type Difference struct {
	Key                                  Key
	Period                               accounting.Period
	RecordsNet, RecordsTax, RecordsGross order.Amount
	PostedNet, PostedTax, PostedGross    order.Amount
	Postings                             int // summary and adjustments posted
	Closed                               bool
}

// Unreconciled is the gross not yet posted (negative: posted beyond the
// records).
func (d Difference) Unreconciled() order.Amount { return d.RecordsGross - d.PostedGross }

// Reconcile compares, period by period, what the records sum to with what
// the ledger holds: every period either has, in order of keys.
func Reconcile(records []Record, posted []accounting.Posting, cfg Config) ([]Difference, error) {
	if cfg.Periodicity == "" {
		cfg.Periodicity = Daily
	}
	totals, err := sum(records, cfg.Periodicity, cfg.Invoices)
	if err != nil {
		return nil, err
	}
	byKey := map[Key]*Difference{}
	get := func(k Key, p accounting.Period) *Difference {
		d := byKey[k]
		if d == nil {
			d = &Difference{Key: k, Period: p, Closed: cfg.Closed(p)}
			byKey[k] = d
		}
		return d
	}
	for k, t := range totals {
		d := get(k, t.Period)
		for _, l := range t.Lines() {
			d.RecordsNet += l.Net
			d.RecordsTax += l.Tax
		}
		d.RecordsGross = d.RecordsNet + d.RecordsTax
	}
	for i := range posted {
		p := &posted[i]
		d := get(KeyOf(p), p.Period)
		net, tax, gross := p.Totals()
		d.PostedNet += net
		d.PostedTax += tax
		d.PostedGross += gross
		d.Postings++
	}
	out := make([]Difference, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b Difference) int {
		return cmp.Or(cmp.Compare(a.Key.TenantID, b.Key.TenantID), a.Key.From.Compare(b.Key.From), cmp.Compare(a.Key.Marketplace, b.Key.Marketplace),
			cmp.Compare(a.Key.Currency, b.Key.Currency), cmp.Compare(a.Key.VATRate, b.Key.VATRate))
	})
	return out, nil
}
