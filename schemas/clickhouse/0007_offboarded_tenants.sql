-- Sellers who have left (P10). `orderflow offboard` records the tenant here
-- first, before it shreds the keys and deletes the rows: workers refuse the
-- tenant's orders from then on (they reload this table every 30 seconds), and
-- every purge pass deletes any row of the tenant that arrived all the same,
-- such as a batch that was in flight during the offboarding.
CREATE TABLE IF NOT EXISTS {database}.offboarded_tenants
(
    tenant_id     String,
    offboarded_at DateTime,
    run_id        UUID
)
ENGINE = ReplacingMergeTree(offboarded_at)
ORDER BY tenant_id;

-- purge_log records the refusal of new orders as its own action.
ALTER TABLE {database}.purge_log MODIFY COLUMN action Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5, 'block_ingest' = 6);
