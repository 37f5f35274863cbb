// Package webhooktest is a stand-in webhook receiver for tests and the demo:
// a real HTTP server that verifies every delivery with webhook.Verify,
// checks the body against the webhook allow-list's paths (its "as"
// column), keeps a ledger by idempotency key, applies cancels, and fails on
// demand (429 with Retry-After, 5xx, slow answers, an answer lost after the
// work is done).
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
	"github.com/orderflow/orderflow/schemas/policy"
)

// Config configures a Server.
type Config struct {
	// Keys are the key ids and HMAC keys it accepts (webhook.ParseSecret).
	Keys map[string][]byte
	// Tolerance is how far webhook-timestamp may be from Now. Default 5m.
	Tolerance time.Duration
	// Now is the receiver's clock. Default time.Now.
	Now func() time.Time
	// Paths are the allow-list's sources and the shipment path each fills
	// (webhook.Paths); a create's shipment may hold these paths and no
	// other. Default: webhook.Paths of the webhook allow-list of
	// schemas/policy/connectors.yaml.
	Paths map[string]string
	// Required are the paths a create's shipment must hold. Default none.
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
	// json.Number, an amount as its object; an item member's path
	// ("customs.items[].sku") holds a []any of every item's value.
	Fields map[string]any
	// Sources are the allow-list sources the fields fill, sorted.
	Sources []string
	// Duplicates counts redeliveries after the first.
	Duplicates int
}

// Order is an order reference's state at the receiver.
type Order struct {
	// Created counts the creates filed: a redelivery (the same idempotency
	// key) is not filed again.
	Created   int
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
	if cfg.Paths == nil {
		var err error
		if cfg.Paths, err = defaultPaths(); err != nil {
			panic("webhooktest: " + err.Error()) // the embedded allow-list is checked by its own tests
		}
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
		o.Created++
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
		if err := s.flatten(obj, "", d.Fields); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("kind: not create or cancel (%d characters)", len(d.Kind))
	}
	sourceOf := map[string]string{}
	for src, p := range s.cfg.Paths {
		sourceOf[p] = src
	}
	paths := slices.Sorted(maps.Keys(d.Fields))
	for _, p := range paths {
		src, ok := sourceOf[p]
		if !ok {
			return nil, fmt.Errorf("shipment.%s: not allow-listed", p)
		}
		d.Sources = append(d.Sources, src)
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
	slices.Sort(d.Sources)
	return d, nil
}

// flatten reads obj's leaves into out by path. A path the allow-list names
// is a leaf whatever its JSON (an amount is an object); an array is a list
// of items, each an object whose members' paths are the array's and "[]."
// and the member's, holding every item's value in a []any.
func (s *Server) flatten(obj map[string]any, prefix string, out map[string]any) error {
	allowed := map[string]bool{}
	for _, p := range s.cfg.Paths {
		allowed[p] = true
	}
	var walk func(obj map[string]any, prefix string, item bool) error
	walk = func(obj map[string]any, prefix string, item bool) error {
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			path, v := prefix+k, obj[k]
			switch c := v.(type) {
			case nil:
				return fmt.Errorf("shipment.%s: null", path)
			case []any:
				if item || allowed[path] {
					return fmt.Errorf("shipment.%s: an array where a value belongs", path)
				}
				for _, e := range c {
					eo, ok := e.(map[string]any)
					if !ok {
						return fmt.Errorf("shipment.%s: items are objects", path)
					}
					if err := walk(eo, path+"[].", true); err != nil {
						return err
					}
				}
				continue
			case map[string]any:
				if !allowed[path] {
					if err := walk(c, path+".", item); err != nil {
						return err
					}
					continue
				}
			}
			if item {
				list, _ := out[path].([]any)
				out[path] = append(list, v)
			} else {
				out[path] = v
			}
		}
		return nil
	}
	return walk(obj, prefix, false)
}

func defaultPaths() (map[string]string, error) {
	lists, err := policy.LoadConnectors()
	if err != nil {
		return nil, err
	}
	list, err := lists.For(webhook.Kind)
	if err != nil {
		return nil, err
	}
	return webhook.Paths(list)
}

// Values returns the text of every leaf the delivery carried: what a test
// searches for values that must never be sent.
func (d Delivery) Values() []string {
	var out []string
	var add func(v any)
	add = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				add(e)
			}
		case map[string]any:
			for _, e := range v {
				add(e)
			}
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	for _, v := range d.Fields {
		add(v)
	}
	slices.Sort(out)
	return out
}
