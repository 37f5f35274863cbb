// Package xero is the Xero accounting connector: it posts each accounting
// Posting as a sales invoice (ACCREC), or, when it is negative, as a sales
// credit note (ACCRECCREDIT) or a bill (ACCPAY), on the tenant's mapped
// accounts and tax types, with the posting's idempotency key; and it checks
// the mapping against the organisation's accounts and tax rates at start.
//
// API facts (Xero's OpenAPI spec XeroAPI/Xero-OpenAPI xero_accounting.yaml;
// developer.xero.com/faq/limits and /faq/oauth2): base URL
// https://api.xero.com/api.xro/2.0, "Authorization: Bearer <access token>"
// and the "xero-tenant-id" header on every call; PUT /Invoices and PUT
// /CreditNotes create, with an optional "Idempotency-Key" header (128
// characters at most); GET /Accounts and GET /TaxRates list the
// organisation's. Access tokens live 30 minutes and are refreshed at
// https://identity.xero.com/connect/token with the refresh token, which
// Xero rotates on every refresh. Per organisation: 5 calls in flight, 60 a
// minute, 5,000 a day; beyond them a 429 with Retry-After and
// X-Rate-Limit-Problem ("minute", "day", ...).
package xero

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	"github.com/orderflow/orderflow/worker/order"
)

// Kind is the connector kind (and its label in metrics by default).
const Kind = "xero"

// Defaults of Config.
const (
	DefaultBaseURL  = "https://api.xero.com/api.xro/2.0"
	DefaultTokenURL = "https://identity.xero.com/connect/token"
)

// maxIdempotencyKey is Xero's bound on the Idempotency-Key header.
const maxIdempotencyKey = 128

// Settings of Mapping.
const (
	StatusDraft      = "DRAFT"
	StatusAuthorised = "AUTHORISED"

	RefundsLines      = "lines"       // refunds are negative lines of the invoice
	RefundsCreditNote = "credit_note" // refunds go on a credit note of their own

	MarketplaceVATLine = "line" // on its own line and account, with no tax
	MarketplaceVATOmit = "omit" // not posted

	NegativeCreditNote = "credit_note" // a negative posting is an ACCRECCREDIT
	NegativeBill       = "bill"        // a negative posting is an ACCPAY bill
)

// Mapping is a tenant's chart of accounts as the connector posts to it.
type Mapping struct {
	// Accounts maps each line kind the tenant's postings carry to an
	// account code of the organisation (GET /Accounts). Required for
	// sales; a posting with a line of an unmapped kind fails.
	Accounts map[accounting.LineKind]string
	// TaxTypes maps a VAT rate as postings write it ("20", "5", "0") to the
	// organisation's tax type for sales at that rate (GET /TaxRates: a UK
	// organisation's are typically OUTPUT2, RROUTPUT, ZERORATEDOUTPUT).
	// Required.
	TaxTypes map[string]string
	// BillTaxTypes are the tax types of a bill's lines (NegativeBill), by
	// VAT rate (INPUT2, ...). Default TaxTypes.
	BillTaxTypes map[string]string
	// NoTaxType is the tax type of the lines that carry no VAT of the
	// seller's: marketplace-collected VAT. Default "NONE".
	NoTaxType string
	// Contacts names the Xero contact of each marketplace's summaries.
	// Default "orderflow <marketplace>".
	Contacts map[string]string
	// Status is the documents' status: StatusDraft (default) or
	// StatusAuthorised.
	Status string
	// DueDays puts an invoice's due date this many days after its date (the
	// period's last day). Default 0.
	DueDays int
	// Refunds is RefundsLines (default) or RefundsCreditNote.
	Refunds string
	// MarketplaceVAT is MarketplaceVATLine (default) or MarketplaceVATOmit.
	MarketplaceVAT string
	// Negative is NegativeCreditNote (default) or NegativeBill.
	Negative string
}

// Clock is the time the client reads and waits on: the rate limiter's, the
// token expiry's and Retry-After's. Tests inject one that never sleeps.
type Clock = httpcall.Clock

// Config configures a Client: one per Xero organisation (one tenant's), since
// the rate limits and the tokens are the organisation connection's.
type Config struct {
	// Name is the connector's name: its label in metrics and logs. Default
	// Kind.
	Name string
	// TenantID is the orderflow tenant whose postings this client posts;
	// others are refused. Required.
	TenantID string
	// XeroTenantID is the organisation's id (the xero-tenant-id header, from
	// GET https://api.xero.com/connections). Required.
	XeroTenantID string
	// BaseURL is the Accounting API's root. Default DefaultBaseURL.
	BaseURL string
	// TokenURL is the OAuth2 token endpoint. Default DefaultTokenURL.
	TokenURL string
	// ClientID and ClientSecret are the Xero app's. Required.
	ClientID     string
	ClientSecret config.Secret
	// RefreshToken is the connection's refresh token (offline_access), from
	// a secret reference. Required. Xero rotates it on every refresh: the
	// client keeps the new one and calls OnRefreshToken with it.
	RefreshToken config.Secret
	// OnRefreshToken, if set, receives each rotated refresh token, to store
	// where RefreshToken is read from next time. Called synchronously, while
	// no other call refreshes; it must not call the Client.
	OnRefreshToken func(config.Secret)
	// Mapping is the tenant's accounts and settings.
	Mapping Mapping
	// HTTPClient makes the calls. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each call; a call that runs out is retried. Default 30s.
	Timeout time.Duration
	// PerMinute, Concurrent and PerDay are the organisation's limits.
	// Defaults 60, 5 and 5,000 (Xero's).
	PerMinute  int
	Concurrent int
	PerDay     int
	// Registerer receives the metrics. Nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger logs each call (operation, status, duration) and each refused
	// posting (its index and the refusal's codes). Default: discard.
	Logger *slog.Logger
	// Clock defaults to the real one.
	Clock Clock
}

// Client is a Xero connector for one organisation. It is safe for
// concurrent use; its calls share the organisation's limits.
type Client struct {
	cfg     Config
	base    string
	minute  *rate.Limiter
	day     *rate.Limiter
	slots   chan struct{}
	http    *httpcall.Caller
	metrics *courier.Metrics
	tokens  *oauth.Tokens

	mu          sync.Mutex
	pausedUntil time.Time // after a 429: no call before
}

// New completes and checks cfg.
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
	var errs []error
	for key, v := range map[string]string{"base_url": cfg.BaseURL, "token_url": cfg.TokenURL} {
		if !httpcall.HTTPURL(v) {
			errs = append(errs, fmt.Errorf("xero: %s is not an http(s) URL", key))
		}
	}
	if !order.ValidTenantID(cfg.TenantID) {
		errs = append(errs, errors.New("xero: tenant_id is not a tenant id"))
	}
	if cfg.XeroTenantID == "" {
		errs = append(errs, errors.New("xero: xero_tenant_id (the organisation's id) is required"))
	}
	if cfg.ClientID == "" || cfg.ClientSecret.Reveal() == "" || cfg.RefreshToken.Reveal() == "" {
		errs = append(errs, errors.New("xero: client_id, client_secret and refresh_token are required (secrets by reference: env or file)"))
	}
	m := &cfg.Mapping
	if m.NoTaxType == "" {
		m.NoTaxType = "NONE"
	}
	if m.Status == "" {
		m.Status = StatusDraft
	}
	if m.Refunds == "" {
		m.Refunds = RefundsLines
	}
	if m.MarketplaceVAT == "" {
		m.MarketplaceVAT = MarketplaceVATLine
	}
	if m.Negative == "" {
		m.Negative = NegativeCreditNote
	}
	if m.BillTaxTypes == nil {
		m.BillTaxTypes = m.TaxTypes
	}
	if m.Accounts[accounting.LineSales] == "" {
		errs = append(errs, errors.New("xero: mapping.accounts.sales is required"))
	}
	if len(m.TaxTypes) == 0 {
		errs = append(errs, errors.New("xero: mapping.tax_types is required"))
	}
	if m.Status != StatusDraft && m.Status != StatusAuthorised {
		errs = append(errs, errors.New("xero: mapping.status is not DRAFT or AUTHORISED"))
	}
	if m.Refunds != RefundsLines && m.Refunds != RefundsCreditNote {
		errs = append(errs, errors.New("xero: mapping.refunds is not lines or credit_note"))
	}
	if m.MarketplaceVAT != MarketplaceVATLine && m.MarketplaceVAT != MarketplaceVATOmit {
		errs = append(errs, errors.New("xero: mapping.marketplace_vat is not line or omit"))
	}
	if m.Negative != NegativeCreditNote && m.Negative != NegativeBill {
		errs = append(errs, errors.New("xero: mapping.negative is not credit_note or bill"))
	}
	if m.DueDays < 0 {
		errs = append(errs, errors.New("xero: mapping.due_days is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = 60
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 5
	}
	if cfg.PerDay <= 0 {
		cfg.PerDay = 5000
	}
	hc, err := httpcall.New(httpcall.Config{
		Provider: Kind, Name: cfg.Name, HTTPClient: cfg.HTTPClient, Timeout: cfg.Timeout,
		Logger: cfg.Logger, Clock: cfg.Clock, Registerer: cfg.Registerer, CtxDone: errCtxDone,
	})
	if err != nil {
		return nil, fmt.Errorf("xero: %w", err)
	}
	cfg.HTTPClient, cfg.Timeout, cfg.Logger, cfg.Clock = hc.HTTPClient, hc.Timeout, hc.Logger, hc.Clock
	c := &Client{
		cfg:  cfg,
		base: strings.TrimRight(cfg.BaseURL, "/"),
		// One call every minute/PerMinute, no burst: a fixed minute window
		// can never see more than PerMinute.
		minute:  rate.NewLimiter(rate.Every(time.Minute/time.Duration(cfg.PerMinute)), 1),
		day:     rate.NewLimiter(rate.Every(24*time.Hour/time.Duration(cfg.PerDay)), cfg.PerDay),
		slots:   make(chan struct{}, cfg.Concurrent),
		http:    hc,
		metrics: hc.Metrics,
	}
	if c.tokens, err = newTokens(c); err != nil {
		return nil, fmt.Errorf("xero: %w", err)
	}
	return c, nil
}

// Post posts ps and returns one Result per Posting, at the same index.
// parties holds the decrypted invoice party of each KindInvoice posting, by
// its IdempotencyKey; summaries need none. Nothing is retried here: a Retry
// is the dispatcher's to schedule (after Result.RetryAfter when Xero gave
// one). A redelivered posting carries the same Idempotency-Key, so Xero
// answers with the document it created the first time.
//
// The error is not nil only when no result can be trusted: ctx ended
// (ctx.Err()), or Xero refused the credentials (it matches
// courier.ErrCredentialsRefused).
func (c *Client) Post(ctx context.Context, ps []accounting.Posting, parties map[string]accounting.InvoiceParty) ([]accounting.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]accounting.Result, len(ps))
	for i := range ps {
		p := &ps[i]
		var party *accounting.InvoiceParty
		if pp, ok := parties[p.IdempotencyKey]; ok && p.Kind == accounting.KindInvoice {
			party = &pp
		}
		works, err := c.build(p, party)
		if err != nil {
			c.metrics.Requests.WithLabelValues(c.cfg.Name, courier.LabelInvalid).Inc()
			results[i] = accounting.Result{Result: courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("xero: posting %d: %w", i, err)}}
			// Debug: the dispatcher parks the job and logs it.
			c.cfg.Logger.Debug("xero: posting refused before sending", "connector", c.cfg.Name, "posting", i, "err", results[i].Err)
			continue
		}
		r, err := c.post(ctx, works)
		if err != nil {
			return nil, err
		}
		if r.Err != nil {
			r.Err = fmt.Errorf("xero: posting %d: %w", i, r.Err)
			if r.Outcome == courier.Failed {
				c.cfg.Logger.Debug("xero: posting failed for good", "connector", c.cfg.Name, "posting", i, "err", r.Err)
			}
		}
		results[i] = r
	}
	return results, nil
}

// post creates a posting's documents, in order. Its ProviderID is the
// documents' ids joined by "+" (invoice first, then the refunds' credit
// note); a posting that rounds to nothing is Done with none.
func (c *Client) post(ctx context.Context, works []work) (accounting.Result, error) {
	var ids, statuses []string
	for _, w := range works {
		id, status, err := c.create(ctx, w)
		if err != nil {
			r, fatal := c.judge(err)
			return r, fatal
		}
		ids = append(ids, id)
		statuses = append(statuses, status)
	}
	return accounting.Result{
		Result:         courier.Result{Outcome: courier.Done},
		ProviderID:     strings.Join(ids, "+"),
		ProviderStatus: strings.Join(statuses, "+"),
	}, nil
}

// create makes one document and returns its id and status.
func (c *Client) create(ctx context.Context, w work) (id, status string, err error) {
	if len(w.key) > maxIdempotencyKey {
		return "", "", errors.New("idempotency key longer than 128 characters")
	}
	type answerDoc struct {
		InvoiceID    string `json:"InvoiceID"`
		CreditNoteID string `json:"CreditNoteID"`
		Status       string `json:"Status"`
	}
	var answer struct {
		Invoices    []answerDoc `json:"Invoices"`
		CreditNotes []answerDoc `json:"CreditNotes"`
	}
	var body any
	path, op := "/Invoices", "create invoice"
	if w.doc.creditNote() {
		path, op = "/CreditNotes", "create credit note"
		body = map[string][]document{"CreditNotes": {w.doc}}
	} else {
		body = map[string][]document{"Invoices": {w.doc}}
	}
	if err := c.call(ctx, op, http.MethodPut, path, w.key, body, &answer); err != nil {
		return "", "", err
	}
	docs := answer.Invoices
	if w.doc.creditNote() {
		docs = answer.CreditNotes
	}
	if len(docs) != 1 {
		return "", "", fmt.Errorf("xero %s: the answer holds %d documents, not 1", op, len(docs))
	}
	d := docs[0]
	id = d.InvoiceID
	if w.doc.creditNote() {
		id = d.CreditNoteID
	}
	if safeToken(id) == "" || safeToken(d.Status) == "" {
		return "", "", fmt.Errorf("xero %s: the answer has no document id or status", op)
	}
	return id, d.Status, nil
}

// judge turns a failed create into the posting's Result, or the error Post
// returns instead of results.
func (c *Client) judge(err error) (accounting.Result, error) {
	var he *HTTPError
	var le *limitError
	switch {
	case c.http.Stops(err):
		return accounting.Result{}, err
	case errors.As(err, &he):
		return accounting.Result{Result: httpcall.Judge(he.Status, he.RetryAfter, err)}, nil
	case errors.As(err, &le):
		return accounting.Result{Result: courier.Result{Outcome: courier.Retry, RetryAfter: le.wait, Err: err}}, nil
	}
	// Timeouts, refused connections, cut answers, a token endpoint that is
	// down: worth another try.
	return accounting.Result{Result: courier.Result{Outcome: courier.Retry, Err: err}}, nil
}

// errCtxDone marks the caller's context ending, which is no transient fault.
var errCtxDone = errors.New("xero: context ended")

// limitError is a call not made because the organisation's limits would
// refuse it: Xero's 429 earlier, or the day's budget spent.
type limitError struct {
	problem string
	wait    time.Duration
}

func (e *limitError) Error() string {
	return fmt.Sprintf("xero: %s limit reached, not calling for %s", e.problem, e.wait.Round(time.Second))
}

// CheckMapping verifies the mapping against the organisation: every mapped
// account code is an active account (GET /Accounts), every mapped tax type
// an active tax rate (GET /TaxRates) whose effective rate is the VAT rate it
// is mapped from, and the no-tax type exists. The error names each key and
// code that is missing; it matches courier.ErrCredentialsRefused when Xero
// refuses the credentials.
func (c *Client) CheckMapping(ctx context.Context) error {
	var accounts struct {
		Accounts []struct {
			Code   string `json:"Code"`
			Status string `json:"Status"`
		} `json:"Accounts"`
	}
	if err := c.call(ctx, "list accounts", http.MethodGet, "/Accounts", "", nil, &accounts); err != nil {
		return fmt.Errorf("xero check mapping: %w", err)
	}
	var taxRates struct {
		TaxRates []struct {
			TaxType       string      `json:"TaxType"`
			Status        string      `json:"Status"`
			EffectiveRate json.Number `json:"EffectiveRate"`
		} `json:"TaxRates"`
	}
	if err := c.call(ctx, "list tax rates", http.MethodGet, "/TaxRates", "", nil, &taxRates); err != nil {
		return fmt.Errorf("xero check mapping: %w", err)
	}
	active := map[string]bool{}
	for _, a := range accounts.Accounts {
		if a.Status == "ACTIVE" {
			active[a.Code] = true
		}
	}
	rates := map[string]order.Amount{}
	for _, t := range taxRates.TaxRates {
		if t.Status != "ACTIVE" {
			continue
		}
		r, err := order.ParseAmount(t.EffectiveRate.String())
		if err != nil {
			r = -1
		}
		rates[t.TaxType] = r
	}
	m := &c.cfg.Mapping
	var errs []error
	for _, k := range accounting.LineKinds() {
		code, ok := m.Accounts[k]
		if !ok || (k == accounting.LineMarketplaceVAT && m.MarketplaceVAT == MarketplaceVATOmit) {
			continue
		}
		if !active[code] {
			errs = append(errs, fmt.Errorf("mapping.accounts.%s: account code %q is not an active account of the organisation", k, code))
		}
	}
	checkRates := func(key string, types map[string]string) {
		for _, rate := range sortedKeys(types) {
			tt := types[rate]
			got, ok := rates[tt]
			want, err := order.ParseAmount(rate)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s.%s: tax type %q is not an active tax rate of the organisation", key, rate, tt))
			case err != nil || got != want:
				errs = append(errs, fmt.Errorf("%s.%s: tax type %q has another effective rate", key, rate, tt))
			}
		}
	}
	checkRates("mapping.tax_types", m.TaxTypes)
	if m.Negative == NegativeBill {
		checkRates("mapping.bill_tax_types", m.BillTaxTypes)
	}
	if got, ok := rates[m.NoTaxType]; !ok || got != 0 {
		errs = append(errs, fmt.Errorf("mapping.no_tax_type: tax type %q is not an active tax rate of 0%% of the organisation", m.NoTaxType))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("xero check mapping: %w: %w", accounting.ErrMapping, err)
	}
	return nil
}

// call makes one API call under the organisation's limits and decodes a
// 2xx answer into answer. A 401 refreshes the access token and tries once
// more.
func (c *Client) call(ctx context.Context, op, method, path, key string, body, answer any) error {
	payload, err := c.http.Encode(op, body)
	if err != nil {
		return err
	}
	return c.tokens.Call(ctx, func(access string) (bool, error) {
		err := c.once(ctx, op, method, path, key, access, payload, answer)
		var he *HTTPError
		return errors.As(err, &he) && he.Status == http.StatusUnauthorized, err
	})
}

// once makes one HTTP request.
func (c *Client) once(ctx context.Context, op, method, path, key, access string, payload []byte, answer any) error {
	release, err := c.admit(ctx)
	if err != nil {
		return err
	}
	defer release()
	header := map[string]string{"xero-tenant-id": c.cfg.XeroTenantID}
	if key != "" {
		header["Idempotency-Key"] = key
	}
	a, err := c.http.Do(ctx, httpcall.Request{
		Op: op, Method: method, URL: c.base + path, Authorization: "Bearer " + access, Body: payload, Header: header,
	})
	if err != nil {
		return err
	}
	if !a.OK() {
		he := newHTTPError(op, a.Status, a.Header, a.Body, c.cfg.Clock.Now())
		if he.Status == http.StatusTooManyRequests {
			c.pause(he.RetryAfter)
		}
		return he
	}
	return c.http.Decode(op, a.Body, answer)
}

// admit waits for the organisation's minute bucket and a free slot of the
// concurrent limit. It refuses at once, without waiting, when Xero asked
// for a pause (429) or the day's budget is spent: the posting is retried
// later by the dispatcher rather than hold a worker for hours.
func (c *Client) admit(ctx context.Context) (release func(), err error) {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	paused := c.pausedUntil.Sub(now)
	c.mu.Unlock()
	if paused > 0 {
		return nil, &limitError{problem: "Xero's", wait: paused}
	}
	day := c.day.ReserveN(now, 1)
	if d := day.DelayFrom(now); d > 0 {
		day.CancelAt(now)
		return nil, &limitError{problem: "daily", wait: d}
	}
	minute := c.minute.ReserveN(now, 1)
	if d := minute.DelayFrom(now); d > 0 {
		c.metrics.RateLimitWaits.WithLabelValues(c.cfg.Name).Inc()
		if err := c.cfg.Clock.Sleep(ctx, d); err != nil {
			minute.CancelAt(c.cfg.Clock.Now())
			day.CancelAt(c.cfg.Clock.Now())
			return nil, fmt.Errorf("%w: %w", errCtxDone, err)
		}
	}
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errCtxDone, ctx.Err())
	}
}

// pause holds every call back for d after a 429 (at least a second when
// Xero gave no Retry-After: the concurrent limit's 429 has none).
func (c *Client) pause(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	until := c.cfg.Clock.Now().Add(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
}
