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
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Courier.
type Config struct {
	// Name identifies the connector in metrics (the connector label), logs and
	// errors: 1 to 64 of [a-z0-9_-]. Required.
	Name string
	// URL is where jobs are posted. https, or http to a loopback host (the
	// stand-ins in tests): a job holds a name and an address. Required.
	URL string
	// Keys are the signing keys, oldest first; the last one signs. To
	// rotate, append the new key, give its secret to the receiver first, and
	// drop the old one once the receiver no longer needs it. At least one;
	// ids unique, 1 to 64 of [A-Za-z0-9_-].
	Keys []Key
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

// Key is one signing key: its id, sent as webhook-key-id, and where its
// secret is kept. The config holds only the reference.
type Key struct {
	ID     string    `yaml:"id"`
	Secret SecretRef `yaml:"secret"`
}

// SecretRef says where a secret is: exactly one of Env and File. The secret
// is in Standard Webhooks' text form, "whsec_" and base64 of at least 24
// random bytes (ParseSecret).
type SecretRef struct {
	// Env names an environment variable holding the secret.
	Env string `yaml:"env"`
	// File is a path whose content (surrounding whitespace trimmed) is the
	// secret, such as a mounted Kubernetes secret.
	File string `yaml:"file"`
}

// Courier posts jobs to one webhook receiver. Safe for concurrent use.
type Courier struct {
	name    string
	url     string
	keyID   string
	key     []byte
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
}

// namePattern is a connector's name as config allows it (a metric label).
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// New completes and checks cfg, reads the secrets, and returns the Courier.
// Its errors name the key at fault, never a secret.
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
	if len(cfg.Keys) == 0 {
		return nil, fail("keys: at least one signing key")
	}
	seen := map[string]bool{}
	var key []byte
	for i, k := range cfg.Keys {
		if !idPattern.MatchString(k.ID) || len(k.ID) > 64 {
			return nil, fail("keys[%d].id: want 1 to 64 of [A-Za-z0-9_-]", i)
		}
		if seen[k.ID] {
			return nil, fail("keys[%d].id: %s is listed twice", i, k.ID)
		}
		seen[k.ID] = true
		text, err := k.Secret.resolve()
		if err != nil {
			return nil, fail("keys[%d].secret: %w", i, err)
		}
		if key, err = ParseSecret(text); err != nil {
			return nil, fail("keys[%d].secret: %w", i, err)
		}
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
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fail("metrics: %w", err)
	}
	return &Courier{
		name:  cfg.Name,
		url:   cfg.URL,
		keyID: cfg.Keys[len(cfg.Keys)-1].ID,
		key:   key,
		client: &http.Client{
			Transport: cfg.Transport,
			// Standard Webhooks: a redirect is a failure; update the URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout: cfg.Timeout,
		now:     cfg.Now,
		log:     cfg.Logger.With("connector", cfg.Name),
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

func (r SecretRef) resolve() (string, error) {
	switch {
	case r.Env != "" && r.File != "":
		return "", errors.New("set env or file, not both")
	case r.Env != "":
		if v := os.Getenv(r.Env); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("environment variable %s is unset or empty", r.Env)
	case r.File != "":
		b, err := os.ReadFile(r.File)
		if err != nil {
			return "", fmt.Errorf("cannot read the secret file: %w", err)
		}
		return string(b), nil
	}
	return "", errors.New("a secret is given by reference, env or file")
}

// Send posts each request in turn and says what became of each, at the same
// index. The error is the context's, when it ends before every request is
// sent; the requests not sent are then Retry.
func (c *Courier) Send(ctx context.Context, reqs []Request) ([]Result, error) {
	results := make([]Result, len(reqs))
	for i, req := range reqs {
		if err := ctx.Err(); err != nil {
			for j := i; j < len(reqs); j++ {
				results[j] = Result{Outcome: Retry, Err: fmt.Errorf("webhook %s: not sent: %w", c.name, err)}
			}
			return results, err
		}
		results[i] = c.send(ctx, req)
	}
	return results, nil
}

func (c *Courier) send(ctx context.Context, req Request) Result {
	b, err := body(req)
	if err != nil {
		c.metrics.requests.WithLabelValues(c.name, labelInvalid).Inc()
		return Result{Outcome: Failed, Err: fmt.Errorf("webhook %s: request not sent: %w", c.name, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	now := c.now()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(b))
	if err != nil {
		c.metrics.requests.WithLabelValues(c.name, labelInvalid).Inc()
		return Result{Outcome: Failed, Err: fmt.Errorf("webhook %s: request not sent: %w", c.name, err)}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(HeaderID, req.IdempotencyKey)
	hr.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	hr.Header.Set(HeaderKeyID, c.keyID)
	hr.Header.Set(HeaderSignature, Sign(c.key, req.IdempotencyKey, now.Unix(), b))

	start := time.Now()
	resp, err := c.client.Do(hr)
	elapsed := time.Since(start)
	c.metrics.duration.WithLabelValues(c.name).Observe(elapsed.Seconds())
	var res Result
	var label string
	if err != nil {
		res, label = c.transportFailure(err)
	} else {
		// The body is never read into anything: a receiver may echo the
		// request, name and address included. Drained a little, so that the
		// connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		res, label = c.classify(resp)
	}
	c.metrics.requests.WithLabelValues(c.name, label).Inc()
	// No webhook-id: the key is the caller's, and a caller's key could be
	// made of an order's values; the dispatcher logs the job's position.
	c.log.LogAttrs(ctx, slog.LevelDebug, "webhook request", slog.String("kind", string(req.Kind)),
		slog.Int("status", res.Status), slog.String("outcome", label),
		// Rounded, and as text: a run of nanosecond digits in a log line is
		// noise a leak scan would have to tell from a card number.
		slog.String("duration", elapsed.Round(time.Millisecond).String()))
	return res
}

// classify decides from the status alone: the one place the retry policy
// lives.
func (c *Courier) classify(resp *http.Response) (Result, string) {
	status := resp.StatusCode
	res := Result{Status: status}
	switch {
	case status >= 200 && status < 300:
		res.Outcome = Done
		return res, labelDone
	case status == http.StatusConflict:
		res.Outcome = Done // the receiver has this idempotency key already
		return res, labelDuplicate
	case status == http.StatusTooManyRequests:
		res.Outcome, res.RetryAfter = Retry, retryAfter(resp.Header.Get("Retry-After"), c.now())
		res.Err = fmt.Errorf("webhook %s: status 429, rate limited (retry after %s)", c.name, res.RetryAfter)
		return res, labelRateLimited
	case status >= 500:
		res.Outcome, res.RetryAfter = Retry, retryAfter(resp.Header.Get("Retry-After"), c.now())
		res.Err = fmt.Errorf("webhook %s: status %d, server error", c.name, status)
		return res, labelServerError
	}
	res.Outcome = Failed
	res.Err = fmt.Errorf("webhook %s: status %d, refused for good", c.name, status)
	return res, labelRejected
}

// transportFailure: no answer is always worth a retry; the dispatcher stops
// retrying when its own context ends.
func (c *Courier) transportFailure(err error) (Result, string) {
	label := labelConnection
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		label = labelTimeout
	}
	// A url.Error names the URL, which is configuration; the order is not in
	// it.
	return Result{Outcome: Retry, Err: fmt.Errorf("webhook %s: %s: %w", c.name, strings.ReplaceAll(label, "_", " "), err)}, label
}

// retryAfter reads Retry-After as seconds or an HTTP date (RFC 9110
// 10.2.3); 0 when absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
