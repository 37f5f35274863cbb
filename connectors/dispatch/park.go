package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/orderflow/orderflow/worker/kafkaclient"
	"github.com/orderflow/orderflow/worker/kafkafailure"
	"github.com/orderflow/orderflow/worker/stream"
)

// Reasons a job is parked: the reason header's values, and the reason label
// of orderflow_connector_parked_total. Bounded.
const (
	// ReasonRefused: the provider refused the job (a 4xx other than 429), or
	// the connector could not make a valid request of it.
	ReasonRefused = "refused"
	// ReasonRetriesExhausted: every attempt met a transient failure (5xx,
	// 429, timeouts, refused connections).
	ReasonRetriesExhausted = "retries_exhausted"
	// ReasonNoConnector: no delivery connector lists the job's tenant (nor
	// "*"): fix connectors.<name>.tenants, then replay.
	ReasonNoConnector = "no_connector"
	// ReasonMalformed: the message is not a courier job this version reads.
	ReasonMalformed = "malformed"
	// ReasonUndecryptable: Vault refused to decrypt the job's label (while
	// the tenant's key exists).
	ReasonUndecryptable = "undecryptable"
	// ReasonProjection: the job could not be projected through the
	// connector's allow-list.
	ReasonProjection = "projection"
)

// Headers of a parked job. The value is the job as it was on the outbox,
// still encrypted; the headers say why it is here and where it came from,
// and never quote a value of the order.
const (
	HeaderReason     = "orderflow-park-reason"
	HeaderError      = "orderflow-park-error"
	HeaderConnector  = "orderflow-park-connector"
	HeaderAttempts   = "orderflow-park-attempts"
	HeaderParkedAt   = "orderflow-parked-at"
	HeaderTenant     = "orderflow-tenant"
	HeaderFromTopic  = "orderflow-source-topic"
	HeaderFromPart   = "orderflow-source-partition"
	HeaderFromOffset = "orderflow-source-offset"
	// HeaderReplayedFrom marks a job replay-parked put back on the outbox:
	// "<parked topic>/<partition>/<offset>".
	HeaderReplayedFrom = "orderflow-replayed-from"
)

// maxErrorText bounds the error kept with a parked job: the connectors'
// errors name fields and codes, and a long one is cut rather than let grow.
const maxErrorText = 512

// parkMessage is the parked topic's record of j.
func parkMessage(j *Job, now time.Time) kafka.Message {
	text := ""
	if j.err != nil {
		text = j.err.Error()
		if len(text) > maxErrorText {
			text = text[:maxErrorText] + "…"
		}
	}
	connector := j.Connector
	if connector == "" {
		connector = noConnector
	}
	h := []kafka.Header{
		{Key: HeaderReason, Value: []byte(j.reason)},
		{Key: HeaderError, Value: []byte(text)},
		{Key: HeaderConnector, Value: []byte(connector)},
		{Key: HeaderAttempts, Value: []byte(strconv.Itoa(j.attempts))},
		{Key: HeaderParkedAt, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderTenant, Value: []byte(j.Tenant)},
		{Key: HeaderFromTopic, Value: []byte(j.msg.Topic)},
		{Key: HeaderFromPart, Value: []byte(strconv.Itoa(j.msg.Partition))},
		{Key: HeaderFromOffset, Value: []byte(strconv.FormatInt(j.msg.Offset, 10))},
	}
	return kafka.Message{Key: j.msg.Key, Value: j.msg.Value, Headers: h}
}

// newWriter is a synchronous writer for the dispatcher's own topics (the
// parked jobs, and the outbox for a replay): by key, so one order's jobs
// stay in order; acknowledged by every in-sync replica, since a parked job
// exists nowhere else once the outbox's offset is committed.
func newWriter(brokers []string, transport kafka.RoundTripper, topic string) *kafka.Writer {
	return kafkaclient.SyncWriter(kafkaclient.WriterConfig{
		Brokers: brokers, Transport: transport, Topic: topic,
		MaxAttempts: 1, // the dispatcher retries the whole batch
	})
}

// write writes msgs and returns once all are acknowledged.
func write(ctx context.Context, w *kafka.Writer, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		var tooLarge kafka.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			// Cannot be: a parked job is the job plus small headers.
			return fmt.Errorf("write %d jobs to %s: a job is larger than a produce request may be: %w", len(msgs), w.Topic, err)
		}
		return kafkafailure.Classify(fmt.Errorf("write %d jobs to %s: %w", len(msgs), w.Topic, err))
	}
	return nil
}

// header returns the value of the header key of m, "" when absent.
func header(m stream.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
