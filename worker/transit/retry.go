package transit

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/backoff"
)

// class is what a failed request calls for.
type class int

const (
	permanent class = iota // a bad request, a missing key, an unreadable answer: never retried
	retryable              // Vault unavailable, overloaded or unreachable: retried with backoff
	denied                 // 401 or 403: permission denied, or the token is no longer valid
	canceled               // the context ended
)

// classify is the one place that decides what a failed Vault request calls for.
// It looks at types, never at messages.
func classify(err error) class {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return canceled
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusTooManyRequests, re.StatusCode >= 500:
			return retryable // 429 is a rate-limit quota; 5xx includes a sealed or standby Vault
		case re.StatusCode == http.StatusForbidden, re.StatusCode == http.StatusUnauthorized:
			return denied
		default:
			return permanent
		}
	}
	// Connection refused, reset, DNS failure: any failure to dial, read or write.
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return retryable
	}
	// The server (or a proxy) closed the connection before or during the answer.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return retryable
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return retryable
	}
	// TLS verification failures, bad URLs, undecodable answers: retrying cannot help.
	return permanent
}

// request is one HTTP request to Vault.
type request struct {
	op  string // metric label, and the Op of an Error
	key string // the transit key it is about, if any
	// tenant is set on requests that use or create a tenant's key for its
	// data (HMAC, encrypt, key creation): the gate checks each one before it
	// is sent, so that an admitted call stops as soon as the tenant is
	// offboarded or the gate's list goes stale.
	tenant string
	method string // GET, PUT or DELETE
	path   string // below /v1/, such as "transit/hmac/orderflow-acme-hmac/sha2-256"
	body   []byte // JSON, for PUT
	items  int    // batch items, for orderflow_vault_batch_items_total

	anonymous bool // a login: sent without a token
	noReauth  bool // a 403 is the answer itself (token lookups), not a reason to log in again
	batch     bool // a 400 that carries batch_results answers every item (encrypt, decrypt)
}

// decoder reads a successful answer; partial reports batch items that failed.
type decoder func(body io.Reader) (partial bool, err error)

// call sends r until it succeeds, fails for good, runs out of attempts or ctx
// ends; decode (if any) reads the answer. A 403 leads to one new login when the
// token turns out to be invalid, then one more attempt. Logins and the token's
// own requests have LoginAttempts, the others MaxAttempts.
func (c *Client) call(ctx context.Context, r request, decode decoder) error {
	reauthenticated := false
	maxAttempts := c.cfg.MaxAttempts
	if r.anonymous || r.noReauth {
		maxAttempts = c.cfg.LoginAttempts
	}
	for attempt := 1; ; attempt++ {
		if err := c.checkRequest(r); err != nil {
			return err
		}
		cl, retryAfter, token, err := c.attempt(ctx, r, decode)
		if err == nil {
			return nil
		}
		switch cl {
		case retryable:
			if attempt < maxAttempts && ctx.Err() == nil {
				wait := min(max(c.backoff.Delay(attempt-1), retryAfter), c.cfg.RetryMax)
				c.log.Info("vault request failed; retrying", "operation", r.op, "key", r.key,
					"attempt", attempt, "wait", wait, "err", oneLine(sanitize(err)))
				c.m.retries.WithLabelValues(r.op).Inc()
				if backoff.Sleep(ctx, wait) == nil {
					continue
				}
			}
		case denied:
			if !r.anonymous && !r.noReauth && !reauthenticated {
				renewed, aerr := c.reauthenticate(ctx, token)
				if aerr != nil {
					c.log.Warn("vault refused the request, and checking the token or logging in again failed",
						"operation", r.op, "err", oneLine(aerr))
					if temporary(aerr) {
						// Vault was unavailable for the lookup or the login,
						// not refusing them: the request may pass later.
						cl = retryable
					}
				}
				if renewed {
					reauthenticated = true
					c.m.retries.WithLabelValues(r.op).Inc()
					continue
				}
			}
		}
		return &Error{Op: r.op, Key: r.key, Attempts: attempt, Temporary: cl == retryable, Err: sanitize(err)}
	}
}

// temporary reports whether err is (or wraps) an *Error that may pass later.
func temporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// attempt makes one HTTP request and classifies its failure. token is the
// token it was sent with, retryAfter Vault's Retry-After (0 if none).
func (c *Client) attempt(ctx context.Context, r request, decode decoder) (cl class, retryAfter time.Duration, token string, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	vc := c.vc
	if r.anonymous {
		vc = c.anon
	}
	token = vc.Token()
	start := time.Now()

	var resp *api.Response
	switch r.method {
	case http.MethodGet:
		resp, err = vc.Logical().ReadRawWithContext(actx, r.path)
	case http.MethodDelete:
		resp, err = vc.Logical().DeleteRawWithContext(actx, r.path)
	default:
		resp, err = vc.Logical().WriteRawWithContext(actx, r.path, r.body)
	}
	partial := false
	if resp != nil {
		defer resp.Body.Close()
		retryAfter = retryAfterHeader(resp.Header)
	}
	switch {
	case err == nil && decode != nil:
		partial, err = decode(resp.Body)
	case r.batch && StatusCode(err) == http.StatusBadRequest && resp != nil && decode != nil:
		// Transit answers 400 when any encrypt or decrypt item failed, with every
		// item's result in the body: that is an answer, not a failed request.
		if p, derr := decode(resp.Body); derr == nil {
			partial, err = p, nil
		}
	}
	if resp != nil {
		_, _ = io.Copy(io.Discard, resp.Body) // so the connection can be reused
	}

	outcome := outcomeOK
	if err != nil {
		cl = classify(err)
		if cl == canceled && ctx.Err() == nil {
			cl = retryable // the attempt's own timeout, not the caller's
		}
		outcome = outcomeOf(cl, err)
	} else if partial {
		outcome = outcomeItemErrors
	}
	c.m.requests.WithLabelValues(r.op, outcome).Inc()
	c.m.duration.WithLabelValues(r.op).Observe(time.Since(start).Seconds())
	if r.items > 0 {
		c.m.batchItems.WithLabelValues(r.op).Add(float64(r.items))
	}
	return cl, retryAfter, token, err
}

func outcomeOf(cl class, err error) string {
	switch cl {
	case retryable:
		return outcomeUnavailable
	case denied:
		return outcomeDenied
	case canceled:
		return outcomeCanceled
	}
	if s := StatusCode(err); s >= 400 && s < 500 {
		return outcomeRejected
	}
	return outcomeError
}

// retryAfterHeader reads Retry-After in seconds (Vault's rate-limit quotas send
// it with 429); the HTTP-date form is not used by Vault.
func retryAfterHeader(h http.Header) time.Duration {
	s, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
