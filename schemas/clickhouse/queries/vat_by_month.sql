-- Finance: sales and VAT per jurisdiction, month and currency from the
-- financial records (restricted database), the seller's own tax apart from
-- tax the marketplace collected and remits itself.
SELECT
    jurisdiction,
    toStartOfMonth(purchased_at) AS month,
    currency,
    count() AS invoices,
    sum(total) AS gross,
    sum(tax) AS seller_vat,
    sum(marketplace_tax) AS marketplace_collected_vat,
    sum(refunded) AS refunded
FROM {restricted_database}.financial_records FINAL
WHERE status != 'cancelled'
GROUP BY jurisdiction, month, currency
ORDER BY jurisdiction, month, currency
