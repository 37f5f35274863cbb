package main

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// board is one dashboard and the file it is written to.
type board struct {
	file    string
	builder *dashboard.DashboardBuilder
}

func boards() []board {
	return []board{
		{"pipeline.json", pipeline()},
		{"retention.json", retention()},
		{"connectors.json", connectors()},
	}
}

// quantiles are the end-to-end and batch latency quantiles, as p50, p95 and
// p99 of a histogram (summed over every worker, by le and the labels given).
func quantiles(histogram, by, legendBy string) []string {
	// the three expressions and legends, in pairs
	out := make([]string, 0, 6)
	for _, q := range []string{"0.5", "0.95", "0.99"} {
		out = append(out,
			"histogram_quantile("+q+", sum by ("+by+"le) (rate("+histogram+"_bucket[$__rate_interval])))",
			"p"+q[2:]+legendBy)
	}
	return out
}

func pipeline() *dashboard.DashboardBuilder {
	e2e := quantiles("orderflow_end_to_end_seconds", "", "")
	batch := quantiles("orderflow_batch_duration_seconds", "", "")
	return newDashboard("orderflow-pipeline", "orderflow: pipeline",
		"Orders from the channel topics to ClickHouse: throughput, lag, latency, dead letters, Vault and ClickHouse. Alerts: dashboards/alerts/orderflow.yaml; what to do: dashboards/RUNBOOK.md.").
		WithVariable(labelVariable("channel", "Channel", "orderflow_orders_normalized_total")).
		WithRow(dashboard.NewRowBuilder("Health")).
		WithPanel(single("Workers up",
			"Worker processes Prometheus scrapes successfully. Fewer than you run: see the OrderflowWorkerDown runbook (pod crash-looping, config refused at start, port not reachable).",
			unitCount, query(`sum(up{job="orderflow"})`, "up")).Thresholds(atLeastOne())).
		WithPanel(single("Workers ready",
			"Processes whose /readyz answers ready (consuming and committing). Up but not ready for minutes: it cannot reach Kafka, ClickHouse or Vault, or its schema is behind; read its logs (component=pipeline).",
			unitCount, query(`sum(orderflow_ready{job="orderflow"})`, "ready")).Thresholds(atLeastOne())).
		WithPanel(single("Since the last commit",
			"Time since any worker last committed a batch. Grows while orders are waiting: the pipeline is stuck or every partition is idle (check the lag panel: idle partitions have no lag).",
			unitSeconds, query(`time() - max(orderflow_last_commit_timestamp_seconds)`, "since last commit"), amber(120), red(900))).
		WithPanel(single("Build",
			"The version each process runs (orderflow_build_info). Two versions for long means a rollout stopped half way.",
			unitCount, query(`count by (version, commit) (orderflow_build_info)`, "{{version}} {{commit}}"))).
		WithRow(dashboard.NewRowBuilder("Throughput and lag")).
		WithPanel(graph("Orders committed per second, by channel",
			"Order snapshots normalised, written to ClickHouse and committed. A channel dropping to zero while its lag grows is a stuck worker; while its lag stays at zero, the channel sends nothing (check the channel connector upstream).",
			unitPerSecond,
			query(`sum by (channel) (rate(orderflow_orders_normalized_total{channel=~"$channel"}[$__rate_interval]))`, "{{channel}}"),
			query(`sum by (channel) (rate(orderflow_orders_protected_total{channel=~"$channel"}[$__rate_interval]))`, "{{channel}} protected"))).
		WithPanel(withLimits(graph("Consumer lag, by group and topic",
			"Messages not yet committed (log-end offset minus committed offset, summed over partitions), for the worker and the dispatcher groups. Growing for 15 minutes pages (OrderflowConsumerLagGrowing): add workers up to the partition count, or see what slows each batch below.",
			unitCount,
			query(`sum by (group, topic) (orderflow_kafka_consumer_lag_messages)`, "{{group}} {{topic}}")), amber(10000))).
		WithPanel(withLimits(graph("Oldest unconsumed message age, by group and topic",
			"How long the oldest message a group has not committed has waited. Above 15 minutes pages (OrderflowOrdersWaiting): orders are late to analytics, couriers and the books.",
			unitSeconds,
			query(`max by (group, topic) (orderflow_kafka_oldest_unconsumed_message_age_seconds)`, "{{group}} {{topic}}")), amber(300), red(900))).
		WithPanel(graph("Messages per batch and batches per second",
			"Batches fill up to pipeline.batch_max_messages when there is a backlog; small batches at a high rate cost more Vault and ClickHouse calls per order.",
			unitCount,
			query(`sum(rate(orderflow_batch_messages_sum[$__rate_interval])) / sum(rate(orderflow_batch_messages_count[$__rate_interval]))`, "messages per batch"),
			query(`sum(rate(orderflow_batches_committed_total[$__rate_interval]))`, "batches per second"))).
		WithRow(dashboard.NewRowBuilder("Latency")).
		WithPanel(withLimits(graph("End-to-end latency (channel message to committed)",
			"From a message's Kafka timestamp to the commit of its batch, per message. High while lag is high is the backlog draining; high with no lag is a slow batch (see batch duration, Vault and ClickHouse below).",
			unitSeconds,
			query(e2e[0], e2e[1]), query(e2e[2], e2e[3]), query(e2e[4], e2e[5])), amber(60), red(900))).
		WithPanel(graph("Batch duration (fetch to commit), and p99 by stage",
			"One batch's whole path, and the slowest 1% of each stage: normalize (decoding, card scans), protect (Vault), dead_letter, write (ClickHouse and the outbox, together), commit. On a live stream a message waits about two batch durations, so the stage that grows is the one to look at.",
			unitSeconds,
			query(batch[0], batch[1]), query(batch[2], batch[3]), query(batch[4], batch[5]),
			query(`histogram_quantile(0.99, sum by (stage, le) (rate(orderflow_pipeline_stage_seconds_bucket[$__rate_interval])))`, "p99 {{stage}}"))).
		WithRow(dashboard.NewRowBuilder("Dead letters and retries")).
		WithPanel(withLimits(graph("Dead letters per second, by stage and reason",
			"Messages the worker could not turn into an order, published (encrypted) to the dead-letter topic. A new reason, or a rate above 0.1/s (OrderflowDeadLettersRising), usually means a channel changed its payload: read the runbook, then replay with orderflow replay once fixed.",
			unitPerSecond,
			query(`sum by (stage, reason) (rate(orderflow_dead_letters_total[$__rate_interval]))`, "{{stage}}: {{reason}}")), red(0.1))).
		WithPanel(graph("Retries per second, by stage",
			"Failed attempts the pipeline retried (the batch is not committed until they succeed). Steady retries on write mean ClickHouse or the outbox refuses writes; on protect, Vault; see the ClickHouse row.",
			unitPerSecond,
			query(`sum by (stage) (rate(orderflow_pipeline_retries_total[$__rate_interval]))`, "{{stage}}"))).
		WithRow(dashboard.NewRowBuilder("Vault")).
		WithPanel(withLimits(graph("Vault requests failing",
			"Share of Vault transit requests that did not succeed. Above 5% pages (OrderflowVaultErrors): Vault sealed, token expired or policy changed. The worker retries and commits nothing meanwhile, so no order is lost, but none is written either.",
			unitRatio,
			query(`(sum(rate(orderflow_vault_requests_total{outcome=~"unavailable|denied|error|item_errors"}[$__rate_interval])) or sum(rate(orderflow_vault_requests_total[$__rate_interval])) * 0) / sum(rate(orderflow_vault_requests_total[$__rate_interval]))`, "failing")), red(0.05))).
		WithPanel(withLimits(graph("Vault p99 latency, by operation",
			"The slowest 1% of Vault requests per operation. Above 1 s for 15 minutes warns (OrderflowVaultSlow); batches wait on Vault, so this adds to end-to-end latency.",
			unitSeconds,
			query(`histogram_quantile(0.99, sum by (operation, le) (rate(orderflow_vault_request_duration_seconds_bucket[$__rate_interval])))`, "{{operation}}")), red(1))).
		WithPanel(graph("Vault batching: items per request, token cache hits",
			"How many values each transit request carries (batch_input) and how often a buyer's token came from the cache. Falling items per request means more round trips per order.",
			unitCount,
			query(`sum(rate(orderflow_vault_batch_items_total[$__rate_interval])) / sum(rate(orderflow_vault_requests_total{operation=~"encrypt|decrypt|hmac"}[$__rate_interval]))`, "items per request"),
			query(`sum(rate(orderflow_token_cache_requests_total{result="hit"}[$__rate_interval])) / sum(rate(orderflow_token_cache_requests_total[$__rate_interval]))`, "token cache hit ratio"))).
		WithRow(dashboard.NewRowBuilder("ClickHouse")).
		WithPanel(graph("Rows inserted per second, by table",
			"Rows the writer inserted in block inserts, per table. delivery_labels is lower than order_facts: labels already past their retention are not written.",
			unitPerSecond,
			query(`sum by (table) (rate(orderflow_clickhouse_insert_rows_total[$__rate_interval]))`, "{{table}}"))).
		WithPanel(withLimits(graph("Insert failures and p99 insert duration, by table",
			"Failed inserts by reason (retried; nothing is committed until they succeed) and the slowest 1% of inserts. Any failure for 10 minutes warns (OrderflowClickHouseInsertFailures): too many parts, the server unreachable, or a table altered by hand; a full disk pages at once (OrderflowClickHouseDiskFull).",
			unitCount,
			query(`sum by (table, reason) (increase(orderflow_clickhouse_insert_errors_total[$__rate_interval]))`, "{{table}} failures ({{reason}})"),
			query(`histogram_quantile(0.99, sum by (table, le) (rate(orderflow_clickhouse_insert_duration_seconds_bucket[$__rate_interval])))`, "{{table}} p99 seconds")), red(1))).
		WithRow(dashboard.NewRowBuilder("Process")).
		WithPanel(graph("Memory and goroutines",
			"Resident memory of each orderflow process, and its goroutines. A steady climb across hours is a leak worth a profile (metrics.pprof).",
			unitBytes,
			query(`process_resident_memory_bytes{job=~"orderflow.*"}`, "{{instance}} resident"),
			query(`go_goroutines{job=~"orderflow.*"}`, "{{instance}} goroutines")))
}

func retention() *dashboard.DashboardBuilder {
	return newDashboard("orderflow-retention", "orderflow: data protection and retention",
		"The platform's retention promises (labels 3 weeks, financial records per jurisdiction, analytics), the purges that keep them, offboardings, and personal data removed before anything is stored. Alerts: dashboards/alerts/orderflow.yaml; what to do: dashboards/RUNBOOK.md.").
		WithVariable(labelVariable("channel", "Channel", "orderflow_orders_normalized_total")).
		WithRow(dashboard.NewRowBuilder("Retention promises")).
		WithPanel(withLimits(graph("Oldest row against its limit, by class",
			"The oldest row of each retention class as a share of the class's limit (100% = the limit). Above 100% means rows are kept past the promise; more than two hours past it pages (OrderflowRetentionBreached). Run orderflow purge --dry-run to see what is due.",
			unitRatio,
			query(`max by (class) (orderflow_retention_oldest_row_age_seconds) / on (class) max by (class) (orderflow_retention_limit_seconds)`, "{{class}}")), amber(0.95), red(1))).
		WithPanel(withLimits(graph("Oldest financial record against its limit, by jurisdiction",
			"Financial records are kept to the end of their financial year plus the jurisdiction's period (GB 6 years, DE 10 years from the calendar year's end). Above 100%: the financial purge has not removed what is due (OrderflowFinancialRetentionBreached).",
			unitRatio,
			query(`max by (jurisdiction) (orderflow_retention_financial_oldest_row_age_seconds) / on (jurisdiction) max by (jurisdiction) (orderflow_retention_financial_limit_seconds)`, "{{jurisdiction}}")), amber(0.95), red(1))).
		WithPanel(graph("Oldest row age and limit, by class",
			"The same in time: the oldest row's age beside the class's limit. A sawtooth under the limit is a healthy purge.",
			unitSeconds,
			query(`max by (class) (orderflow_retention_oldest_row_age_seconds)`, "{{class}} oldest"),
			query(`max by (class) (orderflow_retention_limit_seconds)`, "{{class}} limit"))).
		WithPanel(withLimits(graph("Rows dated in the future, by class",
			"Rows whose retention clock starts after now: a channel's clock, or a backfill with wrong dates. They are not purged until their date; investigate any.",
			unitCount,
			query(`max by (class) (orderflow_retention_future_dated_rows)`, "{{class}}")), red(1))).
		WithRow(dashboard.NewRowBuilder("Purges")).
		WithPanel(single("Since the last successful purge",
			"Across the worker's scheduled purge and the purge CronJob. Past 26 hours pages (OrderflowNoSuccessfulPurge); rows due then stay past their promise.",
			unitSeconds, query(`time() - max(orderflow_purge_last_success_timestamp_seconds)`, "since last success"), amber(6*3600), red(26*3600))).
		WithPanel(graph("Purge runs, by outcome",
			"Scheduled purge passes of the workers: ok, failed, dry_run, or skipped because another process held the lease (one pass at a time). Failures repeat until fixed: read the worker's logs (component=retention).",
			unitCount,
			query(`sum by (outcome) (increase(orderflow_purge_runs_total[$__rate_interval]))`, "{{outcome}}"),
			query(`max by (job, database, outcome) (orderflow_purge_last_run_outcome)`, "{{job}} last run {{outcome}}"))).
		WithPanel(graph("Rows purged, by table and reason",
			"Rows removed (ALTER DELETE) and partitions dropped. Labels go every day after 3 weeks; financial records at their year's end; offboarding removes a seller's everything.",
			unitCount,
			query(`sum by (table, reason) (increase(orderflow_purge_rows_total[$__rate_interval]))`, "{{table}} {{reason}}"),
			query(`sum by (table) (increase(orderflow_purge_partitions_dropped_total[$__rate_interval]))`, "{{table}} partitions dropped"))).
		WithPanel(graph("Purge duration",
			"How long each purge pass takes. Passes slowing as tables grow: check system.mutations for stuck mutations.",
			unitSeconds,
			query(`histogram_quantile(0.99, sum by (le) (rate(orderflow_purge_duration_seconds_bucket[$__rate_interval])))`, "p99"))).
		WithRow(dashboard.NewRowBuilder("Sellers leaving")).
		WithPanel(graph("Offboardings, and orders refused for offboarded sellers",
			"Sellers whose data was erased (keys shredded, rows deleted), and orders that arrived for them afterwards: committed without being written anywhere. A failed offboarding must be run again (orderflow offboard is idempotent).",
			unitCount,
			query(`sum by (outcome) (increase(orderflow_offboardings_total[$__rate_interval]))`, "offboardings {{outcome}}"),
			query(`sum(increase(orderflow_orders_refused_offboarded_total[$__rate_interval]))`, "orders refused"))).
		WithRow(dashboard.NewRowBuilder("Personal data removed before storage")).
		WithPanel(graph("Card numbers removed, by channel and scheme",
			"Card numbers buyers typed into free text or addresses, removed before anything was stored (Luhn-valid, by issuer scheme). Counted, never logged. A jump from one channel is worth telling the seller about.",
			unitCount,
			query(`sum by (channel, scheme) (increase(orderflow_card_numbers_redacted_by_scheme_total{channel=~"$channel"}[$__rate_interval]))`, "{{channel}} {{scheme}}"))).
		WithPanel(graph("Free text dropped and labels not written",
			"Gift messages, customisations and checkout notes dropped by the data-minimisation policy, by kind; and delivery labels not written because their order was already older than the label retention.",
			unitCount,
			query(`sum by (channel, kind) (increase(orderflow_free_text_dropped_total{channel=~"$channel"}[$__rate_interval]))`, "{{channel}} {{kind}}"),
			query(`sum(increase(orderflow_facts_labels_expired_skipped_total[$__rate_interval]))`, "labels already expired")))
}

func connectors() *dashboard.DashboardBuilder {
	return newDashboard("orderflow-connectors", "orderflow: connectors and finance sync",
		"Courier and accounting connectors: jobs from the outbox, deliveries, retries, rate limits, parked jobs, and whether each seller's books reconcile. Alerts: dashboards/alerts/orderflow.yaml; what to do: dashboards/RUNBOOK.md.").
		WithVariable(labelVariable("connector", "Connector", "orderflow_connector_requests_total")).
		WithVariable(labelVariable("tenant", "Seller", "orderflow_accounting_unreconciled_amount")).
		WithRow(dashboard.NewRowBuilder("Deliveries")).
		WithPanel(graph("Jobs written to the outbox, and finished, by connector",
			"Courier jobs the worker wrote (create, cancel) beside the jobs each connector finished, by outcome. Delivered should follow written; parked jobs are on connector.parked.",
			unitPerSecond,
			query(`sum by (kind) (rate(orderflow_outbox_jobs_written_total[$__rate_interval]))`, "written {{kind}}"),
			query(`sum by (connector, outcome) (rate(orderflow_connector_jobs_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} {{outcome}}"))).
		WithPanel(graph("Requests to providers, by connector and outcome",
			"Every HTTP call to a courier or accounting provider. rate_limited and server_error are retried; refused (4xx) parks the job.",
			unitPerSecond,
			query(`sum by (connector, outcome) (rate(orderflow_connector_requests_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} {{outcome}}"))).
		WithPanel(graph("Retries and rate-limit waits, by connector",
			"Calls tried again after a transient failure, and waits the provider asked for (429 with Retry-After). Steady waits mean the connector's rate limit is set above the provider's.",
			unitPerSecond,
			query(`sum by (connector) (rate(orderflow_connector_retries_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} retries"),
			query(`sum by (connector) (rate(orderflow_connector_rate_limit_waits_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} rate-limit waits"))).
		WithPanel(withLimits(graph("Provider p99 latency, by connector",
			"The slowest 1% of calls to each provider, retries included. Slow calls hold the dispatcher's batch and grow its lag.",
			unitSeconds,
			query(`histogram_quantile(0.99, sum by (connector, le) (rate(orderflow_connector_request_duration_seconds_bucket{connector=~"$connector"}[$__rate_interval])))`, "{{connector}}")), amber(5))).
		WithPanel(withLimits(graph("Jobs parked, by connector and reason",
			"Jobs the provider refused or that ran out of retries, kept (still encrypted) on connector.parked. Any parks warns (OrderflowConnectorJobsParked): read the reason, fix the cause, then orderflow replay-parked --execute.",
			unitCount,
			query(`sum by (connector, reason) (increase(orderflow_connector_parked_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} {{reason}}"),
			query(`sum by (connector, outcome) (increase(orderflow_connector_replayed_total{connector=~"$connector"}[$__rate_interval]))`, "{{connector}} replayed {{outcome}}")), red(1))).
		WithRow(dashboard.NewRowBuilder("Finance sync")).
		WithPanel(withLimits(graph("Unreconciled amount, by seller and currency",
			"Closed periods' financial records minus what was posted to the seller's accounting provider, in the currency's units. Non-zero for 2 hours warns (OrderflowAccountingUnreconciled): orderflow reconcile --tenant names the period.",
			unitCount,
			query(`max by (tenant, currency) (orderflow_accounting_unreconciled_amount{tenant=~"$tenant"})`, "{{tenant}} {{currency}}")), red(0.01))).
		WithPanel(graph("Periods waiting to be posted, by seller",
			"Closed periods not yet posted. They post at the next accounting pass; a count that stays up means the provider refuses them (parked postings).",
			unitCount,
			query(`max by (tenant) (orderflow_accounting_unposted_periods{tenant=~"$tenant"})`, "{{tenant}}"))).
		WithPanel(single("Since the last accounting pass",
			"The dispatcher's accounting pass runs hourly. Past 3 hours warns (OrderflowAccountingPassStale): the dispatcher is down or stuck on a provider.",
			unitSeconds, query(`time() - max(orderflow_accounting_last_pass_timestamp_seconds)`, "since last pass"), amber(2*3600), red(3*3600)))
}
