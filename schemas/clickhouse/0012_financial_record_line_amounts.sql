-- Each line's shipping, discount and gift wrap with the VAT on each, beside
-- its price and VAT (line_totals, line_taxes): what a VAT invoice's line
-- holds, and what tells the VAT rate of every part of an order that mixes
-- rates (a zero-rated book and a standard-rated mug, each with its own
-- shipping and promotion). The arrays are at the same index as line_ids.
--
-- Rows written before these columns existed read empty arrays; the
-- accounting side then apportions the order's shipping and discounts over
-- its lines as it did before (connectors/accounting/postings.Split).
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_shipping Array(Decimal(18, 4)) AFTER line_taxes;
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_shipping_taxes Array(Decimal(18, 4)) AFTER line_shipping;
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_discounts Array(Decimal(18, 4)) AFTER line_shipping_taxes;
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_discount_taxes Array(Decimal(18, 4)) AFTER line_discounts;
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_gift_wraps Array(Decimal(18, 4)) AFTER line_discount_taxes;
ALTER TABLE {restricted_database}.financial_records ADD COLUMN IF NOT EXISTS line_gift_wrap_taxes Array(Decimal(18, 4)) AFTER line_gift_wraps;
