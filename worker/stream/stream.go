// Package stream is the pipeline's own view of what it reads: a batch of
// messages from the order topics, with an identity of its own. The consumer
// makes batches, the pipeline and the dead-letter publisher read them, and
// none of them need the Kafka client's types to agree on one.
package stream

import "time"

// Message is one message of an input topic, as the pipeline needs it. Key,
// Value and Headers may hold anything a producer put there, personal data
// included: never log or quote them.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	// Time is the message's Kafka timestamp (the producer's or the broker's);
	// zero when the record had none.
	Time time.Time
}

// Header is one header of a Message.
type Header struct {
	Key   string
	Value []byte
}

// Batch is a run of messages handed out together, each partition's in order.
//
// ID identifies the batch for as long as it is in flight: the consumer that
// made it knows it by its ID when it is committed, and a sink told the same
// ID twice knows it is a retry of the same messages, not new ones. IDs are
// unique per consumer (a counter from 1); 0 is no batch.
type Batch struct {
	ID       uint64
	Messages []Message
}
