// Package webhook is the generic courier connector: each job goes to the
// courier's URL as one JSON POST signed with HMAC-SHA256 in the Standard
// Webhooks format, for couriers without a dedicated connector. Verify is the
// receiver's half (README.md shows it worked through).
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/config"
)

// Kind is the connector kind (worker/config/connectors.go) and its
// allow-list's name (schemas/policy/connectors.yaml).
const Kind = "webhook"

// Config configures a Courier: what config.Connector gives a webhook
// connector, its secret already resolved.
type Config struct {
	// Name identifies the connector in metrics (the connector label), logs and
	// errors: its connectors.<name>. Required.
	Name string
	// URL is where jobs are posted (config.Connector's Endpoint). https, or
	// http to a loopback host (the stand-ins in tests): a job holds a name
	// and an address. Required.
	URL string
	// KeyID names the signing key, sent as webhook-key-id so that a receiver
	// holding several secrets knows which one to verify with: 1 to 64 of
	// [A-Za-z0-9_-]. Required (config.Connector's KeyID, default "1").
	KeyID string
	// Secret is the signing secret in Standard Webhooks' text form, "whsec_"
	// and base64 of at least 24 random bytes (ParseSecret):
	// config.Connector's Credentials.Value. To rotate, give the receiver the
	// new secret and id first, then change both here. Required.
	Secret config.Secret
	// AllowList maps what the body carries (its "as" column names each
	// source's path in the shipment). Default: the webhook allow-list of
	// schemas/policy/connectors.yaml.
	AllowList *policy.AllowList
	// Timeout bounds one request, answer included. Default 30s (Standard
	// Webhooks recommends 15 to 30 seconds).
	Timeout time.Duration
	// Transport sends the requests. Default: a clone of
	// http.DefaultTransport. Redirects are never followed.
	Transport http.RoundTripper
	// Registerer takes the metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Logger gets one debug line per request (kind, status, outcome,
	// duration). Default: discard.
	Logger *slog.Logger
	// Now is the clock that stamps webhook-timestamp and reads Retry-After
	// dates. Default time.Now.
	Now func() time.Time
}

// Courier posts jobs to one webhook receiver. Safe for concurrent use.
type Courier struct {
	name    string
	url     string
	keyID   string
	key     []byte
	paths   paths
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	metrics *courier.Metrics
}

// New completes and checks cfg and returns the Courier. Its errors name the
// key at fault, never a secret.
func New(cfg Config) (*Courier, error) {
	// The name's form is config's rule (connectors.<name>); here it only has
	// to be a bounded metric label.
	if cfg.Name == "" || len(cfg.Name) > 64 {
		return nil, fmt.Errorf("webhook: name: want 1 to 64 bytes, got %d", len(cfg.Name))
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("webhook %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, fail("url: %w", err)
	}
	if !idPattern.MatchString(cfg.KeyID) || len(cfg.KeyID) > 64 {
		return nil, fail("key_id: want 1 to 64 of [A-Za-z0-9_-]")
	}
	key, err := ParseSecret(cfg.Secret.Reveal())
	if err != nil {
		return nil, fail("credentials: %w", err)
	}
	if cfg.AllowList == nil {
		lists, err := policy.LoadConnectors()
		if err != nil {
			return nil, fail("allow-list: %w", err)
		}
		list, err := lists.For(Kind)
		if err != nil {
			return nil, fail("allow-list: %w", err)
		}
		cfg.AllowList = &list
	}
	ps, err := newPaths(*cfg.AllowList)
	if err != nil {
		return nil, fail("allow-list: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Timeout < 0 {
		return nil, fail("timeout: negative")
	}
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := courier.NewMetrics(cfg.Registerer)
	if err != nil {
		return nil, fail("metrics: %w", err)
	}
	return &Courier{
		name:  cfg.Name,
		url:   cfg.URL,
		keyID: cfg.KeyID,
		key:   key,
		paths: ps,
		client: &http.Client{
			Transport: cfg.Transport,
			// Standard Webhooks: a redirect is a failure; update the URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: cfg.Timeout,
		now:     cfg.Now,
		log:     cfg.Logger.With("component", "webhook", "connector", cfg.Name),
		metrics: m,
	}, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if u.Hostname() == "localhost" {
			return nil
		}
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
			return nil
		}
		return errors.New("http only to a loopback host; use https: the body holds a name and an address")
	}
	return fmt.Errorf("scheme %q: want https", u.Scheme)
}

// Deliver posts each delivery in turn and says what became of each, at the
// same index. Nothing is retried here: a Retry is the dispatcher's to
// schedule. Once the receiver answers with a Retry-After (a 429, a 503
// naming when to come back), the deliveries after it are not sent: each is
// a Retry after the same wait, since the receiver asked its client, not one
// request, to wait.
//
// The error is not nil only when no result can be trusted: ctx ended
// (ctx.Err()), or the receiver refused the signature (401 or 403: it matches
// courier.ErrCredentialsRefused, since no delivery can pass until an
// operator acts).
func (c *Courier) Deliver(ctx context.Context, ds []courier.Delivery) ([]courier.Result, error) {
	results := make([]courier.Result, len(ds))
	var wait time.Duration
	for i := range ds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if wait > 0 {
			results[i] = courier.Result{Outcome: courier.Retry, RetryAfter: wait,
				Err: fmt.Errorf("webhook %s: not sent: the receiver asked to wait %s", c.name, wait)}
			continue
		}
		res, err := c.deliver(ctx, &ds[i])
		if err != nil {
			return nil, err
		}
		results[i] = res
		if res.Outcome == courier.Retry {
			wait = res.RetryAfter
		}
	}
	return results, nil
}

// errRefused is a 401 or 403: wrapped with the connector's name, it matches
// courier.ErrCredentialsRefused.
type errRefused struct{ status int }

func (e errRefused) Error() string {
	return fmt.Sprintf("status %d: the receiver refused the signature", e.status)
}

func (e errRefused) Is(target error) bool { return target == courier.ErrCredentialsRefused }

func (c *Courier) deliver(ctx context.Context, d *courier.Delivery) (courier.Result, error) {
	b, err := c.body(d)
	if err != nil {
		c.metrics.Requests.WithLabelValues(c.name, courier.LabelInvalid).Inc()
		return courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("webhook %s: request not sent: %w", c.name, err)}, nil
	}
	callCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	now := c.now()
	hr, err := http.NewRequestWithContext(callCtx, http.MethodPost, c.url, bytes.NewReader(b))
	if err != nil {
		c.metrics.Requests.WithLabelValues(c.name, courier.LabelInvalid).Inc()
		return courier.Result{Outcome: courier.Failed, Err: fmt.Errorf("webhook %s: request not sent: %w", c.name, err)}, nil
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(HeaderID, d.IdempotencyKey)
	hr.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	hr.Header.Set(HeaderKeyID, c.keyID)
	hr.Header.Set(HeaderSignature, Sign(c.key, d.IdempotencyKey, now.Unix(), b))

	start := time.Now()
	resp, err := c.client.Do(hr)
	took := time.Since(start)
	var res courier.Result
	var label string
	status := 0
	if err != nil {
		if err := ctx.Err(); err != nil {
			return courier.Result{}, err // the caller's context ended, not the call's timeout
		}
		label = courier.TransportLabel(err)
		// A url.Error names the URL, which is configuration; the order is
		// not in it.
		res = courier.Result{Outcome: courier.Retry, Err: fmt.Errorf("webhook %s: %s: %w", c.name, label, err)}
	} else {
		// The body is never read into anything: a receiver may echo the
		// request, name and address included. Drained a little, so that the
		// connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		status = resp.StatusCode
		res, label = c.classify(resp)
	}
	c.metrics.Record(c.name, label, took)
	// No webhook-id: the key is the caller's, and a caller's key could be
	// made of an order's values; the dispatcher logs the job's position.
	c.log.LogAttrs(ctx, slog.LevelDebug, "webhook request", slog.String("kind", string(d.Kind)),
		slog.Int("status", status), slog.String("outcome", label),
		// Rounded, and as text: a run of nanosecond digits in a log line is
		// noise a leak scan would have to tell from a card number.
		slog.String("duration", took.Round(time.Millisecond).String()))
	if courier.CredentialsRefused(status) {
		return courier.Result{}, fmt.Errorf("webhook %s: %w", c.name, errRefused{status})
	}
	return res, nil
}

// classify decides from the status alone, by courier.Classify, but for a
// 409: the receiver has this idempotency key already.
func (c *Courier) classify(resp *http.Response) (courier.Result, string) {
	status := resp.StatusCode
	if status == http.StatusConflict {
		return courier.Result{Outcome: courier.Done}, courier.LabelDuplicate
	}
	outcome, label := courier.Classify(status)
	res := courier.Result{Outcome: outcome}
	switch label {
	case courier.LabelDone:
	case courier.LabelRateLimited, courier.LabelServerError:
		res.RetryAfter = courier.RetryAfter(resp.Header.Get("Retry-After"), c.now())
		res.Err = fmt.Errorf("webhook %s: status %d, %s (retry after %s)", c.name, status, label, res.RetryAfter)
	default:
		res.Err = fmt.Errorf("webhook %s: status %d, refused for good", c.name, status)
	}
	return res, label
}
