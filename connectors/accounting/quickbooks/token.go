package quickbooks

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting/oauth"
	"github.com/orderflow/orderflow/worker/config"
)

// newTokens keeps the company's tokens. Intuit issues a new refresh token
// at (nearly) every refresh; each new one is handed to
// Config.OnRefreshToken.
func newTokens(c *Client) (*oauth.Tokens, error) {
	return oauth.New(oauth.Config{
		Provider:       "quickbooks",
		Name:           c.cfg.Name,
		RefreshToken:   c.cfg.RefreshToken,
		OnRefreshToken: c.cfg.OnRefreshToken,
		Exchange:       c.exchange,
		Refusal: func(status int, _ string, data []byte, hdr http.Header) error {
			he := newHTTPError("token", status, data, hdr, c.cfg.Clock.Now())
			// invalid_grant and invalid_client refuse the credentials as a
			// 401 does: no posting can succeed until an operator reconnects.
			he.GrantRefused = oauth.GrantRefused(he.Code)
			return he
		},
		Now:      c.cfg.Clock.Now,
		Lifetime: time.Hour, // Intuit's documented life, when expires_in is missing
	})
}

// exchange posts the refresh grant with the app's client id and secret as
// HTTP Basic, through the company's rate limit like every call.
func (c *Client) exchange(ctx context.Context, form url.Values) (int, []byte, http.Header, error) {
	basic := base64.StdEncoding.EncodeToString([]byte(c.cfg.ClientID + ":" + c.cfg.ClientSecret.Reveal()))
	return c.do(ctx, "token", http.MethodPost, c.cfg.TokenURL, "Basic "+basic,
		"application/x-www-form-urlencoded", []byte(form.Encode()))
}

// RefreshToken is the refresh token the client holds now: the last one
// Intuit issued.
func (c *Client) RefreshToken() config.Secret {
	return c.tokens.RefreshToken()
}
