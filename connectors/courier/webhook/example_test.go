package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/orderflow/orderflow/connectors/courier/webhook"
)

// ExampleVerify is the receiver's side, worked through with the numbers of
// README.md: the key from the courier's secret, the delivery as it arrives,
// and what Verify says of it and of a replay a day later.
func ExampleVerify() {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	keys := map[string][]byte{"2026-q1": key} // keep a retired key here until its last delivery is in

	body := []byte(`{"idempotency_key":"3f1c9a0d5b7e4c21a8f60e2d9b4c7a15","kind":"cancel","order_reference":"206-4417720-3318731","v":1}`)
	sentAt := time.Unix(1772443800, 0) // 2026-03-02 09:30:00 UTC
	r := httptest.NewRequest(http.MethodPost, "/hooks/orderflow", bytes.NewReader(body))
	r.Header.Set("webhook-id", "3f1c9a0d5b7e4c21a8f60e2d9b4c7a15")
	r.Header.Set("webhook-timestamp", "1772443800")
	r.Header.Set("webhook-key-id", "2026-q1")
	r.Header.Set("webhook-signature", "v1,jH37ogdlw5AEeCH4SWbCffeCtn1p8mr1gZzMMec7b8M=")

	got, err := webhook.Verify(r, keys, 5*time.Minute, sentAt.Add(2*time.Second))
	fmt.Println(err == nil, bytes.Equal(got, body))

	// The same delivery captured and replayed a day later.
	r = httptest.NewRequest(http.MethodPost, "/hooks/orderflow", bytes.NewReader(body))
	r.Header = map[string][]string{
		"Webhook-Id": {"3f1c9a0d5b7e4c21a8f60e2d9b4c7a15"}, "Webhook-Timestamp": {"1772443800"},
		"Webhook-Key-Id": {"2026-q1"}, "Webhook-Signature": {"v1,jH37ogdlw5AEeCH4SWbCffeCtn1p8mr1gZzMMec7b8M="},
	}
	_, err = webhook.Verify(r, keys, 5*time.Minute, sentAt.Add(24*time.Hour))
	fmt.Println(errors.Is(err, webhook.ErrTimestamp))
	// Output:
	// true true
	// true
}
