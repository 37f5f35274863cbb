package kafkaclient

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// WriterBatchSize is the most messages a SyncWriter sends to one partition in
// one request.
const WriterBatchSize = 1000

// WriterConfig configures a SyncWriter.
type WriterConfig struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// Transport carries the client id, TLS and SASL (Clients.Transport).
	// Default kafka-go's default transport.
	Transport kafka.RoundTripper
	// Topic is the topic every message goes to.
	Topic string
	// MaxAttempts bounds the tries of one WriteMessages (kafka-go's Writer
	// retries the messages a broker did not take). 0 is kafka-go's default,
	// 10; a stage whose caller retries the whole batch sets 1.
	MaxAttempts int
}

// SyncWriter returns the writer of the worker's own durable topics (the
// dead letters, the courier outbox, the parked courier jobs): keyed, so that
// one order's messages share a partition and keep their order; acknowledged
// by every in-sync replica, since once the source's offset is committed the
// message exists nowhere else; and synchronous, so WriteMessages returns once
// all are acknowledged.
func SyncWriter(cfg WriterConfig) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Transport:    cfg.Transport,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		// Synchronous: flush at once rather than wait for a full batch. A
		// call's messages go to each partition in requests of at most
		// BatchSize messages or BatchBytes (kafka-go's default, 1 MiB, just
		// under the broker's default message.max.bytes). kafka-go allocates
		// BatchSize messages (about 150 bytes each) for every partition of
		// every call, however few it writes: 100,000 here once cost 15 MB
		// zeroed per partition per batch, the worker's largest CPU cost. A
		// thousand of the worker's messages come near BatchBytes anyway.
		BatchTimeout: time.Millisecond,
		BatchSize:    WriterBatchSize,
		MaxAttempts:  cfg.MaxAttempts,
	}
}
