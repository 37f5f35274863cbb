-- orderflow's ClickHouse users for current releases, one per role.
-- Rendered from deploy/clickhouse/roles.go; do not edit (go test ./deploy/clickhouse -update).
-- ClickHouse 18.16 has no SQL access control: it reads users.xml instead.
-- Apply as an administrator, with each ORDERFLOW_CLICKHOUSE_<ROLE>_PASSWORD_SHA256 (the hex
-- SHA-256 of the role's password) and ORDERFLOW_CLICKHOUSE_<AUDIENCE>_NETWORK set:
--   envsubst < grants.sql | clickhouse-client --multiquery

-- migrator: orderflow migrate (a deploy Job, before the new version starts).
CREATE ROLE IF NOT EXISTS orderflow_migrator_role;
REVOKE ALL ON *.* FROM orderflow_migrator_role;
GRANT CREATE DATABASE, CREATE TABLE, ALTER ADD COLUMN, ALTER MODIFY COLUMN ON orderflow.* TO orderflow_migrator_role;
GRANT CREATE DATABASE, CREATE TABLE, ALTER ADD COLUMN, ALTER MODIFY COLUMN ON orderflow_restricted.* TO orderflow_migrator_role;
GRANT SELECT, INSERT ON orderflow.schema_migrations TO orderflow_migrator_role;
GRANT SELECT, INSERT, DROP TABLE, ALTER DELETE ON orderflow_restricted.* TO orderflow_migrator_role;
GRANT CLUSTER ON *.* TO orderflow_migrator_role;
ALTER ROLE orderflow_migrator_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_migrator IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_MIGRATOR_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_migrator_role TO orderflow_migrator;

-- writer: orderflow run (the worker, with retention.interval 0: the purge runs as the purger).
CREATE ROLE IF NOT EXISTS orderflow_writer_role;
REVOKE ALL ON *.* FROM orderflow_writer_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_writer_role;
GRANT SELECT ON orderflow.offboarded_tenants TO orderflow_writer_role;
GRANT SELECT ON orderflow.erased_orders TO orderflow_writer_role;
GRANT INSERT ON orderflow.order_facts TO orderflow_writer_role;
GRANT INSERT ON orderflow.order_facts_local TO orderflow_writer_role;
GRANT INSERT ON orderflow.order_line_facts TO orderflow_writer_role;
GRANT INSERT ON orderflow.order_line_facts_local TO orderflow_writer_role;
GRANT INSERT ON orderflow.offboard_heartbeats TO orderflow_writer_role;
GRANT INSERT ON orderflow.offboard_acks TO orderflow_writer_role;
GRANT INSERT ON orderflow_restricted.delivery_labels TO orderflow_writer_role;
GRANT INSERT ON orderflow_restricted.delivery_labels_local TO orderflow_writer_role;
GRANT INSERT ON orderflow_restricted.financial_records TO orderflow_writer_role;
GRANT INSERT ON orderflow_restricted.financial_records_local TO orderflow_writer_role;
ALTER ROLE orderflow_writer_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_writer IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_WRITER_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_writer_role TO orderflow_writer;

-- dispatcher: orderflow dispatch, orderflow reconcile.
CREATE ROLE IF NOT EXISTS orderflow_dispatcher_role;
REVOKE ALL ON *.* FROM orderflow_dispatcher_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_dispatcher_role;
GRANT SELECT ON orderflow.offboarded_tenants TO orderflow_dispatcher_role;
GRANT SELECT ON orderflow.erased_orders TO orderflow_dispatcher_role;
GRANT INSERT ON orderflow.offboard_heartbeats TO orderflow_dispatcher_role;
GRANT INSERT ON orderflow.offboard_acks TO orderflow_dispatcher_role;
GRANT SELECT ON orderflow_restricted.financial_records TO orderflow_dispatcher_role;
GRANT SELECT ON orderflow_restricted.financial_records_local TO orderflow_dispatcher_role;
GRANT SELECT, INSERT ON orderflow_restricted.accounting_postings TO orderflow_dispatcher_role;
ALTER ROLE orderflow_dispatcher_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_dispatcher IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_DISPATCHER_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_dispatcher_role TO orderflow_dispatcher;

-- purger: orderflow purge (retention passes).
CREATE ROLE IF NOT EXISTS orderflow_purger_role;
REVOKE ALL ON *.* FROM orderflow_purger_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_purger_role;
GRANT SELECT ON orderflow.offboarded_tenants TO orderflow_purger_role;
GRANT INSERT ON orderflow.purge_log TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_facts TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_facts_local TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_line_facts TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_line_facts_local TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.erased_orders TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.offboard_heartbeats TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow.offboard_acks TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels_local TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.financial_records TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.financial_records_local TO orderflow_purger_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.accounting_postings TO orderflow_purger_role;
GRANT CLUSTER ON *.* TO orderflow_purger_role;
ALTER ROLE orderflow_purger_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_purger IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_PURGER_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_purger_role TO orderflow_purger;

-- offboarding: orderflow offboard.
CREATE ROLE IF NOT EXISTS orderflow_offboarding_role;
REVOKE ALL ON *.* FROM orderflow_offboarding_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_offboarding_role;
GRANT SELECT ON orderflow.offboard_heartbeats TO orderflow_offboarding_role;
GRANT SELECT ON orderflow.offboard_acks TO orderflow_offboarding_role;
GRANT SELECT, INSERT ON orderflow.offboarded_tenants TO orderflow_offboarding_role;
GRANT INSERT ON orderflow.purge_log TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_facts TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_facts_local TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_line_facts TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow.order_line_facts_local TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow.erased_orders TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels_local TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.financial_records TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.financial_records_local TO orderflow_offboarding_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.accounting_postings TO orderflow_offboarding_role;
GRANT CLUSTER ON *.* TO orderflow_offboarding_role;
ALTER ROLE orderflow_offboarding_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_offboarding IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_OFFBOARDING_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_offboarding_role TO orderflow_offboarding;

-- eraser: orderflow erase (one request, or the requests topic).
CREATE ROLE IF NOT EXISTS orderflow_eraser_role;
REVOKE ALL ON *.* FROM orderflow_eraser_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_eraser_role;
GRANT SELECT ON orderflow.offboarded_tenants TO orderflow_eraser_role;
GRANT SELECT ON orderflow.offboard_heartbeats TO orderflow_eraser_role;
GRANT SELECT ON orderflow.offboard_acks TO orderflow_eraser_role;
GRANT SELECT, INSERT ON orderflow.erased_orders TO orderflow_eraser_role;
GRANT INSERT ON orderflow.purge_log TO orderflow_eraser_role;
GRANT INSERT ON orderflow.erasure_requests TO orderflow_eraser_role;
GRANT SELECT, ALTER UPDATE ON orderflow.order_facts TO orderflow_eraser_role;
GRANT SELECT, ALTER UPDATE ON orderflow.order_facts_local TO orderflow_eraser_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels TO orderflow_eraser_role;
GRANT SELECT, ALTER DELETE ON orderflow_restricted.delivery_labels_local TO orderflow_eraser_role;
GRANT SELECT, ALTER UPDATE ON orderflow_restricted.financial_records TO orderflow_eraser_role;
GRANT SELECT, ALTER UPDATE ON orderflow_restricted.financial_records_local TO orderflow_eraser_role;
GRANT CLUSTER ON *.* TO orderflow_eraser_role;
ALTER ROLE orderflow_eraser_role SETTINGS NONE;
CREATE USER OR REPLACE orderflow_eraser IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_ERASER_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_eraser_role TO orderflow_eraser;

-- dlq_replay: orderflow replay-dlq.
CREATE ROLE IF NOT EXISTS orderflow_dlq_replay_role;
REVOKE ALL ON *.* FROM orderflow_dlq_replay_role;
GRANT SELECT ON orderflow.schema_migrations TO orderflow_dlq_replay_role;
GRANT SELECT ON orderflow.offboarded_tenants TO orderflow_dlq_replay_role;
ALTER ROLE orderflow_dlq_replay_role SETTINGS readonly = 1;
CREATE USER OR REPLACE orderflow_dlq_replay IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_DLQ_REPLAY_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_WORKLOAD_NETWORK}';
GRANT orderflow_dlq_replay_role TO orderflow_dlq_replay;

-- finance: finance staff (financial records only).
CREATE ROLE IF NOT EXISTS orderflow_finance_role;
REVOKE ALL ON *.* FROM orderflow_finance_role;
GRANT SELECT ON orderflow_restricted.financial_records TO orderflow_finance_role;
GRANT SELECT ON orderflow_restricted.financial_records_local TO orderflow_finance_role;
ALTER ROLE orderflow_finance_role SETTINGS readonly = 1;
CREATE USER OR REPLACE orderflow_finance IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_FINANCE_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_PEOPLE_NETWORK}';
GRANT orderflow_finance_role TO orderflow_finance;

-- analyst: analysts (the analytics-safe database).
CREATE ROLE IF NOT EXISTS orderflow_analyst_role;
REVOKE ALL ON *.* FROM orderflow_analyst_role;
GRANT SELECT ON orderflow.* TO orderflow_analyst_role;
ALTER ROLE orderflow_analyst_role SETTINGS readonly = 1;
CREATE USER OR REPLACE orderflow_analyst IDENTIFIED WITH sha256_hash BY '${ORDERFLOW_CLICKHOUSE_ANALYST_PASSWORD_SHA256}' HOST IP '${ORDERFLOW_CLICKHOUSE_PEOPLE_NETWORK}';
GRANT orderflow_analyst_role TO orderflow_analyst;
