package transit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/failure"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
	"github.com/orderflow/orderflow/worker/transit"
	"github.com/orderflow/orderflow/worker/transit/transittest"
)

// faultProxy is a reverse proxy in front of the real Vault that fails the
// first requests whose path starts with prefix, in one of these ways:
//
//	"503", "500", "429": that status with a JSON error, as Vault sends it
//	"400":               a bad request, which must not be retried
//	"drop":              the connection closed without an answer
//	"echo":              502 with a non-JSON body that quotes the request
//	"stall":             no answer until the client gives up
type faultProxy struct {
	URL    string
	prefix string

	mu     sync.Mutex
	mode   string
	faults int // requests still to fail
	hits   int // requests under prefix, failed or passed on
}

func newFaultProxy(t testing.TB, mode string, faults int, prefix string) *faultProxy {
	t.Helper()
	p := &faultProxy{prefix: prefix, mode: mode, faults: faults}
	p.URL = transittest.Proxy(t, func(w http.ResponseWriter, r *http.Request) bool {
		p.mu.Lock()
		match := strings.HasPrefix(r.URL.Path, p.prefix)
		inject := match && p.faults > 0
		if match {
			p.hits++
		}
		if inject {
			p.faults--
		}
		mode := p.mode
		p.mu.Unlock()
		if !inject {
			return false
		}
		answer := func(status int, body string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
		switch mode {
		case "503":
			answer(http.StatusServiceUnavailable, `{"errors":["Vault is sealed"]}`)
		case "500":
			answer(http.StatusInternalServerError, `{"errors":["internal error"]}`)
		case "429":
			w.Header().Set("Retry-After", "0")
			answer(http.StatusTooManyRequests, `{"errors":["rate limit quota exceeded"]}`)
		case "400":
			answer(http.StatusBadRequest, `{"errors":["invalid request"]}`)
		case "echo":
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "upstream failed on: "+string(body))
		case "drop":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		case "stall":
			// Reading the body lets the server notice when the client hangs up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		return true
	})
	return p
}

// set fails the next n requests under the prefix in the given mode.
func (p *faultProxy) set(mode string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.faults = mode, n
}

func (p *faultProxy) requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits
}

// proxied is a client whose requests to Vault pass through a fault proxy,
// with a tenant of its own and its metrics.
type proxied struct {
	proxy *faultProxy
	c     *transit.Client
	id    string
	reg   *prometheus.Registry
}

// newProxied starts a client through a new fault proxy (see newFaultProxy
// for mode, faults and prefix), its test configuration changed by tune.
func newProxied(t *testing.T, mode string, faults int, prefix string, tune func(*transit.Config)) proxied {
	t.Helper()
	proxy := newFaultProxy(t, mode, faults, prefix)
	cfg, reg := testConfig(t)
	cfg.Address = proxy.URL
	tune(&cfg)
	c := newClient(t, cfg)
	return proxied{proxy: proxy, c: c, id: transittest.NewTenant(t, c), reg: reg}
}

// wantError is what a test expects of a call's *transit.Error.
type wantError struct {
	temporary bool
	attempts  int // 0: not checked
	status    int // the HTTP status Vault (or the proxy) answered; 0 for none
	class     failure.Class
}

// checkError fails the test unless err is a *transit.Error as want says.
func checkError(t *testing.T, what string, err error, want wantError) {
	t.Helper()
	var te *transit.Error
	if !errors.As(err, &te) {
		t.Fatalf("%s: %v, want a *transit.Error", what, err)
	}
	if te.Temporary != want.temporary || (want.attempts != 0 && te.Attempts != want.attempts) || transit.StatusCode(err) != want.status {
		t.Errorf("%s: %v (temporary %v, %d attempts, status %d), want temporary %v, %d attempts, status %d",
			what, err, te.Temporary, te.Attempts, transit.StatusCode(err), want.temporary, want.attempts, want.status)
	}
	if c := failure.Of(err); c != want.class {
		t.Errorf("%s: class %v, want %v", what, c, want.class)
	}
}

func TestVaultUnavailableIsRetried(t *testing.T) {
	ctx := ctxFor(t)
	direct, _ := rootClient(t)
	id := transittest.NewTenant(t, direct)
	in := []string{"ann@example.co.uk", "bob@example.co.uk"}
	want, err := direct.HMAC(ctx, id, in) // also creates the key
	if err != nil {
		t.Fatalf("HMAC: %v", err)
	}

	for _, mode := range []string{"503", "500", "429", "drop", "stall"} {
		t.Run(mode, func(t *testing.T) {
			proxy := newFaultProxy(t, mode, 3, "/v1/transit/hmac/")
			cfg, reg := testConfig(t)
			cfg.Address = proxy.URL
			cfg.TokenCacheSize = -1
			cfg.MaxAttempts = 5
			if mode == "stall" {
				cfg.RequestTimeout = 200 * time.Millisecond
			}
			c := newClient(t, cfg)

			got, err := c.HMAC(ctx, id, in)
			if err != nil {
				t.Fatalf("HMAC through 3 failures: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tokens after retries (-want +got):\n%s", diff)
			}
			if n := proxy.requests(); n != 4 {
				t.Errorf("%d HMAC requests reached the proxy, want 3 failed + 1", n)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_vault_retries_total", "operation=hmac"); n != 3 {
				t.Errorf("retries_total{operation=hmac} = %v, want 3", n)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=hmac", "outcome=unavailable"); n != 3 {
				t.Errorf("requests_total{outcome=unavailable} = %v, want 3", n)
			}
		})
	}
}

func TestRetriesStopAtTheAttemptLimit(t *testing.T) {
	ctx := ctxFor(t)
	p := newProxied(t, "503", 1000, "/v1/transit/encrypt/", func(cfg *transit.Config) { cfg.MaxAttempts = 3 })

	_, err := p.c.Encrypt(ctx, p.id, [][]byte{[]byte("x")})
	// Vault unavailable is transient for the pipeline.
	checkError(t, "Encrypt", err, wantError{temporary: true, attempts: 3, status: http.StatusServiceUnavailable, class: failure.Transient})
	if n := p.proxy.requests(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if n := telemetrytest.Sum(t, p.reg, "orderflow_vault_retries_total", "operation=encrypt"); n != 2 {
		t.Errorf("retries_total = %v, want 2", n)
	}
}

func TestRetriesStopWhenTheContextEnds(t *testing.T) {
	p := newProxied(t, "503", 1_000_000, "/v1/transit/hmac/", func(cfg *transit.Config) {
		cfg.MaxAttempts = 100
		cfg.RetryInitial, cfg.RetryMax = 20*time.Millisecond, 20*time.Millisecond
	})

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.c.HMAC(ctx, p.id, []string{"x"})
	if err == nil {
		t.Fatal("HMAC succeeded against a Vault that always fails")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("HMAC returned %s after its context ended", elapsed)
	}
	if n := p.proxy.requests(); n >= 100 {
		t.Errorf("%d attempts: retries went on past the context", n)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	ctx := ctxFor(t)
	p := newProxied(t, "400", 1, "/v1/transit/hmac/", func(*transit.Config) {})

	_, err := p.c.HMAC(ctx, p.id, []string{"x"})
	// A request Vault refuses as malformed stops the worker.
	checkError(t, "HMAC", err, wantError{attempts: 1, status: http.StatusBadRequest, class: failure.Worker})
	if n := p.proxy.requests(); n != 1 {
		t.Errorf("%d requests for a 400, want 1", n)
	}
	if n := telemetrytest.Sum(t, p.reg, "orderflow_vault_retries_total"); n != 0 {
		t.Errorf("retries_total = %v, want 0", n)
	}
	if n := telemetrytest.Sum(t, p.reg, "orderflow_vault_requests_total", "operation=hmac", "outcome=rejected"); n != 1 {
		t.Errorf("requests_total{outcome=rejected} = %v, want 1", n)
	}
}

func TestUnreachableVaultIsRetriedThenReported(t *testing.T) {
	// A port that was just free: connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	_ = ln.Close()

	cfg, reg := testConfig(t)
	cfg.Address = addr
	cfg.MaxAttempts = 4
	_, err = transit.New(ctxFor(t), cfg) // New looks the token up
	checkError(t, "New", err, wantError{temporary: true, attempts: 4, class: failure.Transient})
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "outcome=unavailable"); n != 4 {
		t.Errorf("requests_total{outcome=unavailable} = %v, want 4", n)
	}
}

// A client whose caller retries (the worker's: MaxAttempts 1) makes one
// attempt per data request, while its logins and token lookups keep
// LoginAttempts: a short outage at start does not stop the worker, and an
// outage under the pipeline is the pipeline's to retry.
func TestOneAttemptPerRequestWhileLoginsKeepTheirs(t *testing.T) {
	ctx := ctxFor(t)
	proxy := newFaultProxy(t, "503", 2, "/v1/")
	cfg, reg := testConfig(t)
	cfg.Address = proxy.URL
	cfg.MaxAttempts, cfg.LoginAttempts = 1, 3
	c := newClient(t, cfg) // its token lookup fails twice, then passes
	if n := telemetrytest.Sum(t, reg, "orderflow_vault_requests_total", "operation=lookup_self"); n != 3 {
		t.Errorf("%v token lookups, want 2 failed + 1", n)
	}
	id := transittest.NewTenant(t, c)

	proxy.set("503", 1)
	before := proxy.requests()
	_, err := c.HMAC(ctx, id, []string{"x"})
	// The pipeline retries.
	checkError(t, "HMAC through a 503", err, wantError{temporary: true, attempts: 1, status: http.StatusServiceUnavailable, class: failure.Transient})
	if n := proxy.requests() - before; n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if _, err := c.HMAC(ctx, id, []string{"x"}); err != nil {
		t.Errorf("HMAC once Vault is back: %v", err)
	}
}
