package accountingtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/accounting/accountingtest"
	"github.com/orderflow/orderflow/connectors/accounting/xero/xerotest"
)

type call struct{ status int }

func newIssuer(t *testing.T, ttl time.Duration) (*accountingtest.Issuer, *accountingtest.Record[call], *httptest.Server) {
	t.Helper()
	var rec accountingtest.Record[call]
	iss := accountingtest.NewIssuer(accountingtest.IssuerConfig{
		ClientID: "id", ClientSecret: "s&cret", RefreshToken: "r0",
		Tokens: accountingtest.Numbered("a", "r"), TTL: ttl,
		Extra:   map[string]any{"scope": "x"},
		Violate: rec.Violate,
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.Answered(call{iss.Serve(w, r)})
	}))
	t.Cleanup(srv.Close)
	return iss, &rec, srv
}

// grant sends a refresh grant as the connectors do and returns the status
// and the answer's fields.
func grant(t *testing.T, tokenURL string, id, secret, refresh string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestIssuerRotates: a grant with the refresh token valid now issues an
// access token (valid for a bearer header) and a new refresh token; the old
// refresh token is then refused with invalid_grant, as is any after a
// revocation; an expired access token is not valid.
func TestIssuerRotates(t *testing.T) {
	iss, rec, srv := newIssuer(t, time.Hour)
	status, body := grant(t, srv.URL, "id", "s&cret", "r0")
	if status != 200 || body["access_token"] != "a1" || body["refresh_token"] != "r1" || body["expires_in"] != 3600.0 || body["scope"] != "x" {
		t.Fatalf("grant: %d %v", status, body)
	}
	if iss.RefreshToken() != "r1" || iss.Refreshes() != 1 {
		t.Errorf("issuer holds %q after %d grants", iss.RefreshToken(), iss.Refreshes())
	}
	if valid, bearer := iss.Valid("Bearer a1"); !valid || !bearer {
		t.Errorf("the issued token is not valid")
	}
	if valid, bearer := iss.Valid("a1"); valid || bearer {
		t.Errorf("a token without Bearer is valid or bearer")
	}
	if status, body := grant(t, srv.URL, "id", "s&cret", "r0"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("a rotated-away refresh token: %d %v; want 400 invalid_grant", status, body)
	}
	iss.ExpireAccessTokens()
	if valid, _ := iss.Valid("Bearer a1"); valid {
		t.Errorf("an expired token is valid")
	}
	iss.RevokeRefreshToken()
	if status, _ := grant(t, srv.URL, "id", "s&cret", "r1"); status != 400 || iss.Refreshes() != 1 {
		t.Errorf("after a revocation: %d, %d grants", status, iss.Refreshes())
	}
	if v := rec.Violations(); len(v) != 0 || len(rec.Calls()) != 3 {
		t.Errorf("violations %v, %d calls recorded", v, len(rec.Calls()))
	}
	if status, _ := grant(t, srv.URL, "id", "wrong", "r1"); status != 401 || len(rec.Violations()) != 1 {
		t.Errorf("wrong client credentials: %d, %d violations; want 401 and one", status, len(rec.Violations()))
	}
}

// TestIssuerTTL: an access token past its TTL is not valid.
func TestIssuerTTL(t *testing.T) {
	iss, _, srv := newIssuer(t, 0)
	if status, body := grant(t, srv.URL, "id", "s&cret", "r0"); status != 200 {
		t.Fatalf("grant: %d %v", status, body)
	}
	if valid, _ := iss.Valid("Bearer a1"); valid {
		t.Errorf("a token past its TTL is valid")
	}
}

// TestFaultsWaitForACreate: a fault applied after the create is kept for
// the next create; reads before it get none; others go to the next call.
func TestFaultsWaitForACreate(t *testing.T) {
	type fault struct {
		status     int
		afterApply bool
	}
	q := accountingtest.Faults[fault]{AfterApply: func(f fault) bool { return f.afterApply }}
	q.Add(fault{503, true}, fault{429, false})
	if _, ok := q.Next(false); ok {
		t.Errorf("a read took an after-apply fault")
	}
	if f, ok := q.Next(true); !ok || f.status != 503 {
		t.Errorf("the create got %v %v", f, ok)
	}
	if f, ok := q.Next(false); !ok || f.status != 429 {
		t.Errorf("the read got %v %v", f, ok)
	}
	if _, ok := q.Next(true); ok {
		t.Errorf("an empty queue gave a fault")
	}
}

// TestRecord counts arrivals apart from answers.
func TestRecord(t *testing.T) {
	var r accountingtest.Record[call]
	r.Arrived()
	r.Arrived()
	r.Answered(call{200})
	r.Violate("%s broke %d rules", "PUT /x", 2)
	if r.Requests() != 2 || len(r.Calls()) != 1 || r.Violations()[0] != "PUT /x broke 2 rules" {
		t.Errorf("requests %d, calls %v, violations %v", r.Requests(), r.Calls(), r.Violations())
	}
}

// tb records what New asks of a test, so that a failure can be seen.
type tb struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (t *tb) Helper()          {}
func (t *tb) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }
func (t *tb) Errorf(format string, args ...any) {
	t.errs = append(t.errs, fmt.Sprintf(format, args...))
}

// TestNewFailsOnViolations: at the test's end the stand-in is stopped and
// each request that broke the contract fails the test, named.
func TestNewFailsOnViolations(t *testing.T) {
	rt := &tb{TB: t}
	srv := accountingtest.New(rt, "xerotest", xerotest.Start, xerotest.Config{})
	resp, err := http.Get(srv.URL + "/Invoices") // no bearer token: a violation
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(rt.cleanups) != 1 {
		t.Fatalf("%d cleanups registered, want 1", len(rt.cleanups))
	}
	rt.cleanups[0]()
	if len(rt.errs) != 1 || !strings.HasPrefix(rt.errs[0], "xerotest: contract violation: ") {
		t.Errorf("errors %q; want one naming the violation", rt.errs)
	}
	if _, err := http.Get(srv.URL + "/Invoices"); err == nil {
		t.Errorf("the stand-in still answers after the test's end")
	}
}
