package webhook_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/connectors/outbox"
	"github.com/orderflow/orderflow/worker/config"
	"github.com/orderflow/orderflow/worker/telemetry/telemetrytest"
)

// TestExactBody: the body holds the version, kind, idempotency key, order
// reference and, on a create, the shipment: each projected source at its
// "as" path of the webhook allow-list, items per line, amounts as objects;
// the headers are the Standard Webhooks ones and the key id. A redelivery
// is byte for byte the same body.
func TestExactBody(t *testing.T) {
	s := newSecret(t, "k1")
	cap := &capture{}
	srv := httptest.NewServer(cap)
	t.Cleanup(srv.Close)
	c := courierFor(t, cfgFor(srv.URL, nil, s))
	f := fixtures(t)

	d := f.Create(t, "international-de", true, "206-4417720-3318731")
	deliverOne(t, c, d)
	got := cap.last(t)
	want := `{"idempotency_key":"` + d.IdempotencyKey + `","kind":"create","order_reference":"206-4417720-3318731",` +
		`"shipment":{"channel":"amazon","channel_order_id":"206-4417720-3318731",` +
		`"customs":{"items":[` +
		`{"description":"Hand-thrown stoneware mug, cobalt glaze, 350 ml","hs_code":"691200","quantity":2,"sku":"MUG-BLUE-350","unit_value":{"amount":"15.00","currency":"GBP"}},` +
		`{"description":"Serving bowl — celadon","hs_code":"691200","quantity":1,"sku":"BOWL-GRN","unit_value":{"amount":"12.50","currency":"GBP"}}],` +
		`"total":{"amount":"46.49","currency":"GBP"}},` +
		`"parcel":{"format":"smallParcel","service_code":"Standard","weight_grams":850},` +
		`"purchased_at":"2026-01-01T10:00:00Z",` +
		`"recipient":{"city":"Berlin","country_code":"DE","email":"j.weiss.9a8b7c@members.ebay.de","line1":"Friedrichstraße 123","line2":"Hinterhaus, 3. OG","name":"Jürgen Weiß","phone":"+49 30 1234567","postal_code":"10117","state_or_region":"Berlin"},` +
		`"ship_service_level":"Standard"},"v":1}`
	if diff := cmp.Diff(want, string(got.body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	headers := map[string]string{}
	for _, h := range []string{"Content-Type", webhook.HeaderID, webhook.HeaderKeyID} {
		headers[h] = got.header.Get(h)
	}
	if diff := cmp.Diff(map[string]string{
		"Content-Type": "application/json", webhook.HeaderID: d.IdempotencyKey, webhook.HeaderKeyID: "k1",
	}, headers); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if sig := got.header.Get(webhook.HeaderSignature); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("signature %q: want v1,<base64>", sig)
	}

	cancel := f.Cancel(t, "206-4417720-3318731")
	deliverOne(t, c, cancel)
	if got, want := string(cap.last(t).body), `{"idempotency_key":"`+cancel.IdempotencyKey+`","kind":"cancel","order_reference":"206-4417720-3318731","v":1}`; got != want {
		t.Errorf("cancel body\n got %s\nwant %s", got, want)
	}

	deliverOne(t, c, d)
	if again := cap.last(t).body; !bytes.Equal(again, got.body) {
		t.Errorf("redelivered body differs:\n%s\n%s", got.body, again)
	}
}

// TestStandInRefusesOffContractBodies: signed bodies with a field off the
// allow-list, an array where a value belongs, a required field missing or
// a line longer than a label takes are each refused with the path and the
// rule, and nothing is filed.
func TestStandInRefusesOffContractBodies(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{
		Required: []string{"recipient.name", "recipient.postal_code"},
		MaxLen:   map[string]int{"recipient.line1": 35},
	}, s)
	now := time.Now()
	sign := func(body string) captured {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(webhook.HeaderID, "0a1b2c3d")
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(webhook.HeaderKeyID, s.id)
		h.Set(webhook.HeaderSignature, webhook.Sign(s.key, "0a1b2c3d", now.Unix(), []byte(body)))
		return captured{h, []byte(body)}
	}
	head := `{"v":1,"kind":"create","idempotency_key":"0a1b2c3d","order_reference":"r","shipment":`
	cases := []struct{ shipment, reason string }{
		{`{"recipient":{"name":"a","postal_code":"b"},"buyer":{"gift_message":"c"}}`, "shipment.buyer.gift_message: not allow-listed"},
		{`{"recipient":{"name":["a"],"postal_code":"b"}}`, "shipment.recipient.name: an array where a value belongs"},
		{`{"recipient":{"name":"a"}}`, "shipment: required fields missing or empty: [recipient.postal_code]"},
		{`{"recipient":{"name":"a","postal_code":"b","line1":"` + strings.Repeat("x", 36) + `"}}`, "shipment.recipient.line1: 36 characters, at most 35"},
	}
	for _, tc := range cases {
		if got := post(t, rx.URL, sign(head+tc.shipment+"}")); got != http.StatusBadRequest {
			t.Errorf("%s: answered %d, want 400", tc.reason, got)
		}
	}
	var reasons []string
	for _, r := range rx.Refusals() {
		reasons = append(reasons, r.Reason)
	}
	want := []string{cases[0].reason, cases[1].reason, cases[2].reason, cases[3].reason}
	if diff := cmp.Diff(want, reasons); diff != "" {
		t.Errorf("refusals (-want +got):\n%s", diff)
	}
	if d := rx.Deliveries(); len(d) != 0 {
		t.Errorf("ledger holds %d deliveries, want none", len(d))
	}
}

// TestRetryClassification: what each answer, or no answer, becomes, and
// its outcome label; the suite covers 401 and 403 (the credentials).
func TestRetryClassification(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name       string
		fault      webhooktest.Fault
		outcome    courier.Outcome
		retryAfter time.Duration
		label      string
	}{
		{"429 seconds", webhooktest.Fault{Status: 429, RetryAfter: "7"}, courier.Retry, 7 * time.Second, "rate_limited"},
		{"429 date", webhooktest.Fault{Status: 429, RetryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)}, courier.Retry, 90 * time.Second, "rate_limited"},
		{"429 bare", webhooktest.Fault{Status: 429}, courier.Retry, 0, "rate_limited"},
		{"500", webhooktest.Fault{Status: 500}, courier.Retry, 0, "server_error"},
		{"503 retry after", webhooktest.Fault{Status: 503, RetryAfter: "30"}, courier.Retry, 30 * time.Second, "server_error"},
		{"400", webhooktest.Fault{Status: 400}, courier.Failed, 0, "rejected"},
		{"404", webhooktest.Fault{Status: 404}, courier.Failed, 0, "rejected"},
		{"422", webhooktest.Fault{Status: 422}, courier.Failed, 0, "rejected"},
		{"301", webhooktest.Fault{Status: 301}, courier.Failed, 0, "rejected"},
		{"409", webhooktest.Fault{Status: 409}, courier.Done, 0, "duplicate"},
		{"202", webhooktest.Fault{Status: 202}, courier.Done, 0, "done"},
		{"slow", webhooktest.Fault{Delay: 2 * time.Second}, courier.Retry, 0, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSecret(t, "k1")
			rx := receiver(t, webhooktest.Config{}, s)
			reg := prometheus.NewRegistry()
			cfg := cfgFor(rx.URL, reg, s)
			cfg.Timeout, cfg.Now = 200*time.Millisecond, func() time.Time { return now }
			rx.Inject(tc.fault)
			res := deliverOne(t, courierFor(t, cfg), fixtures(t).Create(t, "domestic-gb", false, "206-1"))
			if res.Outcome != tc.outcome || res.RetryAfter != tc.retryAfter {
				t.Errorf("got %s retry after %s (%v), want %s retry after %s", res.Outcome, res.RetryAfter, res.Err, tc.outcome, tc.retryAfter)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "connector=acme_couriers", "outcome="+tc.label); n != 1 {
				t.Errorf("requests_total{outcome=%s} = %v, want 1", tc.label, n)
			}
			if n := telemetrytest.Sum(t, reg, "orderflow_connector_request_duration_seconds", "connector=acme_couriers"); n != 1 {
				t.Errorf("request_duration_seconds count = %v, want 1", n)
			}
		})
	}
}

// TestRetryAfterHoldsTheRestBack: once the receiver answers 429 with a
// Retry-After, the deliveries after it in the call are not sent; each is a
// Retry after the same wait. A 5xx without one holds nothing back.
func TestRetryAfterHoldsTheRestBack(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	c := courierFor(t, cfgFor(rx.URL, prometheus.NewRegistry(), s))
	f := fixtures(t)
	ds := []courier.Delivery{
		f.Create(t, "domestic-gb", false, "206-1"), f.Create(t, "domestic-gb", false, "206-2"),
		f.Create(t, "domestic-gb", false, "206-3"), f.Create(t, "domestic-gb", false, "206-4"),
	}
	rx.Inject(webhooktest.Fault{Status: 500}, webhooktest.Fault{}, webhooktest.Fault{Status: 429, RetryAfter: "7"})
	res, err := c.Deliver(t.Context(), ds)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		outcome courier.Outcome
		after   time.Duration
	}{{courier.Retry, 0}, {courier.Done, 0}, {courier.Retry, 7 * time.Second}, {courier.Retry, 7 * time.Second}}
	for i, w := range want {
		if res[i].Outcome != w.outcome || res[i].RetryAfter != w.after {
			t.Errorf("delivery %d: %s after %s (%v), want %s after %s", i, res[i].Outcome, res[i].RetryAfter, res[i].Err, w.outcome, w.after)
		}
	}
	if n := rx.Requests(); n != 3 {
		t.Errorf("%d requests, want 3: none after the 429", n)
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
	res := deliverOne(t, courierFor(t, cfgFor(url, reg, s)), fixtures(t).Create(t, "domestic-gb", false, "206-1"))
	if res.Outcome != courier.Retry || res.Err == nil {
		t.Errorf("got %+v, want a retry", res)
	}
	if n := telemetrytest.Sum(t, reg, "orderflow_connector_requests_total", "outcome=connection_error"); n != 1 {
		t.Errorf("requests_total{outcome=connection_error} = %v, want 1", n)
	}
}

// TestInvalidDeliveryIsNotSent: what cannot be signed as the contract says
// fails for good before any request goes out.
func TestInvalidDeliveryIsNotSent(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	c := courierFor(t, cfgFor(rx.URL, nil, s))
	good := fixtures(t).Create(t, "domestic-gb", false, "206-1")
	bad := map[string]func(*courier.Delivery){
		"dot in key":   func(d *courier.Delivery) { d.IdempotencyKey = "a.b" },
		"no reference": func(d *courier.Delivery) { d.OrderReference = "" },
		"unknown kind": func(d *courier.Delivery) { d.Kind = outbox.Kind("refund") },
	}
	for name, mutate := range bad {
		d := good
		mutate(&d)
		if res := deliverOne(t, c, d); res.Outcome != courier.Failed {
			t.Errorf("%s: %+v, want failed without a request", name, res)
		}
	}
	if n := rx.Requests(); n != 0 {
		t.Errorf("the receiver saw %d requests, want 0", n)
	}
}

// TestHTTPS: the normal case, a TLS receiver, through a configured
// transport.
func TestHTTPS(t *testing.T) {
	s := newSecret(t, "k1")
	rx := receiver(t, webhooktest.Config{}, s)
	tlsSrv := httptest.NewTLSServer(rx.Config.Handler)
	t.Cleanup(tlsSrv.Close)
	cfg := cfgFor(tlsSrv.URL, nil, s)
	cfg.Transport = tlsSrv.Client().Transport
	if res := deliverOne(t, courierFor(t, cfg), fixtures(t).Create(t, "domestic-gb", false, "206-1")); res.Outcome != courier.Done {
		t.Errorf("over https: %+v", res)
	}
}

// TestConfigRefused: each bad configuration is refused naming its key, and
// no error shows a secret.
func TestConfigRefused(t *testing.T) {
	good := newSecret(t, "k1")
	shortText := webhook.SecretPrefix + "c2hvcnQtc2VjcmV0LXZhbHVl" // 18 bytes
	raw := "raw-secret-without-prefix-0123456789"
	cases := map[string]struct {
		mutate func(*webhook.Config)
		want   string
	}{
		"plain http": {func(c *webhook.Config) { c.URL = "http://couriers.example/hooks" }, "url: http only to a loopback host"},
		"ftp":        {func(c *webhook.Config) { c.URL = "ftp://couriers.example" }, `url: scheme "ftp"`},
		"bad name":   {func(c *webhook.Config) { c.Name = "" }, "name: want 1 to 64"},
		"no secret":  {func(c *webhook.Config) { c.Secret = "" }, `credentials: a secret starts with "whsec_"`},
		"not whsec":  {func(c *webhook.Config) { c.Secret = config.Secret(raw) }, `credentials: a secret starts with "whsec_"`},
		"short":      {func(c *webhook.Config) { c.Secret = config.Secret(shortText) }, "credentials: a secret holds at least 24 bytes, this one 18"},
		"bad key id": {func(c *webhook.Config) { c.KeyID = "k.1" }, "key_id: want 1 to 64"},
		"no key id":  {func(c *webhook.Config) { c.KeyID = "" }, "key_id: want 1 to 64"},
	}
	for name, tc := range cases {
		cfg := cfgFor("https://couriers.example/hooks", nil, good)
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
	if _, err := webhook.New(cfgFor("http://127.0.0.1:9/hooks", nil, good)); err != nil {
		t.Errorf("http to loopback refused: %v", err)
	}
}
