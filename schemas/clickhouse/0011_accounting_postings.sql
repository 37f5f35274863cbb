-- The accounting ledger (issue 13, P6): what each accounting provider
-- confirmed for each posting orderflow made, so that finance teams can
-- reconcile ClickHouse's totals with their books (orderflow reconcile). One
-- row per posting and provider: a period's summary (sequence 0) and its
-- adjustments (1, 2, ...), or a business order's VAT invoice. No personal
-- data: amounts by period, marketplace, currency and VAT rate, the
-- provider's document id and status. The lines by kind (sales, shipping,
-- discount, refund, marketplace_vat) are what a later adjustment is the
-- difference from.
--
-- A posting is a financial record (retention class financial, P8): it is kept
-- to the end of the seller's financial year holding the period, plus the
-- jurisdiction's period, and deleted with the seller's other data when they
-- leave. purchased_at is the period's first day (the purchases it sums),
-- last_financial_event_at its last, so that the purger treats it as it
-- treats financial_records.
CREATE TABLE IF NOT EXISTS {restricted_database}.accounting_postings
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
PARTITION BY (jurisdiction, toYYYYMM(purchased_at))
ORDER BY (tenant_id, provider, marketplace, currency, vat_rate, purchased_at, kind, sequence, channel_order_id);
