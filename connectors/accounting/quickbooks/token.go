package quickbooks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/orderflow/orderflow/worker/config"
)

// expirySlack refreshes an access token this long before Intuit says it
// expires, so that a call never starts with a token about to lapse.
const expirySlack = time.Minute

// token returns a current access token, refreshing it when it has expired,
// when there is none yet, or when force (the API answered 401).
func (c *Client) token(ctx context.Context, force bool) (config.Secret, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	if !force && c.access != "" && c.cfg.Clock.Now().Before(c.expires.Add(-expirySlack)) {
		return c.access, nil
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.refresh.Reveal()}}
	basic := base64.StdEncoding.EncodeToString([]byte(c.cfg.ClientID + ":" + c.cfg.ClientSecret.Reveal()))
	status, data, hdr, err := c.do(ctx, "token", http.MethodPost, c.cfg.TokenURL, "Basic "+basic,
		"application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		he := newHTTPError("token", status, data, hdr, c.cfg.Clock.Now())
		// invalid_grant (a refresh token revoked, expired or already
		// rotated away) and invalid_client refuse the credentials as a 401
		// does: no posting can succeed until an operator reconnects.
		he.GrantRefused = he.Code == "invalid_grant" || he.Code == "invalid_client"
		return "", he
	}
	var t struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int64  `json:"expires_in"`
		TokenType    string `json:"token_type"`
	}
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "bearer") {
		return "", fmt.Errorf("quickbooks token: the answer is not a bearer token (%d bytes)", len(data))
	}
	c.access = config.Secret(t.AccessToken)
	c.expires = c.cfg.Clock.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	if t.RefreshToken != "" && t.RefreshToken != c.refresh.Reveal() {
		c.refresh = config.Secret(t.RefreshToken)
		if c.cfg.OnRefreshToken != nil {
			c.cfg.OnRefreshToken(c.refresh)
		}
	}
	return c.access, nil
}

// RefreshToken is the refresh token the client holds now: the last one
// Intuit issued.
func (c *Client) RefreshToken() config.Secret {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	return c.refresh
}
