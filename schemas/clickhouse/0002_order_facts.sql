-- One row per order: its latest snapshot (ReplacingMergeTree keeps the highest
-- version per key; read it with FINAL). Analytics-safe: buyer identifiers are
-- per-tenant HMAC tokens, locations are country and postcode area.
--
-- version is the snapshot's source_updated_at in milliseconds since the epoch.
-- Partitioned by purchase month: an order's snapshots share a partition, and
-- analytics retention drops whole months.
CREATE TABLE IF NOT EXISTS {database}.order_facts
(
    tenant_id             String,
    channel               Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id      String,
    version               UInt64,
    schema_version        UInt8,
    source_format         String,
    marketplace           String,
    seller_order_id       String,
    status                Enum8('pending' = 1, 'pending_availability' = 2, 'unshipped' = 3, 'partially_shipped' = 4, 'shipped' = 5, 'cancelled' = 6, 'unfulfillable' = 7, 'payment_failed' = 8),
    payment_status        Enum8('pending' = 1, 'paid' = 2, 'failed' = 3, 'voided' = 4, 'partially_refunded' = 5, 'refunded' = 6),
    source_status         String,
    cancel_requested      UInt8,
    fulfilment            Enum8('merchant' = 1, 'marketplace' = 2),
    is_prime              UInt8,
    is_business           UInt8,
    ship_service_level    String,
    purchased_at          DateTime,
    source_updated_at     DateTime,
    received_at           DateTime,
    latest_ship_at        Nullable(DateTime),
    latest_delivery_at    Nullable(DateTime),
    buyer_name_token      String,
    buyer_email_token     String,
    buyer_phone_token     String,
    buyer_username_token  String,
    buyer_user_id_token   String,
    ship_country          String,
    ship_address_type     String,
    ship_postcode_area    String,
    billing_country       String,
    billing_postcode_area String,
    currency              String,
    subtotal              Decimal(18, 4),
    tax                   Decimal(18, 4),
    shipping              Decimal(18, 4),
    discount              Decimal(18, 4),
    total                 Decimal(18, 4),
    marketplace_tax       Decimal(18, 4),
    refunded              Decimal(18, 4),
    line_count            UInt16,
    units                 UInt32,
    written_at            DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(purchased_at)
ORDER BY (tenant_id, channel, channel_order_id);
