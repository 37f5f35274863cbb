package connectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protected"
)

// Poster is an accounting connector: the call the dispatcher makes.
type Poster interface {
	Post(ctx context.Context, ps []accounting.Posting, parties map[string]accounting.InvoiceParty) ([]accounting.Result, error)
}

// AccountingStandIn is the suite's hold on an accounting provider's
// stand-in: Ledger is by the reference the provider files a posting under
// (accounting.Posting.Reference: never the idempotency key the connector
// sends, so that a redelivery under another key is seen made twice), and
// counts the documents that post it (not the customer an invoice is filed
// under).
type AccountingStandIn interface {
	StandIn
	// Documents are the documents the provider received and made
	// (invoices, credit notes, journal entries, receipts, customers), in
	// order.
	Documents() []Document
	// ExpireAccessTokens makes the provider refuse every access token
	// issued so far; RevokeRefreshToken refuses the refresh too. Both
	// stand in for Fault{Status: 401}: a 401 a fresh token cures is no
	// refusal.
	ExpireAccessTokens()
	RevokeRefreshToken()
}

// Document is one document as an accounting provider received it.
type Document struct {
	// Ref is the reference of the posting it was made for
	// (accounting.Posting.Reference), "" for a customer.
	Ref string
	// Fields are the values of its body by path (Flatten).
	Fields map[string]string
}

// AccountingJob is an accounting job as a connector gets it: a posting and,
// for an invoice, its party, which the dispatcher decrypts just in time.
type AccountingJob struct {
	Posting accounting.Posting
	// Party is the invoice party given beside the posting (keyed by its
	// idempotency key); a summary given one must ignore it.
	Party *accounting.InvoiceParty
}

// AccountingHarness is an accounting connector's part of the suite.
type AccountingHarness struct {
	// Kind is the connector kind: its allow-list in
	// schemas/policy/connectors.yaml says which of the invoice party's
	// fields may be sent.
	Kind string
	// New starts a fresh stand-in and a connector against it, built with
	// env, for tenant Tenant. The connector posts the suite's fixtures
	// (Summary, Invoice: lines of every kind, on amazon.co.uk, in GBP, at
	// 20%).
	New func(t *testing.T, env Env) (Poster, AccountingStandIn)
}

// RunAccounting runs the suite against an accounting connector: the
// universal properties on a summary and on a business order's invoice, then
// the accounting kind's own: an invoice's party fields are allow-listed
// ones only (name or company, address, VAT number: never email, phone,
// buyer ids or notes), and a summary carries no personal data at all, even
// when the batch holds an invoice and a party is given beside the summary.
func RunAccounting(t *testing.T, h AccountingHarness) {
	t.Helper()
	c := &accountingChecks{list: allowList(t, h.Kind)}
	Run(t, Harness[AccountingJob, AccountingStandIn]{
		Shapes: []string{"summary", "invoice"},
		Job: func(t testing.TB, shape string, n int) AccountingJob {
			if shape == "invoice" {
				return Invoice(t, n)
			}
			return Summary(t, n)
		},
		Ref: func(j AccountingJob) string { return j.Posting.Reference() },
		New: func(t *testing.T, env Env) (Connector[AccountingJob], AccountingStandIn) {
			p, s := h.New(t, env)
			return poster{p}, oauthStandIn{s}
		},
		Checks: []Check[AccountingJob, AccountingStandIn]{
			{"InvoicePartyIsAllowListedFieldsOnly", c.partyFields},
			{"SummaryCarriesNoPersonalData", c.summaryClean},
		},
	})
}

// poster sends an accounting batch with Post: the postings, and the parties
// given beside them by idempotency key.
type poster struct{ Poster }

func (p poster) Send(ctx context.Context, jobs []AccountingJob) ([]courier.Result, error) {
	ps := make([]accounting.Posting, len(jobs))
	parties := map[string]accounting.InvoiceParty{}
	for i, j := range jobs {
		ps[i] = j.Posting
		if j.Party != nil {
			parties[j.Posting.IdempotencyKey] = *j.Party
		}
	}
	rs, err := p.Post(ctx, ps, parties)
	if rs == nil {
		return nil, err
	}
	out := make([]courier.Result, len(rs))
	for i, r := range rs {
		out[i] = r.Result
		if r.Outcome == courier.Done && r.ProviderID == "" {
			out[i] = courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("posting %d: done without the provider's id of its document", i)}
		}
	}
	return out, err
}

// oauthStandIn turns a 401 into the provider refusing the connector's
// tokens, access and refresh.
type oauthStandIn struct{ AccountingStandIn }

func (s oauthStandIn) Fail(faults ...Fault) {
	for _, f := range faults {
		if f.Status == 401 {
			s.ExpireAccessTokens()
			s.RevokeRefreshToken()
			continue
		}
		s.AccountingStandIn.Fail(f)
	}
}

// Tenant is the tenant of the accounting fixtures.
const Tenant = "acme"

// Day is a day of October 2026, the fixtures' month.
func Day(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, time.UTC) }

// Posting is a posting of tenant Tenant on amazon.co.uk in GBP for days
// from to to of October 2026, with lines "kind net tax" (exact decimals).
// An invoice is order 205-1234567-7654321's, its party ciphertext a
// stand-in.
func Posting(t testing.TB, kind accounting.Kind, seq int, rate string, from, to int, lines ...string) accounting.Posting {
	t.Helper()
	p := accounting.Posting{
		Version: accounting.PostingVersion, Kind: kind, TenantID: Tenant, Marketplace: "amazon.co.uk", Currency: "GBP",
		VATRate: rate, Period: accounting.Period{From: Day(from), To: Day(to)}, Sequence: seq, Orders: 3,
		CreatedAt: Day(to).Add(36 * time.Hour),
	}
	if kind == accounting.KindInvoice {
		p.ChannelOrderID, p.InvoiceParty = "205-1234567-7654321", "vault:v1:c2VhbGVkLXBhcnR5"
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("connectortest: line %q is not kind, net, tax", l)
		}
		net, err1 := order.ParseAmount(f[1])
		tax, err2 := order.ParseAmount(f[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("connectortest: line %q: amounts: %v %v", l, err1, err2)
		}
		p.Lines = append(p.Lines, accounting.Line{Kind: accounting.LineKind(f[0]), Net: net, Tax: tax})
	}
	p.IdempotencyKey = accounting.IdempotencyKey(Tenant, p.Marketplace, p.Currency, rate, p.Period, kind, seq, p.ChannelOrderID)
	return p
}

// fixtureDay is the n-th fixture's day: another n, another period.
func fixtureDay(n int) int { return 1 + n%28 }

// Summary is the n-th summary: a day at 20% with sales, shipping, a
// promotion, a refund and marketplace-collected VAT (as postings writes it:
// its whole amount as net, no tax on it), amounts of four places.
func Summary(t testing.TB, n int) AccountingJob {
	t.Helper()
	d := fixtureDay(n)
	return AccountingJob{Posting: Posting(t, accounting.KindSummary, 0, "20", d, d,
		"sales 1234.5678 246.9136", "shipping 41.6650 8.3330", "discount -12.4950 -2.4990",
		"refund -83.3325 -16.6665", "marketplace_vat 19.9950 0")}
}

// Invoice is the VAT invoice of the n-th business order (order reference
// 203-0000000-<n>), with the party of testdata/party-business.json.
func Invoice(t testing.TB, n int) AccountingJob {
	t.Helper()
	return InvoiceFor(t, n, Party(t, "business"))
}

// InvoiceFor is Invoice with another party.
func InvoiceFor(t testing.TB, n int, party accounting.InvoiceParty) AccountingJob {
	t.Helper()
	d := fixtureDay(n)
	p := Posting(t, accounting.KindInvoice, 0, "20", d, d, "sales 250.0000 50.0000", "shipping 4.1667 0.8333", "discount -5.0000 -1.0000")
	p.ChannelOrderID = orderRef(n)
	p.IdempotencyKey = accounting.IdempotencyKey(Tenant, p.Marketplace, p.Currency, p.VATRate, p.Period, p.Kind, p.Sequence, p.ChannelOrderID)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	return AccountingJob{Posting: p, Party: &party}
}

// Party is the invoice party of testdata/party-<name>.json as the
// dispatcher decrypts it: what a VAT invoice needs of it, nothing else.
func Party(t testing.TB, name string) accounting.InvoiceParty {
	t.Helper()
	return partyOf(readDocument(t, "party-"+name+".json"))
}

// partyOf reads an invoice party's document as the dispatcher does
// (connectors/accounting/booking).
func partyOf(d protected.Document) accounting.InvoiceParty {
	p := accounting.InvoiceParty{
		Name: d.Get("billing_address.name"), Company: d.Get("billing_address.company_name"),
		City: d.Get("billing_address.city"), Region: d.Get("billing_address.county"),
		PostalCode: d.Get("billing_address.postal_code"), CountryCode: d.Get("billing_address.country_code"),
		VATNumber: d.Get("buyer.tax_id"),
	}
	for _, k := range []string{"billing_address.line1", "billing_address.line2", "billing_address.line3"} {
		if l := d.Get(k); l != "" {
			p.AddressLines = append(p.AddressLines, l)
		}
	}
	return p
}

// Flatten is every value of a JSON document by its path
// ("Contact.Addresses[0].City"): strings as they are, numbers as their
// text, booleans as "true" or "false"; nulls are left out.
func Flatten(body []byte) (map[string]string, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("connectortest: flatten: %w", err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, e)
			}
		case []any:
			for i, e := range v {
				walk(prefix+"["+strconv.Itoa(i)+"]", e)
			}
		case string:
			out[prefix] = v
		case json.Number:
			out[prefix] = v.String()
		case bool:
			out[prefix] = strconv.FormatBool(v)
		}
	}
	walk("", v)
	return out, nil
}

type accountingSuite = Suite[AccountingJob, AccountingStandIn]

type accountingChecks struct {
	list policy.AllowList
}

// sent are the sources of a party document whose values the provider
// received: a field equal to the value, or holding it when the value is
// long enough not to occur by chance (a VAT number in a display name).
func sent(doc protected.Document, docs []Document) []string {
	var out []string
	for _, path := range doc.Paths() {
		v := strings.ToLower(doc.Get(path))
		found := slices.ContainsFunc(docs, func(d Document) bool {
			for _, f := range d.Fields {
				f = strings.ToLower(f)
				if f == v || len([]rune(v)) >= 5 && strings.Contains(f, v) {
					return true
				}
			}
			return false
		})
		if found {
			out = append(out, path)
		}
	}
	return out
}

// partyFields: a business's invoice and a sole trader's (no company, a VAT
// number: an eBay buyer's) each reach the provider with allow-listed party
// fields only, the ones a VAT invoice needs among them, and never the
// party's ciphertext. The party reaches a connector as an InvoiceParty,
// which has no email, phone, buyer id or note: the check keeps it so, and
// finds a connector that drops what the invoice needs.
func (c *accountingChecks) partyFields(t *testing.T, s *accountingSuite) {
	for _, v := range []struct {
		name     string
		required []string
	}{
		{"business", []string{"billing_address.company_name", "billing_address.line1", "billing_address.postal_code", "billing_address.country_code", "buyer.tax_id"}},
		{"sole-trader", []string{"billing_address.name", "billing_address.line1", "billing_address.postal_code", "billing_address.country_code", "buyer.tax_id"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			doc := readDocument(t, "party-"+v.name+".json")
			in := s.Start(t)
			j := InvoiceFor(t, 21, partyOf(doc))
			if r := in.One(t, j); r.Outcome != courier.Done {
				t.Fatalf("invoice: %v (%v), want done", r.Outcome, r.Err)
			}
			docs := in.StandIn.Documents()
			got := sent(doc, docs)
			allowed := c.list.Sources(policy.Switches{})
			for _, src := range got {
				if !slices.Contains(allowed, src) {
					t.Errorf("%s is sent, and not allowed", src)
				}
			}
			for _, src := range v.required {
				if !slices.Contains(got, src) {
					t.Errorf("%s is not sent: a VAT invoice names it", src)
				}
			}
			for _, d := range docs {
				for path, f := range d.Fields {
					if strings.Contains(f, j.Posting.InvoiceParty) {
						t.Errorf("%s holds the party's ciphertext", path)
					}
				}
			}
		})
	}
}

// summaryClean: a summary posted in one batch with an invoice, and given a
// party beside it, reaches the provider with no personal value in any of
// its documents' fields.
func (c *accountingChecks) summaryClean(t *testing.T, s *accountingSuite) {
	in := s.Start(t)
	summary, invoice := Summary(t, 23), Invoice(t, 24)
	summary.Party = invoice.Party
	for i, r := range in.Send(t, invoice, summary) {
		if r.Outcome != courier.Done {
			t.Fatalf("posting %d: %v (%v), want done", i, r.Outcome, r.Err)
		}
	}
	n := 0
	for _, d := range in.StandIn.Documents() {
		if d.Ref != summary.Posting.Reference() {
			continue
		}
		n++
		for path, f := range d.Fields {
			AssertClean(t, "the summary's "+path, f)
		}
	}
	if n == 0 {
		t.Error("the provider made no document of the summary")
	}
}
