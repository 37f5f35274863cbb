-- One row per purge or offboarding action, kept as the audit trail of every
-- retention promise (P8, P9, P10). It holds no personal data: table names,
-- partitions, predicates over dates and tenant ids, row counts and outcomes.
CREATE TABLE IF NOT EXISTS {database}.purge_log
(
    run_id      UUID,
    table       String,
    action      Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5),
    partition   String,
    predicate   String,
    rows        UInt64,
    reason      String,
    tenant_id   String,
    as_of       DateTime,
    started_at  DateTime,
    finished_at DateTime,
    outcome     Enum8('ok' = 1, 'failed' = 2, 'dry_run' = 3),
    error       String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(started_at)
ORDER BY (started_at, table);
