package transit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// benchCall is how many values a batched call carries: the default BatchSize,
// so each call is one Vault request.
const benchCall = 256

// BenchmarkHMAC measures tokens per second on the real Vault: values sent in
// batches, one call per value, and answered from a warm cache. One op is one value.
func BenchmarkHMAC(b *testing.B) {
	ctx := context.Background()
	cfg, _ := testConfig(b)
	cfg.TokenCacheSize = -1 // the uncached cases measure Vault
	c := newClient(b, cfg)
	id := transittest.NewTenant(b, c)
	if _, err := c.HMAC(ctx, id, []string{"create the key"}); err != nil {
		b.Fatalf("HMAC: %v", err)
	}
	run := stacktest.UniqueName("r") // fresh values on every run
	hmac := func(c *transit.Client) func([]string) error {
		return func(in []string) error { _, err := c.HMAC(ctx, id, in); return err }
	}

	b.Run("batched", func(b *testing.B) {
		benchCalls(b, values(b.N, "batched-"+run+"-%d@example.co.uk"), benchCall, hmac(c))
	})
	b.Run("single", func(b *testing.B) {
		benchCalls(b, values(b.N, "single-"+run+"-%d@example.co.uk"), 1, hmac(c))
	})
	b.Run("cache-warm", func(b *testing.B) {
		cached := cfg
		cached.TokenCacheSize = 0 // the default size
		cached.Registerer = nil
		cc := newClient(b, cached)
		buyers := values(10_000, "buyer-"+run+"-%d@example.co.uk")
		if _, err := cc.HMAC(ctx, id, buyers); err != nil { // warm
			b.Fatalf("HMAC: %v", err)
		}
		in := make([]string, b.N)
		for i := range in {
			in[i] = buyers[i%len(buyers)]
		}
		benchCalls(b, in, benchCall, hmac(cc))
	})
}

// BenchmarkEncrypt measures encryptions per second on the real Vault, batched
// and one call per value. One op is one value.
func BenchmarkEncrypt(b *testing.B) {
	ctx := context.Background()
	c, _ := rootClient(b)
	id := transittest.NewTenant(b, c)
	if _, err := c.Encrypt(ctx, id, [][]byte{[]byte("create the key")}); err != nil {
		b.Fatalf("Encrypt: %v", err)
	}
	plaintexts := func(n int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = fmt.Appendf(nil, "Ann Smith-Jones %d, Flat 3, 221B Baker Street, London NW1 6XE", i)
		}
		return out
	}
	encrypt := func(in [][]byte) error { _, err := c.Encrypt(ctx, id, in); return err }
	b.Run("batched", func(b *testing.B) { benchCalls(b, plaintexts(b.N), benchCall, encrypt) })
	b.Run("single", func(b *testing.B) { benchCalls(b, plaintexts(b.N), 1, encrypt) })
}

// benchCalls times call over in (one value an op), size values a call, and
// reports values per second.
func benchCalls[T any](b *testing.B, in []T, size int, call func([]T) error) {
	b.ReportAllocs()
	b.ResetTimer()
	for lo := 0; lo < len(in); lo += size {
		if err := call(in[lo:min(lo+size, len(in))]); err != nil {
			b.Fatalf("a call of %d values: %v", min(size, len(in)-lo), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
}
