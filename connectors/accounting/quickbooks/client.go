// Package quickbooks is the QuickBooks Online accounting connector: it
// posts each accounting.Posting (a period's summary, or an adjustment to
// one) as one journal entry in the tenant's QuickBooks company, on the
// accounts and tax codes the tenant mapped, and a business order's VAT
// invoice as an Invoice of the party's Customer; it answers one
// accounting.Result per posting. README.md says what is posted on which
// accounts, and why journal entries.
//
// API facts (Intuit's QuickBooks Online Accounting API): base URL
// https://quickbooks.api.intuit.com (sandbox
// https://sandbox-quickbooks.api.intuit.com), create with POST
// /v3/company/{realmId}/journalentry, read many with GET
// /v3/company/{realmId}/query?query=<select>; "Authorization: Bearer
// <access token>" from OAuth 2.0 (refresh grant at
// https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer, client id and
// secret as HTTP Basic; access tokens live an hour, the refresh token
// rotates); a repeated requestid query parameter returns the first answer
// instead of creating again; minorversion 75 (minor versions 1-74 are
// ignored since 1 August 2025); 500 requests a minute and 10 a second per
// company, 10 concurrent, 429 beyond (wait 60 seconds).
package quickbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orderflow/orderflow/connectors/accounting"
	"github.com/orderflow/orderflow/connectors/accounting/oauth"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/worker/config"
)

// Kind is the connector kind.
const Kind = "quickbooks"

// Defaults: production endpoints and the minor version.
const (
	DefaultBaseURL      = "https://quickbooks.api.intuit.com"
	DefaultTokenURL     = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
	DefaultMinorVersion = 75
)

// Throttled is how long to wait after a 429 that names no Retry-After:
// Intuit's documented advice.
const Throttled = 60 * time.Second

// maxRequestID is the longest requestid this client sends.
const maxRequestID = 50

// Settings of Mapping.MarketplaceVAT.
const (
	// MarketplaceVATLine posts marketplace-collected VAT on its own line,
	// on its own account, with the no-VAT tax code (the default).
	MarketplaceVATLine = "line"
	// MarketplaceVATOmit leaves it out of the journal entry.
	MarketplaceVATOmit = "omit"
)

// Mapping is a tenant's choice of accounts and tax codes, by QuickBooks Id
// (the value of an AccountRef or a TaxCodeRef).
type Mapping struct {
	// Accounts maps each line kind to the account it is posted on: sales
	// and shipping income, the discounts and refunds accounts (contra
	// income), and the marketplace VAT account (a liability or clearing
	// account of its own, never the VAT control account).
	Accounts map[accounting.LineKind]string
	// ClearingAccount takes the balancing side: what the marketplace owes
	// the seller for the period (a current asset the payout clears).
	ClearingAccount string
	// TaxCodes maps a posting's VAT rate ("20", "5", "0") to the tax code
	// whose sales rate is that rate.
	TaxCodes map[string]string
	// NoVATTaxCode is the tax code of the marketplace VAT line: a code with
	// a sales rate of 0 that is not the seller's output VAT (UK companies:
	// "No VAT").
	NoVATTaxCode string
	// MarketplaceVAT is MarketplaceVATLine (default) or MarketplaceVATOmit.
	MarketplaceVAT string
	// Items maps line kinds to the products/services an invoice's or a
	// receipt's lines are on (an Item's income account is where QuickBooks
	// posts the line): sales, shipping and discount for per-order VAT
	// invoices; every kind posted when Document is DocumentSalesReceipt.
	Items map[accounting.LineKind]string
	// Document is DocumentJournalEntry (default) or DocumentSalesReceipt.
	Document string
}

// Clock is the time the client reads and waits on.
type Clock = httpcall.Clock

// Config configures a Client: one per tenant's QuickBooks company, since
// the rate limits and the tokens are the company's.
type Config struct {
	// Name is the connector's name: its label in metrics and logs. Default
	// Kind.
	Name string
	// TenantID is the tenant whose postings this client posts; any other
	// tenant's posting fails.
	TenantID string
	// RealmID is the QuickBooks company id. Required.
	RealmID string
	// BaseURL and TokenURL default to the production endpoints.
	BaseURL  string
	TokenURL string
	// ClientID and ClientSecret are the app's OAuth 2.0 credentials;
	// RefreshToken is the company's, as last stored. Required, resolved
	// from secret references.
	ClientID     string
	ClientSecret config.Secret
	RefreshToken config.Secret
	// OnRefreshToken receives every new refresh token Intuit issues (they
	// rotate): the caller stores it where the next start reads it from. The
	// client keeps using it in memory either way.
	OnRefreshToken func(config.Secret)
	// Mapping is the tenant's accounts and tax codes. Required.
	Mapping Mapping
	// MinorVersion is sent as minorversion. Default DefaultMinorVersion.
	MinorVersion int
	// HTTPClient makes the calls. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each call; a call that runs out is retried. Default
	// 30s.
	Timeout time.Duration
	// RatePerSecond and Burst are the company's token bucket. Default 8 a
	// second, burst 2: never more than 10 in any second nor 500 in any
	// minute (2 + 60 x 8 = 482).
	RatePerSecond float64
	Burst         int
	// MaxConcurrent bounds calls in flight. Default and maximum 10.
	MaxConcurrent int
	// Registerer receives the metrics. Nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger logs each call (operation, status, duration). Default: discard.
	Logger *slog.Logger
	// Clock defaults to the real one.
	Clock Clock
}

// Client is a QuickBooks Online connector for one company. It is safe for
// concurrent use.
type Client struct {
	cfg     Config
	base    string
	limiter *rate.Limiter
	slots   chan struct{}
	http    *httpcall.Caller
	metrics *courier.Metrics

	tokens *oauth.Tokens

	mappingMu sync.Mutex // guards mapping
	mapping   *resolved
}

// resolved is a checked mapping and what checking it learnt: the tax rate
// ids behind the mapped tax codes.
type resolved struct {
	cfg   Mapping
	rates map[string]string // VAT rate -> TaxRate Id of its code's sales rate
}

// New completes and checks cfg. It makes no call: CheckMapping does, and
// Post checks the mapping before its first posting.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	for name, raw := range map[string]string{"base_url": cfg.BaseURL, "token_url": cfg.TokenURL} {
		if !httpcall.HTTPURL(raw) {
			return nil, fmt.Errorf("quickbooks: %s is not an http(s) URL", name)
		}
	}
	var missing []string
	for name, v := range map[string]string{
		"tenant_id": cfg.TenantID, "realm_id": cfg.RealmID, "client_id": cfg.ClientID,
		"client_secret": cfg.ClientSecret.Reveal(), "refresh_token": cfg.RefreshToken.Reveal(),
		"mapping.clearing_account": cfg.Mapping.ClearingAccount, "mapping.no_vat_tax_code": cfg.Mapping.NoVATTaxCode,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("quickbooks: required: %s", strings.Join(sortedStrings(missing), ", "))
	}
	if strings.ContainsAny(cfg.RealmID, "/?#%") {
		return nil, errors.New("quickbooks: realm_id is not a company id")
	}
	for _, k := range accounting.LineKinds() {
		if k == accounting.LineMarketplaceVAT && cfg.Mapping.MarketplaceVAT == MarketplaceVATOmit {
			continue
		}
		if cfg.Mapping.Accounts[k] == "" {
			return nil, fmt.Errorf("quickbooks: mapping.accounts.%s is required", k)
		}
	}
	if len(cfg.Mapping.TaxCodes) == 0 {
		return nil, errors.New("quickbooks: mapping.tax_codes needs a tax code for each VAT rate")
	}
	switch cfg.Mapping.MarketplaceVAT {
	case "":
		cfg.Mapping.MarketplaceVAT = MarketplaceVATLine
	case MarketplaceVATLine, MarketplaceVATOmit:
	default:
		return nil, errors.New("quickbooks: mapping.marketplace_vat is not line or omit")
	}
	switch cfg.Mapping.Document {
	case "":
		cfg.Mapping.Document = DocumentJournalEntry
	case DocumentJournalEntry:
	case DocumentSalesReceipt:
		for _, k := range accounting.LineKinds() {
			if k == accounting.LineMarketplaceVAT && cfg.Mapping.MarketplaceVAT == MarketplaceVATOmit {
				continue
			}
			if cfg.Mapping.Items[k] == "" {
				return nil, fmt.Errorf("quickbooks: mapping.items.%s is required for sales receipts", k)
			}
		}
	default:
		return nil, errors.New("quickbooks: mapping.document is not journal_entry or sales_receipt")
	}
	if cfg.MinorVersion <= 0 {
		cfg.MinorVersion = DefaultMinorVersion
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 8
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 2
	}
	if cfg.MaxConcurrent <= 0 || cfg.MaxConcurrent > 10 {
		cfg.MaxConcurrent = 10
	}
	hc, err := httpcall.New(httpcall.Config{
		Provider: Kind, Name: cfg.Name, HTTPClient: cfg.HTTPClient, Timeout: cfg.Timeout,
		Logger: cfg.Logger, Clock: cfg.Clock, Registerer: cfg.Registerer, CtxDone: errCtxDone,
	})
	if err != nil {
		return nil, fmt.Errorf("quickbooks: %w", err)
	}
	cfg.HTTPClient, cfg.Timeout, cfg.Logger, cfg.Clock = hc.HTTPClient, hc.Timeout, hc.Logger, hc.Clock
	c := &Client{
		cfg:     cfg,
		base:    strings.TrimRight(cfg.BaseURL, "/") + "/v3/company/" + url.PathEscape(cfg.RealmID),
		limiter: rate.NewLimiter(rate.Limit(cfg.RatePerSecond), cfg.Burst),
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		http:    hc,
		metrics: hc.Metrics,
	}
	if c.tokens, err = newTokens(c); err != nil {
		return nil, fmt.Errorf("quickbooks: %w", err)
	}
	return c, nil
}

// Post posts each summary and adjustment as one journal entry (or, with
// DocumentSalesReceipt, a sales or refund receipt), and each
// per-order invoice as an Invoice of the party's Customer (found by name,
// or created), and returns one Result per posting, at the same index: Done
// with the document's Id; Retry (with QuickBooks' wait after a 429) on
// 429, 5xx, timeouts and refused connections; Failed when QuickBooks or the
// mapping refuses it. parties holds the decrypted invoice party of each
// invoice posting, by its IdempotencyKey (nil when there are none); a
// summary never reads it. Nothing is retried here but an expired access
// token (once): a Retry is the dispatcher's to schedule, and the requestid
// (the posting's idempotency key) makes QuickBooks answer a redelivered
// posting with the document it made the first time.
//
// The error is not nil only when no result can be trusted: ctx ended
// (ctx.Err()), or QuickBooks refused the credentials (it matches
// courier.ErrCredentialsRefused).
func (c *Client) Post(ctx context.Context, ps []accounting.Posting, parties map[string]InvoiceParty) ([]accounting.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]accounting.Result, len(ps))
	m, err := c.resolvedMapping(ctx)
	if err != nil {
		if stop := c.fatal(err); stop != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, stop
		}
		// The mapping could not be checked now: every posting waits (or
		// fails, when the mapping is wrong: an operator must act, and the
		// dispatcher parks).
		r := judge(err)
		var me *MappingError
		if errors.As(err, &me) {
			r = courier.Result{Outcome: courier.Failed, Err: err}
		}
		for i := range results {
			results[i] = accounting.Result{Result: r}
		}
		return results, nil
	}
	var wait time.Duration
	for i := range ps {
		if wait > 0 {
			// QuickBooks asked this client to wait (a 429, a 503 naming
			// when to come back): the rest is not sent into it.
			results[i] = accounting.Result{Result: courier.Result{Outcome: courier.Retry, RetryAfter: wait,
				Err: fmt.Errorf("quickbooks: posting %d not sent: QuickBooks asked to wait %s", i, wait)}}
			continue
		}
		r, err := c.post(ctx, m, &ps[i], parties)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		if r.Outcome == courier.Failed {
			r.Err = fmt.Errorf("quickbooks: posting %d: %w", i, r.Err)
			// Debug: the dispatcher parks the job and logs it.
			c.cfg.Logger.Debug("quickbooks: posting failed for good", "connector", c.cfg.Name, "posting", i, "kind", string(ps[i].Kind), "err", r.Err)
		}
		results[i] = r
		if r.Outcome == courier.Retry {
			wait = r.RetryAfter
		}
	}
	return results, nil
}

// invalid is the Failed result of a posting refused before any call.
func (c *Client) invalid(err error) accounting.Result {
	c.metrics.Requests.WithLabelValues(c.cfg.Name, courier.LabelInvalid).Inc()
	return accounting.Result{Result: courier.Result{Outcome: courier.Failed, Err: err}}
}

// post posts one posting.
func (c *Client) post(ctx context.Context, m *resolved, p *accounting.Posting, parties map[string]InvoiceParty) (accounting.Result, error) {
	if err := p.Check(); err != nil {
		return c.invalid(err), nil
	}
	if p.TenantID != c.cfg.TenantID {
		return c.invalid(errors.New("tenant_id: not this connector's tenant")), nil
	}
	if len(p.IdempotencyKey) > maxRequestID-len("-customer") {
		return c.invalid(fmt.Errorf("idempotency_key: longer than %d characters (%d)", maxRequestID-len("-customer"), len(p.IdempotencyKey))), nil
	}
	if p.Kind == accounting.KindInvoice {
		party, ok := parties[p.IdempotencyKey]
		if !ok {
			return c.invalid(errors.New("invoice_party: Post was given none for this invoice")), nil
		}
		return c.postInvoice(ctx, m, p, party)
	}
	if m.cfg.Document == DocumentSalesReceipt {
		entity, body, err := m.receipt(p)
		if err != nil {
			return c.invalid(err), nil
		}
		return c.create(ctx, entity, p.IdempotencyKey, body)
	}
	entry, err := m.journal(p)
	if err != nil {
		return c.invalid(err), nil
	}
	return c.create(ctx, "journalentry", p.IdempotencyKey, entry)
}

// entityNames are the answer members of the entities created.
var entityNames = map[string]string{
	"journalentry": "JournalEntry", "salesreceipt": "SalesReceipt", "refundreceipt": "RefundReceipt",
	"invoice": "Invoice", "customer": "Customer",
}

// create posts one document of entity with its requestid and judges the
// answer: Done with the document's Id.
func (c *Client) create(ctx context.Context, entity, requestID string, body any) (accounting.Result, error) {
	var answer map[string]json.RawMessage
	err := c.call(ctx, entity, http.MethodPost, "/"+entity, url.Values{"requestid": {requestID}}, body, &answer)
	if err != nil {
		if stop := c.fatal(err); stop != nil {
			return accounting.Result{}, stop
		}
		return accounting.Result{Result: judge(err)}, nil
	}
	var doc struct {
		ID string `json:"Id"`
	}
	if json.Unmarshal(answer[entityNames[entity]], &doc) != nil || doc.ID == "" {
		return accounting.Result{Result: courier.Result{Outcome: courier.Retry, Err: fmt.Errorf("quickbooks %s: the answer holds no document id", entity)}}, nil
	}
	return accounting.Result{
		Result:         courier.Result{Outcome: courier.Done},
		ProviderID:     doc.ID,
		ProviderStatus: "posted", // QuickBooks has no draft state for any of them
	}, nil
}

// fatal returns the error Post must return instead of results: the
// caller's context ended, or the credentials were refused.
func (c *Client) fatal(err error) error {
	if c.http.Stops(err) {
		return err
	}
	return nil
}

// judge is the outcome of a posting whose call failed.
func judge(err error) courier.Result {
	var he *HTTPError
	if errors.As(err, &he) {
		return httpcall.Judge(he.Status, he.RetryAfter, err)
	}
	return courier.Result{Outcome: courier.Retry, Err: err} // timeouts, refused connections, cut answers
}

// errCtxDone marks the caller's context ending, which is no transient fault.
var errCtxDone = errors.New("quickbooks: context ended")

// call makes one rate-limited API call with a current access token and
// decodes a 2xx answer into answer. A 401 refreshes the token and tries
// once more.
func (c *Client) call(ctx context.Context, op, method, path string, q url.Values, body, answer any) error {
	payload, err := c.http.Encode(op, body)
	if err != nil {
		return err
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("minorversion", strconv.Itoa(c.cfg.MinorVersion))
	target := c.base + path + "?" + q.Encode()
	// A 401: the token expired early or was revoked; Call refreshes it once
	// (once between the calls that carried it).
	return c.tokens.Call(ctx, func(access string) (bool, error) {
		status, data, hdr, err := c.do(ctx, op, method, target, "Bearer "+access, "application/json", payload)
		if err != nil {
			return false, err
		}
		if status < 200 || status > 299 {
			return status == http.StatusUnauthorized, newHTTPError(op, status, data, hdr, c.cfg.Clock.Now())
		}
		return false, c.http.Decode(op, data, answer)
	})
}

// do sends one request, rate-limited, and reads its answer.
func (c *Client) do(ctx context.Context, op, method, target, auth, contentType string, payload []byte) (int, []byte, http.Header, error) {
	if err := c.http.Wait(ctx, c.limiter); err != nil {
		return 0, nil, nil, err
	}
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return 0, nil, nil, fmt.Errorf("%w: %w", errCtxDone, ctx.Err())
	}
	// The URL holds the requestid, or is the refresh grant's endpoint: Do's
	// errors never name it.
	a, err := c.http.Do(ctx, httpcall.Request{
		Op: op, Method: method, URL: target, Authorization: auth, ContentType: contentType, Body: payload,
	})
	if err != nil {
		return 0, nil, nil, err
	}
	return a.Status, a.Body, a.Header, nil
}
