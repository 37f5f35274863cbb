// Package deadletter publishes messages that cannot be processed to the dead-letter
// topic, with headers that say why and where they came from, so that nothing is
// dropped and everything can be replayed after a fix (orderflow replay-dlq).
//
// A dead letter is a raw order, full of personal data, so its payload is stored as
// Vault transit ciphertext: under its tenant's key whenever the tenant is known,
// so that the tenant's offboarding shreds it with everything else, and under the
// platform key only when it is not. Only the replay decrypts it.
package deadletter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// Header names on a dead-lettered message. The original message's headers follow.
const (
	HeaderReason          = "reason"
	HeaderStage           = "stage"
	HeaderError           = "error"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	HeaderSourceTimestamp = "source_timestamp"
	HeaderDeadLetteredAt  = "dead_lettered_at"
	// HeaderPayloadEncoding says how the value is stored: PayloadVaultTransit.
	HeaderPayloadEncoding = "payload_encoding"
	// HeaderPayloadKey says whose key encrypted the value: PayloadKeyTenant
	// (HeaderTenantID names the tenant) or PayloadKeyPlatform. Letters written
	// before it existed are the platform's.
	HeaderPayloadKey = "payload_key"
	HeaderTenantID   = "tenant_id"
	// HeaderSourceKey is the original message's key as Vault transit
	// ciphertext under the same key as the value. The key is
	// "<tenant>/<channel order id>", and an order id can hold anything a
	// producer put there, so the letter's own Kafka key is only a digest of it
	// (keyDigest), which keeps one order's letters on one partition.
	HeaderSourceKey = "source_key"
)

// Values of HeaderPayloadKey.
const (
	PayloadKeyTenant   = "tenant"
	PayloadKeyPlatform = "platform"
)

// PayloadVaultTransit: the value is the original message's Vault transit
// ciphertext ("vault:v1:...") under the key HeaderPayloadKey names.
const PayloadVaultTransit = "vault-transit"

// ownHeaders are the headers Publish adds in front of the original message's.
var ownHeaders = map[string]bool{
	HeaderReason: true, HeaderStage: true, HeaderError: true, HeaderSourceTopic: true,
	HeaderSourcePartition: true, HeaderSourceOffset: true, HeaderSourceTimestamp: true,
	HeaderDeadLetteredAt: true, HeaderPayloadEncoding: true, HeaderPayloadKey: true, HeaderTenantID: true,
	HeaderSourceKey: true,
}

// Encrypter encrypts under a tenant's key or the platform key (transit.Client).
// Encrypt refuses an offboarded tenant: Publish then fails, and the caller
// drops that tenant's letters (the pipeline does) and publishes again.
type Encrypter interface {
	Encrypt(ctx context.Context, tenant string, plaintexts [][]byte) ([]string, error)
	EncryptPlatform(ctx context.Context, plaintexts [][]byte) ([]string, error)
}

// maxErrorHeader bounds the error header.
const maxErrorHeader = 1024

// SafeError is an error whose message names fields and rules and never a value
// from a message (normalize.Error, protect's invalid-order error, the pipeline's
// routing errors). Headers are not encrypted, so only such a message goes into the
// error header: the text of any other error, which could quote a card number or an
// email put into the wrong field, is replaced by notShown.
type SafeError interface {
	error
	SafeMessage() string
}

// notShown stands in the error header for an error that is not a SafeError.
const notShown = "(the error's text is not shown: it does not declare itself free of message values)"

// headerText is the error header for err: the message of the SafeError in its
// chain (the context wrapped around it is dropped, since it makes no such
// promise), or notShown.
func headerText(err error) string {
	if err == nil {
		return ""
	}
	var se SafeError
	if !errors.As(err, &se) {
		return notShown
	}
	text := se.SafeMessage()
	if len(text) > maxErrorHeader {
		text = text[:maxErrorHeader]
	}
	return text
}

// Letter is one message that failed, and why.
type Letter struct {
	Source kafka.Message
	// Reason is a short fixed code ("malformed_json", "bad_amount", ...).
	Reason string
	// Stage is where it failed ("normalize", "route").
	Stage string
	// TenantID is the tenant the message belongs to, when it is known and a
	// valid tenant id (the envelope's, normalize.TenantOf); "" when it is not.
	// It decides the key that encrypts the payload.
	TenantID string
	Err      error
}

// Config configures a Publisher.
type Config struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Topic is the dead-letter topic. Required.
	Topic string
	// Transport carries TLS and SASL. Default kafka-go's default transport.
	Transport kafka.RoundTripper
	// Encrypter encrypts payloads. Required: a dead letter is never stored in clear.
	Encrypter Encrypter
	// Now is the clock for dead_lettered_at. Default time.Now.
	Now func() time.Time
}

// Publisher writes letters synchronously, acknowledged by every in-sync replica.
type Publisher struct {
	writer    *kafka.Writer
	encrypter Encrypter
	now       func() time.Time
}

// New returns a Publisher ready to use.
func New(cfg Config) (*Publisher, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("deadletter: brokers and topic are required")
	}
	if cfg.Encrypter == nil {
		return nil, errors.New("deadletter: an encrypter is required: dead letters hold personal data")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Publisher{
		writer: &kafka.Writer{
			Addr:      kafka.TCP(cfg.Brokers...),
			Topic:     cfg.Topic,
			Transport: cfg.Transport,
			// Letters of one order stay together and in order.
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			// Publish is synchronous: flush at once instead of waiting for a full batch.
			BatchTimeout: time.Millisecond,
			BatchSize:    1000,
		},
		encrypter: cfg.Encrypter,
		now:       cfg.Now,
	}, nil
}

// Publish writes every letter and returns when all are acknowledged. Each
// payload is encrypted under its tenant's key, or the platform key when the
// letter has no tenant: one Vault call per key.
func (p *Publisher) Publish(ctx context.Context, letters []Letter) error {
	if len(letters) == 0 {
		return nil
	}
	// Each letter's value and, when it has one, its key, in one call per
	// encryption key: values first, then keys.
	ciphertexts := make([]string, len(letters))
	keyCiphertexts := make([]string, len(letters))
	for tenant, idx := range byTenant(letters) {
		plaintexts := make([][]byte, len(idx), 2*len(idx))
		var keyed []int
		for j, i := range idx {
			plaintexts[j] = letters[i].Source.Value
			if len(letters[i].Source.Key) > 0 {
				plaintexts = append(plaintexts, letters[i].Source.Key)
				keyed = append(keyed, i)
			}
		}
		var out []string
		var err error
		if tenant == "" {
			out, err = p.encrypter.EncryptPlatform(ctx, plaintexts)
		} else {
			out, err = p.encrypter.Encrypt(ctx, tenant, plaintexts)
		}
		if err != nil {
			return fmt.Errorf("encrypt %d dead letters: %w", len(idx), err)
		}
		if len(out) != len(plaintexts) {
			return fmt.Errorf("encrypt %d dead letters: %d ciphertexts for %d plaintexts", len(idx), len(out), len(plaintexts))
		}
		for j, i := range idx {
			ciphertexts[i] = out[j]
		}
		for j, i := range keyed {
			keyCiphertexts[i] = out[len(idx)+j]
		}
	}
	now := p.now().UTC().Format(time.RFC3339Nano)
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		msgs[i] = kafka.Message{Key: keyDigest(l.Source.Key), Value: []byte(ciphertexts[i]), Headers: headers(l, now, keyCiphertexts[i])}
	}
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d dead letters to %s: %w", len(msgs), p.writer.Topic, err)
	}
	return nil
}

// keyDigest is a dead letter's Kafka key: the first 16 bytes of the SHA-256 of
// the original key, in hex. Letters of one order share it, so they stay on one
// partition and in order; nothing of the original key can be read from it. A
// message without a key gives a letter without one.
func keyDigest(key []byte) []byte {
	if len(key) == 0 {
		return nil
	}
	sum := sha256.Sum256(key)
	return []byte(hex.EncodeToString(sum[:16]))
}

// byTenant groups the letters' indices by TenantID ("" for the platform key).
func byTenant(letters []Letter) map[string][]int {
	out := map[string][]int{}
	for i, l := range letters {
		out[l.TenantID] = append(out[l.TenantID], i)
	}
	return out
}

// headers are a letter's headers: ours, then the original message's.
// sourceKey is the original key's ciphertext, "" when it had none.
func headers(l Letter, now, sourceKey string) []kafka.Header {
	errText := headerText(l.Err)
	h := make([]kafka.Header, 0, len(ownHeaders)+len(l.Source.Headers))
	h = append(h,
		kafka.Header{Key: HeaderReason, Value: []byte(l.Reason)},
		kafka.Header{Key: HeaderStage, Value: []byte(l.Stage)},
		kafka.Header{Key: HeaderError, Value: []byte(errText)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(l.Source.Topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(l.Source.Partition), 10)},
		kafka.Header{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, l.Source.Offset, 10)},
		kafka.Header{Key: HeaderSourceTimestamp, Value: []byte(l.Source.Time.UTC().Format(time.RFC3339Nano))},
		kafka.Header{Key: HeaderDeadLetteredAt, Value: []byte(now)},
		kafka.Header{Key: HeaderPayloadEncoding, Value: []byte(PayloadVaultTransit)},
	)
	if l.TenantID != "" {
		h = append(h, kafka.Header{Key: HeaderPayloadKey, Value: []byte(PayloadKeyTenant)}, kafka.Header{Key: HeaderTenantID, Value: []byte(l.TenantID)})
	} else {
		h = append(h, kafka.Header{Key: HeaderPayloadKey, Value: []byte(PayloadKeyPlatform)})
	}
	if sourceKey != "" {
		h = append(h, kafka.Header{Key: HeaderSourceKey, Value: []byte(sourceKey)})
	}
	return append(h, l.Source.Headers...)
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error {
	if err := p.writer.Close(); err != nil {
		return fmt.Errorf("close dead-letter publisher: %w", err)
	}
	return nil
}
