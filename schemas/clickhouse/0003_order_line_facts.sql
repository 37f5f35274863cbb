-- One row per order line, from the order's latest snapshot (read with FINAL).
-- Keyed and versioned like order_facts, and partitioned the same way so that an
-- order and its lines expire together.
CREATE TABLE IF NOT EXISTS {database}.order_line_facts
(
    tenant_id        String,
    channel          Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id String,
    line_id          String,
    version          UInt64,
    marketplace      String,
    purchased_at     DateTime,
    status           Enum8('pending' = 1, 'pending_availability' = 2, 'unshipped' = 3, 'partially_shipped' = 4, 'shipped' = 5, 'cancelled' = 6, 'unfulfillable' = 7, 'payment_failed' = 8),
    sku              String,
    asin             String,
    item_id          String,
    title            String,
    quantity         UInt32,
    quantity_shipped UInt32,
    currency         String,
    unit_price       Decimal(18, 4),
    line_total       Decimal(18, 4),
    tax              Decimal(18, 4),
    shipping         Decimal(18, 4),
    shipping_tax     Decimal(18, 4),
    discount         Decimal(18, 4),
    discount_tax     Decimal(18, 4),
    gift_wrap        Decimal(18, 4),
    gift_wrap_tax    Decimal(18, 4),
    promotion_ids    Array(String),
    is_gift          UInt8,
    cancel_requested UInt8,
    written_at       DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(purchased_at)
ORDER BY (tenant_id, channel, channel_order_id, line_id);
