package clickanddrop_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/connectortest"
	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop"
	"github.com/orderflow/orderflow/connectors/courier/clickanddrop/clickanddroptest"
	"github.com/orderflow/orderflow/connectors/projection"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/privacytest"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var parcel = projection.Parcel{WeightGrams: 750, Format: "smallParcel", ServiceCode: "CRL1", TariffCode: "691200"}

type env struct {
	*connectortest.Fixtures
	srv   *clickanddroptest.Server
	cl    *clickanddrop.Client
	reg   *prometheus.Registry
	logs  *privacytest.LogBuffer
	clock *connectortest.Clock
}

func newEnv(t *testing.T, mod func(*clickanddrop.Config)) *env {
	t.Helper()
	e := &env{
		Fixtures: connectortest.NewFixtures(t, clickanddrop.Kind, parcel),
		srv:      clickanddroptest.New(t, clickanddroptest.Config{APIKey: "cnd-key-1"}),
		reg:      prometheus.NewRegistry(),
		logs:     &privacytest.LogBuffer{},
		clock:    connectortest.NewClock(time.Date(2026, 3, 16, 12, 0, 0, 0, time.UTC)),
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

func (e *env) deliver(t *testing.T, ds ...courier.Delivery) []courier.Result {
	t.Helper()
	res, err := e.cl.Deliver(t.Context(), ds)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if len(res) != len(ds) {
		t.Fatalf("Deliver: %d results for %d deliveries", len(res), len(ds))
	}
	return res
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

// TestWireBodies: what reaches the API for a domestic order (the required
// amounts as 0.00 GBP), one with delivery notifications (phone, email and
// their switches) and an international one with a customs declaration (the
// amounts to the penny, one content per line) is exactly the golden body.
func TestWireBodies(t *testing.T) {
	for _, tc := range []struct {
		name, dest string
		notify     bool
	}{
		{"domestic", "domestic-gb", false},
		{"domestic_notifications", "domestic-gb", true},
		{"international_customs", "international-de", false},
		{"international_us_state", "international-us", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			if res := e.deliver(t, e.Create(t, tc.dest, tc.notify, "203-1234567-7654321")); res[0].Outcome != courier.Done {
				t.Fatalf("result %+v, want done", res[0])
			}
			orders := e.srv.Orders()
			if len(orders) != 1 {
				t.Fatalf("ledger holds %d orders, want 1", len(orders))
			}
			golden := filepath.Join("testdata", tc.name+".wire.golden.json")
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
// delivery gets its own outcome, in one call, and the refusals' errors hold
// codes and field names, nothing of the echo.
func TestPartialFailureIsReconciledPerOrder(t *testing.T) {
	e := newEnv(t, nil)
	ok := e.Create(t, "domestic-gb", false, "P-1")
	refused := e.Create(t, "international-de", true, "P-2")
	alsoRefused := e.Create(t, "northern-ireland", false, "P-3")
	e.srv.RefuseOrder(refused.OrderReference)
	e.srv.RefuseOrder(alsoRefused.OrderReference)
	res := e.deliver(t, ok, refused, alsoRefused)
	got := []courier.Outcome{res[0].Outcome, res[1].Outcome, res[2].Outcome}
	if diff := cmp.Diff([]courier.Outcome{courier.Done, courier.Failed, courier.Failed}, got); diff != "" {
		t.Fatalf("outcomes (-want +got):\n%s", diff)
	}
	var oe *clickanddrop.OrderError
	if !errors.As(res[1].Err, &oe) || !cmp.Equal(oe.Codes, []int{clickanddroptest.ErrorCodeRefused}) || !cmp.Equal(oe.Fields, []string{"recipient"}) {
		t.Errorf("refused: error %v, want code %d on field recipient", res[1].Err, clickanddroptest.ErrorCodeRefused)
	}
	posts := 0
	for _, c := range e.srv.Calls() {
		if c.Method == "POST" {
			posts++
		}
	}
	if posts != 1 || len(e.srv.Orders()) != 1 {
		t.Errorf("%d create calls, %d orders; want the three in one call, one made", posts, len(e.srv.Orders()))
	}
}

// TestRateLimitIsRespected: at 5 calls a second with a burst of 1, every
// call after the first waits its turn: the waits are counted, and the time
// waited is exactly one fifth of a second per call (on an injected clock:
// a count, not a timing).
func TestRateLimitIsRespected(t *testing.T) {
	e := newEnv(t, func(c *clickanddrop.Config) { c.MaxBatch = 1 })
	var batch []courier.Delivery
	for i := range 6 {
		batch = append(batch, e.Create(t, "domestic-gb", false, fmt.Sprintf("RL-%02d", i)))
	}
	e.deliver(t, batch...)
	if calls := len(e.srv.Calls()); calls != 12 {
		t.Fatalf("%d calls, want 12 (a lookup and a create per order)", calls)
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_rate_limit_waits_total", "connector=clickanddrop"); got != 11 {
		t.Errorf("rate-limit waits %v, want 11 (every call after the first)", got)
	}
	if e.clock.Slept() != 11*200*time.Millisecond {
		t.Errorf("waited %v in all, want 11 x 200ms", e.clock.Slept())
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_requests_total", "connector=clickanddrop", "outcome=done"); got != 12 {
		t.Errorf("requests_total{outcome=done} = %v, want 12 (a lookup's 404 is an answer)", got)
	}
}

// TestBatchesHoldAtMostMaxBatch: 250 orders go in creates of at most 100
// (and lookups of at most 100 identifiers, which the stand-in checks).
func TestBatchesHoldAtMostMaxBatch(t *testing.T) {
	e := newEnv(t, nil)
	var batch []courier.Delivery
	for i := range 250 {
		batch = append(batch, e.Create(t, "domestic-gb", false, fmt.Sprintf("B-%03d", i)))
	}
	for i, r := range e.deliver(t, batch...) {
		if r.Outcome != courier.Done {
			t.Fatalf("delivery %d: %v (%v)", i, r.Outcome, r.Err)
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

// TestRetryAfterHoldsTheRestBack: once Click & Drop answers 429 with a
// Retry-After, the chunks after it are not sent (nor the cancels); each of
// their deliveries is a Retry after the same wait.
func TestRetryAfterHoldsTheRestBack(t *testing.T) {
	e := newEnv(t, func(c *clickanddrop.Config) { c.MaxBatch = 2 })
	var batch []courier.Delivery
	for i := range 5 {
		batch = append(batch, e.Create(t, "domestic-gb", false, fmt.Sprintf("R-%03d", i)))
	}
	// The first chunk's lookup and create pass; the second's lookup is
	// answered 429.
	e.srv.Fail(clickanddroptest.Fault{}, clickanddroptest.Fault{}, clickanddroptest.Fault{Status: 429, RetryAfter: "7"})
	res := e.deliver(t, batch...)
	for i, r := range res {
		want, after := courier.Retry, 7*time.Second
		if i < 2 {
			want, after = courier.Done, 0
		}
		if r.Outcome != want || r.RetryAfter != after {
			t.Errorf("delivery %d: %v after %v (%v), want %v after %v", i, r.Outcome, r.RetryAfter, r.Err, want, after)
		}
	}
	if n := len(e.srv.Calls()); n != 3 {
		t.Errorf("%d calls, want 3: none after the 429", n)
	}
}

// TestContractBreaksFailAloneWithoutTheValue: a delivery that breaks the
// documented contract fails for good before any call, naming the field and
// the rule, never the value; the others of its batch go through.
func TestContractBreaksFailAloneWithoutTheValue(t *testing.T) {
	e := newEnv(t, nil)
	heavy := connectortest.NewFixtures(t, clickanddrop.Kind, projection.Parcel{WeightGrams: 31000, Format: "parcel"})
	badFormat := connectortest.NewFixtures(t, clickanddrop.Kind, projection.Parcel{WeightGrams: 100, Format: "crate"})
	longRef := e.Create(t, "domestic-gb", false, "REF-"+string(bytes.Repeat([]byte("9"), 40)))
	res := e.deliver(t,
		heavy.Create(t, "domestic-gb", false, "HEAVY-1"),
		e.Create(t, "domestic-gb", false, "GOOD-1"),
		badFormat.Create(t, "domestic-gb", false, "FORMAT-1"),
		longRef,
	)
	want := []string{
		"field packages[0].weightInGrams is not between 1 and 30000",
		"",
		"field packages[0].packageFormatIdentifier is not a documented package format",
		"field orderReference is longer than 40 characters (44 characters)",
	}
	for i, w := range want {
		if w == "" {
			if res[i].Outcome != courier.Done {
				t.Errorf("delivery %d: %v (%v), want done", i, res[i].Outcome, res[i].Err)
			}
			continue
		}
		var fe *clickanddrop.FieldError
		if res[i].Outcome != courier.Failed || !errors.As(res[i].Err, &fe) || fe.Error() != w {
			t.Errorf("delivery %d: %v (%v), want failed: %s", i, res[i].Outcome, res[i].Err, w)
		}
	}
	if len(e.srv.Orders()) != 1 {
		t.Errorf("ledger holds %d orders, want 1", len(e.srv.Orders()))
	}
	if got := telemetrytest.Sum(t, e.reg, "orderflow_connector_requests_total", "outcome=invalid"); got != 3 {
		t.Errorf("requests_total{outcome=invalid} = %v, want 3", got)
	}
}
