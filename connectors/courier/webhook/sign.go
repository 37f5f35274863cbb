package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers follow Standard Webhooks (standardwebhooks.com, spec
// "standard-webhooks.md"), so that a receiver can verify with that project's
// libraries; HeaderKeyID is our addition, because the spec rotates secrets by
// sending one signature per secret, and we sign with the newest key only and
// name it.
const (
	// HeaderID is the job's idempotency key: the same on every redelivery.
	HeaderID = "webhook-id"
	// HeaderTimestamp is when this attempt was signed, in Unix seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature is "v1,<base64 HMAC-SHA256>"; a receiver accepts a
	// space-separated list of them, as the spec allows.
	HeaderSignature = "webhook-signature"
	// HeaderKeyID names the key that signed, from the configured key list.
	HeaderKeyID = "webhook-key-id"
)

// SecretPrefix marks a secret's text form, as Standard Webhooks has it: the
// prefix, then the key's bytes in standard base64.
const SecretPrefix = "whsec_"

// MinSecretBytes is the shortest key accepted: Standard Webhooks asks for at
// least 24 random bytes.
const MinSecretBytes = 24

// MaxBodyBytes is the largest body Verify reads: one job's projection is a
// few hundred bytes, so anything near this is not ours.
const MaxBodyBytes = 1 << 20

// Why Verify refused a request. Each error Verify returns wraps exactly one
// of them; none carries a header's or the body's value.
var (
	ErrMissingHeader = errors.New("a signature header is missing or malformed")
	ErrUnknownKey    = errors.New("the key id is not one of the configured keys")
	ErrTimestamp     = errors.New("the timestamp is outside the tolerance")
	ErrSignature     = errors.New("no signature matches")
	ErrBody          = errors.New("the body cannot be read")
)

// ParseSecret decodes a secret's text form ("whsec_" and base64) into the
// HMAC key. Its errors never hold the text.
func ParseSecret(text string) ([]byte, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("a secret starts with %q", SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, errors.New("a secret is " + SecretPrefix + " then standard base64: the rest does not decode")
	}
	if len(key) < MinSecretBytes {
		return nil, fmt.Errorf("a secret holds at least %d bytes, this one %d", MinSecretBytes, len(key))
	}
	return key, nil
}

// Sign returns the webhook-signature value for a delivery: "v1," and the
// base64 HMAC-SHA256 under key of "<id>.<timestamp>.<body>". Signing the id
// too (Standard Webhooks' content, where Stripe signs "<timestamp>.<body>")
// binds the idempotency key to the body, so a captured request cannot be
// replayed under a fresh id to look like new work.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp, 10), body))
}

func mac(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as a receiver must before trusting it, and returns
// its body (r.Body is replaced by a fresh reader of the same bytes): the key
// id must be one of keys (key id to HMAC key, as ParseSecret gives it; keep
// a retired key here until no delivery signed with it can still arrive), the
// timestamp within tolerance of now either way (an older one is a replay),
// and one of the v1 signatures must match, compared in constant time. The
// body is read whole, up to MaxBodyBytes, before any check, and must not be
// re-encoded: the signature is over its bytes.
func Verify(r *http.Request, keys map[string][]byte, tolerance time.Duration, now time.Time) ([]byte, error) {
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("verify: %w: %w", ErrBody, err)
		}
		if len(body) > MaxBodyBytes {
			return nil, fmt.Errorf("verify: %w: longer than %d bytes", ErrBody, MaxBodyBytes)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	id, ts, sigs, keyID := r.Header.Get(HeaderID), r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), r.Header.Get(HeaderKeyID)
	for _, h := range []struct{ name, value string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}, {HeaderKeyID, keyID}} {
		if h.value == "" {
			return nil, fmt.Errorf("verify: %w: %s", ErrMissingHeader, h.name)
		}
	}
	key, ok := keys[keyID]
	if !ok {
		return nil, fmt.Errorf("verify: %w (%d characters)", ErrUnknownKey, len(keyID))
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("verify: %w: %s is not integer seconds", ErrMissingHeader, HeaderTimestamp)
	}
	if skew := now.Sub(time.Unix(seconds, 0)); skew > tolerance || -skew > tolerance {
		return nil, fmt.Errorf("verify: %w (%s off, tolerance %s)", ErrTimestamp, skew.Round(time.Second), tolerance)
	}
	want := mac(key, id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		version, encoded, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue // another scheme (v1a, asymmetric) is not ours to check
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err == nil && hmac.Equal(got, want) {
			return body, nil
		}
	}
	return nil, fmt.Errorf("verify: %w", ErrSignature)
}
