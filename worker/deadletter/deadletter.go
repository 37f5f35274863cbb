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
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/stream"
)

// Header names on a dead-lettered message. Only these are stored in the clear:
// the original message's key and headers are sealed with its value
// (HeaderSourceKey, HeaderSourceHeaders), since a producer can put anything in
// them, and a header of its could otherwise pose as one of these.
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
	// producer put there; the letter's own Kafka key is the tenant id.
	HeaderSourceKey = "source_key"
	// HeaderSourceHeaders is the original message's headers, JSON-encoded
	// ([{"key": ..., "value": <base64>}]), as Vault transit ciphertext under the
	// same key as the value.
	HeaderSourceHeaders = "source_headers"
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
	HeaderSourceKey: true, HeaderSourceHeaders: true,
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
	// Source is the message as the pipeline read it.
	Source stream.Message
	// Reason is a short fixed code ("malformed_json", "bad_amount", ...).
	Reason string
	// Stage is where it failed ("normalize", "route", "protect", "write").
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
	// MaxAttempts bounds the tries of one Publish (kafka-go's Writer retries
	// the messages a broker did not take). Default 10, kafka-go's. The worker
	// sets 1: the pipeline is the one retrier of its stages.
	MaxAttempts int
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
	if cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("deadletter config MaxAttempts: must be at least 1 (or 0 for the default), got %d", cfg.MaxAttempts)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Publisher{
		// Letters of one order stay together and in order.
		writer: kafkaclient.SyncWriter(kafkaclient.WriterConfig{
			Brokers: cfg.Brokers, Transport: cfg.Transport, Topic: cfg.Topic, MaxAttempts: cfg.MaxAttempts,
		}),
		encrypter: cfg.Encrypter,
		now:       cfg.Now,
	}, nil
}

// Publish writes every letter and returns when all are acknowledged. Each
// letter's value, key and headers are encrypted under its tenant's key, or the
// platform key when the letter has no tenant: one Vault call per key. A
// failed Publish is to be repeated in full (a letter may then be stored twice;
// each says where it came from). Kafka's refusals of the worker are classified
// as permanent for it (kafkafailure); Vault's errors carry their own class.
func (p *Publisher) Publish(ctx context.Context, letters []Letter) error {
	if len(letters) == 0 {
		return nil
	}
	sealed := make([]sealedLetter, len(letters))
	for tenant, idx := range byTenant(letters) {
		var parts partList
		for _, i := range idx {
			src := letters[i].Source
			parts.add(src.Value, &sealed[i].value)
			if len(src.Key) > 0 {
				parts.add(src.Key, &sealed[i].key)
			}
			if len(src.Headers) > 0 {
				blob, err := encodeHeaders(src.Headers)
				if err != nil {
					return fmt.Errorf("dead letter of %s/%d/%d: %w", src.Topic, src.Partition, src.Offset, err)
				}
				parts.add(blob, &sealed[i].headers)
			}
		}
		var out []string
		var err error
		if tenant == "" {
			out, err = p.encrypter.EncryptPlatform(ctx, parts.plaintexts)
		} else {
			out, err = p.encrypter.Encrypt(ctx, tenant, parts.plaintexts)
		}
		if err != nil {
			return fmt.Errorf("encrypt %d dead letters: %w", len(idx), err)
		}
		if err := parts.fill(out); err != nil {
			return fmt.Errorf("encrypt %d dead letters: %w", len(idx), err)
		}
	}
	now := p.now().UTC().Format(time.RFC3339Nano)
	msgs := make([]kafka.Message, len(letters))
	for i, l := range letters {
		msgs[i] = kafka.Message{Key: letterKey(l), Value: []byte(sealed[i].value), Headers: headers(l, now, sealed[i])}
	}
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		return kafkafailure.Classify(fmt.Errorf("publish %d dead letters to %s: %w", len(msgs), p.writer.Topic, err))
	}
	return nil
}

// sealedLetter is a letter's ciphertexts: its value's, and its key's and
// headers' when it had any ("" otherwise).
type sealedLetter struct{ value, key, headers string }

// partList gathers the plaintexts of one Vault call and where each one's
// ciphertext goes.
type partList struct {
	plaintexts [][]byte
	dests      []*string
}

func (p *partList) add(plaintext []byte, dest *string) {
	p.plaintexts = append(p.plaintexts, plaintext)
	p.dests = append(p.dests, dest)
}

// fill hands out the call's results, in order.
func (p *partList) fill(out []string) error {
	if len(out) != len(p.dests) {
		return fmt.Errorf("%d results for %d plaintexts", len(out), len(p.dests))
	}
	for i, d := range p.dests {
		*d = out[i]
	}
	return nil
}

// letterKey is a dead letter's Kafka key: its tenant id, so that one tenant's
// letters (and so one order's) stay on one partition and in order; none when
// the tenant is not known. The original key stays sealed (HeaderSourceKey):
// even a digest of it would give away a card number typed into an order id to
// anyone who tries the few billion numbers of an issuer.
func letterKey(l Letter) []byte {
	if l.TenantID == "" {
		return nil
	}
	return []byte(l.TenantID)
}

// sealedHeader is one original header as HeaderSourceHeaders holds it.
type sealedHeader struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

func encodeHeaders(hs []stream.Header) ([]byte, error) {
	out := make([]sealedHeader, len(hs))
	for i, h := range hs {
		out[i] = sealedHeader{Key: h.Key, Value: h.Value}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding its headers: %w", err)
	}
	return b, nil
}

func decodeHeaders(b []byte) ([]kafka.Header, error) {
	var in []sealedHeader
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("decoding the sealed headers: %w", err)
	}
	out := make([]kafka.Header, len(in))
	for i, h := range in {
		out[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return out, nil
}

// byTenant groups the letters' indices by TenantID ("" for the platform key).
func byTenant(letters []Letter) map[string][]int {
	out := map[string][]int{}
	for i, l := range letters {
		out[l.TenantID] = append(out[l.TenantID], i)
	}
	return out
}

// headers are a letter's headers, all of them ours: the original message's key
// and headers are in them only as ciphertext.
func headers(l Letter, now string, sealed sealedLetter) []kafka.Header {
	errText := headerText(l.Err)
	h := make([]kafka.Header, 0, len(ownHeaders))
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
	if sealed.key != "" {
		h = append(h, kafka.Header{Key: HeaderSourceKey, Value: []byte(sealed.key)})
	}
	if sealed.headers != "" {
		h = append(h, kafka.Header{Key: HeaderSourceHeaders, Value: []byte(sealed.headers)})
	}
	return h
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error {
	if err := p.writer.Close(); err != nil {
		return fmt.Errorf("close dead-letter publisher: %w", err)
	}
	return nil
}
