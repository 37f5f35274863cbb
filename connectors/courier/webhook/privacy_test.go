package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// TestNoPersonalDataInErrorsLogsOrLabels plants every corpus value (names,
// addresses, phones, emails, card numbers) into every field of a request,
// the order reference and the idempotency key included, and sends each to a
// receiver that refuses with the request echoed in its answer (as Click &
// Drop does), fails with 5xx and 429, or answers too late: no error, log
// line or metric label holds any of it.
func TestNoPersonalDataInErrorsLogsOrLabels(t *testing.T) {
	s := newSecret(t, "k1")
	c := loadContract(t)
	rx := webhooktest.New(webhooktest.Config{
		Keys: keyring(s), Allowed: c.Allowed, MaxLen: c.MaxLen,
		Required:      append(c.Required, "recipient.never_sent"), // every create is refused, echoed
		EchoOnRefusal: true,
		Fault: func(n int) (webhooktest.Fault, bool) {
			switch n % 5 {
			case 1:
				return webhooktest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3"}, true
			case 2:
				return webhooktest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "Mon, 02 Mar 2026 09:30:00 GMT"}, true
			case 3:
				if n%50 == 3 {
					return webhooktest.Fault{Delay: 300 * time.Millisecond}, true
				}
			}
			return webhooktest.Fault{}, false
		},
	})
	t.Cleanup(rx.Close)
	var logs privacytest.LogBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// The handler's clock has nanosecond digits: not the code's words.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	reg := prometheus.NewRegistry()
	courier, err := webhook.New(webhook.Config{
		Name: "acme-couriers", URL: rx.URL, Keys: []webhook.Key{s.configKey()},
		Timeout: 100 * time.Millisecond, Registerer: reg, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}

	base := fixture(t, "international")
	doc := map[string]any{"idempotency_key": base.IdempotencyKey, "order_reference": base.OrderReference, "fields": base.Fields}
	msg, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	planted, err := privacytest.Plant(msg)
	if err != nil {
		t.Fatal(err)
	}
	sent, failures := 0, 0
	for p := range planted {
		var d struct {
			IdempotencyKey any            `json:"idempotency_key"`
			OrderReference any            `json:"order_reference"`
			Fields         map[string]any `json:"fields"`
		}
		dec := json.NewDecoder(bytes.NewReader(p.Message()))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		req := webhook.Request{Kind: base.Kind, IdempotencyKey: fmt.Sprint(d.IdempotencyKey), OrderReference: fmt.Sprint(d.OrderReference), Fields: d.Fields}
		res, err := courier.Send(t.Context(), []webhook.Request{req})
		if err != nil {
			t.Fatal(err)
		}
		sent++
		if res[0].Err == nil {
			t.Fatalf("%s: done, want the receiver to refuse or fail it", p.Path)
		}
		failures++
		for _, text := range []string{res[0].Err.Error(), fmt.Sprintf("%+v", res[0])} {
			if leaks := privacytest.Leaks(text); len(leaks) > 0 {
				t.Errorf("%s planted with a %s: the error holds %v: %s", p.Path, p.Value.Kind, leaks, text)
			}
		}
	}
	if sent < 300 || rx.Requests() < sent/2 {
		t.Fatalf("sent %d planted requests, the receiver saw %d: the planting is broken", sent, rx.Requests())
	}
	if refusals := rx.Refusals(); len(refusals) < sent/4 {
		t.Fatalf("only %d refusals echoed a body: the echo path went untested", len(refusals))
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if leaks := privacytest.Leaks(line); len(leaks) > 0 {
			t.Errorf("log line holds %v: %s", leaks, line)
		}
	}
	if lines := strings.Count(logs.String(), "\n"); lines < rx.Requests() {
		t.Errorf("%d log lines for %d requests: the logs went unchecked", lines, rx.Requests())
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if leaks := privacytest.Leaks(l.GetValue()); len(leaks) > 0 {
					t.Errorf("%s{%s} holds %v", f.GetName(), l.GetName(), leaks)
				}
			}
		}
	}
	t.Logf("%d planted requests, %d failed, %d refusals echoed", sent, failures, len(rx.Refusals()))
}
