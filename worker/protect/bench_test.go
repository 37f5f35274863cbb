package protect_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

const (
	benchBatch    = 2000 // orders per batch, the pipeline's default batch size
	benchTenants  = 20
	benchPool     = 500  // returning buyers per tenant
	benchReturner = 0.60 // share of orders from returning buyers
)

// BenchmarkProtect measures the protect stage on the real Vault: batches of
// 2,000 orders shaped like the fixtures, from 20 tenants of uneven size (a
// Zipf spread: the largest has about a quarter of the orders), 60% of them
// from returning buyers. One op is one batch; orders/s and allocs/order are
// reported beside it.
//
//	cache=warm: the returning buyers' tokens are in the token cache, as in a
//	            worker that has run for a while; new buyers go to Vault.
//	cache=cold: no token cache: every distinct value of the batch goes to Vault.
//
// Every batch has new order ids and new buyers, so nothing is cached across
// iterations that a real stream would not have cached.
func BenchmarkProtect(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run("cache="+mode, func(b *testing.B) { benchProtect(b, mode == "warm") })
	}
}

func benchProtect(b *testing.B, warm bool) {
	ctx := context.Background()
	admin := directClient(b)
	cfg, reg := transitConfig("")
	if !warm {
		cfg.TokenCacheSize = -1
	}
	s := newStage(b, newClient(b, cfg), reg, nil)
	tmpls := templates(b)
	var tenants []string
	for range benchTenants {
		tenants = append(tenants, transittest.NewTenant(b, admin))
	}
	tag := stacktest.UniqueName("b")
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.3, 2, benchTenants-1)

	// The returning buyers: their first orders create the keys and, with the
	// cache, fill it.
	var warmup []order.Order
	for ti, tenant := range tenants {
		for i := range benchPool {
			warmup = append(warmup, newOrder(tmpls[i%len(tmpls)], tenant, len(warmup), newBuyer(tag, ti*benchPool+i)))
		}
	}
	for lo := 0; lo < len(warmup); lo += benchBatch {
		if _, err := s.Protect(ctx, warmup[lo:min(lo+benchBatch, len(warmup))]); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}

	next := 1_000_000 // order ids and new buyers after the pool's
	batches := make([][]order.Order, b.N)
	for n := range batches {
		batch := make([]order.Order, benchBatch)
		for i := range batch {
			ti := int(zipf.Uint64())
			var by buyer
			if rng.Float64() < benchReturner {
				by = newBuyer(tag, ti*benchPool+rng.IntN(benchPool))
			} else {
				by = newBuyer(tag, next)
			}
			batch[i] = newOrder(tmpls[rng.IntN(len(tmpls))], tenants[ti], next, by)
			next++
		}
		batches[n] = batch
	}

	requests := telemetrytest.Sum(b, reg, "orderflow_vault_requests_total")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for n := range b.N {
		if _, err := s.Protect(ctx, batches[n]); err != nil {
			b.Fatalf("Protect: %v", err)
		}
		batches[n] = nil
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	orders := float64(b.N * benchBatch)
	b.ReportMetric(orders/b.Elapsed().Seconds(), "orders/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/orders, "allocs/order")
	b.ReportMetric((telemetrytest.Sum(b, reg, "orderflow_vault_requests_total")-requests)/float64(b.N), "vault-requests/batch")
}
