-- The last 50 purge and offboarding actions, newest first.
SELECT started_at, action, table, partition, predicate, rows, reason, tenant_id, outcome, error
FROM {database}.purge_log
ORDER BY started_at DESC, table
LIMIT 50
