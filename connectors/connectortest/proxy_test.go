package connectortest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The proxy's faults, against a stand-in that counts what it carried out:
// a 429 before the work (never carried out), a 502 after it (carried out,
// the answer replaced), a hold past the client's timeout before the work
// (never carried out, even after the hold) and after it (carried out), and
// the Applied hook between a write carried out and its answer.
func TestFaultProxy(t *testing.T) {
	var applied atomic.Int32
	standIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			applied.Add(1)
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(standIn.Close)
	faults := []Fault{
		{Status: 429, RetryAfter: 2 * time.Second},
		{Status: 502, AfterApply: true},
		{Delay: time.Second},
		{Delay: time.Second, AfterApply: true},
		{},
	}
	var hooked atomic.Int32
	p := NewFaultProxy(t, ProxyConfig{
		Target:  standIn.URL,
		Fault:   func(n int, _ bool) (Fault, bool) { return faults[n], faults[n] != Fault{} },
		Applied: func(time.Time) { hooked.Add(1) },
	})
	client := &http.Client{Timeout: 200 * time.Millisecond}
	for i, want := range []struct {
		status  int // 0: the client gave up
		applied int32
	}{{429, 0}, {502, 1}, {0, 1}, {0, 2}, {201, 3}} {
		resp, err := client.Post(p.Rebase(standIn.URL+"/orders"), "application/json", bytes.NewReader([]byte(`{}`)))
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		// The proxy records a call once done with it: a held call when it
		// noticed the client gave up, and then it must not carry it out.
		waitCalls(t, p, i+1)
		if status != want.status || applied.Load() != want.applied {
			t.Errorf("call %d: answered %d with %d carried out, want %d with %d", i, status, applied.Load(), want.status, want.applied)
		}
	}
	if n := hooked.Load(); n != 3 {
		t.Errorf("Applied called %d times, want once per write carried out (3)", n)
	}
	calls := p.Calls()
	injected := 0
	for _, c := range calls {
		if c.Injected {
			injected++
		}
		if c.Status == 429 && c.RetryAfter != 2*time.Second {
			t.Errorf("the 429's Retry-After recorded as %s", c.RetryAfter)
		}
	}
	if len(calls) != 5 || injected != 4 {
		t.Errorf("%d calls recorded, %d injected; want 5 and 4", len(calls), injected)
	}
}

// waitCalls waits until the proxy has recorded n calls.
func waitCalls(t *testing.T, p *FaultProxy, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for len(p.Calls()) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("the proxy recorded %d calls, want %d", len(p.Calls()), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
