package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is how the HTTP proxy answers.
type Mode int32

const (
	// Pass forwards every request.
	Pass Mode = iota
	// Down closes every connection without an answer: a server that is not
	// there (its port is still open, so clients see resets rather than refusals).
	Down
	// Sealed answers 503 with Vault's sealed error, as a sealed Vault does to
	// every request but sys/health and unseal.
	Sealed
	// Flaky answers a share of requests (FailEvery) 500, 502 or 503 in turn,
	// without forwarding them; the rest pass.
	Flaky
)

// HTTP is a reverse proxy that fails requests as its mode says.
type HTTP struct {
	server   *http.Server
	listener net.Listener
	proxy    *httputil.ReverseProxy

	mode      atomic.Int32
	failEvery atomic.Int64 // Flaky: every nth request fails
	requests  atomic.Int64
	failed    atomic.Int64

	wg sync.WaitGroup
}

// NewHTTP listens on a free loopback port and forwards to target (an http URL)
// until ctx ends or Close is called.
func NewHTTP(ctx context.Context, target string) (*HTTP, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &HTTP{listener: l, proxy: httputil.NewSingleHostReverseProxy(u)}
	p.failEvery.Store(3)
	p.server = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	p.wg.Add(1)
	go func() { // owned by p: ends on Close
		defer p.wg.Done()
		_ = p.server.Serve(l)
	}()
	context.AfterFunc(ctx, func() { _ = p.Close() })
	return p, nil
}

// URL is the address to use instead of the target.
func (p *HTTP) URL() string { return "http://" + p.listener.Addr().String() }

// SetMode changes how requests are answered from now on.
func (p *HTTP) SetMode(m Mode) { p.mode.Store(int32(m)) }

// SetFailEvery makes Flaky fail every nth request (default 3: a third).
func (p *HTTP) SetFailEvery(n int) { p.failEvery.Store(int64(max(n, 1))) }

// Counts returns how many requests came and how many the proxy failed.
func (p *HTTP) Counts() (requests, failed int64) { return p.requests.Load(), p.failed.Load() }

// Close stops the proxy.
func (p *HTTP) Close() error {
	err := p.server.Close()
	p.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

var flakyStatus = [...]int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

func (p *HTTP) serve(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	switch Mode(p.mode.Load()) {
	case Down:
		p.failed.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				_ = c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case Sealed:
		p.failed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"errors":["Vault is sealed"]}` + "\n"))
		return
	case Flaky:
		if every := p.failEvery.Load(); n%every == 0 {
			f := p.failed.Add(1)
			status := flakyStatus[int(f)%len(flakyStatus)]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"errors":["%s (injected)"]}`+"\n", http.StatusText(status))
			return
		}
	}
	p.proxy.ServeHTTP(w, r)
}
