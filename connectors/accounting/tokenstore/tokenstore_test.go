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
// back, the latest after two rotations, each connector its own; once the
// configuration names a new token (the connection authorised again), the
// stored chain is not used; an error never quotes a token.
func TestTokensRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := tokenstore.New(tokenstore.Config{Client: stacktest.VaultClient(t), Path: stacktest.UniqueName("tokens")})
	if err != nil {
		t.Fatal(err)
	}
	const granted = config.Secret("rt-0")
	if _, ok, err := s.Load(ctx, "books", granted); ok || err != nil {
		t.Fatalf("before any rotation: ok %v, err %v; want none", ok, err)
	}
	for _, tok := range []string{"rt-1", "rt-2"} {
		if err := s.Save(ctx, "books", config.Secret(tok), granted); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(ctx, "other_books", "rt-other", "rt-other-0"); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Load(ctx, "books", granted)
	if err != nil || !ok || got.Reveal() != "rt-2" {
		t.Errorf("Load = %q, %v, %v; want the latest, rt-2", got.Reveal(), ok, err)
	}
	if got, _, _ := s.Load(ctx, "other_books", "rt-other-0"); got.Reveal() != "rt-other" {
		t.Errorf("another connector's token: %q", got.Reveal())
	}
	if got, ok, err := s.Load(ctx, "books", "rt-reauthorised"); ok || err != nil {
		t.Errorf("with a newly configured token, Load = %q, %v, %v; want none: the new grant starts afresh", got.Reveal(), ok, err)
	}
	bad, err := tokenstore.New(tokenstore.Config{Client: stacktest.VaultClient(t), Mount: "no-such-mount"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Save(ctx, "books", "rt-secret-value", granted); err == nil || strings.Contains(err.Error(), "rt-secret-value") {
		t.Errorf("Save to a missing mount: %v; want an error without the token", err)
	}
}
