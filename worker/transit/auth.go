package transit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"golang.org/x/sync/singleflight"

	"github.com/orderflow/orderflow/worker/backoff"
)

// authState is what the client knows of its current token's lifetime.
type authState struct {
	mu        sync.Mutex
	expiry    time.Time     // zero: the token does not expire
	fullTTL   time.Duration // the TTL the token had when it was obtained
	renewable bool
	own       bool // obtained by our login, so ours to revoke at Close

	relogin singleflight.Group // one login at a time for a token that Vault refused
}

// obtained records a new token: from a login (own) or from the configuration.
func (a *authState) obtained(ttl time.Duration, renewable, own bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expiry = expiryAfter(ttl)
	a.fullTTL, a.renewable, a.own = ttl, renewable, own
}

// renewed records a renewal of the current token.
func (a *authState) renewed(ttl time.Duration, renewable bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expiry = expiryAfter(ttl)
	a.renewable = renewable
}

func expiryAfter(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{} // Vault's TTL 0: the token does not expire (a root token)
	}
	return time.Now().Add(ttl)
}

// refreshIn is how long to wait before renewing or logging in again: two thirds
// of the remaining lifetime, less up to a tenth of it at random so that a fleet
// of workers does not renew at once. ok is false for a token that never expires.
func (a *authState) refreshIn(now time.Time) (wait time.Duration, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.expiry.IsZero() {
		return 0, false
	}
	left := a.expiry.Sub(now)
	if left <= 0 {
		return 0, true
	}
	// The floor keeps a token close to its end from being refreshed in a tight loop.
	return max(left*2/3-rand.N(left/10+1), 100*time.Millisecond), true
}

// login obtains a token with the configured method and makes it the client's.
func (c *Client) login(ctx context.Context) error {
	a := c.cfg.Auth
	var body map[string]string
	var path string
	switch a.Method {
	case AuthToken:
		return c.useToken(ctx)
	case AuthAppRole:
		path = "auth/" + a.AppRoleMount + "/login"
		body = map[string]string{"role_id": a.RoleID.Reveal(), "secret_id": a.SecretID.Reveal()}
	case AuthKubernetes:
		jwt, err := readSecretFile(a.KubernetesTokenFile)
		if err != nil {
			return fmt.Errorf("vault login (kubernetes): service-account token: %w", err)
		}
		path = "auth/" + a.KubernetesMount + "/login"
		body = map[string]string{"role": a.KubernetesRole, "jwt": jwt}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("vault login (%s): %w", a.Method, err)
	}
	var auth *api.SecretAuth
	err = c.call(ctx, request{op: opLogin, method: http.MethodPut, path: path, body: data, anonymous: true},
		func(r io.Reader) (bool, error) {
			s, err := api.ParseSecret(r)
			if err != nil {
				return false, fmt.Errorf("reading the login answer: %w", err)
			}
			if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
				return false, errors.New("the login answer has no token")
			}
			auth = s.Auth
			return false, nil
		})
	if err != nil {
		return fmt.Errorf("vault login (%s): %w", a.Method, err)
	}
	c.vc.SetToken(auth.ClientToken)
	ttl := time.Duration(auth.LeaseDuration) * time.Second
	c.auth.obtained(ttl, auth.Renewable, true)
	c.log.Info("logged in to vault", "method", a.Method, "ttl", ttl, "renewable", auth.Renewable)
	return nil
}

// useToken takes the configured token (from its file, if it has one, so that a
// rewritten file is followed) and asks Vault what it is: a token Vault refuses
// fails New rather than the first batch.
func (c *Client) useToken(ctx context.Context) error {
	a := c.cfg.Auth
	token := a.Token.Reveal()
	if a.TokenFile != "" {
		t, err := readSecretFile(a.TokenFile)
		if err != nil {
			return fmt.Errorf("vault token: %w", err)
		}
		token = t
	}
	c.vc.SetToken(token)
	ttl, renewable, err := c.lookupSelf(ctx)
	if err != nil {
		return fmt.Errorf("vault token: %w", err)
	}
	c.auth.obtained(ttl, renewable, false)
	return nil
}

// lookupSelf asks Vault about the client's token. It fails with 403 when the
// token is invalid or expired (the default policy lets every token look itself up).
func (c *Client) lookupSelf(ctx context.Context) (ttl time.Duration, renewable bool, err error) {
	err = c.call(ctx, request{op: opLookupSelf, method: http.MethodGet, path: "auth/token/lookup-self", noReauth: true},
		func(r io.Reader) (bool, error) {
			s, err := api.ParseSecret(r)
			if err != nil {
				return false, fmt.Errorf("reading the token lookup: %w", err)
			}
			if s == nil {
				return false, errors.New("the token lookup is empty")
			}
			if ttl, err = s.TokenTTL(); err != nil {
				return false, fmt.Errorf("reading the token's ttl: %w", err)
			}
			renewable, err = s.TokenIsRenewable()
			return false, err
		})
	return ttl, renewable, err
}

// renewSelf extends the client's token and returns its new TTL.
func (c *Client) renewSelf(ctx context.Context) (time.Duration, bool, error) {
	var auth *api.SecretAuth
	err := c.call(ctx, request{op: opRenewSelf, method: http.MethodPut, path: "auth/token/renew-self", body: []byte("{}"), noReauth: true},
		func(r io.Reader) (bool, error) {
			s, err := api.ParseSecret(r)
			if err != nil {
				return false, fmt.Errorf("reading the renewal: %w", err)
			}
			if s == nil || s.Auth == nil {
				return false, errors.New("the renewal answer has no auth")
			}
			auth = s.Auth
			return false, nil
		})
	if err != nil {
		return 0, false, err
	}
	return time.Duration(auth.LeaseDuration) * time.Second, auth.Renewable, nil
}

// refreshToken keeps the client's token valid ahead of its expiry: it renews a
// renewable token, and logs in afresh when renewal fails or no longer extends
// the token much (its max TTL is near). Renewing first, rather than logging in
// every time, spares AppRole secret-id uses and does not pile up tokens in Vault.
func (c *Client) refreshToken(ctx context.Context) error {
	c.auth.mu.Lock()
	renewable, fullTTL := c.auth.renewable, c.auth.fullTTL
	c.auth.mu.Unlock()
	if renewable {
		ttl, stillRenewable, err := c.renewSelf(ctx)
		switch {
		case err == nil && ttl >= fullTTL/2:
			c.auth.renewed(ttl, stillRenewable)
			c.log.Debug("renewed the vault token", "ttl", ttl)
			return nil
		case err != nil:
			c.log.Warn("renewing the vault token failed; logging in again", "err", oneLine(err))
		}
	}
	return c.login(ctx)
}

// maintainToken renews or replaces the token before it expires, until ctx ends
// (Close, or the context given to New). A failed refresh is retried with
// backoff; meanwhile requests that meet an expired token log in themselves.
func (c *Client) maintainToken(ctx context.Context) {
	defer close(c.done)
	failures := 0
	for {
		wait, expires := c.auth.refreshIn(time.Now())
		if !c.canRefresh() {
			expires = false // a fixed token that cannot be renewed: nothing to do but use it
		}
		if failures > 0 {
			wait, expires = c.backoff.Delay(failures-1), true
		}
		if !expires {
			<-ctx.Done()
			return
		}
		if backoff.Sleep(ctx, wait) != nil {
			return
		}
		if err := c.refreshToken(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			c.log.Error("keeping the vault token valid failed", "attempt", failures, "err", oneLine(err))
			continue
		}
		failures = 0
	}
}

// canRefresh reports whether refreshToken can do anything: renew the token,
// log in, or read a token file that may have been rewritten.
func (c *Client) canRefresh() bool {
	c.auth.mu.Lock()
	renewable := c.auth.renewable
	c.auth.mu.Unlock()
	return renewable || c.cfg.Auth.Method != AuthToken || c.cfg.Auth.TokenFile != ""
}

// reauthenticate handles a 403 met with token: it reports whether the request
// is worth one more attempt with a new token. Vault 1.14 answers a request with
// an invalid or expired token and a request the policy forbids alike (403,
// "permission denied"), so the token is looked up: if Vault still accepts it,
// the 403 was a real refusal and no new login can change it. An error says
// the lookup or the login failed; a temporary one (Vault unavailable) leaves
// the question open.
func (c *Client) reauthenticate(ctx context.Context, token string) (bool, error) {
	if c.vc.Token() != token {
		return true, nil // another request already replaced the token
	}
	if c.cfg.Auth.Method == AuthToken && c.cfg.Auth.TokenFile == "" {
		return false, nil // nothing to log in with: a fixed token stays what it is
	}
	switch _, _, err := c.lookupSelf(ctx); {
	case err == nil:
		return false, nil // Vault accepts the token: the 403 is the policy's
	case classify(err) != denied:
		return false, fmt.Errorf("looking the token up: %w", err)
	}
	_, err, _ := c.auth.relogin.Do(token, func() (any, error) {
		if c.vc.Token() != token {
			return nil, nil
		}
		c.log.Warn("vault no longer accepts the token; logging in again", "method", c.cfg.Auth.Method)
		return nil, c.login(ctx)
	})
	return err == nil, err
}

// revokeOwnToken revokes a token that this client's login obtained, so that it
// does not outlive the process in Vault; a given token is left alone.
func (c *Client) revokeOwnToken(ctx context.Context) error {
	c.auth.mu.Lock()
	own := c.auth.own
	c.auth.mu.Unlock()
	if !own {
		return nil
	}
	return c.call(ctx, request{op: opRevokeSelf, method: http.MethodPut, path: "auth/token/revoke-self", body: []byte("{}"), noReauth: true}, nil)
}

// readSecretFile reads a token or JWT file. Errors name the file, never its content.
func readSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
