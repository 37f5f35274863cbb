-- Financial records are kept from the order's last financial event (the
-- purchase or its latest refund) to the end of the seller's financial year
-- holding it, plus the jurisdiction's period (P8); worker/facts writes the
-- event's instant and worker/retention purges by it.
--
-- Rows written before this column existed get, when read, the later of their
-- purchase and the time they were written: no financial event of a snapshot
-- can be later than its writing, so the default never keeps a record shorter
-- than the rule, nor shorter than the purchase-based rule it replaces. A
-- writer that does not know the column (an older binary during an upgrade)
-- gets the same default.
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS last_financial_event_at DateTime DEFAULT greatest(purchased_at, written_at) AFTER purchased_at;

-- purge_log records a purge pass that deleted nothing because another pass
-- held the purge lease: action acquire_lease, outcome skipped. (16 leaves
-- room for other actions.)
ALTER TABLE {database}.purge_log MODIFY COLUMN action Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5, 'block_ingest' = 6, 'acquire_lease' = 16);
ALTER TABLE {database}.purge_log MODIFY COLUMN outcome Enum8('ok' = 1, 'failed' = 2, 'dry_run' = 3, 'skipped' = 4);
