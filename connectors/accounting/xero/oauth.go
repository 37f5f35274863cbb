package xero

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/config"
)

// TokenError is the token endpoint's refusal or failure. Status 400 or 401
// (invalid_grant: the refresh token expired, was revoked or rotated away;
// invalid_client) refuses the credentials; anything else is transient.
type TokenError struct {
	Status int
	// Code is the OAuth2 error code ("invalid_grant") when it is a plain
	// token; the description is never kept.
	Code string
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("xero token refresh: HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		s += ", error " + e.Code
	}
	return s
}

// Is makes a refused refresh match courier.ErrCredentialsRefused.
func (e *TokenError) Is(target error) bool {
	return target == courier.ErrCredentialsRefused && (e.Status == http.StatusBadRequest || courier.CredentialsRefused(e.Status))
}

// tokens keeps the access token and the refresh token, and refreshes the one
// with the other (RFC 6749 6) when the access token expires or the API
// refuses it. Xero rotates the refresh token on every refresh; the new one
// is kept here and handed to Config.OnRefreshToken.
type tokens struct {
	c *Client

	mu      sync.Mutex
	access  string
	expiry  time.Time
	refresh config.Secret
}

// expirySkew refreshes a little before the access token's end, so that a
// call does not carry a token that expires on the way.
const expirySkew = time.Minute

// get returns a valid access token, refreshing it if need be.
func (t *tokens) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access != "" && t.c.cfg.Clock.Now().Before(t.expiry.Add(-expirySkew)) {
		return t.access, nil
	}
	if err := t.refreshLocked(ctx); err != nil {
		return "", err
	}
	return t.access, nil
}

// refused drops an access token the API refused (401), unless another call
// has replaced it already.
func (t *tokens) refused(access string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access == access {
		t.access = ""
	}
}

func (t *tokens) refreshLocked(ctx context.Context) error {
	cfg := &t.c.cfg
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t.refresh.Reveal()}}
	callCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("xero token refresh: build request: %w", err)
	}
	req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret.Reveal()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		t.c.metrics.Record(cfg.Name, courier.TransportLabel(err), time.Since(start))
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", errCtxDone, ctx.Err())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("xero token refresh: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_, label := courier.Classify(resp.StatusCode)
	t.c.metrics.Record(cfg.Name, label, time.Since(start))
	if err != nil {
		return fmt.Errorf("xero token refresh: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return &TokenError{Status: resp.StatusCode, Code: safeToken(e.Error)}
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		ExpiresIn    int64  `json:"expires_in"`
		TokenType    string `json:"token_type"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
		return errors.New("xero token refresh: the answer is not a bearer token")
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 1800 // Xero's documented 30 minutes
	}
	t.access = tok.AccessToken
	t.expiry = cfg.Clock.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	if tok.RefreshToken != "" && tok.RefreshToken != t.refresh.Reveal() {
		t.refresh = config.Secret(tok.RefreshToken)
		if cfg.OnRefreshToken != nil {
			cfg.OnRefreshToken(t.refresh)
		}
	}
	cfg.Logger.Debug("xero token refreshed", "connector", cfg.Name)
	return nil
}
