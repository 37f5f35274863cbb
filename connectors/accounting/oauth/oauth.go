// Package oauth keeps an accounting connector's OAuth2 tokens: the access
// token and the refresh token it is renewed with (RFC 6749 6). Xero and
// QuickBooks Online both rotate the refresh token on every refresh, and the
// old one soon stops working, so each new one is kept and handed to the
// connector's OnRefreshToken to be stored. How the grant is sent (the
// provider's client authentication, rate limit and metrics) and how a
// refusal reads are the connector's: it passes them in as Exchange and
// Refusal.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// Exchange sends the refresh grant's form to the token endpoint and returns
// the answer's status, body and header. An error is a transport fault (or
// the context's end) the connector has already wrapped.
type Exchange func(ctx context.Context, form url.Values) (status int, body []byte, header http.Header, err error)

// Refusal turns a token endpoint's non-200 answer into the connector's
// error. code is the answer's OAuth2 error code ("invalid_grant"), as sent:
// the connector keeps it only if it is a plain token.
type Refusal func(status int, code string, body []byte, header http.Header) error

// Config configures Tokens.
type Config struct {
	// Provider names the connector in errors and logs ("xero"). Required.
	Provider string
	// Name is the connector instance, for the logs.
	Name string
	// RefreshToken is the first refresh token (from a secret reference).
	// Required.
	RefreshToken config.Secret
	// OnRefreshToken, if set, receives each rotated refresh token. Called
	// while the tokens are locked (no other refresh runs); it must not call
	// back into the connector.
	OnRefreshToken func(config.Secret)
	// Exchange sends the grant. Required.
	Exchange Exchange
	// Refusal builds the error of a non-200 answer. Required.
	Refusal Refusal
	// Now is the clock that access tokens expire by. Default time.Now.
	Now func() time.Time
	// Lifetime is an access token's life when the answer gives no
	// expires_in (the provider's documented one). Zero: it is used once.
	Lifetime time.Duration
	// Logger, if set, logs each refresh (never a token).
	Logger *slog.Logger
}

// Tokens holds the access and refresh tokens. It is safe for concurrent
// use: the lock is held across a refresh, so that calls arriving together
// with an expired token refresh it once and all use the new one.
type Tokens struct {
	cfg Config

	mu      sync.Mutex
	access  string
	expiry  time.Time
	refresh config.Secret
}

// Skew refreshes an access token this long before it expires, so that a
// call never carries a token that lapses on the way.
const Skew = time.Minute

// New checks cfg and returns Tokens with no access token yet: the first
// Access refreshes.
func New(cfg Config) (*Tokens, error) {
	if cfg.Provider == "" || cfg.Exchange == nil || cfg.Refusal == nil {
		return nil, errors.New("oauth config: Provider, Exchange and Refusal are required")
	}
	if cfg.RefreshToken.Reveal() == "" {
		return nil, fmt.Errorf("%s oauth config: RefreshToken is required", cfg.Provider)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tokens{cfg: cfg, refresh: cfg.RefreshToken}, nil
}

// Access returns a current access token, refreshing it if it has expired
// (or is about to), if there is none yet, or if the API refused it.
func (t *Tokens) Access(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access != "" && t.cfg.Now().Before(t.expiry.Add(-Skew)) {
		return t.access, nil
	}
	if err := t.refreshLocked(ctx); err != nil {
		return "", err
	}
	return t.access, nil
}

// Refused drops an access token the API answered 401 to, unless another
// call has replaced it already: calls that all carried the same refused
// token then refresh it once between them.
func (t *Tokens) Refused(access string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access == access {
		t.access = ""
	}
}

// Call calls f with a current access token. When f reports that the API
// refused the token (a 401: it expired early or was revoked), the token is
// dropped (Refused), refreshed and f called once more; what f returns then
// is final, a second refusal included.
func (t *Tokens) Call(ctx context.Context, f func(access string) (refused bool, err error)) error {
	for attempt := 0; ; attempt++ {
		access, err := t.Access(ctx)
		if err != nil {
			return err
		}
		refused, err := f(access)
		if refused && attempt == 0 {
			t.Refused(access)
			continue
		}
		return err
	}
}

// RefreshToken is the refresh token held now: the last one issued.
func (t *Tokens) RefreshToken() config.Secret {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refresh
}

func (t *Tokens) refreshLocked(ctx context.Context) error {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.refresh.Reveal()}}
	status, data, hdr, err := t.cfg.Exchange(ctx, form)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return t.cfg.Refusal(status, e.Error, data, hdr)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		// The answer may hold a token: say only its size.
		return fmt.Errorf("%s token refresh: the answer is not a bearer token (%d bytes)", t.cfg.Provider, len(data))
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if tok.ExpiresIn <= 0 {
		life = t.cfg.Lifetime
	}
	t.access = tok.AccessToken
	t.expiry = t.cfg.Now().Add(life)
	if tok.RefreshToken != "" && tok.RefreshToken != t.refresh.Reveal() {
		t.refresh = config.Secret(tok.RefreshToken)
		if t.cfg.OnRefreshToken != nil {
			t.cfg.OnRefreshToken(t.refresh)
		}
	}
	if t.cfg.Logger != nil {
		t.cfg.Logger.Debug(t.cfg.Provider+" token refreshed", "connector", t.cfg.Name)
	}
	return nil
}

// GrantRefused says whether a token endpoint's error code refuses the
// credentials (RFC 6749 5.2): invalid_grant (the refresh token expired, was
// revoked or rotated away) or invalid_client. No call can succeed until an
// operator reconnects, though the status is a 400.
func GrantRefused(code string) bool {
	return code == "invalid_grant" || code == "invalid_client"
}
