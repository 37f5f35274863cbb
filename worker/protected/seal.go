package protected

// SealTokens and SealCiphertexts are how the protect stage makes Tokens and
// Ciphertexts from Vault's answers, and nothing else may call them: a Token
// or a Ciphertext promises that the protect stage made it from what Vault
// answered for a value the policy names, so the writers store it without
// asking where it came from. This package cannot hide them from other
// packages and still be importable without the stage; TestOnlyProtectSeals
// reads every package of the module and fails if any but worker/protect
// refers to them (test files may, to build fixtures).

// SealTokens returns values as Tokens, in order. For worker/protect only.
//
// Each Token points into values rather than copying it, so that sealing a
// batch's answers costs one allocation, not one per value: values must not
// change afterwards. An empty value makes a Token that holds "", not the zero
// Token; the stage refuses empty answers before sealing.
func SealTokens(values []string) []Token {
	out := make([]Token, len(values))
	for i := range values {
		out[i] = Token{p: &values[i]}
	}
	return out
}

// SealCiphertexts returns values as Ciphertexts, in order. For worker/protect
// only. Like SealTokens, each points into values, which must not change
// afterwards.
func SealCiphertexts(values []string) []Ciphertext {
	out := make([]Ciphertext, len(values))
	for i := range values {
		out[i] = Ciphertext{p: &values[i]}
	}
	return out
}
