// Package misuse makes tokens and ciphertexts in each way TestOnlyProtectSeals
// must catch, beside uses it must let pass. It is parsed, never built.
package misuse

import (
	p "github.com/orderflow/orderflow/worker/protected"
)

// A function value is as good as a call.
var seal = p.SealTokens // want SealTokens

func tokens(v []string) []p.Token { return p.SealTokens(v) } // want SealTokens

func ciphertexts(v []string) []p.Ciphertext {
	return p.SealCiphertexts(v) // want SealCiphertexts
}

// Reading a protected order is what the package is for.
func document(b []byte) (p.Document, error) { return p.ParseDocument(b) }

func value(t p.Token) string { return t.Value() }

// Another SealTokens is not protected's.
type sealer struct{}

func (sealer) SealTokens(v []string) []string { return v }

func other(v []string) []string { return sealer{}.SealTokens(v) }
