package transit

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/stacktest"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	status := func(code int) error {
		return &api.ResponseError{StatusCode: code, HTTPMethod: "PUT", URL: "http://vault/v1/x"}
	}
	urlErr := func(err error) error { return &url.Error{Op: "Put", URL: "http://vault/v1/x", Err: err} }
	cases := []struct {
		name string
		err  error
		want class
	}{
		{"500", status(500), retryable},
		{"502", status(502), retryable},
		{"503 sealed or standby", status(503), retryable},
		{"429 rate limit quota", status(429), retryable},
		{"403 permission denied or bad token", status(403), denied},
		{"401 no credentials", status(401), denied},
		{"400 bad request", status(400), permanent},
		{"404 no such key", status(404), permanent},
		{"405", status(405), permanent},
		{"412 consistency", status(412), permanent},
		{"wrapped 503", fmt.Errorf("hmac: %w", status(503)), retryable},
		{"connection refused", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), retryable},
		{"connection reset", urlErr(&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}), retryable},
		{"dns failure", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "vault"}}), retryable},
		{"closed before answering", urlErr(io.EOF), retryable},
		{"answer cut short", fmt.Errorf("reading Vault's answer: %w", io.ErrUnexpectedEOF), retryable},
		{"timeout", urlErr(timeoutErr{}), retryable},
		{"caller canceled", urlErr(context.Canceled), canceled},
		{"caller deadline", urlErr(context.DeadlineExceeded), canceled},
		{"untrusted certificate", urlErr(x509.UnknownAuthorityError{}), permanent},
		{"bad JSON answer", fmt.Errorf("reading Vault's answer: %w", &json.SyntaxError{}), permanent},
		{"out of order answer", errors.New("vault answered batch result 0 with reference \"1\""), permanent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// What the pipeline makes of a failed Vault call (worker/failure): Vault
// unavailable is retried, a refusal of the worker's credentials, policy or
// request stops it, a key the next call creates again is retried.
func TestFailureClass(t *testing.T) {
	denied403 := &api.ResponseError{StatusCode: 403, HTTPMethod: "PUT", URL: "http://vault/v1/transit/encrypt/k"}
	for _, tc := range []struct {
		name string
		err  *Error
		want failure.Class
	}{
		{"unavailable after the attempts", &Error{Op: opEncrypt, Temporary: true, Err: &api.ResponseError{StatusCode: 503}}, failure.Transient},
		{"gate stale", &Error{Op: opHMAC, Temporary: true, Err: errors.New("the list is stale")}, failure.Transient},
		{"permission denied", &Error{Op: opEncrypt, Err: denied403}, failure.Worker},
		{"no credentials", &Error{Op: opLogin, Err: &api.ResponseError{StatusCode: 401}}, failure.Worker},
		{"bad request", &Error{Op: opHMAC, Err: &api.ResponseError{StatusCode: 400}}, failure.Worker},
		{"untrusted certificate", &Error{Op: opHMAC, Err: x509.UnknownAuthorityError{}}, failure.Worker},
		{"key missing, created again", &Error{Op: opHMAC, KeyMissing: true, recreatable: true, Err: &api.ResponseError{StatusCode: 400}}, failure.Transient},
		{"key missing, may not create it", &Error{Op: opHMAC, KeyMissing: true, Err: &api.ResponseError{StatusCode: 400}}, failure.Worker},
		{"canceled", &Error{Op: opHMAC, Err: fmt.Errorf("put: %w", context.Canceled)}, failure.Transient},
	} {
		if got := failure.Of(fmt.Errorf("protect: tenant t: %w", tc.err)); got != tc.want {
			t.Errorf("%s: class %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLRUEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := newLRU[string, int](2)
	c.put("a", 1)
	c.put("b", 2)
	c.get("a") // a is now the most recent
	c.put("c", 3)
	if _, ok := c.get("b"); ok {
		t.Errorf("b survived: it was the least recently used")
	}
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Errorf("a = %d, %v", v, ok)
	}
	c.remove("a")
	c.removeIf(func(k string) bool { return k == "c" })
	if c.len() != 0 {
		t.Errorf("%d entries left", c.len())
	}
}

func TestTokenCacheKeysHoldNoValue(t *testing.T) {
	c := newTokenCache(10)
	other := newTokenCache(10)
	k := c.key("acme", "ann@example.co.uk")
	if k != c.key("acme", "ann@example.co.uk") {
		t.Errorf("the same value gives two keys")
	}
	if k == c.key("other", "ann@example.co.uk") || k == c.key("acme", "bob@example.co.uk") {
		t.Errorf("different tenants or values share a key")
	}
	if k.sum == other.key("acme", "ann@example.co.uk").sum {
		t.Errorf("two processes hash alike: the salt is not random")
	}
	if strings.Contains(fmt.Sprintf("%#v", k), "ann") {
		t.Errorf("the key shows the value: %#v", k)
	}
	c.lru.put(k, "vault:v1:token")
	c.forgetTenant("acme")
	if _, ok := c.lru.get(k); ok {
		t.Errorf("forgetTenant kept the tenant's tokens")
	}
}

func TestBatchBodyIsValidJSONInOrder(t *testing.T) {
	in := []string{"YQ==", `vault:v1:"quoted"\`, "Zoë\n", ""}
	var got struct {
		BatchInput []struct {
			Ciphertext string `json:"ciphertext"`
			Reference  string `json:"reference"`
		} `json:"batch_input"`
	}
	if err := json.Unmarshal(batchBody("ciphertext", in), &got); err != nil {
		t.Fatalf("batchBody is not JSON: %v", err)
	}
	for i, item := range got.BatchInput {
		if item.Ciphertext != in[i] || item.Reference != fmt.Sprint(i) {
			t.Errorf("item %d = %+v, want %q with reference %d", i, item, in[i], i)
		}
	}
}

func TestItemReasonIsWithheldWhenItQuotesTheItem(t *testing.T) {
	if r := itemReason("invalid ciphertext: no prefix", "Ann Smith"); r != "invalid ciphertext: no prefix" {
		t.Errorf("a harmless reason was changed: %q", r)
	}
	for _, reason := range []string{"cannot decrypt Ann Smith", "bad input QW5uIFNtaXRo"} {
		if r := itemReason(reason, "QW5uIFNtaXRo", "Ann Smith"); strings.Contains(r, "Ann") || strings.Contains(r, "QW5u") {
			t.Errorf("itemReason(%q) = %q quotes the item", reason, r)
		}
	}
}

func TestRefreshIsScheduledBeforeExpiry(t *testing.T) {
	var a authState
	now := time.Now()
	a.obtained(0, false, false)
	if _, ok := a.refreshIn(now); ok {
		t.Errorf("a token without TTL is scheduled for refresh")
	}
	a.obtained(time.Hour, true, true)
	wait, ok := a.refreshIn(now)
	if !ok || wait < 33*time.Minute || wait > 41*time.Minute {
		t.Errorf("refresh of a 1h token in %s, want about 2/3 of it less jitter", wait)
	}
}

// TestTokenRenewalStopsWithTheContextAndClose checks that the goroutine that
// keeps the token valid ends when New's context ends, and at Close.
func TestTokenRenewalStopsWithTheContextAndClose(t *testing.T) {
	addr, token := stacktest.Vault(t)
	cfg := Config{Address: addr, Auth: Auth{Token: config.Secret(token)}}

	ctx, cancel := context.WithCancel(context.Background())
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	cancel()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the renewal goroutine outlived New's context")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	c, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-c.done:
	default:
		t.Error("Close returned before the renewal goroutine ended")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
