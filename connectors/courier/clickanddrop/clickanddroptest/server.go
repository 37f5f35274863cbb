// Package clickanddroptest is a stand-in for Royal Mail's Click & Drop API v1
// over real HTTP (httptest): it checks every request against the documented
// contract (the bearer API key, and the create body against
// contract/create-orders-request.schema.json: required fields, types, maximum
// lengths, bounds, no undocumented field), keeps a ledger of the orders
// created and cancelled by order reference, and answers 429 with
// Retry-After, 5xx, slowly, or with per-order failures on demand.
//
// A create of a reference the ledger already holds is created again, as
// nothing in the documented contract says Click & Drop refuses it, and is
// listed by Duplicates: a test of effectively-once delivery asserts there are
// none.
package clickanddroptest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed contract/create-orders-request.schema.json
var createSchemaJSON []byte

// maxIdentifiers is the spec's bound on {orderIdentifiers}.
const maxIdentifiers = 100

// postcodeCountries need a postcode on the label; the stand-in refuses an
// order to one of them without it, per order, as Click & Drop does.
var postcodeCountries = map[string]bool{"GB": true, "JE": true, "GG": true, "IM": true}

// ErrorCodePostcode is the errorCode of a refused order without a postcode;
// ErrorCodeRefused that of an order refused on demand (RefuseOrder).
const (
	ErrorCodePostcode = 1101
	ErrorCodeRefused  = 1999
)

// Config configures a Server.
type Config struct {
	// APIKey is the only key the server accepts. Default "test-api-key".
	APIKey string
}

// Fault is how the server answers one call instead of normally.
type Fault struct {
	// Status, when set, is the answer's status (429, 500, 503, 400, 401).
	Status int
	// RetryAfter is the Retry-After header sent with Status.
	RetryAfter string
	// Delay holds the answer back this long first (or until the client
	// gives up); with no Status the call is then answered normally.
	Delay time.Duration
	// AfterApply carries out the call first, then answers Status: the work
	// is done and the client never hears of it (a crash or a cut connection
	// after the write). Such a fault waits for the next create or delete;
	// lookups before it are answered normally.
	AfterApply bool
}

// Order is an order of the ledger.
type Order struct {
	Identifier int64
	Reference  string
	Cancelled  bool
	// Body is the CreateOrderRequest item as received.
	Body json.RawMessage
}

// Call is a request the server received.
type Call struct {
	Method string
	Path   string // escaped, below the base URL
	Status int
	Items  int // orders in a create, identifiers in a lookup or delete
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	// URL is the API's base URL, to use as clickanddrop.Config.BaseURL.
	URL string

	cfg    Config
	srv    *httptest.Server
	schema *jsonschema.Schema

	mu         sync.Mutex
	nextID     int64
	orders     []*Order
	duplicates []string
	violations []string
	calls      []Call
	received   int
	faults     []Fault
	refuse     map[string]bool
}

// New starts a server for the test; it stops at the test's end, and the test
// fails if any request broke the contract.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for _, v := range s.Violations() {
			t.Errorf("clickanddroptest: contract violation: %s", v)
		}
	})
	return s
}

// Start starts a server outside a test (orderflow demo); Close stops it, and
// Violations says what broke the contract.
func Start(cfg Config) (*Server, error) {
	if cfg.APIKey == "" {
		cfg.APIKey = "test-api-key"
	}
	schema, err := compileSchema()
	if err != nil {
		return nil, fmt.Errorf("clickanddroptest: contract: %w", err)
	}
	s := &Server{cfg: cfg, schema: schema, nextID: 100000, refuse: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/orders", s.handle)
	mux.HandleFunc("/api/v1/orders/", s.handle)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL + "/api/v1"
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func compileSchema() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(createSchemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("create-orders-request.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("create-orders-request.schema.json")
}

// Fail queues faults: each of the next calls is answered with the next one.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// RefuseOrder makes every create of reference fail, alone in its batch
// (failedOrders), with ErrorCodeRefused.
func (s *Server) RefuseOrder(reference string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[reference] = true
}

// Orders is the ledger, in creation order.
func (s *Server) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, len(s.orders))
	for i, o := range s.orders {
		out[i] = *o
	}
	return out
}

// Duplicates lists each create of a reference the ledger already held.
func (s *Server) Duplicates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.duplicates...)
}

// Violations lists the requests that broke the contract.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Calls lists the requests received.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Requests is how many requests arrived, counted on arrival: a request
// the client gave up on is counted before its handler returns.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.received++
	s.mu.Unlock()
	call := Call{Method: r.Method, Path: strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1")}
	status := s.serve(w, r, &call)
	call.Status = status
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

func (s *Server) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *Server) nextFault(write bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 || s.faults[0].AfterApply && !write {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

func answer(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

func errorResponse(w http.ResponseWriter, status int, code, message string) int {
	return answer(w, status, map[string]string{"code": code, "message": message})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, call *Call) int {
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.cfg.APIKey {
		s.violate("%s %s: Authorization is not the bearer API key", r.Method, call.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodDelete
	if f, ok := s.nextFault(write); ok {
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
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			return errorResponse(w, f.Status, "Fault", "injected fault")
		}
		if f.AfterApply {
			return http.StatusOK
		}
	}
	return s.route(w, r, call)
}

// route carries out one call of the documented API.
func (s *Server) route(w http.ResponseWriter, r *http.Request, call *Call) int {
	switch {
	case r.Method == http.MethodPost && call.Path == "/orders":
		return s.create(w, r, call)
	case (r.Method == http.MethodGet || r.Method == http.MethodDelete) && strings.HasPrefix(call.Path, "/orders/"):
		ids, refs, err := parseIdentifiers(strings.TrimPrefix(call.Path, "/orders/"))
		call.Items = len(ids) + len(refs)
		if err != nil {
			s.violate("%s %s: %v", r.Method, call.Path, err)
			return answer(w, http.StatusBadRequest, []map[string]string{{"code": "InvalidIdentifiers", "message": err.Error()}})
		}
		if r.Method == http.MethodGet {
			return s.lookup(w, ids, refs)
		}
		return s.delete(w, ids, refs)
	}
	s.violate("%s %s: no such operation", r.Method, call.Path)
	return errorResponse(w, http.StatusNotFound, "NotFound", "no such operation")
}

// parseIdentifiers reads {orderIdentifiers}: integers, or references
// percent-encoded in double quotes, separated by semicolons, at most 100.
func parseIdentifiers(path string) (ids []int64, refs []string, err error) {
	parts := strings.Split(strings.TrimSuffix(path, "/"), ";")
	if len(parts) > maxIdentifiers {
		return nil, nil, fmt.Errorf("%d identifiers, more than %d", len(parts), maxIdentifiers)
	}
	for _, p := range parts {
		if strings.HasPrefix(p, "%22") && strings.HasSuffix(p, "%22") && len(p) >= 6 || strings.HasPrefix(p, `"`) && strings.HasSuffix(p, `"`) && len(p) >= 2 {
			inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(strings.TrimPrefix(p, "%22"), "%22"), `"`), `"`)
			ref, err := url.PathUnescape(inner)
			if err != nil {
				return nil, nil, fmt.Errorf("a reference is not percent-encoded")
			}
			refs = append(refs, ref)
			continue
		}
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("an identifier is neither an integer nor a quoted reference")
		}
		ids = append(ids, id)
	}
	return ids, refs, nil
}

type orderInfo struct {
	OrderIdentifier int64  `json:"orderIdentifier"`
	OrderReference  string `json:"orderReference,omitempty"`
	CreatedOn       string `json:"createdOn"`
}

func (s *Server) lookup(w http.ResponseWriter, ids []int64, refs []string) int {
	s.mu.Lock()
	var out []orderInfo
	for _, o := range s.orders {
		if !o.Cancelled && matches(o, ids, refs) {
			out = append(out, orderInfo{OrderIdentifier: o.Identifier, OrderReference: o.Reference, CreatedOn: "2026-01-01T00:00:00Z"})
		}
	}
	s.mu.Unlock()
	if len(out) == 0 {
		return errorResponse(w, http.StatusNotFound, "NotFound", "no such orders")
	}
	return answer(w, http.StatusOK, out)
}

func matches(o *Order, ids []int64, refs []string) bool {
	for _, id := range ids {
		if o.Identifier == id {
			return true
		}
	}
	for _, ref := range refs {
		if o.Reference == ref {
			return true
		}
	}
	return false
}

func (s *Server) delete(w http.ResponseWriter, ids []int64, refs []string) int {
	type deleted struct {
		OrderIdentifier int64  `json:"orderIdentifier"`
		OrderReference  string `json:"orderReference,omitempty"`
	}
	type failed struct {
		OrderIdentifier int64  `json:"orderIdentifier,omitempty"`
		OrderReference  string `json:"orderReference,omitempty"`
		Code            string `json:"code"`
		Message         string `json:"message"`
	}
	res := struct {
		DeletedOrders []deleted `json:"deletedOrders"`
		Errors        []failed  `json:"errors"`
	}{}
	s.mu.Lock()
	for _, id := range ids {
		var hit *Order
		for _, o := range s.orders {
			if o.Identifier == id && !o.Cancelled {
				hit = o
			}
		}
		if hit == nil {
			res.Errors = append(res.Errors, failed{OrderIdentifier: id, Code: "NotFound", Message: "Order not found"})
			continue
		}
		hit.Cancelled = true
		res.DeletedOrders = append(res.DeletedOrders, deleted{OrderIdentifier: id, OrderReference: hit.Reference})
	}
	for _, ref := range refs {
		n := 0
		for _, o := range s.orders {
			if o.Reference == ref && !o.Cancelled {
				o.Cancelled = true
				n++
				res.DeletedOrders = append(res.DeletedOrders, deleted{OrderIdentifier: o.Identifier, OrderReference: ref})
			}
		}
		if n == 0 {
			res.Errors = append(res.Errors, failed{OrderReference: ref, Code: "NotFound", Message: "Order not found"})
		}
	}
	s.mu.Unlock()
	return answer(w, http.StatusOK, res)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, call *Call) int {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.violate("POST /orders: Content-Type is not application/json")
		return errorResponse(w, http.StatusBadRequest, "InvalidContentType", "expected application/json")
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(r.Body); err != nil {
		return 0
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw.Bytes()))
	if err != nil {
		s.violate("POST /orders: body is not JSON")
		return errorResponse(w, http.StatusBadRequest, "InvalidJson", "body is not JSON")
	}
	if err := s.schema.Validate(inst); err != nil {
		s.violate("POST /orders: %v", err)
		return errorResponse(w, http.StatusBadRequest, "ValidationFailed", err.Error())
	}
	var body struct {
		Items []json.RawMessage `json:"items"`
	}
	_ = json.Unmarshal(raw.Bytes(), &body)
	call.Items = len(body.Items)

	type created struct {
		OrderIdentifier int64  `json:"orderIdentifier"`
		OrderReference  string `json:"orderReference,omitempty"`
		CreatedOn       string `json:"createdOn"`
	}
	type field struct {
		FieldName string `json:"fieldName"`
		Value     string `json:"value"`
	}
	type orderError struct {
		ErrorCode    int     `json:"errorCode"`
		ErrorMessage string  `json:"errorMessage"`
		Fields       []field `json:"fields"`
	}
	type failedOrder struct {
		Order  json.RawMessage `json:"order"`
		Errors []orderError    `json:"errors"`
	}
	res := struct {
		SuccessCount  int           `json:"successCount"`
		ErrorsCount   int           `json:"errorsCount"`
		CreatedOrders []created     `json:"createdOrders"`
		FailedOrders  []failedOrder `json:"failedOrders"`
	}{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, item := range body.Items {
		var o struct {
			OrderReference string `json:"orderReference"`
			Recipient      struct {
				Address struct {
					Postcode    string `json:"postcode"`
					CountryCode string `json:"countryCode"`
					City        string `json:"city"`
				} `json:"address"`
			} `json:"recipient"`
		}
		_ = json.Unmarshal(item, &o)
		addr := o.Recipient.Address
		switch {
		case postcodeCountries[addr.CountryCode] && addr.Postcode == "":
			// Like Click & Drop, the refusal echoes the order and quotes
			// the values it is about: a client must keep neither.
			res.FailedOrders = append(res.FailedOrders, failedOrder{Order: item, Errors: []orderError{{
				ErrorCode: ErrorCodePostcode, ErrorMessage: "Postcode is required for " + addr.City,
				Fields: []field{{FieldName: "postcode", Value: addr.City}},
			}}})
			continue
		case s.refuse[o.OrderReference]:
			res.FailedOrders = append(res.FailedOrders, failedOrder{Order: item, Errors: []orderError{{
				ErrorCode: ErrorCodeRefused, ErrorMessage: "Order refused: " + string(item),
				Fields: []field{{FieldName: "recipient", Value: string(item)}},
			}}})
			continue
		}
		if o.OrderReference != "" {
			for _, prev := range s.orders {
				if prev.Reference == o.OrderReference && !prev.Cancelled {
					s.duplicates = append(s.duplicates, o.OrderReference)
					break
				}
			}
		}
		s.nextID++
		s.orders = append(s.orders, &Order{Identifier: s.nextID, Reference: o.OrderReference, Body: item})
		res.CreatedOrders = append(res.CreatedOrders, created{OrderIdentifier: s.nextID, OrderReference: o.OrderReference, CreatedOn: time.Now().UTC().Format(time.RFC3339)})
	}
	res.SuccessCount, res.ErrorsCount = len(res.CreatedOrders), len(res.FailedOrders)
	return answer(w, http.StatusOK, res)
}
