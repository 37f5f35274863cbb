package xero

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting/oauth"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
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

// newTokens keeps the organisation connection's tokens. Xero rotates the
// refresh token on every refresh; the new one is handed to
// Config.OnRefreshToken.
func newTokens(c *Client) (*oauth.Tokens, error) {
	return oauth.New(oauth.Config{
		Provider:       "xero",
		Name:           c.cfg.Name,
		RefreshToken:   c.cfg.RefreshToken,
		OnRefreshToken: c.cfg.OnRefreshToken,
		Exchange:       c.exchange,
		Refusal: func(status int, code string, _ []byte, _ http.Header) error {
			return &TokenError{Status: status, Code: safeToken(code)}
		},
		Now:      c.cfg.Clock.Now,
		Lifetime: 30 * time.Minute, // Xero's documented life, when expires_in is missing
		Logger:   c.cfg.Logger,
	})
}

// exchange posts the refresh grant with the app's credentials in Basic auth
// (RFC 6749 2.3.1: each form-encoded). The token endpoint is outside the
// organisation's API limits.
func (c *Client) exchange(ctx context.Context, form url.Values) (int, []byte, http.Header, error) {
	cfg := &c.cfg
	auth := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret.Reveal())
	a, err := c.http.Do(ctx, httpcall.Request{
		Op: "token refresh", Method: http.MethodPost, URL: cfg.TokenURL,
		Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(auth)),
		Body:          []byte(form.Encode()), ContentType: "application/x-www-form-urlencoded",
	})
	if err != nil {
		return 0, nil, nil, err
	}
	return a.Status, a.Body, a.Header, nil
}
