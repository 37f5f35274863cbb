package connectortest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProxyConfig configures a FaultProxy.
type ProxyConfig struct {
	// Target is the stand-in's base URL (scheme://host:port); a call's path
	// and query pass through unchanged. Required.
	Target string
	// Fault, when set, is asked on each call's arrival whether to fail it:
	// n counts calls from 0; write says whether the call does work (POST,
	// PUT, DELETE). At the proxy a Fault reads:
	//   - without AfterApply: the call is held Delay (a client that gives
	//     up first gets nothing, and the stand-in never sees the call), then
	//     answered Status (with RetryAfter), or passed on when Status is 0;
	//   - with AfterApply: the call is passed on and carried out first, then
	//     its answer is held Delay (the work done, the client timing out)
	//     and replaced by Status when set.
	Fault func(n int, write bool) (Fault, bool)
	// Applied, when set, is called with the call's arrival after the
	// stand-in carried out a write (a 2xx answer) and before that answer
	// goes back, on the call's goroutine: the answer waits until it
	// returns, so that a test can kill the client between the provider
	// doing the work and the client hearing of it.
	Applied func(arrived time.Time)
}

// ProxyCall is a call through a FaultProxy.
type ProxyCall struct {
	// At is the call's arrival; Answered when the proxy finished with it.
	At, Answered time.Time
	Write        bool
	// Status is what the client was answered; 0 when it gave up first.
	Status int
	// Injected says a fault took the call: answered it, held it or replaced
	// the stand-in's answer.
	Injected bool
	// RetryAfter is the Retry-After answered with a 429 or 503.
	RetryAfter time.Duration
}

// FaultProxy is an HTTP proxy in front of a provider's stand-in that fails
// calls on cue the same way for every provider (the stand-ins' own faults
// differ in shape): 5xx and 429 with Retry-After, before or after the work
// is carried out, a hold past the client's timeout, and a hook between a
// write carried out and its answer.
type FaultProxy struct {
	// URL is the proxy's base URL: use it in place of the stand-in's.
	URL string

	cfg  ProxyConfig
	srv  *httptest.Server
	next *http.Client

	mu    sync.Mutex
	n     int
	calls []ProxyCall
}

// NewFaultProxy starts a proxy to cfg.Target for the test; it stops at the
// test's end.
func NewFaultProxy(t testing.TB, cfg ProxyConfig) *FaultProxy {
	t.Helper()
	p := &FaultProxy{cfg: cfg, next: &http.Client{Timeout: time.Minute}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Rebase is a stand-in URL (Target and a path) through the proxy.
func (p *FaultProxy) Rebase(standInURL string) string {
	return p.URL + strings.TrimPrefix(standInURL, p.cfg.Target)
}

// Calls lists the calls answered, in order.
func (p *FaultProxy) Calls() []ProxyCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxyCall(nil), p.calls...)
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	call := ProxyCall{At: time.Now(), Write: r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodDelete}
	p.mu.Lock()
	n := p.n
	p.n++
	p.mu.Unlock()
	var f Fault
	faulty := false
	if p.cfg.Fault != nil {
		f, faulty = p.cfg.Fault(n, call.Write)
	}
	call.Injected = faulty
	call.Status = p.answer(w, r, f, faulty, &call)
	call.Answered = time.Now()
	p.mu.Lock()
	p.calls = append(p.calls, call)
	p.mu.Unlock()
}

// answer serves one call and returns the status the client was answered.
func (p *FaultProxy) answer(w http.ResponseWriter, r *http.Request, f Fault, faulty bool, call *ProxyCall) int {
	// The body is read first: only then does the server notice a client
	// that gives up (the request's context ends), so that a call held past
	// the client's timeout is never carried out after it.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return 0
	}
	if faulty && !f.AfterApply {
		if !hold(r.Context(), f.Delay) {
			return 0
		}
		if f.Status != 0 {
			return p.inject(w, f, call)
		}
	}
	status, header, answer, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "fault proxy: the stand-in did not answer", http.StatusBadGateway)
		return http.StatusBadGateway
	}
	if call.Write && status >= 200 && status < 300 && p.cfg.Applied != nil {
		p.cfg.Applied(call.At)
	}
	if faulty {
		if !hold(r.Context(), f.Delay) {
			return 0
		}
		if f.Status != 0 {
			return p.inject(w, f, call)
		}
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(answer)
	return status
}

// inject answers a fault's status.
func (p *FaultProxy) inject(w http.ResponseWriter, f Fault, call *ProxyCall) int {
	if h := f.RetryAfterHeader(); h != "" {
		w.Header().Set("Retry-After", h)
		call.RetryAfter = f.RetryAfter
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, `{"error":"injected by the fault proxy"}`)
	return f.Status
}

// forward passes the call (its body read) on to the stand-in and reads its
// answer whole.
// The client giving up does not stop it: a provider that has read a
// request carries it out.
func (p *FaultProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	out, err := http.NewRequestWithContext(context.WithoutCancel(r.Context()), r.Method, p.cfg.Target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	out.Header = r.Header.Clone()
	resp, err := p.next.Do(out)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

// hold waits d, or until the client gives up (false).
func hold(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
