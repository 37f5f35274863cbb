package webhook_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
	"github.com/orderflow/orderflow/worker/privacytest"
)

// TestNoPersonalDataInErrorsLogsOrLabels plants every corpus value (names,
// addresses, phones, emails, card numbers) into every field of a delivery
// label, and sends each delivery to a receiver that refuses with the request
// echoed in its answer (as Click & Drop does), fails with 5xx and 429, or
// answers too late: no error, log line or metric label holds any of it.
func TestNoPersonalDataInErrorsLogsOrLabels(t *testing.T) {
	s := newSecret(t, "k1")
	rx := webhooktest.New(webhooktest.Config{
		Keys:          keyring(s),
		Required:      []string{"recipient.never_sent"}, // every create is refused, echoed
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
	cfg := cfgFor(rx.URL, reg, s)
	cfg.Timeout, cfg.Logger = 100*time.Millisecond, logger
	c := courierFor(t, cfg)

	f := fixtures(t)
	planted, err := privacytest.Plant(f.Label(t, "international-de"))
	if err != nil {
		t.Fatal(err)
	}
	sent, failures := 0, 0
	for p := range planted {
		d := f.CreateWith(t, "international-de", asStrings(t, p.Message()), true, "206-4417720-3318731")
		res := deliverOne(t, c, d)
		sent++
		if res.Err == nil {
			t.Fatalf("%s: done, want the receiver to refuse or fail it", p.Path)
		}
		failures++
		for _, text := range []string{res.Err.Error(), fmt.Sprintf("%+v", res)} {
			if leaks := privacytest.Leaks(text); len(leaks) > 0 {
				t.Errorf("%s planted with a %s: the error holds %v: %s", p.Path, p.Value.Kind, leaks, text)
			}
		}
	}
	if sent < 150 || rx.Requests() < sent/2 {
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

// asStrings makes a label of a planted one: a value planted as a number
// goes in as its text, as a label holds only text.
func asStrings(t *testing.T, msg []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(msg, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range doc {
		out[k] = fmt.Sprint(v)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
