package tokenstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/orderflow/orderflow/connectors/accounting/tokenstore"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/stacktest"
)

// On the real Vault: nothing stored reads as none; a rotated token is read
// back, the latest after two rotations, each connector its own; an error
// never quotes a token.
func TestTokensRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := tokenstore.New(tokenstore.Config{Client: stacktest.VaultClient(t), Path: stacktest.UniqueName("tokens")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load(ctx, "books"); ok || err != nil {
		t.Fatalf("before any rotation: ok %v, err %v; want none", ok, err)
	}
	for _, tok := range []string{"rt-1", "rt-2"} {
		if err := s.Save(ctx, "books", config.Secret(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(ctx, "other_books", "rt-other"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx, "books")
	if err != nil || !ok || got.Reveal() != "rt-2" {
		t.Errorf("Load = %q, %v, %v; want the latest, rt-2", got.Reveal(), ok, err)
	}
	if got, _, _ := s.Load(ctx, "other_books"); got.Reveal() != "rt-other" {
		t.Errorf("another connector's token: %q", got.Reveal())
	}
	bad, err := tokenstore.New(tokenstore.Config{Client: stacktest.VaultClient(t), Mount: "no-such-mount"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Save(ctx, "books", "rt-secret-value"); err == nil || strings.Contains(err.Error(), "rt-secret-value") {
		t.Errorf("Save to a missing mount: %v; want an error without the token", err)
	}
}
