// Package ebaydeletion is the endpoint eBay requires of every application
// that stores eBay user data: it answers eBay's challenge, verifies each
// marketplace account-deletion notification's signature as eBay documents
// it, and writes each one to Kafka as an erasure request for every tenant
// (worker/erasure fans it out) before it acknowledges, so that a
// notification acknowledged is never lost and the erasure itself runs
// asynchronously. eBay resends whatever is not acknowledged; a resent
// notification makes the same request id, so its erasure runs once in
// effect.
//
// The contract (../shared/reference/api-contracts.md §2.8 and eBay's guide
// "Marketplace User Account Deletion", its SDKs):
//   - challenge: GET ?challenge_code=C, answered 200 application/json
//     {"challengeResponse": hex(SHA-256(C + verification token + endpoint))},
//     the endpoint exactly as registered;
//   - notification: POST application/json, X-EBAY-SIGNATURE: base64 of
//     {"alg","kid","signature","digest"}; the signature is ASN.1 DER ECDSA
//     (P-256) over the message as eBay serialised it (compact JSON), with the
//     digest the public key's getPublicKey answer names (SHA1 today);
//   - acknowledgement: 200, 201, 202 or 204 ("immediately"; no limit in
//     seconds is documented), 412 when the signature does not verify, and
//     any other status makes eBay send it again.
package ebaydeletion

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderflow/orderflow/worker/erasure"
	"github.com/orderflow/orderflow/worker/retention"
	"github.com/orderflow/orderflow/worker/telemetry/metricsreg"
)

// TopicAccountDeletion is the notification topic this endpoint acts on.
const TopicAccountDeletion = "MARKETPLACE_ACCOUNT_DELETION"

// SignatureHeader carries a notification's signature.
const SignatureHeader = "X-EBAY-SIGNATURE"

// maxBody bounds a notification: eBay's are a few hundred bytes.
const maxBody = 64 << 10

// PublicKey is one of eBay's notification public keys.
type PublicKey struct {
	Key *ecdsa.PublicKey
	// Digest is the hash the signature is made over: "SHA1" or "SHA256".
	Digest string
}

// Keys returns eBay's public key by its id (*KeyClient).
type Keys interface {
	PublicKey(ctx context.Context, kid string) (PublicKey, error)
}

// Publisher writes one message durably (acknowledged by every in-sync
// replica) before it returns (*kafka.Writer through KafkaPublisher).
type Publisher interface {
	Publish(ctx context.Context, key, value []byte) error
}

// Config configures a Handler.
type Config struct {
	// Endpoint is the URL registered with eBay, exactly. Required.
	Endpoint string
	// VerificationToken is the token registered with it. Required.
	VerificationToken string
	Keys              Keys      // required
	Publisher         Publisher // required
	// Now stamps the requests. Default time.Now.
	Now        func() time.Time
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Handler serves the endpoint.
type Handler struct {
	cfg           Config
	log           *slog.Logger
	challenges    prometheus.Counter
	notifications *prometheus.CounterVec
}

// The outcomes of notifications (orderflow_ebay_notifications_total).
const (
	outcomeAccepted       = "accepted"        // written to Kafka, acknowledged
	outcomeBadSignature   = "bad_signature"   // 412
	outcomeBadRequest     = "bad_request"     // 400: not a notification
	outcomeOtherTopic     = "other_topic"     // acknowledged, nothing to do
	outcomeNoUser         = "no_user"         // acknowledged: names no user
	outcomeKeyUnavailable = "key_unavailable" // 500: eBay's key could not be read; eBay resends
	outcomePublishFailed  = "publish_failed"  // 500: not written; eBay resends
)

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Endpoint == "" || cfg.VerificationToken == "" || cfg.Keys == nil || cfg.Publisher == nil {
		return nil, errors.New("ebaydeletion: the endpoint, the verification token, the keys and a publisher are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	set := metricsreg.NewSet(cfg.Registerer)
	h := &Handler{
		cfg: cfg,
		log: cfg.Logger.With("component", "ebay-account-deletion"),
		challenges: set.Counter("orderflow_ebay_challenges_total",
			"eBay endpoint challenges answered (GET ?challenge_code)."),
		notifications: set.CounterVec("orderflow_ebay_notifications_total",
			"eBay notifications received, by outcome: accepted (written to Kafka as an erasure request, then acknowledged), bad_signature (412), bad_request (400), other_topic and no_user (acknowledged, nothing to erase), key_unavailable and publish_failed (500: eBay sends it again).",
			"outcome"),
	}
	if err := set.Err(); err != nil {
		return nil, fmt.Errorf("ebaydeletion metrics: %w", err)
	}
	for _, o := range []string{outcomeAccepted, outcomeBadSignature, outcomeBadRequest, outcomeOtherTopic, outcomeNoUser, outcomeKeyUnavailable, outcomePublishFailed} {
		h.notifications.WithLabelValues(o)
	}
	return h, nil
}

// ServeHTTP answers a challenge (GET) or takes a notification (POST).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.challenge(w, r)
	case http.MethodPost:
		h.notification(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// ChallengeResponse is eBay's challenge answer: the lowercase hex SHA-256 of
// the challenge code, the verification token and the endpoint, in that order.
func ChallengeResponse(code, token, endpoint string) string {
	sum := sha256.Sum256([]byte(code + token + endpoint))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) challenge(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("challenge_code")
	if code == "" || len(code) > 1024 {
		http.Error(w, "challenge_code is required", http.StatusBadRequest)
		return
	}
	body, _ := json.Marshal(struct {
		ChallengeResponse string `json:"challengeResponse"`
	}{ChallengeResponse(code, h.cfg.VerificationToken, h.cfg.Endpoint)})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	h.challenges.Inc()
}

// Notification is eBay's marketplace account-deletion message.
type Notification struct {
	Metadata struct {
		Topic         string `json:"topic"`
		SchemaVersion string `json:"schemaVersion"`
		Deprecated    bool   `json:"deprecated"`
	} `json:"metadata"`
	Notification struct {
		NotificationID      string `json:"notificationId"`
		EventDate           string `json:"eventDate"`
		PublishDate         string `json:"publishDate"`
		PublishAttemptCount int    `json:"publishAttemptCount"`
		Data                struct {
			Username  string `json:"username"`
			UserID    string `json:"userId"`
			EIASToken string `json:"eiasToken"`
		} `json:"data"`
	} `json:"notification"`
}

// signatureHeader is X-EBAY-SIGNATURE decoded.
type signatureHeader struct {
	Alg       string `json:"alg"`
	Kid       string `json:"kid"`
	Signature string `json:"signature"`
	Digest    string `json:"digest"`
}

func (h *Handler) notification(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, outcome, msg string, attrs ...any) {
		h.notifications.WithLabelValues(outcome).Inc()
		h.log.Warn("eBay notification refused: "+msg, append(attrs, "status", status)...)
		http.Error(w, msg, status)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(http.StatusUnsupportedMediaType, outcomeBadRequest, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		fail(http.StatusBadRequest, outcomeBadRequest, "the body could not be read")
		return
	}
	if len(body) > maxBody {
		fail(http.StatusRequestEntityTooLarge, outcomeBadRequest, "the body is too large for a notification")
		return
	}
	sig, err := parseSignature(r.Header.Get(SignatureHeader))
	if err != nil {
		fail(http.StatusPreconditionFailed, outcomeBadSignature, "the signature header is not eBay's", "err", err)
		return
	}
	key, err := h.cfg.Keys.PublicKey(r.Context(), sig.Kid)
	if errors.Is(err, ErrUnknownKey) {
		fail(http.StatusPreconditionFailed, outcomeBadSignature, "the signature's key is not one of eBay's", "err", err)
		return
	}
	if err != nil {
		fail(http.StatusInternalServerError, outcomeKeyUnavailable, "eBay's public key could not be read; send it again", "err", err)
		return
	}
	if err := verify(key, sig, body); err != nil {
		fail(http.StatusPreconditionFailed, outcomeBadSignature, "the signature does not verify", "kid", sig.Kid, "err", err)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		// json's errors name offsets and types, not values.
		fail(http.StatusBadRequest, outcomeBadRequest, "not a notification", "err", err)
		return
	}
	id := n.Notification.NotificationID
	switch {
	case n.Metadata.Topic != TopicAccountDeletion:
		h.notifications.WithLabelValues(outcomeOtherTopic).Inc()
		h.log.Info("eBay notification of another topic acknowledged", "topic", n.Metadata.Topic, "notification_id", id)
		w.WriteHeader(http.StatusNoContent)
		return
	case id == "" || len(id) > 256:
		fail(http.StatusBadRequest, outcomeBadRequest, "the notification has no notificationId")
		return
	case n.Notification.Data.Username == "" && n.Notification.Data.UserID == "":
		h.notifications.WithLabelValues(outcomeNoUser).Inc()
		h.log.Warn("eBay account deletion naming no user acknowledged: nothing to erase", "notification_id", id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	req := retention.ErasureRequest{
		ID:          erasure.RequestID("ebay/" + id),
		Identifiers: retention.Identifiers{Username: n.Notification.Data.Username, UserID: n.Notification.Data.UserID},
		Source:      erasure.SourceEbayAccountDeletion,
		ReceivedAt:  h.cfg.Now().UTC(),
	}
	value, err := json.Marshal(req)
	if err == nil {
		err = h.cfg.Publisher.Publish(r.Context(), []byte(id), value)
	}
	if err != nil {
		fail(http.StatusInternalServerError, outcomePublishFailed, "the notification could not be recorded; send it again", "notification_id", id, "err", err)
		return
	}
	h.notifications.WithLabelValues(outcomeAccepted).Inc()
	h.log.Info("eBay account deletion recorded as an erasure request", "notification_id", id, "request_id", req.ID,
		"attempt", n.Notification.PublishAttemptCount)
	w.WriteHeader(http.StatusNoContent)
}

// parseSignature decodes X-EBAY-SIGNATURE.
func parseSignature(header string) (signatureHeader, error) {
	var s signatureHeader
	if header == "" {
		return s, errors.New("missing")
	}
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return s, errors.New("not base64")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, errors.New("not JSON")
	}
	if !validKid(s.Kid) || s.Signature == "" {
		return s, errors.New("no key id or no signature")
	}
	return s, nil
}

// validKid keeps a key id that goes into eBay's URL to what eBay issues.
func validKid(kid string) bool { return kidForm.MatchString(kid) }

// kidForm is the form of eBay's key ids: UUIDs.
var kidForm = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// verify checks the signature over the body as it came and, failing that,
// over its compact form, which is what eBay's SDKs verify (they re-serialise
// the message without white space, in eBay's member order).
func verify(key PublicKey, sig signatureHeader, body []byte) error {
	der, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil {
		return errors.New("the signature is not base64")
	}
	var newHash func() hash.Hash
	switch key.Digest {
	case "SHA1":
		newHash = sha1.New
	case "SHA256":
		newHash = sha256.New
	default:
		return fmt.Errorf("eBay's key names digest %q, which is neither SHA1 nor SHA256", key.Digest)
	}
	ok := func(msg []byte) bool {
		h := newHash()
		h.Write(msg)
		return ecdsa.VerifyASN1(key.Key, h.Sum(nil), der)
	}
	if ok(body) {
		return nil
	}
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil && !bytes.Equal(compact.Bytes(), body) && ok(compact.Bytes()) {
		return nil
	}
	return errors.New("ECDSA verification failed")
}
