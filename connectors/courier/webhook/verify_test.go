package webhook_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/connectors/courier/webhook"
	"github.com/orderflow/orderflow/connectors/courier/webhook/webhooktest"
)

// signedDelivery captures one real signed request, made at now.
func signedDelivery(t *testing.T, now time.Time, s secret) captured {
	t.Helper()
	cap := &capture{}
	srv := httptest.NewServer(cap)
	t.Cleanup(srv.Close)
	cfg := cfgFor(srv.URL, nil, s)
	cfg.Now = func() time.Time { return now }
	deliverOne(t, courierFor(t, cfg), fixtures(t).Create(t, "domestic-gb", false, "206-4417720-3318731"))
	return cap.last(t)
}

// TestVerifyRejectsTampering: every alteration of a signed delivery is
// refused, for the reason it deserves, by Verify and so by the stand-in;
// the untouched delivery passes.
func TestVerifyRejectsTampering(t *testing.T) {
	now := time.Now()
	k1, k2 := newSecret(t, "k1"), newSecret(t, "k2")
	keys := keyring(k1, k2)
	orig := signedDelivery(t, now, k1)
	alter := func(f func(*captured)) captured {
		d := captured{header: orig.header.Clone(), body: bytes.Clone(orig.body)}
		f(&d)
		return d
	}
	ts := orig.header.Get(webhook.HeaderTimestamp)
	sec, _ := strconv.ParseInt(ts, 10, 64)
	cases := []struct {
		name string
		d    captured
		want error
	}{
		{"untouched", orig, nil},
		{"body byte", alter(func(d *captured) { d.body = bytes.Replace(d.body, []byte("850"), []byte("851"), 1) }), webhook.ErrSignature},
		{"body whitespace", alter(func(d *captured) { d.body = append(d.body, ' ') }), webhook.ErrSignature},
		{"timestamp", alter(func(d *captured) { d.header.Set(webhook.HeaderTimestamp, strconv.FormatInt(sec+1, 10)) }), webhook.ErrSignature},
		{"id", alter(func(d *captured) { d.header.Set(webhook.HeaderID, "00000000000000000000000000000000") }), webhook.ErrSignature},
		{"unknown key id", alter(func(d *captured) { d.header.Set(webhook.HeaderKeyID, "k9") }), webhook.ErrUnknownKey},
		{"other key's id", alter(func(d *captured) { d.header.Set(webhook.HeaderKeyID, "k2") }), webhook.ErrSignature},
		{"signature scheme", alter(func(d *captured) {
			d.header.Set(webhook.HeaderSignature, strings.Replace(d.header.Get(webhook.HeaderSignature), "v1,", "v1a,", 1))
		}), webhook.ErrSignature},
		{"signature bits", alter(func(d *captured) {
			sig := d.header.Get(webhook.HeaderSignature)
			flip := "A"
			if sig[3] == 'A' {
				flip = "B"
			}
			d.header.Set(webhook.HeaderSignature, sig[:3]+flip+sig[4:])
		}), webhook.ErrSignature},
		{"no signature", alter(func(d *captured) { d.header.Del(webhook.HeaderSignature) }), webhook.ErrMissingHeader},
		{"no key id", alter(func(d *captured) { d.header.Del(webhook.HeaderKeyID) }), webhook.ErrMissingHeader},
		{"timestamp not a number", alter(func(d *captured) { d.header.Set(webhook.HeaderTimestamp, ts+".5") }), webhook.ErrMissingHeader},
		{"one of several signatures", alter(func(d *captured) {
			d.header.Set(webhook.HeaderSignature, "v1,bm90IGl0 "+d.header.Get(webhook.HeaderSignature))
		}), nil},
	}
	rx := webhooktest.New(webhooktest.Config{Keys: keys})
	t.Cleanup(rx.Close)
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tc.d.body))
		req.Header = tc.d.header.Clone()
		body, err := webhook.Verify(req, keys, 5*time.Minute, now)
		if !errors.Is(err, tc.want) || (tc.want == nil && !bytes.Equal(body, tc.d.body)) {
			t.Errorf("%s: Verify: %v, want %v", tc.name, err, tc.want)
		}
		wantStatus := http.StatusUnauthorized
		if tc.want == nil {
			wantStatus = http.StatusOK
		}
		if got := post(t, rx.URL, tc.d); got != wantStatus {
			t.Errorf("%s: the stand-in answered %d, want %d", tc.name, got, wantStatus)
		}
	}
}

// TestVerifyRejectsReplays: a delivery replayed outside the tolerance, or
// stamped too far ahead, is refused; at the edge it passes.
func TestVerifyRejectsReplays(t *testing.T) {
	k := newSecret(t, "k1")
	signedAt := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	d := signedDelivery(t, signedAt, k)
	tolerance := 5 * time.Minute
	cases := []struct {
		at   time.Time
		want error
	}{
		{signedAt, nil},
		{signedAt.Add(tolerance), nil},
		{signedAt.Add(-tolerance), nil},
		{signedAt.Add(tolerance + time.Second), webhook.ErrTimestamp},
		{signedAt.Add(-tolerance - time.Second), webhook.ErrTimestamp},
		{signedAt.Add(24 * time.Hour), webhook.ErrTimestamp},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(d.body))
		req.Header = d.header.Clone()
		if _, err := webhook.Verify(req, keyring(k), tolerance, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("verified %s after signing: %v, want %v", tc.at.Sub(signedAt), err, tc.want)
		}
	}
	// Over HTTP: the stand-in's clock is an hour on.
	rx := webhooktest.New(webhooktest.Config{Keys: keyring(k), Now: func() time.Time { return signedAt.Add(time.Hour) }})
	t.Cleanup(rx.Close)
	if got := post(t, rx.URL, d); got != http.StatusUnauthorized {
		t.Errorf("a replay an hour on: %d, want 401", got)
	}
	if r := rx.Refusals(); len(r) != 1 || !strings.Contains(r[0].Reason, webhook.ErrTimestamp.Error()) {
		t.Errorf("refusals %+v, want one for the timestamp", r)
	}
}

// TestKeyRotation: the sender signs with its one key and names it; a
// receiver that holds old and new keys verifies deliveries from a sender on
// either; one that does not hold the sender's key refuses it, which stops
// the connector (its credentials are refused) instead of failing each job.
func TestKeyRotation(t *testing.T) {
	old, fresh := newSecret(t, "2025-q4"), newSecret(t, "2026-q1")
	both := receiver(t, webhooktest.Config{}, old, fresh)
	oldOnly := receiver(t, webhooktest.Config{}, old)
	freshOnly := receiver(t, webhooktest.Config{}, fresh)
	cases := []struct {
		name   string
		rx     *webhooktest.Server
		signer secret
		ok     bool
	}{
		{"rotated sender, receiver holds both", both, fresh, true},
		{"sender not rotated yet, receiver holds both", both, old, true},
		{"rotated sender, receiver not told", oldOnly, fresh, false},
		{"old key retired at the receiver", freshOnly, old, false},
	}
	for i, tc := range cases {
		d := fixtures(t).Create(t, "domestic-gb", false, "206-4417720-331873"+strconv.Itoa(i))
		res, err := courierFor(t, cfgFor(tc.rx.URL, nil, tc.signer)).Deliver(t.Context(), []courier.Delivery{d})
		if !tc.ok {
			if !errors.Is(err, courier.ErrCredentialsRefused) {
				t.Errorf("%s: %v, want the credentials refused", tc.name, err)
			}
			continue
		}
		if err != nil || res[0].Outcome != courier.Done {
			t.Errorf("%s: %+v, %v, want done", tc.name, res, err)
			continue
		}
		dl := tc.rx.Deliveries()
		if last := dl[len(dl)-1]; last.KeyID != tc.signer.id {
			t.Errorf("%s: signed by %s, want %s", tc.name, last.KeyID, tc.signer.id)
		}
	}
	if r := oldOnly.Refusals(); len(r) != 1 || !strings.Contains(r[0].Reason, webhook.ErrUnknownKey.Error()) {
		t.Errorf("receiver not told: refusals %+v, want an unknown key", r)
	}
}

// TestSignMatchesStandardWebhooksVector: the spec's signature scheme, checked
// against the test vector the Standard Webhooks reference libraries share
// (secret, id, timestamp, payload, signature).
func TestSignMatchesStandardWebhooksVector(t *testing.T) {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
