// Package logkeys is the log schema of every orderflow command: the
// attribute names a log line may carry, what each means, and the components
// that write lines. A log pipeline (Loki, Elasticsearch, a grep at 3 a.m.)
// relies on these names, so they are stable: a key here keeps its meaning,
// and a new key is added here (with its meaning) before any code logs it.
//
// The conventions, which a test of the worker's real run checks line by line
// (worker/cmd/orderflow/logs_test.go) and a test of the source checks for
// every literal key (logkeys_test.go):
//
//   - The command builds one root logger (log.format json or text) and passes
//     it, untagged, to every package's constructor; each constructor tags it
//     once with its Component (log.With("component", ...)). A package never
//     tags a logger it hands on, so no line says component twice.
//   - The same thing has the same name everywhere: tenant (the seller's id),
//     channel, batch, outcome, topic, partition, offset, err (see Keys).
//   - No value of an order is ever logged: no name, address, email, phone,
//     free text, card number or amount. Channel order ids are not logged
//     either (DESIGN.md does not class them as non-personal); a message is
//     named by topic, partition and offset, an order in a batch by its place.
//   - Expected events (card numbers removed, free text dropped, messages
//     dead-lettered, labels skipped as expired) give at most one WARN line
//     per batch, a summary with counts; the metrics count them. A failing
//     server is not expected: the pipeline's retries of a batch are a WARN
//     on the first attempt and every tenth, debug between.
//
// It depends only on the standard library, so every package (worker and connectors) and every
// test can read it.
package logkeys

import "slices"

// Key is one attribute name and what it means.
type Key struct {
	Name    string
	Meaning string
}

// The stable keys that mean the same thing on every line.
const (
	// Component names the package (or command) that wrote the line: one of Components.
	Component = "component"
	// Tenant is the seller's tenant id ([a-z0-9_-]{1,64}; not personal data).
	Tenant = "tenant"
	// Channel is the order channel: amazon or ebay.
	Channel = "channel"
	// Batch is a batch's number: stream.Batch.ID, counted from 1 by the
	// consumer that fetched it. It is one number however many partitions the
	// batch spans (a first offset would need a topic and partition per
	// partition), and every component that handles the batch is told it
	// (the sinks' Write takes it), so the lines of one batch in one process
	// share it. It restarts with the process: to find a message again, use
	// topic, partition and offset.
	Batch = "batch"
	// Outcome is how an operation ended, from a fixed set (ok, failed, skipped, ...).
	Outcome = "outcome"
	// Topic, Partition and Offset name one Kafka message.
	Topic     = "topic"
	Partition = "partition"
	Offset    = "offset"
	// Err is an error's text, which never holds a value of an order.
	Err = "err"
)

// Keys is every attribute name orderflow logs, besides slog's own time,
// level and msg. Sorted by name.
var Keys = []Key{
	{"accounting", "the accounting outbox topic"},
	{"acknowledged", "how many acknowledged (messages, workers)"},
	{"action", "a retention action's kind"},
	{"actions", "a count of retention actions"},
	{"adjustments", "accounting adjustments posted in a pass"},
	{"as_of", "the instant retention was evaluated at"},
	{"attempt", "which attempt this was, from 1"},
	{"attempts", "how many attempts were made"},
	{"batch", "a batch's number (stream.Batch.ID), unique per consumer while the process runs"},
	{"brokers", "the Kafka brokers' addresses"},
	{"card_numbers", "card numbers removed from a batch"},
	{"channel", "the order channel: amazon or ebay"},
	{"component", "the package or command that wrote the line: one of Components"},
	{"connector", "a connector's name in the configuration"},
	{"count", "a count of what the message says"},
	{"courier", "the courier outbox topic"},
	{"dead_letters", "messages dead-lettered"},
	{"deleted", "rows deleted"},
	{"delivery", "a delivery's place in the connector's batch"},
	{"detail", "a library's own message (kafka-go), with no message content"},
	{"dispatchers", "dispatchers running"},
	{"documents", "documents encrypted"},
	{"dry_run", "whether nothing was deleted"},
	{"duration", "how long it took"},
	{"endpoint", "the URL registered with eBay for its notifications"},
	{"err", "an error's text; never a value of an order"},
	{"expected", "the expected version"},
	{"expires_in", "time until a lease expires"},
	{"failed", "how many failed"},
	{"field", "a field's path in the canonical order (never its value)"},
	{"group", "the Kafka consumer group"},
	{"hmac_values", "values tokenised"},
	{"holder", "a lease holder's worker id"},
	{"index", "an item's place in its batch (never an id from the order)"},
	{"jobs", "connector jobs"},
	{"kept", "how many were kept"},
	{"key", "a Vault key's name (a tenant id and a purpose)"},
	{"kid", "the id of eBay's key that signed a notification"},
	{"kind", "a job's, posting's or delivery's kind"},
	{"labels", "delivery labels written"},
	{"labels_expired", "delivery labels not written because they had expired"},
	{"lease", "a lease's Vault path"},
	{"lines", "order lines written"},
	{"listen", "the address a server listens on"},
	{"messages", "Kafka messages"},
	{"messages_per_s", "messages produced per second"},
	{"method", "the Vault auth method"},
	{"metrics", "the metrics server's address"},
	{"name", "a migration's name"},
	{"notification_id", "an eBay notification's id (eBay's, not personal data)"},
	{"now", "the generator's clock"},
	{"offset", "a Kafka message's offset"},
	{"op", "the connector operation called"},
	{"operation", "the Vault operation"},
	{"orders", "orders"},
	{"outcome", "how an operation ended, from a fixed set"},
	{"parked", "the parked-jobs topic"},
	{"partition", "a Kafka partition number"},
	{"partitions_dropped", "ClickHouse partitions dropped"},
	{"pending", "how many are still awaited"},
	{"posting", "a posting's place in the connector's batch"},
	{"postings", "accounting postings"},
	{"predicate", "a retention delete's SQL predicate (tenant ids and dates only)"},
	{"previous_holder", "the worker id of a lease's previous holder"},
	{"produced", "messages produced"},
	{"rate_per_s", "the generator's target rate"},
	{"reason", "why, from a fixed set (a dead-letter, park or retention reason)"},
	{"reasons", "the dead-letter reasons of a batch, each once, comma-separated"},
	{"remaining", "rows left"},
	{"renewable", "whether a Vault token is renewable"},
	{"replayed", "jobs put back"},
	{"request_id", "a buyer's erasure request's id (a UUID, no identifier of the buyer)"},
	{"retries", "retries a batch needed"},
	{"rows", "rows"},
	{"run_id", "a retention run's id"},
	{"seconds", "elapsed seconds"},
	{"seed", "the generator's seed"},
	{"shard", "a ClickHouse cluster's shard_num (cluster mode)"},
	{"stage", "the pipeline stage"},
	{"stale_after", "the offboarding list's stale limit"},
	{"status", "an HTTP status code"},
	{"still_due_written_before", "accounting postings still due, written in an earlier pass"},
	{"summaries", "accounting summaries posted in a pass"},
	{"table", "a ClickHouse table"},
	{"table_partition", "a ClickHouse partition id (not a Kafka partition)"},
	{"tenant", "the seller's tenant id"},
	{"tenants", "tenants (a count, or the tenant ids)"},
	{"timeout", "the time allowed"},
	{"topic", "a Kafka topic"},
	{"topics", "Kafka topics"},
	{"ttl", "a Vault token's time to live"},
	{"version", "a version (schema migration, lease entry)"},
	{"wait", "the delay before the next attempt"},
	{"waited", "how long it waited"},
	{"worker_id", "this worker's id in the offboarding tables"},
	{"workers", "workers"},
}

// Components are the values of the component key.
var Components = []string{
	"blocklist",             // worker/retention: the offboarded tenants' list
	"booking",               // connectors/accounting/booking
	"clickanddrop",          // connectors/courier/clickanddrop (and its HTTP calls)
	"consume",               // worker/consume
	"dispatch",              // connectors/dispatch
	"dispatcher",            // orderflow dispatch: the command's own lines
	"ebay-account-deletion", // worker/ebaydeletion: eBay's account-deletion endpoint
	"erasure",               // worker/erasure: erasure requests from Kafka
	"facts",                 // worker/facts
	"generate",              // orderflow generate and worker/generate/produce
	"kafka-lag",             // worker/kafkalag
	"kafka-reader",          // kafka-go's reader, through worker/consume
	"lease",                 // worker/lease
	"metrics",               // the metrics server (worker/telemetry)
	"migrate",               // worker/migrate
	"pipeline",              // worker/pipeline
	"protect",               // worker/protect
	"quickbooks",            // connectors/accounting/quickbooks (and its HTTP calls)
	"retention",             // worker/retention: purges and offboardings
	"transit",               // worker/transit: the Vault client
	"webhook",               // connectors/courier/webhook
	"worker",                // orderflow run: the command's own lines
	"xero",                  // connectors/accounting/xero (and its HTTP calls)
}

// Allowed reports whether name is a documented key or one of slog's own
// (time, level, msg).
func Allowed(name string) bool {
	switch name {
	case "time", "level", "msg":
		return true
	}
	return slices.ContainsFunc(Keys, func(k Key) bool { return k.Name == name })
}

// IsComponent reports whether name is one of Components.
func IsComponent(name string) bool { return slices.Contains(Components, name) }
