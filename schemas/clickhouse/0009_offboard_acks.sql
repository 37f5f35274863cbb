-- Two-phase offboarding (P10). `orderflow offboard` records the tenant in
-- offboarded_tenants, then waits until every live worker has acknowledged it
-- before it destroys the tenant's Vault keys; a worker acknowledges a tenant
-- once its gate refuses the tenant and every Vault call it admitted before
-- has returned (worker/retention, Blocklist).
--
-- offboard_heartbeats: one row per reload of a worker's list of offboarded
-- tenants. seen_at is ClickHouse's now() read at the start of the reload,
-- before the list is read, so that a worker that reads the list without a
-- tenant is visible to an offboarding of that tenant. quiet_after_s: the worker
-- sends no request for a tenant's data to Vault later than seen_at plus this
-- many seconds unless it heartbeats again (its stale limit plus one request).
-- stopped = 1: the worker has stopped and closed its gate (its last row).
CREATE TABLE IF NOT EXISTS {database}.offboard_heartbeats
(
    worker_id     String,
    seen_at       DateTime,
    quiet_after_s UInt32,
    stopped       UInt8
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY worker_id;

-- offboard_acks: worker_id refuses tenant_id, and nothing it admitted before is
-- still talking to Vault (acked_at: ClickHouse's now()).
CREATE TABLE IF NOT EXISTS {database}.offboard_acks
(
    tenant_id String,
    worker_id String,
    acked_at  DateTime
)
ENGINE = ReplacingMergeTree(acked_at)
ORDER BY (tenant_id, worker_id);

-- purge_log records the wait for the acknowledgements as its own action.
-- MODIFY COLUMN sets the whole enum: the list carries 0008's acquire_lease.
ALTER TABLE {database}.purge_log MODIFY COLUMN action Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5, 'block_ingest' = 6, 'await_acks' = 7, 'acquire_lease' = 16);
