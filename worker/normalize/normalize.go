// Package normalize turns a raw channel message (the envelope of DESIGN.md around an
// Amazon SP-API or eBay Sell Fulfillment order) into a canonical order.Order, or a
// *Error that says why it cannot, for the dead-letter topic.
//
// It is pure: no Kafka, ClickHouse, Vault or net/http (a test on its imports keeps it
// so). Errors never quote personal data: they name the field and the rule broken.
//
// A message is read token by token with jsontext, encoding/json/v2's tokenizer
// (jsonReader), in one pass when the channel comes before the payload: the channel's
// decoder reads the payload in place and keeps only the fields the canonical order
// needs, whose strings cost one allocation together. Normalize is safe for concurrent
// use; its readers and decoders are pooled.
package normalize

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/orderflow/orderflow/worker/order"
)

// Reason classifies why a message could not be normalised. It is the DLQ's `reason`
// header and a metric label, so the set is small and fixed.
type Reason string

const (
	// ReasonMalformedJSON: the message is not valid JSON.
	ReasonMalformedJSON Reason = "malformed_json"
	// ReasonBadEnvelope: the envelope lacks tenant, channel, received_at or payload.
	ReasonBadEnvelope Reason = "bad_envelope"
	// ReasonUnknownChannel: the envelope names a channel this worker does not read.
	ReasonUnknownChannel Reason = "unknown_channel"
	// ReasonSchemaMismatch: a value has the wrong JSON type for the channel's schema.
	ReasonSchemaMismatch Reason = "schema_mismatch"
	// ReasonMissingField: a field the channel's schema requires is absent or empty.
	ReasonMissingField Reason = "missing_field"
	// ReasonBadAmount: a money amount or currency cannot be read exactly.
	ReasonBadAmount Reason = "bad_amount"
	// ReasonInvalidValue: a value is outside what the channel allows (unknown
	// status, negative quantity, unparsable timestamp).
	ReasonInvalidValue Reason = "invalid_value"
)

// Reasons lists every Reason.
var Reasons = []Reason{
	ReasonMalformedJSON, ReasonBadEnvelope, ReasonUnknownChannel, ReasonSchemaMismatch,
	ReasonMissingField, ReasonBadAmount, ReasonInvalidValue,
}

// Error is a normalisation failure. It names the reason, the field path and
// the rule the value broke, and at most the value's shape (its length and
// classes of characters): never the value itself. A message can carry anything
// in any field (a card number typed into OrderStatus, an email into an amount),
// and this text goes into DLQ headers and log lines, which are not encrypted.
type Error struct {
	Reason Reason
	// Field is the JSON path of the offending field in the message, such as
	// "payload.items[1].ItemPrice.Amount"; empty when the whole message is at fault.
	// Paths are built from the schema's member names and array indices only.
	Field string
	// Rule says what is wrong in fixed words ("is not an Amazon order status"). It
	// never holds text from the message: a test reads every place that makes an
	// Error and refuses a rule that is not a constant.
	Rule string
	// Detail says what may be said of the value without revealing it: its shape
	// (shapeOf: length and classes of characters) or where the JSON breaks (a
	// byte offset); empty when the rule says enough.
	Detail string
	// TenantID is the envelope's tenant_id when the envelope could be read and
	// the id is valid, whatever else is wrong; "" otherwise. A seller's id, not
	// personal data: the dead letter is encrypted under that tenant's key, so
	// that its offboarding shreds it. Never part of the message.
	TenantID string
	// Err is a sentinel the failure also matches (errors.Is), such as
	// order.ErrCurrencyMismatch; its text is not part of Error().
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Reason))
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Rule)
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteByte(')')
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// SafeMessage is Error(): every part of it is safe to show in the clear. The
// dead-letter publisher shows only such errors in its unencrypted error header
// (deadletter.SafeError).
func (e *Error) SafeMessage() string { return e.Error() }

// TenantOf returns the valid tenant id a normalisation error carries, or "".
func TenantOf(err error) string {
	var ne *Error
	if errors.As(err, &ne) {
		return ne.TenantID
	}
	return ""
}

// ReasonOf returns the Reason of a normalisation error, or "" for other errors.
func ReasonOf(err error) Reason {
	var ne *Error
	if errors.As(err, &ne) {
		return ne.Reason
	}
	return ""
}

// fail makes an Error; rule must be a constant (a test checks every call).
func fail(reason Reason, field, rule string) *Error {
	return &Error{Reason: reason, Field: field, Rule: rule}
}

// failValue is fail for a value that breaks the rule, described by its shape.
func failValue(reason Reason, field, rule, value string) *Error {
	return &Error{Reason: reason, Field: field, Rule: rule, Detail: shapeOf(value)}
}

// Config configures a Normalizer. The zero Config is the default.
type Config struct {
	// Now is the clock that event times are judged by. Default time.Now.
	Now func() time.Time
	// MaxClockSkew is how far past Now an event time (purchase, last update,
	// refund, received_at) may lie, for producers whose clocks run ahead; a
	// message with a later one is refused as invalid_value, since retention counts
	// from these times. Default 24h (pipeline.max_clock_skew); at most 30 days.
	MaxClockSkew time.Duration
	// Decoders reads each channel's payload, by the name envelopes give the
	// channel: the channel registry's (channel.Registry.Decoders). Required; an
	// envelope naming any other channel is refused as unknown_channel.
	Decoders map[order.Channel]Decoder
}

// DefaultMaxClockSkew is Config.MaxClockSkew's default.
const DefaultMaxClockSkew = 24 * time.Hour

// maxClockSkew bounds Config.MaxClockSkew: a skew of months would let a message
// dated months ahead keep its label that much longer than three weeks.
const maxClockSkew = 30 * 24 * time.Hour

// Normalizer normalises messages against a clock. It is safe for concurrent use.
type Normalizer struct {
	now      func() time.Time
	skew     time.Duration
	channels []channelDecoder // sorted by name
}

// New checks cfg and returns a Normalizer.
func New(cfg Config) (*Normalizer, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.MaxClockSkew < 0 || cfg.MaxClockSkew > maxClockSkew {
		return nil, fmt.Errorf("normalize: MaxClockSkew must be between 0 and %s, got %s", maxClockSkew, cfg.MaxClockSkew)
	}
	channels, err := newChannelDecoders(cfg.Decoders)
	if err != nil {
		return nil, err
	}
	return &Normalizer{now: cfg.Now, skew: cfg.MaxClockSkew, channels: channels}, nil
}

// channel returns the channel named name, or nil for one it does not read.
func (n *Normalizer) channel(name string) *channelDecoder {
	for i := range n.channels {
		if n.channels[i].name == name {
			return &n.channels[i]
		}
	}
	return nil
}

// Normalize decodes one message and returns its canonical order. Every failure is an
// *Error with a Reason. It is safe for concurrent use.
//
// The message is read once: when the channel comes before the payload, as producers
// write it, the channel's decoder reads the payload in place; otherwise the payload's
// bytes are kept (not copied) and read once the channel is known. Faults rank as
// they did when encoding/json read the envelope first: malformed JSON anywhere, then a
// member of the envelope of the wrong type, then the envelope's own checks, then the
// payload's.
func (n *Normalizer) Normalize(msg []byte) (_ order.Order, err error) {
	latest := n.now().UTC().Add(n.skew)
	r := envelopeReaders.Get().(*jsonReader)
	env := envelope{channels: n.channels}
	defer func() {
		if env.decoder != nil {
			env.decoder.release()
		}
		if r.release() {
			envelopeReaders.Put(r)
		}
		err = withTenant(err, env.tenantID)
	}()
	if err := env.read(r, msg); err != nil {
		return order.Order{}, err
	}
	if env.tenantID == "" {
		return order.Order{}, fail(ReasonBadEnvelope, "tenant_id", "missing")
	}
	switch bad := order.CheckTenantID(env.tenantID); {
	case errors.Is(bad, order.ErrTenantIDCardLike):
		return order.Order{}, fail(ReasonBadEnvelope, "tenant_id", "holds a run of digits that could be a card number")
	case bad != nil:
		return order.Order{}, failValue(ReasonBadEnvelope, "tenant_id", "must be 1-64 characters of a-z, 0-9, '-' and '_'", env.tenantID)
	}
	if env.receivedAt == "" {
		return order.Order{}, fail(ReasonBadEnvelope, "received_at", "missing")
	}
	receivedAt, err := eventTime("", env.receivedAt, latest)
	if err != nil {
		e := under(asError(err), "received_at")
		e.Reason = ReasonBadEnvelope
		return order.Order{}, e
	}
	if env.payload == nil && env.decoder == nil {
		return order.Order{}, fail(ReasonBadEnvelope, "payload", "missing")
	}
	var o order.Order
	ch := env.named
	switch {
	case env.decoder != nil: // read in place: the channel is one this package decodes
		if env.payloadErr != nil {
			return order.Order{}, env.payloadErr
		}
		o, err = env.decoder.mapOrder(env.s, latest)
	case env.channel == "":
		return order.Order{}, fail(ReasonBadEnvelope, "channel", "missing")
	default:
		if ch = n.channel(env.channel); ch == nil {
			return order.Order{}, failValue(ReasonUnknownChannel, "channel", "is not a channel this worker reads", env.channel)
		}
		o, err = ch.decode(env.payload, latest)
	}
	if err != nil {
		return order.Order{}, err
	}
	if err := checkDecoded(&o, latest); err != nil {
		return order.Order{}, err
	}
	if ch.own == nil {
		if err := checkForeignIdentifiers(&o); err != nil {
			return order.Order{}, err
		}
	}
	// The registered name, not the message's copy of it, and not whatever the
	// decoder said: a decoder cannot write another channel's rows.
	o.Channel = order.Channel(ch.name)
	o.SchemaVersion = order.SchemaVersion
	o.TenantID = env.tenantID
	o.ReceivedAt = receivedAt
	return o, nil
}

// withTenant sets the envelope's tenant id on a failure, when it is valid (a
// copy: an *Error may be shared).
func withTenant(err error, tenantID string) error {
	var ne *Error
	if err == nil || !order.ValidTenantID(tenantID) || !errors.As(err, &ne) || ne != err {
		return err
	}
	withID := *ne
	withID.TenantID = strings.Clone(tenantID) // not a view of the whole message
	return &withID
}

// envelopeReaders keeps readers, with their buffers, between messages.
var envelopeReaders = sync.Pool{New: func() any { return new(jsonReader) }}

// payloadDecoder reads one channel's payload where a jsonReader stands, and maps it to
// the canonical order.
type payloadDecoder interface {
	// read reads the payload, the next value of r, with r's path; r's first error
	// stops it. It returns a fault of the payload that is not the reader's.
	read(r *jsonReader) *Error
	// mapOrder checks and maps what read read; s is the reader's buffer as a string,
	// latest the latest instant an event of the order may have.
	mapOrder(s string, latest time.Time) (order.Order, error)
	// release returns the decoder to its pool.
	release()
}

var (
	_ payloadDecoder = (*amazonDecoder)(nil)
	_ payloadDecoder = (*ebayDecoder)(nil)
)

// envelope is the wrapper every input message has (DESIGN.md, external contract;
// schemas/envelope/v1.schema.json). An absent or null member is the zero value.
type envelope struct {
	tenantID, channel, receivedAt string
	// channels are the Normalizer's; named is the one the envelope names, when
	// known while reading (the channel came before the payload).
	channels []channelDecoder
	named    *channelDecoder

	// payload is the payload's JSON, unread: a slice of the message, not a copy. Set
	// when the payload came before the channel, or with a channel not ours.
	payload []byte
	// decoder has read the payload in place, when the channel came first; payloadErr
	// is the fault it found in it, if any.
	decoder    payloadDecoder
	payloadErr *Error
	s          string // every string read, the envelope's and the payload's; spans index it
}

// read reads msg's envelope in one pass, checking the whole message's syntax.
//
// As with encoding/json, which read the envelope before, a syntax error anywhere in
// the message outranks a member of the wrong type, and of those the first is
// reported; member names match exactly, as the envelope schema spells them.
func (env *envelope) read(r *jsonReader, msg []byte) *Error {
	r.reset(msg, "")
	var tenantID, channel, receivedAt span
	var mismatch *Error // the first member of the wrong type
	// str reads a string member, noting a value of another type and reading on: a
	// syntax error further on would outrank it.
	str := func(key string) span {
		switch k := r.peek(); k {
		case '"':
			return r.str(key)
		case '0', '{', '[', 't', 'f':
			if mismatch == nil {
				mismatch = fail(ReasonSchemaMismatch, key, kindMismatch(k, "string"))
			}
			r.skip()
		default:
			r.null() // or a syntax error, which the reader keeps
		}
		return span{}
	}
	switch k := r.peek(); k {
	case '{':
		r.beginObject("")
		for {
			key, ok := r.nextKey()
			if !ok {
				break
			}
			switch string(key) {
			case "tenant_id":
				tenantID = str("tenant_id")
			case "channel":
				channel = str("channel")
			case "received_at":
				receivedAt = str("received_at")
			case "payload":
				env.readPayload(r, channel)
			default:
				r.skip()
			}
		}
	case 'n', 0: // null: an envelope without members; or a syntax error
		r.token()
	default:
		mismatch = fail(ReasonSchemaMismatch, "", kindMismatch(k, "object"))
		r.skip()
	}
	r.end()
	switch {
	case r.err != nil:
		return r.err
	case mismatch != nil:
		return mismatch
	}
	// Every string of the message in one allocation; tenant_id and the payload's
	// strings stay in the order.
	env.s = string(r.buf)
	env.tenantID, env.channel, env.receivedAt = tenantID.in(env.s), channel.in(env.s), receivedAt.in(env.s)
	return nil
}

// readPayload reads the payload member's value: in place with its channel's decoder
// when the channel, read so far, is one this package decodes, and otherwise as
// bytes, for the channel's decoder to read once the envelope is read.
func (env *envelope) readPayload(r *jsonReader, channel span) {
	if r.null() || r.err != nil {
		return // absent, or unreadable
	}
	for i := range env.channels {
		if c := &env.channels[i]; c.own != nil && r.is(channel, c.name) {
			env.named, env.decoder = c, c.own.inPlace()
			break
		}
	}
	if env.decoder == nil {
		env.payload = r.raw()
		return
	}
	m := r.mark()
	r.push("payload")
	env.payloadErr = env.decoder.read(r)
	r.path = r.path[:0]
	if r.err != nil && r.err.Reason != ReasonMalformedJSON {
		// A fault in the payload's content stops its decoder; the rest of the
		// message is read all the same, for a syntax error further on outranks it.
		env.payloadErr, r.err = r.err, nil
		r.finish(m)
	}
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// parseTime reads an ISO 8601 / RFC 3339 timestamp, with or without fractional
// seconds, and returns it in UTC. Its error is time.Parse's, which quotes the
// text: callers report their own.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
