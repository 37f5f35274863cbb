// Package accountingtest holds what the accounting stand-ins (xerotest,
// quickbookstest) share: the OAuth2 token endpoint with refresh-token
// rotation (Issuer), the queue of injected faults (Faults) and the record
// of calls and contract violations (Record). What differs between the
// providers (their answers' shapes, their rules) stays in each stand-in.
package accountingtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StandIn is what New needs of a stand-in.
type StandIn interface {
	Close()
	Violations() []string
}

// New starts a stand-in (name, Start, cfg) for the test; it stops at the
// test's end, and the test fails with each request that broke the
// contract.
func New[C any, S StandIn](t testing.TB, name string, start func(C) (S, error), cfg C) S {
	t.Helper()
	s, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for _, v := range s.Violations() {
			t.Errorf("%s: contract violation: %s", name, v)
		}
	})
	return s
}

// Answer writes v as a JSON answer with status and returns status.
func Answer(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
	return status
}

// Record keeps the calls a stand-in answered (C is its own Call), the calls
// that arrived, and the requests that broke the contract. Safe for
// concurrent use.
type Record[C any] struct {
	mu         sync.Mutex
	arrived    int
	calls      []C
	violations []string
}

// Arrived counts a call on arrival, before it is answered.
func (r *Record[C]) Arrived() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.arrived++
}

// Answered records a call once answered.
func (r *Record[C]) Answered(c C) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

// Violate records a request that broke the contract.
func (r *Record[C]) Violate(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
}

// Requests counts the calls that arrived, answered or not yet.
func (r *Record[C]) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.arrived
}

// Calls lists the calls answered, in order.
func (r *Record[C]) Calls() []C {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]C(nil), r.calls...)
}

// Violations lists the requests that broke the contract.
func (r *Record[C]) Violations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// Faults is a queue of injected faults (F is the stand-in's own Fault).
// A fault that applies the create before answering waits for the next
// create: reads before it are answered normally. Safe for concurrent use.
type Faults[F any] struct {
	// AfterApply says whether a fault waits for a create.
	AfterApply func(F) bool

	mu sync.Mutex
	q  []F
}

// Add queues faults: each of the next calls is answered with the next.
func (q *Faults[F]) Add(faults ...F) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.q = append(q.q, faults...)
}

// Next takes the fault for a call (create: whether it creates), if any.
func (q *Faults[F]) Next(create bool) (F, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var none F
	if len(q.q) == 0 || !create && q.AfterApply != nil && q.AfterApply(q.q[0]) {
		return none, false
	}
	f := q.q[0]
	q.q = q.q[1:]
	return f, true
}

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// ClientID and ClientSecret are the app's, expected in Basic auth
	// (RFC 6749 2.3.1: each form-encoded). Required.
	ClientID, ClientSecret string
	// RefreshToken is the refresh token first valid. Required.
	RefreshToken string
	// Tokens names the nth grant's access and refresh tokens.
	Tokens func(n int) (access, refresh string)
	// TTL is an access token's life (its expires_in). Required.
	TTL time.Duration
	// Extra are more fields of a grant's answer (scope, ...).
	Extra map[string]any
	// Violate records a request that broke the contract. Required.
	Violate func(format string, args ...any)
}

// Issuer is a stand-in OAuth2 token endpoint serving the refresh grant
// (RFC 6749 6): every grant issues a new access token and rotates the
// refresh token, so that the old one is refused (invalid_grant), as Xero's
// and Intuit's are. Safe for concurrent use.
type Issuer struct {
	cfg IssuerConfig

	mu      sync.Mutex
	refresh string
	access  map[string]time.Time // access token -> expiry
	issued  int
	revoked bool
}

// NewIssuer returns an Issuer.
func NewIssuer(cfg IssuerConfig) *Issuer {
	return &Issuer{cfg: cfg, refresh: cfg.RefreshToken, access: map[string]time.Time{}}
}

// Serve answers a token request and returns the status answered.
func (i *Issuer) Serve(w http.ResponseWriter, r *http.Request) int {
	oauthErr := func(status int, code string) int {
		return Answer(w, status, map[string]string{"error": code})
	}
	if r.Method != http.MethodPost {
		i.cfg.Violate("token: method %s, want POST", r.Method)
		return oauthErr(http.StatusMethodNotAllowed, "invalid_request")
	}
	id, secret, ok := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	if !ok || id != i.cfg.ClientID || secret != i.cfg.ClientSecret {
		i.cfg.Violate("token: Basic auth is not the app's client id and secret")
		return oauthErr(http.StatusUnauthorized, "invalid_client")
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		i.cfg.Violate("token: Content-Type is not application/x-www-form-urlencoded")
		return oauthErr(http.StatusBadRequest, "invalid_request")
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		i.cfg.Violate("token: Accept is not application/json")
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "refresh_token" {
		i.cfg.Violate("token: grant_type is not refresh_token")
		return oauthErr(http.StatusBadRequest, "unsupported_grant_type")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.revoked || r.PostForm.Get("refresh_token") != i.refresh {
		// Not a violation: a client holding a revoked or stale token must
		// be told so, and say so.
		return Answer(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Incorrect or invalid refresh token"})
	}
	i.issued++
	access, refresh := i.cfg.Tokens(i.issued)
	i.refresh = refresh
	i.access[access] = time.Now().Add(i.cfg.TTL)
	body := map[string]any{
		"token_type": "Bearer", "access_token": access, "refresh_token": refresh,
		"expires_in": int(i.cfg.TTL / time.Second),
	}
	for k, v := range i.cfg.Extra {
		body[k] = v
	}
	return Answer(w, http.StatusOK, body)
}

// Valid says whether an Authorization header carries a bearer token this
// issuer issued that has neither expired nor been expired, and whether it
// is a bearer token at all.
func (i *Issuer) Valid(authorization string) (valid, bearer bool) {
	tok, bearer := strings.CutPrefix(authorization, "Bearer ")
	i.mu.Lock()
	defer i.mu.Unlock()
	exp, known := i.access[tok]
	return bearer && known && time.Now().Before(exp), bearer
}

// ExpireAccessTokens makes every access token issued so far invalid: the
// next call with one is answered 401, as after an expiry or a revocation.
func (i *Issuer) ExpireAccessTokens() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.access = map[string]time.Time{}
}

// RevokeRefreshToken makes every later grant fail with invalid_grant, as
// when the organisation or company disconnects the app.
func (i *Issuer) RevokeRefreshToken() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked = true
}

// RefreshToken is the refresh token valid now (the last one issued).
func (i *Issuer) RefreshToken() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.refresh
}

// Refreshes counts the successful grants.
func (i *Issuer) Refreshes() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.issued
}

// Numbered is a Tokens func: the nth grant's tokens are accessPrefix+n and
// refreshPrefix+n.
func Numbered(accessPrefix, refreshPrefix string) func(int) (string, string) {
	return func(n int) (string, string) {
		return accessPrefix + strconv.Itoa(n), refreshPrefix + strconv.Itoa(n)
	}
}
