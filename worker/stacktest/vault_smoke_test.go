package stacktest_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/orderflow/orderflow/worker/stacktest"
)

// TestVaultTransitKeysBatchHMACAndEncryption proves the real Vault with
// hashicorp/vault/api: transit keys created, batch HMAC deterministic per key and in
// input order, batch encrypt and decrypt round-tripping, and a deleted key leaving its
// ciphertexts unreadable (what offboarding relies on).
func TestVaultTransitKeysBatchHMACAndEncryption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logical := stacktest.VaultClient(t).Logical()

	tenantA, tenantB := stacktest.UniqueName("smoke-a"), stacktest.UniqueName("smoke-b")
	for _, key := range []string{tenantA + "-hmac", tenantB + "-hmac", tenantA + "-enc"} {
		if _, err := logical.WriteWithContext(ctx, "transit/keys/"+key, map[string]any{"type": "aes256-gcm96"}); err != nil {
			t.Fatalf("create key %s: %v", key, err)
		}
		t.Cleanup(func() { deleteKey(t, logical, key) })
	}

	inputs := []string{"ann@example.co.uk", "Zoë Brontë", "+44 7700 900123", "ann@example.co.uk"}
	hmacsA := batchHMAC(ctx, t, logical, tenantA+"-hmac", inputs)
	if hmacsA[0] != hmacsA[3] {
		t.Errorf("the same input gave different HMACs within one batch: %q, %q", hmacsA[0], hmacsA[3])
	}
	if hmacsA[0] == hmacsA[1] || hmacsA[1] == hmacsA[2] {
		t.Errorf("different inputs gave the same HMAC: %q", hmacsA)
	}
	// Results come back in input order: each equals the HMAC of its input alone.
	for i, in := range inputs {
		if single := batchHMAC(ctx, t, logical, tenantA+"-hmac", []string{in}); single[0] != hmacsA[i] {
			t.Errorf("input %d: batch HMAC %q, single HMAC %q", i, hmacsA[i], single[0])
		}
	}
	hmacsB := batchHMAC(ctx, t, logical, tenantB+"-hmac", inputs)
	for i := range inputs {
		if hmacsA[i] == hmacsB[i] {
			t.Errorf("input %d has the same HMAC under two tenants' keys", i)
		}
	}

	encKey := tenantA + "-enc"
	batch := make([]map[string]any, len(inputs))
	for i, in := range inputs {
		batch[i] = map[string]any{"plaintext": base64.StdEncoding.EncodeToString([]byte(in))}
	}
	enc := batchResults(ctx, t, logical, "transit/encrypt/"+encKey, batch, "ciphertext")
	if enc[0] == enc[3] {
		t.Errorf("encryption is not randomised: the same plaintext gave %q twice", enc[0])
	}
	decBatch := make([]map[string]any, len(enc))
	for i, c := range enc {
		decBatch[i] = map[string]any{"ciphertext": c}
	}
	dec := batchResults(ctx, t, logical, "transit/decrypt/"+encKey, decBatch, "plaintext")
	for i, p := range dec {
		plain, err := base64.StdEncoding.DecodeString(p)
		if err != nil || string(plain) != inputs[i] {
			t.Errorf("decrypt %d: got %q (%v), want the original input", i, plain, err)
		}
	}

	// Crypto-shredding: once the key is deleted its ciphertexts cannot be read.
	deleteKey(t, logical, encKey)
	if _, err := logical.WriteWithContext(ctx, "transit/decrypt/"+encKey, map[string]any{"ciphertext": enc[0]}); err == nil {
		t.Errorf("decrypt with a deleted key succeeded")
	}
}

func batchHMAC(ctx context.Context, t *testing.T, logical *vault.Logical, key string, inputs []string) []string {
	t.Helper()
	batch := make([]map[string]any, len(inputs))
	for i, in := range inputs {
		batch[i] = map[string]any{"input": base64.StdEncoding.EncodeToString([]byte(in))}
	}
	return batchResults(ctx, t, logical, "transit/hmac/"+key+"/sha2-256", batch, "hmac")
}

// batchResults posts batch_input to path and returns field of each batch result, in order.
func batchResults(ctx context.Context, t *testing.T, logical *vault.Logical, path string, batch []map[string]any, field string) []string {
	t.Helper()
	secret, err := logical.WriteWithContext(ctx, path, map[string]any{"batch_input": batch})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	results, ok := secret.Data["batch_results"].([]any)
	if !ok || len(results) != len(batch) {
		t.Fatalf("%s: %d batch results for %d inputs", path, len(results), len(batch))
	}
	out := make([]string, len(results))
	for i, r := range results {
		m, _ := r.(map[string]any)
		if e, _ := m["error"].(string); e != "" {
			t.Fatalf("%s: item %d failed: %s", path, i, e)
		}
		v, ok := m[field].(string)
		if !ok || v == "" {
			t.Fatalf("%s: item %d has no %s", path, i, field)
		}
		out[i] = v
	}
	return out
}

func deleteKey(t *testing.T, logical *vault.Logical, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	secret, err := logical.ReadWithContext(ctx, "transit/keys/"+key)
	if err != nil {
		t.Errorf("read key %s: %v", key, err)
		return
	}
	if secret == nil {
		return // already deleted
	}
	if _, err := logical.WriteWithContext(ctx, "transit/keys/"+key+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Errorf("allow deletion of %s: %v", key, err)
		return
	}
	if _, err := logical.DeleteWithContext(ctx, "transit/keys/"+key); err != nil {
		t.Errorf("delete key %s: %v", key, err)
	}
	if secret, err := logical.ReadWithContext(ctx, "transit/keys/"+key); err != nil || secret != nil {
		t.Errorf("key %s still readable after delete (%v)", key, fmt.Sprint(err))
	}
}
