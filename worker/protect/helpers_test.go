package protect_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/schemas/policy"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/protect"
	"github.com/orderflow/orderflow/worker/protect/protecttest"
	"github.com/orderflow/orderflow/worker/protected"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// The stage's Vault is the transit client, as in production.
var (
	_ protect.Tokenizer = (*transit.Client)(nil)
	_ protect.Encrypter = (*transit.Client)(nil)
)

// transitConfig is a transit.Config with fast retries and a fresh registry,
// through addr when it is not "" (newClient fills in the stack's Vault and
// its token).
func transitConfig(addr string) (transit.Config, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return transit.Config{Address: addr, RetryInitial: time.Millisecond, RetryMax: 10 * time.Millisecond, Registerer: reg}, reg
}

// newClient is a client on the stack's Vault (or cfg's address), closed
// when the test ends.
var newClient = transittest.NewClient

// directClient is a client straight to Vault, for what tests check behind the
// stage's back: decrypting, computing expected tokens, destroying keys.
func directClient(t testing.TB) *transit.Client {
	t.Helper()
	cfg, _ := transitConfig("")
	cfg.Registerer = nil
	cfg.TokenCacheSize = -1
	return newClient(t, cfg)
}

func newStage(t testing.TB, c *transit.Client, reg prometheus.Registerer, p *policy.Policy) *protect.Stage {
	t.Helper()
	return protecttest.NewStage(t, c, protect.Config{Policy: p, Registerer: reg})
}

func loadPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withRules returns a copy of p with the given fields' rules replaced (a zero
// Rule deletes the field).
func withRules(p *policy.Policy, rules map[string]policy.Rule) *policy.Policy {
	cp := *p
	cp.Fields = maps.Clone(p.Fields)
	cp.Derived = maps.Clone(p.Derived)
	for path, r := range rules {
		if r == (policy.Rule{}) {
			delete(cp.Fields, path)
			continue
		}
		cp.Fields[path] = r
	}
	return &cp
}

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// proxiedStage is a stage (embedded policy) whose client reaches Vault
// through a new vaultProxy, the client's config changed by edit first when
// edit is not nil; reg holds the stage's and the client's metrics.
func proxiedStage(t testing.TB, edit func(*transit.Config)) (*protect.Stage, *vaultProxy, *prometheus.Registry) {
	t.Helper()
	proxy := newVaultProxy(t)
	cfg, reg := transitConfig(proxy.URL)
	if edit != nil {
		edit(&cfg)
	}
	return newStage(t, newClient(t, cfg), reg, nil), proxy, reg
}

// vaultProxy is a reverse proxy in front of the real Vault that counts the
// transit data requests by operation and can answer them 503, as a sealed or
// overloaded Vault does.
type vaultProxy struct {
	URL string

	mu       sync.Mutex
	requests map[string]int // "hmac", "encrypt", "decrypt" -> requests seen
	failures int            // data requests still to answer 503
}

func newVaultProxy(t testing.TB) *vaultProxy {
	t.Helper()
	p := &vaultProxy{requests: map[string]int{}}
	p.URL = transittest.Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		op := ""
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v1/transit/"); ok {
			op, _, _ = strings.Cut(rest, "/")
		}
		p.mu.Lock()
		fail := false
		if op == "hmac" || op == "encrypt" || op == "decrypt" {
			p.requests[op]++
			if p.failures > 0 {
				p.failures--
				fail = true
			}
		}
		p.mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"errors":["Vault is sealed"]}`)
		}
		return fail
	})
	return p
}

func (p *vaultProxy) count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[op]
}

// fail answers the next n transit data requests 503.
func (p *vaultProxy) fail(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = n
}

// decrypt returns the Document inside c, decrypted with the tenant's key.
func decrypt(t testing.TB, admin *transit.Client, tenant string, c protected.Ciphertext) protected.Document {
	t.Helper()
	if c.IsZero() {
		t.Fatalf("decrypt: no ciphertext")
	}
	plain, err := admin.Decrypt(ctxFor(t), tenant, []string{c.Value()})
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	d, err := protected.ParseDocument(plain[0])
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	return d
}

// forTenant returns copies of orders that belong to tenant.
func forTenant(orders []order.Order, tenant string) []order.Order {
	out := make([]order.Order, len(orders))
	for i, o := range orders {
		o.TenantID = tenant
		out[i] = o
	}
	return out
}
