// Package protecttest builds the protect stage for tests, in this package
// and in the packages it feeds (facts, pipeline).
package protecttest

import (
	"testing"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/protect"
)

// Vault is what the stage calls: in tests, a transit client on the stack's
// Vault (transittest.NewClient).
type Vault interface {
	protect.Tokenizer
	protect.Encrypter
}

// NewStage returns the stage on vault, as its Tokenizer and Encrypter, with
// the rest of cfg (the embedded policy when cfg has none), or fails the test.
func NewStage(t testing.TB, vault Vault, cfg protect.Config) *protect.Stage {
	t.Helper()
	cfg.Tokenizer, cfg.Encrypter = vault, vault
	if cfg.Policy == nil {
		p, err := policy.Load()
		if err != nil {
			t.Fatalf("policy: %v", err)
		}
		cfg.Policy = p
	}
	s, err := protect.New(cfg)
	if err != nil {
		t.Fatalf("protect.New: %v", err)
	}
	return s
}
