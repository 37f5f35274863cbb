package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting/oauth"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
	"github.com/orderflow/orderflow/worker/config"
)

// clock is a settable clock, so that expiry needs no sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// refusal is the error Tokens returns for a non-200 answer.
type refusal struct {
	status int
	code   string
}

func (r *refusal) Error() string { return fmt.Sprintf("token endpoint: HTTP %d %s", r.status, r.code) }

type env struct {
	tokens  *oauth.Tokens
	clock   *clock
	mu      sync.Mutex
	rotated []config.Secret
}

// newEnv keeps tokens of the token endpoint at tokenURL (the Xero
// stand-in's unless a test injects a fault), with its test client's
// credentials.
func newEnv(t *testing.T, tokenURL, refresh string) *env {
	t.Helper()
	e := &env{clock: &clock{now: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}}
	tok, err := oauth.New(oauth.Config{
		Provider:     "test",
		RefreshToken: config.Secret(refresh),
		OnRefreshToken: func(s config.Secret) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.rotated = append(e.rotated, s)
		},
		Exchange: func(ctx context.Context, form url.Values) (int, []byte, http.Header, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
			if err != nil {
				return 0, nil, nil, err
			}
			req.SetBasicAuth("test-client", "test-secret")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, nil, nil, err
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			return resp.StatusCode, data, resp.Header, err
		},
		Refusal: func(status int, code string, _ []byte, _ http.Header) error {
			return &refusal{status: status, code: code}
		},
		Now:      e.clock.Now,
		Lifetime: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.tokens = tok
	return e
}

func (e *env) access(t *testing.T) string {
	t.Helper()
	a, err := e.tokens.Access(t.Context())
	if err != nil {
		t.Fatalf("access: %v", err)
	}
	return a
}

func (e *env) rotations() []config.Secret {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]config.Secret(nil), e.rotated...)
}

// TestRefreshRotates: the first Access refreshes; the token is reused until
// a minute before it expires; each rotated refresh token reaches
// OnRefreshToken, is held, and is the one the next grant sends (the
// stand-in refuses any other).
func TestRefreshRotates(t *testing.T) {
	srv := xerotest.New(t, xerotest.Config{})
	e := newEnv(t, srv.TokenURL, srv.RefreshToken())
	first := e.access(t)
	if srv.Refreshes() != 1 || e.access(t) != first || srv.Refreshes() != 1 {
		t.Fatalf("%d refreshes for two Access calls, want 1", srv.Refreshes())
	}
	e.clock.Advance(30*time.Minute - oauth.Skew - time.Second) // the stand-in's 1800 s, less the skew
	if e.access(t) != first {
		t.Errorf("refreshed before the skew")
	}
	e.clock.Advance(time.Second)
	if second := e.access(t); second == first || srv.Refreshes() != 2 {
		t.Errorf("an expiring token was not refreshed (%d refreshes)", srv.Refreshes())
	}
	rotated := e.rotations()
	if len(rotated) != 2 || rotated[1].Reveal() != srv.RefreshToken() || e.tokens.RefreshToken().Reveal() != srv.RefreshToken() {
		t.Errorf("rotated %d, the held refresh token is not the server's", len(rotated))
	}
}

// TestRefusedAccessTokenRefreshesOnce: calls that all carried the same
// token the API refused (401) refresh it once between them; a refusal of a
// token already replaced refreshes nothing.
func TestRefusedAccessTokenRefreshesOnce(t *testing.T) {
	srv := xerotest.New(t, xerotest.Config{})
	e := newEnv(t, srv.TokenURL, srv.RefreshToken())
	old := e.access(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.tokens.Refused(old)
			if _, err := e.tokens.Access(t.Context()); err != nil {
				t.Errorf("access: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := srv.Refreshes(); n != 2 {
		t.Errorf("%d refreshes, want 2 (the first, one for the refused token)", n)
	}
	e.tokens.Refused(old) // a late 401 of the old token
	if e.access(t); srv.Refreshes() != 2 {
		t.Errorf("the refusal of a replaced token refreshed again")
	}
}

// TestCallRetriesARefusedTokenOnce: a call the API refused the token of is
// made once more with a fresh token; a second refusal is the call's answer,
// and an answer that is no refusal is never retried.
func TestCallRetriesARefusedTokenOnce(t *testing.T) {
	srv := xerotest.New(t, xerotest.Config{})
	e := newEnv(t, srv.TokenURL, srv.RefreshToken())
	errRefused := errors.New("HTTP 401")
	var seen []string
	refuseAll := func(access string) (bool, error) {
		seen = append(seen, access)
		return true, errRefused
	}
	if err := e.tokens.Call(t.Context(), refuseAll); !errors.Is(err, errRefused) {
		t.Errorf("Call = %v, want the second refusal", err)
	}
	if len(seen) != 2 || seen[0] == seen[1] || srv.Refreshes() != 2 {
		t.Errorf("%d calls (tokens differ: %v), %d refreshes; want 2 calls with 2 tokens, 2 refreshes",
			len(seen), len(seen) == 2 && seen[0] != seen[1], srv.Refreshes())
	}

	seen = nil
	errDown := errors.New("HTTP 503")
	err := e.tokens.Call(t.Context(), func(access string) (bool, error) {
		seen = append(seen, access)
		return false, errDown
	})
	if !errors.Is(err, errDown) || len(seen) != 1 || srv.Refreshes() != 2 {
		t.Errorf("Call = %v after %d calls, %d refreshes; want the error after 1 call, no refresh", err, len(seen), srv.Refreshes())
	}
}

// TestConcurrentAccessSharesOneRefresh: calls arriving together with no
// token refresh once and all use the one token.
func TestConcurrentAccessSharesOneRefresh(t *testing.T) {
	srv := xerotest.New(t, xerotest.Config{})
	e := newEnv(t, srv.TokenURL, srv.RefreshToken())
	got := make([]string, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = e.tokens.Access(t.Context())
		}()
	}
	wg.Wait()
	if n := srv.Refreshes(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	for i, g := range got {
		if g == "" || g != got[0] {
			t.Errorf("call %d got another token than call 0", i)
		}
	}
}

// TestRefusedGrant: a revoked refresh token's invalid_grant reaches the
// connector's Refusal with its status and code, and GrantRefused says it
// refuses the credentials; no secret shows in the error.
func TestRefusedGrant(t *testing.T) {
	srv := xerotest.New(t, xerotest.Config{})
	e := newEnv(t, srv.TokenURL, srv.RefreshToken())
	srv.RevokeRefreshToken()
	_, err := e.tokens.Access(t.Context())
	var r *refusal
	if !errors.As(err, &r) || r.status != http.StatusBadRequest || r.code != "invalid_grant" || !oauth.GrantRefused(r.code) {
		t.Fatalf("revoked: %v; want the Refusal of a 400 invalid_grant", err)
	}
	if strings.Contains(err.Error(), "refresh-") || strings.Contains(err.Error(), "test-secret") {
		t.Errorf("a secret shows: %q", err)
	}
	for code, want := range map[string]bool{"invalid_grant": true, "invalid_client": true, "invalid_request": false, "": false} {
		if oauth.GrantRefused(code) != want {
			t.Errorf("GrantRefused(%q) = %v, want %v", code, !want, want)
		}
	}
}

// TestOddAnswers injects answers the stand-ins never give: one without
// expires_in lives Config.Lifetime; one that is no bearer token is an error
// that quotes nothing of it.
func TestOddAnswers(t *testing.T) {
	answer := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, <-answer)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, srv.URL, "refresh-0")
	answer <- `{"access_token":"a1","token_type":"bearer","refresh_token":"refresh-0"}`
	if e.access(t) != "a1" || len(e.rotations()) != 0 {
		t.Fatalf("an unrotated refresh token was handed on")
	}
	e.clock.Advance(10*time.Minute - oauth.Skew - time.Second)
	if e.access(t) != "a1" {
		t.Fatalf("no expires_in: refreshed before Lifetime")
	}
	e.clock.Advance(time.Second)
	answer <- `{"access_token":"a-secret-value","token_type":"mac"}`
	_, err := e.tokens.Access(t.Context())
	if err == nil || strings.Contains(err.Error(), "a-secret-value") {
		t.Fatalf("a mac token: %v; want an error that quotes nothing", err)
	}
}
