-- Orders, units and sales per tenant, channel and currency: the latest snapshot
-- of each order (FINAL), cancelled ones apart.
SELECT
    tenant_id,
    channel,
    currency,
    countIf(status != 'cancelled') AS orders,
    countIf(status = 'cancelled')  AS cancelled,
    sumIf(units, status != 'cancelled') AS units,
    sumIf(total, status != 'cancelled') AS sales,
    sum(refunded) AS refunded
FROM {database}.order_facts FINAL
GROUP BY tenant_id, channel, currency
ORDER BY tenant_id, channel, currency
