package config

import (
	"time"
)

// Dispatch configures the courier dispatcher (orderflow dispatch): a
// consumer group of its own on kafka.topics.courier, so that a slow courier
// never holds the order pipeline back, and its retry policy.
type Dispatch struct {
	// GroupID is the dispatcher's consumer group. Default "orderflow-dispatch".
	GroupID string `yaml:"group_id"`
	// BatchMaxMessages caps the jobs fetched, decrypted (one transit
	// batch_input per tenant) and delivered together. Default 500; 1 to 10000.
	BatchMaxMessages int `yaml:"batch_max_messages"`
	// BatchMaxWait caps how long a batch keeps filling after its first job.
	// Default 500ms.
	BatchMaxWait time.Duration `yaml:"batch_max_wait"`
	// MaxAttempts is how many times a job is delivered before it is parked
	// as out of retries (5xx, timeouts, refused connections). An answer
	// with a Retry-After (a 429, a 503 naming when to come back) is the
	// provider pacing its clients and is not counted: the job waits as long
	// as asked (each wait at most 15m). Default 8; 1 to 100.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryInitial and RetryMax are the backoff between attempts (doubling,
	// with jitter: worker/backoff); a provider's Retry-After is honoured when
	// it is longer. Defaults 500ms and 30s.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// ReplayGroupID is the consumer group of orderflow replay-parked: a
	// parked job is put back once. Default "orderflow-replay-parked".
	ReplayGroupID string `yaml:"replay_group_id"`
	// AccountingGroupID is the consumer group of the accounting outbox.
	// Default "orderflow-accounting".
	AccountingGroupID string `yaml:"accounting_group_id"`
	// AccountingInterval is how often the dispatcher's accounting pass
	// writes the postings due (closed periods, adjustments); 0 turns it off
	// (a CronJob runs it instead). Default 1h.
	AccountingInterval time.Duration `yaml:"accounting_interval"`
}

func defaultDispatch() Dispatch {
	return Dispatch{
		GroupID:            "orderflow-dispatch",
		BatchMaxMessages:   500,
		BatchMaxWait:       500 * time.Millisecond,
		MaxAttempts:        8,
		RetryInitial:       500 * time.Millisecond,
		RetryMax:           30 * time.Second,
		ReplayGroupID:      "orderflow-replay-parked",
		AccountingGroupID:  "orderflow-accounting",
		AccountingInterval: time.Hour,
	}
}

func (d Dispatch) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(nonEmpty("dispatch.group_id", d.GroupID))
	add(nonEmpty("dispatch.replay_group_id", d.ReplayGroupID))
	add(nonEmpty("dispatch.accounting_group_id", d.AccountingGroupID))
	if d.AccountingGroupID != "" && (d.AccountingGroupID == d.GroupID || d.AccountingGroupID == d.ReplayGroupID) {
		add(keyErr("dispatch.accounting_group_id", "must differ from dispatch.group_id and dispatch.replay_group_id: each outbox has a group of its own"))
	}
	if d.AccountingInterval != 0 {
		add(between("dispatch.accounting_interval", d.AccountingInterval, time.Minute, 24*time.Hour))
	}
	if d.GroupID != "" && d.GroupID == d.ReplayGroupID {
		add(keyErr("dispatch.replay_group_id", "must differ from dispatch.group_id: replaying parked jobs must not move the dispatcher's offsets"))
	}
	if d.BatchMaxMessages < 1 || d.BatchMaxMessages > 10_000 {
		add(keyErr("dispatch.batch_max_messages", "must be between 1 and 10000, got %d", d.BatchMaxMessages))
	}
	add(between("dispatch.batch_max_wait", d.BatchMaxWait, time.Millisecond, time.Minute))
	if d.MaxAttempts < 1 || d.MaxAttempts > 100 {
		add(keyErr("dispatch.max_attempts", "must be between 1 and 100, got %d", d.MaxAttempts))
	}
	add(between("dispatch.retry_initial", d.RetryInitial, time.Millisecond, time.Minute))
	add(between("dispatch.retry_max", d.RetryMax, d.RetryInitial, time.Hour))
	return errs
}
