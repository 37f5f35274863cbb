// Package transittest gives tests a transit client on the local stack's Vault.
package transittest

import (
	"context"
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
