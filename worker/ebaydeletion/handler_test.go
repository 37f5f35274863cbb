package ebaydeletion_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/orderflow/orderflow/worker/ebaydeletion"
	"github.com/orderflow/orderflow/worker/erasure"
	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/stacktest"
	"github.com/orderflow/orderflow/worker/stream"
)

// eBay's own test vectors, from its Java SDK (eBay/event-notification-java-sdk,
// NotificationConsumerApplicationTest and src/test/resources): the challenge,
// and a notification with its signature header and the public key
// getPublicKey answers for it.
const (
	vectorCode     = "a8628072-3d33-45ee-9004-bee86830a22d"
	vectorToken    = "71745723-d031-455c-bfa5-f90d11b4f20a"
	vectorEndpoint = "http://www.testendpoint.com/webhook"
	vectorAnswer   = "ca527df75caa230092d7e90484071e8f05d63068f1317973d6a3a42593734bbb"

	vectorMessage = `{"metadata":{"topic":"MARKETPLACE_ACCOUNT_DELETION","schemaVersion":"1.0","deprecated":false},` +
		`"notification":{"notificationId":"49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d",` +
		`"eventDate":"2021-03-19T20:43:59.462Z","publishDate":"2021-03-19T20:43:59.679Z","publishAttemptCount":1,` +
		`"data":{"username":"test_user","userId":"ma8vp1jySJC","eiasToken":"nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ=="}}}`
	vectorSignature = `{"alg":"ecdsa","kid":"9936261a-7d7b-4621-a0f1-96ccb428af49","signature":"MEYCIQCfxfIWuxmWcIBQJ9c5/X7iGDJqs2RCGsBEaAjinyrrfAIhAIV6wGcTiBuV5KJUif2hokyrL+Q9ssHkad+mx2nEE25w","digest":"SHA1"}`
	vectorKey       = `{"key":"-----BEGIN PUBLIC KEY-----MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZhhxXKtR+TOvtDbgTPCkSof02qgBB7IsYOyf76ilExJ/upAa/vKIKheOoCyOpcLmi4t0b4uepb7LLjmMr90FUg==-----END PUBLIC KEY-----","algorithm":"ECDSA","digest":"SHA1"}`
	vectorKid       = "9936261a-7d7b-4621-a0f1-96ccb428af49"
)

func TestChallengeResponseIsEbays(t *testing.T) {
	if got := ebaydeletion.ChallengeResponse(vectorCode, vectorToken, vectorEndpoint); got != vectorAnswer {
		t.Fatalf("challenge response %s, want eBay's %s", got, vectorAnswer)
	}
}

// standIn is eBay's identity and Notification API as the key client uses
// them, holding the requests to eBay's documented contract: the client
// credentials grant with the application's Basic credentials and the
// api_scope scope, then getPublicKey with its bearer token.
type standIn struct {
	t        *testing.T
	keys     map[string]string // kid -> getPublicKey's answer
	tokens   atomic.Int32
	keyCalls atomic.Int32
	down     atomic.Bool
}

const (
	clientID, clientSecret = "Orderflo-orderflo-PRD-1234", "PRD-secret"
	appToken               = "v^1.1#i^1#app-token"
)

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.URL.Path == "/identity/v1/oauth2/token":
		s.tokens.Add(1)
		id, secret, ok := r.BasicAuth()
		_ = r.ParseForm()
		if r.Method != http.MethodPost || !ok || id != clientID || secret != clientSecret ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "https://api.ebay.com/oauth/api_scope" {
			s.t.Errorf("token request off contract: %s %s basic=%v form=%v", r.Method, r.Header.Get("Content-Type"), ok, r.PostForm)
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"`+appToken+`","expires_in":7200,"token_type":"Application Access Token"}`)
	case strings.HasPrefix(r.URL.Path, "/commerce/notification/v1/public_key/"):
		s.keyCalls.Add(1)
		if r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+appToken {
			s.t.Errorf("getPublicKey off contract: %s, authorization %q", r.Method, r.Header.Get("Authorization"))
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		answer, ok := s.keys[strings.TrimPrefix(r.URL.Path, "/commerce/notification/v1/public_key/")]
		if !ok {
			http.Error(w, `{"errors":[{"errorId":195000,"message":"Resource not found"}]}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	default:
		http.NotFound(w, r)
	}
}

// signer is a locally generated key pair standing in for eBay's.
type signer struct {
	kid string
	key *ecdsa.PrivateKey
}

func newSigner(t *testing.T) signer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{kid: "0d5b8c1e-7a3f-4c55-9e21-5b0c6f2d9a41", key: key}
}

// answer is getPublicKey's answer for the key: the PEM on one line, as eBay
// sends it.
func (s signer) answer(t *testing.T) string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"key": "-----BEGIN PUBLIC KEY-----" + base64.StdEncoding.EncodeToString(der) + "-----END PUBLIC KEY-----",
		"algorithm": "ECDSA", "digest": "SHA1"})
	return string(b)
}

// header signs msg as eBay does: SHA1withECDSA, DER, in the base64 JSON header.
func (s signer) header(t *testing.T, msg []byte) string {
	sum := sha1.Sum(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, s.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]string{"alg": "ecdsa", "kid": s.kid, "signature": base64.StdEncoding.EncodeToString(sig), "digest": "SHA1"})
	return base64.StdEncoding.EncodeToString(b)
}

// notification is an account deletion as eBay sends it, compact.
func notification(id, username, userID string, attempt int) []byte {
	return []byte(`{"metadata":{"topic":"MARKETPLACE_ACCOUNT_DELETION","schemaVersion":"1.0","deprecated":false},"notification":{"notificationId":"` + id +
		`","eventDate":"2026-12-04T10:00:00.000Z","publishDate":"2026-12-04T10:00:01.000Z","publishAttemptCount":` + string(rune('0'+attempt)) +
		`,"data":{"username":"` + username + `","userId":"` + userID + `","eiasToken":"nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ=="}}}`)
}

// failingPublisher stands in for Kafka when it refuses.
type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, []byte, []byte) error {
	return errors.New("kafka: not enough in-sync replicas")
}

type endpoint struct {
	url    string
	ebay   *standIn
	topic  string
	broker []string
}

const (
	testEndpoint = "https://orderflow.example.com/ebay/account-deletion"
	testToken    = "orderflow_verification-token_0123456789abcdef"
)

func newEndpoint(t *testing.T, s signer, publisher ebaydeletion.Publisher) *endpoint {
	t.Helper()
	ebay := &standIn{t: t, keys: map[string]string{s.kid: s.answer(t), vectorKid: vectorKey}}
	api := httptest.NewServer(ebay)
	t.Cleanup(api.Close)
	keys, err := ebaydeletion.NewKeyClient(ebaydeletion.KeyClientConfig{APIURL: api.URL, ClientID: clientID, ClientSecret: clientSecret})
	if err != nil {
		t.Fatal(err)
	}
	e := &endpoint{ebay: ebay}
	if publisher == nil {
		e.broker = stacktest.KafkaBrokers(t)
		e.topic = stacktest.UniqueName("requests.erasure")
		stacktest.CreateTopic(t, e.broker, e.topic, 3)
		w := kafkaclient.SyncWriter(kafkaclient.WriterConfig{Brokers: e.broker, Topic: e.topic})
		t.Cleanup(func() { _ = w.Close() })
		publisher = ebaydeletion.KafkaPublisher{Writer: w}
	}
	h, err := ebaydeletion.New(ebaydeletion.Config{Endpoint: testEndpoint, VerificationToken: testToken, Keys: keys, Publisher: publisher})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/ebay/account-deletion"
	return e
}

func (e *endpoint) post(t *testing.T, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-EBAY-SIGNATURE", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// The challenge as eBay sends it, answered as eBay checks it: 200, JSON with
// no byte order mark, the hash of code, token and the registered endpoint.
func TestEndpointAnswersEbaysChallenge(t *testing.T) {
	e := newEndpoint(t, newSigner(t), failingPublisher{})
	resp, err := http.Get(e.url + "?challenge_code=" + vectorCode)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `{"challengeResponse":"` + ebaydeletion.ChallengeResponse(vectorCode, testToken, testEndpoint) + `"}`
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || string(body) != want {
		t.Fatalf("challenge: %d %s %q, want 200 application/json %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
	}
	resp, err = http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a GET without challenge_code: %d, want 400", resp.StatusCode)
	}
}

// A signed notification round-trips: verified against the stand-in's key,
// written to the real Kafka as one erasure request for every tenant naming
// the eBay user, acknowledged 204. eBay's resend (the same notification id,
// another attempt) makes the same request id. The public key and the token
// are read once for both.
func TestSignedNotificationBecomesAnErasureRequestOnKafka(t *testing.T) {
	s := newSigner(t)
	e := newEndpoint(t, s, nil)
	first := notification("a1b2c3-notification", "ann_erasure", "mAnn0UsErId", 1)
	resend := notification("a1b2c3-notification", "ann_erasure", "mAnn0UsErId", 2)
	for _, msg := range [][]byte{first, resend} {
		if code := e.post(t, msg, s.header(t, msg)); code != http.StatusNoContent {
			t.Fatalf("notification: %d, want 204", code)
		}
	}
	if e.ebay.tokens.Load() != 1 || e.ebay.keyCalls.Load() != 1 {
		t.Errorf("%d token and %d getPublicKey calls for two notifications, want 1 each (cached)", e.ebay.tokens.Load(), e.ebay.keyCalls.Load())
	}
	msgs := stacktest.ReadAll(t, e.broker, e.topic, 3)
	if len(msgs) != 2 {
		t.Fatalf("%d messages on the erasure topic, want 2", len(msgs))
	}
	want := erasure.RequestID("ebay/a1b2c3-notification")
	for _, m := range msgs {
		req, err := erasure.Decode(stream.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Value: m.Value})
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if req.ID != want || req.Tenant != "" || req.Source != erasure.SourceEbayAccountDeletion ||
			req.Identifiers.Username != "ann_erasure" || req.Identifiers.UserID != "mAnn0UsErId" || req.Identifiers.Email != "" {
			t.Errorf("request %+v, want id %s for every tenant naming the eBay user", req, want)
		}
	}
}

// eBay's own signed message verifies, compact as eBay signs it or pretty
// printed; an altered one does not.
func TestEbaysSignedVectorVerifies(t *testing.T) {
	e := newEndpoint(t, newSigner(t), nil)
	header := base64.StdEncoding.EncodeToString([]byte(vectorSignature))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(vectorMessage), "", "  "); err != nil {
		t.Fatal(err)
	}
	if code := e.post(t, pretty.Bytes(), header); code != http.StatusNoContent {
		t.Errorf("eBay's message, pretty printed: %d, want 204", code)
	}
	if code := e.post(t, []byte(vectorMessage), header); code != http.StatusNoContent {
		t.Errorf("eBay's message: %d, want 204", code)
	}
	tampered := strings.Replace(vectorMessage, `"test_user"`, `"test_user2"`, 1)
	if code := e.post(t, []byte(tampered), header); code != http.StatusPreconditionFailed {
		t.Errorf("eBay's message altered: %d, want 412", code)
	}
	if n := len(stacktest.ReadAll(t, e.broker, e.topic, 3)); n != 2 {
		t.Errorf("%d requests written, want 2 (the altered message refused)", n)
	}
}

// What must not be acknowledged is not: forged or unsigned notifications get
// 412 and write nothing; when eBay's key or Kafka cannot be reached the
// answer is 500, so that eBay sends it again. Another topic, or a message of
// another kind, is acknowledged and writes nothing.
func TestRefusedNotificationsWriteNothing(t *testing.T) {
	s := newSigner(t)
	e := newEndpoint(t, s, nil)
	msg := notification("n-1", "bo", "uid-bo", 1)
	forger := newSigner(t)
	forger.kid = s.kid
	unknown := newSigner(t)
	unknown.kid = "5e1d2c3b-0000-4000-8000-00000000dead"
	other := bytes.Replace(msg, []byte("MARKETPLACE_ACCOUNT_DELETION"), []byte("ITEM_SOLD"), 1)
	cases := []struct {
		name   string
		body   []byte
		header string
		want   int
	}{
		{"unsigned", msg, "", http.StatusPreconditionFailed},
		{"signed by another key under eBay's kid", msg, forger.header(t, msg), http.StatusPreconditionFailed},
		{"a kid eBay does not know", msg, unknown.header(t, msg), http.StatusPreconditionFailed},
		{"a header that is not base64 JSON", msg, "not-a-signature", http.StatusPreconditionFailed},
		{"a kid that tries a path", msg, base64.StdEncoding.EncodeToString([]byte(`{"kid":"../../identity","signature":"MEUCIQ=="}`)), http.StatusPreconditionFailed},
		{"another topic", other, s.header(t, other), http.StatusNoContent},
	}
	for _, c := range cases {
		if code := e.post(t, c.body, c.header); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	e.ebay.down.Store(true)
	fresh := newSigner(t)
	fresh.kid = "7c2e9f10-1111-4111-8111-0000000c0ffe"
	if code := e.post(t, msg, fresh.header(t, msg)); code != http.StatusInternalServerError {
		t.Errorf("eBay's key service down: %d, want 500", code)
	}
	if n := len(stacktest.ReadAll(t, e.broker, e.topic, 3)); n != 0 {
		t.Errorf("%d requests written, want none", n)
	}

	down := newEndpoint(t, s, failingPublisher{})
	if code := down.post(t, msg, s.header(t, msg)); code != http.StatusInternalServerError {
		t.Errorf("Kafka refusing: %d, want 500 (eBay sends it again)", code)
	}
}

// Concurrent notifications with a cold cache make one token and one key call.
func TestKeysAreFetchedOncePerKid(t *testing.T) {
	s := newSigner(t)
	e := newEndpoint(t, s, nopPublisher{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			msg := notification("n-"+string(rune('a'+i)), "u", "id", 1)
			if code := e.post(t, msg, s.header(t, msg)); code != http.StatusNoContent {
				t.Errorf("notification %d: %d", i, code)
			}
		})
	}
	wg.Wait()
	if e.ebay.keyCalls.Load() != 1 {
		t.Errorf("%d getPublicKey calls for one kid, want 1", e.ebay.keyCalls.Load())
	}
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, []byte, []byte) error { return nil }
