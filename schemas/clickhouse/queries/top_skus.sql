-- The best-selling SKUs per tenant, from the lines' latest snapshots.
SELECT
    tenant_id,
    sku,
    any(title) AS title,
    sum(quantity) AS units,
    sum(line_total) AS line_totals,
    currency
FROM {database}.order_line_facts FINAL
WHERE status != 'cancelled'
GROUP BY tenant_id, sku, currency
ORDER BY units DESC
LIMIT 20
