-- Sales per purchase day and currency over the last 30 days.
SELECT
    toDate(purchased_at) AS day,
    currency,
    count() AS orders,
    sum(total) AS sales,
    sum(tax) AS seller_tax,
    sum(marketplace_tax) AS marketplace_collected_tax
FROM {database}.order_facts FINAL
WHERE purchased_at >= now() - INTERVAL 30 DAY AND status != 'cancelled'
GROUP BY day, currency
ORDER BY day, currency
