// Package clickanddrop is the Royal Mail Click & Drop courier connector: it
// creates orders in batches (POST /orders), cancels them (DELETE
// /orders/{orderIdentifiers}) and reconciles each batch's per-order answer
// into one Result per job. Click & Drop has no idempotency key, so a job
// finds the order an earlier delivery of it created by its order reference
// (GET /orders/{orderIdentifiers}) before creating it.
//
// API facts (Royal Mail's Swagger spec "ChannelShipper & Royal Mail Public
// API" 1.0.0, https://api.parcel.royalmail.com/): base URL
// https://api.parcel.royalmail.com/api/v1, "Authorization: Bearer <API
// key>", 5 calls a second per account (429 beyond), up to 100 identifiers
// per {orderIdentifiers} path (references percent-encoded in double quotes,
// separated by semicolons). The spec gives no maximum for the items of one
// POST /orders; this client sends at most 100, the bound the spec sets on
// every other collection of orders.
package clickanddrop

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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/config"
)

// DefaultBaseURL is Click & Drop's API v1.
const DefaultBaseURL = "https://api.parcel.royalmail.com/api/v1"

// MaxBatch is the most orders one call carries (see the package comment).
const MaxBatch = 100

// Kind is the connector kind (worker/config/connectors.go) and its
// allow-list's name (schemas/policy/connectors.yaml).
const Kind = "clickanddrop"

// Clock is the time the client reads and waits on: the rate limiter's, the
// per-call timeout's and Retry-After's. Tests inject one that never sleeps.
type Clock = httpcall.Clock

// Config configures a Client: one per Click & Drop account, since the rate
// limit is the account's.
type Config struct {
	// Name is the connector's name (connectors.<name>): its label in metrics
	// and logs. Default Kind.
	Name string
	// BaseURL is the API's root. Default DefaultBaseURL.
	BaseURL string
	// APIKey is the account's API key (Settings > Integrations > Click &
	// Drop API): config.Connector's Credentials.Value, resolved from where
	// the configuration says it is. Required.
	APIKey config.Secret
	// HTTPClient makes the calls. Default: a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each call; a call that runs out is retried. Default 30s.
	Timeout time.Duration
	// RatePerSecond and Burst are the account's token bucket. Default 5 calls
	// a second (Click & Drop's documented limit), burst 1.
	RatePerSecond float64
	Burst         int
	// MaxBatch is the most orders per call. Default and maximum MaxBatch.
	MaxBatch int
	// Registerer receives the metrics. Nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger logs each call (operation, status, duration) and each refused
	// delivery (its index and the refusal's codes). Default: discard.
	Logger *slog.Logger
	// Clock defaults to the real one.
	Clock Clock
}

// Client is a Click & Drop connector for one account. It is safe for
// concurrent use; its calls share the account's rate limit.
type Client struct {
	cfg     Config
	base    string
	limiter *rate.Limiter
	http    *httpcall.Caller
	metrics *courier.Metrics
}

// New completes and checks cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Name == "" {
		cfg.Name = Kind
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if !httpcall.HTTPURL(cfg.BaseURL) {
		return nil, errors.New("clickanddrop: base_url is not an http(s) URL")
	}
	if cfg.APIKey.Reveal() == "" {
		return nil, errors.New("clickanddrop: api_key is required (a secret reference: env or file)")
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 5
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 1
	}
	if cfg.MaxBatch <= 0 || cfg.MaxBatch > MaxBatch {
		cfg.MaxBatch = MaxBatch
	}
	hc, err := httpcall.New(httpcall.Config{
		Provider: Kind, Name: cfg.Name, HTTPClient: cfg.HTTPClient, Timeout: cfg.Timeout,
		Logger: cfg.Logger, Clock: cfg.Clock, Registerer: cfg.Registerer, CtxDone: errCtxDone,
	})
	if err != nil {
		return nil, fmt.Errorf("clickanddrop: %w", err)
	}
	cfg.HTTPClient, cfg.Timeout, cfg.Logger, cfg.Clock = hc.HTTPClient, hc.Timeout, hc.Logger, hc.Clock
	return &Client{
		cfg:     cfg,
		base:    strings.TrimRight(cfg.BaseURL, "/"),
		limiter: rate.NewLimiter(rate.Limit(cfg.RatePerSecond), cfg.Burst),
		http:    hc,
		metrics: hc.Metrics,
	}, nil
}

// Deliver carries out ds and returns one Result per Delivery, at the same
// index. Creates go first, then cancels; deliveries that share an order
// reference share one answer. Each create is looked up by its reference
// first, so a redelivered job finds the order its first delivery created
// instead of creating a second one. Nothing is retried here: a Retry is
// the dispatcher's to schedule.
//
// The error is not nil only when no result can be trusted: ctx ended
// (ctx.Err()), or Click & Drop refused the API key (it matches
// courier.ErrCredentialsRefused).
func (c *Client) Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]courier.Result, len(ds))
	creates := newGroups()
	cancels := newGroups()
	wires := map[string]createOrderRequest{}
	invalid := func(i int, err error) {
		c.metrics.Requests.WithLabelValues(c.cfg.Name, courier.LabelInvalid).Inc()
		results[i] = courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("clickanddrop: delivery %d: %w", i, err)}
	}
	for i := range ds {
		d := &ds[i]
		switch d.Kind {
		case outbox.KindCreate:
			if _, seen := wires[d.OrderReference]; seen {
				creates.add(d.OrderReference, i)
				continue
			}
			w, err := toWire(d)
			if err != nil {
				invalid(i, err)
				continue
			}
			wires[d.OrderReference] = w
			creates.add(d.OrderReference, i)
		case outbox.KindCancel:
			v := checker{}
			v.text("orderReference", d.OrderReference, maxOrderReference, true)
			if v.err != nil {
				invalid(i, v.err)
				continue
			}
			cancels.add(d.OrderReference, i)
		default:
			invalid(i, errors.New("kind is not create or cancel"))
		}
	}
	// Once Click & Drop answers with a Retry-After (a 429, a 503 naming
	// when to come back), the chunks after it are not sent: each of their
	// deliveries is a Retry after the same wait, since the account was
	// asked to wait, not one call.
	var wait time.Duration
	send := func(g *groups, call func([]string) (map[string]courier.Result, error)) error {
		for _, chunk := range g.chunks(c.cfg.MaxBatch) {
			got := make(map[string]courier.Result, len(chunk))
			if wait > 0 {
				for _, ref := range chunk {
					got[ref] = courier.Result{Outcome: courier.Retry, RetryAfter: wait,
						Err: fmt.Errorf("clickanddrop: not sent: Click & Drop asked to wait %s", wait)}
				}
			} else {
				var err error
				if got, err = call(chunk); err != nil {
					return err
				}
			}
			for _, r := range got {
				if r.Outcome == courier.Retry {
					wait = max(wait, r.RetryAfter)
				}
			}
			g.spread(got, results)
		}
		return nil
	}
	if err := send(creates, func(chunk []string) (map[string]courier.Result, error) { return c.createChunk(ctx, chunk, wires) }); err != nil {
		return nil, err
	}
	if err := send(cancels, func(chunk []string) (map[string]courier.Result, error) { return c.cancelChunk(ctx, chunk) }); err != nil {
		return nil, err
	}
	for i := range results {
		if results[i].Outcome == courier.Failed {
			// Debug: the dispatcher parks the job and logs it.
			c.cfg.Logger.Debug("clickanddrop: delivery failed for good", "connector", c.cfg.Name, "delivery", i, "kind", string(ds[i].Kind), "err", results[i].Err)
		}
	}
	return results, nil
}

// createChunk creates the orders of refs that Click & Drop does not have yet.
func (c *Client) createChunk(ctx context.Context, refs []string, wires map[string]createOrderRequest) (map[string]courier.Result, error) {
	out := make(map[string]courier.Result, len(refs))
	found, err := c.lookup(ctx, refs)
	if err != nil {
		return out, c.judgeAll(err, refs, out)
	}
	var missing []string
	for _, ref := range refs {
		if ids := found[ref]; len(ids) > 0 {
			out[ref] = courier.Result{Outcome: courier.Done}
		} else {
			missing = append(missing, ref)
		}
	}
	return out, c.create(ctx, missing, wires, out)
}

// create posts refs' orders in one call and reconciles the answer. A batch
// refused whole with a 400 is sent again one order a call, so that one order
// the contract check missed cannot fail the others.
func (c *Client) create(ctx context.Context, refs []string, wires map[string]createOrderRequest, out map[string]courier.Result) error {
	if len(refs) == 0 {
		return nil
	}
	body := createOrdersRequest{Items: make([]createOrderRequest, len(refs))}
	for i, ref := range refs {
		body.Items[i] = wires[ref]
	}
	var answer struct {
		CreatedOrders []struct {
			OrderIdentifier int64  `json:"orderIdentifier"`
			OrderReference  string `json:"orderReference"`
		} `json:"createdOrders"`
		// Only the reference of the echoed order is decoded: the rest of
		// the echo is personal data and never leaves the decoder.
		FailedOrders []struct {
			Order struct {
				OrderReference string `json:"orderReference"`
			} `json:"order"`
			Errors []struct {
				ErrorCode int `json:"errorCode"`
				Fields    []struct {
					FieldName string `json:"fieldName"`
				} `json:"fields"`
			} `json:"errors"`
		} `json:"failedOrders"`
	}
	err := c.call(ctx, "create", http.MethodPost, "/orders", body, &answer)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusBadRequest && len(refs) > 1 {
		for _, ref := range refs {
			if err := c.create(ctx, []string{ref}, wires, out); err != nil {
				return err
			}
		}
		return nil
	}
	if err != nil {
		return c.judgeAll(err, refs, out)
	}
	pending := map[string]bool{}
	for _, ref := range refs {
		pending[ref] = true
	}
	for _, o := range answer.CreatedOrders {
		if !pending[o.OrderReference] {
			continue
		}
		out[o.OrderReference] = courier.Result{Outcome: courier.Done}
	}
	for _, f := range answer.FailedOrders {
		ref := f.Order.OrderReference
		if !pending[ref] || out[ref].Outcome == courier.Done {
			continue
		}
		oe := &OrderError{}
		for _, e := range f.Errors {
			oe.Codes = append(oe.Codes, e.ErrorCode)
			for _, fl := range e.Fields {
				if name := safeToken(fl.FieldName); name != "" {
					oe.Fields = append(oe.Fields, name)
				}
			}
		}
		out[ref] = courier.Result{Outcome: courier.Failed, Err: oe}
	}
	for _, ref := range refs {
		if out[ref].Outcome == 0 {
			// Neither created nor refused: ask again; the lookup before the
			// next create finds the order if it was created after all.
			out[ref] = courier.Result{Outcome: courier.Retry, Err: errors.New("clickanddrop create: the answer does not mention the order")}
		}
	}
	return nil
}

// cancelChunk deletes the orders of refs. An order Click & Drop does not
// have is done: there is nothing to cancel.
func (c *Client) cancelChunk(ctx context.Context, refs []string) (map[string]courier.Result, error) {
	out := make(map[string]courier.Result, len(refs))
	found, err := c.lookup(ctx, refs)
	if err != nil {
		return out, c.judgeAll(err, refs, out)
	}
	var ids []string
	var present []string
	for _, ref := range refs {
		if len(found[ref]) == 0 {
			out[ref] = courier.Result{Outcome: courier.Done}
			continue
		}
		present = append(present, ref)
		for _, id := range found[ref] {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
	}
	if len(present) == 0 {
		return out, nil
	}
	var answer struct {
		DeletedOrders []struct {
			OrderIdentifier int64 `json:"orderIdentifier"`
		} `json:"deletedOrders"`
		Errors []struct {
			OrderIdentifier int64  `json:"orderIdentifier"`
			Code            string `json:"code"`
		} `json:"errors"`
	}
	err = c.call(ctx, "delete", http.MethodDelete, "/orders/"+strings.Join(ids, ";"), nil, &answer)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		for _, ref := range present {
			out[ref] = courier.Result{Outcome: courier.Done} // gone since the lookup
		}
		return out, nil
	}
	if err != nil {
		return out, c.judgeAll(err, present, out)
	}
	deleted := map[int64]bool{}
	for _, d := range answer.DeletedOrders {
		deleted[d.OrderIdentifier] = true
	}
	refused := map[int64]string{}
	for _, e := range answer.Errors {
		refused[e.OrderIdentifier] = safeToken(e.Code)
	}
	for _, ref := range present {
		r := courier.Result{Outcome: courier.Done}
		for _, id := range found[ref] {
			if code, ok := refused[id]; ok {
				r = courier.Result{Outcome: courier.Failed, Err: &HTTPError{Op: "delete", Status: http.StatusOK, Code: code}}
				break
			}
			if !deleted[id] {
				r = courier.Result{Outcome: courier.Retry, Err: errors.New("clickanddrop delete: the answer does not mention the order")}
			}
		}
		out[ref] = r
	}
	return out, nil
}

// lookup returns the Click & Drop ids of the orders with the references
// refs (GET /orders/{orderIdentifiers}); 404 means none.
func (c *Client) lookup(ctx context.Context, refs []string) (map[string][]int64, error) {
	quoted := make([]string, len(refs))
	for i, ref := range refs {
		quoted[i] = "%22" + url.PathEscape(ref) + "%22"
	}
	var answer []struct {
		OrderIdentifier int64  `json:"orderIdentifier"`
		OrderReference  string `json:"orderReference"`
	}
	err := c.call(ctx, "lookup", http.MethodGet, "/orders/"+strings.Join(quoted, ";"), nil, &answer)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	found := map[string][]int64{}
	for _, o := range answer {
		found[o.OrderReference] = append(found[o.OrderReference], o.OrderIdentifier)
	}
	return found, nil
}

// judgeAll gives every ref of a call that failed as a whole the call's
// outcome. It returns the error Send must return instead of results: the
// caller's context ended, or the API key was refused.
func (c *Client) judgeAll(err error, refs []string, out map[string]courier.Result) error {
	var he *HTTPError
	var r courier.Result
	switch {
	case c.http.Stops(err):
		return err
	case errors.As(err, &he):
		r = httpcall.Judge(he.Status, he.RetryAfter, err)
	default: // timeouts, refused connections, cut answers
		r = courier.Result{Outcome: courier.Retry, Err: err}
	}
	for _, ref := range refs {
		out[ref] = r
	}
	return nil
}

// errCtxDone marks the caller's context ending, which is no transient fault.
var errCtxDone = errors.New("clickanddrop: context ended")

// call makes one rate-limited API call and decodes a 2xx answer into answer.
func (c *Client) call(ctx context.Context, op, method, path string, body, answer any) error {
	if err := c.http.Wait(ctx, c.limiter); err != nil {
		return err
	}
	payload, err := c.http.Encode(op, body)
	if err != nil {
		return err
	}
	var answers []int
	if op != "create" {
		// A lookup's or a delete's 404 is an answer ("no such order"), not a
		// failed call.
		answers = []int{http.StatusNotFound}
	}
	// The URL holds order references: Do's errors never name it.
	a, err := c.http.Do(ctx, httpcall.Request{
		Op: op, Method: method, URL: c.base + path, Authorization: "Bearer " + c.cfg.APIKey.Reveal(),
		Body: payload, Answers: answers,
	})
	if err != nil {
		return err
	}
	if !a.OK() {
		he := &HTTPError{Op: op, Status: a.Status, RetryAfter: courier.RetryAfter(a.Header.Get("Retry-After"), c.cfg.Clock.Now())}
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(a.Body, &e) == nil {
			he.Code = safeToken(e.Code)
			he.MessageLen = len([]rune(e.Message))
		}
		return he
	}
	return c.http.Decode(op, a.Body, answer)
}

// groups keeps the request indexes of each order reference, references in
// the order they first came.
type groups struct {
	order []string
	index map[string][]int
}

func newGroups() *groups { return &groups{index: map[string][]int{}} }

func (g *groups) add(ref string, i int) {
	if _, ok := g.index[ref]; !ok {
		g.order = append(g.order, ref)
	}
	g.index[ref] = append(g.index[ref], i)
}

func (g *groups) chunks(n int) [][]string {
	var out [][]string
	for start := 0; start < len(g.order); start += n {
		out = append(out, g.order[start:min(start+n, len(g.order))])
	}
	return out
}

func (g *groups) spread(got map[string]courier.Result, results []courier.Result) {
	for ref, r := range got {
		for _, i := range g.index[ref] {
			results[i] = r
		}
	}
}
