package transit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
)

// testConfig is a token-authenticated Config for the stack's Vault, with fast
// retries and a fresh registry.
func testConfig(t testing.TB) (transit.Config, *prometheus.Registry) {
	t.Helper()
	addr, token := stacktest.Vault(t)
	reg := prometheus.NewRegistry()
	return transit.Config{
		Address:      addr,
		RetryInitial: time.Millisecond,
		RetryMax:     10 * time.Millisecond,
		Auth:         transit.Auth{Method: transit.AuthToken, Token: config.Secret(token)},
		Registerer:   reg,
	}, reg
}

// newClient starts a client from cfg and closes it when the test ends.
func newClient(t testing.TB, cfg transit.Config) *transit.Client {
	t.Helper()
	// New's context also bounds the token renewal, so it is not a short one.
	c, err := transit.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("transit.New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// rootClient starts a client with the root token and testConfig's settings,
// closed when the test ends, and returns it with its registry.
func rootClient(t testing.TB) (*transit.Client, *prometheus.Registry) {
	t.Helper()
	cfg, reg := testConfig(t)
	return newClient(t, cfg), reg
}

// mustHMAC, mustEncrypt and mustDecrypt make a call that the test needs to
// succeed, and fail the test when it does not.
func mustHMAC(t testing.TB, ctx context.Context, c *transit.Client, id string, in []string) []string {
	t.Helper()
	out, err := c.HMAC(ctx, id, in)
	if err != nil {
		t.Fatalf("HMAC: %v", err)
	}
	return out
}

func mustEncrypt(t testing.TB, ctx context.Context, c *transit.Client, id string, plain [][]byte) []string {
	t.Helper()
	out, err := c.Encrypt(ctx, id, plain)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return out
}

func mustDecrypt(t testing.TB, ctx context.Context, c *transit.Client, id string, ciphertexts []string) [][]byte {
	t.Helper()
	out, err := c.Decrypt(ctx, id, ciphertexts)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	return out
}

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func values(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}
