-- Delivery label data (retention class label, P9: 21 days by default): the
-- recipient's name, address and contact as transit ciphertext under the
-- tenant's key, plus what is not personal. Label age counts from the order's
-- purchase, so every snapshot of an order lands in one daily partition (and
-- ReplacingMergeTree can collapse them), and retention drops whole days.
CREATE TABLE IF NOT EXISTS {restricted_database}.delivery_labels
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
PARTITION BY toYYYYMMDD(purchased_at)
ORDER BY (tenant_id, channel, channel_order_id);
