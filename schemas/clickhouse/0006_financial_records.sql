-- Financial records (retention class financial, P8: 6 years by default,
-- configurable per jurisdiction): the invoice's amounts, VAT and lines in the
-- clear, and the invoice party (billing address, business buyer's company, tax
-- id, PO number) as transit ciphertext under the tenant's key. jurisdiction is
-- the marketplace's country (GB for amazon.co.uk and EBAY_GB), whose
-- record-keeping rules apply; partitions are (jurisdiction, purchase month) so
-- that each jurisdiction's expired months are dropped whole.
CREATE TABLE IF NOT EXISTS {restricted_database}.financial_records
(
    tenant_id                String,
    channel                  Enum8('amazon' = 1, 'ebay' = 2),
    channel_order_id         String,
    version                  UInt64,
    jurisdiction             String,
    marketplace              String,
    seller_order_id          String,
    purchased_at             DateTime,
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
    invoice_party_ciphertext String,
    written_at               DateTime
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY (jurisdiction, toYYYYMM(purchased_at))
ORDER BY (tenant_id, channel, channel_order_id);
