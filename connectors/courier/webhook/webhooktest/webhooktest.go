// Package webhooktest is a stand-in webhook receiver for tests and the demo:
// a real HTTP server that verifies every delivery with webhook.Verify,
// checks the body against the allow-list it is given, keeps a ledger by
// idempotency key, applies cancels, and fails on demand (429 with
// Retry-After, 5xx, slow answers).
package webhooktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/orderflow/orderflow/connectors/courier/webhook"
)

// Config configures a Server.
type Config struct {
	// Keys are the key ids and HMAC keys it accepts (webhook.ParseSecret).
	Keys map[string][]byte
	// Tolerance is how far webhook-timestamp may be from Now. Default 5m.
	Tolerance time.Duration
	// Now is the receiver's clock. Default time.Now.
	Now func() time.Time
	// Allowed are the dotted paths a create's shipment may hold; any other
	// is refused.
	Allowed []string
	// Required are the paths a create's shipment must hold.
	Required []string
	// MaxLen bounds string fields, in characters, by path (a label's
	// 35-character address line).
	MaxLen map[string]int
	// DuplicateStatus answers a redelivery: 200 (default) or 409.
	DuplicateStatus int
	// EchoOnRefusal makes refusals echo the request's body, as some
	// providers do: a client must not carry it into an error.
	EchoOnRefusal bool
	// Fault, when set, is asked before each request (n counts from 0)
	// whether to fail it; Inject's queue goes first.
	Fault func(n int) (Fault, bool)
}

// Fault is a failure to answer with.
type Fault struct {
	// Status is answered instead of handling the request; 0 handles it.
	Status int
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
	// Delay holds the answer back (a slow receiver, a client timeout).
	Delay time.Duration
	// AfterApply records the delivery first, then answers Status: the
	// receiver has it, the sender does not know.
	AfterApply bool
}

// Delivery is one idempotency key's entry in the ledger.
type Delivery struct {
	IdempotencyKey string
	Kind           string
	OrderReference string
	KeyID          string
	// Fields are the shipment's leaves by dotted path; numbers as
	// json.Number.
	Fields map[string]any
	// Duplicates counts redeliveries after the first.
	Duplicates int
}

// Order is an order reference's state at the receiver.
type Order struct {
	Created   bool
	Cancelled bool
}

// Refusal is a request the receiver turned down, and why.
type Refusal struct {
	Status int
	Reason string
}

// Server is the running receiver.
type Server struct {
	*httptest.Server
	cfg Config

	mu       sync.Mutex
	n        int
	queue    []Fault
	ledger   map[string]*Delivery
	order    []string
	orders   map[string]*Order
	refusals []Refusal
}

// New starts a receiver on a loopback port; Close stops it.
func New(cfg Config) *Server {
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DuplicateStatus == 0 {
		cfg.DuplicateStatus = http.StatusOK
	}
	s := &Server{cfg: cfg, ledger: map[string]*Delivery{}, orders: map[string]*Order{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Inject queues faults for the next requests, one each.
func (s *Server) Inject(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, faults...)
}

// Requests is how many requests arrived, faults and refusals included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Deliveries is the ledger, in order of first arrival.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, 0, len(s.order))
	for _, k := range s.order {
		d := *s.ledger[k]
		d.Fields = maps.Clone(d.Fields)
		out = append(out, d)
	}
	return out
}

// Order is an order reference's state; false when the receiver never heard
// of it.
func (s *Server) Order(ref string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[ref]
	if !ok {
		return Order{}, false
	}
	return *o, true
}

// Refusals are the requests turned down, in order.
func (s *Server) Refusals() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refusals)
}

func (s *Server) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.n
	s.n++
	if len(s.queue) > 0 {
		f := s.queue[0]
		s.queue = s.queue[1:]
		return f, true
	}
	if s.cfg.Fault != nil {
		return s.cfg.Fault(n)
	}
	return Fault{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	fault, faulty := s.nextFault()
	if faulty && fault.Delay > 0 {
		select {
		case <-time.After(fault.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if faulty && fault.Status != 0 && !fault.AfterApply {
		answer(w, fault)
		return
	}
	status, reason, echo := s.handle(r)
	if faulty && fault.Status != 0 {
		answer(w, fault) // applied, and the answer lost
		return
	}
	if status >= 400 {
		s.mu.Lock()
		s.refusals = append(s.refusals, Refusal{Status: status, Reason: reason})
		s.mu.Unlock()
		if !s.cfg.EchoOnRefusal {
			echo = nil
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": reason, "request": json.RawMessage(orNull(echo))})
		return
	}
	w.WriteHeader(status)
}

func orNull(b []byte) []byte {
	if len(b) == 0 {
		return []byte("null")
	}
	return b
}

func answer(w http.ResponseWriter, f Fault) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.WriteHeader(f.Status)
}

// handle checks and records one delivery: the status to answer, the reason
// for a refusal (a field path and a rule, never a value), and the body.
func (s *Server) handle(r *http.Request) (int, string, []byte) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "method " + r.Method, nil
	}
	body, err := webhook.Verify(r, s.cfg.Keys, s.cfg.Tolerance, s.cfg.Now())
	if err != nil {
		return http.StatusUnauthorized, err.Error(), nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return http.StatusUnsupportedMediaType, "content type is not application/json", body
	}
	d, err := s.check(body)
	if err != nil {
		return http.StatusBadRequest, err.Error(), body
	}
	if d.IdempotencyKey != r.Header.Get(webhook.HeaderID) {
		return http.StatusBadRequest, "idempotency_key differs from " + webhook.HeaderID, body
	}
	d.KeyID = r.Header.Get(webhook.HeaderKeyID)

	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.ledger[d.IdempotencyKey]; ok {
		prev.Duplicates++
		return s.cfg.DuplicateStatus, "", nil
	}
	s.ledger[d.IdempotencyKey] = d
	s.order = append(s.order, d.IdempotencyKey)
	o := s.orders[d.OrderReference]
	switch d.Kind {
	case "create":
		if o == nil {
			o = &Order{}
			s.orders[d.OrderReference] = o
		}
		o.Created = true
	case "cancel":
		if o == nil { // a cancel of an order never created is done: nothing to undo
			o = &Order{}
			s.orders[d.OrderReference] = o
		}
		o.Cancelled = true
	}
	return http.StatusOK, "", nil
}

var topLevel = map[string]bool{"v": true, "kind": true, "idempotency_key": true, "order_reference": true, "shipment": true}

// check reads the body against the contract: exactly the top-level members,
// a shipment on a create only, every leaf allow-listed, the required ones
// present, strings within their lengths.
func (s *Server) check(body []byte) (*Delivery, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, errors.New("body is not a JSON object")
	}
	for _, k := range slices.Sorted(maps.Keys(doc)) {
		if !topLevel[k] {
			return nil, fmt.Errorf("%s: unknown member", k)
		}
	}
	if v, _ := doc["v"].(json.Number); v.String() != strconv.Itoa(webhook.BodyVersion) {
		return nil, errors.New("v: want " + strconv.Itoa(webhook.BodyVersion))
	}
	d := &Delivery{Fields: map[string]any{}}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"kind", &d.Kind}, {"idempotency_key", &d.IdempotencyKey}, {"order_reference", &d.OrderReference}} {
		v, ok := doc[f.name].(string)
		if !ok || v == "" {
			return nil, fmt.Errorf("%s: required, a non-empty string", f.name)
		}
		*f.dst = v
	}
	shipment, has := doc["shipment"]
	switch d.Kind {
	case "cancel":
		if has {
			return nil, errors.New("shipment: a cancel carries none")
		}
		return d, nil
	case "create":
		obj, ok := shipment.(map[string]any)
		if !ok {
			return nil, errors.New("shipment: required on a create, an object")
		}
		if err := flatten(obj, "", d.Fields); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("kind: not create or cancel (%d characters)", len(d.Kind))
	}
	allowed := map[string]bool{}
	for _, p := range s.cfg.Allowed {
		allowed[p] = true
	}
	paths := slices.Sorted(maps.Keys(d.Fields))
	for _, p := range paths {
		if !allowed[p] {
			return nil, fmt.Errorf("shipment.%s: not allow-listed", p)
		}
		if max, ok := s.cfg.MaxLen[p]; ok {
			if str, ok := d.Fields[p].(string); ok && utf8.RuneCountInString(str) > max {
				return nil, fmt.Errorf("shipment.%s: %d characters, at most %d", p, utf8.RuneCountInString(str), max)
			}
		}
	}
	missing := []string{}
	for _, p := range s.cfg.Required {
		if v, ok := d.Fields[p]; !ok || v == "" {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("shipment: required fields missing or empty: %v", missing)
	}
	return d, nil
}

func flatten(obj map[string]any, prefix string, out map[string]any) error {
	for k, v := range obj {
		path := prefix + k
		switch v := v.(type) {
		case map[string]any:
			if err := flatten(v, path+".", out); err != nil {
				return err
			}
		case []any, nil:
			return fmt.Errorf("shipment.%s: a string, number or boolean", path)
		default:
			out[path] = v
		}
	}
	return nil
}
