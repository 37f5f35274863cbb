-- Buyers' erasure requests (UK GDPR Art. 17; eBay's marketplace account
-- deletion). `orderflow erase` finds the orders of the buyer a request names
-- by tokenising its identifiers under the tenant's key, records them here,
-- waits until every live worker has acknowledged them (offboard_acks, keyed
-- "erasure:<registration>"), then rewrites them (worker/retention,
-- erase.go).
--
-- erased_orders: the orders a request erased. Workers reload it with the
-- offboarded tenants and erase any later snapshot of these orders as they
-- write it: buyer tokens replaced by the request's marker, no label, no
-- invoice party unless the invoice must be kept. No personal data: order ids
-- and the marker, "erased:" and a random id of the request, the same for
-- every token of the buyer so that distinct-buyer counts stay right.
-- keep_invoice = 1: a VAT invoice was issued to a business buyer and the law
-- requires it kept (the financial class's period), so the invoice party stays.
-- Kept as long as the orders' facts (retention class analytics, from the
-- purchase), and deleted with the tenant at offboarding.
CREATE TABLE IF NOT EXISTS {database}.erased_orders
(
    tenant_id        String,
    channel          Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id String,
    purchased_at     DateTime,
    request_id       UUID,
    registration     UUID,
    marker           String,
    keep_invoice     UInt8,
    erased_at        DateTime
)
ENGINE = ReplacingMergeTree(erased_at)
PARTITION BY toYYYYMM(purchased_at)
ORDER BY (tenant_id, channel, channel_order_id);

-- registration: one per batch of orders a request registers; workers
-- acknowledge each (offboard_acks, "erasure:<registration>") once they have
-- loaded its orders and the writes they began before have returned.
--
-- erasure_requests: one row per erasure attempt, the answer given to the
-- buyer (through the seller): what was erased, what was kept and why, and
-- whether the verification found nothing left. No identifier of the buyer:
-- the kinds given (email, username, ...), never their values.
CREATE TABLE IF NOT EXISTS {database}.erasure_requests
(
    request_id       UUID,
    tenant_id        String,
    source           String,
    identifier_kinds Array(String),
    requested_at     DateTime,
    finished_at      DateTime,
    outcome          Enum8('erased' = 1, 'nothing_held' = 2, 'failed' = 3),
    orders           UInt32,
    answer           String
)
ENGINE = ReplacingMergeTree(finished_at)
PARTITION BY toYYYYMM(requested_at)
ORDER BY (tenant_id, request_id);

-- purge_log records an erasure's actions:
--   erase_register (19): the request's orders recorded in erased_orders;
--   erase_tokens (20): buyer tokens replaced by the marker (ALTER UPDATE);
--   erase_delete (21): the orders' label rows deleted;
--   erase_invoice_party (22): the invoice party's ciphertext cleared where
--     no invoice must be kept.
-- MODIFY COLUMN sets the whole enum: the list carries 0010's.
ALTER TABLE {database}.purge_log MODIFY COLUMN action Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5, 'block_ingest' = 6, 'await_acks' = 7, 'acquire_lease' = 16, 'check_clock' = 17, 'prune' = 18, 'erase_register' = 19, 'erase_tokens' = 20, 'erase_delete' = 21, 'erase_invoice_party' = 22);
