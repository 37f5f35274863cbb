// Package booking is the accounting postings' work for the dispatcher
// (connectors/dispatch): it reads the postings of connector.accounting,
// routes each to the accounting connector of its tenant, decrypts a
// per-order invoice's party just in time (one Vault call per tenant and
// batch), posts through the connector (Xero, QuickBooks Online) and records
// what the provider confirmed in the ledger before the batch is committed,
// so that the next accounting pass sees it posted.
package booking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/dispatch"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/stream"
	"github.com/orderflow/orderflow/worker/transit"
)

// Poster is an accounting connector (connectors/accounting/xero,
// connectors/accounting/quickbooks): one Result per posting, at the same
// index; parties are the decrypted invoice parties of per-order invoices,
// by the posting's IdempotencyKey.
type Poster interface {
	Post(ctx context.Context, ps []accounting.Posting, parties map[string]accounting.InvoiceParty) ([]accounting.Result, error)
}

// Ledger records what a provider confirmed (connectors/accounting/ledger).
type Ledger interface {
	Record(ctx context.Context, provider string, ps []accounting.Posting, results []accounting.Result, at time.Time) error
}

// Decrypter decrypts a tenant's ciphertexts in one call (transit.Client).
type Decrypter interface {
	Decrypt(ctx context.Context, tenant string, ciphertexts []string) ([][]byte, error)
}

// Config configures the work.
type Config struct {
	// Connectors are the configured connectors: each accounting one posts
	// its tenant's books.
	Connectors config.Connectors
	// Posters are the connectors built from them, by name.
	Posters map[string]Poster
	Ledger  Ledger
	// Decrypter decrypts invoice parties.
	Decrypter Decrypter
	Logger    *slog.Logger
	// Now stamps the ledger's rows. Default time.Now.
	Now func() time.Time
}

type work struct {
	cfg Config
}

// New returns the accounting postings' work; it refuses an accounting
// connector without a Poster.
func New(cfg Config) (dispatch.Work, error) {
	if cfg.Ledger == nil || cfg.Decrypter == nil {
		return nil, errors.New("booking config: Ledger and Decrypter are required")
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Connectors)) {
		if cfg.Connectors[name].Purpose == config.PurposeAccounting && cfg.Posters[name] == nil {
			return nil, fmt.Errorf("booking: connectors.%s has no connector built", name)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "booking")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &work{cfg: cfg}, nil
}

func (w *work) Read(m stream.Message) (*dispatch.Job, error) {
	var p accounting.Posting
	if err := json.Unmarshal(m.Value, &p); err != nil {
		return nil, errors.New("not an accounting posting")
	}
	if err := p.Check(); err != nil {
		return nil, fmt.Errorf("not an accounting posting this dispatcher reads: %w", err)
	}
	name, _ := w.cfg.Connectors.RouteFor(config.PurposeAccounting, p.TenantID)
	return &dispatch.Job{Tenant: p.TenantID, Connector: name, Kind: string(p.Kind), IdempotencyKey: p.IdempotencyKey, Value: &p}, nil
}

func (w *work) Rate(connector string) (float64, int, bool) {
	c, ok := w.cfg.Connectors[connector]
	if !ok || c.Purpose != config.PurposeAccounting || w.cfg.Posters[connector] == nil {
		return 0, 0, false
	}
	perSecond, burst := c.Rate()
	return perSecond, burst, true
}

// Prepare decrypts the invoice parties of the tenant's per-order invoices in
// one call; summaries and adjustments carry none.
func (w *work) Prepare(ctx context.Context, tenant string, jobs []*dispatch.Job) error {
	var at []int
	var cts []string
	for i, j := range jobs {
		p := j.Value.(*accounting.Posting)
		if p.Kind == accounting.KindInvoice {
			at = append(at, i)
			cts = append(cts, p.InvoiceParty)
			continue
		}
		j.Ready = accounting.InvoiceParty{}
	}
	if len(cts) == 0 {
		return nil
	}
	plain, err := w.cfg.Decrypter.Decrypt(ctx, tenant, cts)
	switch {
	case errors.Is(err, transit.ErrTenantOffboarded) || errors.Is(err, transit.ErrKeyNotFound):
		for _, i := range at {
			jobs[i].Discard()
		}
		return nil
	case err != nil:
		return fmt.Errorf("decrypt %d invoice parties of tenant %s: %w", len(cts), tenant, err)
	}
	for n, i := range at {
		doc, err := protected.ParseDocument(plain[n])
		if err != nil {
			jobs[i].Refuse(dispatch.ReasonUndecryptable, fmt.Errorf("the decrypted invoice party: %w", err))
			continue
		}
		jobs[i].Ready = partyOf(doc)
	}
	return nil
}

// partyOf reads what a VAT invoice needs of the invoice party's document,
// and nothing else (P6): no email, no phone.
func partyOf(d protected.Document) accounting.InvoiceParty {
	p := accounting.InvoiceParty{
		Name:        d.Get("billing_address.name"),
		City:        d.Get("billing_address.city"),
		Region:      d.Get("billing_address.county"),
		PostalCode:  d.Get("billing_address.postal_code"),
		CountryCode: d.Get("billing_address.country_code"),
		VATNumber:   d.Get("buyer.tax_id"),
	}
	p.Company = d.Get("billing_address.company_name")
	if p.Company == "" {
		p.Company = d.Get("buyer.company_name")
	}
	if p.Region == "" {
		p.Region = d.Get("billing_address.state_or_region")
	}
	for _, k := range []string{"billing_address.line1", "billing_address.line2", "billing_address.line3"} {
		if l := d.Get(k); l != "" {
			p.AddressLines = append(p.AddressLines, l)
		}
	}
	return p
}

// Send posts the tenant's postings and records in the ledger what the
// provider confirmed, before the dispatcher commits the batch.
func (w *work) Send(ctx context.Context, connector string, jobs []*dispatch.Job) ([]courier.Result, error) {
	ps := make([]accounting.Posting, len(jobs))
	parties := map[string]accounting.InvoiceParty{}
	for i, j := range jobs {
		ps[i] = *j.Value.(*accounting.Posting)
		if ps[i].Kind == accounting.KindInvoice {
			parties[ps[i].IdempotencyKey] = j.Ready.(accounting.InvoiceParty)
		}
	}
	results, err := w.cfg.Posters[connector].Post(ctx, ps, parties)
	if errors.Is(err, courier.ErrCredentialsRefused) && ctx.Err() == nil {
		// One seller's connection refused (an administrator disconnected
		// the app, a refresh token unused for 60 days): its postings are
		// parked as refused, and the other sellers' books and the couriers
		// go on. The pass posts them again when the dispatcher starts with
		// the connection authorised again (a new refresh_token).
		w.cfg.Logger.Error("accounting: the provider refused the connection's credentials; the seller's postings are parked until the connection is authorised again",
			"connector", connector, "postings", len(ps), "err", err)
		out := make([]courier.Result, len(ps))
		for i := range out {
			out[i] = courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("connector %s: %w", connector, err)}
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if len(results) != len(ps) {
		return nil, fmt.Errorf("connector %s answered %d results for %d postings", connector, len(results), len(ps))
	}
	if err := w.cfg.Ledger.Record(ctx, connector, ps, results, w.cfg.Now()); err != nil {
		// The provider has them; the batch is retried, posted again under
		// the same idempotency keys (nothing created twice), and recorded.
		return nil, fmt.Errorf("record %d postings of connector %s: %w", len(ps), connector, err)
	}
	out := make([]courier.Result, len(results))
	for i := range results {
		out[i] = results[i].Result
	}
	return out, nil
}
