-- Coarser partitions (issue 16): every insert block writes one part per
-- partition it touches, and a live stream's batch carries orders of the last
-- 30 purchase days, so labels by day and financial records by jurisdiction
-- and month made about 34 parts a batch. Now:
--   delivery_labels      by purchase month (was day): two parts a batch; the
--                        21-day purge drops whole months and deletes the
--                        expired labels of the month that straddles the
--                        cutoff, exact to the second as before;
--   financial_records,
--   accounting_postings  by UK financial year of the purchase, 1 April to 31
--                        March, named by the year it ends in (was
--                        jurisdiction and month): one part a batch; a pass
--                        deletes a jurisdiction's expired records and drops a
--                        year once every record in it has expired.
-- Facts stay by month. A batch writes about 7 parts (8 around 31 March).
--
-- ClickHouse cannot change a table's partition key, so each table is rebuilt,
-- keeping its columns in the same order:
--   1. the new table is created beside it (<table>_0013_new);
--   2. it takes the table's name in one RENAME, the old table moving aside
--      (<table>_0013_old); writers then write into the new table;
--   3. the old table's rows are copied in, and the old table dropped;
--   4. a new table left by a migrator that ran after the swap is dropped.
-- The RENAME and the INSERT are not idempotent as SQL, so the migrator
-- (worker/migrate) runs each only while it is pending: the swap while the
-- table is not yet partitioned as the new one, the copy while the old table
-- exists (after waiting for inserts that reached the old table before the
-- swap). A migrator that dies during the copy copies again: copies of the
-- same version of a key collapse, like any re-delivered snapshot (FINAL).
--
-- Upgrade: stop every purger (orderflow run, purge) of an older version
-- before applying this: an older purger reads the month partitions of labels
-- as days and would drop the current month whole. Older writers may keep
-- running; their inserts land in the new tables.
CREATE TABLE IF NOT EXISTS {restricted_database}.delivery_labels_0013_new
(
    tenant_id        String,
    channel          Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id String,
    version          UInt64,
    purchased_at     DateTime,
    ship_country     String,
    ship_service_level String,
    label_ciphertext String,
    written_at       DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(purchased_at)
ORDER BY (tenant_id, channel, channel_order_id);
RENAME TABLE {restricted_database}.delivery_labels TO {restricted_database}.delivery_labels_0013_old, {restricted_database}.delivery_labels_0013_new TO {restricted_database}.delivery_labels;
INSERT INTO {restricted_database}.delivery_labels SELECT * FROM {restricted_database}.delivery_labels_0013_old;
DROP TABLE IF EXISTS {restricted_database}.delivery_labels_0013_old;
DROP TABLE IF EXISTS {restricted_database}.delivery_labels_0013_new;

-- last_financial_event_at keeps 0008's default for writers that do not fill
-- it; the line arrays 0012 added read empty for rows written without them.
CREATE TABLE IF NOT EXISTS {restricted_database}.financial_records_0013_new
(
    tenant_id                String,
    channel                  Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id         String,
    version                  UInt64,
    jurisdiction             String,
    marketplace              String,
    seller_order_id          String,
    purchased_at             DateTime,
    last_financial_event_at  DateTime DEFAULT greatest(purchased_at, written_at),
    status                   Enum8('pending' = 1, 'pending_availability' = 2, 'unshipped' = 3, 'partially_shipped' = 4, 'shipped' = 5, 'cancelled' = 6, 'unfulfillable' = 7, 'payment_failed' = 8),
    payment_status           Enum8('pending' = 1, 'paid' = 2, 'failed' = 3, 'voided' = 4, 'partially_refunded' = 5, 'refunded' = 6),
    is_business              UInt8,
    currency                 String,
    subtotal                 Decimal(18, 4),
    tax                      Decimal(18, 4),
    shipping                 Decimal(18, 4),
    discount                 Decimal(18, 4),
    total                    Decimal(18, 4),
    marketplace_tax          Decimal(18, 4),
    refunded                 Decimal(18, 4),
    line_ids                 Array(String),
    line_skus                Array(String),
    line_titles              Array(String),
    line_quantities          Array(UInt32),
    line_unit_prices         Array(Decimal(18, 4)),
    line_totals              Array(Decimal(18, 4)),
    line_taxes               Array(Decimal(18, 4)),
    line_shipping            Array(Decimal(18, 4)),
    line_shipping_taxes      Array(Decimal(18, 4)),
    line_discounts           Array(Decimal(18, 4)),
    line_discount_taxes      Array(Decimal(18, 4)),
    line_gift_wraps          Array(Decimal(18, 4)),
    line_gift_wrap_taxes     Array(Decimal(18, 4)),
    invoice_party_ciphertext String,
    written_at               DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(purchased_at) + (toMonth(purchased_at) >= 4)
ORDER BY (tenant_id, channel, channel_order_id);
RENAME TABLE {restricted_database}.financial_records TO {restricted_database}.financial_records_0013_old, {restricted_database}.financial_records_0013_new TO {restricted_database}.financial_records;
INSERT INTO {restricted_database}.financial_records SELECT * FROM {restricted_database}.financial_records_0013_old;
DROP TABLE IF EXISTS {restricted_database}.financial_records_0013_old;
DROP TABLE IF EXISTS {restricted_database}.financial_records_0013_new;

CREATE TABLE IF NOT EXISTS {restricted_database}.accounting_postings_0013_new
(
    tenant_id               String,
    provider                String,
    kind                    Enum8('summary' = 1, 'adjustment' = 2, 'invoice' = 3),
    jurisdiction            String,
    marketplace             String,
    currency                String,
    vat_rate                String,
    purchased_at            DateTime,
    last_financial_event_at DateTime,
    sequence                UInt32,
    channel_order_id        String,
    idempotency_key         String,
    orders                  UInt32,
    net                     Decimal(18, 4),
    tax                     Decimal(18, 4),
    gross                   Decimal(18, 4),
    line_kinds              Array(String),
    line_nets               Array(Decimal(18, 4)),
    line_taxes              Array(Decimal(18, 4)),
    provider_id             String,
    provider_status         String,
    posted_at               DateTime
)
ENGINE = ReplacingMergeTree(posted_at)
PARTITION BY toYear(purchased_at) + (toMonth(purchased_at) >= 4)
ORDER BY (tenant_id, provider, marketplace, currency, vat_rate, purchased_at, kind, sequence, channel_order_id);
RENAME TABLE {restricted_database}.accounting_postings TO {restricted_database}.accounting_postings_0013_old, {restricted_database}.accounting_postings_0013_new TO {restricted_database}.accounting_postings;
INSERT INTO {restricted_database}.accounting_postings SELECT * FROM {restricted_database}.accounting_postings_0013_old;
DROP TABLE IF EXISTS {restricted_database}.accounting_postings_0013_old;
DROP TABLE IF EXISTS {restricted_database}.accounting_postings_0013_new;
