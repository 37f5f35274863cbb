-- purge_log records two more actions of a purge pass (worker/retention):
--   check_clock (17): a pass that would delete refused because its as-of
--     instant is ahead of ClickHouse's clock (the node's clock runs ahead);
--   prune (18): offboard_heartbeats and offboard_acks rows of workers not
--     seen for a week deleted, so that those tables stop growing with every
--     worker start.
-- MODIFY COLUMN sets the whole enum: the list carries 0009's.
ALTER TABLE {database}.purge_log MODIFY COLUMN action Enum8('drop_partition' = 1, 'delete' = 2, 'offboard_delete' = 3, 'shred_keys' = 4, 'verify' = 5, 'block_ingest' = 6, 'await_acks' = 7, 'acquire_lease' = 16, 'check_clock' = 17, 'prune' = 18);
