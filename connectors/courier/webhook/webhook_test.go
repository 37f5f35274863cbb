package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestDeliveryRoundTrip: a signed create reaches the stand-in, which
// verifies it and files exactly the fields sent under the newest key's id.
func TestDeliveryRoundTrip(t *testing.T) {
	old, newest := newSecret(t, "2025-q4"), newSecret(t, "2026-q1")
	rx := receiver(t, webhooktest.Config{}, old, newest)
	reg := prometheus.NewRegistry()
	c := courier(t, rx.URL, reg, old, newest)

	for _, name := range []string{"domestic", "international"} {
		req := fixture(t, name)
		if res := sendOne(t, c, req); res.Outcome != webhook.Done || res.Err != nil {
			t.Fatalf("%s: %+v, want done", name, res)
		}
	}
	got := rx.Deliveries()
	if len(got) != 2 {
		t.Fatalf("ledger: %d deliveries, want 2 (refusals %v)", len(got), rx.Refusals())
	}
	for i, name := range []string{"domestic", "international"} {
		req := fixture(t, name)
		want := webhooktest.Delivery{
			IdempotencyKey: req.IdempotencyKey, Kind: "create", OrderReference: req.OrderReference,
			KeyID: "2026-q1", Fields: req.Fields,
		}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("%s: ledger entry (-want +got):\n%s", name, diff)
		}
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "connector=acme-couriers", "outcome=done"); n != 2 {
		t.Errorf("requests_total{outcome=done} = %v, want 2", n)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_connector_request_duration_seconds", "connector=acme-couriers"); n != 2 {
		t.Errorf("request_duration_seconds count = %v, want 2", n)
	}
}

// capture records the raw requests a courier makes, over real HTTP.
type capture struct {
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Header.Clone(), b})
	c.mu.Unlock()
}

func (c *capture) last(t *testing.T) captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("no request captured")
	}
	return c.reqs[len(c.reqs)-1]
}

// TestExactBody: the body holds the version, kind, idempotency key, order
// reference and, on a create, the shipment of exactly the request's fields;
// the headers are the Standard Webhooks ones and the key id.
func TestExactBody(t *testing.T) {
	s := newSecret(t, "k1")
	cap := &capture{}
	srv := httptest.NewServer(cap)
	t.Cleanup(srv.Close)
	c := courier(t, srv.URL, nil, s)

	req := fixture(t, "domestic")
	sendOne(t, c, req)
	got := cap.last(t)
	want := `{"idempotency_key":"3f1c9a0d5b7e4c21a8f60e2d9b4c7a15","kind":"create","order_reference":"206-4417720-3318731",` +
		`"shipment":{"package":{"format":"smallParcel","weight_grams":850},` +
		`"recipient":{"address_line1":"14 Larkspur Close","city":"Harrogate","country_code":"GB","county":"North Yorkshire","name":"Margaret Okonkwo-Hale","postcode":"HG2 7QW"},` +
		`"service":"Standard"},"v":1}`
	if diff := cmp.Diff(want, string(got.body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	headers := map[string]string{}
	for _, h := range []string{"Content-Type", webhook.HeaderID, webhook.HeaderKeyID} {
		headers[h] = got.header.Get(h)
	}
	if diff := cmp.Diff(map[string]string{
		"Content-Type": "application/json", webhook.HeaderID: req.IdempotencyKey, webhook.HeaderKeyID: "k1",
	}, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if sig := got.header.Get(webhook.HeaderSignature); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("signature %q: want v1,<base64>", sig)
	}

	cancel := fixture(t, "cancel")
	sendOne(t, c, cancel)
	if got, want := string(cap.last(t).body), `{"idempotency_key":"0a1b2c3d4e5f60718293a4b5c6d7e8f9","kind":"cancel","order_reference":"206-4417720-3318731","v":1}`; got != want {
		t.Errorf("cancel body\n got %s\nwant %s", got, want)
	}

	// A redelivery is byte for byte the same body: the signature differs
	// only by its timestamp.
	sendOne(t, c, req)
	if again := cap.last(t).body; !bytes.Equal(again, got.body) {
		t.Errorf("redelivered body differs:\n%s\n%s", got.body, again)
	}
}

// TestStandInRefusesOffContractBodies: a field off the allow-list, a
// required field missing, a line longer than a label takes: each refused
// for good, with the path and rule, and nothing filed.
func TestStandInRefusesOffContractBodies(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	c := courier(t, rx.URL, nil, s)

	notes := fixture(t, "domestic")
	notes.IdempotencyKey = "aa" + notes.IdempotencyKey[2:]
	notes.Fields = maps.Clone(notes.Fields)
	notes.Fields["buyer.gift_message"] = "Happy birthday"
	cases := []struct {
		req    webhook.Request
		reason string
	}{
		{fixture(t, "long-line"), "shipment.recipient.address_line1: 36 characters, at most 35"},
		{fixture(t, "missing-postcode"), "shipment: required fields missing or empty: [recipient.postcode]"},
		{notes, "shipment.buyer.gift_message: not allow-listed"},
	}
	for _, tc := range cases {
		res := sendOne(t, c, tc.req)
		if res.Outcome != webhook.Failed || res.Status != http.StatusBadRequest {
			t.Errorf("%s: %+v, want failed with 400", tc.reason, res)
		}
	}
	var reasons []string
	for _, r := range rx.Refusals() {
		reasons = append(reasons, r.Reason)
	}
	want := []string{cases[0].reason, cases[1].reason, cases[2].reason}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	if d := rx.Deliveries(); len(d) != 0 {
		t.Errorf("ledger holds %d deliveries, want none", len(d))
	}
}

// TestRedeliveryAndCancel: a redelivery is filed once and counted as a
// duplicate, answered 200 or 409 and done either way; a cancel after the
// create cancels the order; a cancel of an order never created is done.
func TestRedeliveryAndCancel(t *testing.T) {
	for _, dup := range []int{http.StatusOK, http.StatusConflict} {
		t.Run(strconv.Itoa(dup), func(t *testing.T) {
			s := newSecret(t, "k1")
			rx := receiver(t, webhooktest.Config{DuplicateStatus: dup}, s)
			reg := prometheus.NewRegistry()
			c := courier(t, rx.URL, reg, s)
			create, cancel := fixture(t, "domestic"), fixture(t, "cancel")
			orphan := webhook.Request{Kind: outbox.KindCancel, IdempotencyKey: "ffff0000", OrderReference: "never-created"}
			res, err := c.Send(t.Context(), []webhook.Request{create, create, cancel, orphan})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.Outcome != webhook.Done {
					t.Errorf("request %d: %+v, want done", i, r)
				}
			}
			if res[1].Status != dup {
				t.Errorf("redelivery answered %d, want %d", res[1].Status, dup)
			}
			d := rx.Deliveries()
			if len(d) != 3 || d[0].Duplicates != 1 || d[1].Kind != "cancel" {
				t.Errorf("ledger %+v: want the create once with one duplicate, then two cancels", d)
			}
			if o, _ := rx.Order(create.OrderReference); o != (webhooktest.Order{Created: true, Cancelled: true}) {
				t.Errorf("order state %+v, want created and cancelled", o)
			}
			if o, _ := rx.Order("never-created"); o.Created {
				t.Errorf("a cancel created an order")
			}
			if dup == http.StatusConflict {
				if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "outcome=duplicate"); n != 1 {
					t.Errorf("requests_total{outcome=duplicate} = %v, want 1", n)
				}
			}
		})
	}
}

// TestRetryClassification: what each answer, or no answer, becomes.
func TestRetryClassification(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name       string
		fault      webhooktest.Fault
		outcome    webhook.Outcome
		status     int
		retryAfter time.Duration
		label      string
	}{
		{"429 seconds", webhooktest.Fault{Status: 429, RetryAfter: "7"}, webhook.Retry, 429, 7 * time.Second, "rate_limited"},
		{"429 date", webhooktest.Fault{Status: 429, RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)}, webhook.Retry, 429, 90 * time.Second, "rate_limited"},
		{"429 bare", webhooktest.Fault{Status: 429}, webhook.Retry, 429, 0, "rate_limited"},
		{"500", webhooktest.Fault{Status: 500}, webhook.Retry, 500, 0, "server_error"},
		{"503 retry after", webhooktest.Fault{Status: 503, RetryAfter: "30"}, webhook.Retry, 503, 30 * time.Second, "server_error"},
		{"502 after apply", webhooktest.Fault{Status: 502, AfterApply: true}, webhook.Retry, 502, 0, "server_error"},
		{"400", webhooktest.Fault{Status: 400}, webhook.Failed, 400, 0, "rejected"},
		{"401", webhooktest.Fault{Status: 401}, webhook.Failed, 401, 0, "rejected"},
		{"404", webhooktest.Fault{Status: 404}, webhook.Failed, 404, 0, "rejected"},
		{"410", webhooktest.Fault{Status: 410}, webhook.Failed, 410, 0, "rejected"},
		{"422", webhooktest.Fault{Status: 422}, webhook.Failed, 422, 0, "rejected"},
		{"301", webhooktest.Fault{Status: 301}, webhook.Failed, 301, 0, "rejected"},
		{"409", webhooktest.Fault{Status: 409}, webhook.Done, 409, 0, "duplicate"},
		{"202", webhooktest.Fault{Status: 202}, webhook.Done, 202, 0, "done"},
		{"slow", webhooktest.Fault{Delay: 2 * time.Second}, webhook.Retry, 0, 0, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSecret(t, "k1")
			rx := receiver(t, webhooktest.Config{}, s)
			reg := prometheus.NewRegistry()
			c, err := webhook.New(webhook.Config{
				Name: "acme-couriers", URL: rx.URL, Keys: []webhook.Key{s.configKey()}, Registerer: reg,
				Timeout: 200 * time.Millisecond, Now: func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			rx.Inject(tc.fault)
			res := sendOne(t, c, fixture(t, "domestic"))
			if res.Outcome != tc.outcome || res.Status != tc.status || res.RetryAfter != tc.retryAfter {
				t.Errorf("got %s status %d retry after %s (%v), want %s status %d retry after %s",
					res.Outcome, res.Status, res.RetryAfter, res.Err, tc.outcome, tc.status, tc.retryAfter)
			}
			if (res.Err == nil) != (tc.outcome == webhook.Done) {
				t.Errorf("error %v on outcome %s", res.Err, res.Outcome)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "outcome="+tc.label); n != 1 {
				t.Errorf("requests_total{outcome=%s} = %v, want 1", tc.label, n)
			}
		})
	}
}

// TestRetriedUntilFiledOnce: a delivery the receiver applied but whose answer
// was lost (502 after apply), then a 429, then a retry: the ledger holds it
// once, with the retries as duplicates, and the last answer is done.
func TestRetriedUntilFiledOnce(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{DuplicateStatus: http.StatusConflict}, s)
	c := courier(t, rx.URL, nil, s)
	rx.Inject(webhooktest.Fault{Status: 502, AfterApply: true}, webhooktest.Fault{Status: 429, RetryAfter: "1"})
	req := fixture(t, "international")
	var outcomes []webhook.Outcome
	for range 3 {
		outcomes = append(outcomes, sendOne(t, c, req).Outcome)
	}
	if want := []webhook.Outcome{webhook.Retry, webhook.Retry, webhook.Done}; !slices.Equal(outcomes, want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
	if d := rx.Deliveries(); len(d) != 1 || d[0].Duplicates != 1 {
		t.Errorf("ledger %+v: want one delivery with one duplicate", d)
	}
}

// TestConnectionRefusedIsRetried: no server at all is a retry, not a
// failure for good.
func TestConnectionRefusedIsRetried(t *testing.T) {
	s := newSecret(t, "k1")
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	reg := prometheus.NewRegistry()
	res := sendOne(t, courier(t, url, reg, s), fixture(t, "domestic"))
	if res.Outcome != webhook.Retry || res.Status != 0 || res.Err == nil {
		t.Errorf("got %+v, want a retry without a status", res)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "outcome=connection_error"); n != 1 {
		t.Errorf("requests_total{outcome=connection_error} = %v, want 1", n)
	}
}

// TestInvalidRequestIsNotSent: what cannot be signed as the contract says
// fails for good before any request goes out.
func TestInvalidRequestIsNotSent(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	c := courier(t, rx.URL, nil, s)
	good := fixture(t, "domestic")
	bad := map[string]func(*webhook.Request){
		"dot in key":        func(r *webhook.Request) { r.IdempotencyKey = "a.b" },
		"no reference":      func(r *webhook.Request) { r.OrderReference = "" },
		"unknown kind":      func(r *webhook.Request) { r.Kind = "refund" },
		"cancel with data":  func(r *webhook.Request) { r.Kind = outbox.KindCancel },
		"nested value":      func(r *webhook.Request) { r.Fields = map[string]any{"recipient": map[string]any{}} },
		"leaf and parent":   func(r *webhook.Request) { r.Fields = map[string]any{"package": "x", "package.weight_grams": 1} },
		"uppercase segment": func(r *webhook.Request) { r.Fields = map[string]any{"Recipient.name": "x"} },
	}
	for name, mutate := range bad {
		req := good
		mutate(&req)
		if res := sendOne(t, c, req); res.Outcome != webhook.Failed || res.Status != 0 {
			t.Errorf("%s: %+v, want failed without a request", name, res)
		}
	}
	if n := rx.Requests(); n != 0 {
		t.Errorf("the receiver saw %d requests, want 0", n)
	}
}

// TestCancelledContextStopsTheBatch: the requests not sent come back as
// retries, with the context's error.
func TestCancelledContextStopsTheBatch(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	c := courier(t, rx.URL, nil, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := c.Send(ctx, []webhook.Request{fixture(t, "domestic"), fixture(t, "international")})
	if !errors.Is(err, context.Canceled) || len(res) != 2 || res[0].Outcome != webhook.Retry || res[1].Outcome != webhook.Retry {
		t.Errorf("got %+v, %v; want two retries and context.Canceled", res, err)
	}
	if rx.Requests() != 0 {
		t.Errorf("sent after the context ended")
	}
}

// TestHTTPS: the normal case, a TLS receiver, through a configured
// transport.
func TestHTTPS(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	tlsSrv := httptest.NewTLSServer(rx.Config.Handler)
	t.Cleanup(tlsSrv.Close)
	c, err := webhook.New(webhook.Config{Name: "acme", URL: tlsSrv.URL, Keys: []webhook.Key{s.configKey()}, Transport: tlsSrv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	if res := sendOne(t, c, fixture(t, "domestic")); res.Outcome != webhook.Done {
		t.Errorf("over https: %+v", res)
	}
}

// TestConfigRefused: each bad configuration is refused naming its key, and
// no error shows a secret.
func TestConfigRefused(t *testing.T) {
	good := newSecret(t, "k1")
	short := newSecret(t, "short")
	shortText := webhook.SecretPrefix + "c2hvcnQtc2VjcmV0LXZhbHVl" // 18 bytes
	writeFile(t, short.path, shortText)
	t.Setenv("WEBHOOK_TEST_RAW_SECRET", "raw-secret-without-prefix-0123456789")
	base := func() webhook.Config {
		return webhook.Config{Name: "acme", URL: "https://couriers.example/hooks", Keys: []webhook.Key{good.configKey()}}
	}
	cases := map[string]struct {
		mutate func(*webhook.Config)
		want   string
	}{
		"plain http":  {func(c *webhook.Config) { c.URL = "http://couriers.example/hooks" }, "url: http only to a loopback host"},
		"ftp":         {func(c *webhook.Config) { c.URL = "ftp://couriers.example" }, `url: scheme "ftp"`},
		"no keys":     {func(c *webhook.Config) { c.Keys = nil }, "keys: at least one"},
		"bad name":    {func(c *webhook.Config) { c.Name = "" }, "name: want 1 to 64"},
		"twice":       {func(c *webhook.Config) { c.Keys = append(c.Keys, good.configKey()) }, "keys[1].id: k1 is listed twice"},
		"no ref":      {func(c *webhook.Config) { c.Keys[0].Secret = webhook.SecretRef{} }, "keys[0].secret: a secret is given by reference"},
		"unset env":   {func(c *webhook.Config) { c.Keys[0].Secret = webhook.SecretRef{Env: "WEBHOOK_TEST_UNSET"} }, "keys[0].secret: environment variable WEBHOOK_TEST_UNSET is unset"},
		"not whsec":   {func(c *webhook.Config) { c.Keys[0].Secret = webhook.SecretRef{Env: "WEBHOOK_TEST_RAW_SECRET"} }, `keys[0].secret: a secret starts with "whsec_"`},
		"short":       {func(c *webhook.Config) { c.Keys[0] = short.configKey() }, "keys[0].secret: a secret holds at least 24 bytes, this one 18"},
		"bad key id":  {func(c *webhook.Config) { c.Keys[0].ID = "k.1" }, "keys[0].id: want 1 to 64"},
		"env or file": {func(c *webhook.Config) { c.Keys[0].Secret.Env = "X" }, "set env or file, not both"},
	}
	for name, tc := range cases {
		cfg := base()
		tc.mutate(&cfg)
		_, err := webhook.New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to say %q", name, err, tc.want)
			continue
		}
		for _, secret := range []string{good.text, shortText, "raw-secret-without-prefix", "c2hvcnQtc2Vj"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error shows a secret: %v", name, err)
			}
		}
	}
	if _, err := webhook.New(webhook.Config{Name: "local", URL: "http://127.0.0.1:9/hooks", Keys: []webhook.Key{good.configKey()}}); err != nil {
		t.Errorf("http to loopback refused: %v", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The body is one object; decoding it proves it is JSON for every fixture.
func TestFixturesEncode(t *testing.T) {
	s := newSecret(t, "k1")
	cap := &capture{}
	srv := httptest.NewServer(cap)
	t.Cleanup(srv.Close)
	c := courier(t, srv.URL, nil, s)
	for _, name := range []string{"domestic", "international", "long-line", "missing-postcode", "cancel"} {
		sendOne(t, c, fixture(t, name))
		var doc map[string]any
		if err := json.Unmarshal(cap.last(t).body, &doc); err != nil {
			t.Errorf("%s: body is not JSON: %v", name, err)
		}
	}
}
