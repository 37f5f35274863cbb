package dispatch

import (
	"context"
	"time"

	"github.com/orderflow/orderflow/connectors/courier"
	"github.com/orderflow/orderflow/worker/stream"
)

// Work is one kind of connector work: how an outbox's jobs are read,
// routed, made ready and sent. The dispatcher does the rest, whatever the
// work: batches, per-order rounds, token buckets, retries with backoff and
// Retry-After, parking, commits. The couriers' work is Couriers; the
// accounting postings' is connectors/accounting/dispatchwork.
type Work interface {
	// Read decodes a message into a job with its tenant, connector ("" when
	// no connector carries it: parked as no_connector), kind (a bounded
	// metric label), order key and idempotency key. An error parks the
	// message as malformed.
	Read(m stream.Message) (*Job, error)
	// Rate is the token bucket of each tenant at a connector; ok is false
	// for a connector the work does not know.
	Rate(connector string) (perSecond float64, burst int, ok bool)
	// Prepare readies one tenant's pending jobs to send (decrypting what
	// they carry, in one call), setting each one's Ready, or refusing
	// (Refuse) or discarding (Discard) it. Its error (Vault unreachable) is
	// retried with the batch.
	Prepare(ctx context.Context, tenant string, jobs []*Job) error
	// Send sends one tenant's ready jobs to a connector and returns one
	// result per job, at the same index. Its error means no result can be
	// trusted; one matching courier.ErrCredentialsRefused stops the
	// dispatcher. A work that must record what a provider confirmed (the
	// accounting ledger) records it before it returns.
	Send(ctx context.Context, connector string, jobs []*Job) ([]courier.Result, error)
}

// Withdrawer is a Work whose ready jobs can be withdrawn before they are
// sent: a courier job whose buyer has since asked for erasure. The
// dispatcher asks just before each attempt and discards a withdrawn job.
type Withdrawer interface {
	Withdrawn(j *Job) bool
}

// Job is one message of an outbox, as the dispatcher carries it.
type Job struct {
	// Tenant, Connector, Kind, OrderKey and IdempotencyKey are Read's.
	// Jobs of one OrderKey (default: the message key) are sent one at a
	// time, in order.
	Tenant, Connector, Kind, OrderKey, IdempotencyKey string
	// Value is the work's decoded job; Ready what Prepare made of it.
	Value, Ready any

	msg      stream.Message
	status   status
	prepared bool
	attempts int
	// paced counts the attempts answered with a Retry-After: not counted
	// against MaxAttempts.
	paced     int
	notBefore time.Time
	lastErr   error
	reason    string
	err       error
	park      *Job // itself, once it is to be parked
	written   bool
}

// Message is the job's message.
func (j *Job) Message() stream.Message { return j.msg }

// Refuse parks the job for reason: the job as it was (still encrypted),
// with the reason and err (which must hold no personal data).
func (j *Job) Refuse(reason string, err error) {
	j.status, j.reason, j.err, j.park = parked, reason, err, j
}

// Discard drops the job: nothing of it may leave the platform any more
// (its tenant was offboarded, its buyer asked for erasure).
func (j *Job) Discard() { j.status = discarded }
