package httpcall_test

// The providers' own stand-ins (clickanddroptest, xerotest, quickbookstest)
// test the connectors end to end; these tests inject the faults a stand-in
// cannot: a cut answer, a closed port, a context that ends mid-call.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/httpcall"
	"github.com/orderflow/orderflow/worker/failure"
)

var errDone = errors.New("test: context ended")

// secretPath stands for what a connector's URL may hold (an order
// reference, a requestid): no error may quote it.
const secretPath = "/orders/%22ORDER-4711-JANE%22"

type env struct {
	caller *httpcall.Caller
	reg    *prometheus.Registry
	clock  *connectortest.Clock
}

func newEnv(t *testing.T, timeout time.Duration) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry(), clock: connectortest.NewClock(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))}
	c, err := httpcall.New(httpcall.Config{
		Provider: "acme", Name: "acme-1", Timeout: timeout, Clock: e.clock, Registerer: e.reg, CtxDone: errDone,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.caller = c
	return e
}

// count is orderflow_connector_requests_total of label.
func (e *env) count(label string) float64 {
	return sample(e.reg, "orderflow_connector_requests_total", label)
}

// sample is the value of the series of name (with the outcome label, if
// not empty): a counter's value, a histogram's count.
func sample(reg *prometheus.Registry, name, outcome string) float64 {
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := outcome == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					match = true
				}
			}
			if !match {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func assertClean(t *testing.T, err error) {
	t.Helper()
	// The host may be named (a dial error does); the path may not.
	if err != nil && strings.Contains(err.Error(), "ORDER-4711") {
		t.Errorf("error quotes the URL: %v", err)
	}
}

func TestDoSendsTheRequestAndReturnsTheAnswer(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotBody = r, string(b)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"slow":"down"}`))
	}))
	defer srv.Close()
	e := newEnv(t, 5*time.Second)
	a, err := e.caller.Do(context.Background(), httpcall.Request{
		Op: "create", Method: http.MethodPut, URL: srv.URL + "/orders", Authorization: "Bearer t0k",
		Body: []byte(`{"a":1}`), Header: map[string]string{"Idempotency-Key": "k-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != 429 || a.OK() || a.Header.Get("Retry-After") != "7" || string(a.Body) != `{"slow":"down"}` {
		t.Errorf("answer = %d %v %q", a.Status, a.Header, a.Body)
	}
	for h, want := range map[string]string{
		"Authorization": "Bearer t0k", "Accept": "application/json", "Content-Type": "application/json", "Idempotency-Key": "k-1",
	} {
		if got.Header.Get(h) != want {
			t.Errorf("header %s = %q, want %q", h, got.Header.Get(h), want)
		}
	}
	if got.Method != http.MethodPut || got.URL.Path != "/orders" || gotBody != `{"a":1}` {
		t.Errorf("request = %s %s %q", got.Method, got.URL.Path, gotBody)
	}
	if e.count(courier.LabelRateLimited) != 1 {
		t.Errorf("a 429 is not counted rate_limited")
	}
	if n := sample(e.reg, "orderflow_connector_request_duration_seconds", ""); n != 1 {
		t.Errorf("%v durations observed, want 1", n)
	}

	// A form with its own content type; no body, no Content-Type.
	if _, err := e.caller.Do(context.Background(), httpcall.Request{
		Op: "token", Method: http.MethodPost, URL: srv.URL, Body: []byte("a=b"), ContentType: "application/x-www-form-urlencoded",
	}); err != nil {
		t.Fatal(err)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", ct)
	}
	if _, err := e.caller.Do(context.Background(), httpcall.Request{Op: "list", Method: http.MethodGet, URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if ct, auth := got.Header.Get("Content-Type"), got.Header.Get("Authorization"); ct != "" || auth != "" {
		t.Errorf("a GET without body or credentials sent Content-Type %q, Authorization %q", ct, auth)
	}
}

// A status the request names as an answer (a lookup's 404) is no failed
// call in the metrics; the same status otherwise is.
func TestAnswersCountDone(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	e := newEnv(t, 5*time.Second)
	for _, answers := range [][]int{{http.StatusNotFound}, nil} {
		a, err := e.caller.Do(context.Background(), httpcall.Request{Op: "lookup", Method: http.MethodGet, URL: srv.URL, Answers: answers})
		if err != nil || a.Status != 404 {
			t.Fatalf("Do = %d, %v", a.Status, err)
		}
	}
	if e.count(courier.LabelDone) != 1 || e.count(courier.LabelRejected) != 1 {
		t.Errorf("done %v, rejected %v; want 1 and 1", e.count(courier.LabelDone), e.count(courier.LabelRejected))
	}
}

func TestTransportFaultsAreRetryableAndNameNoURL(t *testing.T) {
	// A closed port: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	e := newEnv(t, 5*time.Second)
	_, err = e.caller.Do(context.Background(), httpcall.Request{Op: "lookup", Method: http.MethodGet, URL: closed + secretPath})
	if err == nil || errors.Is(err, errDone) || !strings.HasPrefix(err.Error(), "acme lookup: ") {
		t.Errorf("refused connection: %v", err)
	}
	assertClean(t, err)
	if e.count(courier.LabelConnection) != 1 {
		t.Errorf("a refused connection is not counted connection_error")
	}

	// An answer slower than the timeout.
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	e = newEnv(t, 50*time.Millisecond)
	_, err = e.caller.Do(context.Background(), httpcall.Request{Op: "lookup", Method: http.MethodGet, URL: slow.URL + secretPath})
	if err == nil || errors.Is(err, errDone) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	assertClean(t, err)
	if e.count(courier.LabelTimeout) != 1 {
		t.Errorf("a timeout is not counted timeout")
	}

	// An answer cut short of its Content-Length.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"createdOrders":`))
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	e = newEnv(t, 5*time.Second)
	_, err = e.caller.Do(context.Background(), httpcall.Request{Op: "create", Method: http.MethodPost, URL: cut.URL + secretPath})
	if err == nil || errors.Is(err, errDone) || !strings.HasPrefix(err.Error(), "acme create: read answer: ") {
		t.Errorf("cut answer: %v", err)
	}
	assertClean(t, err)
}

// The caller's context ending is told apart from a transient fault.
func TestContextEndMatchesCtxDone(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	}))
	defer srv.Close()
	e := newEnv(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := e.caller.Do(ctx, httpcall.Request{Op: "lookup", Method: http.MethodGet, URL: srv.URL + secretPath})
	if !errors.Is(err, errDone) || !errors.Is(err, context.Canceled) {
		t.Errorf("Do after cancel = %v, want errDone and context.Canceled", err)
	}
	assertClean(t, err)
}

func TestDecodeKeepsOnlyTheSize(t *testing.T) {
	e := newEnv(t, 0)
	var v struct{ A int }
	if err := e.caller.Decode("list", []byte(`{"A":3}`), &v); err != nil || v.A != 3 {
		t.Fatalf("Decode = %v, %+v", err, v)
	}
	err := e.caller.Decode("list", []byte(`{"A":"Jane Doe"}`), &v)
	if err == nil || err.Error() != "acme list: the answer is not the documented JSON (16 bytes)" {
		t.Errorf("Decode of a wrong answer = %v", err)
	}
}

func TestWaitSleepsOnTheClockAndCountsIt(t *testing.T) {
	e := newEnv(t, 0)
	l := rate.NewLimiter(rate.Limit(2), 1)
	for range 3 {
		if err := e.caller.Wait(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.clock.Slept(); got != time.Second {
		t.Errorf("slept %s, want 1s (two waits of 500ms)", got)
	}
	if n := sample(e.reg, "orderflow_connector_rate_limit_waits_total", ""); n != 2 {
		t.Errorf("rate limit waits = %v, want 2", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.caller.Wait(ctx, l); !errors.Is(err, errDone) || !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v", err)
	}
}

func TestNewDefaultsAndRequired(t *testing.T) {
	c, err := httpcall.New(httpcall.Config{Provider: "acme", CtxDone: errDone})
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout != httpcall.DefaultTimeout || c.HTTPClient == nil || c.Logger == nil {
		t.Errorf("defaults: timeout %s, client %v, logger %v", c.Timeout, c.HTTPClient, c.Logger)
	}
	if _, ok := c.Clock.(httpcall.RealClock); !ok {
		t.Errorf("default clock is %T", c.Clock)
	}
	if _, err := httpcall.New(httpcall.Config{Provider: "acme"}); err == nil {
		t.Error("New without CtxDone succeeded")
	}
	// Two callers on one registry share the metrics (two connectors in one
	// worker).
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := httpcall.New(httpcall.Config{Provider: "acme", CtxDone: errDone, Registerer: reg}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJudge(t *testing.T) {
	err := errors.New("x")
	for _, c := range []struct {
		status int
		want   courier.Result
	}{
		{429, courier.Result{Outcome: courier.Retry, RetryAfter: 7 * time.Second, Err: err}},
		{503, courier.Result{Outcome: courier.Retry, RetryAfter: 7 * time.Second, Err: err}},
		{400, courier.Result{Outcome: courier.Failed, Err: err}},
		{401, courier.Result{Outcome: courier.Failed, Err: err}},
	} {
		if got := httpcall.Judge(c.status, 7*time.Second, err); got != c.want {
			t.Errorf("Judge(%d) = %+v, want %+v", c.status, got, c.want)
		}
	}
}

func TestEncode(t *testing.T) {
	e := newEnv(t, 0)
	if b, err := e.caller.Encode("create", nil); b != nil || err != nil {
		t.Errorf("Encode(nil) = %q, %v; want no body", b, err)
	}
	if b, err := e.caller.Encode("create", map[string]int{"a": 1}); string(b) != `{"a":1}` || err != nil {
		t.Errorf("Encode = %q, %v", b, err)
	}
	if _, err := e.caller.Encode("create", make(chan int)); err == nil || !strings.HasPrefix(err.Error(), "acme create: encode: ") {
		t.Errorf("Encode of a channel = %v", err)
	}
}

// What stops a batch: the caller's context, refused credentials; nothing
// else, not even an HTTP error or a timeout.
func TestStops(t *testing.T) {
	e := newEnv(t, 0)
	for err, want := range map[error]bool{
		fmt.Errorf("%w: %w", errDone, context.Canceled):             true,
		fmt.Errorf("acme token: %w", courier.ErrCredentialsRefused): true,
		context.DeadlineExceeded:                                    false,
		errors.New("acme create: HTTP 500"):                         false,
		fmt.Errorf("other: %w", errors.New("ended")):                false,
	} {
		if got := e.caller.Stops(err); got != want {
			t.Errorf("Stops(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestHTTPURL(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://api.xero.com/api.xro/2.0": true,
		"http://127.0.0.1:8080":            true,
		"ftp://example.com":                false,
		"api.xero.com/api.xro/2.0":         false,
		"https://":                         false,
		"":                                 false,
		"https://exa mple.com":             false,
	} {
		if got := httpcall.HTTPURL(raw); got != want {
			t.Errorf("HTTPURL(%q) = %v, want %v", raw, got, want)
		}
	}
}

func TestFailureClass(t *testing.T) {
	for _, c := range []struct {
		status  int
		refused bool
		want    failure.Class
	}{
		{401, true, failure.Worker},
		{400, true, failure.Worker}, // a refused grant (invalid_grant) is a 400
		{429, false, failure.Transient},
		{503, false, failure.Transient},
		{400, false, failure.Order},
		{404, false, failure.Order},
	} {
		if got := httpcall.FailureClass(c.status, c.refused); got != c.want {
			t.Errorf("FailureClass(%d, %v) = %v, want %v", c.status, c.refused, got, c.want)
		}
	}
}
