// Package xerotest is a stand-in for Xero's Accounting API and its OAuth2
// token endpoint over real HTTP (httptest). It checks every request against
// the documented contract (the bearer access token it issued, the
// xero-tenant-id header, the Idempotency-Key on every create and its 128
// characters, the create body against contract/create-request.schema.json:
// required fields, types, enums, lengths, two-place amounts, no undocumented
// field), keeps a ledger of the documents created with their lines and
// totals, answers a repeated Idempotency-Key with its first answer and
// creates nothing, serves GET /Accounts and /TaxRates, rotates refresh
// tokens, enforces the concurrent (and, when configured, the minute) limit,
// and fails on demand: 429 with Retry-After and X-Rate-Limit-Problem, 5xx,
// slow answers, validation errors in Xero's shape, and faults after the
// document is made.
package xerotest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/orderflow/orderflow/connectors/accounting/accountingtest"
	"github.com/orderflow/orderflow/worker/order"
)

//go:embed contract/create-request.schema.json
var createSchemaJSON []byte

// Account is an account of the organisation (GET /Accounts).
type Account struct {
	Code   string
	Name   string
	Status string // ACTIVE, ARCHIVED
}

// TaxRate is a tax rate of the organisation (GET /TaxRates).
type TaxRate struct {
	TaxType       string
	Name          string
	Status        string // ACTIVE, DELETED, ARCHIVED
	EffectiveRate string // a decimal: "20", "5", "0"
}

// DefaultAccounts and DefaultTaxRates are a UK organisation's, as a test
// tenant maps them.
var (
	DefaultAccounts = []Account{
		{"200", "Sales", "ACTIVE"}, {"205", "Shipping income", "ACTIVE"}, {"210", "Discounts given", "ACTIVE"},
		{"215", "Refunds", "ACTIVE"}, {"825", "Marketplace-collected VAT", "ACTIVE"}, {"299", "Old sales", "ARCHIVED"},
	}
	DefaultTaxRates = []TaxRate{
		{"OUTPUT2", "20% (VAT on Income)", "ACTIVE", "20"}, {"RROUTPUT", "5% (VAT on Income)", "ACTIVE", "5"},
		{"ZERORATEDOUTPUT", "Zero Rated Income", "ACTIVE", "0"}, {"INPUT2", "20% (VAT on Expenses)", "ACTIVE", "20"},
		{"RRINPUT", "5% (VAT on Expenses)", "ACTIVE", "5"}, {"ZERORATEDINPUT", "Zero Rated Expenses", "ACTIVE", "0"},
		{"NONE", "No VAT", "ACTIVE", "0"}, {"EXEMPTOUTPUT", "Exempt Income", "ACTIVE", "0"},
	}
	// OSSTaxRates are DefaultTaxRates and an organisation's One Stop Shop
	// rates for selling across Europe: OSSDE19 (19%) and OSSIE23 (23%).
	OSSTaxRates = append(slices.Clone(DefaultTaxRates),
		TaxRate{"OSSDE19", "19% OSS (DE)", "ACTIVE", "19"}, TaxRate{"OSSIE23", "23% OSS (IE)", "ACTIVE", "23"})
)

// Config configures a Server.
type Config struct {
	// XeroTenantID is the organisation's id. Default "11111111-2222-4333-8444-555555555555".
	XeroTenantID string
	// ClientID and ClientSecret are the app's. Defaults "test-client", "test-secret".
	ClientID, ClientSecret string
	// RefreshToken is the refresh token first issued. Default "refresh-0".
	RefreshToken string
	// Accounts and TaxRates are the organisation's. Defaults above.
	Accounts []Account
	TaxRates []TaxRate
	// Concurrent is the most calls in flight; one more is answered 429
	// (concurrent) and is a violation. Default 5.
	Concurrent int
	// PerMinute, when set, answers 429 (minute) beyond that many API calls
	// in a fixed minute of real time, and counts it a violation.
	PerMinute int
}

// Fault is how the server answers one API call instead of normally.
type Fault struct {
	// Status, when set, is the answer's status (429, 500, 503, 400, 401).
	// A 400 is Xero's ValidationException, whose message quotes the
	// document's contact name, as Xero's do.
	Status int
	// RetryAfter is the Retry-After header sent with Status.
	RetryAfter string
	// RateLimitProblem is the X-Rate-Limit-Problem header of a 429
	// ("minute", "day", "concurrent").
	RateLimitProblem string
	// Delay holds the answer back this long first (or until the client
	// gives up); with no Status the call is then answered normally.
	Delay time.Duration
	// AfterApply carries out the create first, then answers Status: the
	// document is made and the client never hears of it. Such a fault waits
	// for the next create; reads before it are answered normally.
	AfterApply bool
}

// Line is a line of a ledger document, amounts in pennies.
type Line struct {
	Description string
	AccountCode string
	TaxType     string
	LineAmount  int64
	TaxAmount   int64
}

// Document is an invoice or credit note of the ledger.
type Document struct {
	ID             string
	Endpoint       string // "Invoices" or "CreditNotes"
	Type           string
	Status         string
	Reference      string
	InvoiceNumber  string
	ContactName    string
	Currency       string
	Date           string
	IdempotencyKey string
	Lines          []Line
	// SubTotal, TotalTax and Total are in pennies, summed from the lines.
	SubTotal, TotalTax, Total int64
	// Body is the document as received.
	Body json.RawMessage
}

// Call is a request the server received.
type Call struct {
	Method string
	Path   string
	Status int
	// Replayed is true when a repeated Idempotency-Key was answered with
	// its first answer.
	Replayed bool
}

type stored struct {
	status int
	body   []byte
	req    []byte
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the Accounting API's base URL (xero.Config.BaseURL); TokenURL
	// the token endpoint's (xero.Config.TokenURL).
	URL, TokenURL string

	cfg    Config
	srv    *httptest.Server
	schema *jsonschema.Schema

	rec    accountingtest.Record[Call]
	faults accountingtest.Faults[Fault]
	issuer *accountingtest.Issuer

	mu          sync.Mutex
	docs        []*Document
	keys        map[string]stored
	nextID      int
	inFlight    int
	minuteStart time.Time
	minuteCalls int
}

// New starts a server for the test; it stops at the test's end, and the test
// fails if any request broke the contract.
func New(t testing.TB, cfg Config) *Server {
	return accountingtest.New(t, "xerotest", Start, cfg)
}

// Start starts a server outside a test (orderflow demo); Close stops it, and
// Violations says what broke the contract.
func Start(cfg Config) (*Server, error) {
	if cfg.XeroTenantID == "" {
		cfg.XeroTenantID = "11111111-2222-4333-8444-555555555555"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "test-client"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "test-secret"
	}
	if cfg.RefreshToken == "" {
		cfg.RefreshToken = "refresh-0"
	}
	if cfg.Accounts == nil {
		cfg.Accounts = DefaultAccounts
	}
	if cfg.TaxRates == nil {
		cfg.TaxRates = DefaultTaxRates
	}
	if cfg.Concurrent <= 0 {
		cfg.Concurrent = 5
	}
	schema, err := compileSchema()
	if err != nil {
		return nil, fmt.Errorf("xerotest: contract: %w", err)
	}
	s := &Server{cfg: cfg, schema: schema, keys: map[string]stored{}}
	s.faults.AfterApply = func(f Fault) bool { return f.AfterApply }
	s.issuer = accountingtest.NewIssuer(accountingtest.IssuerConfig{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RefreshToken: cfg.RefreshToken,
		Tokens:  accountingtest.Numbered("access-", "refresh-"),
		TTL:     30 * time.Minute,
		Extra:   map[string]any{"scope": "offline_access accounting.transactions accounting.settings"},
		Violate: s.rec.Violate,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/connect/token", func(w http.ResponseWriter, r *http.Request) { s.issuer.Serve(w, r) })
	mux.HandleFunc("/api.xro/2.0/", s.handle)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api.xro/2.0"
	s.TokenURL = s.srv.URL + "/connect/token"
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// XeroTenantID is the organisation's id the server expects.
func (s *Server) XeroTenantID() string { return s.cfg.XeroTenantID }

func compileSchema() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(createSchemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("create-request.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("create-request.schema.json")
}

// Fail queues faults: each of the next API calls is answered with the next.
func (s *Server) Fail(faults ...Fault) { s.faults.Add(faults...) }

// ExpireAccessTokens makes every access token issued so far expired: the
// next call with one is answered 401, as Xero answers after 30 minutes.
func (s *Server) ExpireAccessTokens() { s.issuer.ExpireAccessTokens() }

// RevokeRefreshToken makes the next refresh fail with invalid_grant, as
// when the organisation disconnects the app.
func (s *Server) RevokeRefreshToken() { s.issuer.RevokeRefreshToken() }

// RefreshToken is the refresh token the server accepts now.
func (s *Server) RefreshToken() string { return s.issuer.RefreshToken() }

// Refreshes counts the successful token refreshes.
func (s *Server) Refreshes() int { return s.issuer.Refreshes() }

// Documents is the ledger, in creation order.
func (s *Server) Documents() []Document {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Document, len(s.docs))
	for i, d := range s.docs {
		out[i] = *d
		out[i].Lines = append([]Line(nil), d.Lines...)
	}
	return out
}

// Violations lists the requests that broke the contract.
func (s *Server) Violations() []string { return s.rec.Violations() }

// Requests counts the API calls that arrived (not the token endpoint's),
// answered or not yet: Calls lists a call once answered, which a call the
// client gave up on (a slow answer) may be only after the client returned.
func (s *Server) Requests() int { return s.rec.Requests() }

// Calls lists the API calls received (not the token endpoint's).
func (s *Server) Calls() []Call { return s.rec.Calls() }

var answer = accountingtest.Answer

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.rec.Arrived()
	call := Call{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api.xro/2.0")}
	call.Status = s.serve(w, r, &call)
	s.rec.Answered(call)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, call *Call) int {
	valid, bearer := s.issuer.Valid(r.Header.Get("Authorization"))
	if !bearer {
		s.rec.Violate("%s %s: Authorization is not a bearer token", r.Method, call.Path)
	}
	if !valid {
		return answer(w, http.StatusUnauthorized, map[string]any{"Type": nil, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"})
	}
	if got := r.Header.Get("xero-tenant-id"); got != s.cfg.XeroTenantID {
		s.rec.Violate("%s %s: xero-tenant-id is not the organisation's", r.Method, call.Path)
		return answer(w, http.StatusForbidden, map[string]any{"Type": nil, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"})
	}
	if status := s.limits(w, r, call); status != 0 {
		return status
	}
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	if f, ok := s.faults.Next(write); ok {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return 0
			}
		}
		if f.AfterApply {
			s.route(httptest.NewRecorder(), r, call) // applied; its answer lost
		}
		if f.Status != 0 {
			return s.fault(w, r, f)
		}
		if f.AfterApply {
			return http.StatusOK
		}
	}
	return s.route(w, r, call)
}

// limits counts the call in flight and in its minute; beyond the limits it
// answers 429 and records the violation (the client is to honour them).
func (s *Server) limits(w http.ResponseWriter, r *http.Request, call *Call) int {
	s.mu.Lock()
	s.inFlight++
	over := s.inFlight > s.cfg.Concurrent
	problem := "concurrent"
	if !over && s.cfg.PerMinute > 0 {
		now := time.Now()
		if now.Sub(s.minuteStart) >= time.Minute {
			s.minuteStart, s.minuteCalls = now, 0
		}
		s.minuteCalls++
		over, problem = s.minuteCalls > s.cfg.PerMinute, "minute"
	}
	if over {
		s.inFlight--
	}
	s.mu.Unlock()
	if !over {
		return 0
	}
	s.rec.Violate("%s %s: over the %s limit", r.Method, call.Path, problem)
	w.Header().Set("X-Rate-Limit-Problem", problem)
	if problem == "minute" {
		w.Header().Set("Retry-After", "60")
	}
	return answer(w, http.StatusTooManyRequests, map[string]any{"Title": "Too Many Requests", "Status": 429})
}

// fault answers a fault's status in Xero's shapes.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, f Fault) int {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Status == http.StatusTooManyRequests:
		if f.RateLimitProblem != "" {
			w.Header().Set("X-Rate-Limit-Problem", f.RateLimitProblem)
		}
		return answer(w, f.Status, map[string]any{"Title": "Too Many Requests", "Status": 429})
	case f.Status == http.StatusBadRequest:
		// Xero's validation errors echo the document and quote its values:
		// a client must keep neither.
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		return validation(w, "Injected refusal of "+body.String())
	case f.Status == http.StatusUnauthorized:
		return answer(w, f.Status, map[string]any{"Type": nil, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})
	}
	return answer(w, f.Status, map[string]any{"ErrorNumber": 500, "Type": "UnknownErrorException", "Message": "An error occurred in Xero (injected)"})
}

// validation answers Xero's ValidationException (ErrorNumber 10) with the
// given messages, each of which may quote the document.
func validation(w http.ResponseWriter, messages ...string) int {
	ves := make([]map[string]string, len(messages))
	for i, m := range messages {
		ves[i] = map[string]string{"Message": m}
	}
	return answer(w, http.StatusBadRequest, map[string]any{
		"ErrorNumber": 10, "Type": "ValidationException", "Message": "A validation exception occurred",
		"Elements": []map[string]any{{"ValidationErrors": ves}},
	})
}

// route carries out one call of the documented API.
func (s *Server) route(w http.ResponseWriter, r *http.Request, call *Call) int {
	switch {
	case r.Method == http.MethodGet && call.Path == "/Accounts":
		var out []map[string]string
		for _, a := range s.cfg.Accounts {
			out = append(out, map[string]string{"AccountID": "acc-" + a.Code, "Code": a.Code, "Name": a.Name, "Status": a.Status, "Type": "REVENUE"})
		}
		return answer(w, http.StatusOK, map[string]any{"Status": "OK", "Accounts": out})
	case r.Method == http.MethodGet && call.Path == "/TaxRates":
		var out []map[string]any
		for _, t := range s.cfg.TaxRates {
			out = append(out, map[string]any{"Name": t.Name, "TaxType": t.TaxType, "Status": t.Status, "EffectiveRate": json.Number(t.EffectiveRate), "DisplayTaxRate": json.Number(t.EffectiveRate)})
		}
		return answer(w, http.StatusOK, map[string]any{"Status": "OK", "TaxRates": out})
	case r.Method == http.MethodPut && (call.Path == "/Invoices" || call.Path == "/CreditNotes"):
		return s.create(w, r, call, strings.TrimPrefix(call.Path, "/"))
	}
	s.rec.Violate("%s %s: no such operation (this connector creates with PUT)", r.Method, call.Path)
	return answer(w, http.StatusNotFound, map[string]any{"Title": "Not Found", "Status": 404})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, call *Call, endpoint string) int {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.rec.Violate("PUT /%s: Content-Type is not application/json", endpoint)
	}
	key := r.Header.Get("Idempotency-Key")
	switch {
	case key == "":
		s.rec.Violate("PUT /%s: no Idempotency-Key", endpoint)
	case len(key) > 128:
		s.rec.Violate("PUT /%s: Idempotency-Key of %d characters, more than 128", endpoint, len(key))
		return validation(w, "Idempotency-Key is too long")
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(r.Body); err != nil {
		return 0
	}
	if key != "" {
		s.mu.Lock()
		prev, ok := s.keys[key]
		s.mu.Unlock()
		if ok {
			if !bytes.Equal(prev.req, raw.Bytes()) {
				s.rec.Violate("PUT /%s: Idempotency-Key reused for another body", endpoint)
			}
			call.Replayed = true
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(prev.status)
			_, _ = w.Write(prev.body)
			return prev.status
		}
	}
	rec := httptest.NewRecorder()
	status := s.apply(rec, raw.Bytes(), endpoint, key)
	if key != "" && (status == http.StatusOK || status == http.StatusBadRequest) {
		s.mu.Lock()
		s.keys[key] = stored{status: status, body: rec.Body.Bytes(), req: raw.Bytes()}
		s.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(rec.Body.Bytes())
	return status
}

// wireDoc is what the server reads of a document beyond the schema.
type wireDoc struct {
	Type          string `json:"Type"`
	Status        string `json:"Status"`
	Date          string `json:"Date"`
	DueDate       string `json:"DueDate"`
	Reference     string `json:"Reference"`
	InvoiceNumber string `json:"InvoiceNumber"`
	CurrencyCode  string `json:"CurrencyCode"`
	Contact       struct {
		Name string `json:"Name"`
	} `json:"Contact"`
	LineAmountTypes string `json:"LineAmountTypes"`
	LineItems       []struct {
		Description string      `json:"Description"`
		Quantity    json.Number `json:"Quantity"`
		UnitAmount  json.Number `json:"UnitAmount"`
		LineAmount  json.Number `json:"LineAmount"`
		TaxAmount   json.Number `json:"TaxAmount"`
		AccountCode string      `json:"AccountCode"`
		TaxType     string      `json:"TaxType"`
	} `json:"LineItems"`
}

// apply validates a create body as Xero does and adds its documents to the
// ledger.
func (s *Server) apply(w http.ResponseWriter, body []byte, endpoint, key string) int {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		s.rec.Violate("PUT /%s: body is not JSON", endpoint)
		return validation(w, "body is not JSON")
	}
	if err := s.schema.Validate(inst); err != nil {
		s.rec.Violate("PUT /%s: %v", endpoint, err)
		return validation(w, err.Error())
	}
	var req map[string][]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	_ = dec.Decode(&req)
	items, ok := req[endpoint]
	if !ok {
		s.rec.Violate("PUT /%s: the body's array is not %s", endpoint, endpoint)
		return validation(w, "wrong document array")
	}
	accounts := map[string]bool{}
	for _, a := range s.cfg.Accounts {
		accounts[a.Code] = a.Status == "ACTIVE"
	}
	rates := map[string]string{}
	for _, t := range s.cfg.TaxRates {
		if t.Status == "ACTIVE" {
			rates[t.TaxType] = t.EffectiveRate
		}
	}
	var docs []*Document
	var out []map[string]any
	for _, item := range items {
		var d wireDoc
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.UseNumber()
		_ = dec.Decode(&d)
		var msgs []string
		if endpoint == "Invoices" && d.Type != "ACCREC" && d.Type != "ACCPAY" {
			msgs = append(msgs, "Invoice Type must be ACCREC or ACCPAY here")
		}
		if endpoint == "CreditNotes" && d.Type != "ACCRECCREDIT" && d.Type != "ACCPAYCREDIT" {
			msgs = append(msgs, "Credit note Type must be ACCRECCREDIT or ACCPAYCREDIT")
		}
		if endpoint == "Invoices" && (d.Status == "AUTHORISED" || d.Status == "SUBMITTED") && d.DueDate == "" {
			msgs = append(msgs, "Due Date is required.")
		}
		if d.Reference != "" && d.Type != "ACCREC" && d.Type != "ACCRECCREDIT" {
			s.rec.Violate("PUT /%s: Reference on a %s (ACCREC and ACCRECCREDIT only)", endpoint, d.Type)
		}
		if d.LineAmountTypes != "Exclusive" {
			s.rec.Violate("PUT /%s: LineAmountTypes is not Exclusive (this connector posts net amounts)", endpoint)
		}
		doc := &Document{
			Endpoint: endpoint, Type: d.Type, Status: d.Status, Reference: d.Reference, InvoiceNumber: d.InvoiceNumber,
			ContactName: d.Contact.Name, Currency: d.CurrencyCode, Date: d.Date, IdempotencyKey: key, Body: item,
		}
		if doc.Status == "" {
			doc.Status = "DRAFT"
		}
		for i, l := range d.LineItems {
			la, okA := pennies(l.LineAmount)
			ta, okT := pennies(l.TaxAmount)
			ua, okU := pennies(l.UnitAmount)
			if !okA || !okT || !okU {
				s.rec.Violate("PUT /%s: LineItems[%d]: an amount is missing or not two places", endpoint, i)
			}
			if l.Quantity.String() != "1" || ua != la {
				s.rec.Violate("PUT /%s: LineItems[%d]: Quantity x UnitAmount is not LineAmount", endpoint, i)
			}
			if ok, known := accounts[l.AccountCode]; !known || !ok {
				msgs = append(msgs, "Account code '"+l.AccountCode+"' is not a valid code for this document.")
			}
			rate, known := rates[l.TaxType]
			if !known {
				msgs = append(msgs, "The TaxType code '"+l.TaxType+"' does not exist or cannot be used for this type of transaction.")
			} else if rate == "0" && ta != 0 {
				msgs = append(msgs, "The tax amount on a line of tax type "+l.TaxType+" must be zero.")
			}
			doc.Lines = append(doc.Lines, Line{Description: l.Description, AccountCode: l.AccountCode, TaxType: l.TaxType, LineAmount: la, TaxAmount: ta})
			doc.SubTotal += la
			doc.TotalTax += ta
		}
		doc.Total = doc.SubTotal + doc.TotalTax
		if doc.Total < 0 {
			msgs = append(msgs, "The document total for '"+d.Contact.Name+"' cannot be negative.")
		}
		if len(msgs) > 0 {
			return validation(w, msgs...)
		}
		docs = append(docs, doc)
	}
	s.mu.Lock()
	for _, doc := range docs {
		s.nextID++
		doc.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.nextID)
		if doc.Type == "ACCREC" && doc.InvoiceNumber == "" {
			doc.InvoiceNumber = fmt.Sprintf("INV-%04d", s.nextID)
		}
		s.docs = append(s.docs, doc)
		echo := map[string]any{
			"Type": doc.Type, "Status": doc.Status, "Reference": doc.Reference, "CurrencyCode": doc.Currency,
			"Contact": map[string]string{"Name": doc.ContactName}, "HasErrors": false,
			"SubTotal": json.Number(money(doc.SubTotal)), "TotalTax": json.Number(money(doc.TotalTax)), "Total": json.Number(money(doc.Total)),
		}
		if endpoint == "Invoices" {
			echo["InvoiceID"], echo["InvoiceNumber"] = doc.ID, doc.InvoiceNumber
		} else {
			echo["CreditNoteID"] = doc.ID
		}
		out = append(out, echo)
	}
	s.mu.Unlock()
	return answer(w, http.StatusOK, map[string]any{"Id": "resp", "Status": "OK", "ProviderName": "orderflow", endpoint: out})
}

// pennies reads a JSON number as exact pennies; false when it is absent or
// has more than two decimal places.
func pennies(n json.Number) (int64, bool) {
	if n == "" {
		return 0, false
	}
	a, err := order.ParseAmount(n.String())
	if err != nil || int64(a)%100 != 0 {
		return 0, false
	}
	return int64(a) / 100, true
}

func money(p int64) string {
	sign := ""
	if p < 0 {
		sign, p = "-", -p
	}
	return fmt.Sprintf("%s%d.%02d", sign, p/100, p%100)
}
