// Package transittest gives tests a transit client on the local stack's Vault,
// and a proxy in front of it to inject faults and delays.
package transittest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// NewClient returns a client on the stack's Vault with its root token (skipping or
// failing as stacktest.Vault does when there is none), closed when the test ends.
// Options in cfg other than the address and auth are kept.
func NewClient(t testing.TB, cfg transit.Config) *transit.Client {
	t.Helper()
	addr, token := stacktest.Vault(t)
	if cfg.Address == "" {
		cfg.Address = addr
	}
	cfg.Auth = transit.Auth{Token: config.Secret(token)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := transit.New(ctx, cfg)
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// Proxy starts a reverse proxy in front of the stack's Vault, closed when the
// test ends, and returns its URL. Every request goes to intercept first, which
// either answers it itself and returns true (a fault), or returns false to let
// it pass on to Vault, after holding it for as long as it likes (a delay).
func Proxy(t testing.TB, intercept func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	addr, _ := stacktest.Vault(t)
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	upstream := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			upstream.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// NewTenant returns a tenant id of this test's own (stacktest.UniqueName), whose
// keys are destroyed on c's Vault when the test ends, so that parallel runs never
// share keys and the shared Vault does not fill up with test tenants.
func NewTenant(t testing.TB, c *transit.Client) string {
	t.Helper()
	id := stacktest.UniqueName("t")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DestroyTenantKeys(ctx, id); err != nil {
			t.Errorf("destroy the keys of tenant %s: %v", id, err)
		}
	})
	return id
}
