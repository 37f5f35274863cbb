// Package quickbookstest is a stand-in for the QuickBooks Online
// Accounting API and Intuit's OAuth 2.0 token endpoint over real HTTP
// (httptest). It checks every request against the documented contract (a
// current bearer access token, the company's realm id in the path, the
// minorversion and requestid query parameters, and the journal entry body
// against contract/journalentry.schema.json: required members, types,
// enums, lengths, two-decimal non-negative amounts, no undocumented
// member; then the business rules: debits equal credits, every AccountRef
// and TaxCodeRef names an active account or tax code, TxnTaxDetail's total
// is the lines' tax). It keeps a ledger of journal entries by Id (a
// repeated requestid is answered with the first answer and creates
// nothing), serves the Account, TaxCode and TaxRate queries and the refresh
// grant (rotating the refresh token), and fails on demand: 429, 5xx, slow
// answers, validation faults in Intuit's Fault shape, after-apply.
package quickbookstest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/orderflow/orderflow/connectors/accounting/accountingtest"
	"github.com/orderflow/orderflow/worker/order"
)

//go:embed contract/*.schema.json
var contracts embed.FS

// entities are the documents the stand-in creates, each checked against
// contract/<entity>.schema.json.
var entities = []string{"journalentry", "customer", "invoice", "salesreceipt", "refundreceipt"}

// TokenPath is the token endpoint's path below URL.
const TokenPath = "/oauth2/v1/tokens/bearer"

// MinMinorVersion is the least minorversion QuickBooks still honours.
const MinMinorVersion = 75

// maxRequestID is the longest requestid the stand-in accepts.
const maxRequestID = 50

// ValidationMessage is the message of an injected validation fault: like
// QuickBooks', it quotes a value (here a name from the privacy corpus), so
// that a test proves the client keeps none of it.
const ValidationMessage = "Invalid account reference for Siobhán Przybylski, Flat 9, 27 Quarrendon Road"

// Account, TaxCode and TaxRate are the company's, as the queries return
// them.
type Account struct {
	ID, Name, AccountType string
	Active                bool
}

type TaxCode struct {
	ID, Name string
	Active   bool
	// SalesRates are the TaxRate Ids of its SalesTaxRateList.
	SalesRates []string
}

type TaxRate struct {
	ID, Name string
	Active   bool
	// Rate is RateValue, in percent ("20").
	Rate string
}

// Config configures a Server. The zero Config is a UK company (UKCompany).
type Config struct {
	RealmID      string // default "9341453172581902"
	ClientID     string // default "test-client-id"
	ClientSecret string // default "test-client-secret"
	RefreshToken string // default "test-refresh-token-0"
	// AccessTokenTTL is the expires_in of an access token. Default an hour.
	AccessTokenTTL time.Duration
	// Accounts, TaxCodes and TaxRates default to UKCompany's.
	Accounts []Account
	TaxCodes []TaxCode
	TaxRates []TaxRate
	// Items default to UKItems.
	Items []Item
}

// UKCompany is a UK company's chart: sales, shipping, discounts, refunds,
// marketplace VAT and clearing accounts, an inactive account, and the
// standard VAT codes (20% S, 5% R, 0% Z, No VAT) with one inactive code.
func UKCompany() ([]Account, []TaxCode, []TaxRate) {
	return []Account{
			{ID: "41", Name: "Sales - marketplaces", AccountType: "Income", Active: true},
			{ID: "42", Name: "Shipping income", AccountType: "Income", Active: true},
			{ID: "43", Name: "Discounts given", AccountType: "Income", Active: true},
			{ID: "44", Name: "Refunds given", AccountType: "Income", Active: true},
			{ID: "81", Name: "Marketplace-collected VAT", AccountType: "Other Current Liability", Active: true},
			{ID: "91", Name: "Marketplace clearing", AccountType: "Other Current Asset", Active: true},
			{ID: "99", Name: "Old sales", AccountType: "Income", Active: false},
		}, []TaxCode{
			{ID: "2", Name: "20.0% S", Active: true, SalesRates: []string{"11"}},
			{ID: "3", Name: "5.0% R", Active: true, SalesRates: []string{"12"}},
			{ID: "4", Name: "0.0% Z", Active: true, SalesRates: []string{"13"}},
			{ID: "6", Name: "No VAT", Active: true, SalesRates: []string{"14"}},
			{ID: "8", Name: "17.5% S (old)", Active: false, SalesRates: []string{"15"}},
		}, []TaxRate{
			{ID: "11", Name: "20.0% S (sales)", Active: true, Rate: "20"},
			{ID: "12", Name: "5.0% R (sales)", Active: true, Rate: "5"},
			{ID: "13", Name: "0.0% Z (sales)", Active: true, Rate: "0"},
			{ID: "14", Name: "No VAT (sales)", Active: true, Rate: "0"},
			{ID: "15", Name: "17.5% S (sales)", Active: false, Rate: "17.5"},
		}
}

// OSSCompany is UKCompany selling across Europe under the One Stop Shop:
// with tax codes 31 (DE's 19%) and 32 (IE's 23%) too.
func OSSCompany() ([]Account, []TaxCode, []TaxRate) {
	accounts, codes, rates := UKCompany()
	codes = append(codes, TaxCode{ID: "31", Name: "19% OSS DE", Active: true, SalesRates: []string{"41"}},
		TaxCode{ID: "32", Name: "23% OSS IE", Active: true, SalesRates: []string{"42"}})
	rates = append(rates, TaxRate{ID: "41", Name: "19% OSS DE (sales)", Active: true, Rate: "19"},
		TaxRate{ID: "42", Name: "23% OSS IE (sales)", Active: true, Rate: "23"})
	return accounts, codes, rates
}

// Item is a product or service of the company, as the Item query returns
// it.
type Item struct {
	ID, Name string
	Active   bool
}

// UKItems are the products an invoice's or a receipt's lines are on:
// sales, shipping, discount, refunds, marketplace VAT, and an inactive one.
func UKItems() []Item {
	return []Item{
		{ID: "21", Name: "Marketplace sales", Active: true},
		{ID: "22", Name: "Shipping", Active: true},
		{ID: "23", Name: "Discount", Active: true},
		{ID: "24", Name: "Refunds", Active: true},
		{ID: "25", Name: "Marketplace-collected VAT", Active: true},
		{ID: "29", Name: "Old product", Active: false},
	}
}

// Customer is a customer of the ledger.
type Customer struct {
	ID, DisplayName, RequestID string
	Body                       json.RawMessage
}

// Invoice is an invoice of the ledger, amounts in pennies.
type Invoice struct {
	ID, RequestID, DocNumber, CustomerID string
	// Lines are the lines' items and amounts (net of VAT).
	Lines []InvoiceLine
	// Net is the lines' sum; TotalTax TxnTaxDetail.TotalTax.
	Net, TotalTax int64
	Body          json.RawMessage
}

// Receipt is a sales or refund receipt of the ledger.
type Receipt struct {
	// Entity is "salesreceipt" or "refundreceipt".
	Entity string
	// DepositTo is DepositToAccountRef.
	DepositTo string
	Invoice
}

// InvoiceLine is a sales item line.
type InvoiceLine struct {
	Item, TaxCode string
	Amount        int64
}

// Fault is how the server answers one API call (not a token call) instead
// of normally.
type Fault struct {
	// Status, when set, is the answer's status (429, 500, 503, 400, 401).
	// A 400 is a ValidationFault quoting ValidationMessage, a 401 an
	// AuthenticationFault, others a SystemFault.
	Status int
	// RetryAfter is sent with Status.
	RetryAfter string
	// Delay holds the answer back this long first (or until the client
	// gives up); with no Status the call is then answered normally.
	Delay time.Duration
	// AfterApply creates the journal entry first, then answers Status: the
	// company has it and the client never hears of it. Such a fault waits
	// for the next create; queries before it are answered normally.
	AfterApply bool
}

// Line is a journal entry line of the ledger, amounts in pennies.
type Line struct {
	Side      string // "Debit" or "Credit"
	Account   string
	Amount    int64
	TaxCode   string
	TaxAmount int64
}

// JournalEntry is a journal entry of the ledger.
type JournalEntry struct {
	ID        string
	RequestID string
	DocNumber string
	TxnDate   string
	Currency  string
	Lines     []Line
	// Debits and Credits are the sides' totals, tax included, in pennies.
	Debits, Credits int64
	// TotalTax is TxnTaxDetail.TotalTax in pennies.
	TotalTax int64
	// Body is the create body as received.
	Body json.RawMessage
}

// Call is a request the server received.
type Call struct {
	Method, Op string // Op: "token", "query", an entity created ("journalentry", "customer", "invoice") or "?"
	Status     int
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL (quickbooks.Config.BaseURL); TokenURL the
	// token endpoint's (quickbooks.Config.TokenURL).
	URL, TokenURL string

	cfg     Config
	srv     *httptest.Server
	schemas map[string]*jsonschema.Schema

	rec    accountingtest.Record[Call]
	faults accountingtest.Faults[Fault]
	issuer *accountingtest.Issuer

	mu         sync.Mutex
	entries    []*JournalEntry
	customers  []*Customer
	invoices   []*Invoice
	receipts   []*Receipt
	docNumbers map[string]bool   // entity/DocNumber created
	byRequest  map[string][]byte // requestid -> the first (2xx) answer
	duplicates []string
	requestIDs []string
}

// New starts a server for the test; it stops at the test's end, and the
// test fails if any request broke the contract.
func New(t testing.TB, cfg Config) *Server {
	return accountingtest.New(t, "quickbookstest", Start, cfg)
}

// Start starts a server outside a test (orderflow demo); Close stops it,
// and Violations says what broke the contract.
func Start(cfg Config) (*Server, error) {
	if cfg.RealmID == "" {
		cfg.RealmID = "9341453172581902"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "test-client-id"
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "test-client-secret"
	}
	if cfg.RefreshToken == "" {
		cfg.RefreshToken = "test-refresh-token-0"
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = time.Hour
	}
	if cfg.Accounts == nil && cfg.TaxCodes == nil && cfg.TaxRates == nil {
		cfg.Accounts, cfg.TaxCodes, cfg.TaxRates = UKCompany()
	}
	if cfg.Items == nil {
		cfg.Items = UKItems()
	}
	schemas, err := compileSchemas()
	if err != nil {
		return nil, fmt.Errorf("quickbookstest: contract: %w", err)
	}
	s := &Server{cfg: cfg, schemas: schemas, byRequest: map[string][]byte{}, docNumbers: map[string]bool{}}
	s.faults.AfterApply = func(f Fault) bool { return f.AfterApply }
	s.issuer = accountingtest.NewIssuer(accountingtest.IssuerConfig{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RefreshToken: cfg.RefreshToken,
		Tokens: func(n int) (string, string) {
			return "test-access-token-" + strconv.Itoa(n), cfg.RefreshToken + "-r" + strconv.Itoa(n)
		},
		TTL:     cfg.AccessTokenTTL,
		Extra:   map[string]any{"x_refresh_token_expires_in": 8726400},
		Violate: s.rec.Violate,
	})
	mux := http.NewServeMux()
	mux.HandleFunc(TokenPath, s.handleToken)
	mux.HandleFunc("/v3/company/", s.handleAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.rec.Answered(Call{Method: r.Method, Op: "?", Status: http.StatusNotFound})
		s.rec.Violate("%s %s: no such operation", r.Method, r.URL.Path)
		http.NotFound(w, r)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.TokenURL = s.srv.URL + TokenPath
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func compileSchemas() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	for _, e := range entities {
		raw, err := contracts.ReadFile("contract/" + e + ".schema.json")
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(e+".schema.json", doc); err != nil {
			return nil, err
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, e := range entities {
		sch, err := c.Compile(e + ".schema.json")
		if err != nil {
			return nil, err
		}
		out[e] = sch
	}
	return out, nil
}

// Fail queues faults: each of the next API calls is answered with the next.
func (s *Server) Fail(faults ...Fault) { s.faults.Add(faults...) }

// ExpireAccessTokens makes every access token issued so far invalid (a
// 401 on its next use), as an expiry or a revocation does.
func (s *Server) ExpireAccessTokens() { s.issuer.ExpireAccessTokens() }

// RevokeRefreshToken makes the refresh grant fail with invalid_grant, as
// when the company disconnects the app.
func (s *Server) RevokeRefreshToken() { s.issuer.RevokeRefreshToken() }

// RefreshToken is the refresh token valid now (the last one issued).
func (s *Server) RefreshToken() string { return s.issuer.RefreshToken() }

// Refreshes counts the access tokens issued.
func (s *Server) Refreshes() int { return s.issuer.Refreshes() }

// snapshot copies a ledger under s.mu, each element deep enough (clone)
// that the caller's copy does not change with the ledger.
func snapshot[T any](s *Server, ledger *[]*T, clone func(T) T) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]T, len(*ledger))
	for i, it := range *ledger {
		out[i] = clone(*it)
	}
	return out
}

// Entries is the ledger, in creation order.
func (s *Server) Entries() []JournalEntry {
	return snapshot(s, &s.entries, func(e JournalEntry) JournalEntry {
		e.Lines = append([]Line(nil), e.Lines...)
		return e
	})
}

// Customers are the customers created, in order.
func (s *Server) Customers() []Customer {
	return snapshot(s, &s.customers, func(c Customer) Customer { return c })
}

// Invoices are the invoices created, in order.
func (s *Server) Invoices() []Invoice {
	return snapshot(s, &s.invoices, func(inv Invoice) Invoice {
		inv.Lines = append([]InvoiceLine(nil), inv.Lines...)
		return inv
	})
}

// Receipts are the sales and refund receipts created, in order.
func (s *Server) Receipts() []Receipt {
	return snapshot(s, &s.receipts, func(r Receipt) Receipt {
		r.Lines = append([]InvoiceLine(nil), r.Lines...)
		return r
	})
}

// Duplicates lists the DocNumbers (and customer names' lengths) created
// more than once.
func (s *Server) Duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.duplicates...)
}

// Violations lists the requests that broke the contract.
func (s *Server) Violations() []string { return s.rec.Violations() }

// Requests counts the API calls that arrived (not the token endpoint's),
// answered or not yet: Calls lists a call once answered, which a call the
// client gave up on (a slow answer) may be only after the client returned.
func (s *Server) Requests() int { return s.rec.Requests() }

// Calls lists the requests received, in order.
func (s *Server) Calls() []Call { return s.rec.Calls() }

// RequestIDs lists the requestid of every create received.
func (s *Server) RequestIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requestIDs...)
}

var answer = accountingtest.Answer

// fault answers Intuit's error shape.
func fault(w http.ResponseWriter, status int, typ, code, message, element string) int {
	return answer(w, status, map[string]any{
		"Fault": map[string]any{
			"Error": []map[string]string{{"Message": message, "Detail": message, "code": code, "element": element}},
			"type":  typ,
		},
		"time": time.Now().UTC().Format("2006-01-02T15:04:05.000-07:00"),
	})
}

// handleToken serves the refresh grant: Basic client credentials, a form
// with grant_type=refresh_token and the refresh token valid now. Each grant
// issues a new access token and rotates the refresh token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	status := s.issuer.Serve(w, r)
	s.rec.Answered(Call{Method: r.Method, Op: "token", Status: status})
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	s.rec.Arrived()
	op := "?"
	prefix := "/v3/company/" + s.cfg.RealmID + "/"
	entity, _ := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodPost && s.schemas[entity] != nil:
		op = entity
	case r.Method == http.MethodGet && entity == "query":
		op = "query"
	}
	status := s.api(w, r, op)
	s.rec.Answered(Call{Method: r.Method, Op: op, Status: status})
}

func (s *Server) api(w http.ResponseWriter, r *http.Request, op string) int {
	if op == "?" {
		s.rec.Violate("%s %s: no such operation of the company %s", r.Method, r.URL.Path, s.cfg.RealmID)
		return fault(w, http.StatusNotFound, "ValidationFault", "610", "Object Not Found", "")
	}
	if valid, bearer := s.issuer.Valid(r.Header.Get("Authorization")); !valid {
		if !bearer {
			s.rec.Violate("%s: Authorization is not a bearer token", op)
		}
		return fault(w, http.StatusUnauthorized, "AuthenticationFault", "3200", "message=AuthenticationFailed", "")
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		s.rec.Violate("%s: Accept is not application/json", op)
	}
	q := r.URL.Query()
	if mv, err := strconv.Atoi(q.Get("minorversion")); err != nil || mv < MinMinorVersion {
		s.rec.Violate("%s: minorversion is absent or below %d", op, MinMinorVersion)
	}
	if f, ok := s.faults.Next(op != "query"); ok {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return 0
			}
		}
		if f.AfterApply {
			s.route(httptest.NewRecorder(), r, op) // applied; its answer lost
		}
		if f.Status != 0 {
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			switch {
			case f.Status == http.StatusBadRequest:
				return fault(w, f.Status, "ValidationFault", "2500", ValidationMessage, "Line.AccountRef")
			case f.Status == http.StatusUnauthorized:
				return fault(w, f.Status, "AuthenticationFault", "3200", "message=AuthenticationFailed", "")
			case f.Status == http.StatusTooManyRequests:
				return fault(w, f.Status, "ThrottleExceeded", "003001", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "")
			}
			return fault(w, f.Status, "SystemFault", "10000", "An application error has occurred while processing your request", "")
		}
		if f.AfterApply {
			return http.StatusOK
		}
	}
	return s.route(w, r, op)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, op string) int {
	if op == "query" {
		return s.query(w, r.URL.Query().Get("query"))
	}
	return s.create(w, r, op)
}

var selectPattern = regexp.MustCompile(`(?i)^select \* from (Account|TaxCode|TaxRate|Item|Customer)(?: where DisplayName = '((?:[^'\\]|\\.)*)')?(?: startposition ([0-9]+))?(?: maxresults ([0-9]+))?$`)

func (s *Server) query(w http.ResponseWriter, stmt string) int {
	m := selectPattern.FindStringSubmatch(stmt)
	if m == nil {
		s.rec.Violate("query: not a select this stand-in serves (of %d characters)", len(stmt))
		return fault(w, http.StatusBadRequest, "ValidationFault", "4000", "Error parsing query", "")
	}
	start, max := 1, 100 // QuickBooks' defaults
	if m[3] != "" {
		start, _ = strconv.Atoi(m[3])
	}
	if m[4] != "" {
		max, _ = strconv.Atoi(m[4])
	}
	hasWhere := strings.Contains(strings.ToLower(stmt), " where ")
	if hasWhere != strings.EqualFold(m[1], "customer") {
		s.rec.Violate("query: a where clause is served on Customer only, and Customer only with one")
		return fault(w, http.StatusBadRequest, "ValidationFault", "4000", "Error parsing query", "")
	}
	if start < 1 || max < 1 || max > 1000 {
		s.rec.Violate("query: startposition below 1 or maxresults not in 1..1000")
		return fault(w, http.StatusBadRequest, "ValidationFault", "4001", "Invalid query", "")
	}
	var rows []any
	switch strings.ToLower(m[1]) {
	case "account":
		for _, a := range s.cfg.Accounts {
			rows = append(rows, map[string]any{"Id": a.ID, "Name": a.Name, "AccountType": a.AccountType, "Active": a.Active, "SyncToken": "0"})
		}
	case "taxcode":
		for _, tc := range s.cfg.TaxCodes {
			var details []any
			for i, id := range tc.SalesRates {
				details = append(details, map[string]any{"TaxRateRef": map[string]string{"value": id}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": i})
			}
			rows = append(rows, map[string]any{"Id": tc.ID, "Name": tc.Name, "Active": tc.Active, "Taxable": true,
				"SalesTaxRateList": map[string]any{"TaxRateDetail": details}, "PurchaseTaxRateList": map[string]any{"TaxRateDetail": []any{}}})
		}
	case "item":
		for _, it := range s.cfg.Items {
			rows = append(rows, map[string]any{"Id": it.ID, "Name": it.Name, "Active": it.Active, "Type": "Service"})
		}
	case "customer":
		name := strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(m[2])
		s.mu.Lock()
		for _, c := range s.customers {
			if c.DisplayName == name {
				rows = append(rows, map[string]any{"Id": c.ID, "DisplayName": c.DisplayName, "Active": true})
			}
		}
		s.mu.Unlock()
	default:
		for _, tr := range s.cfg.TaxRates {
			rows = append(rows, map[string]any{"Id": tr.ID, "Name": tr.Name, "Active": tr.Active, "RateValue": json.Number(tr.Rate),
				"AgencyRef": map[string]string{"value": "1"}})
		}
	}
	entity := map[string]string{"account": "Account", "taxcode": "TaxCode", "taxrate": "TaxRate", "item": "Item", "customer": "Customer"}[strings.ToLower(m[1])]
	resp := map[string]any{}
	if start-1 < len(rows) {
		page := rows[start-1 : min(start-1+max, len(rows))]
		resp[entity] = page
		resp["startPosition"] = start
		resp["maxResults"] = len(page)
	}
	return answer(w, http.StatusOK, map[string]any{"QueryResponse": resp, "time": time.Now().UTC().Format(time.RFC3339)})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, entity string) int {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.rec.Violate("%s: Content-Type is not application/json", entity)
		return fault(w, http.StatusBadRequest, "ValidationFault", "2010", "Unsupported content type", "")
	}
	reqID := r.URL.Query().Get("requestid")
	if reqID == "" || len(reqID) > maxRequestID {
		s.rec.Violate("%s: requestid is absent or longer than %d characters", entity, maxRequestID)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(r.Body); err != nil {
		return 0
	}
	s.mu.Lock()
	s.requestIDs = append(s.requestIDs, reqID)
	if first, ok := s.byRequest[reqID]; ok && reqID != "" {
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(first)
		return http.StatusOK
	}
	s.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw.Bytes()))
	if err != nil {
		s.rec.Violate("%s: body is not JSON", entity)
		return fault(w, http.StatusBadRequest, "ValidationFault", "2020", "Request has invalid or unsupported property", "")
	}
	if err := s.schemas[entity].Validate(inst); err != nil {
		s.rec.Violate("%s: %v", entity, err)
		return fault(w, http.StatusBadRequest, "ValidationFault", "2020", "Request has invalid or unsupported property", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var name, id string
	var total int64
	switch entity {
	case "journalentry":
		je, problem := s.read(raw.Bytes())
		if problem != "" {
			return s.refuse(w, entity, problem)
		}
		s.noteDocNumber(entity, je.DocNumber)
		je.ID = strconv.Itoa(1000 + len(s.entries))
		je.RequestID = reqID
		s.entries = append(s.entries, je)
		name, id, total = "JournalEntry", je.ID, je.Debits
	case "customer":
		var c struct {
			DisplayName string `json:"DisplayName"`
		}
		_ = json.Unmarshal(raw.Bytes(), &c)
		for _, prev := range s.customers {
			if prev.DisplayName == c.DisplayName {
				// Like QuickBooks, the refusal quotes the name: a client
				// must keep none of it.
				s.duplicates = append(s.duplicates, fmt.Sprintf("customer name of %d characters", len(c.DisplayName)))
				return fault(w, http.StatusBadRequest, "ValidationFault", "6240",
					"Duplicate Name Exists Error: The name supplied already exists. : "+c.DisplayName, "")
			}
		}
		cu := &Customer{ID: strconv.Itoa(500 + len(s.customers)), DisplayName: c.DisplayName, RequestID: reqID, Body: append(json.RawMessage(nil), raw.Bytes()...)}
		s.customers = append(s.customers, cu)
		name, id = "Customer", cu.ID
	case "salesreceipt", "refundreceipt":
		inv, problem := s.readSales(raw.Bytes(), false)
		var dep struct {
			DepositToAccountRef struct {
				Value string `json:"value"`
			} `json:"DepositToAccountRef"`
		}
		_ = json.Unmarshal(raw.Bytes(), &dep)
		if problem == "" && !s.activeAccount(dep.DepositToAccountRef.Value) {
			problem = "DepositToAccountRef names no active account"
		}
		if problem != "" {
			return s.refuse(w, entity, problem)
		}
		s.noteDocNumber(entity, inv.DocNumber)
		inv.ID = strconv.Itoa(5000 + len(s.receipts))
		inv.RequestID = reqID
		s.receipts = append(s.receipts, &Receipt{Entity: entity, DepositTo: dep.DepositToAccountRef.Value, Invoice: *inv})
		name, id, total = map[string]string{"salesreceipt": "SalesReceipt", "refundreceipt": "RefundReceipt"}[entity], inv.ID, inv.Net+inv.TotalTax
	default:
		inv, problem := s.readSales(raw.Bytes(), true)
		if problem != "" {
			return s.refuse(w, entity, problem)
		}
		s.noteDocNumber(entity, inv.DocNumber)
		inv.ID = strconv.Itoa(3000 + len(s.invoices))
		inv.RequestID = reqID
		s.invoices = append(s.invoices, inv)
		name, id, total = "Invoice", inv.ID, inv.Net+inv.TotalTax
	}
	var echo map[string]any
	d := json.NewDecoder(bytes.NewReader(raw.Bytes()))
	d.UseNumber()
	_ = d.Decode(&echo)
	echo["Id"], echo["SyncToken"], echo["domain"] = id, "0", "QBO"
	if name != "Customer" {
		echo["TotalAmt"] = json.Number(penniesText(total))
	}
	body, _ := json.Marshal(map[string]any{name: echo, "time": time.Now().UTC().Format(time.RFC3339)})
	if reqID != "" {
		s.byRequest[reqID] = body
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return http.StatusOK
}

// refuse answers a create that breaks a business rule, a contract
// violation. The caller holds s.mu.
func (s *Server) refuse(w http.ResponseWriter, entity, problem string) int {
	s.rec.Violate("%s: %s", entity, problem)
	return fault(w, http.StatusBadRequest, "ValidationFault", "6000", "A business validation error has occurred while processing your request", "")
}

// noteDocNumber lists a DocNumber an entity of the kind already had as a
// duplicate. The caller holds s.mu.
func (s *Server) noteDocNumber(entity, doc string) {
	if doc == "" {
		return
	}
	if s.docNumbers[entity+"/"+doc] {
		s.duplicates = append(s.duplicates, doc)
	}
	s.docNumbers[entity+"/"+doc] = true
}

func (s *Server) activeAccount(id string) bool {
	for _, a := range s.cfg.Accounts {
		if a.ID == id {
			return a.Active
		}
	}
	return false
}

// readSales checks a schema-valid invoice or receipt against the business
// rules (an existing customer when needCustomer, active items and tax
// codes, a total of zero or more) and returns it as a ledger invoice, or
// the rule it breaks. The caller holds s.mu.
func (s *Server) readSales(body []byte, needCustomer bool) (*Invoice, string) {
	var in struct {
		DocNumber   string `json:"DocNumber"`
		CustomerRef struct {
			Value string `json:"value"`
		} `json:"CustomerRef"`
		Line []struct {
			Amount json.Number `json:"Amount"`
			Detail struct {
				ItemRef struct {
					Value string `json:"value"`
				} `json:"ItemRef"`
				TaxCodeRef struct {
					Value string `json:"value"`
				} `json:"TaxCodeRef"`
			} `json:"SalesItemLineDetail"`
		} `json:"Line"`
		TxnTaxDetail struct {
			TotalTax json.Number `json:"TotalTax"`
		} `json:"TxnTaxDetail"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return nil, "body does not decode"
	}
	known := false
	for _, c := range s.customers {
		known = known || c.ID == in.CustomerRef.Value
	}
	if needCustomer && !known {
		return nil, "CustomerRef names no customer"
	}
	items := map[string]bool{}
	for _, it := range s.cfg.Items {
		items[it.ID] = it.Active
	}
	codes := map[string]bool{}
	for _, c := range s.cfg.TaxCodes {
		codes[c.ID] = c.Active
	}
	inv := &Invoice{DocNumber: in.DocNumber, CustomerID: in.CustomerRef.Value, TotalTax: pennies(in.TxnTaxDetail.TotalTax), Body: append(json.RawMessage(nil), body...)}
	for i, l := range in.Line {
		if !items[l.Detail.ItemRef.Value] {
			return nil, fmt.Sprintf("Line[%d].SalesItemLineDetail.ItemRef names no active item", i)
		}
		if l.Detail.TaxCodeRef.Value != "" && !codes[l.Detail.TaxCodeRef.Value] {
			return nil, fmt.Sprintf("Line[%d].SalesItemLineDetail.TaxCodeRef names no active tax code", i)
		}
		a := pennies(l.Amount)
		inv.Net += a
		inv.Lines = append(inv.Lines, InvoiceLine{Item: l.Detail.ItemRef.Value, TaxCode: l.Detail.TaxCodeRef.Value, Amount: a})
	}
	if inv.Net+inv.TotalTax < 0 {
		return nil, "the total is negative"
	}
	return inv, ""
}

// read checks a schema-valid body against the business rules and returns
// it as a ledger entry, or the rule it breaks.
func (s *Server) read(body []byte) (*JournalEntry, string) {
	var in struct {
		DocNumber   string `json:"DocNumber"`
		TxnDate     string `json:"TxnDate"`
		CurrencyRef struct {
			Value string `json:"value"`
		} `json:"CurrencyRef"`
		Line []struct {
			Amount json.Number `json:"Amount"`
			Detail struct {
				PostingType string `json:"PostingType"`
				AccountRef  struct {
					Value string `json:"value"`
				} `json:"AccountRef"`
				TaxCodeRef *struct {
					Value string `json:"value"`
				} `json:"TaxCodeRef"`
				TaxAmount json.Number `json:"TaxAmount"`
			} `json:"JournalEntryLineDetail"`
		} `json:"Line"`
		TxnTaxDetail *struct {
			TotalTax json.Number `json:"TotalTax"`
			TaxLine  []struct {
				TaxLineDetail struct {
					TaxRateRef struct {
						Value string `json:"value"`
					} `json:"TaxRateRef"`
				} `json:"TaxLineDetail"`
			} `json:"TaxLine"`
		} `json:"TxnTaxDetail"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&in); err != nil {
		return nil, "body does not decode"
	}
	je := &JournalEntry{DocNumber: in.DocNumber, TxnDate: in.TxnDate, Currency: in.CurrencyRef.Value, Body: append(json.RawMessage(nil), body...)}
	if in.TxnDate != "" {
		if _, err := time.Parse(time.DateOnly, in.TxnDate); err != nil {
			return nil, "TxnDate is not a date"
		}
	}
	accounts := map[string]bool{}
	for _, a := range s.cfg.Accounts {
		accounts[a.ID] = a.Active
	}
	codes := map[string]bool{}
	for _, c := range s.cfg.TaxCodes {
		codes[c.ID] = c.Active
	}
	rates := map[string]bool{}
	for _, tr := range s.cfg.TaxRates {
		rates[tr.ID] = tr.Active
	}
	var creditTax, debitTax int64
	for i, l := range in.Line {
		ln := Line{Side: l.Detail.PostingType, Account: l.Detail.AccountRef.Value, Amount: pennies(l.Amount), TaxAmount: pennies(l.Detail.TaxAmount)}
		if !accounts[ln.Account] {
			return nil, fmt.Sprintf("Line[%d].JournalEntryLineDetail.AccountRef names no active account", i)
		}
		if l.Detail.TaxCodeRef != nil {
			ln.TaxCode = l.Detail.TaxCodeRef.Value
			if !codes[ln.TaxCode] {
				return nil, fmt.Sprintf("Line[%d].JournalEntryLineDetail.TaxCodeRef names no active tax code", i)
			}
		}
		if ln.Side == "Debit" {
			je.Debits += ln.Amount + ln.TaxAmount
			debitTax += ln.TaxAmount
		} else {
			je.Credits += ln.Amount + ln.TaxAmount
			creditTax += ln.TaxAmount
		}
		je.Lines = append(je.Lines, ln)
	}
	if je.Debits != je.Credits {
		return nil, "the debits (tax included) do not equal the credits"
	}
	if in.TxnTaxDetail != nil {
		je.TotalTax = pennies(in.TxnTaxDetail.TotalTax)
		if net := creditTax - debitTax; je.TotalTax != max(net, -net) {
			return nil, "TxnTaxDetail.TotalTax is not the lines' tax"
		}
		for i, tl := range in.TxnTaxDetail.TaxLine {
			if !rates[tl.TaxLineDetail.TaxRateRef.Value] {
				return nil, fmt.Sprintf("TxnTaxDetail.TaxLine[%d].TaxLineDetail.TaxRateRef names no active tax rate", i)
			}
		}
	}
	return je, ""
}

// pennies reads a schema-checked amount (two places at most) in pennies.
func pennies(n json.Number) int64 {
	if n == "" {
		return 0
	}
	a, err := order.ParseAmount(n.String())
	if err != nil {
		return 0
	}
	p, _ := a.MinorUnits()
	return p
}

func penniesText(p int64) string {
	return fmt.Sprintf("%d.%02d", p/100, p%100)
}
