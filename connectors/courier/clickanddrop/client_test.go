package clickanddrop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/clickanddrop"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/order"
	"github.com/orderflow/orderflow/worker/privacytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func fixtures(t *testing.T) map[string]clickanddrop.Request {
	t.Helper()
	data, err := os.ReadFile("testdata/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]clickanddrop.Request
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeClock never sleeps: it moves its time on by the wait and counts it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return ctx.Err()
}

type env struct {
	srv   *clickanddroptest.Server
	cl    *clickanddrop.Client
	reg   *prometheus.Registry
	logs  *privacytest.LogBuffer
	clock *fakeClock
}

func newEnv(t *testing.T, mod func(*clickanddrop.Config)) *env {
	t.Helper()
	e := &env{
		srv:   clickanddroptest.New(t, clickanddroptest.Config{APIKey: "cnd-key-1"}),
		reg:   prometheus.NewRegistry(),
		logs:  &privacytest.LogBuffer{},
		clock: &fakeClock{now: time.Date(2026, 3, 16, 12, 0, 0, 0, time.UTC)},
	}
	cfg := clickanddrop.Config{
		BaseURL: e.srv.URL, APIKey: config.Secret("cnd-key-1"), Registerer: e.reg,
		Logger: e.logs.Logger(), Clock: e.clock, Timeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	cl, err := clickanddrop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.cl = cl
	return e
}

func (e *env) send(t *testing.T, reqs ...clickanddrop.Request) []clickanddrop.Result {
	t.Helper()
	res, err := e.cl.Send(t.Context(), reqs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(res) != len(reqs) {
		t.Fatalf("Send: %d results for %d requests", len(res), len(reqs))
	}
	return res
}

// personal lists every personal value of the fixtures (and the corpus's,
// through privacytest.Leaks) that must never appear in an error, a log line
// or a metric label.
func personal(reqs map[string]clickanddrop.Request) []string {
	var out []string
	for _, r := range reqs {
		a := r.Recipient
		for _, v := range []string{a.FullName, a.CompanyName, a.AddressLine1, a.AddressLine2, a.AddressLine3, a.City, a.Postcode, a.PhoneNumber, a.EmailAddress} {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

func assertClean(t *testing.T, what, text string, values []string) {
	t.Helper()
	if leaks := privacytest.Leaks(text); len(leaks) > 0 {
		t.Errorf("%s leaks %v:\n%s", what, leaks, text)
	}
	for _, v := range values {
		if strings.Contains(text, v) {
			t.Errorf("%s holds a personal value of %d characters:\n%s", what, len(v), text)
		}
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSendsExactlyTheAllowListedFields: what reaches the API for a domestic
// order, one with delivery notifications (phone and email) and an
// international one with a customs declaration is exactly the golden body:
// every field, and the amounts as JSON numbers to the penny.
func TestSendsExactlyTheAllowListedFields(t *testing.T) {
	reqs := fixtures(t)
	for _, name := range []string{"domestic", "domestic_notifications", "international_customs"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			res := e.send(t, reqs[name])
			if res[0].Outcome != clickanddrop.Done || len(res[0].OrderIdentifiers) != 1 {
				t.Fatalf("result %+v, want done with one order id", res[0])
			}
			orders := e.srv.Orders()
			if len(orders) != 1 {
				t.Fatalf("ledger holds %d orders, want 1", len(orders))
			}
			golden := filepath.Join("testdata", name+".wire.golden.json")
			if *update {
				var pretty bytes.Buffer
				_ = json.Indent(&pretty, orders[0].Body, "", "  ")
				_ = os.WriteFile(golden, append(pretty.Bytes(), '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decode(t, want), decode(t, orders[0].Body)); diff != "" {
				t.Errorf("body sent (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPartialFailureIsReconciledPerOrder: one batch, three orders; Click &
// Drop creates one and refuses two inside a 200 answer, echoing them. Each
// request gets its own outcome, and neither the results' errors nor the log
// nor the metric labels hold anything of the echoed orders.
func TestPartialFailureIsReconciledPerOrder(t *testing.T) {
	reqs := fixtures(t)
	e := newEnv(t, nil)
	refused := reqs["domestic_notifications"]
	e.srv.RefuseOrder(refused.OrderReference)
	res := e.send(t, reqs["domestic"], reqs["missing_postcode"], refused)

	got := []clickanddrop.Outcome{res[0].Outcome, res[1].Outcome, res[2].Outcome}
	want := []clickanddrop.Outcome{clickanddrop.Done, clickanddrop.Failed, clickanddrop.Failed}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	var oe *clickanddrop.OrderError
	if !errors.As(res[1].Err, &oe) || !cmp.Equal(oe.Codes, []int{clickanddroptest.ErrorCodePostcode}) || !cmp.Equal(oe.Fields, []string{"postcode"}) {
		t.Errorf("missing postcode: error %v, want code %d on field postcode", res[1].Err, clickanddroptest.ErrorCodePostcode)
	}
	if len(e.srv.Orders()) != 1 {
		t.Errorf("ledger holds %d orders, want 1", len(e.srv.Orders()))
	}
	creates := 0
	for _, c := range e.srv.Calls() {
		if c.Method == "POST" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d create calls, want the 3 orders in one", creates)
	}

	values := personal(reqs)
	for i, r := range res {
		if r.Err != nil {
			assertClean(t, fmt.Sprintf("result %d error", i), r.Err.Error(), values)
		}
	}
	assertClean(t, "log", e.logs.String(), values)
	if !strings.Contains(e.logs.String(), "failed for good") {
		t.Errorf("the refused orders were not logged")
	}
	assertClean(t, "metrics", gathered(t, e.reg), values)
	if got := value(t, e.reg, "orderflow_connector_requests_total", map[string]string{"connector": "clickanddrop", "outcome": "failed"}); got != 2 {
		t.Errorf("requests_total{outcome=failed} = %v, want 2", got)
	}
}

func gathered(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		fmt.Fprintln(&b, f.String())
	}
	return b.String()
}

// value is the sum of a counter's series whose labels include want.
func value(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v != l.GetValue() {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// TestRetryClassification: 429 (with its Retry-After), 5xx, a timeout and a
// refused connection are retried; any other 4xx fails for good; a refused
// API key stops the dispatcher instead of failing every job.
func TestRetryClassification(t *testing.T) {
	reqs := fixtures(t)
	cases := []struct {
		name       string
		fault      clickanddroptest.Fault
		timeout    time.Duration
		want       clickanddrop.Outcome
		retryAfter time.Duration
	}{
		{name: "429 with Retry-After", fault: clickanddroptest.Fault{Status: 429, RetryAfter: "7"}, want: clickanddrop.Retry, retryAfter: 7 * time.Second},
		{name: "500", fault: clickanddroptest.Fault{Status: 500}, want: clickanddrop.Retry},
		{name: "503 with Retry-After", fault: clickanddroptest.Fault{Status: 503, RetryAfter: "2"}, want: clickanddrop.Retry, retryAfter: 2 * time.Second},
		{name: "slow answer", fault: clickanddroptest.Fault{Delay: 10 * time.Second}, timeout: 50 * time.Millisecond, want: clickanddrop.Retry},
		{name: "400", fault: clickanddroptest.Fault{Status: 400}, want: clickanddrop.Failed},
		{name: "422", fault: clickanddroptest.Fault{Status: 422}, want: clickanddrop.Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *clickanddrop.Config) {
				if tc.timeout > 0 {
					c.Timeout = tc.timeout
				}
			})
			e.srv.Fail(tc.fault)
			res := e.send(t, reqs["domestic"])
			if res[0].Outcome != tc.want || res[0].RetryAfter != tc.retryAfter {
				t.Errorf("result %v after %v (%v), want %v after %v", res[0].Outcome, res[0].RetryAfter, res[0].Err, tc.want, tc.retryAfter)
			}
			if len(e.srv.Orders()) != 0 {
				t.Errorf("an order was created despite the fault")
			}
			// The retry goes through and creates the order once.
			if tc.want == clickanddrop.Retry {
				if res := e.send(t, reqs["domestic"]); res[0].Outcome != clickanddrop.Done {
					t.Errorf("retry: %v (%v), want done", res[0].Outcome, res[0].Err)
				}
				if n := len(e.srv.Orders()); n != 1 {
					t.Errorf("after the retry the ledger holds %d orders, want 1", n)
				}
			}
		})
	}

	t.Run("refused connection", func(t *testing.T) {
		cl, err := clickanddrop.New(clickanddrop.Config{BaseURL: "http://127.0.0.1:1/api/v1", APIKey: "k"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Send(t.Context(), []clickanddrop.Request{reqs["domestic"]})
		if err != nil || res[0].Outcome != clickanddrop.Retry {
			t.Errorf("Send: %v, %+v; want retry", err, res)
		}
		if err == nil {
			assertClean(t, "error", res[0].Err.Error(), personal(reqs))
			if strings.Contains(res[0].Err.Error(), reqs["domestic"].OrderReference) {
				t.Errorf("the error quotes the order reference: %v", res[0].Err)
			}
		}
	})

	t.Run("401", func(t *testing.T) {
		e := newEnv(t, nil)
		e.srv.Fail(clickanddroptest.Fault{Status: 401})
		_, err := e.cl.Send(t.Context(), []clickanddrop.Request{reqs["domestic"]})
		if !errors.Is(err, clickanddrop.ErrUnauthorized) {
			t.Errorf("Send: %v, want ErrUnauthorized", err)
		}
	})
}

// TestRedeliveryCreatesOnce: a job delivered again (the dispatcher crashed
// between the call and the commit) finds the order it created by its
// reference and does not create a second one; two jobs of one order in one
// batch share one order.
func TestRedeliveryCreatesOnce(t *testing.T) {
	reqs := fixtures(t)
	e := newEnv(t, nil)
	first := e.send(t, reqs["domestic"], reqs["domestic"])
	again := e.send(t, reqs["domestic"])
	if first[0].Outcome != clickanddrop.Done || first[1].Outcome != clickanddrop.Done || again[0].Outcome != clickanddrop.Done {
		t.Fatalf("outcomes %v %v %v, want done", first[0].Outcome, first[1].Outcome, again[0].Outcome)
	}
	if !cmp.Equal(first[0].OrderIdentifiers, again[0].OrderIdentifiers) {
		t.Errorf("redelivery answered order %v, the first delivery created %v", again[0].OrderIdentifiers, first[0].OrderIdentifiers)
	}
	if d := e.srv.Duplicates(); len(d) != 0 || len(e.srv.Orders()) != 1 {
		t.Errorf("ledger: %d orders, %d duplicates; want 1 and 0", len(e.srv.Orders()), len(d))
	}
}

// TestCancelAfterCreate: a cancel deletes the order the create made; a
// cancel of an order Click & Drop never had is done.
func TestCancelAfterCreate(t *testing.T) {
	reqs := fixtures(t)
	e := newEnv(t, nil)
	create := reqs["international_customs"]
	cancel := clickanddrop.Request{Kind: outbox.KindCancel, IdempotencyKey: "c", OrderReference: create.OrderReference}
	never := clickanddrop.Request{Kind: outbox.KindCancel, IdempotencyKey: "n", OrderReference: "AMZ-999-0000000-0000000"}
	e.send(t, create)
	res := e.send(t, cancel, never)
	if res[0].Outcome != clickanddrop.Done || res[1].Outcome != clickanddrop.Done {
		t.Fatalf("outcomes %v (%v), %v (%v); want done, done", res[0].Outcome, res[0].Err, res[1].Outcome, res[1].Err)
	}
	if o := e.srv.Orders(); len(o) != 1 || !o[0].Cancelled {
		t.Errorf("ledger %+v, want the one order cancelled", o)
	}
	// A redelivered cancel is done too, and deletes nothing more.
	if res := e.send(t, cancel); res[0].Outcome != clickanddrop.Done {
		t.Errorf("redelivered cancel: %v (%v)", res[0].Outcome, res[0].Err)
	}
}

// TestRateLimitIsRespected: at 5 calls a second with a burst of 1, every
// call after the first waits its turn: the waits are counted, and the time
// waited is exactly one fifth of a second per call (on an injected clock:
// a count, not a timing).
func TestRateLimitIsRespected(t *testing.T) {
	reqs := fixtures(t)
	e := newEnv(t, func(c *clickanddrop.Config) { c.MaxBatch = 1 })
	var batch []clickanddrop.Request
	for i := range 6 {
		r := reqs["domestic"]
		r.OrderReference = fmt.Sprintf("RL-%02d", i)
		batch = append(batch, r)
	}
	e.send(t, batch...)
	calls := len(e.srv.Calls())
	if calls != 12 {
		t.Fatalf("%d calls, want 12 (a lookup and a create per order)", calls)
	}
	if got := value(t, e.reg, "orderflow_connector_rate_limit_waits_total", map[string]string{"connector": "clickanddrop"}); got != 11 {
		t.Errorf("rate-limit waits %v, want 11 (every call after the first)", got)
	}
	if e.clock.slept != 11*200*time.Millisecond {
		t.Errorf("waited %v in all, want 11 x 200ms", e.clock.slept)
	}
}

// TestBatchesHoldAtMostMaxBatch: 250 orders go in creates of at most 100
// (and lookups of at most 100 identifiers, which the stand-in checks).
func TestBatchesHoldAtMostMaxBatch(t *testing.T) {
	reqs := fixtures(t)
	e := newEnv(t, nil)
	var batch []clickanddrop.Request
	for i := range 250 {
		r := reqs["domestic"]
		r.OrderReference = fmt.Sprintf("B-%03d", i)
		batch = append(batch, r)
	}
	for i, r := range e.send(t, batch...) {
		if r.Outcome != clickanddrop.Done {
			t.Fatalf("request %d: %v (%v)", i, r.Outcome, r.Err)
		}
	}
	var sizes []int
	for _, c := range e.srv.Calls() {
		if c.Method == "POST" {
			sizes = append(sizes, c.Items)
		}
	}
	if diff := cmp.Diff([]int{100, 100, 50}, sizes); diff != "" {
		t.Errorf("create sizes (-want +got):\n%s", diff)
	}
}

// TestContractBreaksFailAloneWithoutTheValue: a request that breaks the
// documented contract fails for good before any call, naming the field and
// the rule, never the value; the others of its batch go through.
func TestContractBreaksFailAloneWithoutTheValue(t *testing.T) {
	reqs := fixtures(t)
	long := reqs["domestic"]
	long.OrderReference = "LONG-1"
	long.Recipient.AddressLine1 = strings.Repeat("Flat 9, 27 Quarrendon Road ", 4) // 108 characters
	subPenny := reqs["domestic"]
	subPenny.OrderReference = "SUBPENNY-1"
	subPenny.Total = order.Money{Amount: 152901, Currency: "GBP"} // 15.2901
	negative := reqs["domestic"]
	negative.OrderReference = "NEG-1"
	negative.ShippingCostCharged = order.Money{Amount: -100, Currency: "GBP"}
	mixed := reqs["domestic"]
	mixed.OrderReference = "MIXED-1"
	mixed.Subtotal.Currency = "EUR"
	noCity := reqs["domestic"]
	noCity.OrderReference = "NOCITY-1"
	noCity.Recipient.City = ""

	e := newEnv(t, nil)
	res := e.send(t, long, reqs["domestic"], subPenny, negative, mixed, noCity)
	want := []string{
		"field recipient.address.addressLine1 is longer than 100 characters (108 characters)",
		"",
		"field total has more than 2 decimal places",
		"field shippingCostCharged is negative",
		"field subtotal is not in the order total's currency",
		"field recipient.address.city is required",
	}
	for i, w := range want {
		if w == "" {
			if res[i].Outcome != clickanddrop.Done {
				t.Errorf("request %d: %v (%v), want done", i, res[i].Outcome, res[i].Err)
			}
			continue
		}
		var fe *clickanddrop.FieldError
		if res[i].Outcome != clickanddrop.Failed || !errors.As(res[i].Err, &fe) || fe.Error() != w {
			t.Errorf("request %d: %v (%v), want failed: %s", i, res[i].Outcome, res[i].Err, w)
		}
		if res[i].Err != nil {
			assertClean(t, "error", res[i].Err.Error(), personal(reqs))
		}
	}
	if len(e.srv.Orders()) != 1 {
		t.Errorf("ledger holds %d orders, want 1", len(e.srv.Orders()))
	}
}
